"""Rating uses what was in force (issue 10 §3; M-PROC-1, M-PROC-2, M-PROC-3, M-PROC-6, S-ACC-4), on SQLite and
PostgreSQL. The line history is written by the real services (procedures through their engine entry point
``order_apply_result``; ``kaisen.lines.history`` for the transfer of a line in service) under time_machine,
so every test passes whatever the injected clock says.

The monthly-fee rule (docs/billing.md "Rating"): a month's monthly, universal service and option fees, data
allowance and cap follow the line's last in-service interval of the month; calls follow the interval in force
when they started.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from kaisen.billing.close import close_month
from kaisen.billing.rating import rate_month
from kaisen.lines.history import line_record_change
from kaisen.lines.models import Line, LinePeriodReason, SimType
from kaisen.tenancy.models import Tenant
from tests.billing import kit
from tests.conftest import TenantWorld
from tests.factories import PlanFactory
from tests.procedures.procedure_kit import complete, jst, make_line, submit

pytestmark = pytest.mark.django_db
OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)
NOON_24 = jst(2026, 11, 24, 12, 0)


def _plans():  # type: ignore[no-untyped-def]
    small = PlanFactory(code="ASOF-S", monthly_fee=1000, data_allowance_mb=1024)
    large = PlanFactory(code="ASOF-L", monthly_fee=3000, data_allowance_mb=10240)
    return small, large


def _items(tenant: Tenant, month: dt.date) -> dict[tuple[str, str], D]:
    return kit.amounts(rate_month(tenant=tenant, coverage="japan", month=month).invoice)


def _line(world: TenantWorld, plan, **kw) -> Line:  # type: ignore[no-untyped-def]
    return make_line(world, plan=plan, started_on=dt.date(2026, 9, 1), **kw)


def test_plan_change_next_month_leaves_the_closed_month_at_the_old_plan_m_proc_3(tenant_a: TenantWorld) -> None:
    """The bug of issue 10: the smaller plan, due on the 1st, applied by the engine at 00:05 on Dec 1; November
    closed on its 2nd business day (Dec 2) used to bill the new plan. It bills the old one."""
    small, large = _plans()
    with time_machine.travel(NOON_24, tick=False):
        line = _line(tenant_a, large)
        order = submit(tenant_a, line, "plan_change", {"plan_code": small.code})
        assert order.due_at == jst(2026, 12, 1, 0, 0)
    with time_machine.travel(jst(2026, 12, 1, 0, 5), tick=False):
        complete(order)
    line.refresh_from_db()
    assert line.plan_id == small.pk
    with time_machine.travel(jst(2026, 12, 2, 10, 0), tick=False):
        nov = close_month(tenant=tenant_a.tenant, coverage="japan", month=NOV, today=dt.date(2026, 12, 2))
        assert {(i.msisdn, i.cost_type): i.amount for i in nov.items.all()}[(line.msisdn, "base_fee")] == D(3000)
        assert _items(tenant_a.tenant, DEC)[(line.msisdn, "base_fee")] == D(1000)


def test_immediate_volume_increase_bills_the_larger_plan_for_the_month_m_proc_3(tenant_a: TenantWorld) -> None:
    small, large = _plans()
    with time_machine.travel(NOON_24, tick=False):
        line = _line(tenant_a, small)
        kit.data(line, dt.date(2026, 11, 3), 2048)  # beyond the small plan's 1 GB, within the large one's 10 GB
        complete(submit(tenant_a, line, "plan_change", {"plan_code": large.code}))
        items = _items(tenant_a.tenant, NOV)
        assert items[(line.msisdn, "base_fee")] == D(3000)
        assert (line.msisdn, "data_overage") not in items  # the allowance of the deciding (larger) plan
        assert _items(tenant_a.tenant, OCT)[(line.msisdn, "base_fee")] == D(1000)


def test_option_added_today_is_billed_this_month_and_frees_only_later_calls_m_proc_2(tenant_a: TenantWorld) -> None:
    small, _ = _plans()
    with time_machine.travel(NOON_24, tick=False):
        line = _line(tenant_a, small, sim_type=SimType.VOICE,
                     voice_options={"voicemail": False, "flat_rate_calling": False, "network_pin": "1234"})
        before = kit.call(line, start=jst(2026, 11, 24, 11, 59), seconds=60)  # domestic, 40 yen
        after = kit.call(line, start=jst(2026, 11, 24, 12, 1), seconds=90)  # domestic, 60 yen
        complete(submit(tenant_a, line, "voice_options",
                        {"effective": "today", "options": {"flat_rate_calling": True}}))
        items = _items(tenant_a.tenant, NOV)
        assert items[(line.msisdn, "option_fee")] == D(1500)
        # Only the call made before the option was added is on the invoice; the call detail keeps both charges.
        assert items[(line.msisdn, "voice_xi")] == D(40)
        before.refresh_from_db()
        after.refresh_from_db()
        assert (before.charge, after.charge) == (D(40), D(60))
        assert (line.msisdn, "option_fee") not in _items(tenant_a.tenant, OCT)


def test_flat_rate_removed_next_month_rates_calls_by_their_start(tenant_a: TenantWorld) -> None:
    """A call before and after a flat-rate option change: each rated with the option in force at its start."""
    small, _ = _plans()
    with time_machine.travel(NOON_24, tick=False):
        line = _line(tenant_a, small, sim_type=SimType.VOICE,
                     voice_options={"voicemail": False, "flat_rate_calling": True, "network_pin": "1234"})
        order = submit(tenant_a, line, "voice_options",
                       {"effective": "next_month", "options": {"flat_rate_calling": False}})
    with time_machine.travel(jst(2026, 12, 1, 0, 5), tick=False):
        complete(order)
    with time_machine.travel(jst(2026, 12, 10, 12), tick=False):
        kit.call(line, start=jst(2026, 11, 30, 23, 50), seconds=60)  # in force: flat rate → free in November
        kit.call(line, start=jst(2026, 11, 30, 23, 59, 30), seconds=60)  # ends in December, started with it
        kit.call(line, start=jst(2026, 12, 1, 0, 1), seconds=60)  # after the change → 40 yen
        nov, dec = _items(tenant_a.tenant, NOV), _items(tenant_a.tenant, DEC)
        assert (line.msisdn, "voice_xi") not in nov
        assert nov[(line.msisdn, "option_fee")] == D(1500)
        assert dec[(line.msisdn, "voice_xi")] == D(40)  # the spanning call (K-4: December) stays free
        assert (line.msisdn, "option_fee") not in dec


def test_suspension_keeps_the_monthly_fees_m_proc_1(tenant_a: TenantWorld) -> None:
    small, _ = _plans()
    with time_machine.travel(jst(2026, 11, 10, 12), tick=False):
        line = _line(tenant_a, small)
        complete(submit(tenant_a, line, "suspend"))
    with time_machine.travel(jst(2026, 12, 10, 12), tick=False):
        line.refresh_from_db()
        assert line.status == "suspended"
        assert _items(tenant_a.tenant, NOV)[(line.msisdn, "base_fee")] == D(1000)
        assert _items(tenant_a.tenant, DEC)[(line.msisdn, "base_fee")] == D(1000)


def test_cancellation_with_an_end_date_bills_its_last_month_in_full_and_nothing_after_m_proc_6(
        tenant_a: TenantWorld) -> None:
    small, _ = _plans()
    with time_machine.travel(jst(2026, 11, 5, 12), tick=False):
        line = _line(tenant_a, small)
        order = submit(tenant_a, line, "cancellation", {"end_date": "2026-11-15"})
    with time_machine.travel(jst(2026, 11, 16, 0, 10), tick=False):
        complete(order)
    with time_machine.travel(jst(2026, 12, 10, 12), tick=False):
        line.refresh_from_db()
        assert line.status == "cancelled"
        assert _items(tenant_a.tenant, NOV)[(line.msisdn, "base_fee")] == D(1000)  # no pro-rata
        assert (line.msisdn, "base_fee") not in _items(tenant_a.tenant, DEC)


def test_sim_transfer_bills_fees_to_the_last_holder_and_each_call_to_its_holder_s_acc_4(
        tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    """A line in service moves from A to B on Nov 20 (through ``kaisen.lines.history``, as
    ``tenancy.services.transfer_accept`` does set-wise). November's fees go to B, each call to the tenant
    holding the line when it started — also a call imported after the transfer."""
    small, _ = _plans()
    with time_machine.travel(jst(2026, 11, 20, 12), tick=False):
        line = _line(tenant_a, small, sim_type=SimType.VOICE, voice_options={})
        kit.call(line, start=jst(2026, 11, 10, 10), seconds=60)  # A's call, imported before the transfer
        line.tenant = tenant_b.tenant
        line.save(update_fields=["tenant"])
        line_record_change(line=line, at=jst(2026, 11, 20, 12), reason=LinePeriodReason.TRANSFER)
        late = kit.call(line, start=jst(2026, 11, 19, 10), seconds=90)  # A's call, imported after the transfer
        assert late.tenant_id == tenant_a.tenant.pk  # filed under the tenant holding the line when it started
        kit.call(line, start=jst(2026, 11, 25, 10), seconds=30)  # B's call
    with time_machine.travel(jst(2026, 12, 10, 12), tick=False):
        a, b = _items(tenant_a.tenant, NOV), _items(tenant_b.tenant, NOV)
        assert {k: v for k, v in a.items() if k[0] == line.msisdn} == {(line.msisdn, "voice_xi"): D(40 + 60)}
        assert b[(line.msisdn, "base_fee")] == D(1000)
        assert b[(line.msisdn, "voice_xi")] == D(20)
        assert _items(tenant_a.tenant, OCT)[(line.msisdn, "base_fee")] == D(1000)
        assert (line.msisdn, "base_fee") not in _items(tenant_b.tenant, OCT)
