"""Usage-ingest benchmark (issue 4): generate a call file of N records for M lines, import it with
``kaisen admin usage import``'s code path (rows/s), and beside it the raw database's own bulk path on the same
data — PostgreSQL ``COPY … FROM`` of the same CSV into an equivalent bare table, SQLite a bare
``executemany`` of the same rows into an equivalent bare table — and print the ratio (target ≥ 50%).

Two raw paths are timed, both on the same data:

- **equivalent table** (the headline ratio): a bare table with ``usage_callrecord``'s columns and
  indexes (primary key, unique record ID, the two composite indexes billing and statements read by, the
  source_file_id index; PostgreSQL ``LIKE … INCLUDING ALL``, SQLite the same list by hand) but no foreign
  key, loaded with the rows the import
  stored (exported to CSV first, not timed) — what the database itself needs to store these rows in this
  shape;
- **file columns**: a bare table with the input file's columns, typed, with only the unique record ID,
  loaded straight from the input file — the floor of "reading the file into the database".

Neither has classification, line matching, validation, an error report or foreign-key checks. It RESETS nothing of
the demo but creates M benchmark lines under a tenant ``OP9000000001`` and removes them (and their usage)
at the end; run it on a throwaway database anyway (``KAISEN_DATA_DIR`` / ``DATABASE_URL``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

BENCH_TENANT = "OP9000000001"
BARE = "bench_usage_bare"


def _bench_lines(m: int) -> tuple[Any, list[str]]:
    from django.db import connection, transaction

    from kaisen.demo import _ensure_plans, _LineFactory, _write_lines
    from kaisen.lines.history import line_history_open_missing
    from kaisen.lines.models import Line
    from kaisen.tenancy.models import Tenant
    from kaisen.tenancy.services import tenant_create

    tenant = Tenant.objects.filter(public_id=BENCH_TENANT).first()
    if tenant is None:
        tenant = tenant_create(public_id=BENCH_TENANT, legal_name="ベンチマーク株式会社", contract_code="BENCH-1",
                               contact_email="bench@example.jp", notification_email="bench@example.jp")
    _cleanup(tenant)
    with transaction.atomic():
        plans = _ensure_plans()
        factory = _LineFactory(4242, dt.date.today(), plans)
        # Serials far above the demo's, so the ICCIDs (unique) never collide with demo lines.
        _write_lines(factory.row(50_000_000 + i, tenant.pk) for i in range(m))
        line_history_open_missing(tenant_ids=[tenant.pk])  # issue 10 §1: every line has its history
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {Line._meta.db_table}")
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Rows deleted by an earlier run leave dead index entries behind; the equivalent table is new each
        # time, so vacuum the real one first for a fair comparison.
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE usage_callrecord")
    numbers = [n for n in Line.objects.filter(tenant=tenant, msisdn__isnull=False).values_list("msisdn", flat=True)
               if n]
    return tenant, numbers


def _cleanup(tenant: Any) -> None:
    from django.db import connection

    from kaisen.lines.models import Line
    from kaisen.usage.models import CallRecord, UnmatchedCall, UsageDayTotal, UsageFile, UsageRollup, UsageRowError

    files = UsageFile.objects.filter(name__startswith="bench-usage-")
    CallRecord.objects.filter(tenant=tenant).delete()
    UsageRollup.objects.filter(tenant=tenant).delete()
    UsageDayTotal.objects.filter(tenant=tenant).delete()
    UnmatchedCall.objects.filter(source_file__in=files).delete()
    UsageRowError.objects.filter(source_file__in=files).delete()
    CallRecord.objects.filter(source_file__in=files).delete()
    files.delete()
    Line.objects.filter(tenant=tenant).delete()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {BARE}")


def write_call_file(path: Path, numbers: list[str], n: int, *, seed: int = 7) -> None:
    """N call records spread over the lines and the last ~5 months, with the demo's call mix."""
    from kaisen.carriers.usage_files import CALL_MIX, COUNTRIES, FIXED_AREAS, MOBILE_NETWORKS, _pick
    from kaisen.usage.formats import CALL_COLUMNS

    rng = random.Random(seed)
    base = dt.datetime.now().replace(microsecond=0) - dt.timedelta(days=150)
    span = 145 * 86400
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(CALL_COLUMNS)
        for i in range(n):
            start = base + dt.timedelta(seconds=rng.randrange(span))
            kind = _pick(rng, CALL_MIX)
            network, area, service, duration = "", "", "voice", rng.randint(10, 6000)
            if kind in ("mobile", "internal", "sms"):
                dest = f"090{rng.randint(10_000_000, 99_999_999)}"
                network, area = _pick(rng, MOBILE_NETWORKS), "携帯"
                if kind == "sms":
                    service, duration = "sms", 0
            elif kind == "international":
                code, area = rng.choice(COUNTRIES)
                dest = f"010{code}{rng.randint(10**8, 10**9 - 1)}"
            elif kind == "ip":
                dest, area = f"050{rng.randint(10_000_000, 99_999_999)}", "IP電話"
            else:
                prefix, area = rng.choice(FIXED_AREAS)
                dest = prefix + str(rng.randint(10 ** (9 - len(prefix)), 10 ** (10 - len(prefix)) - 1))
            out.writerow([f"B{i:010d}", numbers[i % len(numbers)], f"{start:%Y-%m-%d %H:%M:%S}.{rng.randint(0, 9)}",
                          duration, dest, area, network, "0", "1", "", service])


def _copy_file(cur: Any, sql: str, path: Path) -> None:
    """PostgreSQL's bulk path: the file's bytes into ``COPY … FROM STDIN``, 1 MB at a time."""
    with path.open("rb") as fh, cur.cursor.copy(sql) as copy:
        while chunk := fh.read(1 << 20):
            copy.write(chunk)


def _insert_batches(raw: Any, sql: str, rows: Iterable[list[str]]) -> None:
    """SQLite's bulk path: ``executemany`` on the sqlite3 cursor, 50,000 rows at a time."""
    batch: list[list[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            raw.executemany(sql, batch)
            batch.clear()
    if batch:
        raw.executemany(sql, batch)


def _raw_postgresql(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {BARE}")
        cur.execute(f"CREATE TABLE {BARE} (record_id varchar(40) UNIQUE, msisdn varchar(11), "
                    "started_at timestamp with time zone, duration_ds integer, destination varchar(32), "
                    "area varchar(64), network varchar(16), internal integer, count integer, roaming varchar(4), "
                    "service varchar(8))")
        started = time.perf_counter()
        _copy_file(cur, f"COPY {BARE} FROM STDIN WITH (FORMAT csv, HEADER true)", path)
        seconds = time.perf_counter() - started
        cur.execute(f"DROP TABLE {BARE}")
    return seconds


def _raw_sqlite(path: Path) -> float:
    from django.db import connection, transaction

    from kaisen.usage.ingest import sqlite_bulk_cache

    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {BARE}")
        cur.execute(f"CREATE TABLE {BARE} (record_id varchar(40) UNIQUE, msisdn varchar(11), started_at datetime, "
                    "duration_ds integer, destination varchar(32), area varchar(64), network varchar(16), "
                    "internal integer, count integer, roaming varchar(4), service varchar(8))")
    started = time.perf_counter()
    sql = f"INSERT INTO {BARE} VALUES ({', '.join('?' * 11)})"  # noqa: S608
    with (transaction.atomic(), connection.cursor() as cur, sqlite_bulk_cache(cur),
          path.open(encoding="utf-8", newline="") as fh):
        reader = csv.reader(fh)
        next(reader)
        _insert_batches(cur.cursor, sql, reader)
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {BARE}")
    return seconds


EQUIV = "bench_usage_equiv"
_EQUIV_COLUMNS = ("tenant_id", "line_id", "msisdn", "started_at", "duration_ds", "units", "billing_month",
                  "destination_number", "destination_area", "call_type", "is_internal", "tax_exempt", "record_id",
                  "source_file_id")


def _export_loaded(file_id: int, path: Path) -> None:
    """The rows the import stored, as CSV (not timed): the data of the equivalent-table raw path."""
    from django.db import connection

    cols = ", ".join(_EQUIV_COLUMNS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with path.open("wb") as fh, cur.cursor.copy(
                    f"COPY (SELECT {cols} FROM usage_callrecord WHERE source_file_id = {int(file_id)}) "  # noqa: S608
                    "TO STDOUT WITH (FORMAT csv)") as copy:
                for chunk in copy:
                    fh.write(chunk)
            return
        cur.execute(f"SELECT {cols} FROM usage_callrecord WHERE source_file_id = %s", [file_id])  # noqa: S608
        with path.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            while rows := cur.fetchmany(50_000):
                out.writerows(rows)


def _raw_equivalent(path: Path) -> float:
    """The database's own bulk path into a table equivalent to ``usage_callrecord``: same columns, same
    indexes (primary key, unique record ID, the two composite indexes, source file), no foreign keys. SQLite:
    the import's page cache (``sqlite_bulk_cache``)."""
    from django.db import connection, transaction

    from kaisen.usage.ingest import sqlite_bulk_cache

    cols = ", ".join(_EQUIV_COLUMNS)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {EQUIV}")
        if connection.vendor == "postgresql":
            cur.execute(f"CREATE TABLE {EQUIV} (LIKE usage_callrecord INCLUDING ALL)")
            started = time.perf_counter()
            _copy_file(cur, f"COPY {EQUIV} ({cols}) FROM STDIN WITH (FORMAT csv)", path)
            seconds = time.perf_counter() - started
            cur.execute(f"DROP TABLE {EQUIV}")
            return seconds
        cur.execute(
            f"CREATE TABLE {EQUIV} (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, tenant_id bigint NOT NULL, "
            "line_id bigint NOT NULL, msisdn varchar(11) NOT NULL, started_at datetime NOT NULL, "
            "duration_ds integer unsigned NOT NULL, units integer unsigned NOT NULL, billing_month date NOT NULL, "
            "destination_number varchar(32) NOT NULL, destination_area varchar(64) NOT NULL, "
            "call_type varchar(20) NOT NULL, is_internal bool NOT NULL, tax_exempt bool NOT NULL, "
            "charge decimal NULL, record_id varchar(40) NOT NULL, source_file_id bigint NOT NULL)")
        cur.execute(f"CREATE UNIQUE INDEX {EQUIV}_rid ON {EQUIV} (record_id)")
        cur.execute(f"CREATE INDEX {EQUIV}_tm ON {EQUIV} (tenant_id, billing_month, msisdn, started_at)")
        cur.execute(f"CREATE INDEX {EQUIV}_lm ON {EQUIV} (line_id, billing_month, started_at)")
        cur.execute(f"CREATE INDEX {EQUIV}_sf ON {EQUIV} (source_file_id)")
    sql = f"INSERT INTO {EQUIV} ({cols}) VALUES ({', '.join('?' * len(_EQUIV_COLUMNS))})"  # noqa: S608
    started = time.perf_counter()
    with (transaction.atomic(), connection.cursor() as cur, sqlite_bulk_cache(cur),
          path.open(encoding="utf-8", newline="") as fh):
        _insert_batches(cur.cursor, sql, csv.reader(fh))
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {EQUIV}")
    return seconds


def run_usage_bench(*, calls: int, lines: int, keep_file: Path | None = None) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from kaisen.usage.ingest import usage_file_import_path

    call_command("migrate", interactive=False, verbosity=0)
    figures: dict[str, Any] = {"database": connection.vendor, "calls": calls, "lines": lines,
                               "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                          f"Python {platform.python_version()}"}
    t = time.perf_counter()
    tenant, numbers = _bench_lines(lines)
    figures["lines_seconds"] = round(time.perf_counter() - t, 2)
    with tempfile.TemporaryDirectory(prefix="kaisen-bench-usage-") as tmp:
        path = keep_file or Path(tmp) / f"bench-usage-{calls}.csv"
        t = time.perf_counter()
        if not path.exists():
            write_call_file(path, numbers, calls)
        figures["generate_seconds"] = round(time.perf_counter() - t, 2)
        figures["file_mb"] = round(path.stat().st_size / 1e6, 1)
        try:
            narrow = _raw_postgresql(path) if connection.vendor == "postgresql" else _raw_sqlite(path)
            t = time.perf_counter()
            result = usage_file_import_path(path=path, kind="calls", imported_by="kaisen bench usage")
            ingest = time.perf_counter() - t
            loaded = Path(tmp) / "loaded.csv"
            _export_loaded(result.file.pk, loaded)
            equivalent = _raw_equivalent(loaded)
        except Exception:
            _cleanup(tenant)
            raise
        f = result.file
        figures.update({
            "ingest_seconds": round(ingest, 2), "ingest_rows_per_s": round(calls / ingest),
            # Read, check, stage and insert, measured inside the import's transaction; the rest of
            # ingest_seconds is the commit (PostgreSQL runs the deferred foreign-key check there: one per row,
            # the line's; tenant and file have no database constraint since usage 0003) and the ANALYZE after
            # a large import.
            "ingest_before_commit_seconds": round(f.seconds, 2),
            "rows_loaded": f.rows_loaded, "rows_rejected": f.rows_rejected, "rows_unmatched": f.rows_unmatched,
            "raw_equivalent_seconds": round(equivalent, 2), "raw_equivalent_rows_per_s": round(calls / equivalent),
            "ratio_ingest_to_raw_equivalent": round(equivalent / ingest, 3),
            "raw_file_columns_seconds": round(narrow, 2), "raw_file_columns_rows_per_s": round(calls / narrow),
            "ratio_ingest_to_raw_file_columns": round(narrow / ingest, 3),
        })
        f.name = f"bench-usage-{f.pk}"
        f.save(update_fields=["name"])
    t = time.perf_counter()
    _cleanup(tenant)
    figures["cleanup_seconds"] = round(time.perf_counter() - t, 2)
    return figures


def bench_usage_command(
    calls: Annotated[int, typer.Option(help="Call records to generate and ingest.")] = 100_000,
    lines: Annotated[int, typer.Option(help="Lines the records are spread over.")] = 1_000,
    out: Annotated[Path | None, typer.Option(help="Also write the figures as JSON to this file.")] = None,
    keep_file: Annotated[Path | None, typer.Option(help="Write (or re-use) the generated CSV here.")] = None,
) -> None:
    """Usage-ingest benchmark: N call records for M lines, ingest rows/s beside the raw bulk path (ratio).

    Uses the database of this environment (DATABASE_URL or the embedded SQLite under KAISEN_DATA_DIR);
    creates and removes its own benchmark tenant and lines. Run it on a throwaway database.
    """
    from kaisen.core.cli import django_setup, print_json

    django_setup()
    figures = run_usage_bench(calls=calls, lines=lines, keep_file=keep_file)
    print_json(figures)
    if out:
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str))
