"""Rating: from usage records and the line inventory to invoice items, set-wise in the database
(issue 4 §2; K-4, M-DL-1..3, M-PROC-1, S-BILL-4).

Every statement here works on one tenant, one coverage and one month at a time and touches no other
tenant's rows (every ``WHERE`` starts with the tenant). Nothing is computed row by row in Python: call
charges are one ``UPDATE … FROM``, the items are a handful of ``INSERT … SELECT … GROUP BY``. The SQL is
written once, here, and runs on SQLite (≥ 3.33, for ``UPDATE … FROM``) and PostgreSQL; the only dialect
difference is how a JSON key of ``LinePeriod.voice_options`` is read (``_json_true``).

What is billed for a month (decided from the seeds, see docs/billing.md "Rating"):

* **Lines** (issue 10 §3), from the line history (``LinePeriod``), never the line's current columns: a line
  is billed for a month when it was in service (``active`` or ``suspended``: charges continue while
  suspended, M-PROC-1) at some moment of it; the month's fees, data allowance and cap follow its *last
  in-service interval of the month* (``_month_states``), billed to that interval's tenant. The full monthly
  fee, **no pro-rata**: the seed's invoice detail (M-DL-1) has one 月額基本料金 row per number and month and
  no daily fraction. Each call follows the interval in force when it started (tenant, plan, flat-rate
  calling; ``_at_start``).
* **Tariff versions** (issue 10 §2-§3, ``kaisen.billing.versions``): a call uses the call rate and plan fee
  versions in force at its Japan-time start; a month's monthly fees use the versions in force on its 1st.
* **Base fee**: the plan fee version's ``jpy_monthly_fee`` (``Plan.monthly_fee`` for a plan without one) for
  Japan, lowered to the ``LongTermRate`` of a committed term covering the month (S-BILL-4);
  ``PlanTariff.usd_monthly_fee`` for Global.
* **Universal service fee** per number (Japan), **option fees** summed per number as 付加機能使用料.
* **Calls**: ``CallRecord.charge`` = started units × rate (``ceil(duration / unit) × rate``; per count for
  SMS and directory assistance), the standard-rate charge M-DL-3 prints. A call is billed in its
  ``billing_month`` (the month its end falls in, set at import: a call spanning a month end is billed in
  the next month, K-4). Items group the charges per number and call type. Calls of a type covered by
  flat-rate calling are free on the invoice of a line that has it (its call detail keeps the standard
  rate, as M-DL-3 says it may differ from the bill).
* **Data overage**: bytes beyond the plan's allowance in started units (``FeeRate.unit_mb``; 1 MB =
  1,048,576 bytes) × the unit price; none on an unlimited plan or a line with a data cap (the cap stops
  the traffic instead).
* **Late usage** (issue 10 §4): calls and daily data of a month already closed are billed in the next open
  month of the tenant and coverage as adjustment items (``…（YYYY-MM分調整）``, ``InvoiceItem.usage_month``):
  calls from their rollups (``late_targets``), data as the difference of that month's overage
  (``_insert_late_data``). A closed invoice never changes.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum

from kaisen.billing import tariffs
from kaisen.billing.models import (
    CallRate,
    ChargeCategory,
    Currency,
    FeeRate,
    Invoice,
    InvoiceCategoryTotal,
    InvoiceItem,
    InvoiceStatus,
    LongTermDiscount,
    LongTermRate,
    PlanTariff,
    TaxClass,
)
from kaisen.billing.tax import TaxSummary, compute_tax
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.bulksql import bulk_statement_settings
from kaisen.core.calendar import first_of_next_month, last_day_of_month, month_start
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import Line, LinePeriod, Plan
from kaisen.tenancy.models import Tenant
from kaisen.usage import rollups
from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallRecord, DataUsageDaily, LateDataUsage, UsageRollup

MB = 1024 * 1024
#: The statuses of a line-history interval in which the line is in service: its monthly fees are billed.
IN_SERVICE_STATUSES = ("active", "suspended")


def currency_of(coverage: str) -> str:
    return Currency.USD if coverage == Coverage.GLOBAL else Currency.JPY


@dataclass
class RatingResult:
    invoice: Invoice
    calls_rated: int
    items: int
    unrated_calls: int
    summary: TaxSummary


def _t() -> dict[str, str]:
    """Table names, from the models (never spelled by hand)."""
    return {
        "cdr": CallRecord._meta.db_table, "line": Line._meta.db_table, "plan": Plan._meta.db_table,
        "rate": CallRate._meta.db_table, "fee": FeeRate._meta.db_table, "ptariff": PlanTariff._meta.db_table,
        "ltd": LongTermDiscount._meta.db_table, "ltr": LongTermRate._meta.db_table,
        "item": InvoiceItem._meta.db_table, "data": DataUsageDaily._meta.db_table,
        "invoice": Invoice._meta.db_table, "period": LinePeriod._meta.db_table,
    }


def _json_true(column: str, key: str) -> str:
    """SQL that is true when the JSON object in ``column`` has ``key`` set to ``true``."""
    if connection.vendor == "postgresql":
        return f"COALESCE(({column} ->> '{key}') = 'true', FALSE)"
    return f"COALESCE(json_extract({column}, '$.{key}') = 1, FALSE)"


def _fee(code: str, plan_col: str = "p.id", column: str = "amount") -> str:
    """The fee ``code`` for the plan in ``plan_col`` in force on the month's first day (issue 10 §2): the
    plan's own newest version valid from then or earlier, else the coverage default's."""
    t = _t()
    return (f"(SELECT f.{column} FROM {t['fee']} f WHERE f.coverage = %(cov)s AND f.code = '{code}' "  # noqa: S608
            f"AND (f.plan_id = {plan_col} OR f.plan_id IS NULL) AND f.valid_from <= %(start)s "
            f"ORDER BY f.plan_id IS NULL, f.valid_from DESC LIMIT 1)")


def _jst_day(column: str) -> str:
    """SQL for the Japan-time date of the timestamp in ``column`` (a call's start), comparable with
    ``valid_from``. SQLite keeps timestamps as UTC text; PostgreSQL as ``timestamptz``."""
    if connection.vendor == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Asia/Tokyo') AS DATE)"
    return f"date({column}, '+9 hours')"


def _version(table: str, alias: str, keys: dict[str, str], day: str) -> str:
    """Join condition: ``alias`` (a row of the versioned price ``table``) is the version in force on ``day``
    (SQL date) of the price whose key columns equal ``keys`` (column → SQL): the greatest ``valid_from`` on
    or before the day. A correlated ``MAX`` over the key's few versions, answered from the unique index
    (key…, valid_from)."""
    match = " AND ".join(f"{alias}.{col} = {sql}" for col, sql in keys.items())
    inner = " AND ".join(f"w.{col} = {sql}" for col, sql in keys.items())
    return (f"{match} AND {alias}.valid_from = (SELECT MAX(w.valid_from) FROM {table} w "  # noqa: S608
            f"WHERE {inner} AND w.valid_from <= {day})")


def _spans(table: str, keys: tuple[str, ...]) -> str:
    """``table`` with each version's ``valid_to``: the ``valid_from`` of the next version of the same ``keys``
    (NULL for the newest). A version is in force on a day when ``valid_from`` ≤ day < ``valid_to``: the same
    version ``_version`` picks (the greatest ``valid_from`` on or before the day), but as a range a join can
    test set-wise — one pass over the few versions instead of a lookup per row (issue 10 benchmarks)."""
    part = ", ".join(f"v.{k}" for k in keys)
    return (f"(SELECT v.*, LEAD(v.valid_from) OVER (PARTITION BY {part} ORDER BY v.valid_from) AS valid_to "  # noqa: S608
            f"FROM {table} v)")


def _in_span(alias: str, keys: dict[str, str], day: str) -> str:
    """Join condition on a ``_spans`` row ``alias``: its keys equal ``keys`` (column → SQL) and it is in force
    on ``day`` (SQL date)."""
    match = " AND ".join(f"{alias}.{col} = {sql}" for col, sql in keys.items())
    return f"{match} AND {alias}.valid_from <= {day} AND ({alias}.valid_to IS NULL OR {day} < {alias}.valid_to)"


def _rate_on_day(alias: str, roll: str) -> str:
    """``<table> <alias> ON <condition>``: the call rate version in force on the day of the rollup ``roll``.
    PostgreSQL: a hash join on the versions' spans (``_spans``; the correlated ``MAX`` ran once per rollup
    there, 2.7 s of a 4.5 s statement for 133,848 rollups). SQLite: the correlated lookup through the unique
    index, which keeps its rollups-first plan (with the spans' derived table, the close took 3.7 s instead of
    about 1 s on SQLite at 200,000 calls; that plan was not analysed further)."""
    keys = {"coverage": f"{roll}.coverage", "call_type": f"{roll}.call_type"}
    rate = _t()["rate"]
    if connection.vendor == "postgresql":
        return f"{_spans(rate, tuple(keys))} {alias} ON {_in_span(alias, keys, f'{roll}.day')}"
    return f"{rate} {alias} ON {_version(rate, alias, keys, f'{roll}.day')}"


def _timeline(table: str, keys: tuple[str, ...]) -> str:
    """PostgreSQL: ``table`` with each version's span as instants — ``from_ts`` (Japan-time midnight of
    ``valid_from``) and ``to_ts`` (that of the next version of the same ``keys``; NULL for the newest) — so a
    call joins its version with a hash join and a range test on its start, no per-call subquery."""
    part = ", ".join(f"v.{k}" for k in keys)
    nxt = f"LEAD(v.valid_from) OVER (PARTITION BY {part} ORDER BY v.valid_from)"
    return (f"(SELECT v.*, (CAST(v.valid_from AS TIMESTAMP) AT TIME ZONE 'Asia/Tokyo') AS from_ts, "  # noqa: S608
            f"(CAST({nxt} AS TIMESTAMP) AT TIME ZONE 'Asia/Tokyo') AS to_ts FROM {table} v)")


def _at_call(table: str, alias: str, keys: dict[str, str], call: str) -> tuple[str, str]:
    """(table SQL, condition): ``alias`` is the version of ``table`` in force at the Japan-time start date of
    the call ``call`` (issue 10 §3). The same rule both ways, each written for its planner: SQLite looks the
    version up per call through the unique index (it keeps the calls-first plan); PostgreSQL hash-joins the
    versions' spans (a per-call subquery would run once per call there)."""
    if connection.vendor == "postgresql":
        match = " AND ".join(f"{alias}.{col} = {sql}" for col, sql in keys.items())
        return (_timeline(table, tuple(keys)), f"{match} AND {alias}.from_ts <= {call}.started_at "
                                               f"AND ({alias}.to_ts IS NULL OR {call}.started_at < {alias}.to_ts)")
    return table, _version(table, alias, keys, _jst_day(f"{call}.started_at"))


def _call_rate_at(alias: str, call: str) -> tuple[str, str]:
    return _at_call(_t()["rate"], alias, {"coverage": "p.coverage", "call_type": f"{call}.call_type"}, call)


def _plan_tariff_in_force(alias: str, day: str) -> str:
    return _version(_t()["ptariff"], alias, {"plan_id": "p.id"}, day)


def _overlaps(alias: str) -> str:
    """The line-history interval ``alias`` overlaps the month [``%(mfrom)s``, ``%(mto)s``) (Japan time)."""
    return f"{alias}.valid_from < %(mto)s AND ({alias}.valid_to IS NULL OR {alias}.valid_to > %(mfrom)s)"


def _month_states() -> str:
    """Derived table: the deciding state of each line billed to the tenant in the month (issue 10 §3).

    A line's deciding state is its **last in-service interval of the month**: of its line-history intervals
    overlapping the month (Japan time) whose status is active or suspended, the one that starts last
    (``ROW_NUMBER() OVER (PARTITION BY line ORDER BY valid_from DESC)``). The line is billed to the tenant
    and coverage of that interval, with its plan, voice options, data cap and number. Columns: tenant_id,
    line_id, plan_id, msisdn, voice_options, data_cap_mb. Only lines with an interval of the tenant in the
    month are ranked (the index leads with the tenant); the ranking itself looks at every tenant's
    intervals of those lines, so a line transferred away in the month is billed to its new tenant only.
    """
    t = _t()
    statuses = ", ".join(f"'{s}'" for s in IN_SERVICE_STATUSES)
    return (f"(SELECT w.tenant_id, w.line_id, w.plan_id, w.msisdn, w.voice_options, w.data_cap_mb FROM ("  # noqa: S608
            f"SELECT s.tenant_id, s.line_id, s.plan_id, s.msisdn, s.voice_options, s.data_cap_mb, s.coverage, "
            f"ROW_NUMBER() OVER (PARTITION BY s.line_id ORDER BY s.valid_from DESC) AS rn "
            f"FROM {t['period']} s WHERE s.status IN ({statuses}) AND {_overlaps('s')} "
            f"AND s.line_id IN (SELECT o.line_id FROM {t['period']} o WHERE o.tenant_id = %(tenant)s "
            f"AND {_overlaps('o')})) w "
            f"WHERE w.rn = 1 AND w.tenant_id = %(tenant)s AND w.coverage = %(cov)s AND w.msisdn IS NOT NULL)")


def _at_start(period: str, call: str) -> str:
    """Join condition: the line-history interval ``period`` was in force when the call ``call`` started
    (``valid_from`` ≤ start < ``valid_to``; an open interval has no end). A call the carrier reports from
    before the line's history begins (before its start date, or on a line registered later) takes the
    line's first interval: exactly one interval matches every call."""
    t = _t()
    return (f"{period}.line_id = {call}.line_id "  # noqa: S608
            f"AND ({period}.valid_to IS NULL OR {call}.started_at < {period}.valid_to) "
            f"AND ({period}.valid_from <= {call}.started_at OR {period}.valid_from = "
            f"(SELECT MIN(f.valid_from) FROM {t['period']} f WHERE f.line_id = {period}.line_id))")


def _month_params(tenant_id: int, coverage: str, start: dt.date) -> dict[str, Any]:
    """The parameters every statement here reads: tenant, coverage, the month's first and last days and its
    bounds as instants (00:00 JST of the 1st and of the next month's 1st), in the database's format."""
    end = last_day_of_month(start)
    adapt = connection.ops.adapt_datetimefield_value
    return {"tenant": tenant_id, "cov": coverage, "start": start, "end": end,
            "mfrom": adapt(dt.datetime.combine(start, dt.time(0), tzinfo=clock.JST)),
            "mto": adapt(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=clock.JST))}


ITEM_COLUMNS = ("invoice_id, tenant_id, line_id, msisdn, cost_type, label, category, is_voice, quantity, amount, "
                "tax_class, usage_month")
#: The ``usage_month`` of an item that is not an adjustment (typed: PostgreSQL reads a bare NULL of a derived
#: table as text).
NOT_ADJUSTMENT = "CAST(NULL AS DATE)"


def _charge(call: str) -> str:
    """SQL: the standard-rate charge of the call ``call`` at the call rate ``r`` (NULL without one): started
    units × rate (``ceil(duration / unit) × rate``), or count × rate for SMS and directory assistance."""
    return (f"CASE WHEN r.unit_seconds > 0 "
            f"THEN (({call}.duration_ds + r.unit_seconds * 10 - 1) / (r.unit_seconds * 10)) * r.rate "
            f"ELSE {call}.units * r.rate END")


def rated_calls_select(source: str) -> str:
    """``SELECT c.*, rated_charge, bill_tenant_id, coverage, flat_rate_free FROM (source) c …`` (issue 10 §4).

    Each call of ``source`` (columns of ``CallRecord``; at least line_id, tenant_id, started_at, duration_ds,
    units, call_type) joined to the line-history interval in force when it started (``_at_start``: the tenant
    billed, the plan and its coverage, the voice options), the call rate and the plan fee versions in force at
    its start (issue 10 §3). ``rated_charge`` is NULL when no call rate exists for the call's type;
    ``flat_rate_free``: the line's flat-rate calling covers the call (free on the invoice). The loader
    (``usage.ingest``) stores the calls and their rollups from this select in one statement; re-rating reads it
    over the stored calls."""
    t = _t()
    rates, rate_match = _call_rate_at("r", "c")
    pts, pt_match = _at_call(t["ptariff"], "pt", {"plan_id": "p.id"}, "c")
    flat = (f"COALESCE(r.flat_rate_covered AND ({_json_true('l.voice_options', 'flat_rate_calling')} "
            f"OR COALESCE(pt.includes_flat_rate_calling, FALSE)), FALSE)")
    # A line without any history interval (none in the product: every line gets one when registered) is
    # billed to the call's tenant at its current plan's coverage.
    coverage = (f"COALESCE(p.coverage, (SELECT cp.coverage FROM {t['line']} cl JOIN {t['plan']} cp "  # noqa: S608
                f"ON cp.id = cl.plan_id WHERE cl.id = c.line_id))")
    # Rounded to the cent as the charge column keeps it, so a rollup is the sum of its stored charges.
    return (f"SELECT c.*, ROUND({_charge('c')}, 2) AS rated_charge, "  # noqa: S608
            f"COALESCE(l.tenant_id, c.tenant_id) AS bill_tenant_id, "
            f"{coverage} AS coverage, {flat} AS flat_rate_free FROM {source} c "
            f"LEFT JOIN {t['period']} l ON {_at_start('l', 'c')} LEFT JOIN {t['plan']} p ON p.id = l.plan_id "
            f"LEFT JOIN {pts} pt ON {pt_match} LEFT JOIN {rates} r ON {rate_match}")


def late_targets(months: Any) -> list[tuple[int, str, dt.date, dt.date]]:
    """For each closed invoice of one of ``months``: (tenant, coverage, month, the next month of that tenant
    and coverage whose invoice is not closed). Usage of a closed month that arrives late is billed there as an
    adjustment (issue 10 §4)."""
    months = sorted({month_start(m) for m in months})
    if not months:
        return []
    closed = list(Invoice.objects.filter(month__in=months, closed_at__isnull=False)
                  .values_list("tenant_id", "coverage", "month"))
    if not closed:
        return []
    later: dict[tuple[int, str], set[dt.date]] = {}
    for tenant_id, coverage, month in (Invoice.objects.filter(
            tenant_id__in={c[0] for c in closed}, month__gt=min(months), closed_at__isnull=False)
            .values_list("tenant_id", "coverage", "month")):
        later.setdefault((tenant_id, coverage), set()).add(month)
    out = []
    for tenant_id, coverage, month in closed:
        target = first_of_next_month(month)
        while target in later.get((tenant_id, coverage), ()):
            target = first_of_next_month(target)
        out.append((tenant_id, coverage, month, target))
    return out


def closed_months() -> list[dt.date]:
    """The months of which some invoice is closed: their usage is never re-rated (issue 10 §4)."""
    return sorted(set(Invoice.objects.filter(closed_at__isnull=False).values_list("month", flat=True)))


def rerate_calls(*, tenant_id: int | None = None, plan_id: int | None = None, line_ids: list[int] | None = None,
                 since: dt.date | None = None,
                 call_type: str | None = None, months: list[dt.date] | None = None,
                 keep_charges: bool = False, include_closed: bool = False, day_totals: bool = True) -> int:
    """Re-rate the stored calls that a change can affect, and only those (issue 10 §4): the calls of
    ``line_ids`` / of ``call_type`` / started on or after ``since`` (a Japan-time date) / billed in
    ``months`` / of the lines ever of ``tenant_id`` / ever on ``plan_id`` — all given conditions together —
    in months of which no invoice is closed.

    1. one ``UPDATE … FROM`` writes the new charge into the rows whose charge changes (none when
       ``keep_charges``: only the rollups are rebuilt from the stored charges);
    2. their rollups (selected by the same conditions: line, day, call type, month) are deleted and written
       again from the calls in one ``INSERT … SELECT … GROUP BY``; their day totals (``UsageDayTotal``) lose the
       old rollups and gain the new ones (one statement each).

    Adjustments (late usage of a closed month billed in a later one) are never touched. ``include_closed``
    (only with ``keep_charges``: the migration that wrote the first rollups) rebuilds closed months too.
    ``day_totals`` False (only that migration, when the day totals' table does not exist yet: its own migration
    then fills it from the rollups) leaves the day totals alone. Returns the calls whose charge changed."""
    t = _t()
    cdr, roll = t["cdr"], UsageRollup._meta.db_table
    conds_c: list[str] = []
    conds_u: list[str] = [f"{roll}.billing_month = {roll}.usage_month"]
    params_c: list[Any] = []
    params_u: list[Any] = []

    def both(c_sql: str, u_sql: str, values: list[Any]) -> None:
        conds_c.append(c_sql)
        conds_u.append(u_sql)
        params_c.extend(values)
        params_u.extend(values)

    if tenant_id is not None:
        sub = f"SELECT o.line_id FROM {t['period']} o WHERE o.tenant_id = %s"  # noqa: S608
        both(f"c.line_id IN ({sub})", f"{roll}.line_id IN ({sub})", [tenant_id])
    if plan_id is not None:
        sub = f"SELECT o.line_id FROM {t['period']} o WHERE o.plan_id = %s"  # noqa: S608
        both(f"c.line_id IN ({sub})", f"{roll}.line_id IN ({sub})", [plan_id])
    if line_ids is not None:
        if not line_ids:
            return 0
        marks = ", ".join(["%s"] * len(line_ids))
        both(f"c.line_id IN ({marks})", f"{roll}.line_id IN ({marks})", list(line_ids))
    if call_type is not None:
        both("c.call_type = %s", f"{roll}.call_type = %s", [call_type])
    if since is not None:
        start = connection.ops.adapt_datetimefield_value(dt.datetime.combine(since, dt.time(0), tzinfo=clock.JST))
        conds_c.append("c.started_at >= %s")
        params_c.append(start)
        conds_u.append(f"{roll}.day >= %s")
        params_u.append(since)
    if months is not None:
        if not months:
            return 0
        marks = ", ".join(["%s"] * len(months))
        both(f"c.billing_month IN ({marks})", f"{roll}.billing_month IN ({marks})",
             [month_start(m) for m in months])
    closed = [] if include_closed else closed_months()
    if closed:
        marks = ", ".join(["%s"] * len(closed))
        both(f"c.billing_month NOT IN ({marks})", f"{roll}.billing_month NOT IN ({marks})", closed)
    where_c = " AND ".join(conds_c) or "TRUE"
    source = f"(SELECT * FROM {cdr} c WHERE {where_c})"  # noqa: S608
    changed = 0
    # A few lines' re-rating (an applied order) is small: the month-sized settings would cost 5 statements more
    # per order than the statements they tune (tests/procedures/test_order_cost.py).
    month_sized = line_ids is None or len(line_ids) > 100
    with connection.cursor() as cur, (bulk_statement_settings(cur) if month_sized else nullcontext()):
        if not keep_charges:
            distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
            # The tenant follows the line-history interval too (the tenant that held the line at the start).
            # The source's conditions once more on the updated table (true of every row it joins): without them
            # PostgreSQL hash-joined a sequential scan of every call partition to the few calls of one line's
            # re-rating (issue 11 session 7: 78,637 rows read for one call changed); with them it reads the
            # line's calls by index.
            where_t = re.sub(r"\bc\.", f"{cdr}.", where_c)
            cur.execute(f"UPDATE {cdr} SET charge = x.rated_charge, tenant_id = x.bill_tenant_id "  # noqa: S608
                        f"FROM ({rated_calls_select(source)}) x WHERE {cdr}.id = x.id "
                        f"AND ({cdr}.charge {distinct} x.rated_charge OR {cdr}.tenant_id <> x.bill_tenant_id) "
                        f"AND {where_t}",
                        params_c + params_c)
            changed = max(cur.rowcount, 0)
        where_u = " AND ".join(conds_u)
        # The day totals follow the rollups: the ones deleted are taken off, the ones written again added. Every
        # condition is on the rollup's key, so after the upsert the rollups matching them are exactly the new ones.
        if day_totals:
            cur.execute(rollups.day_from_rollups_sql(where_u, sign=-1), params_u)
        cur.execute(f"DELETE FROM {roll} WHERE {where_u}", params_u)  # noqa: S608
        cur.execute(rollups.upsert_sql(f"({rated_calls_select(source)})", charge="x.charge"), params_c)
        if day_totals:
            cur.execute(rollups.day_from_rollups_sql(where_u, sign=1), params_u)
    return changed


def rerate_line_history(line_ids: list[int], since: dt.datetime | None) -> None:
    """A change of the lines' history from ``since`` (None: from their first interval): re-rate their calls
    from that Japan-time day in the open months (``lines.history.history_changed``; issue 10 §4)."""
    rerate_calls(line_ids=line_ids, since=since.astimezone(clock.JST).date() if since is not None else None)


def _unrated_calls(*, tenant: Tenant, coverage: str, month: dt.date) -> int:
    """The month's calls billed to the tenant still without a charge (no call rate for their type), from
    the rollups."""
    return int(UsageRollup.objects.filter(tenant=tenant, coverage=coverage, billing_month=month_start(month),
                                          unrated__gt=0)  # the partial index usagerollup_unrated
               .aggregate(n=Sum("unrated"))["n"] or 0)


#: What an invoice item of late usage says after its cost type: "（2026-10分調整）" — the adjustment, in the next
#: open month, of usage that arrived after its own month was closed (issue 10 §4). The labels are the
#: carrier's Japanese cost types (M-DL-1); this one follows them.
ADJUSTMENT_SUFFIX = "分調整"


def _month_text(column: str) -> str:
    """SQL: the date in ``column`` as ``YYYY-MM``."""
    if connection.vendor == "postgresql":
        return f"to_char({column}, 'YYYY-MM')"
    return f"strftime('%%Y-%%m', {column})"


def _insert_items(invoice: Invoice, *, coverage: str, month: dt.date) -> int:
    t = _t()
    start = month_start(month)
    params: dict[str, Any] = {**_month_params(invoice.tenant_id, coverage, start), "inv": invoice.pk}
    # Monthly fees: the deciding state of each billed line — its last in-service line-history interval of the
    # month (``_month_states``) — with the plan fee version in force on the month's first day (issue 10 §2-§3).
    lines_from = (f"FROM {_month_states()} l JOIN {t['plan']} p ON p.id = l.plan_id "
                  f"LEFT JOIN {t['ptariff']} pt ON {_plan_tariff_in_force('pt', '%(start)s')}")
    if coverage == Coverage.GLOBAL:
        base_amount = "pt.usd_monthly_fee"
    else:
        # The committed term names a plan and term through one LongTermRate version; the month bills that
        # plan and term's version in force on its first day.
        base_amount = (f"COALESCE((SELECT MIN(r.monthly_fee) FROM {t['ltd']} d JOIN {t['ltr']} r0 ON r0.id = d.rate_id "  # noqa: S608
                       f"JOIN {t['ltr']} r ON r.plan_id = r0.plan_id AND r.term_months = r0.term_months "
                       f"WHERE d.line_id = l.line_id AND r0.plan_id = l.plan_id AND d.starts_on <= %(start)s "
                       f"AND d.ends_on >= %(start)s AND r.valid_from = (SELECT MAX(r2.valid_from) FROM {t['ltr']} r2 "
                       f"WHERE r2.plan_id = r0.plan_id AND r2.term_months = r0.term_months "
                       f"AND r2.valid_from <= %(start)s)), pt.jpy_monthly_fee, p.monthly_fee)")
    option_amount = " + ".join(
        f"CASE WHEN {_json_true('l.voice_options', code)}"
        + (" AND NOT COALESCE(pt.includes_flat_rate_calling, FALSE)" if code == "flat_rate_calling" else "")
        + f" THEN COALESCE({_fee(code)}, 0) ELSE 0 END"
        for code in ("voicemail", "call_waiting", "flat_rate_calling")
    )
    # Calls: the line-history interval (tenant, plan, voice options), call rate and plan fee versions in
    # force at each call's start (issue 10 §3).
    roll = UsageRollup._meta.db_table
    taxable = TaxClass.TAXABLE_10.value
    fee_cat = ChargeCategory.FEE.value
    exempt_types = ", ".join(f"'{c}'" for c in sorted(TAX_EXEMPT_CALL_TYPES))
    statements = [
        # 月額基本料金 per billed number.
        _select(["%(inv)s", "l.tenant_id", "l.line_id", "l.msisdn", f"'{tariffs.BASE_FEE[0]}'",
                 f"'{tariffs.BASE_FEE[1]}'", f"'{fee_cat}'", "FALSE", "1", base_amount, f"'{taxable}'", NOT_ADJUSTMENT],
                lines_from),
        # ﾕﾆﾊﾞｰｻﾙｻｰﾋﾞｽ料金 per billed number (no row in the catalogue: no item).
        _select(["%(inv)s", "l.tenant_id", "l.line_id", "l.msisdn", f"'{tariffs.UNIVERSAL_SERVICE[0]}'",
                 f"'{tariffs.UNIVERSAL_SERVICE[1]}'", f"'{fee_cat}'", "FALSE", "1", _fee("universal_service"),
                 f"'{taxable}'", NOT_ADJUSTMENT], lines_from),
        # 付加機能使用料: the sum of the number's paid voice options.
        _select(["%(inv)s", "l.tenant_id", "l.line_id", "l.msisdn", f"'{tariffs.OPTION_FEE[0]}'",
                 f"'{tariffs.OPTION_FEE[1]}'", f"'{fee_cat}'", "TRUE", "1", option_amount, f"'{taxable}'",
                 NOT_ADJUSTMENT],
                lines_from),
        # Calls and SMS per number and call type, from the rollups (issue 10 §4): rated when stored, with the
        # line-history interval and tariff versions in force at each call's start; the calls the line's
        # flat-rate calling covers are left out. The labels are those of the call rate version in force on the
        # rollup's day. Late usage of a closed month (usage_month before the billing month) is its own item,
        # labelled as an adjustment of that month.
        # The rollups are summed per number, month of use and call rate version first (narrow keys: the sum
        # of a month's rollups fits in memory), then per item's labels — two versions of a type with the same
        # labels make one item, as before. The version in force on each rollup's day: ``_rate_on_day``.
        _select(["%(inv)s", "%(tenant)s", "g.line_id", "g.msisdn", "r.cost_type",
                 f"CASE WHEN g.usage_month <> %(start)s THEN r.label || '（' || {_month_text('g.usage_month')} "
                 f"|| '{ADJUSTMENT_SUFFIX}）' ELSE r.label END", "r.category", "TRUE", "SUM(g.units)", "SUM(g.charge)",
                 f"CASE WHEN r.call_type IN ({exempt_types}) THEN '{TaxClass.EXEMPT.value}' ELSE '{taxable}' END",
                 "CASE WHEN g.usage_month <> %(start)s THEN g.usage_month END"],
                f"FROM (SELECT u.line_id, u.msisdn, u.usage_month, v.id AS rate_id, SUM(u.units) AS units, "  # noqa: S608
                f"SUM(u.charge) AS charge FROM {roll} u JOIN {_rate_on_day('v', 'u')} "
                f"WHERE u.tenant_id = %(tenant)s AND u.billing_month = %(start)s AND u.coverage = %(cov)s "
                f"AND NOT u.flat_rate_free GROUP BY u.line_id, u.msisdn, u.usage_month, v.id) g "
                f"JOIN {t['rate']} r ON r.id = g.rate_id "
                f"GROUP BY g.line_id, g.msisdn, g.usage_month, r.call_type, r.cost_type, r.label, r.category"),
        # Data beyond the allowance, in started units.
        _select(["%(inv)s", "o.tenant_id", "o.line_id", "o.msisdn", f"'{tariffs.DATA_OVERAGE[0]}'",
                 f"'{tariffs.DATA_OVERAGE[1]}'", f"'{ChargeCategory.DATA.value}'", "FALSE", "o.units",
                 "o.units * o.price", f"'{taxable}'", NOT_ADJUSTMENT], f"FROM {_overage()} o WHERE o.units > 0"),
    ]
    inserted = 0
    with connection.cursor() as cur, bulk_statement_settings(cur):
        for select in statements:
            # Rows without an amount (no catalogue entry) or of zero are never written.
            cur.execute(f"INSERT INTO {t['item']} ({ITEM_COLUMNS}) SELECT {', '.join(_ALIASES)} FROM ({select}) s "  # noqa: S608
                        f"WHERE s.c9 IS NOT NULL AND s.c9 <> 0", params)
            inserted += max(cur.rowcount, 0)
        inserted += _insert_late_data(cur, invoice, coverage=coverage, month=start)
    return inserted


def _overage(extra: str = "") -> str:
    """Derived table: the month's data overage of each line billed to the tenant (``_month_states``), whatever
    its amount — tenant_id, line_id, msisdn, ``units`` (started units beyond the allowance, 0 within it) and
    ``price`` (per unit, the version in force on the month's 1st). None on an unlimited plan, a line with a data
    cap, or without a price. ``extra``: more conditions on the billed lines ``l``."""
    t = _t()
    return (f"(SELECT x.tenant_id, x.line_id, x.msisdn, x.price, CASE WHEN x.used > x.allow_b "  # noqa: S608
            f"THEN (x.used - x.allow_b + x.unit_b - 1) / x.unit_b ELSE 0 END AS units "
            f"FROM (SELECT l.tenant_id, l.line_id, l.msisdn, CAST(SUM(u.bytes_used) AS BIGINT) AS used, "
            f"CAST(MAX(p.data_allowance_mb) AS BIGINT) * {MB} AS allow_b, "
            f"CAST(MAX({_fee('data_overage', column='unit_mb')}) AS BIGINT) * {MB} AS unit_b, "
            f"MAX({_fee('data_overage')}) AS price "
            f"FROM {_month_states()} l JOIN {t['plan']} p ON p.id = l.plan_id "
            f"JOIN {t['data']} u ON u.line_id = l.line_id AND u.day >= %(start)s AND u.day <= %(end)s "
            f"WHERE p.data_allowance_mb IS NOT NULL AND l.data_cap_mb IS NULL {extra} "
            f"GROUP BY l.tenant_id, l.line_id, l.msisdn) x WHERE x.unit_b > 0 AND x.price IS NOT NULL)")


def late_data_months(*, tenant_id: int, coverage: str, month: dt.date) -> list[dt.date]:
    """The closed months of the tenant and coverage whose late daily data (``usage.LateDataUsage``) ``month`` —
    the next month of theirs not closed — bills as an adjustment (issue 10 §4)."""
    marked = LateDataUsage.objects.filter(usage_month__lt=month).values_list("usage_month", flat=True).distinct()
    return sorted(m for t_id, cov, m, target in late_targets(set(marked))
                  if (t_id, cov, target) == (tenant_id, coverage, month))


def _insert_late_data(cur: Any, invoice: Invoice, *, coverage: str, month: dt.date) -> int:
    """Late daily data of closed months, as adjustment items of this month (issue 10 §4): for each closed month
    M it bills (``late_data_months``), the data overage of M recomputed — M's lines, allowance and price, with
    the data as stored now — of the lines whose data of M changed after M was closed, less what the closed
    invoices of the tenant already billed for M (M's own item and earlier adjustments). A carrier's correction
    of a day bills only the difference (a lower value: a credit). Labelled ``データ通信超過料金（M分調整）``; the
    closed invoices never change. One ``INSERT … SELECT`` per month M."""
    t = _t()
    inserted = 0
    for late in late_data_months(tenant_id=invoice.tenant_id, coverage=coverage, month=month):
        params = {**_month_params(invoice.tenant_id, coverage, late), "inv": invoice.pk, "late": late,
                  "late_text": f"{late:%Y-%m}"}
        billed = (f"(SELECT i.line_id, SUM(i.quantity) AS units, SUM(i.amount) AS amount FROM {t['item']} i "  # noqa: S608
                  f"JOIN {t['invoice']} v ON v.id = i.invoice_id WHERE v.tenant_id = %(tenant)s "
                  f"AND v.coverage = %(cov)s AND v.closed_at IS NOT NULL AND i.cost_type = "
                  f"'{tariffs.DATA_OVERAGE[0]}' AND ((v.month = %(late)s AND i.usage_month IS NULL) "
                  f"OR i.usage_month = %(late)s) GROUP BY i.line_id)")
        marked = (f"AND l.line_id IN (SELECT k.line_id FROM {LateDataUsage._meta.db_table} k "  # noqa: S608
                  f"WHERE k.usage_month = %(late)s)")
        select = _select(
            ["%(inv)s", "o.tenant_id", "o.line_id", "o.msisdn", f"'{tariffs.DATA_OVERAGE[0]}'",
             f"'{tariffs.DATA_OVERAGE[1]}（' || %(late_text)s || '{ADJUSTMENT_SUFFIX}）'",
             f"'{ChargeCategory.DATA.value}'", "FALSE", "o.units - COALESCE(b.units, 0)",
             "o.units * o.price - COALESCE(b.amount, 0)", f"'{TaxClass.TAXABLE_10.value}'",
             "CAST(%(late)s AS DATE)" if connection.vendor == "postgresql" else "%(late)s"],
            f"FROM {_overage(marked)} o LEFT JOIN {billed} b ON b.line_id = o.line_id")
        cur.execute(f"INSERT INTO {t['item']} ({ITEM_COLUMNS}) SELECT {', '.join(_ALIASES)} FROM ({select}) s "  # noqa: S608
                    f"WHERE s.c9 IS NOT NULL AND s.c9 <> 0", params)
        inserted += max(cur.rowcount, 0)
    return inserted


def late_data_billed(*, tenant: Tenant, coverage: str, month: dt.date) -> None:
    """At the close of ``month``: its adjustments of late daily data are frozen on its invoice; the marks of the
    lines it adjusted (billed to this tenant and coverage in each month M) are done."""
    table = LateDataUsage._meta.db_table
    with connection.cursor() as cur:
        for late in late_data_months(tenant_id=tenant.pk, coverage=coverage, month=month):
            cur.execute(f"DELETE FROM {table} WHERE usage_month = %(late)s AND line_id IN "  # noqa: S608
                        f"(SELECT l.line_id FROM {_month_states()} l)",
                        {**_month_params(tenant.pk, coverage, late), "late": late})


_ALIASES = [f"s.c{i}" for i in range(12)]


def _select(columns: list[str], tail: str) -> str:
    """``SELECT col AS c0, …, col AS c11 <tail>`` — named columns, so the outer filter can read the amount."""
    assert len(columns) == 12
    return "SELECT " + ", ".join(f"{col} AS c{i}" for i, col in enumerate(columns)) + " " + tail


def _extra_fees(invoice: Invoice, *, coverage: str, month: dt.date) -> list[InvoiceItem]:
    """Account fees other apps add (payments: e.g. the ¥200 convenience-store slip fee, S-PAY-1), through
    ``kaisen.billing.extra_fees`` where they register."""
    from kaisen.billing.extra_fees import providers

    fees = [fee for fn in providers() for fee in fn(tenant=invoice.tenant, coverage=coverage,
                                                    month=month_start(month))]
    out = []
    for fee in fees:
        amount = Decimal(str(fee["amount"]))
        if fee.get("currency", invoice.currency) != invoice.currency:
            converted = _convert(amount, frm=str(fee["currency"]), to=invoice.currency, month=month_start(month))
            if converted is None:
                continue  # no TTS rate yet (provisional only: the close refuses a Global month without it)
            amount = converted
        if amount == 0:
            continue
        out.append(InvoiceItem(invoice=invoice, tenant_id=invoice.tenant_id, line=None, msisdn="",
                               cost_type=str(fee["cost_type"]), label=str(fee["label"]),
                               category=ChargeCategory.FEE, is_voice=False, quantity=Decimal(1), amount=amount,
                               tax_class=str(fee.get("tax_class") or TaxClass.TAXABLE_10)))
    return out


def _convert(amount: Decimal, *, frm: str, to: str, month: dt.date) -> Decimal | None:
    """A yen fee on a USD invoice: divided by the month's TTS rate (the latest earlier one while the month's
    is not entered), rounded down to the cent. ``None`` when no rate exists at all."""
    from kaisen.billing.models import TtsRate
    from kaisen.billing.tax import floor_to

    tts = TtsRate.objects.filter(month__lte=month).order_by("-month").first()
    if tts is None:
        return None
    if frm == Currency.JPY and to == Currency.USD:
        return floor_to(amount / tts.jpy_per_usd, Currency.USD)
    if frm == Currency.USD and to == Currency.JPY:
        return floor_to(amount * tts.jpy_per_usd, Currency.JPY)
    return None


def invoice_tax(invoice: Invoice, *, with_combined: bool = False) -> TaxSummary:
    """Tax of the invoice's current items, summed per tax class in the database, rounded once per rate.
    ``with_combined``: also the items of the member invoices combined into it (S-BILL-5), the figures of a
    combined invoice."""
    t = _t()
    where = "invoice_id = %s"
    params = [invoice.pk]
    if with_combined:
        where += f" OR invoice_id IN (SELECT id FROM {t['invoice']} WHERE combined_into_id = %s)"  # noqa: S608
        params.append(invoice.pk)
    with connection.cursor() as cur:
        cur.execute(f"SELECT tax_class, SUM(amount) FROM {t['item']} WHERE {where} GROUP BY tax_class",  # noqa: S608
                    params)
        sums = [(row[0], Decimal(str(row[1] or 0))) for row in cur.fetchall()]
    return compute_tax(sums, currency=invoice.currency)


def category_totals_write(invoice: Invoice) -> None:
    """The invoice's items summed per category and tax class into ``InvoiceCategoryTotal`` (what the provisional
    charges page and the bills read), replacing the previous sums: two statements, whatever the items. Called
    wherever the items are written (``rate_month``)."""
    table, item = InvoiceCategoryTotal._meta.db_table, _t()["item"]
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE invoice_id = %s", [invoice.pk])  # noqa: S608
        cur.execute(f"INSERT INTO {table} (invoice_id, category, tax_class, amount) "  # noqa: S608
                    f"SELECT invoice_id, category, tax_class, SUM(amount) FROM {item} WHERE invoice_id = %s "
                    f"GROUP BY invoice_id, category, tax_class", [invoice.pk])


def open_invoice(*, tenant: Tenant, coverage: str, month: dt.date) -> Invoice:
    invoice, _ = Invoice.objects.get_or_create(
        tenant=tenant, coverage=coverage, month=month_start(month),
        defaults={"currency": currency_of(coverage), "status": InvoiceStatus.ACCUMULATING})
    return invoice


@transaction.atomic
def rate_month(*, tenant: Tenant, coverage: str, month: dt.date, rerate: bool = False,
               with_extra_fees: bool = True) -> RatingResult:
    """Rate the month and rewrite the tenant's provisional invoice of ``coverage`` (its items and totals).

    Refused on a closed month (its items are frozen): ``INVOICE_CLOSED``.
    """
    if coverage not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, f"unknown coverage {coverage!r}", field="coverage")
    start = month_start(month)
    invoice = open_invoice(tenant=tenant, coverage=coverage, month=start)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.closed_at is not None:
        from django.utils.translation import gettext as _

        raise DomainError(ErrorCode.INVOICE_CLOSED,
                          _("The invoice of %(month)s is closed; its items no longer change.")
                          % {"month": f"{start:%Y-%m}"})
    # Calls are rated when stored and re-rated when a tariff version or a line's history changes (issue 10
    # §4); ``rerate`` re-rates the month's calls of the tenant's lines once more (an operator's repair).
    calls = rerate_calls(tenant_id=tenant.pk, months=[start]) if rerate else 0
    InvoiceItem.objects.filter(invoice=invoice).delete()
    items = _insert_items(invoice, coverage=coverage, month=start)
    if with_extra_fees:
        extra = _extra_fees(invoice, coverage=coverage, month=start)
        InvoiceItem.objects.bulk_create(extra)
        items += len(extra)
    category_totals_write(invoice)
    summary = invoice_tax(invoice)
    invoice.currency = currency_of(coverage)
    invoice.taxable_total = summary.taxable_total
    invoice.tax_total = summary.tax_total
    invoice.exempt_total = summary.exempt_total
    invoice.total = summary.total
    invoice.save(update_fields=["currency", "taxable_total", "tax_total", "exempt_total", "total", "updated_at"])
    unrated = _unrated_calls(tenant=tenant, coverage=coverage, month=start)
    return RatingResult(invoice=invoice, calls_rated=calls, items=items, unrated_calls=unrated, summary=summary)
