"""Property (issue 10 §3): the invoice total equals the sum of its items (and its tax summary) and does not
depend on the order in which usage files arrive. Usage goes through the real importer
(``kaisen.usage.ingest.usage_file_import``) as CSV."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaisen.billing.rating import invoice_tax, rate_month
from kaisen.usage.ingest import usage_file_import
from tests.billing import kit
from tests.factories import make_msisdn

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=kit.JST)
NOV = dt.date(2026, 11, 1)
CALL_HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
DESTS = ["0312345678", "09012345678", "0570000000", "0012025550123"]
_run = itertools.count(1)

call = st.tuples(st.integers(0, 2), st.integers(1, 30), st.integers(0, 23), st.integers(1, 6000),
                 st.sampled_from(DESTS))
datum = st.tuples(st.integers(0, 2), st.integers(1, 30), st.integers(0, 3 * 1024 ** 3))
usage_files = st.lists(st.one_of(st.lists(call, min_size=1, max_size=5).map(lambda c: ("calls", c)),
                                 st.lists(datum, min_size=1, max_size=4).map(lambda d: ("data", d))),
                       min_size=1, max_size=4)


def _csv(kind: str, rows: list, numbers: list[str], run: int, file_no: int) -> bytes:  # type: ignore[type-arg]
    if kind == "calls":
        body = "".join(f"P{run}-{file_no}-{i},{numbers[n]},2026-11-{d:02d} {h:02d}:00:00,{ds},{dest},,,0,1,,voice\n"
                       for i, (n, d, h, ds, dest) in enumerate(rows))
        return (CALL_HEADER + body).encode()
    seen: set[tuple[int, int]] = set()
    lines = []
    for n, d, b in rows:  # one row per number and day in a file
        if (n, d) not in seen:
            seen.add((n, d))
            lines.append(f"2026-11-{d:02d},{numbers[n]},,{b}\n")
    return ("date,msisdn,iccid,bytes\n" + "".join(lines)).encode()


def _total(files: list[tuple[str, bytes]], order: list[int], numbers: list[str]) -> tuple[D, D]:
    """Import the files in ``order`` into a fresh tenant, rate November; (total, sum of items)."""
    t = kit.tenant()
    p = kit.plan(f"HP-{next(_run)}", fee=1000, allowance_mb=1024)
    for number, voice in zip(numbers, ({"flat_rate_calling": True}, {}, {"voicemail": True}), strict=True):
        kit.line(t, p, voice=voice, msisdn=number, started_on=dt.date(2026, 10, 1))
    for i in order:
        kind, text = files[i]
        usage_file_import(fileobj=io.BytesIO(text), name=f"{kind}-{next(_run)}.csv", kind=kind, now=NOW)
    inv = rate_month(tenant=t, coverage="japan", month=NOV).invoice
    summary = invoice_tax(inv)
    items = sum((i.amount for i in inv.items.all()), D(0))
    assert inv.total == summary.total == summary.taxable_total + summary.tax_total + summary.exempt_total
    assert summary.taxable_total + summary.exempt_total == items
    return inv.total, items


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(files=usage_files, data=st.data())
def test_invoice_total_is_its_items_and_independent_of_the_file_order(files: list, data: st.DataObject) -> None:  # type: ignore[type-arg]
    base = 7_000_000 + next(_run) * 10
    order = data.draw(st.permutations(range(len(files))))
    totals = []
    for attempt, sequence in enumerate((list(range(len(files))), list(order))):
        # Each attempt in its own savepoint, rolled back: same numbers, same record IDs, a fresh tenant.
        numbers = [make_msisdn(base + k) for k in range(3)]
        texts = [(kind, _csv(kind, rows, numbers, base, i)) for i, (kind, rows) in enumerate(files)]
        sid = transaction.savepoint()
        try:
            totals.append(_total(texts, sequence, numbers))
        finally:
            transaction.savepoint_rollback(sid)
        assert attempt < 2
    assert totals[0] == totals[1]
    assert totals[0][0] > 0  # three lines in service: at least their monthly fees
