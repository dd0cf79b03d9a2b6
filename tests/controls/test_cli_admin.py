"""The operator CLI ``kaisen admin controls …`` and the customer CLI ``kaisen notices …`` (issue 15): changes
through the same services (validated, audited), bad input exits non-zero with the error code, and the
customer CLI prints the maintenance refusal and the announcement."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kaisen.audit.models import AuditEvent
from kaisen.cli import app
from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.controls.models import MaintenanceWindow, Notice
from kaisen.core import calendar, clock
from tests.conftest import make_world

runner = CliRunner()


def _iso(delta_hours: float) -> str:
    return (clock.now() + dt.timedelta(hours=delta_hours)).astimezone(clock.JST).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.django_db
def test_admin_window_add_extend_end_and_errors() -> None:
    a = make_world(1)
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "window-add", "--start", _iso(1), "--end",
                              _iso(2), "--reason-ja", "設備工事", "--reason-en", "Network work", "--function",
                              "statements", "--tenant", a.tenant.public_id], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["functions"] == "statements" and out["tenants"] == a.tenant.public_id
    window_id = out["id"]
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "window-extend", str(window_id), "--end",
                              _iso(5)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["admin", "controls", "window-end", str(window_id)], catch_exceptions=False)
    assert res.exit_code == 0 and MaintenanceWindow.objects.get(pk=window_id).cancelled_at is not None
    assert AuditEvent.objects.filter(action__startswith="controls.window").count() == 3
    # End before start; an unknown function; a window that can no longer change.
    res = runner.invoke(app, ["admin", "controls", "window-add", "--start", _iso(3), "--end", _iso(2),
                              "--reason-ja", "x", "--reason-en", "x", "--function", "portal"], catch_exceptions=False)
    assert res.exit_code == 1 and "INVALID_PERIOD" in res.stderr
    res = runner.invoke(app, ["admin", "controls", "window-add", "--start", _iso(1), "--end", _iso(2),
                              "--reason-ja", "x", "--reason-en", "x", "--function", "teleport"], catch_exceptions=False)
    assert res.exit_code == 1 and "UNKNOWN_FUNCTION" in res.stderr
    res = runner.invoke(app, ["admin", "controls", "window-end", str(window_id)], catch_exceptions=False)
    assert res.exit_code == 1 and "WINDOW_NOT_CHANGEABLE" in res.stderr
    res = runner.invoke(app, ["admin", "controls", "window-add", "--start", "tomorrow", "--end", _iso(2),
                              "--reason-ja", "x", "--reason-en", "x", "--function", "portal"], catch_exceptions=False)
    assert res.exit_code == 2 and "VALIDATION_ERROR" in res.stderr
    assert MaintenanceWindow.objects.count() == 1


@pytest.mark.django_db
def test_admin_hours_switch_notice() -> None:
    a = make_world(1)
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "hours-set", "procedure.suspend", "10:00",
                              "17:59"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert calendar.reception_window("suspend").label() == "10:00–17:59"
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "hours", "--history"], catch_exceptions=False)
    assert [row["function"] for row in json.loads(res.stdout)] == ["procedure.suspend"]
    res = runner.invoke(app, ["admin", "controls", "hours-set", "*", "20:00", "08:00"], catch_exceptions=False)
    assert res.exit_code == 1 and "INVALID_PERIOD" in res.stderr
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "switch", a.tenant.public_id, "mnp_port_in",
                              "off"], catch_exceptions=False)
    assert res.exit_code == 0 and not services.switch_enabled(a.tenant.pk, fn.SWITCH_MNP_PORT_IN)
    res = runner.invoke(app, ["admin", "controls", "switch", a.tenant.public_id, "mnp_port_in", "maybe"],
                        catch_exceptions=False)
    assert res.exit_code == 2
    res = runner.invoke(app, ["admin", "controls", "switch", "NOPE", "mnp_port_in", "off"], catch_exceptions=False)
    assert res.exit_code == 1 and "NOT_FOUND" in res.stderr
    res = runner.invoke(app, ["--format", "json", "admin", "controls", "notice-add", "--title-ja", "お知らせ",
                              "--title-en", "Notice", "--body-ja", "本文", "--body-en", "Body", "--important"],
                        catch_exceptions=False)
    assert res.exit_code == 0 and json.loads(res.stdout)["mailed"] is True
    assert Notice.objects.get().important


@pytest.mark.django_db(transaction=True)
def test_customer_cli_lists_notices_and_prints_the_maintenance_refusal(live_server: Any, tmp_path: Path) -> None:
    a = make_world(1)
    services.notice_publish(title_ja="件名", title_en="Subject", body_ja="本文", body_en="Body", actor="staff-test")
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": a.token,
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    services.window_schedule(starts_at=clock.now() + dt.timedelta(hours=1), ends_at=clock.now() + dt.timedelta(hours=2),
                             functions=[fn.API], reason_ja="工事", reason_en="Works", actor="staff-test")
    res = runner.invoke(app, ["--format", "json", "--lang", "en", "notices", "list"], env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["unread"] == 1
    assert "Maintenance announced" in res.stderr  # the Kaisen-Maintenance header
    services.window_schedule(starts_at=clock.now() - dt.timedelta(minutes=1),
                             ends_at=clock.now() + dt.timedelta(hours=1), functions=[fn.API], reason_ja="緊急工事",
                             reason_en="Urgent works", tenants=[a.tenant.public_id], actor="staff-test")
    res = runner.invoke(app, ["--lang", "en", "notices", "list"], env=env, catch_exceptions=False)
    assert res.exit_code == 1
    error = json.loads(res.stderr.strip().splitlines()[-1])
    assert error["status"] == 503 and error["code"] == "MAINTENANCE" and "Urgent works" in error["message"]
