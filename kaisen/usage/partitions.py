"""Usage storage sized for years (issue 10 §5): monthly partitions on PostgreSQL, one table on SQLite.

On PostgreSQL ``usage_callrecord`` is partitioned by ``billing_month`` and ``usage_datausagedaily`` by
``day``, one partition per month (declarative ``PARTITION BY RANGE``; migration
``0006_usage_partition_by_month``), plus a DEFAULT partition as a safety net for a month whose partition
does not exist yet. A query with the month's predicate (``billing_month = …`` / ``day`` between the month's
first and last day) reads only that month's partition, so loading, rating, closing and exporting a month
cost the same however many months are stored; a month past the retention period is archived and dropped
as a unit (``kaisen.usage.retention``).

Partitions are created ahead of time:

* by the migration, for every month already stored and the months around today;
* by the scheduler's hourly job ``usage_partitions_prepare`` (``kaisen.core.periodic``): the months from
  ``KAISEN_USAGE_PARTITIONS_BEHIND`` before the current one to ``KAISEN_USAGE_PARTITIONS_AHEAD`` after it;
* by the import, for the months of a file's rows before they are moved into the table
  (``usage_partitions_ensure``).

Rows that still land in the DEFAULT partition (a month nobody prepared, e.g. an old file imported after a
restore) are moved into their month's partition when it is created (``_create``), which the hourly job
does for every month found there. SQLite keeps one table; every function here is a no-op on it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from kaisen.core import clock
from kaisen.core.calendar import add_months, month_start

#: pg_advisory_xact_lock key: one partition change at a time across processes (schedulers, imports).
LOCK_KEY = 0x6B61697365_10


@dataclass(frozen=True)
class Spec:
    """One partitioned table: its name and the date column it is partitioned on (by month)."""

    table: str
    column: str

    def name(self, month: dt.date) -> str:
        return f"{self.table}_p{month:%Y%m}"

    @property
    def default(self) -> str:
        return f"{self.table}_default"


CALLS = Spec("usage_callrecord", "billing_month")
DATA = Spec("usage_datausagedaily", "day")
SPECS = (CALLS, DATA)
_NAME = re.compile(r"_p(\d{4})(\d{2})$")


def partitioned() -> bool:
    """True when the usage tables are partitioned: PostgreSQL (after migration 0006)."""
    return connection.vendor == "postgresql"


def usage_partitions(spec: Spec = CALLS) -> list[dt.date]:
    """The months that have a partition of ``spec``'s table, oldest first (empty on SQLite)."""
    if not partitioned():
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [spec.table])
        names = [r[0] for r in cur.fetchall()]
    months = []
    for name in names:
        if m := _NAME.search(name):
            months.append(dt.date(int(m[1]), int(m[2]), 1))
    return sorted(months)


def _create(cur: object, spec: Spec, month: dt.date) -> bool:
    """Create ``spec``'s partition for ``month`` unless it exists. Rows of the month already in the DEFAULT
    partition are moved into it first (attaching the new partition would fail over them otherwise).
    Returns True when a partition was created."""
    month = month_start(month)
    nxt = add_months(month, 1)
    name = spec.name(month)
    execute = cur.execute  # type: ignore[attr-defined]
    fetchone = cur.fetchone  # type: ignore[attr-defined]
    execute("SELECT to_regclass(%s)", [name])
    if fetchone()[0] is not None:
        return False
    bounds = f"FOR VALUES FROM ('{month.isoformat()}') TO ('{nxt.isoformat()}')"
    execute(f"SELECT to_regclass('{spec.default}')")
    default = fetchone()[0] is not None
    stray = False
    where = f"{spec.column} >= %s AND {spec.column} < %s"
    if default:
        execute(f"SELECT EXISTS (SELECT 1 FROM {spec.default} WHERE {where})", [month, nxt])  # noqa: S608
        stray = bool(fetchone()[0])
    if not stray:
        execute(f"CREATE TABLE {name} PARTITION OF {spec.table} {bounds}")
        return True
    execute(f"CREATE TABLE {name} (LIKE {spec.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    execute(f"INSERT INTO {name} SELECT * FROM {spec.default} WHERE {where}", [month, nxt])  # noqa: S608
    execute(f"DELETE FROM {spec.default} WHERE {where}", [month, nxt])  # noqa: S608
    execute(f"ALTER TABLE {spec.table} ATTACH PARTITION {name} {bounds}")
    return True


def usage_partitions_ensure(months: Iterable[dt.date], *, specs: Iterable[Spec] = SPECS) -> int:
    """Create the monthly partitions of ``months`` that do not exist yet (all usage tables by default);
    returns how many were created. No-op on SQLite. Safe to run from several processes at once."""
    wanted = sorted({month_start(m) for m in months})
    if not partitioned() or not wanted:
        return 0
    specs = tuple(specs)
    have = {s: set(usage_partitions(s)) for s in specs}
    missing = [(s, m) for s in specs for m in wanted if m not in have[s]]
    if not missing:
        return 0
    created = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        for spec, month in missing:
            created += _create(cur, spec, month)
    return created


def default_months(spec: Spec) -> list[dt.date]:
    """Months that have rows in ``spec``'s DEFAULT partition (should be none)."""
    if not partitioned():
        return []
    with connection.cursor() as cur:
        cur.execute(f"SELECT to_regclass('{spec.default}')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute(f"SELECT DISTINCT CAST(date_trunc('month', {spec.column}) AS date) "  # noqa: S608
                    f"FROM {spec.default}")
        return sorted(r[0] for r in cur.fetchall())


def usage_partitions_prepare(*, today: dt.date | None = None) -> int:
    """The scheduler's hourly job: partitions for the months from ``KAISEN_USAGE_PARTITIONS_BEHIND`` before
    the current month to ``KAISEN_USAGE_PARTITIONS_AHEAD`` after it, and for every month found in a DEFAULT
    partition (its rows are moved into it). Returns how many partitions were created."""
    if not partitioned():
        return 0
    current = month_start(today or clock.today_jst())
    behind = int(settings.KAISEN_USAGE_PARTITIONS_BEHIND)
    ahead = int(settings.KAISEN_USAGE_PARTITIONS_AHEAD)
    created = usage_partitions_ensure([add_months(current, i) for i in range(-behind, ahead + 1)])
    for spec in SPECS:
        created += usage_partitions_ensure(default_months(spec), specs=[spec])
    return created
