"""Managing usage alert rules (issue 13 §3), with the permission checks of the pages, API and CLI.

Webhook endpoints are managed through ``kaisen.events.services``; the wrappers here check ``Webhook:manage``
first (events sits below access and does not check permissions itself).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.models import LineTag
from kaisen.access.services import authorize, line_scope
from kaisen.alerts.models import Action, AlertFiring, AlertRule, Condition, RuleScope
from kaisen.audit.services import audit_record
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.events import services as events
from kaisen.events.models import Delivery, DeliveryAttempt, WebhookEndpoint
from kaisen.lines.models import Line

MAX_RULES = 100
#: The largest threshold a condition takes (MB, %, yen, days).
LIMITS: dict[str, Decimal] = {
    Condition.DATA_MONTH_MB: Decimal(10_000_000), Condition.DATA_MONTH_PCT: Decimal(10_000),
    Condition.DATA_DAY_MB: Decimal(10_000_000), Condition.CALLS_MONTH_YEN: Decimal(100_000_000),
    Condition.INTL_MONTH_YEN: Decimal(100_000_000), Condition.NO_TRAFFIC_DAYS: Decimal(365),
}


def _tenant(user: Any) -> Any:
    if getattr(user, "tenant", None) is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return user.tenant


# --- rules ----------------------------------------------------------------------------------------------

def rule_list(*, user: Any) -> list[AlertRule]:
    authorize(user=user, action=actions.ALERT_READ)
    return list(AlertRule.objects.filter(tenant=_tenant(user)).select_related("tag", "line").order_by("id"))


def rule_get(*, user: Any, rule_id: int) -> AlertRule:
    authorize(user=user, action=actions.ALERT_READ)
    rule = AlertRule.objects.filter(tenant=_tenant(user), pk=rule_id).select_related("tag", "line").first()
    if rule is None:
        raise NotFound(_("No such alert rule."))
    return rule


def _clean(*, tenant: Any, user: Any, name: str, scope: str, condition: str, threshold: Any,
           rule_actions: list[str], tag_id: int | None, line_id: int | None) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the rule a name of 1 to 100 characters."),
                          field="name")
    if scope not in RuleScope.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose what the rule applies to."), field="scope")
    if condition not in Condition.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose a condition."), field="condition")
    try:
        value = Decimal(str(threshold))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the threshold as a number."),
                          field="threshold") from exc
    if not value.is_finite() or value <= 0 or value > LIMITS[condition]:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The threshold must be more than 0 and at most %(max)s.")
                          % {"max": f"{LIMITS[condition]:,}"}, field="threshold")
    if condition == Condition.NO_TRAFFIC_DAYS and value != value.to_integral_value():
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the number of days as a whole number."),
                          field="threshold")
    chosen = sorted(set(rule_actions or []))
    if not chosen or any(a not in Action.values for a in chosen):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose at least one action: mail, webhook or suspend."),
                          field="actions")
    if Action.SUSPEND in chosen:
        # The rule suspends as its author: they must hold the suspension permission themselves.
        authorize(user=user, action=actions.LINE_SUSPEND)
    tag = line = None
    if scope == RuleScope.TAG:
        tag = LineTag.objects.filter(tenant=tenant, pk=tag_id).first() if tag_id else None
        if tag is None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose a tag of this account."), field="tag_id")
    if scope == RuleScope.LINE:
        line = (Line.objects.filter(tenant=tenant, pk=line_id).filter(line_scope(user=user)).first()
                if line_id else None)
        if line is None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Choose a line of this account."), field="line_id")
    return {"name": name, "scope": scope, "condition": condition, "threshold": value.quantize(Decimal("0.01")),
            "actions": chosen, "tag": tag, "line": line}


@transaction.atomic
def rule_create(*, user: Any, name: str, scope: str, condition: str, threshold: Any, rule_actions: list[str],
                tag_id: int | None = None, line_id: int | None = None) -> AlertRule:
    authorize(user=user, action=actions.ALERT_MANAGE)
    tenant = _tenant(user)
    if AlertRule.objects.filter(tenant=tenant).count() >= MAX_RULES:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("An account can have at most %(n)d alert rules.")
                          % {"n": MAX_RULES})
    fields = _clean(tenant=tenant, user=user, name=name, scope=scope, condition=condition, threshold=threshold,
                    rule_actions=rule_actions, tag_id=tag_id, line_id=line_id)
    rule = AlertRule.objects.create(tenant=tenant, created_by=user, **fields)
    audit_record(action="alert.rule.create", tenant=tenant, user=user, target=rule,
                 changes={"condition": [None, rule.condition], "threshold": [None, str(rule.threshold)],
                          "actions": [None, rule.actions], "scope": [None, rule.scope]})
    return rule


@transaction.atomic
def rule_set_enabled(*, user: Any, rule_id: int, enabled: bool) -> AlertRule:
    authorize(user=user, action=actions.ALERT_MANAGE)
    rule = rule_get(user=user, rule_id=rule_id)
    if rule.enabled != enabled:
        rule.enabled = enabled
        rule.save(update_fields=["enabled"])
        audit_record(action="alert.rule.update", tenant=rule.tenant, user=user, target=rule,
                     changes={"enabled": [not enabled, enabled]})
    return rule


@transaction.atomic
def rule_delete(*, user: Any, rule_id: int) -> None:
    authorize(user=user, action=actions.ALERT_MANAGE)
    rule = rule_get(user=user, rule_id=rule_id)
    audit_record(action="alert.rule.delete", tenant=rule.tenant, user=user, target=rule,
                 changes={"name": [rule.name, None]})
    rule.delete()


def firing_list(*, user: Any, limit: int = 200, rule_id: int | None = None) -> list[AlertFiring]:
    authorize(user=user, action=actions.ALERT_READ)
    qs = AlertFiring.objects.filter(tenant=_tenant(user)).select_related("line")
    if rule_id is not None:
        qs = qs.filter(rule_id=rule_id)
    return list(qs.order_by("-fired_at", "-id")[:limit])


# --- webhooks (permission-checked wrappers) ----------------------------------------------------------

def endpoint_list(*, user: Any) -> list[WebhookEndpoint]:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.endpoint_list(tenant=_tenant(user))


def endpoint_get(*, user: Any, endpoint_id: int) -> WebhookEndpoint:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.endpoint_get(tenant=_tenant(user), endpoint_id=endpoint_id)


def endpoint_create(*, user: Any, url: str, event_types: list[str], description: str = "") -> WebhookEndpoint:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.endpoint_create(tenant=_tenant(user), user=user, url=url, event_types=event_types,
                                  description=description)


def endpoint_update(*, user: Any, endpoint_id: int, **changes: Any) -> WebhookEndpoint:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.endpoint_update(tenant=_tenant(user), user=user, endpoint_id=endpoint_id, **changes)


def endpoint_delete(*, user: Any, endpoint_id: int) -> None:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    events.endpoint_delete(tenant=_tenant(user), user=user, endpoint_id=endpoint_id)


def endpoint_rotate(*, user: Any, endpoint_id: int, overlap_hours: int = 24) -> WebhookEndpoint:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.endpoint_rotate_secret(tenant=_tenant(user), user=user, endpoint_id=endpoint_id,
                                         overlap=dt.timedelta(hours=overlap_hours))


def endpoint_ping(*, user: Any, endpoint_id: int) -> Delivery:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.endpoint_ping(tenant=_tenant(user), user=user, endpoint_id=endpoint_id)


def delivery_list(*, user: Any, endpoint_id: int, limit: int = 100) -> list[Delivery]:
    endpoint = endpoint_get(user=user, endpoint_id=endpoint_id)
    return list(Delivery.objects.filter(tenant=endpoint.tenant, endpoint=endpoint).select_related("event")
                .order_by("-id")[:limit])


def delivery_attempts(*, user: Any, delivery_id: int) -> tuple[Delivery, list[DeliveryAttempt]]:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    delivery = events.delivery_get(tenant=_tenant(user), delivery_id=delivery_id)
    return delivery, list(delivery.log.order_by("-id")[:50])


def delivery_redeliver(*, user: Any, delivery_id: int) -> Delivery:
    authorize(user=user, action=actions.WEBHOOK_MANAGE)
    return events.delivery_redeliver(tenant=_tenant(user), user=user, delivery_id=delivery_id)
