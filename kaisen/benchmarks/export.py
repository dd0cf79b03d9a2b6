"""Export benchmark (issue 4 §6): one tenant's call-detail statement (M-DL-3, ``cdr``) in cp932.

``kaisen bench export --rows 1000000`` makes a throwaway tenant (operator ID ``OP9990000001``) with
``rows`` call records in one month (bulk insert: PostgreSQL ``COPY … FROM STDIN``, SQLite ``executemany``),
then measures:

* Kaisen's path — ``statement_generate`` exactly as the task runs it (``.iterator()`` from the database,
  per-row formatting, formula guard, cp932 encoding, file under ``KAISEN_DATA_DIR``): rows/s and MB/s;
* its peak Python memory (``tracemalloc``, in a second run, since tracing slows Python down) at
  ``--small-rows`` (default 100,000) and at ``rows``: flat means the two peaks are about equal;
* the database's raw path on the same rows and columns: PostgreSQL ``COPY (SELECT …) TO STDOUT (FORMAT
  csv)`` written to a file; SQLite a bare cursor loop writing CSV with the ``csv`` module;

and prints the figures as JSON, with the ratio Kaisen / raw (each path runs twice, alternating, after a
``VACUUM ANALYZE`` of the loaded table; the better run of each counts). The tenant and its rows are deleted at the end
unless ``--keep``. Run it on a throwaway database: it needs a few GB of disk at 10 M rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import platform
import time
import tracemalloc
from pathlib import Path
from typing import Annotated, Any

import typer

BENCH_PARTNER = "OP9990000001"
MONTH = dt.date(2026, 10, 1)
LINES = 1000

#: The columns of the raw path: the same fields the CDR layout reads, in the same order.
RAW_COLUMNS = ("msisdn", "started_at", "destination_number", "destination_area", "duration_ds", "units", "charge",
               "call_type", "tax_exempt", "is_internal")


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_tenant_create(rows: int) -> Any:
    """The throwaway tenant with ``LINES`` lines and ``rows`` call records in ``MONTH`` (fresh each run)."""
    from django.db import connection, transaction

    from kaisen.lines.history import line_history_open_missing
    from kaisen.lines.models import Line, Plan
    from kaisen.tenancy.models import Tenant
    from kaisen.usage.models import CallRecord, UsageFile

    bench_tenant_delete()
    tenant = Tenant.objects.create(public_id=BENCH_PARTNER, legal_name="ベンチマーク株式会社",
                                   contract_code="BENCH-EXPORT", contact_email="bench@example.co.jp",
                                   notification_email="bench@example.co.jp")
    plan, _ = Plan.objects.get_or_create(code="BENCH-VOICE", defaults={
        "name": "ベンチ音声", "name_en": "Bench voice", "carrier": "docomo", "monthly_fee": 1000})
    Line.objects.bulk_create([
        Line(tenant=tenant, plan=plan, carrier="docomo", msisdn=f"0909{i:07d}", iccid=f"89819990{i:011d}",
             sim_type="voice", sim_size="nano", status="active") for i in range(LINES)], batch_size=1000)
    line_history_open_missing(tenant_ids=[tenant.pk])  # issue 10 §1: every line has its history
    line_ids = list(Line.objects.filter(tenant=tenant).order_by("msisdn").values_list("pk", "msisdn"))
    source = UsageFile.objects.create(kind="calls", name="bench-export.csv", sha256="b" * 64)
    table = CallRecord._meta.db_table
    cols = ("tenant_id", "line_id", "msisdn", "started_at", "duration_ds", "units", "billing_month",
            "destination_number", "destination_area", "call_type", "is_internal", "tax_exempt", "charge",
            "record_id", "source_file_id")
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC) - dt.timedelta(hours=9)
    types = ("domestic", "mobile", "mobile_au", "ip", "international", "sms")
    areas = ("東京", "大阪", "札幌", "携帯", "英国", "")

    def record(n: int) -> tuple[Any, ...]:
        line_id, msisdn = line_ids[n % LINES]
        kind = n % 6
        return (tenant.pk, line_id, msisdn, start + dt.timedelta(seconds=(n * 7) % 2_592_000, microseconds=n % 10 *
                                                                  100_000),
                (n * 13) % 6000, 1, MONTH, f"03{n % 100_000_000:08d}", areas[kind], types[kind], n % 50 == 0,
                kind == 4, f"{(n % 400) / 2:.2f}", f"BENCH-{n}", source.pk)

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur, cur.cursor.copy(
                    f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for n in range(rows):
                    copy.write_row(record(n))
        else:
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"  # noqa: S608 (constants)
            with connection.cursor() as cur:
                batch: list[tuple[Any, ...]] = []
                for n in range(rows):
                    batch.append(record(n))
                    if len(batch) == 20_000:
                        cur.executemany(sql, batch)
                        batch.clear()
                if batch:
                    cur.executemany(sql, batch)
    # Settle the freshly loaded table before timing (hint bits, visibility map, statistics), so neither
    # path pays for the load.
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else "ANALYZE")
    return tenant


def bench_tenant_delete() -> None:
    from django.db import transaction

    from kaisen.lines.models import Line
    from kaisen.statements.models import Statement
    from kaisen.tenancy.models import Tenant
    from kaisen.usage.models import CallRecord, UsageFile

    tenant = Tenant.objects.filter(public_id=BENCH_PARTNER).first()
    with transaction.atomic():
        if tenant is not None:
            for statement in Statement.objects.filter(tenant=tenant):
                from kaisen.statements.services import statement_file_delete

                statement_file_delete(statement)
            Statement.objects.filter(tenant=tenant).delete()
            CallRecord.objects.filter(tenant=tenant).delete()
            Line.objects.filter(tenant=tenant).delete()
            tenant.delete()
        UsageFile.objects.filter(name="bench-export.csv").delete()


def export_once(tenant: Any, *, trace: bool = False) -> dict[str, Any]:
    """One cp932 CDR statement through the real service; seconds, bytes, rows (and peak with ``trace``)."""
    from kaisen.statements.models import Statement
    from kaisen.statements.services import statement_file_delete, statement_generate

    statement = Statement.objects.create(tenant=tenant, kind="cdr", period=MONTH, encoding="cp932",
                                         file_name=f"{BENCH_PARTNER}_CDR_{MONTH:%Y%m}.csv")
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    status = statement_generate(statement.pk)
    seconds = time.perf_counter() - began
    peak = 0
    if trace:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    statement.refresh_from_db()
    if status != "done":
        raise RuntimeError(f"statement failed: {statement.error}")
    size = statement.size_bytes
    statement_file_delete(statement)
    return {"rows": statement.rows_done, "seconds": seconds, "bytes": size, "peak_bytes": peak}


def raw_export(tenant: Any, out: Path) -> dict[str, Any]:
    """The database's own fast path on the same rows and columns."""
    from django.db import connection

    from kaisen.usage.models import CallRecord

    table = CallRecord._meta.db_table
    select = (f"SELECT {', '.join(RAW_COLUMNS)} FROM {table} WHERE tenant_id = {int(tenant.pk)} "  # noqa: S608
              f"AND billing_month = '{MONTH.isoformat()}' ORDER BY msisdn, started_at, id")
    began = time.perf_counter()
    rows = 0
    with open(out, "wb") as fh:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur, cur.cursor.copy(  # type: ignore[attr-defined]
                    f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    fh.write(block)
            rows = CallRecord.objects.filter(tenant=tenant, billing_month=MONTH).count()
            method = "COPY (SELECT …) TO STDOUT (FORMAT csv)"
        else:
            text = io.TextIOWrapper(fh, encoding="cp932", errors="replace", newline="")
            writer = csv.writer(text, lineterminator="\r\n")
            with connection.cursor() as cur:
                cur.execute(select)
                while True:
                    chunk = cur.fetchmany(5000)
                    if not chunk:
                        break
                    writer.writerows(chunk)
                    rows += len(chunk)
            text.flush()
            text.detach()
            method = "bare cursor loop + csv.writer (cp932)"
    seconds = time.perf_counter() - began
    size = out.stat().st_size
    out.unlink(missing_ok=True)
    return {"rows": rows, "seconds": seconds, "bytes": size, "method": method}


def run_export_bench(*, rows: int, small_rows: int, keep: bool = False) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    figures: dict[str, Any] = {
        "database": connection.vendor, "rows": rows, "encoding": "cp932", "statement": "cdr (M-DL-3)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    memory: dict[str, Any] = {}
    try:
        for n in sorted({small_rows, rows}):
            began = time.perf_counter()
            tenant = bench_tenant_create(n)
            load = time.perf_counter() - began
            if n == rows:
                figures["load_seconds"] = round(load, 1)
                # Each path twice, alternating; the better run of each counts.
                runs = [(export_once(tenant), raw_export(tenant, Path(settings.DATA_DIR) / "bench-raw.csv"))
                        for _ in range(2)]
                ours = min((r[0] for r in runs), key=lambda r: r["seconds"])
                raw = min((r[1] for r in runs), key=lambda r: r["seconds"])
                figures["runs_seconds"] = [[round(a["seconds"], 2), round(b["seconds"], 2)] for a, b in runs]
                figures["kaisen"] = {"seconds": round(ours["seconds"], 2),
                                     "rows_per_s": round(ours["rows"] / ours["seconds"]),
                                     "mb_per_s": round(ours["bytes"] / 1e6 / ours["seconds"], 1),
                                     "file_mb": round(ours["bytes"] / 1e6, 1)}
                figures["raw"] = {"method": raw["method"], "seconds": round(raw["seconds"], 2),
                                  "rows_per_s": round(raw["rows"] / raw["seconds"]),
                                  "mb_per_s": round(raw["bytes"] / 1e6 / raw["seconds"], 1)}
                figures["ratio_to_raw"] = round(raw["seconds"] / ours["seconds"], 2)
            traced = export_once(tenant, trace=True)
            memory[str(n)] = round(traced["peak_bytes"] / 1e6, 2)
        figures["peak_python_mb"] = memory
        figures["max_rss_mb"] = round(_rss_mb(), 1)
    finally:
        if not keep:
            bench_tenant_delete()
    return figures


def bench_export_command(
    rows: Annotated[int, typer.Option(help="Call records of the one tenant's statement.")] = 1_000_000,
    small_rows: Annotated[int, typer.Option(help="Smaller run for the memory comparison.")] = 100_000,
    keep: Annotated[bool, typer.Option(help="Keep the benchmark tenant and its rows.")] = False,
) -> None:
    """Export benchmark: one tenant's CDR statement in cp932 (rows/s, MB/s, peak memory at two sizes) beside the
    database's raw path (PostgreSQL COPY TO STDOUT / SQLite cursor loop). Uses a throwaway tenant."""
    import json

    from kaisen.core.cli import django_setup

    django_setup()
    figures = run_export_bench(rows=rows, small_rows=small_rows, keep=keep)
    typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
