"""The Charges pages in a real browser (Debian's Chromium via Playwright): the charts draw under the strict
CSP (data from json_script, code from static files), X-PLOT, S-BILL-2."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.charges.conftest import build_billed
from tests.conftest import make_world
from tests.factories import PASSWORD
from tests.test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (scripts/test.sh does)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        try:
            yield pg
        finally:
            context.close()
            browser.close()
            connections.close_all()


def test_charges_charts_draw_in_chromium(live_server: Any, page: Any, clock_nov: None) -> None:
    billed = build_billed(make_world(n_lines=3))
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + reverse("accounts:login"))
    page.fill("input[name=operator_id]", billed.world.tenant.public_id)
    page.fill("input[name=username]", billed.world.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_load_state()

    page.goto(live_server.url + reverse("billing:charges"))
    page.wait_for_function("window.Chart && Chart.getChart(document.getElementById('trend-chart'))")
    points = page.evaluate("Chart.getChart(document.getElementById('trend-chart')).data.labels.length")
    assert points == 12
    assert "2026年10月" in page.inner_text("main")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = Path(ARTIFACTS) / "charges.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.goto(live_server.url + reverse("billing:current"))
    page.wait_for_function("window.Chart && Chart.getChart(document.getElementById('daily-chart'))")
    daily = page.evaluate("Chart.getChart(document.getElementById('daily-chart')).data.datasets[1].data")
    assert daily[-1] == 56  # the running total line ends at this month's usage so far
    assert not csp_errors, csp_errors
