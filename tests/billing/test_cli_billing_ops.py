"""``kaisen admin billing`` (operator CLI, issue 4 §2-§3): JSON out, domain refusals exit 1."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from kaisen.billing.models import Coupon, Invoice, TtsRate
from kaisen.cli import app
from tests.billing import kit

pytestmark = pytest.mark.django_db
runner = CliRunner()


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["admin", "billing", *args], catch_exceptions=False)


def test_rate_close_tts_and_coupons_from_the_cli() -> None:
    t = kit.tenant(coverage_global=True)
    kit.line(t, kit.plan("CLI-1", fee=1000))
    res = _run("rate", "--month", "2026-03", "--tenant", t.public_id, "--coverage", "japan")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["status"] == "accumulating"
    res = _run("coupons", "add", "--tenant", t.public_id, "--amount", "100", "--code", "CLI-C")
    assert res.exit_code == 0 and Coupon.objects.get(code="CLI-C").balance == 100
    res = _run("coupons", "add", "--tenant", t.public_id, "--amount", "100", "--code", "CLI-C")
    assert res.exit_code == 1 and "DUPLICATE" in res.stderr
    # Global without a TTS rate is refused (exit 1) while Japan closes.
    res = _run("close", "--month", "2026-03", "--tenant", t.public_id, "--today", "2026-04-20")
    assert res.exit_code == 1
    out = {r["coverage"]: r for r in json.loads(res.stdout)}
    assert out["global"]["error"] == "TTS_RATE_MISSING" and out["japan"]["status"] == "invoiced"
    assert _run("tts-rate", "set", "2026-03", "150.25").exit_code == 0
    assert TtsRate.objects.get(month=dt.date(2026, 3, 1)).jpy_per_usd == pytest.approx(150.25)
    res = _run("close", "--month", "2026-03", "--tenant", t.public_id, "--today", "2026-04-20")
    assert res.exit_code == 0, res.output
    assert Invoice.objects.filter(tenant=t, closed_at__isnull=False).count() == 2
    assert _run("tts-rate", "set", "2026-13", "150").exit_code == 1
    assert _run("close", "--month", "2026-03", "--tenant", "OP0000000000").exit_code == 1
