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
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.template.loader import render_to_string

from kaisen.access.models import LineTagging
from kaisen.access.services import procedure_request
from kaisen.alerts.budgets import budgets_check
from kaisen.alerts.models import Action, AlertFiring, AlertRule, Condition, RuleScope
from kaisen.core import clock
from kaisen.core.calendar import last_day_of_month, month_start, previous_month
from kaisen.core.errors import DomainError
from kaisen.events import catalogue
from kaisen.events.services import events_emit
from kaisen.lines.models import Line, LineStatus
from kaisen.notifications.services import outbox_add
from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallRecord, DataUsageDaily, UsageFileKind, UsageRollup

log = logging.getLogger(__name__)

MB = 1024 * 1024
DATA_CONDITIONS = frozenset({Condition.DATA_MONTH_MB, Condition.DATA_MONTH_PCT, Condition.DATA_DAY_MB})
CALL_CONDITIONS = frozenset({Condition.CALLS_MONTH_YEN, Condition.INTL_MONTH_YEN})
MAIL_LINES = 50


@dataclass(frozen=True)
class Hit:
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


def hits(rule: AlertRule, today: dt.date, months: Iterable[dt.date] | None = None) -> list[Hit]:
    """The lines over the rule's threshold now (one query per month, one for all months of call charges),
    whether or not they fired already. ``months``: the months of use to look at (first days; default: the
    current month)."""
    t = rule.threshold
    c = rule.condition
    periods = rule_periods(rule, months if months is not None else [month_start(today)], today)
    if c == Condition.NO_TRAFFIC_DAYS:
        return _quiet(rule, today) if month_start(today) in periods else []
    if not periods:
        return []
    if c in CALL_CONDITIONS:
        return _call_hits(rule, periods)
    found: list[Hit] = []
    for start in periods:
        end = last_day_of_month(start)
        month = f"{start:%Y-%m}"
        data = _scoped(DataUsageDaily.objects.filter(tenant_id=rule.tenant_id, day__gte=start, day__lte=end), rule)
        if c == Condition.DATA_DAY_MB:
            rows = (data.values("line_id", "day").annotate(v=Sum("bytes_used"))
                    .filter(v__gt=int(t * MB)).order_by())
            found += [Hit(r["line_id"], _mb(r["v"]), r["day"].isoformat()) for r in rows]
        elif c == Condition.DATA_MONTH_MB:
            monthly = data.values("line_id").annotate(v=Sum("bytes_used")).order_by()
            found += [Hit(r["line_id"], _mb(r["v"]), month) for r in monthly.filter(v__gt=int(t * MB))]
        else:
            # % of the plan's allowance: used * 100 > threshold * allowance (MB) * MB
            rows = (data.filter(line__plan__data_allowance_mb__gt=0)
                    .values("line_id", "line__plan__data_allowance_mb").annotate(v=Sum("bytes_used"))
                    .filter(v__gt=F("line__plan__data_allowance_mb") * float(t) * MB / 100).order_by())
            found += [Hit(r["line_id"], (Decimal(r["v"]) * 100 / (r["line__plan__data_allowance_mb"] * MB))
                          .quantize(Decimal("0.01")), month) for r in rows]
    return found


def _call_hits(rule: AlertRule, periods: list[dt.date]) -> list[Hit]:
    """Call charges per line and month of use from the rollups: one ``GROUP BY`` over the months' rows of the
    tenant (the ``(tenant, day)`` index: a rollup's day is its calls' start, at most a day before their month
    of use)."""
    first, last = periods[0] - dt.timedelta(days=1), last_day_of_month(periods[-1])
    rollups = _scoped(UsageRollup.objects.filter(tenant_id=rule.tenant_id, day__gte=first, day__lte=last,
                                                 usage_month__in=periods, currency="JPY", flat_rate_free=False),
                      rule)
    if rule.condition == Condition.INTL_MONTH_YEN:
        rollups = rollups.filter(call_type__in=TAX_EXEMPT_CALL_TYPES)
    rows = (rollups.values("line_id", "usage_month").annotate(v=Sum("charge")).filter(v__gt=rule.threshold)
            .order_by())
    return [Hit(r["line_id"], Decimal(r["v"]).quantize(Decimal("0.01")), f"{r['usage_month']:%Y-%m}")
            for r in rows]


def _quiet(rule: AlertRule, today: dt.date) -> list[Hit]:
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
    month = f"{today:%Y-%m}"
    return [Hit(pk, Decimal(days), month) for pk in quiet.values_list("pk", flat=True)]


def _mb(value: int) -> Decimal:
    return (Decimal(value) / MB).quantize(Decimal("0.01"))


def rule_evaluate(rule: AlertRule, *, today: dt.date | None = None,
                  months: Iterable[dt.date] | None = None) -> list[AlertFiring]:
    """Fire ``rule`` for every line over its threshold that has not fired in the period; run the actions.
    ``months``: the months of use to evaluate (default: the current month). Returns the new firings."""
    today = today or clock.today_jst()
    found = hits(rule, today, months)
    if not found:
        return []
    periods = {h.period for h in found}
    fired = set(AlertFiring.objects.filter(tenant_id=rule.tenant_id, rule=rule, period__in=periods)
                .values_list("key", flat=True))
    new = [h for h in found if f"{rule.pk}:{h.line_id}:{h.period}" not in fired]
    if not new:
        return []
    now = clock.now()
    actions = [a for a in rule.actions if a in Action.values]
    # The mail and the events are written in the firings' transaction: their outcome is known before the
    # insert (no UPDATE of every firing afterwards).
    outcome = {**({"webhook": "event written"} if Action.WEBHOOK in actions else {}),
               **({"mail": "queued"} if Action.MAIL in actions else {})}
    with transaction.atomic():
        firings = [AlertFiring(tenant_id=rule.tenant_id, rule=rule, line_id=h.line_id,
                               key=f"{rule.pk}:{h.line_id}:{h.period}", rule_name=rule.name,
                               condition=rule.condition, threshold=rule.threshold, value=h.value, period=h.period,
                               fired_at=now, outcome=dict(outcome))
                   for h in new]
        AlertFiring.objects.bulk_create(firings, ignore_conflicts=True)
        # The rows this evaluation inserted (another one at the same moment inserts none of the same keys),
        # with their lines' numbers: no list of keys or lines sent back.
        firings = list(AlertFiring.objects.filter(tenant_id=rule.tenant_id, rule=rule, fired_at=now)
                       .annotate(msisdn=F("line__msisdn")).order_by("id"))
        numbers: dict[int, str | None] = {f.line_id or 0: f.msisdn for f in firings}  # type: ignore[attr-defined]
        if Action.WEBHOOK in actions:
            events_emit(tenant_id=rule.tenant_id, type=catalogue.USAGE_ALERT_FIRED, items=[
                (firing.line_id, {"rule_id": rule.pk, "rule_name": rule.name, "condition": rule.condition,
                                  "threshold": str(rule.threshold), "value": str(firing.value),
                                  "period": firing.period, "line_id": firing.line_id,
                                  "msisdn": numbers.get(firing.line_id or 0), "actions": actions})
                for firing in firings])
        if Action.MAIL in actions and firings:
            _mail(rule, firings, numbers)
    if Action.SUSPEND in actions:
        current = f"{today:%Y-%m}"
        for firing in firings:
            if firing.period[:7] < current:
                firing.outcome["suspend"] = "not suspended: the period has ended"
            else:
                firing.outcome["suspend"] = _suspend(rule, firing)
            firing.save(update_fields=["outcome"])
    return firings


def _suspend(rule: AlertRule, firing: AlertFiring) -> str:
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


def _mail(rule: AlertRule, firings: list[AlertFiring], numbers: dict[int, str | None]) -> None:
    tenant = rule.tenant
    context = {"tenant": tenant, "rule": rule, "condition": Condition(rule.condition).label, "count": len(firings),
               "rows": [(numbers.get(f.line_id or 0) or f"#{f.line_id}", f.value, f.period)
                        for f in firings[:MAIL_LINES]],
               "more": max(0, len(firings) - MAIL_LINES)}
    body = render_to_string("emails/alerts/fired.txt", context)
    outbox_add(tenant=tenant, order=None, topic="alert.fired", to=[tenant.notification_email],
               subject=f"【Kaisen】利用アラート「{rule.name}」/ Usage alert: {rule.name}"[:200], body=body)


def rules_evaluate(*, kinds: frozenset[str] | None = None, tenant_id: int | None = None,
                   today: dt.date | None = None, months: Iterable[dt.date] | None = None) -> int:
    """Evaluate every enabled rule (of the conditions in ``kinds``) for ``months`` (default: the current
    month and the previous one). Returns how many firings were made."""
    today = today or clock.today_jst()
    chosen = sorted(set(months)) if months is not None else [previous_month(today), month_start(today)]
    rules = AlertRule.objects.filter(enabled=True).select_related("tenant", "created_by").order_by("id")
    if tenant_id is not None:
        rules = rules.filter(tenant_id=tenant_id)
    if kinds is not None:
        rules = rules.filter(condition__in=kinds)
    made = 0
    for rule in rules:
        try:
            made += len(rule_evaluate(rule, today=today, months=chosen))
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
    made = rules_evaluate(kinds=kinds, today=today, months=import_months(usage_file, today))
    budgets_check()
    return made


def quiet_rules_evaluate() -> int:
    """The scheduler's job (``kaisen/core/periodic.py``): every enabled "no traffic for N days" rule of every
    tenant, for the current month. Which lines are quiet changes with the day, not with an import (usage only
    takes a line out of the set), so this runs on a timer; a line fires once per month and rule (the firing's
    key), however often it runs. Returns how many firings were made."""
    return rules_evaluate(kinds=frozenset({Condition.NO_TRAFFIC_DAYS}))
