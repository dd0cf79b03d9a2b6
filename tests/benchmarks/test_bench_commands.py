"""``kaisen bench close`` and ``kaisen bench scale`` at a tiny size (issue 10 §4): the benchmarks measure the
pipeline as it is — calls stored rated with their rollups, the close reading the rollups — so the invoice
they close bills the calls (call items > 0), and the ingest part loads the file through the importer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaisen.cli import app
from kaisen.usage.models import CallRecord, UsageRollup

pytestmark = pytest.mark.django_db

runner = CliRunner()


def _bench(args: list[str], out: Path) -> dict:
    res = runner.invoke(app, ["bench", *args, "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())


def test_bench_close_bills_the_calls(tmp_path: Path) -> None:
    fig = _bench(["close", "--lines", "12", "--calls", "400"], tmp_path / "close.json")
    assert fig["numbered_lines"] > 0
    assert fig["unrated_calls"] == 0
    assert fig["invoice"]["call_items"] > 0
    assert fig["invoice"]["items"] > fig["invoice"]["call_items"]  # the fees too
    assert float(fig["invoice"]["total"]) > 0
    assert not CallRecord.objects.exists() and not UsageRollup.objects.exists()  # cleaned up


def test_bench_scale_rates_through_the_rollups(tmp_path: Path) -> None:
    fig = _bench(["scale", "--lines", "12", "--calls", "400", "--months", "2", "--ingest-calls", "300",
                  "--ingest-lines", "12", "--repeats", "2", "--requests", "2"], tmp_path / "scale.json")
    assert fig["rate"]["invoice_call_items"] > 0
    assert fig["rate"]["raw_lines"] > 0
    assert fig["rate"]["ratio_raw_to_ours"]["min"] > 0
    assert fig["months"]["ratio_all_to_one"]["of_median"] > 0
    assert fig["ingest"]["rows_loaded"] > 0
    assert fig["pages"]["charges_page"]["p99_ms"] > 0
    assert not CallRecord.objects.exists() and not UsageRollup.objects.exists()  # cleaned up


def test_bench_events_fires_the_rules_and_delivers(tmp_path: Path) -> None:
    """Issue 13: the import with the alert rules fires some (else the ratio measures nothing), and every
    webhook delivery reaches the receiver on 127.0.0.1 (in this process at the tiny size: --workers 0)."""
    from kaisen.alerts.models import AlertFiring, AlertRule
    from kaisen.events.models import Delivery, Event

    fig = _bench(["events", "--calls", "400", "--lines", "12", "--deliveries", "30", "--workers", "0",
                  "--repeats", "2"], tmp_path / "events.json")
    assert fig["alerts"]["rows_loaded"] > 0 and fig["alerts"]["firings_per_import"]["firings"] > 0
    assert fig["alerts"]["ratio_with_to_without"]["min"] > 0
    pairs = fig["alerts"]["pairs"]  # each repeat's two imports, so a reader sees the noise of the pairs
    assert len(pairs) == 2 and all(p["with_s"] > 0 and p["without_s"] > 0 for p in pairs)
    assert fig["webhooks"]["receiver_requests"] >= 2 * 30 + 2 * 30  # ours and the bare posts, both rounds
    assert fig["webhooks"]["attempts_recorded"] == 2 * 30 and fig["webhooks"]["deliveries_per_s"]["min"] > 0
    assert not CallRecord.objects.exists() and not UsageRollup.objects.exists()  # cleaned up
    assert not AlertRule.objects.exists() and not AlertFiring.objects.exists()
    assert not Delivery.objects.exists() and not Event.objects.exists()
