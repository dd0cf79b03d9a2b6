"""Importing the carrier's usage files (issue 4 §1): bulk, idempotent, bad rows reported, unknown lines kept.

How a file is loaded, in one transaction:

1. Its SHA-256 is computed; a file already imported (same bytes) is not read again: the answer says so
   and nothing changes (idempotent per file).
2. Rows are read and checked in Python (``formats``; calls classified by ``classify``). A bad row goes to
   ``UsageRowError`` with its line number and reason; the good rows go to a temporary staging table —
   PostgreSQL: one binary ``COPY … FROM STDIN`` (psycopg 3 ``cursor.copy``); SQLite: ``executemany`` in
   batches.
3. Every number is matched to its line in one pass (``PICK``), the records already stored leave the stage,
   and one set-wise statement stores the calls **rated** — billing's rating SQL (``hooks.call_rating``: the
   line-history interval and tariff versions in force at each call's start) — and adds them to their
   ``UsageRollup`` rows (issue 10 §4; ``_store_calls``). The calls of unknown numbers go to
   ``UnmatchedCall``; ``usage_rematch`` stores those the same way once the line exists. Daily data: one
   ``INSERT … SELECT`` into ``DataUsageDaily`` (``ON CONFLICT`` on line and day) and the unknown rows to
   ``UnmatchedDataUsage``.

A phone number is matched to the line that holds it: the live one (not cancelled) first, then the most
recent (highest ID) — the rule of ``lines.selectors.line_get``, because a number can be reissued. Daily
data rows carrying an ICCID are matched by ICCID (unique) first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _

from kaisen.core import clock, metrics
from kaisen.core.bulksql import bulk_statement_settings
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import Line
from kaisen.usage import rollups
from kaisen.usage.formats import (
    CallRow,
    DataRow,
    FileFormatError,
    Rejected,
    open_text,
    read_rows,
    stamp_binary,
    stamp_sqlite,
)
from kaisen.usage.hooks import call_rating, run_after_import
from kaisen.usage.models import (
    CallRecord,
    DataUsageDaily,
    LateDataUsage,
    UnmatchedCall,
    UnmatchedDataUsage,
    UsageArchive,
    UsageFile,
    UsageFileKind,
    UsageRollup,
    UsageRowError,
)
from kaisen.usage.partitions import CALLS, DATA, usage_partitions_ensure

BATCH = 50_000
CALL_STAGE = "usage_stage_calls"
DATA_STAGE = "usage_stage_data"
PICK = "usage_stage_pick"
CALL_STAGE_COLUMNS = ("row_no", "record_id", "msisdn", "started_at", "duration_ds", "units", "billing_month",
                      "destination_number", "destination_area", "call_type", "is_internal", "tax_exempt")
DATA_STAGE_COLUMNS = ("row_no", "msisdn", "iccid", "day", "bytes_used")
#: The columns the import analyses after a large file (PostgreSQL): those the statements on a month filter,
#: join or sort on. ANALYZE's cost is mostly per column (the text columns' sorts); the others (destination,
#: area, duration, charge, …) keep the statistics autovacuum gives them. Measured on a 200,000-call
#: partition: 130 ms instead of 350 ms (issue 10 §6, session 7).
ANALYZED_CALL_COLUMNS = ("tenant_id", "line_id", "msisdn", "billing_month", "started_at", "call_type", "record_id",
                         "source_file_id")
ANALYZED_ROLLUP_COLUMNS = ("tenant_id", "line_id", "billing_month", "usage_month", "day", "coverage", "call_type")
#: The staged calls' columns their statements join on (the other columns' statistics are never used).
ANALYZED_STAGE_COLUMNS = ("msisdn", "record_id", "billing_month")


@dataclass
class ImportResult:
    file: UsageFile
    already_imported: bool = False

    def as_dict(self) -> dict[str, Any]:
        f = self.file
        return {"id": f.pk, "name": f.name, "kind": f.kind, "sha256": f.sha256, "already_imported":
                self.already_imported, "rows_total": f.rows_total, "rows_loaded": f.rows_loaded,
                "rows_duplicate": f.rows_duplicate, "rows_rejected": f.rows_rejected,
                "rows_unmatched": f.rows_unmatched, "seconds": round(f.seconds, 3)}


def file_sha256(fileobj: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def usage_file_import_path(*, path: Path, kind: str | None = None, imported_by: str = "",
                           now: dt.datetime | None = None) -> ImportResult:
    with path.open("rb") as fh:
        return usage_file_import(fileobj=fh, name=path.name, kind=kind, imported_by=imported_by, now=now)


@metrics.timed_calls(metrics.IMPORT_SECONDS)
def usage_file_import(*, fileobj: IO[bytes], name: str, kind: str | None = None, imported_by: str = "",
                      now: dt.datetime | None = None) -> ImportResult:
    """Import one usage file (calls or data; ``kind`` None: told by its header). See the module docstring."""
    if kind not in (None, "", *UsageFileKind.values):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Kind must be 'calls' or 'data'."), field="kind")
    started = time.perf_counter()
    now = now or clock.now()
    sha = file_sha256(fileobj)
    existing = UsageFile.objects.filter(sha256=sha).first()
    if existing is not None:
        return ImportResult(file=existing, already_imported=True)
    try:
        with transaction.atomic():
            text = open_text(fileobj, name)
            try:
                pg = connection.vendor == "postgresql"
                # PostgreSQL stages calls by binary COPY (issue 10 §6): typed values, no text for the server
                # to parse (measured: the COPY of 200,000 staged calls 15-20 % faster than text).
                found, rows = read_rows(text, kind=kind or None, now=now, stamp=stamp_binary if pg else stamp_sqlite,
                                        dates=pg)
            except FileFormatError as exc:
                raise _invalid(name, exc) from exc
            record = UsageFile.objects.create(kind=found, name=name[:255], sha256=sha, imported_by=imported_by[:150])
            try:
                load = _load_calls if found == UsageFileKind.CALLS else _load_data
                months = load(record, rows)
            except FileFormatError as exc:
                raise _invalid(name, exc) from exc
            record.seconds = time.perf_counter() - started
            record.save()
    except IntegrityError:
        # The same file imported at the same moment by someone else: theirs won, ours changed nothing.
        existing = UsageFile.objects.filter(sha256=sha).first()
        if existing is None:
            raise
        return ImportResult(file=existing, already_imported=True)
    if connection.vendor == "postgresql" and record.rows_loaded > 100_000:
        # The partitions the file loaded into, not the whole table: ANALYZE of the partitioned table samples
        # and analyses every month stored (measured: 5.7 s after a 200,000-call file with 13 months stored),
        # and the statements on a month read its partition's statistics.
        spec = CALLS if found == UsageFileKind.CALLS else DATA
        with connection.cursor() as cur:
            for month in sorted(set(months)):
                cur.execute("SELECT to_regclass(%s)", [spec.name(month)])
                if cur.fetchone()[0] is not None:
                    columns = f" ({', '.join(ANALYZED_CALL_COLUMNS)})" if spec is CALLS else ""
                    cur.execute(f"ANALYZE {spec.name(month)}{columns}")
            if found == UsageFileKind.CALLS:
                # The rollups it wrote too: days past the histogram's end look empty to the planner of the
                # statements that read them next (the alert rules, the close).
                cur.execute(f"ANALYZE {UsageRollup._meta.db_table} ({', '.join(ANALYZED_ROLLUP_COLUMNS)})")
    run_after_import(record)  # issue 13 §3: usage alert rules (kaisen.usage.hooks)
    return ImportResult(file=record)


def _invalid(name: str, exc: Exception) -> DomainError:
    return DomainError(ErrorCode.INVALID_USAGE_FILE,
                       _("The usage file %(name)s cannot be read: %(reason)s. Nothing was imported.")
                       % {"name": name, "reason": exc})


# ------------------------------------------------------------------------------------------------
# Staging
# ------------------------------------------------------------------------------------------------

_PG_TYPES = {"row_no": "integer", "record_id": "text", "msisdn": "text", "started_at": "timestamptz",
             "duration_ds": "integer", "units": "integer", "billing_month": "date", "destination_number": "text",
             "destination_area": "text", "call_type": "text", "is_internal": "boolean", "tax_exempt": "boolean",
             "iccid": "text", "day": "date", "bytes_used": "bigint", "line_id": "bigint", "tenant_id": "bigint",
             "id": "bigint", "source_file_id": "bigint"}


def _create_stage(cur: Any, table: str, columns: tuple[str, ...]) -> None:
    pg = connection.vendor == "postgresql"
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cols = ", ".join(f"{c} {_PG_TYPES[c] if pg else ''}".strip() for c in columns)
    suffix = " ON COMMIT DROP" if pg else ""
    cur.execute(f"CREATE TEMP TABLE {table} ({cols}){suffix}")


def _create_pick(cur: Any) -> None:
    """One line per phone number: the live line first, then the highest ID (``line_get``'s rule)."""
    pg = connection.vendor == "postgresql"
    cur.execute(f"DROP TABLE IF EXISTS {PICK}")
    if pg:
        cur.execute(f"CREATE TEMP TABLE {PICK} (msisdn text PRIMARY KEY, line_id bigint, tenant_id bigint) "
                    "ON COMMIT DROP")
    else:
        cur.execute(f"CREATE TEMP TABLE {PICK} (msisdn text PRIMARY KEY, line_id integer, tenant_id integer)")
    lines = Line._meta.db_table
    cur.execute(
        f"INSERT INTO {PICK} (msisdn, line_id, tenant_id) "  # noqa: S608
        f"SELECT msisdn, id, tenant_id FROM (SELECT msisdn, id, tenant_id, ROW_NUMBER() OVER ("
        f"PARTITION BY msisdn ORDER BY CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END, id DESC) AS rn "
        f"FROM {lines} WHERE msisdn IS NOT NULL) ranked WHERE rn = 1"
    )


def _drop(cur: Any, *tables: str) -> None:
    if connection.vendor != "postgresql":  # PostgreSQL drops them at commit
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS {table}")


#: PostgreSQL binary COPY types of the staged call columns (``CALL_STAGE_COLUMNS``).
_BINARY_TYPES = {"row_no": "int4", "record_id": "text", "msisdn": "text", "started_at": "timestamptz",
                 "duration_ds": "int4", "units": "int4", "billing_month": "date", "destination_number": "text",
                 "destination_area": "text", "call_type": "text", "is_internal": "bool", "tax_exempt": "bool"}


def _stage(cur: Any, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]], *,
           binary: bool = False) -> int:
    """Write ``rows`` into the staging table with the database's bulk path; returns how many. ``binary``
    (PostgreSQL, typed rows of ``_BINARY_TYPES``): ``COPY … (FORMAT BINARY)``."""
    count = 0
    if connection.vendor == "postgresql":
        fmt = " (FORMAT BINARY)" if binary else ""
        with cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{fmt}") as copy:
            if binary:
                copy.set_types([_BINARY_TYPES[c] for c in columns])
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    raw = cur.cursor  # Django's SQLite cursor wrapper rewrites %s per statement; the sqlite3 cursor takes ? as is
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            raw.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    if batch:
        raw.executemany(sql, batch)
        count += len(batch)
    return count


class _Split:
    """Passes the good rows through and keeps the rejected ones aside (written after staging)."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self.rows = rows
        self.rejected: list[Rejected] = []
        self.total = 0

    def good(self) -> Iterator[tuple[Any, ...]]:
        rejected = self.rejected
        total = 0
        for row in self.rows:
            total += 1
            if row.__class__ is Rejected:
                rejected.append(row)
                continue
            yield row
        self.total = total


class _CallSplit(_Split):
    """``_Split`` for call rows that also notes, as the rows pass, their billing months and whether two rows
    share a record ID — what the loader would otherwise ask the database for (a ``SELECT DISTINCT`` of the
    stage for the partitions and the late months; a deduplicating ``DELETE``, or a failed insert rolled back
    to its savepoint on PostgreSQL)."""

    def __init__(self, rows: Iterator[Any]) -> None:
        super().__init__(rows)
        self.months: set[Any] = set()
        self.duplicates = False

    def good(self) -> Iterator[tuple[Any, ...]]:
        months = self.months
        seen: set[str] = set()
        add_id, add_month = seen.add, months.add
        count = 0
        for row in super().good():
            add_id(row[1])
            add_month(row[6])
            count += 1
            yield row
        self.duplicates = len(seen) != count


def _record_outcome(record: UsageFile, split: _Split, *, staged: int, loaded: int, unmatched: int) -> None:
    """Write the rejected rows' error report and the file's counts (saved by the caller)."""
    UsageRowError.objects.bulk_create(
        [UsageRowError(source_file=record, row_no=r.row_no, code=r.code, message=r.message[:300], raw=r.raw)
         for r in split.rejected], batch_size=5000)
    record.rows_total = split.total
    record.rows_loaded = loaded
    record.rows_unmatched = unmatched
    record.rows_rejected = len(split.rejected)
    record.rows_duplicate = staged - loaded - unmatched


# ------------------------------------------------------------------------------------------------
# Calls
# ------------------------------------------------------------------------------------------------

_CALL_FIELDS = ("started_at", "duration_ds", "units", "billing_month", "destination_number", "destination_area",
                "call_type", "is_internal", "tax_exempt", "record_id")


#: The columns of a source of calls to store (``_store_calls``), in ``CallRecord``'s names.
_SOURCE_COLUMNS = ("tenant_id", "line_id", "msisdn", *_CALL_FIELDS, "source_file_id")
RATED = "usage_stage_rated"
LATE = "usage_stage_late"
#: PostgreSQL: the order the calls are inserted in: that of the line index (``cdr_line_month``), which is also
#: nearly that of the tenant index (a line keeps its number), so each index insert lands next to the previous
#: one instead of on a random leaf page (issue 10 §6; measured 7.4 s → 6.2 s for 200,000 calls into a copy of
#: a partition with its five indexes, docs/benchmarks.md "Issue 10 ingest, session 7"). SQLite inserts in the
#: stage's order (an A/B of four runs there showed no difference beyond the noise).
CALL_ORDER = "line_id, started_at"


def _staged_source(file_id: int) -> tuple[str, list[Any]]:
    """The staged calls joined to their lines (``PICK``): a source for ``_store_calls``."""
    cols = ", ".join(f"s.{c}" for c in _CALL_FIELDS)
    return (f"(SELECT p.tenant_id, p.line_id, s.msisdn, {cols}, CAST(%s AS BIGINT) AS source_file_id "  # noqa: S608
            f"FROM {CALL_STAGE} s JOIN {PICK} p ON p.msisdn = s.msisdn)", [file_id])


def _late_table(cur: Any, months_from: str | Iterable[Any]) -> str | None:
    """The closed months among the calls of ``months_from`` (a table with ``billing_month``, or the months
    themselves) and the open month that bills their late usage as an adjustment (billing decides,
    ``hooks.CallRating.late_targets``), in a temporary table; None when no call is late (the usual case: the
    rollups then need no join)."""
    if isinstance(months_from, str):
        cur.execute(f"SELECT DISTINCT billing_month FROM {months_from}")  # noqa: S608
        found: Iterable[Any] = [m for (m,) in cur.fetchall()]
    else:
        found = months_from
    months = [m if isinstance(m, dt.date) else dt.date.fromisoformat(str(m)) for m in found]
    targets = call_rating.get().late_targets(months)
    if not targets:
        return None
    pg = connection.vendor == "postgresql"
    cur.execute(f"DROP TABLE IF EXISTS {LATE}")
    cur.execute(f"CREATE TEMP TABLE {LATE} (tenant_id bigint, coverage text, month date, target_month date)"
                + (" ON COMMIT DROP" if pg else ""))
    cur.executemany(f"INSERT INTO {LATE} (tenant_id, coverage, month, target_month) VALUES (%s, %s, %s, %s)",  # noqa: S608
                    [(t, c, m if pg else m.isoformat(), g if pg else g.isoformat()) for t, c, m, g in targets])
    if pg:
        cur.execute(f"ANALYZE {LATE}")  # its few rows, not the default guess of a thousand: a hash join, no sort
    return LATE


def _store_calls(cur: Any, *, source: str, params: list[Any], months_from: str | Iterable[Any],
                 may_collide: bool) -> int:
    """Store the calls of ``source`` (columns ``_SOURCE_COLUMNS``, matched to their lines; none already in
    ``CallRecord``) rated, and add them to their rollups — issue 10 §4: the charge is computed by the statement
    that stores the call, no later ``UPDATE``.

    PostgreSQL: one statement — ``WITH rated AS (<rating's select>), ins AS (INSERT INTO CallRecord … SELECT
    … FROM rated) INSERT INTO UsageRollup … SELECT … FROM rated GROUP BY … ON CONFLICT DO UPDATE``, and the
    same calls added to their day totals (``UsageDayTotal``) in a third ``WITH``.
    ``may_collide``: a record ID may already be stored (another import at the same time, or two rows of one
    file): the insert then skips it (``ON CONFLICT DO NOTHING``) and the rollups count only the rows it
    inserted. SQLite (no data-modifying ``WITH``): the rated select fills a temporary table once, and three
    ``INSERT … SELECT`` read it. Returns the calls stored."""
    rated = call_rating.get().rated_select(source)
    calls = CallRecord._meta.db_table
    target = f"{', '.join(c for c in _SOURCE_COLUMNS if c != 'source_file_id')}, charge, source_file_id"
    # The call's tenant is the line's when the call started (the line-history interval rating joined,
    # ``bill_tenant_id``), not the line's tenant now: a call made before a SIM transfer belongs to the sender
    # even when its file arrives after the transfer (issue 10 §3-§4).
    select = ", ".join(("bill_tenant_id" if c == "tenant_id" else c) for c in _SOURCE_COLUMNS
                       if c != "source_file_id") + ", rated_charge, source_file_id"
    late = _late_table(cur, months_from)
    if connection.vendor == "postgresql":
        conflict = " ON CONFLICT (record_id, billing_month) DO NOTHING" if may_collide else ""
        stored = (f"(SELECT x.* FROM {RATED} x JOIN ins ON ins.record_id = x.record_id)"  # noqa: S608
                  if may_collide
                  else RATED)
        cur.execute(
            f"WITH {RATED} AS MATERIALIZED ({rated}), "  # noqa: S608
            f"ins AS (INSERT INTO {calls} ({target}) SELECT {select} FROM {RATED} ORDER BY {CALL_ORDER}{conflict} "
            f"RETURNING record_id), "
            f"roll AS ({rollups.upsert_sql(stored, late=late)}), "
            f"days AS ({rollups.day_upsert_sql(stored, late=late)}) "
            f"SELECT COUNT(*) FROM ins", params)
        return int(cur.fetchone()[0])
    cur.execute(f"DROP TABLE IF EXISTS {RATED}")
    cur.execute(f"CREATE TEMP TABLE {RATED} AS {rated}", params)
    cur.execute(f"INSERT INTO {calls} ({target}) SELECT {select} FROM {RATED}", [])  # noqa: S608
    loaded = int(cur.rowcount)
    cur.execute(rollups.upsert_sql(RATED, late=late), [])
    cur.execute(rollups.day_upsert_sql(RATED, late=late), [])
    _drop(cur, RATED, LATE)
    return loaded


def _keep_unmatched_calls(cur: Any, *, file_id: int) -> int:
    """Staged calls whose number matched no line → UnmatchedCall. Returns how many were kept aside."""
    cur.execute(
        f"INSERT INTO {UnmatchedCall._meta.db_table} (source_file_id, row_no, msisdn, {', '.join(_CALL_FIELDS)}) "  # noqa: S608
        f"SELECT %s, s.row_no, s.msisdn, {', '.join(f's.{c}' for c in _CALL_FIELDS)} FROM {CALL_STAGE} s "
        f"LEFT JOIN {PICK} p ON p.msisdn = s.msisdn WHERE p.line_id IS NULL "
        f"ON CONFLICT (record_id) DO NOTHING", [file_id])
    return int(cur.rowcount)


def _dedupe_stage(cur: Any) -> None:
    """Two rows of one file with the same record ID: the first one (lowest row number) stays."""
    if connection.vendor == "postgresql":
        cur.execute(f"DELETE FROM {CALL_STAGE} a USING {CALL_STAGE} b "  # noqa: S608
                    f"WHERE a.record_id = b.record_id AND a.row_no > b.row_no")
    else:
        cur.execute(f"DELETE FROM {CALL_STAGE} WHERE rowid NOT IN (SELECT MIN(rowid) FROM {CALL_STAGE} "  # noqa: S608
                    f"GROUP BY record_id)")


def _move_calls(cur: Any, *, file_id: int, months: Iterable[Any], duplicates: bool) -> tuple[int, int]:
    """Staged calls → CallRecord (rated) and their rollups, then the calls for unknown lines kept aside.

    Records already stored leave the stage first, in a statement of their own (an anti-join inside the
    INSERT would read the table the INSERT is growing: quadratic when the planner picks a nested loop).
    PostgreSQL then inserts without ``ON CONFLICT`` (measurably faster: it makes every row a speculative
    insertion); two rows of one file with the same record ID, or a concurrent import of the same records,
    make that fail on the unique index: it is rolled back to its savepoint, the stage deduplicated and the
    store done again with ``ON CONFLICT DO NOTHING``. SQLite (one writer at a time) deduplicates the stage
    first. ``months``: the billing months of the staged calls; ``duplicates``: two staged rows share a record
    ID (``_CallSplit`` noted both while staging): the stage is deduplicated first (PostgreSQL: and stored with
    ``ON CONFLICT``, no failed attempt); without them SQLite skips the deduplicating ``DELETE``.
    Returns (loaded, unmatched)."""
    calls = CallRecord._meta.db_table
    source, params = _staged_source(file_id)
    if connection.vendor == "postgresql":
        cur.execute(f"DELETE FROM {CALL_STAGE} s USING {calls} c WHERE c.record_id = s.record_id "  # noqa: S608
                    f"AND c.billing_month = s.billing_month")
        if duplicates:
            _dedupe_stage(cur)
            loaded = _store_calls(cur, source=source, params=params, months_from=months, may_collide=True)
        else:
            sid = transaction.savepoint()
            try:
                loaded = _store_calls(cur, source=source, params=params, months_from=months, may_collide=False)
            except IntegrityError:  # a concurrent import stored some of the same records meanwhile
                transaction.savepoint_rollback(sid)
                loaded = _store_calls(cur, source=source, params=params, months_from=months, may_collide=True)
            else:
                transaction.savepoint_commit(sid)
    else:
        cur.execute(f"DELETE FROM {CALL_STAGE} WHERE record_id IN (SELECT record_id FROM {calls})")  # noqa: S608
        if duplicates:
            _dedupe_stage(cur)
        loaded = _store_calls(cur, source=source, params=params, months_from=months, may_collide=False)
    return loaded, _keep_unmatched_calls(cur, file_id=file_id)


@contextmanager
def sqlite_bulk_cache(cur: Any) -> Iterator[None]:
    """SQLite: a page cache of ``KAISEN_SQLITE_IMPORT_CACHE_MB`` for one bulk load, the connection's own
    size again afterwards (the benchmark's raw path uses it too, so the comparison stays fair)."""
    cur.execute("PRAGMA cache_size")
    before = int(cur.fetchone()[0])
    cur.execute(f"PRAGMA cache_size = -{int(settings.KAISEN_SQLITE_IMPORT_CACHE_MB) * 1024}")
    try:
        yield
    finally:
        cur.execute(f"PRAGMA cache_size = {before}")


def _load_calls(record: UsageFile, rows: Iterator[CallRow | Rejected]) -> list[dt.date]:
    """Stage the good rows (PostgreSQL: ``COPY``; SQLite: ``executemany``), match every number to its line in
    one pass (``PICK``: one row per number), store them rated (``_move_calls``). Returns the billing months of the
    staged calls (PostgreSQL: their partitions; SQLite: none)."""
    split = _CallSplit(rows)
    with connection.cursor() as cur, sqlite_bulk_cache(cur) if connection.vendor == "sqlite" else nullcontext():
        _create_stage(cur, CALL_STAGE, CALL_STAGE_COLUMNS)
        staged = _stage(cur, CALL_STAGE, CALL_STAGE_COLUMNS, split.good(), binary=connection.vendor == "postgresql")
        _create_pick(cur)
        months: list[dt.date] = []
        if connection.vendor == "postgresql":
            # Temporary tables have no statistics until analysed; without them the planner may pick a
            # nested loop over the staged rows (measured: minutes instead of seconds for 100,000 rows).
            cur.execute(f"ANALYZE {CALL_STAGE} ({', '.join(ANALYZED_STAGE_COLUMNS)})")
            cur.execute(f"ANALYZE {PICK}")
            months = sorted(split.months)
            usage_partitions_ensure(months)  # issue 10 §5: each month its partition
        with bulk_statement_settings(cur):
            loaded, unmatched = _move_calls(cur, file_id=record.pk, months=split.months,
                                            duplicates=split.duplicates)
        _drop(cur, CALL_STAGE, PICK)
    _record_outcome(record, split, staged=staged, loaded=loaded, unmatched=unmatched)
    return months


# ------------------------------------------------------------------------------------------------
# Daily data usage
# ------------------------------------------------------------------------------------------------

def _resolve_data_lines(cur: Any, table: str) -> None:
    """Set line_id/tenant_id of staged data rows: by ICCID when given, else by phone number."""
    lines = Line._meta.db_table
    cur.execute(
        f"UPDATE {table} SET line_id = (SELECT l.id FROM {lines} l WHERE l.iccid = {table}.iccid), "  # noqa: S608
        f"tenant_id = (SELECT l.tenant_id FROM {lines} l WHERE l.iccid = {table}.iccid) WHERE iccid <> ''")
    cur.execute(
        f"UPDATE {table} SET line_id = (SELECT p.line_id FROM {PICK} p WHERE p.msisdn = {table}.msisdn), "  # noqa: S608
        f"tenant_id = (SELECT p.tenant_id FROM {PICK} p WHERE p.msisdn = {table}.msisdn) "
        f"WHERE line_id IS NULL AND msisdn <> ''")


def _month_of(column: str) -> str:
    """SQL: the first day of the month of the date in ``column``."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS DATE)"
    return f"date({column}, 'start of month')"


def _mark_late_data(cur: Any, *, source: str) -> None:
    """Issue 10 §4: matched staged data rows of a month some invoice has already closed, new or with another
    value than the one stored, mark their line and month (``LateDataUsage``); billing bills the difference of
    that month's data overage as an adjustment in the next open month. The usual file (no closed month) costs
    one ``SELECT DISTINCT`` of its months."""
    month = _month_of("s.day")
    cur.execute(f"SELECT DISTINCT {month} FROM {source} s WHERE s.line_id IS NOT NULL")  # noqa: S608
    months = [m if isinstance(m, dt.date) else dt.date.fromisoformat(str(m)) for (m,) in cur.fetchall()]
    closed = {m for _t, _c, m, _g in call_rating.get().late_targets(months)}
    # A month already archived (its data dropped, docs/usage.md "Storage and retention") is not billed again:
    # its overage would be recomputed from the late file's rows alone.
    closed -= set(UsageArchive.objects.filter(table=DataUsageDaily._meta.db_table, month__in=closed)
                  .values_list("month", flat=True))
    if not closed:
        return
    usage = DataUsageDaily._meta.db_table
    marks = ", ".join(["%s"] * len(closed))
    cur.execute(f"INSERT INTO {LateDataUsage._meta.db_table} (line_id, usage_month) "  # noqa: S608
                f"SELECT DISTINCT s.line_id, {month} FROM {source} s LEFT JOIN {usage} u "
                f"ON u.line_id = s.line_id AND u.day = s.day WHERE s.line_id IS NOT NULL AND {month} IN ({marks}) "
                f"AND (u.id IS NULL OR u.bytes_used <> s.bytes_used) ON CONFLICT (line_id, usage_month) DO NOTHING",
                sorted(closed))


def _move_data(cur: Any, *, source: str, file_id: int | None) -> int:
    """Matched staged data rows → DataUsageDaily; a later value for the same line and day replaces the
    earlier one (a carrier's correction), an identical one changes nothing. Returns rows changed."""
    usage = DataUsageDaily._meta.db_table
    lines = Line._meta.db_table
    _mark_late_data(cur, source=source)
    file_expr = "%s" if file_id is not None else "s.source_file_id"
    params = [file_id] if file_id is not None else []
    cur.execute(
        f"INSERT INTO {usage} (tenant_id, line_id, msisdn, day, bytes_used, source_file_id) "  # noqa: S608
        f"SELECT tenant_id, line_id, msisdn, day, bytes_used, fid FROM ("
        f"SELECT s.tenant_id, s.line_id, COALESCE(NULLIF(s.msisdn, ''), l.msisdn, '') AS msisdn, s.day, "
        f"s.bytes_used, {file_expr} AS fid, "
        f"ROW_NUMBER() OVER (PARTITION BY s.line_id, s.day ORDER BY s.row_no DESC) AS rn "
        f"FROM {source} s JOIN {lines} l ON l.id = s.line_id) x WHERE rn = 1 "
        f"ON CONFLICT (line_id, day) DO UPDATE SET bytes_used = excluded.bytes_used, "
        f"source_file_id = excluded.source_file_id WHERE {usage}.bytes_used <> excluded.bytes_used", params)
    return cur.rowcount


def _load_data(record: UsageFile, rows: Iterator[DataRow | Rejected]) -> list[dt.date]:
    split = _Split(rows)
    columns = (*DATA_STAGE_COLUMNS, "line_id", "tenant_id")
    with connection.cursor() as cur:
        _create_stage(cur, DATA_STAGE, columns)
        staged = _stage(cur, DATA_STAGE, DATA_STAGE_COLUMNS, split.good())
        _create_pick(cur)
        months: list[dt.date] = []
        if connection.vendor == "postgresql":
            cur.execute(f"ANALYZE {DATA_STAGE}")
            cur.execute(f"ANALYZE {PICK}")
            cur.execute(f"SELECT DISTINCT CAST(date_trunc('month', day) AS date) FROM {DATA_STAGE}")  # noqa: S608
            months = [r[0] for r in cur.fetchall()]
            usage_partitions_ensure(months)
        _resolve_data_lines(cur, DATA_STAGE)
        loaded = _move_data(cur, source=DATA_STAGE, file_id=record.pk)
        um = UnmatchedDataUsage._meta.db_table
        cur.execute(f"INSERT INTO {um} (source_file_id, row_no, msisdn, iccid, day, bytes_used) "  # noqa: S608
                    f"SELECT %s, row_no, msisdn, iccid, day, bytes_used FROM {DATA_STAGE} WHERE line_id IS NULL",
                    [record.pk])
        unmatched = cur.rowcount
        _drop(cur, DATA_STAGE, PICK)
    _record_outcome(record, split, staged=staged, loaded=loaded, unmatched=unmatched)
    return months


# ------------------------------------------------------------------------------------------------
# Rematch
# ------------------------------------------------------------------------------------------------

@dataclass
class RematchResult:
    calls_matched: int
    calls_left: int
    data_matched: int
    data_left: int

    def as_dict(self) -> dict[str, int]:
        return {"calls_matched": self.calls_matched, "calls_still_unknown": self.calls_left,
                "data_matched": self.data_matched, "data_still_unknown": self.data_left}


def usage_rematch() -> RematchResult:
    """Move records kept aside for unknown lines into the usage tables, now that their lines may exist.

    Set-wise: one INSERT … SELECT joined to the lines and one DELETE per kind. A call whose record ID is
    already in ``CallRecord`` (imported again from another file meanwhile) is dropped from the side table.
    """
    calls = CallRecord._meta.db_table
    um_calls = UnmatchedCall._meta.db_table
    um_data = UnmatchedDataUsage._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        _create_pick(cur)
        before_calls = UnmatchedCall.objects.count()
        fields = ", ".join(f"u.{c}" for c in _CALL_FIELDS)
        source = (f"(SELECT p.tenant_id, p.line_id, u.msisdn, {fields}, u.source_file_id FROM {um_calls} u "  # noqa: S608
                  f"JOIN {PICK} p ON p.msisdn = u.msisdn "
                  f"WHERE NOT EXISTS (SELECT 1 FROM {calls} c WHERE c.record_id = u.record_id "
                  f"AND c.billing_month = u.billing_month))")
        with bulk_statement_settings(cur):
            _store_calls(cur, source=source, params=[], months_from=um_calls,
                         may_collide=connection.vendor == "postgresql")
        cur.execute(f"DELETE FROM {um_calls} WHERE EXISTS (SELECT 1 FROM {calls} c "  # noqa: S608
                    f"WHERE c.record_id = {um_calls}.record_id AND c.billing_month = {um_calls}.billing_month)")
        calls_left = UnmatchedCall.objects.count()

        before_data = UnmatchedDataUsage.objects.count()
        _create_stage(cur, DATA_STAGE, ("id", *DATA_STAGE_COLUMNS, "line_id", "tenant_id", "source_file_id"))
        cur.execute(f"INSERT INTO {DATA_STAGE} (id, row_no, msisdn, iccid, day, bytes_used, source_file_id) "  # noqa: S608
                    f"SELECT id, row_no, msisdn, iccid, day, bytes_used, source_file_id FROM {um_data}")
        _resolve_data_lines(cur, DATA_STAGE)
        _move_data(cur, source=DATA_STAGE, file_id=None)
        cur.execute(f"DELETE FROM {um_data} WHERE id IN (SELECT id FROM {DATA_STAGE} "  # noqa: S608
                    f"WHERE line_id IS NOT NULL)")
        data_left = UnmatchedDataUsage.objects.count()
        _drop(cur, DATA_STAGE, PICK)
    return RematchResult(calls_matched=before_calls - calls_left, calls_left=calls_left,
                         data_matched=before_data - data_left, data_left=data_left)
