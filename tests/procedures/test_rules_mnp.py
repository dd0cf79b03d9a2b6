"""MNP port-in activation (M-MNP-1, M-MNP-2) and the MNP reservation number for porting out (M-PROC-5)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kaisen.carriers.adapters import CarrierState, CarrierStatus
from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import LineStatus, SimType
from kaisen.procedures import results, selectors
from kaisen.procedures.models import Order
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import complete, jst, make_line, preview, submit, topics

pytestmark = pytest.mark.django_db
NOON = jst(2026, 11, 24, 12, 0)
TODAY = dt.date(2026, 11, 24)


def port_in_line(world: TenantWorld, **extra: object):  # type: ignore[no-untyped-def]
    values = {"status": LineStatus.NOT_ACTIVATED, "sim_type": SimType.VOICE, "mnp_port_in_pending": True,
              "mnp_port_in_expires_on": TODAY + dt.timedelta(days=5), "shipped_on": TODAY - dt.timedelta(days=1),
              "started_on": None, **extra}
    return make_line(world, **values)


@time_machine.travel(NOON, tick=False)
def test_activation_default_today_due_now_and_warns_m_mnp_2(tenant_a: TenantWorld) -> None:
    p = preview(tenant_a, port_in_line(tenant_a), "mnp_activation")
    assert p.params == {"activation_date": "2026-11-24"}
    assert p.due_at == NOON
    assert any("void" in w for w in p.warnings)


@time_machine.travel(NOON, tick=False)
def test_activation_future_date_due_at_9_00_m_mnp_2(tenant_a: TenantWorld) -> None:
    order = submit(tenant_a, port_in_line(tenant_a), "mnp_activation", {"activation_date": "2026-11-29"})
    assert order.due_at == jst(2026, 11, 29, 9, 0)
    assert topics(order) == ["accepted"]


@pytest.mark.parametrize(("days", "ok"), [(5, True), (6, False), (-1, False)])
@time_machine.travel(NOON, tick=False)
def test_activation_date_up_to_reservation_expiry_m_mnp_2(tenant_a: TenantWorld, days: int, ok: bool) -> None:
    params = {"activation_date": (TODAY + dt.timedelta(days=days)).isoformat()}
    line = port_in_line(tenant_a)
    if ok:
        assert preview(tenant_a, line, "mnp_activation", params)
    else:
        with pytest.raises(DomainError) as exc:
            preview(tenant_a, line, "mnp_activation", params)
        assert exc.value.code == ErrorCode.INVALID_DATE


@pytest.mark.parametrize("shipped_on", [None, TODAY + dt.timedelta(days=1)])
@time_machine.travel(NOON, tick=False)
def test_activation_refused_before_the_sim_ships_m_mnp_2(tenant_a: TenantWorld, shipped_on: dt.date | None) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, port_in_line(tenant_a, shipped_on=shipped_on), "mnp_activation")
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE


@time_machine.travel(NOON, tick=False)
def test_activation_docomo_only_and_pending_only_m_mnp_2(tenant_a: TenantWorld) -> None:
    for line in (port_in_line(tenant_a, carrier=Carrier.SOFTBANK), port_in_line(tenant_a, mnp_port_in_pending=False),
                 make_line(tenant_a)):
        with pytest.raises(DomainError) as exc:
            preview(tenant_a, line, "mnp_activation")
        assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE


@time_machine.travel(NOON, tick=False)
def test_activation_completion_starts_the_line_m_mnp_2(tenant_a: TenantWorld) -> None:
    line = port_in_line(tenant_a)
    order = complete(submit(tenant_a, line, "mnp_activation"))
    line.refresh_from_db()
    assert (line.status, line.started_on, line.mnp_port_in_pending) == (LineStatus.ACTIVE, TODAY, False)
    assert topics(order) == ["accepted", "completed"]
    assert list(selectors.mnp_waiting_list(tenant=tenant_a.tenant)) == []


@time_machine.travel(NOON, tick=False)
def test_waiting_list_m_mnp_1(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    mine = port_in_line(tenant_a, shipped_on=None)
    port_in_line(tenant_b)
    make_line(tenant_a)
    assert list(selectors.mnp_waiting_list(tenant=tenant_a.tenant)) == [mine]


# --- M-PROC-5 ---------------------------------------------------------------------------------------

def voice_line(world: TenantWorld):  # type: ignore[no-untyped-def]
    return make_line(world, sim_type=SimType.VOICE)


GOOD = {"holder_name": "みなと物流株式会社", "holder_name_kana": "ミナトブツリュウ", "category": "corporate"}


@time_machine.travel(NOON, tick=False)
def test_half_width_katakana_converted_m_proc_5(tenant_a: TenantWorld) -> None:
    p = preview(tenant_a, voice_line(tenant_a), "mnp_reservation", {**GOOD, "holder_name_kana": "ﾐﾅﾄﾌﾞﾂﾘｭｳ"})
    assert p.params["holder_name_kana"] == "ミナトブツリュウ"


@pytest.mark.parametrize("kana", ["みなとぶつりゅう", "湊物流", "MINATO", "ミナト1", ""])
@time_machine.travel(NOON, tick=False)
def test_non_katakana_name_refused_m_proc_5(tenant_a: TenantWorld, kana: str) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, voice_line(tenant_a), "mnp_reservation", {**GOOD, "holder_name_kana": kana})
    assert exc.value.code == ErrorCode.INVALID_NAME


@pytest.mark.parametrize("name", ["Minato Logistics", "ﾐﾅﾄ物流", "みなと 物流", ""])
@time_machine.travel(NOON, tick=False)
def test_holder_name_must_be_full_width_m_proc_5(tenant_a: TenantWorld, name: str) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, voice_line(tenant_a), "mnp_reservation", {**GOOD, "holder_name": name})
    assert exc.value.code == ErrorCode.INVALID_NAME


@time_machine.travel(NOON, tick=False)
def test_full_width_latin_name_accepted_m_proc_5(tenant_a: TenantWorld) -> None:
    p = preview(tenant_a, voice_line(tenant_a), "mnp_reservation", {**GOOD, "holder_name": "ＡＢＣ商事株式会社"})
    assert p.params["holder_name"] == "ＡＢＣ商事株式会社"


@time_machine.travel(NOON, tick=False)
def test_category_must_be_corporate_m_proc_5(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, voice_line(tenant_a), "mnp_reservation", {**GOOD, "category": "male"})
    assert exc.value.code == ErrorCode.VALIDATION_ERROR


@time_machine.travel(NOON, tick=False)
def test_number_issued_then_ported_out_m_proc_5(tenant_a: TenantWorld) -> None:
    line = voice_line(tenant_a)
    order = submit(tenant_a, line, "mnp_reservation", GOOD)
    assert topics(order) == ["accepted"]
    order = complete(order, reservation_number="1234567890", expires_on="2026-12-09")
    line.refresh_from_db()
    assert (line.mnp_reservation_number, line.mnp_reservation_expires_on) == ("1234567890", dt.date(2026, 12, 9))
    assert topics(order) == ["accepted", "number_issued"]
    assert line.status == LineStatus.ACTIVE
    # Later the carrier reports the port-out: the line is cancelled and the customer told, once.
    for _ in range(2):
        fresh = Order.objects.select_related("line", "tenant").get(pk=order.pk)
        results.order_apply_result(order=fresh, status=CarrierStatus(
            state=CarrierState.COMPLETED, result={"reservation_number": "1234567890", "ported_out": True}))
    line.refresh_from_db()
    assert line.status == LineStatus.CANCELLED
    assert topics(order) == ["accepted", "number_issued", "ported_out"]


@time_machine.travel(NOON, tick=False)
def test_reservation_on_data_line_refused_m_proc_5(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        preview(tenant_a, make_line(tenant_a), "mnp_reservation", GOOD)
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE
