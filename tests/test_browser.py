"""A real browser (Debian's Chromium via Playwright) logs in and looks a line up (M-AUTH-1, M-LINE-1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse

from tests.conftest import TenantWorld, make_world
from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[type-arg]
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium); "
                    "scripts/test.sh does this for you")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are deliberate.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # Inside Playwright's event loop the ORM gets connections of its own (asgiref contexts); close
            # them here, or the PostgreSQL test database stays "in use" and cannot be dropped at the end.
            connections.close_all()


def test_log_in_and_look_up_a_line_in_chromium(live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    world: TenantWorld = make_world()
    line = world.line
    page = browser_page
    page.goto(live_server.url + reverse("accounts:login"))
    page.fill("input[name=operator_id]", world.tenant.public_id)
    page.fill("input[name=username]", world.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_load_state()
    assert reverse("accounts:login") not in page.url, f"login failed: {page.url}"

    page.goto(live_server.url + reverse("lines:lookup"))
    assert line.msisdn is not None
    page.fill("input[name=q]", f"{line.msisdn[:3]}-{line.msisdn[3:7]}-{line.msisdn[7:]}")
    page.locator("form[role=search] button[type=submit]").click()
    page.wait_for_url("**" + reverse("lines:detail", kwargs={"pk": line.pk}))
    body = page.inner_text("body")
    assert line.iccid in body, "the line status page shows the SIM serial"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"line-status-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
