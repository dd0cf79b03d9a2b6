"""Retention of raw usage detail (issue 10 §5): a month past ``KAISEN_USAGE_RETENTION_MONTHS`` is archived
to a compressed CSV file with a SHA-256 and dropped from the database as a unit.

``KAISEN_USAGE_RETENTION_MONTHS`` (default 13) is how many billing months of call records and daily data
usage stay in the database, the current month included: with 13, in December 2026 the months from
December 2025 on are kept and November 2025 and older are archived. It may not be lower than
``MIN_RETENTION_MONTHS`` (7): the call-detail statement (M-DL-3) offers the last 6 months, published one
month after the month of use, so 7 months of calls must stay readable (docs/usage.md, "Retention").
Invoices and their items are billing records kept 7 years (``billing.close.RETENTION_YEARS``); they are
stored apart from the raw usage and never touched here.

Archiving one month (``usage_archive_month``), in one transaction:

1. every row of the month of ``usage_callrecord`` (``billing_month``) and of ``usage_datausagedaily``
   (``day`` in the month) is written, ordered by ID, to ``<table>-<YYYY-MM>-<stamp>.csv.gz`` in
   the ``usage_archive`` storage (``kaisen.core.files``: ``KAISEN_USAGE_ARCHIVE_DIR``, default
   ``KAISEN_DATA_DIR/archive/usage``, or ``archive/usage/`` of the S3 bucket) — PostgreSQL ``COPY … TO
   STDOUT``, SQLite a cursor — with a ``.sha256`` file beside it (``sha256sum -c`` format);
2. the stored file is read back from the storage, its rows counted and its SHA-256 compared; a difference
   from the database's count or from the written bytes aborts everything (the stored files are deleted);
3. PostgreSQL: the month's partition is detached and dropped (rows of the month left in the DEFAULT
   partition are deleted); SQLite: the month's rows are deleted;
4. a ``UsageArchive`` row per table and an audit entry ``usage.archive`` record it.

The month's import bookkeeping goes the same way (``KEPT``): records kept aside for unknown numbers
(``UnmatchedCall`` by billing month, ``UnmatchedDataUsage`` by day) and the import error reports
(``UsageRowError``, by the Japan-time month of their file's import); a bookkeeping table without a row in the
month writes no file. The marks of late daily data of the month (``LateDataUsage``) are deleted with its data.

Run by ``kaisen admin usage archive`` and daily by the scheduler (``usage_archive_due``).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils.translation import gettext as _

from kaisen.core import clock, files
from kaisen.core.calendar import add_months, month_start
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.usage.models import LateDataUsage, UsageArchive
from kaisen.usage.partitions import CALLS, DATA, SPECS, Spec, partitioned

#: The call-detail statement (M-DL-3) offers 6 months, published 1 month after the month of use.
MIN_RETENTION_MONTHS = 7


def retention_months() -> int:
    """``KAISEN_USAGE_RETENTION_MONTHS``, checked: a whole number of at least ``MIN_RETENTION_MONTHS``."""
    raw = getattr(settings, "KAISEN_USAGE_RETENTION_MONTHS", 13)
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"KAISEN_USAGE_RETENTION_MONTHS must be a whole number of months, not {raw!r}.") from exc
    if (isinstance(raw, float) and raw != value) or value < MIN_RETENTION_MONTHS:
        raise ImproperlyConfigured(
            f"KAISEN_USAGE_RETENTION_MONTHS must be at least {MIN_RETENTION_MONTHS} (the call-detail statement "
            f"offers the last 6 months, published a month later); it is {raw!r}.")
    return value


def oldest_kept_month(today: dt.date | None = None) -> dt.date:
    """The first month kept in the database; every month before it is due for archiving."""
    return add_months(month_start(today or clock.today_jst()), -(retention_months() - 1))


def _month_where(spec: Spec) -> str:
    return f"{spec.column} >= %s AND {spec.column} < %s"


@dataclass(frozen=True)
class Kept:
    """A usage table archived and dropped by month: its name, its date column, the SQL that selects one month's
    rows (two parameters, ``bounds(month)``) and its partitions (PostgreSQL: ``Spec``; None for a plain
    table)."""

    table: str
    column: str
    where: str
    partitions: Spec | None = None

    def bounds(self, month: dt.date) -> list[Any]:
        if self.table == ROW_ERRORS:
            # The month's bounds as instants, Japan time (``UsageFile.imported_at``).
            adapt = connection.ops.adapt_datetimefield_value
            return [adapt(dt.datetime.combine(m, dt.time(0), tzinfo=clock.JST)) for m in (month, add_months(month, 1))]
        return [month, add_months(month, 1)]


ROW_ERRORS = "usage_usagerowerror"
#: What the monthly archive takes, in order: the call records (by billing month) and the daily data usage (by
#: day), the records kept aside for unknown numbers (by the same columns: a call by its billing month, a data
#: row by its day) and the import error reports (``UsageRowError``, by the Japan-time month in which their file
#: was imported: a rejected row may have no readable date at all, and the report is about the import).
KEPT = (
    Kept(CALLS.table, CALLS.column, _month_where(CALLS), CALLS),
    Kept(DATA.table, DATA.column, _month_where(DATA), DATA),
    Kept("usage_unmatchedcall", "billing_month", "billing_month >= %s AND billing_month < %s"),
    Kept("usage_unmatcheddatausage", "day", "day >= %s AND day < %s"),
    Kept(ROW_ERRORS, "imported_at", "source_file_id IN (SELECT f.id FROM usage_usagefile f "
                     "WHERE f.imported_at >= %s AND f.imported_at < %s)"),
)


def stored_months(spec: Spec = CALLS) -> list[dt.date]:
    """The months that have rows in ``spec``'s table, oldest first."""
    with connection.cursor() as cur:
        if spec.table == ROW_ERRORS:  # the months (Japan time) in which files with rejected rows were imported
            cur.execute(f"SELECT f.imported_at FROM usage_usagefile f WHERE EXISTS (SELECT 1 FROM {ROW_ERRORS} e "  # noqa: S608
                        f"WHERE e.source_file_id = f.id)")
            return sorted({month_start(_instant(r[0]).astimezone(clock.JST).date()) for r in cur.fetchall()})
        if connection.vendor == "postgresql":
            cur.execute(f"SELECT DISTINCT CAST(date_trunc('month', {spec.column}) AS date) FROM {spec.table}")  # noqa: S608
            return sorted(r[0] for r in cur.fetchall())
        cur.execute(f"SELECT DISTINCT substr({spec.column}, 1, 7) FROM {spec.table}")  # noqa: S608
        return sorted(dt.date.fromisoformat(r[0] + "-01") for r in cur.fetchall())


@dataclass
class ArchivedTable:
    table: str
    rows: int
    path: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "file": self.path, "sha256": self.sha256}


class _HashingWriter(io.RawIOBase):
    """A binary file that also feeds every byte written into a SHA-256."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.fh.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _instant(value: Any) -> dt.datetime:
    """A timestamp as the database cursor returns it (SQLite: text in UTC), aware."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _columns(spec: Spec | Kept) -> list[str]:
    with connection.cursor() as cur:
        return [c.name for c in connection.introspection.get_table_description(cur, spec.table)]


def _export(spec: Kept, month: dt.date, raw: Any) -> tuple[int, str, int]:
    """Write the month's rows of ``spec`` to the binary file ``raw`` (gzip CSV with a header); (rows, sha256,
    bytes)."""
    bounds = spec.bounds(month)
    columns = _columns(spec)
    rows = 0
    hashing = _HashingWriter(raw)
    with gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=6, mtime=0) as gz, \
            connection.cursor() as cur:
        if connection.vendor == "postgresql":
            select = cur.mogrify(f"SELECT {', '.join(columns)} FROM {spec.table} "  # noqa: S608
                                 f"WHERE {spec.where} ORDER BY id", bounds)
            with cur.cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
                for block in copy:
                    gz.write(bytes(block))
            cur.execute(f"SELECT COUNT(*) FROM {spec.table} WHERE {spec.where}", bounds)  # noqa: S608
            rows = int(cur.fetchone()[0])
        else:
            text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(columns)
            cur.execute(f"SELECT {', '.join(columns)} FROM {spec.table} "  # noqa: S608
                        f"WHERE {spec.where} ORDER BY id", bounds)
            while batch := cur.fetchmany(10_000):
                writer.writerows(batch)
                rows += len(batch)
            text.flush()
            text.detach()
    raw.flush()
    return rows, hashing.digest.hexdigest(), hashing.size


def archive_rows(path: Path) -> int:
    """How many data rows (header excluded) an archive file on this machine holds."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


class _HashingReader(io.RawIOBase):
    """A stored file read in blocks, every byte also fed into a SHA-256."""

    def __init__(self, opened: files.Opened) -> None:
        self.opened = opened
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.opened.file.read(len(b))
        b[:len(data)] = data
        self.digest.update(data)
        return len(data)


def stored_archive_check(name: str) -> tuple[int, str]:
    """Read a stored archive back from its storage (the local folder or S3): its data rows (header excluded)
    and the SHA-256 of the stored bytes."""
    opened = files.open_stream(files.USAGE_ARCHIVE, name)
    if opened is None:
        raise RuntimeError(f"{files.describe(files.USAGE_ARCHIVE, name)}: the archive was not stored")
    reader = _HashingReader(opened)
    try:
        with gzip.open(io.BufferedReader(reader, files.BLOCK), "rt", encoding="utf-8", newline="") as fh:
            rows = sum(1 for _ in csv.reader(fh)) - 1
        while reader.readinto(bytearray(files.BLOCK)):  # the rest of the bytes, if gzip stopped early
            pass
    finally:
        opened.file.close()
    return rows, reader.digest.hexdigest()


def _has_rows(spec: Kept, month: dt.date) -> bool:
    with connection.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {spec.table} WHERE {spec.where} LIMIT 1", spec.bounds(month))  # noqa: S608
        return cur.fetchone() is not None


def _drop(spec: Kept, month: dt.date) -> None:
    with connection.cursor() as cur:
        if spec.partitions is not None and partitioned():
            name = spec.partitions.name(month)
            cur.execute("SELECT to_regclass(%s)", [name])
            if cur.fetchone()[0] is not None:
                cur.execute(f"ALTER TABLE {spec.table} DETACH PARTITION {name}")
                cur.execute(f"DROP TABLE {name}")
        # SQLite and the plain tables: the month's rows; PostgreSQL partitions: any left in the DEFAULT
        # partition (normally none).
        cur.execute(f"DELETE FROM {spec.table} WHERE {spec.where}", spec.bounds(month))  # noqa: S608
        if spec.table == DATA.table:
            # Marks of late daily data of the month (issue 10 §4): its data is gone, there is nothing left to
            # bill again (a mark left would bill the month's whole overage back as a credit).
            cur.execute(f"DELETE FROM {LateDataUsage._meta.db_table} WHERE usage_month = %s", [month])  # noqa: S608


def usage_archive_month(*, month: dt.date, actor: str, today: dt.date | None = None) -> list[ArchivedTable]:
    """Archive and drop one month of call records and daily data usage (see the module docstring).
    Refuses (409 USAGE_MONTH_RETAINED) a month inside the retention period."""
    month = month_start(month)
    keep_from = oldest_kept_month(today)
    if month >= keep_from:
        raise DomainError(ErrorCode.USAGE_MONTH_RETAINED,
                          _("Usage of %(month)s is kept until it is older than the retention period "
                            "(months before %(oldest)s can be archived).")
                          % {"month": f"{month:%Y-%m}", "oldest": f"{keep_from:%Y-%m}"}, field="month")
    from kaisen.audit.services import audit_record

    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    written: list[str] = []
    done: list[ArchivedTable] = []
    try:
        with transaction.atomic():
            if partitioned():
                with connection.cursor() as cur:  # no writes into the month while it is exported and dropped
                    # Deferred foreign-key checks of rows written earlier in this transaction run now: a
                    # table with pending trigger events cannot be dropped.
                    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    for part in SPECS:
                        cur.execute(f"LOCK TABLE {part.table} IN SHARE ROW EXCLUSIVE MODE")
            for spec in KEPT:
                if spec.partitions is None and not _has_rows(spec, month):
                    continue  # the bookkeeping tables: a file only for a month that has some
                with files.writing(files.USAGE_ARCHIVE, f"{spec.table}-{month:%Y-%m}-{stamp}.csv.gz") as (out, store):
                    rows, sha, size = _export(spec, month, out)
                    name = store()
                written.append(name)
                where = files.describe(files.USAGE_ARCHIVE, name)
                stored_rows, stored_sha = stored_archive_check(name)
                if stored_rows != rows or stored_sha != sha:
                    raise RuntimeError(f"{where}: the stored archive does not hold the month's {rows} rows "
                                       f"(read back: {stored_rows} rows, sha256 {stored_sha})")
                base = name.rsplit("/", 1)[-1]
                with files.writing(files.USAGE_ARCHIVE, name + ".sha256") as (side, store_side):
                    side.write(f"{sha}  {base}\n".encode("ascii"))
                    written.append(store_side())
                _drop(spec, month)
                UsageArchive.objects.create(table=spec.table, month=month, rows=rows, path=where, sha256=sha,
                                            size_bytes=size, archived_at=clock.now(), archived_by=actor[:150])
                done.append(ArchivedTable(table=spec.table, rows=rows, path=where, sha256=sha))
            audit_record(action="usage.archive", actor=actor,
                         changes={"month": [None, f"{month:%Y-%m}"],
                                  **{d.table: [d.rows, 0] for d in done}},
                         reason=", ".join(f"{d.path} sha256 {d.sha256}" for d in done)[:500])
    except BaseException:
        for name in written:
            files.delete(files.USAGE_ARCHIVE, name)
        raise
    return done


def usage_archive_due_months(today: dt.date | None = None) -> list[dt.date]:
    """The months with usage stored that are older than the retention period, oldest first."""
    keep_from = oldest_kept_month(today)
    months = {m for spec in KEPT for m in stored_months(Spec(spec.table, spec.column))}
    return sorted(m for m in months if m < keep_from)


def usage_archive_due() -> int:
    """The scheduler's daily job: archive every month past the retention period. Returns months archived."""
    months = usage_archive_due_months()
    for month in months:
        usage_archive_month(month=month, actor="kaisen scheduler")
    return len(months)
