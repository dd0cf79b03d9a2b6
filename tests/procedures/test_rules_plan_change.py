"""Plan change / data cap (M-PROC-3): the plan's change rule decides now or the 1st of next month; the
cap only on plans that have one; withdrawal until the day before."""

from __future__ import annotations

import pytest
import time_machine

from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import PlanChangeRule
from kaisen.procedures.models import OrderStatus
from tests.conftest import TenantWorld
from tests.factories import PlanFactory
from tests.procedures.procedure_kit import complete, jst, make_line, preview, submit, topics

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)


def plans(rule: str = PlanChangeRule.UP_NOW_DOWN_NEXT_MONTH):  # type: ignore[no-untyped-def]
    small = PlanFactory(code=f"S-{rule}", data_allowance_mb=1024, change_rule=rule, has_data_cap=True)
    large = PlanFactory(code=f"L-{rule}", data_allowance_mb=10240, change_rule=rule)
    return small, large


@time_machine.travel(NOON, tick=False)
def test_larger_plan_applies_now_m_proc_3(tenant_a: TenantWorld) -> None:
    small, large = plans()
    order = submit(tenant_a, make_line(tenant_a, plan=small), "plan_change", {"plan_code": large.code})
    assert order.due_at == NOON
    assert order.effective_date.isoformat() == "2026-11-24"
    assert order.cancellable_until is None


@time_machine.travel(NOON, tick=False)
def test_smaller_plan_applies_next_month_cancellable_until_the_day_before_m_proc_3(tenant_a: TenantWorld) -> None:
    small, large = plans()
    order = submit(tenant_a, make_line(tenant_a, plan=large), "plan_change", {"plan_code": small.code})
    assert order.due_at == jst(2026, 12, 1, 0, 0)
    assert order.cancellable_until == jst(2026, 11, 30, 23, 59, 59, 999999)


@time_machine.travel(NOON, tick=False)
def test_all_next_month_plan_m_proc_3(tenant_a: TenantWorld) -> None:
    small, large = plans(PlanChangeRule.ALL_NEXT_MONTH)
    order = submit(tenant_a, make_line(tenant_a, plan=small), "plan_change", {"plan_code": large.code})
    assert order.effective_date.isoformat() == "2026-12-01"


@time_machine.travel(NOON, tick=False)
def test_data_cap_up_now_down_next_month_m_proc_3(tenant_a: TenantWorld) -> None:
    small, _ = plans()
    line = make_line(tenant_a, plan=small, data_cap_mb=300)
    assert preview(tenant_a, line, "plan_change", {"data_cap_mb": 500}).effective_date.isoformat() == "2026-11-24"
    assert preview(tenant_a, line, "plan_change", {"data_cap_mb": 100}).effective_date.isoformat() == "2026-12-01"


@time_machine.travel(NOON, tick=False)
def test_data_cap_on_plan_without_cap_refused_m_proc_3(tenant_a: TenantWorld) -> None:
    _, large = plans()
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, make_line(tenant_a, plan=large), "plan_change", {"data_cap_mb": 500})
    assert exc.value.code == ErrorCode.INVALID_OPTION


@pytest.mark.parametrize("code", ["NO-SUCH-PLAN", "SB-PLAN", ""])
@time_machine.travel(NOON, tick=False)
def test_unknown_other_carrier_or_same_plan_refused_m_proc_3(tenant_a: TenantWorld, code: str) -> None:
    small, _ = plans()
    PlanFactory(code="SB-PLAN", carrier=Carrier.SOFTBANK)
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, make_line(tenant_a, plan=small), "plan_change", {"plan_code": code})
    assert exc.value.code == ErrorCode.INVALID_PLAN


@time_machine.travel(NOON, tick=False)
def test_completion_changes_plan_and_cap_and_mails_m_proc_3(tenant_a: TenantWorld) -> None:
    small, large = plans()
    line = make_line(tenant_a, plan=small, data_cap_mb=300)
    order = complete(submit(tenant_a, line, "plan_change", {"plan_code": large.code}))
    line.refresh_from_db()
    assert (line.plan_id, line.data_cap_mb) == (large.pk, None)
    assert order.status == OrderStatus.COMPLETED
    assert topics(order) == ["accepted", "completed"]
