"""Monthly-close benchmark (issue 4, ``kaisen bench close``): M lines of one tenant with N call records in
one month (and one day of data usage per line), then

0. ``store_rated``: the calls are rated and added to their per line × day × call type rollups
   (``rating.rerate_calls`` of the tenant's month: one ``UPDATE … FROM`` of every call's charge and one
   ``INSERT … SELECT … GROUP BY`` of the rollups) — the state the importer leaves, which rates each call in
   the statement that stores it (issue 10 §4);
1. ``rate``: the first rating of the month — the invoice items written from the rollups (what the hourly
   scheduled rating does the first time it sees the month);
2. ``rerate``: the same again (the steady hourly cost: items rewritten);
3. ``close``: the monthly close after that (final rating, tax, coupons, invoice number and dates) — what
   month end costs when the hourly rating has kept the month rated; ``rate + close`` is the whole job.

The call records are written straight into the table by the database's bulk path (PostgreSQL ``COPY``,
SQLite ``executemany`` in one transaction), then rated by ``store_rated``: ingest (which rates on store) is
measured by ``kaisen bench usage`` / ``kaisen bench scale``, not here.
It creates a tenant ``OP9000000002`` with its lines and removes everything of it at the end
(``--keep`` leaves it); run it on a throwaway database (``KAISEN_DATA_DIR`` / ``DATABASE_URL``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

BENCH_TENANT = "OP9000000002"
#: (call type, weight, seconds low, seconds high) — a voice-heavy corporate mix.
MIX = [("domestic", 35, 5, 600), ("mobile", 25, 5, 600), ("mobile_au", 10, 5, 600), ("ip", 5, 5, 600),
       ("other_carrier", 3, 10, 300), ("directory", 1, 0, 0), ("international", 3, 10, 900),
       ("roaming_out", 2, 10, 600), ("roaming_in", 1, 10, 600), ("sms", 14, 0, 0), ("sms_international", 1, 0, 0)]


def _lines(m: int, today: dt.date) -> tuple[Any, list[tuple[int, str]]]:
    from django.db import connection, transaction

    from kaisen.demo import _ensure_plans, _LineFactory, _write_lines
    from kaisen.lines.history import line_history_open_missing
    from kaisen.lines.models import Line
    from kaisen.tenancy.models import Tenant
    from kaisen.tenancy.services import tenant_create

    tenant = Tenant.objects.filter(public_id=BENCH_TENANT).first()
    if tenant is None:
        tenant = tenant_create(public_id=BENCH_TENANT, legal_name="請求ベンチマーク株式会社",
                               contract_code="BENCH-CLOSE",
                               contact_email="bench-close@example.jp", notification_email="bench-close@example.jp")
    cleanup(tenant)
    with transaction.atomic():
        factory = _LineFactory(4343, today, _ensure_plans())
        _write_lines(factory.row(70_000_000 + i, tenant.pk) for i in range(m))
        line_history_open_missing(tenant_ids=[tenant.pk])  # issue 10 §1: every line has its history
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {Line._meta.db_table}")
    numbered = Line.objects.filter(tenant=tenant, msisdn__isnull=False).order_by("id").values_list("id", "msisdn")
    return tenant, [(pk, msisdn or "") for pk, msisdn in numbered]


def cleanup(tenant: Any) -> None:
    from kaisen.billing.models import Invoice, InvoiceItem
    from kaisen.lines.models import Line
    from kaisen.usage.models import CallRecord, DataUsageDaily, UsageDayTotal, UsageFile, UsageRollup

    invoices = Invoice.objects.filter(tenant=tenant)
    InvoiceItem.objects.filter(invoice__in=invoices).delete()
    invoices.delete()
    UsageRollup.objects.filter(tenant=tenant).delete()
    UsageDayTotal.objects.filter(tenant=tenant).delete()
    CallRecord.objects.filter(tenant=tenant).delete()
    DataUsageDaily.objects.filter(tenant=tenant).delete()
    UsageFile.objects.filter(name__startswith="bench-close-").delete()
    Line.objects.filter(tenant=tenant).delete()


def _rows(tenant_id: int, lines: list[tuple[int, str]], n: int, month: dt.date, file_id: int,
          seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    types = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    spans = {m[0]: (m[2], m[3]) for m in MIX}
    exempt = {"international", "roaming_out", "roaming_in", "sms_international"}
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC) - dt.timedelta(hours=9)
    span = 27 * 86400
    tag = f"{month:%Y%m}"
    # Line by line, each line's calls in time order — as a carrier's file per line would list them (and
    # what keeps SQLite's index inserts sequential while loading).
    per_line, extra = divmod(n, len(lines))
    i = 0
    for k, (line_id, msisdn) in enumerate(lines):
        offsets = sorted(rng.randrange(span) for _ in range(per_line + (1 if k < extra else 0)))
        for off in offsets:
            ct = rng.choices(types, weights)[0]
            low, high = spans[ct]
            yield (tenant_id, line_id, msisdn, start + dt.timedelta(seconds=off),
                   rng.randint(low * 10, high * 10) if high else 0, 1, month, f"0{rng.randint(10**8, 10**10 - 1)}",
                   "", ct, False, ct in exempt, f"BC{tag}{i:010d}", file_id)
            i += 1


COLUMNS = ("tenant_id", "line_id", "msisdn", "started_at", "duration_ds", "units", "billing_month",
           "destination_number", "destination_area", "call_type", "is_internal", "tax_exempt", "record_id",
           "source_file_id")


def load_calls(tenant: Any, lines: list[tuple[int, str]], n: int, month: dt.date, *, seed: int = 11) -> float:
    """Write N call records of ``month`` in bulk; returns seconds."""
    from django.db import connection, transaction

    from kaisen.usage.models import CallRecord, UsageFile

    f = UsageFile.objects.create(kind="calls", name=f"bench-close-{month:%Y%m}",
                                 sha256=f"bench-close-{tenant.pk}-{month:%Y%m}".ljust(64, "0")[:64])
    table = CallRecord._meta.db_table
    rows = _rows(tenant.pk, lines, n, month, f.pk, seed)
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(tuple(v.isoformat(" ") if isinstance(v, dt.datetime) else
                                   v.isoformat() if isinstance(v, dt.date) else v for v in row))
                if len(batch) >= 50_000:
                    cur.cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cur.cursor.executemany(sql, batch)
    return time.perf_counter() - t


def load_data(tenant: Any, lines: list[tuple[int, str]], month: dt.date) -> None:
    from kaisen.usage.models import DataUsageDaily, UsageFile

    f = UsageFile.objects.create(kind="data", name=f"bench-close-data-{month:%Y%m}",
                                 sha256=f"bench-close-data-{tenant.pk}-{month:%Y%m}".ljust(64, "0")[:64])
    rng = random.Random(5)
    day = month.replace(day=15)
    DataUsageDaily.objects.bulk_create(
        [DataUsageDaily(tenant=tenant, line_id=lid, msisdn=msisdn, day=day, bytes_used=rng.randint(0, 8 << 30),
                        source_file=f) for lid, msisdn in lines], batch_size=10_000)


def store_rated(tenant: Any, months: list[dt.date]) -> float:
    """Rate the bulk-loaded calls of ``months`` and build their rollups with the pipeline's own code
    (``rating.rerate_calls``), as if the importer had stored them; returns seconds."""
    from django.db import transaction

    from kaisen.billing.rating import rerate_calls

    t = time.perf_counter()
    with transaction.atomic():
        rerate_calls(tenant_id=tenant.pk, months=months)
    return time.perf_counter() - t


def call_items(invoice: Any) -> int:
    """Items of the invoice that bill calls (any category but fees)."""
    from kaisen.billing.models import ChargeCategory

    return int(invoice.items.exclude(category=ChargeCategory.FEE).count())


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def run_close_bench(*, lines: int, calls: int, keep: bool = False) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from kaisen.billing.close import close_month
    from kaisen.billing.rating import rate_month
    from kaisen.core import clock
    from kaisen.core.calendar import previous_month

    call_command("migrate", interactive=False, verbosity=0)
    today = clock.today_jst()
    month = previous_month(today)
    figures: dict[str, Any] = {"database": connection.vendor, "lines": lines, "calls_per_month": calls,
                               "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                          f"Python {platform.python_version()}"}
    t = time.perf_counter()
    tenant, numbered = _lines(lines, today)
    figures["lines_seconds"] = round(time.perf_counter() - t, 2)
    figures["numbered_lines"] = len(numbered)
    try:
        figures["load_seconds"] = round(load_calls(tenant, numbered, calls, month), 2)
        load_data(tenant, numbered, month)
        _analyze()
        figures["store_rated_seconds"] = round(store_rated(tenant, [month]), 2)
        _analyze()
        t = time.perf_counter()
        first = rate_month(tenant=tenant, coverage="japan", month=month)
        figures["rate_seconds"] = round(time.perf_counter() - t, 2)
        figures["unrated_calls"] = first.unrated_calls
        figures["items"] = first.items
        t = time.perf_counter()
        rate_month(tenant=tenant, coverage="japan", month=month)
        figures["rerate_seconds"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        inv = close_month(tenant=tenant, coverage="japan", month=month, today=today, actor="kaisen bench close")
        figures["close_seconds"] = round(time.perf_counter() - t, 2)
        figures["rate_plus_close_seconds"] = round(figures["rate_seconds"] + figures["close_seconds"], 2)
        figures["calls_per_s_rate_plus_close"] = round(calls / max(figures["rate_plus_close_seconds"], 1e-9))
        figures["invoice"] = {"number": inv.number, "total": str(inv.total), "tax": str(inv.tax_total),
                              "exempt": str(inv.exempt_total), "items": inv.items.count(),
                              "call_items": call_items(inv)}
    finally:
        if not keep:
            t = time.perf_counter()
            cleanup(tenant)
            figures["cleanup_seconds"] = round(time.perf_counter() - t, 2)
    return figures


def bench_close_command(
    lines: Annotated[int, typer.Option(help="Lines of the benchmark tenant.")] = 1_000,
    calls: Annotated[int, typer.Option(help="Call records of the month.")] = 100_000,
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the benchmark tenant and its data.")] = False,
) -> None:
    """Monthly-close benchmark: rating and close of M lines with N call records a month (seconds).

    Uses the database of this environment (DATABASE_URL or the embedded SQLite under KAISEN_DATA_DIR);
    creates and removes its own tenant. Full scale: --lines 100000 --calls 10000000.
    """
    from kaisen.core.cli import django_setup, print_json

    django_setup()
    figures = run_close_bench(lines=lines, calls=calls, keep=keep)
    print_json(figures)
    if out:
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))
