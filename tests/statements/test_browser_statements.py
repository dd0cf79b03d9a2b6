"""A real browser requests a statement on the Reports page, sees its progress and downloads it (K-5)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from kaisen.statements.models import Statement
from kaisen.statements.services import statement_generate
from tests.factories import PASSWORD
from tests.statements.world import NOW, build_world
from tests.test_browser import ARTIFACTS, browser_page  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _at_golden_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@override_settings(KAISEN_STATEMENT_INLINE_ROWS=5)
def test_request_progress_and_download_in_chromium(live_server: Any, browser_page: Any) -> None:  # noqa: F811
    world = build_world()
    page = browser_page
    page.goto(live_server.url + "/login/")
    page.fill("input[name=operator_id]", world.tenant.public_id)
    page.fill("input[name=username]", world.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.wait_for_load_state()
    page.goto(live_server.url + "/statements/")
    ARTIFACTS.mkdir(exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    page.screenshot(path=str(ARTIFACTS / f"statements-reports-{worker}.png"), full_page=True)

    # A large statement (more rows than the inline limit): "being created, please wait" with progress.
    row = page.locator("tr[data-kind=cdr]")
    row.locator("select[name=encoding]").select_option("cp932")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#statement-progress")
    assert "18" in page.inner_text("[data-testid=statement-rows-done]")
    page.screenshot(path=str(ARTIFACTS / f"statements-progress-{worker}.png"), full_page=True)
    statement = Statement.objects.get(tenant=world.tenant)
    statement_generate(statement.pk)  # what the worker does with the enqueued task
    page.wait_for_selector("[data-testid=statement-download]", timeout=15_000)  # the panel polls, then reloads
    page.screenshot(path=str(ARTIFACTS / f"statements-ready-{worker}.png"), full_page=True)
    with page.expect_download() as info:
        page.click("[data-testid=statement-download]")
    download = info.value
    assert download.suggested_filename == "OP0000001234_CDR_202610.csv"
    data = Path(download.path()).read_bytes()
    assert data.startswith("回線電話番号".encode("cp932"))
