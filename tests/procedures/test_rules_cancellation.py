"""Cancellation and its withdrawal (M-PROC-6)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import LineStatus, SimType
from kaisen.procedures import services
from kaisen.procedures.models import OrderStatus
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import complete, jst, make_line, preview, submit, topics

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)


@time_machine.travel(NOON, tick=False)
def test_default_end_date_last_day_of_this_month_m_proc_6(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, make_line(tenant_a), "cancellation")
    assert order.effective_date == dt.date(2026, 11, 30)
    assert order.due_at == jst(2026, 11, 30, 20, 0)
    assert order.cancellable_until is not None
    assert order.cancellable_until.astimezone(jst(2026, 1, 1).tzinfo).strftime("%H:%M:%S") == "19:59:59"


@pytest.mark.parametrize(("end", "ok"), [("2028-11-24", True), ("2028-11-25", False), ("2026-11-24", True),
                                         ("2026-11-23", False)])
@time_machine.travel(NOON, tick=False)
def test_end_date_at_most_two_years_ahead_m_proc_6(tenant_a: TenantWorld, end: str, ok: bool) -> None:
    if ok:
        assert preview(tenant_a, make_line(tenant_a), "cancellation", {"end_date": end}).params == {"end_date": end}
    else:
        with pytest.raises(DomainError) as exc:
            preview(tenant_a, make_line(tenant_a), "cancellation", {"end_date": end})
        assert exc.value.code == ErrorCode.INVALID_DATE


@time_machine.travel(NOON, tick=False)
def test_invalid_date_text_refused_m_proc_6(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, make_line(tenant_a), "cancellation", {"end_date": "31/12/2026x"})
    assert exc.value.code == ErrorCode.INVALID_DATE


@time_machine.travel(NOON, tick=False)
def test_voice_sms_warning_m_proc_6(tenant_a: TenantWorld) -> None:
    assert preview(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "cancellation").warnings
    assert preview(tenant_a, make_line(tenant_a, sim_type=SimType.DATA), "cancellation").warnings == []


def test_scheduled_end_set_then_cleared_by_withdrawal_on_the_end_date_m_proc_6(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    with time_machine.travel(NOON, tick=False):
        order = submit(tenant_a, line, "cancellation", {"end_date": "2026-12-15"})
    line.refresh_from_db()
    assert line.scheduled_end_on == dt.date(2026, 12, 15)
    with time_machine.travel(jst(2026, 12, 15, 19, 59), tick=False):
        order = services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert order.status == OrderStatus.CANCELLED
    line.refresh_from_db()
    assert line.scheduled_end_on is None
    assert topics(order) == ["accepted", "cancelled"]


def test_withdrawal_after_the_end_date_refused_m_proc_6(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    with time_machine.travel(NOON, tick=False):
        order = submit(tenant_a, line, "cancellation", {"end_date": "2026-12-15"})
    with time_machine.travel(jst(2026, 12, 16, 9, 0), tick=False), pytest.raises(DomainError) as exc:
        services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert exc.value.code == ErrorCode.ORDER_NOT_CANCELLABLE


@time_machine.travel(NOON, tick=False)
def test_completion_cancels_the_line_m_proc_6(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    order = complete(submit(tenant_a, line, "cancellation", {"end_date": "2026-11-24"}))
    line.refresh_from_db()
    assert (line.status, line.scheduled_end_on) == (LineStatus.CANCELLED, dt.date(2026, 11, 24))
    assert topics(order) == ["accepted", "completed"]
