"""The month-end projection and budgets (issue 13 §4): run rate of the days so far, monthly fees counted once;
a budget alerts once a month when the projection crosses it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from kaisen.alerts.budgets import budget_set, budgets_check
from kaisen.alerts.models import AlertFiring
from kaisen.billing.charges import forecasts_for_user
from kaisen.billing.forecast import forecast_for_tenant, project
from kaisen.billing.models import ChargeCategory, InvoiceStatus
from kaisen.core import clock
from kaisen.core.errors import DomainError, NotFound
from kaisen.events.models import Event
from kaisen.notifications.models import OutboxMessage
from tests.charges.factories import invoice_make, item_make
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


def test_projection_counts_fees_once_and_extends_usage_at_its_run_rate() -> None:
    categories = {ChargeCategory.FEE: Decimal(3000), ChargeCategory.DISCOUNT: Decimal(-500),
                  ChargeCategory.DOMESTIC: Decimal(700), ChargeCategory.DATA: Decimal(300)}
    f = project(categories=categories, coverage="japan", currency="JPY", today=dt.date(2026, 11, 10))
    # 30 days in November, 10 so far: fees 2,500 once + usage 1,000 × 30 / 10.
    assert (f.fixed, f.usage_so_far, f.projected) == (Decimal(2500), Decimal(1000), Decimal(5500))
    assert f.as_dict()["is_projection"] is True
    last = project(categories=categories, coverage="japan", currency="JPY", today=dt.date(2026, 11, 30))
    assert last.projected == Decimal(3500)  # on the last day the projection is what has been used
    usd = project(categories={ChargeCategory.DATA: Decimal("10.00")}, coverage="global", currency="USD",
                  today=dt.date(2026, 11, 3))
    assert usd.projected == Decimal("100.00")


def _month_so_far(world: TenantWorld, *, fee: str, usage: str) -> None:
    invoice = invoice_make(world.tenant, clock.today_jst().replace(day=1), status=InvoiceStatus.ACCUMULATING)
    item_make(invoice, amount=fee, category=ChargeCategory.FEE, line=world.line)
    item_make(invoice, amount=usage, category=ChargeCategory.DOMESTIC, line=world.line, label="通話料")


def test_forecast_for_the_user_and_the_tenant_agree(tenant_a: TenantWorld) -> None:
    _month_so_far(tenant_a, fee="1000", usage="100")
    today = clock.today_jst()
    [japan] = forecasts_for_user(tenant=tenant_a.tenant, user=tenant_a.user)
    expected = project(categories={"fee": Decimal(1000), "domestic": Decimal(100)}, coverage="japan",
                       currency="JPY", today=today).projected
    assert japan.projected == expected
    assert forecast_for_tenant(tenant_id=tenant_a.tenant.pk, coverage="japan").projected == expected


@time_machine.travel(dt.datetime(2026, 11, 10, 12, 0, tzinfo=clock.JST), tick=False)
def test_budget_alerts_once_a_month_when_the_projection_crosses_it(tenant_a: TenantWorld) -> None:
    _month_so_far(tenant_a, fee="1000", usage="100")  # projection: 1,000 + 100 × 30 / 10 = 1,300
    budget_set(tenant=tenant_a.tenant, user=tenant_a.user, coverage="japan", amount="1300")
    assert budgets_check() == 0  # at the budget is not over it
    budget_set(tenant=tenant_a.tenant, user=tenant_a.user, coverage="japan", amount="1299")
    assert budgets_check() == 1
    assert budgets_check() == 0  # once per month
    firing = AlertFiring.objects.get(tenant=tenant_a.tenant)
    assert (firing.value, firing.period, firing.rule_id) == (Decimal(1300), "2026-11", None)
    mail = OutboxMessage.objects.get(tenant=tenant_a.tenant, topic="budget.over")
    assert "1300" in mail.body and "1299" in mail.body
    event = Event.objects.get(tenant=tenant_a.tenant, type="usage_alert.fired")
    assert event.data["condition"] == "budget" and event.data["rule_id"] is None


def test_budget_input_is_checked(tenant_a: TenantWorld) -> None:
    for coverage, amount in (("mars", "100"), ("japan", "-5"), ("japan", "abc"), ("japan", "Infinity"),
                             ("japan", "0")):
        with pytest.raises(DomainError):
            budget_set(tenant=tenant_a.tenant, user=tenant_a.user, coverage=coverage, amount=amount)
    with pytest.raises(NotFound):  # a coverage the account does not hold
        budget_set(tenant=tenant_a.tenant, user=tenant_a.user, coverage="global", amount="100")
    assert budget_set(tenant=tenant_a.tenant, user=tenant_a.user, coverage="japan", amount="5000").amount == 5000
    assert budget_set(tenant=tenant_a.tenant, user=tenant_a.user, coverage="japan", amount="") is None
