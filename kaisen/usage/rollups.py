"""Keeping ``UsageRollup`` and its day totals (``UsageDayTotal``) up to date, set-wise (issue 10 §4).

One ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` adds the calls of a rated source (the calls the
loader has just stored, or the calls being re-rated) to their rollups: the same statement on PostgreSQL and
SQLite. Callers pass a source whose rows carry the columns of ``CallRecord`` plus ``bill_tenant_id``,
``coverage`` and ``flat_rate_free`` (``hooks.CallRating.rated_select``).
"""

from __future__ import annotations

from django.db import connection

from kaisen.usage.models import UsageDayTotal, UsageRollup

#: The unique key of a rollup (``usagerollup_key``), in the order of the constraint.
KEY = ("line_id", "billing_month", "usage_month", "day", "call_type", "msisdn", "tenant_id", "coverage",
       "flat_rate_free")
SUMS = ("calls", "units", "duration_ds", "charge", "unrated")
#: The unique key of a day total (``usagedaytotal_key``): the rollups summed over lines and call types.
DAY_KEY = ("tenant_id", "billing_month", "coverage", "day", "flat_rate_free")


def jst_day(column: str) -> str:
    """SQL: the Japan-time date of the timestamp in ``column``."""
    if connection.vendor == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Asia/Tokyo') AS DATE)"
    return f"date({column}, '+9 hours')"


def _late_join(late: str | None) -> tuple[str, str]:
    """(join, billing month SQL) for the calls ``x``: with ``late``, the month that bills them."""
    if not late:
        return "", "x.billing_month"
    return (f" LEFT JOIN {late} m ON m.tenant_id = x.bill_tenant_id AND m.coverage = x.coverage "
            f"AND m.month = x.billing_month", "COALESCE(m.target_month, x.billing_month)")


def _day_conflict() -> str:
    table = UsageDayTotal._meta.db_table
    return (f"ON CONFLICT ({', '.join(DAY_KEY)}) DO UPDATE SET calls = {table}.calls + excluded.calls, "
            f"charge = {table}.charge + excluded.charge")


def day_upsert_sql(source: str, *, charge: str = "x.rated_charge", late: str | None = None) -> str:
    """The statement adding the calls of ``source`` (alias ``x``, as for ``upsert_sql``) to their day totals
    (``UsageDayTotal``): the same calls, grouped by the day total's key only."""
    table = UsageDayTotal._meta.db_table
    join, bill_month = _late_join(late)
    exprs = ["x.bill_tenant_id", bill_month, "x.coverage", jst_day("x.started_at"), "x.flat_rate_free"]
    return (
        f"INSERT INTO {table} ({', '.join(DAY_KEY)}, calls, charge) "  # noqa: S608
        f"SELECT {', '.join(exprs)}, COUNT(*), COALESCE(SUM({charge}), 0) "
        f"FROM {source} x{join} WHERE TRUE GROUP BY {', '.join(exprs)} {_day_conflict()}"
    )


def day_from_rollups_sql(where: str, *, sign: int) -> str:
    """The statement adding (``sign`` 1) or taking off (-1) the rollups matching ``where`` (SQL on the rollup
    table's columns) to or from their day totals: re-rating takes the rollups it deletes off and adds the ones
    it writes again."""
    table, roll = UsageDayTotal._meta.db_table, UsageRollup._meta.db_table
    s = "" if sign > 0 else "-"
    keys = ", ".join(DAY_KEY)
    return (
        f"INSERT INTO {table} ({keys}, calls, charge) "  # noqa: S608
        f"SELECT {keys}, {s}SUM(calls), {s}SUM(charge) FROM {roll} WHERE {where} GROUP BY {keys} {_day_conflict()}"
    )


def upsert_sql(source: str, *, charge: str = "x.rated_charge", late: str | None = None) -> str:
    """The statement adding the calls of ``source`` (alias ``x``) to their rollups. ``charge``: the SQL of a
    call's charge (NULL: not rated). ``late``: a table (tenant_id, coverage, month, target_month) of closed
    months whose late usage is billed in ``target_month`` instead (an adjustment)."""
    table = UsageRollup._meta.db_table
    join, bill_month = _late_join(late)
    day = jst_day("x.started_at")
    groups = [("line_id", "x.line_id"), ("billing_month", bill_month), ("usage_month", "x.billing_month"),
              ("day", day), ("call_type", "x.call_type"), ("msisdn", "x.msisdn"), ("tenant_id", "x.bill_tenant_id"),
              ("coverage", "x.coverage"), ("flat_rate_free", "x.flat_rate_free")]
    cols = [c for c, _ in groups]
    exprs = [e for _, e in groups]
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUMS)
    # PostgreSQL: in the unique key's order (its hash aggregate returns the groups in no order): each upsert's
    # index probe and insert land next to the previous one (issue 10 §6; 7.8 s → 6.6 s for 182,524 rollups
    # into a copy of the table, docs/benchmarks.md "Issue 10 ingest, session 7"). SQLite: no ORDER BY (an A/B
    # of four imports showed no gain there beyond the noise).
    order = " ORDER BY 1, 2, 3, 4" if connection.vendor == "postgresql" else ""
    return (
        f"INSERT INTO {table} ({', '.join(cols)}, currency, {', '.join(SUMS)}) "  # noqa: S608
        f"SELECT {', '.join(exprs)}, CASE WHEN x.coverage = 'global' THEN 'USD' ELSE 'JPY' END, COUNT(*), "
        f"SUM(x.units), SUM(x.duration_ds), COALESCE(SUM({charge}), 0), "
        f"SUM(CASE WHEN {charge} IS NULL THEN 1 ELSE 0 END) "
        f"FROM {source} x{join} WHERE TRUE GROUP BY {', '.join(exprs)}{order} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
    )
