"""SIM size change / reissue (M-PROC-4): methods and sizes per carrier and SIM type, multi to multi
only, ship date today..+7, the new ICCID on the ship date, the reminder the day before."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import SimSize, SimType
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures import services
from tests.conftest import TenantWorld
from tests.factories import make_iccid
from tests.procedures.procedure_kit import complete, jst, make_line, preview, submit, topics

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)


@pytest.mark.parametrize(("days", "ok"), [(0, True), (7, True), (8, False), (-1, False)])
@time_machine.travel(NOON, tick=False)
def test_ship_date_today_to_plus_7_m_proc_4(tenant_a: TenantWorld, days: int, ok: bool) -> None:
    ship = (dt.date(2026, 11, 24) + dt.timedelta(days=days)).isoformat()
    params = {"method": "ship", "sim_size": "micro", "ship_date": ship}
    if ok:
        p = preview(tenant_a, make_line(tenant_a), "sim_reissue", params)
        assert p.effective_date.isoformat() == ship
    else:
        with pytest.raises(DomainError) as exc:
            preview(tenant_a, make_line(tenant_a), "sim_reissue", params)
        assert exc.value.code == ErrorCode.INVALID_DATE


@time_machine.travel(NOON, tick=False)
def test_due_at_ship_date_midnight_and_reminder_day_before_9_00_m_proc_4(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, make_line(tenant_a), "sim_reissue", {"sim_size": "nano", "ship_date": "2026-11-28"})
    assert order.due_at == jst(2026, 11, 28, 0, 0)
    assert order.cancellable_until == jst(2026, 11, 27, 23, 59, 59, 999999)
    assert topics(order) == ["accepted", "reminder"]
    reminder = OutboxMessage.objects.get(order=order, topic="reminder")
    assert reminder.send_after == jst(2026, 11, 27, 9, 0)


@time_machine.travel(NOON, tick=False)
def test_ship_today_no_reminder_m_proc_4(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, make_line(tenant_a), "sim_reissue", {"sim_size": "nano"})
    assert order.due_at == NOON
    assert topics(order) == ["accepted"]


@time_machine.travel(NOON, tick=False)
def test_size_the_product_does_not_offer_refused_m_proc_4(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, carrier=Carrier.SOFTBANK, sim_type=SimType.DATA)
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, line, "sim_reissue", {"sim_size": "standard"})
    assert exc.value.code == ErrorCode.SIZE_NOT_OFFERED
    assert preview(tenant_a, line, "sim_reissue", {"sim_size": "multi"}).params["sim_size"] == "multi"


@pytest.mark.parametrize("size", ["standard", "micro", "nano", "huge"])
@time_machine.travel(NOON, tick=False)
def test_multi_reissued_as_multi_only_m_proc_4(tenant_a: TenantWorld, size: str) -> None:
    line = make_line(tenant_a, sim_size=SimSize.MULTI)
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, line, "sim_reissue", {"sim_size": size})
    assert exc.value.code == ErrorCode.SIZE_NOT_OFFERED
    assert preview(tenant_a, line, "sim_reissue", {"sim_size": "multi"}).params["sim_size"] == "multi"


@pytest.mark.parametrize("sim_type", [SimType.SMS, SimType.VOICE])
@time_machine.travel(NOON, tick=False)
def test_softbank_sms_voice_ota_only_not_offered_m_proc_4(tenant_a: TenantWorld, sim_type: str) -> None:
    line = make_line(tenant_a, carrier=Carrier.SOFTBANK, sim_type=sim_type)
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, line, "sim_reissue", {"sim_size": "nano"})
    assert exc.value.code == ErrorCode.METHOD_NOT_OFFERED
    assert "OTA" in str(exc.value.message)


@time_machine.travel(NOON, tick=False)
def test_ota_method_not_offered_m_proc_4(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, make_line(tenant_a, sim_type=SimType.VOICE), "sim_reissue",
                {"method": "ota", "sim_size": "nano"})
    assert exc.value.code == ErrorCode.METHOD_NOT_OFFERED


@time_machine.travel(NOON, tick=False)
def test_delivery_address_validated_and_normalised_m_proc_4(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    address = {"postal_code": "１００－０００１", "address": "東京都千代田区千代田1-1", "recipient": "総務部 山田"}
    p = preview(tenant_a, line, "sim_reissue", {"sim_size": "nano", "delivery_address": address})
    assert p.params["delivery_address"]["postal_code"] == "100-0001"
    for bad in ({**address, "postal_code": "12-345"}, {**address, "address": ""}, {**address, "recipient": " "}):
        with pytest.raises(DomainError) as exc:
            preview(tenant_a, line, "sim_reissue", {"sim_size": "nano", "delivery_address": bad})
        assert exc.value.code == ErrorCode.VALIDATION_ERROR


@time_machine.travel(NOON, tick=False)
def test_completion_switches_to_the_new_iccid_m_proc_4(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    new = make_iccid(987654)
    complete(submit(tenant_a, line, "sim_reissue", {"sim_size": "micro"}), new_iccid=new)
    line.refresh_from_db()
    assert (line.iccid, line.sim_size) == (new, "micro")


def test_withdrawal_drops_the_reminder_m_proc_4(tenant_a: TenantWorld) -> None:
    with time_machine.travel(NOON, tick=False):
        order = submit(tenant_a, make_line(tenant_a), "sim_reissue", {"sim_size": "nano", "ship_date": "2026-11-30"})
    with time_machine.travel(jst(2026, 11, 29, 10, 0), tick=False):
        services.order_cancel(tenant=tenant_a.tenant, user=tenant_a.user, order_id=order.pk)
    assert topics(order) == ["accepted", "cancelled"]
