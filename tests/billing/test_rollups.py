"""Rate at ingest, aggregate at close (issue 10 §4), on SQLite and PostgreSQL: a call is rated by the statement
that stores it; rollups per line × day × call type are kept at ingest and equal the raw calls; re-rating after a
tariff version or a line-history change touches only the affected rows; usage that arrives after its month was
closed is billed as an adjustment in the next open month; another tenant never sees a tenant's rollups."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaisen.billing import versions
from kaisen.billing.close import close_month
from kaisen.billing.models import CallRate, InvoiceItem
from kaisen.billing.rating import ADJUSTMENT_SUFFIX, rate_month
from kaisen.lines.history import line_record_change
from kaisen.lines.models import LinePeriodReason
from kaisen.usage.ingest import usage_file_import, usage_rematch
from kaisen.usage.models import CallRecord, UnmatchedCall, UsageDayTotal, UsageRollup
from tests.billing import kit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
FEB, MARCH, APRIL = dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)
NOW = dt.datetime(2026, 4, 10, 10, tzinfo=kit.JST)  # March has ended and is still open
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
_files = itertools.count(1)


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _load(rows: list[str]) -> dict:
    """Import a calls file of ``rows`` (record_id,msisdn,start,duration_ds,destination,network,service)."""
    body = HEADER + "".join(f"{r}\n" for r in rows)
    return usage_file_import(fileobj=io.BytesIO(body.encode()), name=f"calls-{next(_files)}.csv").as_dict()


def _row(rid: str, msisdn: str, start: str, ds: int, dest: str = "0312345678", network: str = "",
         service: str = "voice") -> str:
    return f"{rid},{msisdn},{start},{ds},{dest},東京,{network},0,1,,{service}"


def _domestic_rate(day: dt.date) -> CallRate:
    return versions.in_force(CallRate, day, coverage="japan", call_type="domestic")


def _sums_raw() -> dict[tuple, tuple]:
    out = {}
    for r in (CallRecord.objects.values("line_id", "billing_month", "call_type").order_by()
              .annotate(n=Count("id"), units=Sum("units"), ds=Sum("duration_ds"), charge=Sum("charge"))):
        out[(r["line_id"], r["billing_month"], r["call_type"])] = (r["n"], r["units"], r["ds"], r["charge"] or D(0))
    return out


def _sums_rollup() -> dict[tuple, tuple]:
    out = {}
    for r in (UsageRollup.objects.values("line_id", "usage_month", "call_type").order_by()
              .annotate(n=Sum("calls"), units=Sum("units"), ds=Sum("duration_ds"), charge=Sum("charge"))):
        out[(r["line_id"], r["usage_month"], r["call_type"])] = (r["n"], r["units"], r["ds"], r["charge"] or D(0))
    return out


def _days_kept() -> dict[tuple, tuple]:
    """The day totals (``UsageDayTotal``) ingest and re-rating keep, the rows a re-rating left at zero left out."""
    cent = D("0.01")
    return {(r.tenant_id, r.billing_month, r.coverage, r.day, r.flat_rate_free): (r.calls, r.charge.quantize(cent))
            for r in UsageDayTotal.objects.all() if r.calls or r.charge}


def _days_of_rollups() -> dict[tuple, tuple]:
    """The same sums, from the rollups."""
    out = {}
    for r in (UsageRollup.objects.values("tenant_id", "billing_month", "coverage", "day", "flat_rate_free")
              .order_by().annotate(n=Sum("calls"), charge=Sum("charge"))):
        if r["n"] or r["charge"]:
            out[(r["tenant_id"], r["billing_month"], r["coverage"], r["day"], r["flat_rate_free"])] = (
                r["n"], D(r["charge"] or 0).quantize(D("0.01")))
    return out


def test_the_statement_that_stores_a_call_rates_it_no_later_update() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("RI-1"), voice={})
    with CaptureQueriesContext(connection) as ctx:
        result = _load([_row("RI1", ln.msisdn, "2026-03-05 10:00:00.0", 660),
                        _row("RI2", ln.msisdn, "2026-03-05 11:00:00.0", 100, dest="09012345678", network="au")])
    assert result["rows_loaded"] == 2
    sql = [q["sql"].upper() for q in ctx.captured_queries]
    assert not [q for q in sql if q.startswith("UPDATE") and "USAGE_CALLRECORD" in q]
    rate = _domestic_rate(dt.date(2026, 3, 5))
    units = -(-66 // rate.unit_seconds)  # started units of 66 s
    call = CallRecord.objects.get(record_id="RI1")
    assert call.charge == units * rate.rate
    day = UsageRollup.objects.get(line=ln, call_type="domestic")
    assert (day.tenant_id, day.day, day.calls, day.duration_ds, day.charge, day.currency) == (
        t.pk, dt.date(2026, 3, 5), 1, 660, call.charge, "JPY")
    assert (day.billing_month, day.usage_month, day.unrated) == (MARCH, MARCH, 0)
    # Rating the month writes the items from the rollups, never a call row.
    with CaptureQueriesContext(connection) as ctx:
        inv = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    assert not [q for q in ctx.captured_queries if "usage_callrecord" in q["sql"].lower()]
    assert inv.items.get(cost_type="voice_xi").amount == call.charge


def test_a_rematched_call_is_rated_and_rolled_up() -> None:
    t = kit.tenant()
    _load([_row("RM1", "09099990001", "2026-03-05 10:00:00.0", 300)])
    assert UnmatchedCall.objects.count() == 1 and not UsageRollup.objects.exists()
    ln = kit.line(t, kit.plan("RI-2"), voice={}, msisdn="09099990001")
    assert usage_rematch().calls_matched == 1
    call = CallRecord.objects.get(record_id="RM1")
    assert call.line_id == ln.pk and call.charge == _domestic_rate(dt.date(2026, 3, 5)).rate
    assert _sums_rollup() == _sums_raw()
    assert _days_kept() == _days_of_rollups()  # the day totals follow the rollups (issue 10 benchmarks)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(calls=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40 * 24 * 60), st.integers(0, 4000),
                                st.sampled_from(["0312345678", "09012345678", "0101212555000", "05012345678"]),
                                st.booleans()), min_size=1, max_size=25),
       split=st.integers(0, 25))
def test_rollups_equal_the_sums_of_the_raw_calls(calls: list, split: int) -> None:
    """Property: whatever calls arrive, in however many files (re-imported records included), the rollups of
    every line, month and call type hold the count, units, duration and charge of its raw calls."""
    t = kit.tenant()
    plan = kit.plan(f"RP-{next(_files)}")
    lines = [kit.line(t, plan, voice={}) for _ in range(3)]
    base = dt.datetime(2026, 2, 1)
    rows = []
    for i, (li, minute, ds, dest, sms) in enumerate(calls):
        start = base + dt.timedelta(minutes=minute)
        rows.append(_row(f"P{t.pk}-{i}", lines[li].msisdn, f"{start:%Y-%m-%d %H:%M:%S}.0", 0 if sms else ds, dest=dest,
                         service="sms" if sms else "voice"))
    _load(rows[:split])
    _load(rows[split:] + rows[:2])  # the first records again: not loaded twice
    assert _sums_rollup() == _sums_raw()
    assert _days_kept() == _days_of_rollups()  # the day totals follow the rollups (issue 10 benchmarks)


def test_a_tariff_version_re_rates_only_the_affected_calls_and_rollups() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("RV-1"), voice={})
    _load([_row("V1", ln.msisdn, "2026-03-05 10:00:00.0", 300),   # domestic before the new version
           _row("V2", ln.msisdn, "2026-03-20 10:00:00.0", 300),   # domestic after it: re-rated
           _row("V3", ln.msisdn, "2026-03-20 11:00:00.0", 300, dest="09012345678", network="au")])  # other type
    before = {c.record_id: c.charge for c in CallRecord.objects.all()}
    rollups_before = {(r.day, r.call_type): r.pk for r in UsageRollup.objects.all()}
    old = _domestic_rate(dt.date(2026, 3, 20))
    versions.tariff_new_version(kind="call-rate", key={"coverage": "japan", "call_type": "domestic"},
                                valid_from=dt.date(2026, 3, 15), values={"rate": str(old.rate * 2)})
    after = {c.record_id: c.charge for c in CallRecord.objects.all()}
    assert after["V1"] == before["V1"] and after["V3"] == before["V3"]
    assert after["V2"] == before["V2"] * 2
    rollups_after = {(r.day, r.call_type): r for r in UsageRollup.objects.all()}
    # Untouched rollups keep their rows; the affected one was rewritten with the new charge.
    assert rollups_after[(dt.date(2026, 3, 5), "domestic")].pk == rollups_before[(dt.date(2026, 3, 5), "domestic")]
    assert rollups_after[(dt.date(2026, 3, 20), "mobile_au")].pk == rollups_before[(dt.date(2026, 3, 20),
                                                                                     "mobile_au")]
    assert rollups_after[(dt.date(2026, 3, 20), "domestic")].charge == after["V2"]
    assert _sums_rollup() == _sums_raw()
    inv = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    assert inv.items.get(cost_type="voice_xi").amount == after["V1"] + after["V2"]
    assert _days_kept() == _days_of_rollups()  # the day totals follow the rollups (issue 10 benchmarks)


def test_a_line_history_change_re_rates_that_lines_calls_from_its_day() -> None:
    """Flat-rate calling added on the 20th: the calls from then on are free on the invoice, the earlier ones
    not; another line's rollups are not rewritten."""
    t = kit.tenant()
    p = kit.plan("RH-1")
    ln, other = kit.line(t, p, voice={}), kit.line(t, p, voice={})
    _load([_row("H1", ln.msisdn, "2026-03-05 10:00:00.0", 300), _row("H2", ln.msisdn, "2026-03-21 10:00:00.0", 300),
           _row("H3", other.msisdn, "2026-03-21 10:00:00.0", 300)])
    other_pk = UsageRollup.objects.get(line=other).pk
    ln.voice_options = {"flat_rate_calling": True}
    ln.save(update_fields=["voice_options"])
    line_record_change(line=ln, at=kit.at(2026, 3, 20, 0), reason=LinePeriodReason.BACK_OFFICE)
    free = {r.day: r.flat_rate_free for r in UsageRollup.objects.filter(line=ln)}
    assert free == {dt.date(2026, 3, 5): False, dt.date(2026, 3, 21): True}
    assert UsageRollup.objects.get(line=other).pk == other_pk
    items = {(i.msisdn, i.cost_type): i.amount for i in rate_month(tenant=t, coverage="japan",
                                                                     month=MARCH).invoice.items.all()}
    h1 = CallRecord.objects.get(record_id="H1").charge
    assert h1 is not None and h1 > 0
    assert items[(ln.msisdn, "voice_xi")] == h1  # the call after the change is free
    assert items[(other.msisdn, "voice_xi")] == CallRecord.objects.get(record_id="H3").charge
    assert _days_kept() == _days_of_rollups()  # the day totals follow the rollups (issue 10 benchmarks)


def test_late_usage_of_a_closed_month_is_an_adjustment_in_the_next_open_month() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("RL-1"), voice={})
    _load([_row("L1", ln.msisdn, "2026-02-10 10:00:00.0", 300)])
    feb = close_month(tenant=t, coverage="japan", month=FEB, today=dt.date(2026, 3, 5))
    feb_items = sorted(feb.items.values_list("cost_type", "amount"))
    _load([_row("L2", ln.msisdn, "2026-02-20 10:00:00.0", 300), _row("L3", ln.msisdn, "2026-03-02 10:00:00.0", 300)])
    feb.refresh_from_db()
    assert sorted(feb.items.values_list("cost_type", "amount")) == feb_items  # the closed month never changes
    late = UsageRollup.objects.get(line=ln, day=dt.date(2026, 2, 20))
    assert (late.usage_month, late.billing_month, late.is_adjustment) == (FEB, MARCH, True)
    march = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    voice = {i.label: i.amount for i in march.items.filter(cost_type="voice_xi")}
    charge = CallRecord.objects.get(record_id="L2").charge
    [adjustment] = [label for label in voice if ADJUSTMENT_SUFFIX in label]
    assert "2026-02" in adjustment and voice[adjustment] == charge
    assert sum(voice.values()) == charge + CallRecord.objects.get(record_id="L3").charge
    # The customer's voice charge detail (M-DL-2) shows the adjustment as such.
    from kaisen.statements.services import statement_file, statement_request

    user = UserFactory(tenant=t, is_root=True)
    with time_machine.travel(dt.datetime(2026, 4, 26, 10, tzinfo=kit.JST), tick=False):  # published on the 25th
        statement = statement_request(tenant=t, user=user, kind="invoice_voice", month=MARCH)
    assert statement.status == "done", statement.error
    rows = list(csv.reader(io.StringIO(statement_file(statement).read_text(encoding="utf-8"), newline="")))
    assert any(adjustment in row for row in rows)
    # A month that is closed too sends later late usage on to the next open one.
    close_month(tenant=t, coverage="japan", month=MARCH, today=dt.date(2026, 4, 5))
    _load([_row("L4", ln.msisdn, "2026-02-25 10:00:00.0", 300)])
    assert UsageRollup.objects.get(line=ln, day=dt.date(2026, 2, 25)).billing_month == APRIL
    assert _days_kept() == _days_of_rollups()  # the day totals follow the rollups (issue 10 benchmarks)


def test_rollups_of_unrated_calls_are_counted_and_rated_when_a_rate_appears() -> None:
    """A call type without a call rate stays unrated (the month reports it); a call rate version for it
    re-rates those calls and their rollups."""
    CallRate.objects.filter(coverage="japan", call_type="ip").delete()
    t = kit.tenant()
    ln = kit.line(t, kit.plan("RU-1"), voice={})
    _load([_row("U1", ln.msisdn, "2026-03-05 10:00:00.0", 300, dest="05012345678")])
    assert CallRecord.objects.get(record_id="U1").charge is None
    assert rate_month(tenant=t, coverage="japan", month=MARCH).unrated_calls == 1
    versions.tariff_new_version(kind="call-rate", key={"coverage": "japan", "call_type": "ip"},
                                valid_from=MARCH, values={"rate": "8", "unit_seconds": 180, "label": "IP間通話料",
                                                          "cost_type": "voice_ip", "category": "domestic"})
    assert CallRecord.objects.get(record_id="U1").charge == D(8)  # one started 180-second unit
    assert rate_month(tenant=t, coverage="japan", month=MARCH).unrated_calls == 0
    assert InvoiceItem.objects.filter(invoice__tenant=t, cost_type="voice_ip").get().amount == D(8)
    assert _days_kept() == _days_of_rollups()  # the day totals follow the rollups (issue 10 benchmarks)
