"""Smoke: suspend accepted, applied, mailed (M-PROC-1, M-PROC-7)."""

from __future__ import annotations

import pytest
import time_machine

from kaisen.lines.models import LineStatus, SimType
from kaisen.procedures.models import OrderStatus
from tests.conftest import TenantWorld
from tests.procedures.procedure_kit import complete, jst, make_line, submit, topics

pytestmark = pytest.mark.django_db


@time_machine.travel(jst(2026, 11, 24, 11, 0), tick=False)
def test_suspend_voice_line_accepted_completed_m_proc_1(tenant_a: TenantWorld) -> None:
    line = make_line(tenant_a, sim_type=SimType.VOICE)
    order = submit(tenant_a, line, "suspend")
    assert order.status == OrderStatus.SCHEDULED
    assert topics(order) == ["accepted"]
    order = complete(order)
    assert order.status == OrderStatus.COMPLETED
    line.refresh_from_db()
    assert line.status == LineStatus.SUSPENDED
    assert topics(order) == ["accepted", "completed"]
