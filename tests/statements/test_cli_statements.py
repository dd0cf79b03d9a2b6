"""``kaisen statements request|list|status|download`` over live HTTP (issue 4 §8; K-5, M-DL-1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from typer.testing import CliRunner

from kaisen.accounts.services import api_key_create, token_issue_for_api_key
from kaisen.cli import app
from kaisen.statements.services import statement_generate
from tests.statements.world import NOW, build_world

runner = CliRunner()
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "statements"


def _run(args: list[str], env: dict[str, str]) -> Any:
    return runner.invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _at_golden_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def cli_env(live_server: Any, tmp_path: Path) -> dict[str, str]:
    world = build_world()
    new_key = api_key_create(user=world.user, name="cli")
    token = token_issue_for_api_key(key_id=new_key.api_key.key_id, secret=new_key.secret).token
    return {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": token,
            "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}


@pytest.mark.django_db(transaction=True)
def test_request_list_status_download(cli_env: dict[str, str], tmp_path: Path) -> None:
    res = _run(["statements", "request", "invoice", "--month", "2026-10", "--encoding", "cp932"], cli_env)
    assert res.exit_code == 0, res.output
    statement = json.loads(res.stdout)
    assert statement["status"] == "done" and statement["file_name"] == "OP0000001234_INVOICE_202610.csv"

    listed = json.loads(_run(["statements", "list"], cli_env).stdout)
    assert [s["id"] for s in listed] == [statement["id"]]
    status = json.loads(_run(["statements", "status", str(statement["id"])], cli_env).stdout)
    assert status["rows_total"] == 13

    out = tmp_path / "invoice.csv"
    res = _run(["statements", "download", str(statement["id"]), "--out", str(out)], cli_env)
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == (GOLDEN / "invoice.cp932.csv").read_bytes()

    refused = _run(["statements", "request", "invoice", "--month", "2025-01"], cli_env)
    assert refused.exit_code == 1
    assert json.loads(refused.stderr.strip().splitlines()[-1])["code"] == "STATEMENT_OUT_OF_WINDOW"


@pytest.mark.django_db(transaction=True)
@override_settings(KAISEN_STATEMENT_INLINE_ROWS=1)
def test_a_background_statement_is_downloaded_with_wait(cli_env: dict[str, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """202 → ``--wait`` polls until the task has written it (here the test plays the worker)."""
    res = _run(["statements", "request", "cdr", "--month", "2026-10"], cli_env)
    statement = json.loads(res.stdout)
    assert statement["status"] == "queued"
    from kaisen.statements import cli as cli_statements

    real_wait = cli_statements._wait

    def wait_with_worker(statement_id: int, url: Any, timeout: float, interval: float = 1.0) -> Any:
        statement_generate(statement_id)  # what `kaisen worker` does with the enqueued task
        return real_wait(statement_id, url, timeout, interval=0.1)

    monkeypatch.setattr(cli_statements, "_wait", wait_with_worker)
    out = tmp_path / "cdr.csv"
    res = _run(["statements", "download", str(statement["id"]), "--out", str(out), "--wait"], cli_env)
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == (GOLDEN / "cdr.utf-8.csv").read_bytes()
