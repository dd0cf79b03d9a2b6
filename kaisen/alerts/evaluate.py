"""Evaluating usage alert rules (issue 13 §3): set-wise, once per period per line, with a kept history.

After a usage import (``kaisen.usage.hooks``) every enabled rule of the relevant kind is evaluated with one
aggregate query over the current month (``DataUsageDaily`` or ``CallRecord``), not line by line. The lines
over the threshold that have no firing of this rule for the period yet get an ``AlertFiring`` (unique per
tenant and ``rule:line:period``), then the rule's actions run:

- ``mail``: one mail per rule and evaluation to the account's notification address, listing the lines;
- ``webhook``: a ``usage_alert.fired`` event per firing, written with the firing (the outbox);
- ``suspend``: a suspension through the ordinary procedure path (``access.services.procedure_request``) as the
  user who made the rule — reception hours, that user's permissions and line scope, approval policies and
  the audit log apply; a refusal is recorded on the firing, not retried.

Periods: the month (``YYYY-MM``) for monthly conditions and for "no traffic"; the day (``YYYY-MM-DD``) for
"one day's data". Data is in MB of 1,048,576 bytes (as the usage pages show it); charges are the rated
standard-rate charges of the calls (``CallRecord.charge``, calls not rated yet count 0).
"""

from __future__ import annotations

import datetime as dt
import logging
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
from kaisen.core.calendar import last_day_of_month, month_start
from kaisen.core.errors import DomainError
from kaisen.events import catalogue
from kaisen.events.services import events_emit
from kaisen.lines.models import Line, LineStatus
from kaisen.notifications.services import outbox_add
from kaisen.usage.models import TAX_EXEMPT_CALL_TYPES, CallRecord, DataUsageDaily, UsageFileKind

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


def hits(rule: AlertRule, today: dt.date) -> list[Hit]:
    """The lines over the rule's threshold now (one query), whether or not they fired already."""
    start, end = month_start(today), last_day_of_month(today)
    month = f"{start:%Y-%m}"
    t = rule.threshold
    c = rule.condition
    if c in (Condition.DATA_MONTH_MB, Condition.DATA_MONTH_PCT, Condition.DATA_DAY_MB):
        data = _scoped(DataUsageDaily.objects.filter(tenant_id=rule.tenant_id, day__gte=start, day__lte=end), rule)
        if c == Condition.DATA_DAY_MB:
            rows = (data.values("line_id", "day").annotate(v=Sum("bytes_used")).filter(v__gt=int(t * MB))
                    .order_by())
            return [Hit(r["line_id"], _mb(r["v"]), r["day"].isoformat()) for r in rows]
        monthly = data.values("line_id").annotate(v=Sum("bytes_used")).order_by()
        if c == Condition.DATA_MONTH_MB:
            return [Hit(r["line_id"], _mb(r["v"]), month) for r in monthly.filter(v__gt=int(t * MB))]
        # % of the plan's allowance: used * 100 > threshold * allowance (MB) * MB
        rows = (data.filter(line__plan__data_allowance_mb__gt=0)
                .values("line_id", "line__plan__data_allowance_mb").annotate(v=Sum("bytes_used"))
                .filter(v__gt=F("line__plan__data_allowance_mb") * float(t) * MB / 100).order_by())
        return [Hit(r["line_id"], (Decimal(r["v"]) * 100 / (r["line__plan__data_allowance_mb"] * MB))
                    .quantize(Decimal("0.01")), month) for r in rows]
    if c in CALL_CONDITIONS:
        calls = _scoped(CallRecord.objects.filter(tenant_id=rule.tenant_id, billing_month=start), rule)
        if c == Condition.INTL_MONTH_YEN:
            calls = calls.filter(call_type__in=TAX_EXEMPT_CALL_TYPES)
        rows = calls.values("line_id").annotate(v=Sum("charge")).filter(v__gt=t).order_by()
        return [Hit(r["line_id"], Decimal(r["v"]).quantize(Decimal("0.01")), month) for r in rows]
    # No traffic for N days: active lines in service for N days with no data and no call since.
    days = int(t)
    since = today - dt.timedelta(days=days - 1)
    since_at = dt.datetime.combine(since, dt.time(0), tzinfo=clock.JST)
    lines = _scoped(Line.objects.filter(tenant_id=rule.tenant_id, status=LineStatus.ACTIVE)
                    .filter(Q(started_on__isnull=True) | Q(started_on__lt=since)), rule, field="id")
    quiet = (lines.exclude(Exists(DataUsageDaily.objects.filter(line_id=OuterRef("pk"), day__gte=since,
                                                                bytes_used__gt=0)))
             .exclude(Exists(CallRecord.objects.filter(line_id=OuterRef("pk"), started_at__gte=since_at))))
    return [Hit(pk, Decimal(days), month) for pk in quiet.values_list("pk", flat=True)]


def _mb(value: int) -> Decimal:
    return (Decimal(value) / MB).quantize(Decimal("0.01"))


def rule_evaluate(rule: AlertRule, *, today: dt.date | None = None) -> list[AlertFiring]:
    """Fire ``rule`` for every line over its threshold that has not fired in the period; run the actions.
    Returns the new firings."""
    today = today or clock.today_jst()
    found = hits(rule, today)
    if not found:
        return []
    periods = {h.period for h in found}
    fired = set(AlertFiring.objects.filter(tenant_id=rule.tenant_id, rule=rule, period__in=periods)
                .values_list("key", flat=True))
    new = [h for h in found if f"{rule.pk}:{h.line_id}:{h.period}" not in fired]
    if not new:
        return []
    now = clock.now()
    numbers = dict(Line.objects.filter(pk__in=[h.line_id for h in new]).values_list("pk", "msisdn"))
    actions = [a for a in rule.actions if a in Action.values]
    with transaction.atomic():
        firings = [AlertFiring(tenant_id=rule.tenant_id, rule=rule, line_id=h.line_id,
                               key=f"{rule.pk}:{h.line_id}:{h.period}", rule_name=rule.name,
                               condition=rule.condition, threshold=rule.threshold, value=h.value, period=h.period,
                               fired_at=now, outcome={})
                   for h in new]
        AlertFiring.objects.bulk_create(firings, ignore_conflicts=True)
        firings = list(AlertFiring.objects.filter(tenant_id=rule.tenant_id,
                                                  key__in=[f.key for f in firings], fired_at=now))
        if Action.WEBHOOK in actions:
            events_emit(tenant_id=rule.tenant_id, type=catalogue.USAGE_ALERT_FIRED, items=[
                (firing.line_id, {"rule_id": rule.pk, "rule_name": rule.name, "condition": rule.condition,
                                  "threshold": str(rule.threshold), "value": str(firing.value),
                                  "period": firing.period, "line_id": firing.line_id,
                                  "msisdn": numbers.get(firing.line_id or 0), "actions": actions})
                for firing in firings])
            for firing in firings:
                firing.outcome["webhook"] = "event written"
        if Action.MAIL in actions and firings:
            _mail(rule, firings, numbers)
            for firing in firings:
                firing.outcome["mail"] = "queued"
        AlertFiring.objects.bulk_update(firings, ["outcome"])
    if Action.SUSPEND in actions:
        for firing in firings:
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
                   today: dt.date | None = None) -> int:
    """Evaluate every enabled rule (of the conditions in ``kinds``). Returns how many firings were made."""
    rules = AlertRule.objects.filter(enabled=True).select_related("tenant", "created_by").order_by("id")
    if tenant_id is not None:
        rules = rules.filter(tenant_id=tenant_id)
    if kinds is not None:
        rules = rules.filter(condition__in=kinds)
    made = 0
    for rule in rules:
        try:
            made += len(rule_evaluate(rule, today=today))
        except Exception:
            log.exception("alert rule %s could not be evaluated", rule.pk)
    return made


def after_usage_import(usage_file: Any) -> int:
    """Registered with ``kaisen.usage.hooks``: the rules a file of this kind can make fire."""
    if usage_file.kind == UsageFileKind.DATA:
        kinds = frozenset({*DATA_CONDITIONS, Condition.NO_TRAFFIC_DAYS})
    else:
        kinds = frozenset({*CALL_CONDITIONS, Condition.NO_TRAFFIC_DAYS})
    made = rules_evaluate(kinds=kinds)
    budgets_check()
    return made
