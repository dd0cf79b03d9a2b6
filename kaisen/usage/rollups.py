"""Keeping ``UsageRollup`` up to date, set-wise (issue 10 §4).

One ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` adds the calls of a rated source (the calls the
loader has just stored, or the calls being re-rated) to their rollups: the same statement on PostgreSQL and
SQLite. Callers pass a source whose rows carry the columns of ``CallRecord`` plus ``bill_tenant_id``,
``coverage`` and ``flat_rate_free`` (``hooks.CallRating.rated_select``).
"""

from __future__ import annotations

from django.db import connection

from kaisen.usage.models import UsageRollup

#: The unique key of a rollup (``usagerollup_key``), in the order of the constraint.
KEY = ("line_id", "billing_month", "usage_month", "day", "call_type", "msisdn", "tenant_id", "coverage",
       "flat_rate_free")
SUMS = ("calls", "units", "duration_ds", "charge", "unrated")


def jst_day(column: str) -> str:
    """SQL: the Japan-time date of the timestamp in ``column``."""
    if connection.vendor == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Asia/Tokyo') AS DATE)"
    return f"date({column}, '+9 hours')"


def upsert_sql(source: str, *, charge: str = "x.rated_charge", late: str | None = None) -> str:
    """The statement adding the calls of ``source`` (alias ``x``) to their rollups. ``charge``: the SQL of a
    call's charge (NULL: not rated). ``late``: a table (tenant_id, coverage, month, target_month) of closed
    months whose late usage is billed in ``target_month`` instead (an adjustment)."""
    table = UsageRollup._meta.db_table
    bill_month = "x.billing_month"
    join = ""
    if late:
        join = (f" LEFT JOIN {late} m ON m.tenant_id = x.bill_tenant_id AND m.coverage = x.coverage "
                f"AND m.month = x.billing_month")
        bill_month = "COALESCE(m.target_month, x.billing_month)"
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
