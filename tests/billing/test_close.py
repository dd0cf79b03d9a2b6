"""Monthly close (issue 4 §3; S-BILL-1, S-BILL-3, S-COV-1, X-INVOICE-JP), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from kaisen.billing.close import close_month, registration_number_valid
from kaisen.billing.models import Coupon, CouponUse, FeeRate, Invoice, InvoiceStatus, PlanTariff
from kaisen.billing.rating import rate_month
from kaisen.billing.services import close_due, coupon_add, tts_rate_set
from kaisen.core.errors import DomainError, ErrorCode
from tests.billing import kit

pytestmark = pytest.mark.django_db
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
AFTER = dt.date(2026, 4, 20)  # after the April issue date


def _tenant_with_lines(n: int = 1, fee: int = 1000, code: str = "C-1") -> tuple:  # type: ignore[type-arg]
    FeeRate.objects.filter(code="universal_service").delete()  # round numbers
    t = kit.tenant()
    p = kit.plan(code, fee=fee)
    return t, [kit.line(t, p) for _ in range(n)]


def test_two_105_yen_items_give_21_yen_tax_on_the_invoice() -> None:
    """X-INVOICE-JP end to end: two base fees of ¥105 → tax ¥21 on the invoice."""
    t, _lines = _tenant_with_lines(2, fee=105)
    inv = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    assert (inv.taxable_total, inv.tax_total, inv.total) == (D(210), D(21), D(231))


def test_close_sets_number_dates_issuer_and_recipient() -> None:
    """S-BILL-1: final on the 2nd business day, issued on the 4th (April 2026: 2nd and 6th), due at the end
    of the issue month; the qualified-invoice data are copied onto the invoice."""
    t, _lines = _tenant_with_lines(1)
    inv = close_month(tenant=t, coverage="japan", month=MARCH, today=dt.date(2026, 4, 2))
    assert inv.status == InvoiceStatus.FINAL  # issue date not reached yet
    assert inv.number == f"KS-{t.public_id}-J-202603"
    assert (inv.final_on, inv.issued_on, inv.due_on) == (dt.date(2026, 4, 2), dt.date(2026, 4, 6), dt.date(2026, 4, 30))
    assert inv.issuer_name and registration_number_valid(inv.issuer_registration_number)
    assert inv.recipient_name == t.legal_name
    assert inv.currency == "JPY" and inv.total_jpy == 1100
    assert close_due(today=dt.date(2026, 4, 6)) >= 1
    inv.refresh_from_db()
    assert inv.status == InvoiceStatus.INVOICED


def test_closing_twice_gives_the_same_invoice() -> None:
    t, lines = _tenant_with_lines(1)
    coupon_add(tenant=t, coverage="japan", code="TWICE", amount=500, purchased_on=dt.date(2026, 1, 1))
    first = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    kit.call(lines[0], start=kit.at(2026, 3, 9), seconds=600)  # a late record cannot change a closed month
    again = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    assert (again.pk, again.number, again.total, again.closed_at) == (first.pk, first.number, first.total,
                                                                      first.closed_at)
    assert Invoice.objects.filter(tenant=t, month=MARCH).count() == 1
    assert CouponUse.objects.filter(invoice=first).count() == 1
    assert Coupon.objects.get(code="TWICE").balance == D(0)
    with pytest.raises(DomainError) as exc:
        rate_month(tenant=t, coverage="japan", month=MARCH)
    assert exc.value.code == ErrorCode.INVOICE_CLOSED
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(tenant=t, coverage="japan", month=MARCH)


def test_zero_month_issues_no_invoice() -> None:
    t = kit.tenant()
    inv = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    assert inv.status == InvoiceStatus.NO_CHARGE
    assert inv.number == "" and inv.issued_on is None and inv.total == D(0)


def test_coupon_larger_than_the_month_leaves_a_remainder_and_no_invoice() -> None:
    """S-BILL-3: no invoice for a month fully covered; the rest pays later months."""
    t, _lines = _tenant_with_lines(1)  # 1,000 + 100 tax = 1,100 a month
    coupon_add(tenant=t, coverage="japan", code="BIG", amount=1500, purchased_on=dt.date(2026, 2, 15))
    march = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    assert march.status == InvoiceStatus.NO_CHARGE and march.number == ""
    assert (march.coupon_applied, march.total) == (D(1100), D(0))
    assert Coupon.objects.get(code="BIG").balance == D(400)
    april = close_month(tenant=t, coverage="japan", month=APRIL, today=dt.date(2026, 5, 20))
    assert (april.coupon_applied, april.total, april.status) == (D(400), D(700), InvoiceStatus.INVOICED)
    assert Coupon.objects.get(code="BIG").balance == D(0)


def test_coupon_smaller_than_the_month_leaves_an_amount_to_pay() -> None:
    t, _lines = _tenant_with_lines(2)  # 2,200
    coupon_add(tenant=t, coverage="japan", code="SMALL-1", amount=300, purchased_on=dt.date(2026, 1, 1),
               expires_on=dt.date(2026, 12, 31))
    coupon_add(tenant=t, coverage="japan", code="SMALL-2", amount=200, purchased_on=dt.date(2026, 1, 1))
    coupon_add(tenant=t, coverage="japan", code="LATER", amount=900, purchased_on=dt.date(2026, 4, 2))
    inv = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    assert (inv.coupon_applied, inv.total, inv.total_jpy) == (D(500), D(1700), 1700)
    assert inv.tax_total == D(200)  # tax is on the charges; the coupon is a prepayment
    assert inv.status == InvoiceStatus.INVOICED and inv.number
    assert Coupon.objects.get(code="LATER").balance == D(900)  # bought after the month


def test_global_month_needs_its_tts_rate_and_converts_usd_to_yen() -> None:
    """S-COV-1: USD invoice, converted at the month's TTS rate, rounded down to the yen."""
    t = kit.tenant(coverage_global=True)
    g = kit.plan("C-G", coverage="global", allowance_mb=None)
    PlanTariff.objects.create(plan=g, usd_monthly_fee=D("1.85"))
    for _ in range(3):
        kit.line(t, g)
    with pytest.raises(DomainError) as exc:
        close_month(tenant=t, coverage="global", month=MARCH, today=AFTER)
    assert exc.value.code == ErrorCode.TTS_RATE_MISSING
    assert not Invoice.objects.filter(tenant=t, coverage="global", closed_at__isnull=False).exists()
    tts_rate_set(month=MARCH, jpy_per_usd="149.87")
    inv = close_month(tenant=t, coverage="global", month=MARCH, today=AFTER)
    assert inv.currency == "USD" and inv.taxable_total == D("5.55") and inv.tax_total == D("0.55")
    assert inv.total == D("6.10") and inv.jpy_rate == D("149.87")
    assert inv.total_jpy == 914  # 6.10 × 149.87 = 914.207 → 914
    assert inv.number.endswith("-G-202603")
    with pytest.raises(DomainError) as exc:
        tts_rate_set(month=MARCH, jpy_per_usd="150")  # closed at another rate
    assert exc.value.code == ErrorCode.INVOICE_CLOSED
    for bad in ("0", "-1", "abc", "NaN"):
        with pytest.raises(DomainError):
            tts_rate_set(month=APRIL, jpy_per_usd=bad)


def test_month_not_ended_cannot_be_closed() -> None:
    t, _lines = _tenant_with_lines(1)
    with pytest.raises(DomainError) as exc:
        close_month(tenant=t, coverage="japan", month=MARCH, today=dt.date(2026, 3, 31))
    assert exc.value.code == ErrorCode.MONTH_NOT_ENDED
    assert not Invoice.objects.filter(tenant=t, closed_at__isnull=False).exists()


def test_registration_number_is_validated(settings) -> None:  # type: ignore[no-untyped-def]
    """X-INVOICE-JP: ``T`` + 13 digits with the corporate-number check digit; the close refuses without."""
    assert registration_number_valid("T7000012050002")  # 国税庁's own corporate number
    for bad in ("7000012050002", "T700001205000", "T1000012050002", "T70000120500021", "", "TABCDEFGHIJKLM"):
        assert not registration_number_valid(bad), bad
    t, _lines = _tenant_with_lines(1)
    settings.KAISEN_INVOICE_REGISTRATION_NUMBER = "T1000012050002"
    with pytest.raises(DomainError) as exc:
        close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    assert exc.value.code == ErrorCode.INVOICE_ISSUER_INVALID


def test_extra_fees_of_the_payments_app_are_billed(monkeypatch: pytest.MonkeyPatch) -> None:
    """S-PAY-1: the ¥200 postal-invoice fee the payments app reports (registered with billing's extra fees,
    issue 16 §3) is an account item of the invoice."""
    from kaisen.billing import extra_fees

    t, _lines = _tenant_with_lines(1)
    monkeypatch.setitem(extra_fees._providers._providers, "payments", lambda **kw: [
        {"cost_type": "postal_fee", "label": "請求書郵送料", "amount": D(200), "tax_class": "taxable_10",
         "currency": "JPY"}] if kw["tenant"] == t else [])
    inv = close_month(tenant=t, coverage="japan", month=MARCH, today=AFTER)
    fee = inv.items.get(cost_type="postal_fee")
    assert (fee.msisdn, fee.line_id, fee.amount) == ("", None, D(200))
    assert inv.total == D(1320)


def test_scheduled_jobs_rate_open_months_and_close_from_the_2nd_business_day() -> None:
    """What runs when (docs/billing.md): hourly rating of open months; the close from the 2nd business day."""
    from kaisen.billing.services import rate_open_months

    t, lines = _tenant_with_lines(1)
    kit.call(lines[0], start=kit.at(2026, 3, 30), seconds=30)
    assert rate_open_months(today=dt.date(2026, 4, 1)) == 2  # March still open on April 1st, and April
    march = Invoice.objects.get(tenant=t, month=MARCH)
    assert march.status == InvoiceStatus.ACCUMULATING and march.total == D(1122)
    assert Invoice.objects.filter(tenant=t, month=APRIL, status=InvoiceStatus.ACCUMULATING).exists()
    close_due(today=dt.date(2026, 4, 1))  # 1st business day: amounts not final yet
    march.refresh_from_db()
    assert march.closed_at is None
    close_due(today=dt.date(2026, 4, 2))  # 2nd business day
    march.refresh_from_db()
    assert march.closed_at is not None and march.status == InvoiceStatus.FINAL
    assert rate_open_months(today=dt.date(2026, 4, 3)) == 1  # only April: a closed month is not rated again
