"""Reception hours (M-AUTH-2, M-PROC-1..6): 9:00–19:59 Japan time, configurable, the refusal says when
reception opens again; submit and withdraw alike."""

from __future__ import annotations

import pytest
import time_machine

from kaisen.core.errors import DomainError, ErrorCode
from kaisen.procedures import services
from kaisen.procedures.models import Order
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import jst, make_line, preview, submit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("hour", "minute", "accepted"), [(8, 59, False), (9, 0, True), (19, 59, True),
                                                          (20, 0, False)])
def test_reception_boundaries_m_auth_2(tenant_a: TenantWorld, hour: int, minute: int, accepted: bool) -> None:
    line = make_line(tenant_a)
    with time_machine.travel(jst(2026, 11, 24, hour, minute, 30), tick=False):
        if accepted:
            assert submit(tenant_a, line, "suspend").pk
        else:
            with pytest.raises(DomainError) as exc:
                submit(tenant_a, line, "suspend")
            assert exc.value.code == ErrorCode.OUTSIDE_RECEPTION_HOURS
            assert Order.objects.count() == 0


def test_refusal_before_opening_names_today_9_00_m_auth_2(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    with time_machine.travel(jst(2026, 11, 24, 8, 59), tick=False), pytest.raises(DomainError) as exc:
        preview(tenant_a, line, "suspend")
    assert "2026-11-24 09:00" in str(exc.value.message)
    assert exc.value.details["opens_at"].startswith("2026-11-24T09:00")


def test_refusal_after_closing_names_tomorrow_9_00_m_auth_2(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    with time_machine.travel(jst(2026, 11, 24, 20, 0), tick=False), pytest.raises(DomainError) as exc:
        submit(tenant_a, line, "cancellation")
    assert "2026-11-25 09:00" in str(exc.value.message)


def test_reception_hours_are_configuration_m_auth_2(tenant_a: TenantWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAISEN_RECEPTION_HOURS_SUSPEND", "10:00-18:59")
    line = make_line(tenant_a)
    with time_machine.travel(jst(2026, 11, 24, 9, 30), tick=False):
        with pytest.raises(DomainError) as exc:
            submit(tenant_a, line, "suspend")
        assert exc.value.code == ErrorCode.OUTSIDE_RECEPTION_HOURS
        assert "10:00" in str(exc.value.message)
        assert submit(tenant_a, line, "cancellation").pk  # other procedures keep the default window


def test_withdrawal_outside_reception_hours_refused_m_auth_2(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    with time_machine.travel(jst(2026, 11, 24, 12, 0), tick=False):
        order = submit(tenant_a, line, "cancellation", {"end_date": "2026-12-31"})
    with time_machine.travel(jst(2026, 11, 25, 20, 0), tick=False), pytest.raises(DomainError) as exc:
        services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert exc.value.code == ErrorCode.OUTSIDE_RECEPTION_HOURS
    with time_machine.travel(jst(2026, 11, 26, 9, 0), tick=False):
        done = services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert done.status == "cancelled"


def test_withdrawal_deadline_is_the_end_of_reception_hours_issue_14(tenant_a: TenantWorld,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored "until 23:59 the day before", but withdrawals are refused after 19:59: the deadline shown (the
    preview, the order, the mail, the API) is 19:59, and withdrawing is possible exactly until then."""
    from kaisen.core import calendar
    from kaisen.lines.models import SimType
    from kaisen.procedures.display import order_can_cancel
    from kaisen.procedures.mails import render
    from kaisen.procedures.models import OrderStatus

    line = make_line(tenant_a, sim_type=SimType.VOICE, voice_options={"voicemail": False})
    params = {"effective": "next_month", "options": {"voicemail": True}}
    with time_machine.travel(jst(2026, 11, 24, 12, 0), tick=False):
        shown = preview(tenant_a, line, "voice_options", params)
        order = submit(tenant_a, line, "voice_options", params)
    assert order.cancellable_until == jst(2026, 11, 30, 23, 59, 59, 999999)  # the rule's nominal day-end
    deadline = jst(2026, 11, 30, 19, 59, 59, 999999)
    assert order.withdrawal_deadline == deadline
    assert shown.cancellable_until == deadline
    assert "2026年11月30日 19:59 まで" in render(order, "accepted")[1]
    with time_machine.travel(jst(2026, 11, 30, 20, 0), tick=False):
        assert not services.order_is_cancellable(order)
        assert not order_can_cancel(order)
        with pytest.raises(DomainError):
            services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    with time_machine.travel(jst(2026, 11, 30, 19, 59, 59), tick=False):
        assert order_can_cancel(order)
        done = services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert done.status == OrderStatus.CANCELLED
    # A procedure with its own window: its own closing time.
    monkeypatch.setenv("KAISEN_RECEPTION_HOURS_VOICE_OPTIONS", "10:00-18:29")
    assert calendar.last_reception_moment("voice_options", order.cancellable_until) == jst(2026, 11, 30, 18, 29, 59,
                                                                                         999999)
    # Before opening: the previous day's close; inside the window: unchanged.
    assert calendar.last_reception_moment("", jst(2026, 12, 1, 8, 0)) == jst(2026, 11, 30, 19, 59, 59, 999999)
    assert calendar.last_reception_moment("", jst(2026, 12, 1, 12, 0)) == jst(2026, 12, 1, 12, 0)
