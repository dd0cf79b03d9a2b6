"""Voice options (M-PROC-2): option sets and values per carrier, today or the 1st of next month, the
flat-rate-calling rule, withdrawal until the day before."""

from __future__ import annotations

import pytest
import time_machine

from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import SimType
from kaisen.procedures import services
from kaisen.procedures.models import OrderStatus
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import complete, jst, make_line, preview, submit, topics

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)


def voice_line(world: TenantWorld, carrier: str = Carrier.DOCOMO, **options: object):  # type: ignore[no-untyped-def]
    return make_line(world, carrier=carrier, sim_type=SimType.VOICE,
                     voice_options={"voicemail": False, "flat_rate_calling": False, "network_pin": "1234", **options})


@time_machine.travel(NOON, tick=False)
def test_today_is_due_now_and_not_cancellable_m_proc_2(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, voice_line(tenant_a), "voice_options",
                   {"effective": "today", "options": {"voicemail": True}})
    assert order.due_at == NOON
    assert order.cancellable_until is None
    assert order.params == {"effective": "today", "options": {"voicemail": True}}


@time_machine.travel(NOON, tick=False)
def test_next_month_due_on_the_1st_cancellable_until_the_day_before_m_proc_2(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, voice_line(tenant_a), "voice_options",
                   {"effective": "next_month", "options": {"call_waiting": True}})
    assert order.effective_date.isoformat() == "2026-12-01"
    assert order.due_at == jst(2026, 12, 1, 0, 0)
    assert order.cancellable_until == jst(2026, 11, 30, 23, 59, 59, 999999)


def test_next_month_change_withdrawn_on_the_day_before_not_on_the_day_m_proc_2(tenant_a: TenantWorld) -> None:
    line = voice_line(tenant_a)
    with time_machine.travel(NOON, tick=False):
        first = submit(tenant_a, line, "voice_options", {"effective": "next_month", "options": {"voicemail": True}})
    with time_machine.travel(jst(2026, 11, 30, 19, 59), tick=False):
        done = services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=first.pk)
    assert done.status == OrderStatus.CANCELLED
    assert topics(done) == ["accepted", "cancelled"]
    with time_machine.travel(jst(2026, 11, 30, 12, 0), tick=False):
        second = submit(tenant_a, line, "voice_options", {"effective": "next_month", "options": {"voicemail": True}})
    with time_machine.travel(jst(2026, 12, 1, 9, 0), tick=False), pytest.raises(DomainError) as exc:
        services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=second.pk)
    assert exc.value.code == ErrorCode.ORDER_NOT_CANCELLABLE


@time_machine.travel(NOON, tick=False)
def test_flat_rate_subscribed_changing_flat_rate_today_refused_m_proc_2(tenant_a: TenantWorld) -> None:
    """Seed 000 (通話定額オプション変更の適用日): while subscribed, a change of flat-rate calling, removal
    included, applies from the 1st of next month only; so does an order that changes it with other options."""
    line = voice_line(tenant_a, flat_rate_calling=True)
    for options in ({"flat_rate_calling": False}, {"flat_rate_calling": False, "voicemail": True}):
        with pytest.raises(DomainError) as exc:
            submit(tenant_a, line, "voice_options", {"effective": "today", "options": options})
        assert exc.value.code == ErrorCode.INVALID_OPTION
        assert "next month" in str(exc.value.message)
    assert preview(tenant_a, line, "voice_options", {"options": {"flat_rate_calling": False}}).params[
        "effective"] == "next_month"
    order = submit(tenant_a, line, "voice_options",
                   {"effective": "next_month", "options": {"flat_rate_calling": False}})
    assert order.effective_date.isoformat() == "2026-12-01"


@time_machine.travel(NOON, tick=False)
def test_flat_rate_subscribed_other_option_may_change_today_m_proc_2(tenant_a: TenantWorld) -> None:
    """The next-month-only rule is the flat-rate option's own: flat-rate calling untouched (or given with
    its current value), another option changes today, and that is the default."""
    line = voice_line(tenant_a, flat_rate_calling=True)
    order = submit(tenant_a, line, "voice_options",
                   {"effective": "today", "options": {"voicemail": True, "flat_rate_calling": True}})
    assert (order.effective_date.isoformat(), order.due_at) == ("2026-11-24", NOON)
    assert order.params["options"] == {"voicemail": True}
    assert preview(tenant_a, voice_line(tenant_a, flat_rate_calling=True), "voice_options",
                   {"options": {"call_waiting": True}}).params["effective"] == "today"


@time_machine.travel(NOON, tick=False)
def test_flat_rate_not_subscribed_may_start_today_m_proc_2(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, voice_line(tenant_a), "voice_options",
                   {"effective": "today", "options": {"flat_rate_calling": True}})
    assert order.effective_date.isoformat() == "2026-11-24"


@pytest.mark.parametrize("cap", [0, 5000, 10000, 20000, 30000, 50000, 80000, 100000])
@time_machine.travel(NOON, tick=False)
def test_docomo_international_call_caps_m_proc_2(tenant_a: TenantWorld, cap: int) -> None:
    line = voice_line(tenant_a, international_call_cap=1)
    assert preview(tenant_a, line, "voice_options", {"options": {"international_call_cap": cap}}).params[
        "options"] == {"international_call_cap": cap}


@pytest.mark.parametrize(("name", "value"), [("international_call_cap", 15000), ("international_call_cap", -1),
                                             ("international_roaming_cap", 5000), ("network_pin", "123"),
                                             ("network_pin", "12a4"), ("voicemail", "maybe"),
                                             ("group_calling", True)])
@time_machine.travel(NOON, tick=False)
def test_docomo_invalid_values_refused_m_proc_2(tenant_a: TenantWorld, name: str, value: object) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, voice_line(tenant_a), "voice_options", {"options": {name: value}})
    assert exc.value.code == ErrorCode.INVALID_OPTION


@time_machine.travel(NOON, tick=False)
def test_softbank_option_set_m_proc_2(tenant_a: TenantWorld) -> None:
    line = voice_line(tenant_a, carrier=Carrier.SOFTBANK)
    p = preview(tenant_a, line, "voice_options",
                {"options": {"group_calling": True, "number_block": "on", "network_pin": "９８７６"}})
    assert p.params["options"] == {"group_calling": True, "number_block": True, "network_pin": "9876"}
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, line, "voice_options", {"options": {"international_call_cap": 5000}})
    assert exc.value.code == ErrorCode.INVALID_OPTION


@time_machine.travel(NOON, tick=False)
def test_nothing_to_change_refused_m_proc_2(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, voice_line(tenant_a), "voice_options", {"options": {"voicemail": False}})
    assert exc.value.code == ErrorCode.INVALID_OPTION


@time_machine.travel(NOON, tick=False)
def test_data_line_has_no_voice_options_m_proc_2(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, make_line(tenant_a), "voice_options", {"options": {"voicemail": True}})
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE


@time_machine.travel(NOON, tick=False)
def test_completion_changes_only_the_chosen_options_and_mails_m_proc_2(tenant_a: TenantWorld) -> None:
    line = voice_line(tenant_a, call_waiting=True)
    order = complete(submit(tenant_a, line, "voice_options", {"options": {"voicemail": True}}))
    line.refresh_from_db()
    assert line.voice_options == {"voicemail": True, "flat_rate_calling": False, "network_pin": "1234",
                                  "call_waiting": True}
    assert topics(order) == ["accepted", "completed"]
