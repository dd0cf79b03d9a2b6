"""Monthly budgets (issue 13 §4): an alert when the month-end projection crosses the budget.

``budgets_check`` (after each usage import and hourly, after rating) compares every budget with the
account's projection (``forecast_for_tenant``); the first time in a month the projection is over, an
``AlertFiring`` (``budget:<coverage>:<month>``, once per month) is written, the account's notification
address gets a mail and a ``usage_alert.fired`` event is written (webhooks subscribed to it get it).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kaisen.alerts.models import AlertFiring, Budget
from kaisen.audit.services import audit_record
from kaisen.billing.forecast import forecast_for_tenant
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.notifications.services import outbox_add

log = logging.getLogger(__name__)

BUDGET_CONDITION = "budget"
MAX_BUDGET = Decimal("999999999999")


def budget_list(*, tenant: Any) -> list[Budget]:
    return list(Budget.objects.filter(tenant=tenant).order_by("coverage"))


@transaction.atomic
def budget_set(*, tenant: Any, user: Any, coverage: str, amount: Any) -> Budget | None:
    """Set (or with an empty amount, remove) the monthly budget of one coverage."""
    if coverage not in Coverage.values:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Unknown coverage '%(value)s'.") % {"value": coverage},
                          field="coverage")
    if coverage not in (tenant.coverages or [Coverage.JAPAN]):
        raise NotFound(_("The tenant has no %(coverage)s coverage.") % {"coverage": Coverage(coverage).label})
    existing = Budget.objects.filter(tenant=tenant, coverage=coverage).first()
    if amount in (None, ""):
        if existing is not None:
            audit_record(action="budget.remove", tenant=tenant, user=user, target=existing,
                         changes={"amount": [str(existing.amount), None]})
            existing.delete()
        return None
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the budget as an amount."), field="amount") from exc
    if not value.is_finite() or value <= 0 or value > MAX_BUDGET:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The budget must be more than 0."), field="amount")
    value = value.quantize(Decimal("0.01"))
    before = str(existing.amount) if existing else None
    budget, _created = Budget.objects.update_or_create(tenant=tenant, coverage=coverage,
                                                       defaults={"amount": value})
    audit_record(action="budget.set", tenant=tenant, user=user, target=budget,
                 changes={"coverage": [None, coverage], "amount": [before, str(value)]})
    return budget


def budgets_check(*, tenant_id: int | None = None, tenants: Any = None) -> int:
    """Alert each budget whose month's projection is over it, once per month. Returns how many alerted.
    ``tenants``: only the budgets of these tenants (IDs, or a query of them: after an import, its tenants)."""
    budgets = Budget.objects.select_related("tenant").order_by("id")
    if tenant_id is not None:
        budgets = budgets.filter(tenant_id=tenant_id)
    if tenants is not None:
        budgets = budgets.filter(tenant_id__in=tenants)
    made = 0
    for budget in budgets:
        try:
            made += _check(budget)
        except Exception:
            log.exception("budget %s could not be checked", budget.pk)
    return made


def _check(budget: Budget) -> int:
    forecast = forecast_for_tenant(tenant_id=budget.tenant_id, coverage=budget.coverage)
    if forecast is None or forecast.projected <= budget.amount:
        return 0
    month = f"{forecast.month:%Y-%m}"
    key = f"budget:{budget.coverage}:{month}"
    if AlertFiring.objects.filter(tenant_id=budget.tenant_id, key=key).exists():
        return 0
    tenant = budget.tenant
    try:
        with transaction.atomic():
            AlertFiring.objects.create(tenant=tenant, rule=None, line=None, key=key, rule_name="budget",
                                       condition=BUDGET_CONDITION, threshold=budget.amount,
                                       value=forecast.projected, period=month, fired_at=clock.now(),
                                       outcome={"mail": "queued", "webhook": "event written"})
            event_emit(tenant_id=tenant.pk, type=catalogue.USAGE_ALERT_FIRED, data={
                "rule_id": None, "rule_name": "budget", "condition": BUDGET_CONDITION,
                "threshold": str(budget.amount), "value": str(forecast.projected), "period": month,
                "line_id": None, "msisdn": None, "actions": ["mail", "webhook"]})
            body = (f"{tenant.legal_name} ご担当者様\n\n"
                    f"{month}の月末見込み額（{forecast.coverage_label}、税抜、見込み）{forecast.projected} "
                    f"{forecast.currency} が予算 {budget.amount} {forecast.currency} を超えました。\n"
                    f"The projected month-end amount for {month} ({forecast.coverage}, tax excluded, a projection) "
                    f"of {forecast.projected} {forecast.currency} is over the budget of {budget.amount} "
                    f"{forecast.currency}.\n")
            outbox_add(tenant=tenant, order=None, topic="budget.over", to=[tenant.notification_email],
                       subject="【Kaisen】月末見込み額が予算を超えました / Projected amount over budget",
                       body=body)
    except IntegrityError:  # another process alerted at the same moment
        return 0
    return 1
