"""Evaluating usage alert rules (issue 13 §3): set-wise, once per period per line, with a kept history.

After a usage import (``kaisen.usage.hooks``) every enabled rule of the relevant kind is evaluated with one
aggregate query per period, not line by line; "no traffic for N days" hourly by the scheduler instead
(``quiet_rules_evaluate``: a quiet line is not in any import). The lines over the threshold that have no
firing of this rule for the period yet get an ``AlertFiring`` (unique per tenant and ``rule:line:period``),
then the rule's actions run:

- ``mail``: one mail per rule and evaluation to the account's notification address, listing the lines;
- ``webhook``: a ``usage_alert.fired`` event per firing, written with the firing (the outbox);
- ``suspend``: a suspension through the ordinary procedure path (``access.services.procedure_request``) as the
  user who made the rule — reception hours, that user's permissions and line scope, approval policies and
  the audit log apply; a refusal is recorded on the firing, not retried. Only for the current period: a
  firing for a month that has ended (late usage) does not suspend the line — the month's usage cannot be
  limited any more — and says so in its outcome.

Periods (docs/events.md "Which month an alert is about"): the month of use (``YYYY-MM``) for the monthly
conditions and "no traffic"; the day (``YYYY-MM-DD``) for "one day's data". An import is evaluated for the
current month and, when the file carries usage of the previous month (late usage: the last day's calls
arrive on the 1st), for the previous month too — each firing in the period the usage belongs to, once. A
month is watched by a rule from the month the rule was made in on (a new rule never fires for a month that
ended before it existed). Usage older than the previous month fires nothing (it is billed as an adjustment).

Sources: data in MB of 1,048,576 bytes (``DataUsageDaily``, as the usage pages show it); call charges from
the rollups (``usage.UsageRollup``, line × JST day × call type, written rated by the import): the rated
standard-rate charges in yen of the calls of that month of use (``usage_month``), without the calls the
line's flat-rate calling makes free (they are not charged); calls without a rate count 0.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string

from kaisen.access.models import LineTagging
from kaisen.access.services import procedure_request
from kaisen.alerts.budgets import budgets_check
from kaisen.alerts.models import Action, AlertFiring, AlertRule, Condition, RuleScope
from kaisen.core import clock
from kaisen.core.calendar import last_day_of_month, month_start, previous_month
from kaisen.core.errors import DomainError
from kaisen.events import catalogue
from kaisen.events.services import events_emit_select
from kaisen.lines.models import Line, LineStatus
from kaisen.notifications.services import outbox_add
from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallRecord, DataUsageDaily, UsageFileKind, UsageRollup

log = logging.getLogger(__name__)

MB = 1024 * 1024
DATA_CONDITIONS = frozenset({Condition.DATA_MONTH_MB, Condition.DATA_MONTH_PCT, Condition.DATA_DAY_MB})
CALL_CONDITIONS = frozenset({Condition.CALLS_MONTH_YEN, Condition.INTL_MONTH_YEN})
MAIL_LINES = 50


@dataclass(frozen=True)
class HitQuery:
    """The lines over a rule's threshold in one query: ``qs`` selects ``lid`` (the line), ``v`` (the measure),
    and ``p`` (the date of the period) or ``a`` (the allowance) where the period or value needs them;
    ``value`` and ``period`` are the SQL of the firing's value and period from them (alias ``h``)."""
    qs: QuerySet[Any]
    value: str
    period: str
    value_params: tuple[Any, ...] = ()
    period_params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Fired:
    """A firing an evaluation wrote (a row of its ``INSERT … RETURNING``)."""
    pk: int
    line_id: int
    value: Decimal
    period: str


def _scoped(qs: QuerySet[Any], rule: AlertRule, field: str = "line_id") -> QuerySet[Any]:
    if rule.scope == RuleScope.LINE:
        return qs.filter(**{field: rule.line_id})
    if rule.scope == RuleScope.TAG:
        return qs.filter(**{f"{field}__in": LineTagging.objects.filter(tag_id=rule.tag_id).values("line_id")})
    return qs


def rule_periods(rule: AlertRule, months: Iterable[dt.date], today: dt.date) -> list[dt.date]:
    """The months of ``months`` (first days) the rule watches: not before the month it was made in, not after
    the current one."""
    made = month_start(rule.created_at.astimezone(clock.JST).date()) if rule.created_at else dt.date.min
    current = month_start(today)
    return sorted({m for m in months if made <= m <= current})


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _as_month(column: str) -> str:
    return f"to_char({column}, 'YYYY-MM')" if _pg() else f"substr({column}, 1, 7)"


def _as_day(column: str) -> str:
    return f"to_char({column}, 'YYYY-MM-DD')" if _pg() else f"substr({column}, 1, 10)"


def _mb_sql(column: str) -> str:
    return f"ROUND({column} / {MB}.0, 2)"


def hit_queries(rule: AlertRule, today: dt.date, months: Iterable[dt.date] | None = None,
                lines: str | None = None) -> list[HitQuery]:
    """The queries of the lines over the rule's threshold now (one per month, one for all months of call
    charges), whether or not they fired already. ``months``: the months of use to look at (first days;
    default: the current month). ``lines``: SQL selecting the only lines to look at (an import: the lines
    its file carries usage of), else all the rule's lines."""
    t = rule.threshold
    c = rule.condition
    periods = rule_periods(rule, months if months is not None else [month_start(today)], today)
    if c == Condition.NO_TRAFFIC_DAYS:
        return [_quiet(rule, today)] if month_start(today) in periods else []
    if not periods:
        return []
    only = RawSQL(lines, ()) if lines else None  # noqa: S611 (our own SQL: the file-lines table)
    if c in CALL_CONDITIONS:
        return [_call_hits(rule, periods, only)]
    found: list[HitQuery] = []
    for start in periods:
        end = last_day_of_month(start)
        month = f"{start:%Y-%m}"
        data = _scoped(DataUsageDaily.objects.filter(tenant_id=rule.tenant_id, day__gte=start, day__lte=end), rule)
        if only is not None:
            data = data.filter(line_id__in=only)
        if c == Condition.DATA_DAY_MB:
            qs = (data.values(lid=F("line_id"), p=F("day")).annotate(v=Sum("bytes_used"))
                  .filter(v__gt=int(t * MB)).order_by())
            found.append(HitQuery(qs, _mb_sql("h.v"), _as_day("h.p")))
        elif c == Condition.DATA_MONTH_MB:
            qs = data.values(lid=F("line_id")).annotate(v=Sum("bytes_used")).filter(v__gt=int(t * MB)).order_by()
            found.append(HitQuery(qs, _mb_sql("h.v"), "%s", period_params=(month,)))
        else:
            # % of the plan's allowance: used * 100 > threshold * allowance (MB) * MB
            qs = (data.filter(line__plan__data_allowance_mb__gt=0)
                  .values(lid=F("line_id"), a=F("line__plan__data_allowance_mb")).annotate(v=Sum("bytes_used"))
                  .filter(v__gt=F("a") * float(t) * MB / 100).order_by())
            found.append(HitQuery(qs, f"ROUND(h.v * 100.0 / (h.a * {MB}.0), 2)", "%s", period_params=(month,)))
    return found


def _call_hits(rule: AlertRule, periods: list[dt.date], only: RawSQL | None) -> HitQuery:
    """Call charges per line and month of use from the rollups: one ``GROUP BY`` over the months' rows of the
    tenant (the ``(tenant, day)`` index: a rollup's day is its calls' start, at most a day before their month
    of use); for an import, of its file's lines only (the rollup key's index, which begins with the line and
    the billing month: a month's usage is billed in that month or later)."""
    first, last = periods[0] - dt.timedelta(days=1), last_day_of_month(periods[-1])
    rollups = _scoped(UsageRollup.objects.filter(tenant_id=rule.tenant_id, day__gte=first, day__lte=last,
                                                 billing_month__gte=periods[0], usage_month__in=periods,
                                                 currency="JPY", flat_rate_free=False), rule)
    if only is not None:
        rollups = rollups.filter(line_id__in=only)
    if rule.condition == Condition.INTL_MONTH_YEN:
        rollups = rollups.filter(call_type__in=TAX_EXEMPT_CALL_TYPES)
    qs = (rollups.values(lid=F("line_id"), p=F("usage_month")).annotate(v=Sum("charge"))
          .filter(v__gt=rule.threshold).order_by())
    return HitQuery(qs, "ROUND(h.v, 2)", _as_month("h.p"))


def _quiet(rule: AlertRule, today: dt.date) -> HitQuery:
    """No traffic for N days: active lines in service for N days with no data and no call since."""
    days = int(rule.threshold)
    since = today - dt.timedelta(days=days - 1)
    since_at = dt.datetime.combine(since, dt.time(0), tzinfo=clock.JST)
    lines = _scoped(Line.objects.filter(tenant_id=rule.tenant_id, status=LineStatus.ACTIVE)
                    .filter(Q(started_on__isnull=True) | Q(started_on__lt=since)), rule, field="id")
    quiet = (lines.exclude(Exists(DataUsageDaily.objects.filter(line_id=OuterRef("pk"), day__gte=since,
                                                                bytes_used__gt=0)))
             # A call started since ``since`` ends (is billed) in that month or later: only those months'
             # partitions are read (PostgreSQL), not every month's index once per line.
             .exclude(Exists(CallRecord.objects.filter(line_id=OuterRef("pk"), billing_month__gte=month_start(since),
                                                       started_at__gte=since_at))))
    return HitQuery(quiet.values(lid=F("pk")).order_by(), _param("NUMERIC"), "%s", value_params=(days,),
                    period_params=(f"{today:%Y-%m}",))


def _param(sql_type: str) -> str:
    """A parameter typed for PostgreSQL (in a SELECT list its type is not taken from the target column)."""
    return f"CAST(%s AS {sql_type})" if _pg() else "%s"


def _fire(rule: AlertRule, query: HitQuery, *, now: Any, outcome: dict[str, str]) -> list[Fired]:
    """One ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``: a firing for each line of ``query`` that has
    none of this rule in the period yet (the unique ``(tenant, key)``), all in the database."""
    sql, params = query.qs.query.sql_with_params()
    table = AlertFiring._meta.db_table
    key = (f"{_param('TEXT')} || CAST(h.lid AS TEXT) || ':' || ({query.period})")
    insert = (
        f'INSERT INTO {table} (tenant_id, rule_id, line_id, "key", rule_name, condition, threshold, value, '  # noqa: S608
        f"period, fired_at, outcome) SELECT {_param('BIGINT')}, {_param('BIGINT')}, h.lid, {key}, "
        f"{_param('TEXT')}, {_param('TEXT')}, {_param('NUMERIC')}, {query.value}, {query.period}, "
        f"{_param('TIMESTAMPTZ')}, {_param('JSONB')} FROM ({sql}) h WHERE TRUE "
        f'ON CONFLICT (tenant_id, "key") DO NOTHING RETURNING id, line_id, value, period')
    args = [rule.tenant_id, rule.pk, f"{rule.pk}:", *query.period_params, rule.name, rule.condition,
            str(rule.threshold), *query.value_params, *query.period_params, now, json.dumps(outcome), *params]
    with connection.cursor() as cur:
        cur.execute(insert, args)
        rows = cur.fetchall()
    return [Fired(pk, line_id, Decimal(str(value)).quantize(Decimal("0.01")), period)
            for pk, line_id, value, period in rows]


def rule_evaluate(rule: AlertRule, *, today: dt.date | None = None, months: Iterable[dt.date] | None = None,
                  lines: str | None = None) -> list[Fired]:
    """Fire ``rule`` for every line over its threshold that has not fired in the period; run the actions.
    ``months``: the months of use to evaluate (default: the current month); ``lines``: SQL of the only lines
    to look at (``hit_queries``). Returns the new firings, in the order written.

    Set-wise: per query of ``hit_queries`` one ``INSERT … SELECT … RETURNING`` of the firings, then for the
    webhook action one of their events and one of their deliveries (``events_emit_select``), for the mail one
    mail; only the suspension is per line (an order each, through the order engine)."""
    today = today or clock.today_jst()
    queries = hit_queries(rule, today, months, lines)
    if not queries:
        return []
    now = clock.now()
    at = connection.ops.adapt_datetimefield_value(now)
    actions = [a for a in rule.actions if a in Action.values]
    # The mail and the events are written in the firings' transaction: their outcome is known before the
    # insert (no UPDATE of every firing afterwards).
    outcome = {**({"webhook": "event written"} if Action.WEBHOOK in actions else {}),
               **({"mail": "queued"} if Action.MAIL in actions else {})}
    with transaction.atomic():
        firings = [f for query in queries for f in _fire(rule, query, now=at, outcome=outcome)]
        if not firings:
            return []
        firings.sort(key=lambda f: f.pk)
        if Action.WEBHOOK in actions:
            _events(rule, actions, firings[0], at=at)
        if Action.MAIL in actions:
            _mail(rule, firings)
    if Action.SUSPEND in actions:
        current = f"{today:%Y-%m}"
        for firing in firings:
            said = ("not suspended: the period has ended" if firing.period[:7] < current
                    else _suspend(rule, firing))
            AlertFiring.objects.filter(pk=firing.pk).update(outcome={**outcome, "suspend": said})
    return firings


def _events(rule: AlertRule, actions: list[str], first: Fired, *, at: Any) -> None:
    """A ``usage_alert.fired`` event per firing this evaluation wrote (the rows of the rule at ``at``), built
    by the database and written with their deliveries set-wise."""
    p = _param
    if _pg():
        data = ("jsonb_build_object('rule_id', {i}, 'rule_name', {t}, 'condition', {t}, 'threshold', {t}, "
                "'value', CAST(f.value AS TEXT), 'period', f.period, 'line_id', f.line_id, 'msisdn', l.msisdn, "
                "'actions', {j})").format(i=p("BIGINT"), t=p("TEXT"), j=p("JSONB"))
    else:
        data = ("json_object('rule_id', %s, 'rule_name', %s, 'condition', %s, 'threshold', %s, "
                "'value', printf('%%.2f', f.value), 'period', f.period, 'line_id', f.line_id, "
                "'msisdn', l.msisdn, 'actions', json(%s))")
    rows = (f"SELECT f.line_id AS line_id, {data} AS data, f.id AS ord FROM {AlertFiring._meta.db_table} f "  # noqa: S608
            f"LEFT JOIN {Line._meta.db_table} l ON l.id = f.line_id "
            f"WHERE f.tenant_id = {p('BIGINT')} AND f.rule_id = {p('BIGINT')} AND f.fired_at = {p('TIMESTAMPTZ')}")
    payload = {"rule_id": rule.pk, "rule_name": rule.name, "condition": rule.condition,
               "threshold": str(rule.threshold), "actions": actions}
    events_emit_select(
        tenant_id=rule.tenant_id, type=catalogue.USAGE_ALERT_FIRED, rows_sql=rows,
        params=[rule.pk, rule.name, rule.condition, str(rule.threshold), json.dumps(actions),
                rule.tenant_id, rule.pk, at],
        sample={**payload, "value": str(first.value), "period": first.period, "line_id": first.line_id,
                "msisdn": None})


def _suspend(rule: AlertRule, firing: Fired) -> str:
    user = rule.created_by
    if user is None or not user.is_active:
        return "refused: the rule's user no longer exists"
    try:
        result = procedure_request(tenant=rule.tenant, user=user, line_id=firing.line_id or 0, kind="suspend",
                                   params={}, idempotency_key=f"alert-{firing.pk}",
                                   reason=f"usage alert {rule.name}")
    except DomainError as exc:
        return f"refused: {exc.code}: {exc.message}"[:200]
    except Exception as exc:  # never let one line stop the others
        log.exception("alert %s: suspension of line %s failed", rule.pk, firing.line_id)
        return f"error: {type(exc).__name__}"
    kind = "approval" if type(result).__name__ == "ApprovalRequest" else "order"
    return f"{kind} {result.pk}"


def _mail(rule: AlertRule, firings: list[Fired]) -> None:
    tenant = rule.tenant
    shown = firings[:MAIL_LINES]
    numbers = dict(Line.objects.filter(pk__in={f.line_id for f in shown}).values_list("pk", "msisdn"))
    context = {"tenant": tenant, "rule": rule, "condition": Condition(rule.condition).label, "count": len(firings),
               "rows": [(numbers.get(f.line_id) or f"#{f.line_id}", f.value, f.period) for f in shown],
               "more": max(0, len(firings) - MAIL_LINES)}
    body = render_to_string("emails/alerts/fired.txt", context)
    outbox_add(tenant=tenant, order=None, topic="alert.fired", to=[tenant.notification_email],
               subject=f"【Kaisen】利用アラート「{rule.name}」/ Usage alert: {rule.name}"[:200], body=body)


def rules_evaluate(*, kinds: frozenset[str] | None = None, tenant_id: int | None = None,
                   today: dt.date | None = None, months: Iterable[dt.date] | None = None,
                   lines: str | None = None) -> int:
    """Evaluate every enabled rule (of the conditions in ``kinds``) for ``months`` (default: the current
    month and the previous one). ``lines``: the table of (tenant_id, line_id) an import carries usage of
    (``file_lines``): only the rules of those tenants, over those lines. Returns how many firings were made."""
    today = today or clock.today_jst()
    chosen = sorted(set(months)) if months is not None else [previous_month(today), month_start(today)]
    rules = AlertRule.objects.filter(enabled=True).select_related("tenant", "created_by").order_by("id")
    if tenant_id is not None:
        rules = rules.filter(tenant_id=tenant_id)
    if kinds is not None:
        rules = rules.filter(condition__in=kinds)
    if lines is not None:
        rules = rules.filter(tenant_id__in=RawSQL(f"SELECT DISTINCT tenant_id FROM {lines}", ()))  # noqa: S608, S611
    made = 0
    for rule in rules:
        only = f"SELECT line_id FROM {lines} WHERE tenant_id = {int(rule.tenant_id)}" if lines else None  # noqa: S608
        try:
            made += len(rule_evaluate(rule, today=today, months=chosen, lines=only))
        except Exception:
            log.exception("alert rule %s could not be evaluated", rule.pk)
    return made


def import_months(usage_file: Any, today: dt.date) -> list[dt.date]:
    """The months of use an import is evaluated for: the current month, and the previous month when the file
    carries usage of it (one indexed look-up: the file's rows of that month)."""
    current, previous = month_start(today), previous_month(today)
    if usage_file.kind == UsageFileKind.DATA:
        late = DataUsageDaily.objects.filter(source_file_id=usage_file.pk, day__gte=previous,
                                             day__lt=current).exists()
    else:
        late = CallRecord.objects.filter(source_file_id=usage_file.pk, billing_month=previous).exists()
    return [previous, current] if late else [current]


def after_usage_import(usage_file: Any) -> int:
    """Registered with ``kaisen.usage.hooks``: the rules a file of this kind can make fire, for the months of
    use it carries (``import_months``). Not "no traffic": a quiet line is by definition not in the file, and
    an import only ever takes lines out of the quiet set — that rule is ``quiet_rules_evaluate``'s, on the
    scheduler."""
    kinds = DATA_CONDITIONS if usage_file.kind == UsageFileKind.DATA else CALL_CONDITIONS
    today = clock.today_jst()
    months = import_months(usage_file, today)
    with file_lines(usage_file, months) as lines:
        made = rules_evaluate(kinds=kinds, today=today, months=months, lines=lines)
        budgets_check(tenants=RawSQL(f"SELECT DISTINCT tenant_id FROM {lines}", ()))  # noqa: S608, S611
    return made


FILE_LINES = "kaisen_alert_file_lines"


@contextmanager
def file_lines(usage_file: Any, months: list[dt.date]) -> Iterator[str]:
    """A temporary table (its name is yielded) of the (tenant_id, line_id) the file carries usage of in
    ``months``: an import's evaluation reads only these lines (a line's month or day changes only by usage
    in the file), so its cost follows the file, not the tenants' lines. One pass over the file's rows (the
    ``source_file`` index; on PostgreSQL only the months' partitions)."""
    if usage_file.kind == UsageFileKind.DATA:
        table, where = DataUsageDaily._meta.db_table, "day >= %s"
        params: list[Any] = [usage_file.pk, months[0]]
    else:
        table, where = CallRecord._meta.db_table, f"billing_month IN ({', '.join(['%s'] * len(months))})"
        params = [usage_file.pk, *months]
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {FILE_LINES}")
        cur.execute(f"CREATE TEMPORARY TABLE {FILE_LINES} AS SELECT DISTINCT tenant_id, line_id FROM {table} "  # noqa: S608
                    f"WHERE source_file_id = %s AND line_id IS NOT NULL AND {where}", params)
        if _pg():
            cur.execute(f"ANALYZE {FILE_LINES}")
    try:
        yield FILE_LINES
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {FILE_LINES}")


def quiet_rules_evaluate() -> int:
    """The scheduler's job (``kaisen/core/periodic.py``): every enabled "no traffic for N days" rule of every
    tenant, for the current month. Which lines are quiet changes with the day, not with an import (usage only
    takes a line out of the set), so this runs on a timer; a line fires once per month and rule (the firing's
    key), however often it runs. Returns how many firings were made."""
    return rules_evaluate(kinds=frozenset({Condition.NO_TRAFFIC_DAYS}))
