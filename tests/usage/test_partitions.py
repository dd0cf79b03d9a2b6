"""Issue 10 §5, storage sized for years: on PostgreSQL call records and daily data usage are partitioned by
month (partitions made ahead of time and before an import of a month that has none, rows routed to their
month, a month's queries read only its partition); SQLite keeps one table. Retention: archive + drop of a
month, its setting checked."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from typer.testing import CliRunner

from kaisen.audit.models import AuditEvent
from kaisen.billing.close import close_month
from kaisen.billing.models import Invoice, InvoiceItem
from kaisen.billing.rating import rate_month
from kaisen.core import clock
from kaisen.core.calendar import add_months, month_start
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.usage.apps import _check_retention
from kaisen.usage.ingest import usage_file_import
from kaisen.usage.models import CallRecord, DataUsageDaily, UsageArchive
from kaisen.usage.partitions import (
    CALLS,
    DATA,
    default_months,
    usage_partitions,
    usage_partitions_ensure,
    usage_partitions_prepare,
)
from kaisen.usage.retention import (
    MIN_RETENTION_MONTHS,
    archive_rows,
    oldest_kept_month,
    retention_months,
    usage_archive_due_months,
    usage_archive_month,
)
from tests.billing import kit

pytestmark = pytest.mark.django_db
pg_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="partitions exist on PostgreSQL only")
HEADER = "record_id,msisdn,start,duration_ds,destination,area,network,internal,count,roaming,service\n"
PART = re.compile(r"\b(usage_(?:callrecord|datausagedaily)_(?:p\d{6}|default))\b")


def _current() -> dt.date:
    return month_start(clock.today_jst())


def _calls_file(msisdn: str, month: dt.date, ids: list[str]) -> str:
    return HEADER + "".join(f"{rid},{msisdn},{month:%Y-%m}-0{i + 2} 10:00:00.0,600,0312345678,東京,,0,1,,voice\n"
                            for i, rid in enumerate(ids))


def _import(text: str, name: str) -> dict:
    return usage_file_import(fileobj=io.BytesIO(text.encode()), name=name).as_dict()


def _where(table: str, pk: int) -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


# --- partitions (PostgreSQL) -------------------------------------------------------------------------------

@pg_only
def test_partitions_are_created_ahead_of_time_by_the_scheduled_job() -> None:
    today = add_months(_current(), 30)  # months nobody made yet
    months = [add_months(month_start(today), i) for i in range(-2, 4)]
    assert not set(months) & set(usage_partitions(CALLS))
    created = usage_partitions_prepare(today=today)
    assert created >= 2 * len(months)
    for spec in (CALLS, DATA):
        assert set(months) <= set(usage_partitions(spec))
    assert usage_partitions_prepare(today=today) == 0  # idempotent


def test_the_prepare_job_is_scheduled() -> None:
    from kaisen.core.periodic import JOBS

    funcs = {j.func for j in JOBS}
    assert {"kaisen.usage.partitions.usage_partitions_prepare", "kaisen.usage.retention.usage_archive_due"} <= funcs


@pg_only
def test_an_import_of_a_month_without_partition_makes_it_and_routes_the_rows_there() -> None:
    line = kit.line(kit.tenant(), kit.plan("P-R"), voice={})
    month = add_months(_current(), -9)
    assert month not in usage_partitions(CALLS)
    result = _import(_calls_file(line.msisdn, month, ["A1", "A2"]), "old.csv")
    assert result["rows_loaded"] == 2
    assert month in usage_partitions(CALLS)
    for rec in CallRecord.objects.all():
        assert _where("usage_callrecord", rec.pk) == CALLS.name(month)
    data = usage_file_import(fileobj=io.BytesIO(f"date,msisdn,bytes\n{month:%Y-%m}-03,{line.msisdn},5\n".encode()),
                             name="d.csv")
    assert data.file.rows_loaded == 1
    assert _where("usage_datausagedaily", DataUsageDaily.objects.get().pk) == DATA.name(month)
    assert default_months(CALLS) == [] and default_months(DATA) == []


@pg_only
def test_rows_caught_by_the_default_partition_move_to_their_month_when_it_is_made() -> None:
    line = kit.line(kit.tenant(), kit.plan("P-D"), voice={})
    month = add_months(_current(), 40)
    rec = kit.call(line, start=dt.datetime.combine(month.replace(day=3), dt.time(10), tzinfo=kit.JST), seconds=60)
    assert _where("usage_callrecord", rec.pk) == CALLS.default
    assert default_months(CALLS) == [month]
    usage_partitions_prepare()  # the hourly job
    assert _where("usage_callrecord", rec.pk) == CALLS.name(month)
    assert default_months(CALLS) == []
    assert CallRecord.objects.get(pk=rec.pk).record_id == rec.record_id


def test_reimporting_records_of_two_months_changes_nothing() -> None:
    line = kit.line(kit.tenant(), kit.plan("P-I"), voice={})
    m1, m2 = add_months(_current(), -2), add_months(_current(), -1)
    first = _calls_file(line.msisdn, m1, ["B1", "B2"]) + _calls_file(line.msisdn, m2, ["B3"])[len(HEADER):]
    assert _import(first, "a.csv")["rows_loaded"] == 3
    before = sorted(CallRecord.objects.values_list("id", "record_id", "billing_month"))
    again = _import(first + f"B9,{line.msisdn},{m2:%Y-%m}-09 10:00:00.0,10,0312345678,東京,,0,1,,voice\n", "b.csv")
    assert (again["rows_loaded"], again["rows_duplicate"]) == (1, 3)
    after = sorted(CallRecord.objects.values_list("id", "record_id", "billing_month"))
    assert [r for r in after if r[1] != "B9"] == before


@pg_only
def test_rating_closing_and_exporting_a_month_read_only_its_partition() -> None:
    """Rating + close read the rollups, never the raw calls (issue 10 §4); EXPLAIN of every statement of theirs
    that reads the daily data usage, of the call-detail export and of the calls page: only the month's partition
    appears in the plan (partition pruning)."""
    from django.db.models import Q

    from kaisen.statements.layouts import Context, _calls_query

    t = kit.tenant()
    line = kit.line(t, kit.plan("P-E"), voice={})
    month, other = add_months(_current(), -1), add_months(_current(), -2)
    for m in (month, other, add_months(_current(), -3)):
        kit.call(line, start=dt.datetime.combine(m.replace(day=5), dt.time(9), tzinfo=kit.JST), seconds=30)
    kit.data(line, month.replace(day=3), 5)
    expected = {CALLS.name(month)}
    with CaptureQueriesContext(connection) as ctx:
        rate_month(tenant=t, coverage="japan", month=month)
        close_month(tenant=t, coverage="japan", month=month, today=clock.today_jst())
    statements = [q["sql"] for q in ctx.captured_queries if "usage_" in q["sql"]
                  and q["sql"].lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH"))]
    assert not any("usage_callrecord" in sql for sql in statements), "rating + close read the rollups"
    assert any("usage_usagerollup" in sql for sql in statements), "rating reads the rollups"
    assert any("usage_datausagedaily" in sql for sql in statements), "rating reads the data usage"
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(f"EXPLAIN {sql}")
            plan = "\n".join(r[0] for r in cur.fetchall())
            want = {p for table, p in (("usage_callrecord", CALLS.name(month)),
                                       ("usage_datausagedaily", DATA.name(month))) if table in sql}
            assert set(PART.findall(plan)) == want, (sql, plan)
    export = _calls_query(Context(tenant=t, scope=Q(), line_scope=Q(), period=month, partner_id="P"))
    assert set(PART.findall(export.explain())) == expected
    page = CallRecord.objects.filter(tenant=t, line=line, billing_month=month).order_by("started_at", "pk")
    assert set(PART.findall(page.explain())) == expected


# --- retention ---------------------------------------------------------------------------------------------

def test_retention_setting_is_checked() -> None:
    assert retention_months() == 13
    for bad in ("6", "abc", "", "7.5"):
        with override_settings(KAISEN_USAGE_RETENTION_MONTHS=bad), pytest.raises(ImproperlyConfigured):
            retention_months()
        with override_settings(KAISEN_USAGE_RETENTION_MONTHS=bad):
            assert [e.id for e in _check_retention()] == ["kaisen.usage.E001"]
    with override_settings(KAISEN_USAGE_RETENTION_MONTHS="7"):
        assert retention_months() == 7 and _check_retention() == []
        assert oldest_kept_month(dt.date(2026, 12, 7)) == dt.date(2026, 6, 1)


def test_the_minimum_covers_the_call_detail_statements() -> None:
    """The months of calls any statement can ask for (window + publication lag) fit in the minimum."""
    from kaisen.statements.layouts import LAYOUTS

    call_kinds = {"cdr", "call_detail"}  # the layouts that read CallRecord
    need = max(layout.window_months + layout.publish_lag for layout in LAYOUTS.values() if layout.kind in call_kinds)
    assert need <= MIN_RETENTION_MONTHS


def _archive_setup(tmp_path: Path) -> dict:
    t, other = kit.tenant(), kit.tenant()
    plan = kit.plan("P-A")
    line, other_line = kit.line(t, plan, voice={}), kit.line(other, plan, voice={})
    old = add_months(oldest_kept_month(), -1)
    kept = add_months(oldest_kept_month(), 0)
    usage_partitions_ensure([old, kept])  # as the scheduler and the import make them (no-op on SQLite)
    for ln in (line, other_line):
        for m in (old, kept):
            kit.call(ln, start=dt.datetime.combine(m.replace(day=4), dt.time(11), tzinfo=kit.JST), seconds=90)
            kit.call(ln, start=dt.datetime.combine(m.replace(day=6), dt.time(11), tzinfo=kit.JST), seconds=30)
            kit.data(ln, m.replace(day=2), 12)
    inv = close_month(tenant=t, coverage="japan", month=old, today=clock.today_jst())
    return {"t": t, "other": other, "old": old, "kept": kept, "invoice": inv}


def _archive_dir(path: Path) -> Any:
    """The archives in ``path``: KAISEN_USAGE_ARCHIVE_DIR, and the local storage the settings make of it."""
    from django.conf import settings

    storages = {**settings.STORAGES, "usage_archive": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                       "OPTIONS": {"location": path}}}
    return override_settings(KAISEN_USAGE_ARCHIVE_DIR=path, STORAGES=storages)


def test_archive_writes_a_readable_file_drops_the_month_and_keeps_the_rest(tmp_path: Path) -> None:
    with _archive_dir(tmp_path):
        s = _archive_setup(tmp_path)
        old, kept, inv = s["old"], s["kept"], s["invoice"]
        items = sorted(InvoiceItem.objects.filter(invoice=inv).values_list("cost_type", "amount"))
        assert items and inv.total > Decimal(0)
        old_ids = sorted(CallRecord.objects.filter(billing_month=old).values_list("record_id", flat=True))
        kept_before = CallRecord.objects.filter(billing_month=kept).count()
        assert usage_archive_due_months() == [old]

        done = usage_archive_month(month=old, actor="test operator")

        calls = next(d for d in done if d.table == "usage_callrecord")
        assert calls.rows == 4
        path = Path(calls.path)
        assert path.parent == tmp_path and archive_rows(path) == 4
        assert hashlib.sha256(path.read_bytes()).hexdigest() == calls.sha256
        assert path.with_name(path.name + ".sha256").read_text().split() == [calls.sha256, path.name]
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert sorted(r["record_id"] for r in rows) == old_ids
        assert {r["billing_month"] for r in rows} == {old.isoformat()}
        data = next(d for d in done if d.table == "usage_datausagedaily")
        assert data.rows == 2 and archive_rows(Path(data.path)) == 2
        # The month is gone, as a unit; every other month and tenant is intact.
        assert not CallRecord.objects.filter(billing_month=old).exists()
        assert not DataUsageDaily.objects.filter(day__lt=add_months(old, 1), day__gte=old).exists()
        assert CallRecord.objects.filter(billing_month=kept).count() == kept_before == 4
        assert CallRecord.objects.filter(billing_month=kept, tenant=s["other"]).count() == 2
        assert DataUsageDaily.objects.filter(day__gte=kept).count() == 2
        if connection.vendor == "postgresql":
            assert old not in usage_partitions(CALLS) and kept in usage_partitions(CALLS)
        # The invoice of the archived month is untouched.
        inv2 = Invoice.objects.get(pk=inv.pk)
        assert inv2.total == inv.total and inv2.status == inv.status
        assert sorted(InvoiceItem.objects.filter(invoice=inv).values_list("cost_type", "amount")) == items
        # Recorded and audited.
        assert set(UsageArchive.objects.values_list("table", "month", "rows")) == {
            ("usage_callrecord", old, 4), ("usage_datausagedaily", old, 2)}
        event = AuditEvent.objects.get(action="usage.archive")
        assert event.actor == "test operator" and calls.sha256 in event.reason
        assert usage_archive_due_months() == []


def test_archive_takes_the_months_unmatched_records_and_import_error_reports(tmp_path: Path) -> None:
    """Unknown numbers' records by their billing month / day; the error report of a file by the (Japan-time)
    month it was imported in; each in its own file of the same scheme, with its ``UsageArchive`` row."""
    from kaisen.usage.models import LateDataUsage, UnmatchedCall, UnmatchedDataUsage, UsageFile, UsageRowError

    with _archive_dir(tmp_path):
        old, kept = add_months(oldest_kept_month(), -1), oldest_kept_month()
        src = kit.usage_file()
        for n, m in enumerate((old, kept)):
            start = dt.datetime.combine(m.replace(day=4), dt.time(11), tzinfo=kit.JST)
            UnmatchedCall.objects.create(source_file=src, row_no=2 + n, record_id=f"UM-{n}", msisdn="09000000001",
                                         started_at=start, billing_month=m, destination_number="0312345678",
                                         call_type="domestic")
            UnmatchedDataUsage.objects.create(source_file=src, row_no=2 + n, msisdn="09000000001", day=m.replace(day=5),
                                              bytes_used=1000)
            bad = kit.usage_file()
            UsageFile.objects.filter(pk=bad.pk).update(imported_at=start)  # imported that month
            UsageRowError.objects.create(source_file=bad, row_no=2, code="bad_msisdn", message="bad", raw=f"row {n}")
        line = kit.line(kit.tenant(), kit.plan("P-M"))
        LateDataUsage.objects.create(line=line, usage_month=old)
        LateDataUsage.objects.create(line=line, usage_month=kept)
        assert usage_archive_due_months() == [old]  # no call or data row that month: the bookkeeping rows count

        done = {d.table: d for d in usage_archive_month(month=old, actor="test operator")}

        assert {t: d.rows for t, d in done.items()} == {
            "usage_callrecord": 0, "usage_datausagedaily": 0, "usage_unmatchedcall": 1,
            "usage_unmatcheddatausage": 1, "usage_usagerowerror": 1}
        for table in ("usage_unmatchedcall", "usage_unmatcheddatausage", "usage_usagerowerror"):
            path = Path(done[table].path)
            assert path.name.startswith(f"{table}-{old:%Y-%m}-") and path.name.endswith(".csv.gz")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == done[table].sha256 and archive_rows(path) == 1
            assert path.with_name(path.name + ".sha256").read_text().split() == [done[table].sha256, path.name]
        with gzip.open(done["usage_usagerowerror"].path, "rt", encoding="utf-8", newline="") as fh:
            assert [r["raw"] for r in csv.DictReader(fh)] == ["row 0"]
        assert list(UnmatchedCall.objects.values_list("record_id", flat=True)) == ["UM-1"]
        assert list(UnmatchedDataUsage.objects.values_list("day", flat=True)) == [kept.replace(day=5)]
        assert list(UsageRowError.objects.values_list("raw", flat=True)) == ["row 1"]
        assert list(LateDataUsage.objects.values_list("usage_month", flat=True)) == [kept]
        assert set(UsageArchive.objects.filter(month=old).values_list("table", "rows")) == {
            (t, d.rows) for t, d in done.items()}
        assert usage_archive_due_months() == []


def test_a_month_inside_the_retention_period_is_refused(tmp_path: Path) -> None:
    with _archive_dir(tmp_path):
        s = _archive_setup(tmp_path)
        with pytest.raises(DomainError) as err:
            usage_archive_month(month=s["kept"], actor="x")
        assert err.value.code == ErrorCode.USAGE_MONTH_RETAINED
        assert CallRecord.objects.filter(billing_month=s["kept"]).count() == 4
        assert not UsageArchive.objects.exists() and list(tmp_path.iterdir()) == []


def test_cli_archive_dry_run_then_archive(tmp_path: Path) -> None:
    from kaisen.cli import app

    runner = CliRunner()
    with _archive_dir(tmp_path):
        s = _archive_setup(tmp_path)
        dry = runner.invoke(app, ["admin", "usage", "archive", "--dry-run"], catch_exceptions=False)
        assert dry.exit_code == 0 and f"{s['old']:%Y-%m}" in dry.output
        assert CallRecord.objects.filter(billing_month=s["old"]).count() == 4
        refused = runner.invoke(app, ["admin", "usage", "archive", "--month", f"{s['kept']:%Y-%m}"])
        assert refused.exit_code == 1 and "USAGE_MONTH_RETAINED" in refused.output
        done = runner.invoke(app, ["admin", "usage", "archive"], catch_exceptions=False)
        assert done.exit_code == 0 and "usage_callrecord" in done.output
        assert not CallRecord.objects.filter(billing_month=s["old"]).exists()


def test_month_summary_reads_the_month_and_the_next_only(tenant_a) -> None:  # type: ignore[no-untyped-def]
    """The usage summary counts calls by start day; a call over the month's last midnight is billed next
    month (K-4) and still counted — and on PostgreSQL only those two partitions are read."""
    from kaisen.usage.selectors import usage_summary

    month = add_months(_current(), -1)
    last = add_months(month, 1) - dt.timedelta(days=1)
    msisdn = tenant_a.line.msisdn
    _import(HEADER + f"S1,{msisdn},{last:%Y-%m-%d} 23:55:00.0,12000,0312345678,東京,,0,1,,voice\n"
            f"S2,{msisdn},{month:%Y-%m}-03 10:00:00.0,100,0312345678,東京,,0,1,,voice\n", "s.csv")
    assert sorted(CallRecord.objects.values_list("billing_month", flat=True)) == [month, add_months(month, 1)]
    with CaptureQueriesContext(connection) as ctx:
        summary = usage_summary(user=tenant_a.user, tenant=tenant_a.tenant, month=month)
    assert sum(d.calls for d in summary.days) == 2 and summary.lines_with_calls == 1
    if connection.vendor == "postgresql":
        allowed = {CALLS.name(month), CALLS.name(add_months(month, 1))}
        with connection.cursor() as cur:
            for q in ctx.captured_queries:
                if "usage_callrecord" in q["sql"]:
                    cur.execute(f"EXPLAIN {q['sql']}")
                    found = set(PART.findall("\n".join(r[0] for r in cur.fetchall())))
                    assert found and found <= allowed, found
