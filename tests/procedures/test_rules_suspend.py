"""Suspend / resume (M-PROC-1) and the lines no procedure may touch (cancelled, not activated)."""

from __future__ import annotations

import pytest
import time_machine

from kaisen.carriers.models import Carrier
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import LineStatus, SimType
from kaisen.procedures.models import OrderKind
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import complete, jst, make_line, preview, submit, topics

pytestmark = pytest.mark.django_db


@time_machine.travel(jst(2026, 11, 24, 9, 30), tick=False)
def test_softbank_suspend_at_9_30_is_due_at_10_00_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, carrier=Carrier.SOFTBANK)
    order = submit(tenant_a, line, "suspend")
    assert order.due_at == jst(2026, 11, 24, 10, 0)
    assert order.effective_date.isoformat() == "2026-11-24"
    assert order.cancellable_until is None


@time_machine.travel(jst(2026, 11, 24, 9, 30), tick=False)
def test_docomo_suspend_at_9_30_is_due_at_once_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, carrier=Carrier.DOCOMO)
    assert submit(tenant_a, line, "suspend").due_at == jst(2026, 11, 24, 9, 30)


@time_machine.travel(jst(2026, 11, 24, 10, 0, 1), tick=False)
def test_softbank_resume_after_10_00_is_due_at_once_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, carrier=Carrier.SOFTBANK, status=LineStatus.SUSPENDED)
    assert submit(tenant_a, line, "resume").due_at == jst(2026, 11, 24, 10, 0, 1)


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_charges_continue_warning_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    warnings = preview(tenant_a, line, "suspend").warnings
    assert any("charges continue" in w for w in warnings)


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_suspend_of_a_suspended_line_refused_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, status=LineStatus.SUSPENDED)
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, line, "suspend")
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_resume_of_an_active_line_refused_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a)
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, line, "resume")
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_data_line_gets_one_mail_completed_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, sim_type=SimType.DATA)
    order = submit(tenant_a, line, "suspend")
    assert topics(order) == []
    complete(order)
    assert topics(order) == ["completed"]
    line.refresh_from_db()
    assert line.status == LineStatus.SUSPENDED


@pytest.mark.parametrize("sim_type", [SimType.SMS, SimType.VOICE])
@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_voice_sms_line_gets_accepted_and_completed_m_proc_1(tenant_a: TenantWorld, sim_type: str) -> None:
    line = make_line(tenant_a, sim_type=sim_type, status=LineStatus.SUSPENDED)
    order = submit(tenant_a, line, "resume")
    assert topics(order) == ["accepted"]
    complete(order)
    assert topics(order) == ["accepted", "completed"]
    line.refresh_from_db()
    assert line.status == LineStatus.ACTIVE


ALL_BUT_ACTIVATION = [k for k in OrderKind.values if k != OrderKind.MNP_ACTIVATION]


@pytest.mark.parametrize("status", [LineStatus.CANCELLED, LineStatus.NOT_ACTIVATED])
@pytest.mark.parametrize("kind", ALL_BUT_ACTIVATION)
@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_procedures_on_cancelled_or_not_activated_line_refused_m_line_1(
        tenant_a: TenantWorld, kind: str, status: str) -> None:
    line = make_line(tenant_a, sim_type=SimType.VOICE, status=status,
                     msisdn=None if status == LineStatus.NOT_ACTIVATED else "09011112222")
    with pytest.raises(DomainError) as exc:
        submit(tenant_a, line, kind)
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE
