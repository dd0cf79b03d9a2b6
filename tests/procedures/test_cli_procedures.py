"""`kaisen orders`, `kaisen mnp`, `kaisen bulk` over live HTTP (X-API, X-BULK, M-LINE-1, M-MNP-1, M-PROC-7)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.core import clock
from kaisen.lines.models import LineStatus, SimType
from kaisen.procedures.cli import build_params
from kaisen.procedures.models import Order, OrderStatus
from tests.conftest import make_world
from tests.factories import LineFactory, make_msisdn

runner = CliRunner()
TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)


def _run(args: list[str], env: dict[str, str]) -> Any:
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def _err(res: Any) -> Any:
    return json.loads(res.stderr.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=True):
        yield


@pytest.fixture
def cli_env(live_server: Any, tmp_path: Path) -> dict[str, str]:
    return {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"),
            "KAISEN_TOKEN": "", "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}


@pytest.mark.django_db(transaction=True)
def test_orders_create_list_get_cancel_and_procedures(cli_env: dict[str, str]) -> None:
    """X-API: every step of a procedure from the command line, JSON out, errors exit 1 with the code."""
    a, b = make_world(n_lines=3), make_world(n_lines=1)
    env = {**cli_env, "KAISEN_TOKEN": a.token}
    line = a.line

    res = _run(["orders", "procedures", line.msisdn or ""], env)
    assert res.exit_code == 0, res.output
    procedures = json.loads(res.stdout)
    assert procedures["line_id"] == line.pk
    assert {p["kind"] for p in procedures["procedures"] if p["available"]} >= {"suspend", "cancellation"}

    res = _run(["orders", "create", line.iccid, "--kind", "cancellation", "--param", "end_date=2026-12-31",
                "--preview"], env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["effective_date"] == "2026-12-31"
    assert not Order.objects.exists()

    # No key given: one is made, printed on stderr, and sending it again gives the same order.
    res = _run(["orders", "create", line.msisdn or "", "--kind", "cancellation", "--param", "end_date=2026-12-31"],
               env)
    assert res.exit_code == 0, res.output
    order = json.loads(res.stdout)
    key = order["idempotency_key"]
    assert key in res.stderr and order["status"] == OrderStatus.SCHEDULED
    res = _run(["orders", "create", "--id", str(line.pk), "--kind", "cancellation", "--params-json",
                '{"end_date": "2026-12-31"}', "--idempotency-key", key], env)
    assert res.exit_code == 0 and json.loads(res.stdout)["id"] == order["id"]
    res = _run(["orders", "create", str(line.pk), "--id", "--kind", "cancellation", "--param", "end_date=2026-12-30",
                "--idempotency-key", key], env)
    assert res.exit_code == 1 and _err(res)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Order.objects.count() == 1

    res = _run(["orders", "create", a.lines[1].msisdn or "", "--kind", "suspend"], env)
    assert res.exit_code == 0, res.output

    res = _run(["orders", "list"], env)
    assert res.exit_code == 0 and len(json.loads(res.stdout)["items"]) == 2
    res = _run(["orders", "list", "--line", line.msisdn or "", "--kind", "cancellation", "--status", "scheduled"], env)
    assert [o["id"] for o in json.loads(res.stdout)["items"]] == [order["id"]]
    res = _run(["orders", "list", "--all"], env)
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 2

    res = _run(["orders", "get", str(order["id"])], env)
    assert res.exit_code == 0 and [e["to_status"] for e in json.loads(res.stdout)["events"]] == ["received",
                                                                                                  "scheduled"]
    res = _run(["orders", "cancel", str(order["id"])], env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "cancelled"

    # Bad input: exit 1 with the API's code, or 2 for what the command itself refuses.
    res = _run(["orders", "create", line.msisdn or "", "--kind", "resume"], env)
    assert res.exit_code == 1 and _err(res)["code"] == "LINE_NOT_ELIGIBLE"
    res = _run(["orders", "create", line.msisdn or "", "--kind", "teleport"], env)
    assert res.exit_code == 2
    res = _run(["orders", "create", line.msisdn or "", "--kind", "suspend", "--param", "novalue"], env)
    assert res.exit_code == 2
    res = _run(["orders", "create", line.msisdn or "", "--kind", "suspend", "--params-json", "[1]"], env)
    assert res.exit_code == 2

    # Another tenant's line and order are not found (T-2).
    b_order = Order.objects.create(tenant=b.tenant, line=b.line, kind="suspend", params={}, idempotency_key="b",
                                   params_hash="b", effective_date=dt.date(2026, 11, 24), due_at=clock.now())
    for args in (["orders", "create", b.line.msisdn or "", "--kind", "suspend"], ["orders", "procedures", b.line.iccid],
                 ["orders", "get", str(b_order.pk)], ["orders", "cancel", str(b_order.pk)]):
        res = _run(args, env)
        assert res.exit_code == 1 and _err(res)["code"] == "NOT_FOUND", args
        assert b.line.iccid not in res.stdout


@pytest.mark.django_db(transaction=True)
def test_mnp_waiting(cli_env: dict[str, str]) -> None:
    a = make_world(n_lines=1)
    LineFactory(tenant=a.tenant, status=LineStatus.NOT_ACTIVATED, sim_type=SimType.VOICE, msisdn=make_msisdn(7_000_001),
                mnp_port_in_pending=True, shipped_on=None, started_on=None,
                mnp_port_in_expires_on=dt.date(2026, 12, 5))
    res = _run(["mnp", "waiting"], {**cli_env, "KAISEN_TOKEN": a.token})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [{"line_id": json.loads(res.stdout)[0]["line_id"],
                                       "msisdn": make_msisdn(7_000_001), "iccid": json.loads(res.stdout)[0]["iccid"],
                                       "shipped": False, "shipped_on": None,
                                       "reservation_expires_on": "2026-12-05"}]


@pytest.mark.django_db(transaction=True)
def test_bulk_upload_dry_run_then_real_run_with_result_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    """X-BULK: a Shift_JIS file from Excel, a dry run, the real run, the result CSV saved with --out."""
    a = make_world(n_lines=2)
    env = {**cli_env, "KAISEN_TOKEN": a.token}
    src = tmp_path / "解約.csv"
    src.write_bytes((f"line,end_date\r\n{a.lines[0].msisdn},2026/12/31\r\n{a.lines[1].msisdn},2030-01-01\r\n"
                     "=1+1,2026-12-31\r\n").encode("cp932"))

    res = _run(["bulk", "upload", str(src), "--kind", "cancellation", "--dry-run"], env)
    assert res.exit_code == 0, res.output
    job = json.loads(res.stdout)
    assert job["dry_run"] is True and (job["rows_ok"], job["rows_failed"]) == (1, 2)
    assert not Order.objects.exists()

    out = tmp_path / "result.csv"
    res = _run(["bulk", "upload", str(src), "--kind", "cancellation", "--out", str(out)], env)
    assert res.exit_code == 0, res.output
    job = json.loads(res.stdout)
    assert [r["result"] for r in job["results"]] == ["accepted", "refused", "refused"]
    assert Order.objects.filter(bulk_job_id=job["id"]).count() == 1
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["line", "end_date", "result", "order_id", "effective_date", "code", "message"]
    assert rows[3][0] == "'=1+1"

    res = _run(["bulk", "get", str(job["id"])], env)
    assert res.exit_code == 0 and json.loads(res.stdout)["id"] == job["id"]

    bad = tmp_path / "bad.csv"
    bad.write_text("phone\n09012345678\n")
    res = _run(["bulk", "upload", str(bad), "--kind", "suspend"], env)
    assert res.exit_code == 1 and _err(res)["code"] == "INVALID_CSV"


@pytest.mark.django_db(transaction=True)
def test_bulk_upload_of_a_large_file_waits_for_the_job_or_not(cli_env: dict[str, str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               settings: Any) -> None:
    """X-BULK: a file above the inline limit is a background job: --no-wait prints it queued, the default
    polls until it is done; `kaisen bulk get` shows it; a re-sent upload with the same key is the same job."""
    from kaisen.procedures import cli as cli_procedures
    from kaisen.procedures.bulk import bulk_job_run

    settings.KAISEN_BULK_INLINE_ROWS = 1
    a = make_world(n_lines=3)
    env = {**cli_env, "KAISEN_TOKEN": a.token}
    src = tmp_path / "suspend.csv"
    src.write_text("line\n" + "".join(f"{line.msisdn}\n" for line in a.lines))

    res = _run(["bulk", "upload", str(src), "--kind", "suspend", "--dry-run", "--no-wait",
                "--idempotency-key", "cli-1"], env)
    assert res.exit_code == 0, res.output
    queued = json.loads(res.stdout)
    assert (queued["status"], queued["rows_total"], queued["rows_done"]) == ("queued", 3, 0)
    assert "kaisen bulk get" in res.stderr
    again = json.loads(_run(["bulk", "upload", str(src), "--kind", "suspend", "--dry-run", "--no-wait",
                             "--idempotency-key", "cli-1"], env).stdout)
    assert again["id"] == queued["id"]

    ran: list[int] = []

    def sleep_runs_the_worker(_seconds: float) -> None:  # the worker does the job while the CLI waits
        for job_id in (queued["id"], queued["id"] + 1):
            if bulk_job_run.call(job_id) != "skipped":
                ran.append(job_id)

    monkeypatch.setattr(cli_procedures.time, "sleep", sleep_runs_the_worker)
    res = _run(["bulk", "get", str(queued["id"]), "--wait"], env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "dry_run" and ran == [queued["id"]]

    res = _run(["bulk", "upload", str(src), "--kind", "suspend"], env)
    assert res.exit_code == 0, res.output
    job = json.loads(res.stdout)
    assert (job["status"], job["rows_done"], job["rows_ok"]) == ("done", 3, 3)
    assert "queued: 0 of 3 rows" in res.stderr
    assert Order.objects.filter(bulk_job_id=job["id"]).count() == 3


def test_param_parsing() -> None:
    assert build_params("voice_options", ["effective=next_month", "voicemail=true", "international_call_cap=5000",
                                          "network_pin=0123"], None) == {
        "effective": "next_month",
        "options": {"voicemail": True, "international_call_cap": 5000, "network_pin": "0123"}}
    assert build_params("sim_reissue", ["sim_size=nano", "delivery_address.postal_code=0600000"],
                        '{"ship_date": "2026-11-30"}') == {
        "ship_date": "2026-11-30", "sim_size": "nano", "delivery_address": {"postal_code": "0600000"}}
    assert build_params("plan_change", ["plan_code=100", "data_cap_mb=1024"], None) == {
        "plan_code": "100", "data_cap_mb": 1024}
