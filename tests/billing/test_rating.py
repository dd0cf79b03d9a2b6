"""Rating (issue 4 §2; K-4, M-DL-1..3, M-PROC-1, S-BILL-4), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from kaisen.billing.models import FeeRate, InvoiceItem, LongTermRate, PlanTariff, TaxClass
from kaisen.billing.rating import rate_month
from kaisen.billing.services import long_term_discount_add
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.lines.models import LineStatus
from kaisen.usage.models import CallRecord
from tests.billing import kit

pytestmark = pytest.mark.django_db
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)


def _items(tenant, month=MARCH, coverage="japan"):  # type: ignore[no-untyped-def]
    return kit.amounts(rate_month(tenant=tenant, coverage=coverage, month=month).invoice)


def test_call_charges_per_started_unit_and_per_count() -> None:
    """30-second units rounded up; SMS and directory assistance (104) per count (K-7 `N件`)."""
    t = kit.tenant()
    ln = kit.line(t, kit.plan("R-1"), voice={})
    a = kit.call(ln, start=kit.at(2026, 3, 2), seconds=30.0)  # 1 unit
    b = kit.call(ln, start=kit.at(2026, 3, 2, 11), seconds=30.1)  # 2 units
    c = kit.call(ln, start=kit.at(2026, 3, 2, 12), seconds=0, dest="104", units=3)
    d = kit.call(ln, start=kit.at(2026, 3, 2, 13), seconds=0, dest="09011112222", service="sms", units=2)
    rate_month(tenant=t, coverage="japan", month=MARCH)
    charges = {r.pk: r.charge for r in CallRecord.objects.filter(tenant=t)}
    assert (charges[a.pk], charges[b.pk], charges[c.pk], charges[d.pk]) == (D(20), D(40), D(180), D(6))


def test_117_171_are_ordinary_calls_and_188_189_other_carrier_services() -> None:
    """M-DL-3 ⑤: 117/171 → Xi通話料; 188/189 → 他社接続サービス通信料."""
    t = kit.tenant()
    ln = kit.line(t, kit.plan("R-2"), voice={})
    for i, dest in enumerate(["117", "171", "188", "189"]):
        kit.call(ln, start=kit.at(2026, 3, 3, 9 + i), seconds=29, dest=dest)
    items = {i.cost_type: (i.label, i.amount, i.quantity) for i in
             rate_month(tenant=t, coverage="japan", month=MARCH).invoice.items.filter(is_voice=True)}
    assert items["voice_xi"] == ("Xi通話料", D(40), D(2))
    assert items["voice_other_carrier_service"] == ("他社接続サービス通信料", D(40), D(2))


def test_international_and_roaming_are_tax_exempt() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("R-3"), voice={})
    kit.call(ln, start=kit.at(2026, 3, 4), seconds=60, dest="0101212555000")
    kit.call(ln, start=kit.at(2026, 3, 4, 11), seconds=60, dest="0312345678", roaming="out")
    inv = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    exempt = {i.cost_type: i.amount for i in inv.items.filter(tax_class=TaxClass.EXEMPT)}
    assert exempt == {"voice_international": D(60), "voice_roaming_out": D(140)}
    assert inv.exempt_total == D(200)
    assert inv.tax_total == (inv.taxable_total * D("0.1")).quantize(D(1), rounding="ROUND_FLOOR")


def test_call_spanning_the_month_end_is_billed_next_month() -> None:
    """K-4: a call from 23:59:30 on March 31 lasting a minute is billed in April, not March."""
    t = kit.tenant()
    ln = kit.line(t, kit.plan("R-4"), voice={})
    spanning = kit.call(ln, start=kit.at(2026, 3, 31, 23, 59, 30), seconds=60)
    assert spanning.billing_month == APRIL
    assert ("voice_xi" not in {c for _, c in _items(t, MARCH)})
    assert _items(t, APRIL)[(ln.msisdn, "voice_xi")] == D(40)


def test_suspended_line_is_still_charged_and_unbilled_lines_are_not() -> None:
    """M-PROC-1: charges continue while suspended. Not activated lines, and lines cancelled before the
    month, are not billed; a line cancelled during the month pays the full month (no pro-rata)."""
    t = kit.tenant()
    p = kit.plan("R-5", fee=1000)
    suspended = kit.line(t, p, status=LineStatus.SUSPENDED)
    kit.line(t, p, status=LineStatus.NOT_ACTIVATED, started_on=None)
    kit.line(t, p, status=LineStatus.CANCELLED, scheduled_end_on=dt.date(2026, 2, 28))
    ended_in_march = kit.line(t, p, status=LineStatus.CANCELLED, scheduled_end_on=dt.date(2026, 3, 10))
    started_late = kit.line(t, p, started_on=dt.date(2026, 3, 31))
    kit.line(t, p, started_on=dt.date(2026, 4, 1))  # not yet in service in March
    base = {m: a for (m, c), a in _items(t).items() if c == "base_fee"}
    assert base == {suspended.msisdn: D(1000), ended_in_march.msisdn: D(1000), started_late.msisdn: D(1000)}


def test_options_universal_service_flat_rate_and_data_overage() -> None:
    t = kit.tenant()
    p = kit.plan("R-6", fee=2000, allowance_mb=1024)
    flat = kit.line(t, p, voice={"voicemail": True, "call_waiting": True, "flat_rate_calling": True})
    plain = kit.line(t, p, voice={"voicemail": False})
    for ln in (flat, plain):
        kit.call(ln, start=kit.at(2026, 3, 5), seconds=60)  # domestic: covered by flat-rate calling
        kit.call(ln, start=kit.at(2026, 3, 5, 12), seconds=60, dest="0570000000")  # navi dial: never covered
    kit.data(plain, dt.date(2026, 3, 3), 1024 + 1)  # 1 MB over → one started 1 GB unit
    items = _items(t)
    assert items[(flat.msisdn, "option_fee")] == D(300 + 200 + 1500)
    assert (plain.msisdn, "option_fee") not in items
    assert items[(flat.msisdn, "universal_service")] == D(2)
    assert (flat.msisdn, "voice_xi") not in items  # free on the invoice ...
    assert CallRecord.objects.get(line=flat, call_type="domestic").charge == D(40)  # ... standard rate kept (M-DL-3)
    assert items[(flat.msisdn, "voice_other_carrier_service")] == D(40)
    assert items[(plain.msisdn, "voice_xi")] == D(40)
    assert items[(plain.msisdn, "data_overage")] == D(550)
    assert (flat.msisdn, "data_overage") not in items


def test_plan_with_flat_rate_calling_included_and_per_plan_fee_override() -> None:
    t = kit.tenant()
    p = kit.plan("R-7", fee=3300)
    PlanTariff.objects.create(plan=p, includes_flat_rate_calling=True)
    FeeRate.objects.create(coverage="japan", code="voicemail", plan=p, amount=D(100))
    ln = kit.line(t, p, voice={"voicemail": True, "flat_rate_calling": True})
    kit.call(ln, start=kit.at(2026, 3, 5), seconds=60, dest="09012345678", network="au")
    items = _items(t)
    assert items[(ln.msisdn, "option_fee")] == D(100)  # plan's own voicemail price; flat rate not charged again
    assert (ln.msisdn, "voice_au") not in items


def test_long_term_discount_lowers_the_base_fee_during_the_term() -> None:
    """S-BILL-4: a committed term on a Japan plan bills the discounted base fee for its months only."""
    t = kit.tenant()
    p = kit.plan("R-8", fee=1000)
    LongTermRate.objects.create(plan=p, term_months=12, monthly_fee=800)
    ln = kit.line(t, p)
    d = long_term_discount_add(tenant=t, msisdn=ln.msisdn, term_months=12, first_month=APRIL)
    assert (d.starts_on, d.ends_on) == (APRIL, dt.date(2027, 3, 1))
    assert _items(t, MARCH)[(ln.msisdn, "base_fee")] == D(1000)
    assert _items(t, APRIL)[(ln.msisdn, "base_fee")] == D(800)
    assert _items(t, dt.date(2027, 4, 1))[(ln.msisdn, "base_fee")] == D(1000)
    with pytest.raises(DomainError) as exc:
        long_term_discount_add(tenant=t, msisdn=ln.msisdn, term_months=24, first_month=APRIL)
    assert exc.value.code == ErrorCode.INVALID_OPTION
    g = kit.plan("R-8G", coverage="global")
    gl = kit.line(t, g)
    with pytest.raises(DomainError) as exc:
        long_term_discount_add(tenant=t, msisdn=gl.msisdn, term_months=12, first_month=APRIL)
    assert exc.value.code == ErrorCode.LINE_NOT_ELIGIBLE


def test_rating_another_tenant_never_touches_this_tenants_invoice_or_records() -> None:
    """T-2: every statement is scoped to the tenant being rated."""
    a, b = kit.tenant(), kit.tenant()
    p = kit.plan("R-9")
    la, lb = kit.line(a, p, voice={}), kit.line(b, p, voice={})
    kit.call(la, start=kit.at(2026, 3, 6), seconds=10)
    kit.call(lb, start=kit.at(2026, 3, 6), seconds=10)
    inv_a = rate_month(tenant=a, coverage="japan", month=MARCH).invoice
    before = sorted(InvoiceItem.objects.filter(invoice=inv_a).values_list("pk", "amount"))
    CallRecord.objects.filter(tenant=a).update(charge=None)
    inv_b = rate_month(tenant=b, coverage="japan", month=MARCH, rerate=True).invoice
    assert inv_b.pk != inv_a.pk
    assert sorted(InvoiceItem.objects.filter(invoice=inv_a).values_list("pk", "amount")) == before
    assert not InvoiceItem.objects.filter(invoice=inv_b, tenant=a).exists()
    assert CallRecord.objects.get(tenant=a).charge is None  # b's rating did not rate a's calls
    assert CallRecord.objects.get(tenant=b).charge == D(20)


def test_rerating_rewrites_the_provisional_invoice_without_duplicating() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("R-10"), voice={})
    kit.call(ln, start=kit.at(2026, 3, 6), seconds=10)
    first = rate_month(tenant=t, coverage="japan", month=MARCH)
    kit.call(ln, start=kit.at(2026, 3, 7), seconds=10)
    second = rate_month(tenant=t, coverage="japan", month=MARCH)
    # Issue 10 §4: the call was rated when stored; rating the month only rewrites the items (no call UPDATE).
    assert second.invoice.pk == first.invoice.pk and second.calls_rated == 0
    assert second.invoice.items.filter(cost_type="voice_xi").get().amount == D(40)
    assert second.invoice.items.filter(cost_type="base_fee").count() == 1
