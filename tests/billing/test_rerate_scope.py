"""A change of a line's history re-rates its calls only when it can change their price (issue 11 §1, issue 10 §4):
the rating reads the interval's tenant, plan (coverage) and voice options (``lines.history.RATED_FIELDS``), so a
suspend, a resume, a new SIM or number re-rates nothing; a plan or voice-option change still does. On SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kaisen.billing.rating import rated_calls_select, rerate_calls
from kaisen.lines.history import KEPT_FIELDS, RATED_FIELDS, line_record_change
from kaisen.lines.models import LinePeriodReason, LineStatus
from kaisen.usage.ingest import usage_file_import
from kaisen.usage.models import CallRecord, UsageRollup
from tests.billing import kit

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 4, 10, 10, tzinfo=kit.JST)  # March has ended and is still open
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _load(msisdn: str) -> None:
    rows = [f"S{msisdn}-{i},{msisdn},2026-03-{day:02d} 10:00:00.0,300,0312345678,東京,,0,1,,voice\n"
            for i, day in enumerate((5, 21, 25))]
    usage_file_import(fileobj=io.BytesIO((HEADER + "".join(rows)).encode()), name=f"calls-{msisdn}.csv")


def _rating_sql(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if "usage_callrecord" in q["sql"].lower() or "usage_usagerollup" in q["sql"].lower()]


def _state(line_id: int) -> tuple[list, list]:
    calls = list(CallRecord.objects.filter(line_id=line_id).order_by("record_id").values_list("record_id", "charge"))
    rollups = list(UsageRollup.objects.filter(line_id=line_id).order_by("day", "call_type")
                   .values_list("pk", "day", "tenant_id", "charge", "flat_rate_free"))
    return calls, rollups


def test_the_rating_reads_no_interval_field_but_the_rated_ones() -> None:
    """The guard of ``RATED_FIELDS``: every column the rating select reads from the line-history interval (alias
    ``l``) is one of them or the interval's bounds. A rating that starts reading, say, the status must list it."""
    read = set(re.findall(r"\bl\.(\w+)", rated_calls_select("(SELECT * FROM usage_callrecord) c")))
    assert read, "the rating select no longer joins the interval as l: update this guard"
    assert read <= {*RATED_FIELDS, "line_id", "valid_from", "valid_to"}, read
    assert set(RATED_FIELDS) <= {*KEPT_FIELDS, "coverage"}


@pytest.mark.parametrize("change", ["status", "iccid", "msisdn", "data_cap_mb", "sim_size", "carrier"])
def test_a_change_that_prices_no_call_differently_re_rates_nothing(change: str) -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan(f"RS-{change}"), voice={})
    _load(ln.msisdn)
    before = _state(ln.pk)
    assert len(before[0]) == 3 and all(charge for _, charge in before[0])
    if change == "status":
        ln.status = LineStatus.SUSPENDED
    elif change == "iccid":
        ln.iccid = "8981100000000000009"
    elif change == "msisdn":
        ln.msisdn = "09099998888"
    elif change == "data_cap_mb":
        ln.data_cap_mb = 500
    elif change == "sim_size":
        ln.sim_size = "nano" if ln.sim_size != "nano" else "micro"
    else:
        ln.carrier = "softbank" if ln.carrier != "softbank" else "docomo"
    ln.save(update_fields=[change])
    with CaptureQueriesContext(connection) as ctx:
        made = line_record_change(line=ln, at=kit.at(2026, 3, 20, 0), reason=LinePeriodReason.BACK_OFFICE)
    assert made is not None and getattr(made, change) == getattr(ln, change)  # the history did change
    assert _rating_sql(ctx) == []  # … and no call or rollup was read or written
    assert _state(ln.pk) == before
    # A full re-rating of the line agrees: nothing it would price differently.
    assert rerate_calls(line_ids=[ln.pk]) == 0
    after = _state(ln.pk)
    assert after[0] == before[0] and [r[1:] for r in after[1]] == [r[1:] for r in before[1]]


def test_a_voice_option_change_still_re_rates_the_calls_from_its_day() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("RS-voice"), voice={})
    _load(ln.msisdn)
    ln.voice_options = {"flat_rate_calling": True}
    ln.save(update_fields=["voice_options"])
    with CaptureQueriesContext(connection) as ctx:
        line_record_change(line=ln, at=kit.at(2026, 3, 20, 0), reason=LinePeriodReason.BACK_OFFICE)
    assert _rating_sql(ctx)
    free = {r.day: r.flat_rate_free for r in UsageRollup.objects.filter(line=ln)}
    assert free == {dt.date(2026, 3, 5): False, dt.date(2026, 3, 21): True, dt.date(2026, 3, 25): True}


def test_a_status_and_plan_change_together_re_rate() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("RS-a"), voice={})
    _load(ln.msisdn)
    ln.status, ln.plan = LineStatus.SUSPENDED, kit.plan("RS-b")
    ln.save(update_fields=["status", "plan"])
    with CaptureQueriesContext(connection) as ctx:
        line_record_change(line=ln, at=kit.at(2026, 3, 20, 0), reason=LinePeriodReason.BACK_OFFICE)
    assert _rating_sql(ctx)


def test_a_lines_re_rating_reads_that_lines_calls_only() -> None:
    """The re-rating UPDATE carries its conditions on the updated table too (issue 11 session 7): PostgreSQL
    otherwise scanned every call partition to update one line's calls (seen with EXPLAIN ANALYZE on the demo data,
    docs/benchmarks.md; a test database's tiny partitions make any plan cheap, so the SQL is checked here). The
    other line's calls are untouched."""
    t = kit.tenant()
    ln, other = kit.line(t, kit.plan("RS-u1"), voice={}), kit.line(t, kit.plan("RS-u2"), voice={})
    _load(ln.msisdn)
    _load(other.msisdn)
    before_other = _state(other.pk)
    ln.voice_options = {"flat_rate_calling": True}
    ln.save(update_fields=["voice_options"])
    with CaptureQueriesContext(connection) as ctx:
        line_record_change(line=ln, at=kit.at(2026, 3, 20, 0), reason=LinePeriodReason.BACK_OFFICE)
    update = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE usage_callrecord"))
    assert f"usage_callrecord.line_id IN ({ln.pk})" in update
    assert "usage_callrecord.started_at >=" in update
    assert _state(other.pk) == before_other
