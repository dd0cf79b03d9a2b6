"""Issue 14 (CLI): every listing takes ``--format table|csv|json`` — the operator's ``kaisen admin … list``
commands too (server side), a table by default on a terminal and JSON when piped."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.core import cli as core_cli
from kaisen.core import clock

ROOT = typer.main.get_command(app)


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Any:
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


#: The admin commands that print a listing (the others print what they did to one record).
ADMIN_LISTINGS = {("admin", "billing", "combined", "list"), ("admin", "billing", "tts-rate", "list"),
                  ("admin", "billing", "coupons", "list"), ("admin", "billing", "discounts", "list"),
                  ("admin", "billing", "tariffs", "list"), ("admin", "payments", "applications")}


def test_every_admin_listing_takes_format() -> None:
    admin = {path: cmd for path, cmd in _commands(ROOT) if path[:1] == ("admin",)}
    listings = {path for path in admin if path[-1] == "list"} | ADMIN_LISTINGS
    assert set(admin) >= ADMIN_LISTINGS
    missing = [" ".join(p) for p in sorted(listings)
               if not any("--format" in getattr(param, "opts", ()) for param in admin[p].params)]
    assert not missing, f"admin listings without --format: {missing}"


@pytest.fixture
def _reset_format() -> Any:
    yield
    core_cli.state.format = None


def _run(args: list[str]) -> Any:
    core_cli.state.format = None
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.django_db
def test_admin_tts_and_coupons_lists_as_json_csv_and_table(tenant_a: Any, _reset_format: None) -> None:
    from kaisen.billing.models import TtsRate
    from kaisen.billing.services import coupon_add

    month = clock.today_jst().replace(day=1)
    TtsRate.objects.create(month=month, jpy_per_usd=Decimal("149.52"), entered_by="test")
    coupon_add(tenant=tenant_a.tenant, coverage="japan", code="CPN-FMT-1", amount="12345",
               purchased_on=clock.today_jst(), expires_on=None, actor="test")

    # Piped (CliRunner's stdout is no terminal): JSON by default.
    rows = json.loads(_run(["admin", "billing", "tts-rate", "list"]).stdout)
    assert rows == [{"month": f"{month:%Y-%m}", "jpy_per_usd": "149.5200", "entered_by": "test"}]

    out = _run(["admin", "billing", "tts-rate", "list", "--format", "csv"]).stdout
    assert list(csv.reader(io.StringIO(out))) == [["month", "jpy_per_usd", "entered_by"],
                                                  [f"{month:%Y-%m}", "149.5200", "test"]]

    table = _run(["admin", "billing", "coupons", "list", "--format", "table"]).stdout
    assert "CPN-FMT-1" in table and "code" in table and "{" not in table.splitlines()[0]

    out = _run(["--format", "csv", "admin", "billing", "coupons", "list"]).stdout  # the root option too
    header, *body = list(csv.reader(io.StringIO(out)))
    assert header[:3] == ["tenant", "code", "coverage"]
    assert [r[1] for r in body] == ["CPN-FMT-1"]

    rows = json.loads(_run(["admin", "billing", "coupons", "list", "--format", "json"]).stdout)
    assert rows[0]["code"] == "CPN-FMT-1" and Decimal(rows[0]["balance"]) == 12345


def test_admin_listing_refuses_an_unknown_format() -> None:
    res = CliRunner().invoke(app, ["admin", "billing", "tts-rate", "list", "--format", "xml"])
    assert res.exit_code == 2
    core_cli.state.format = None
