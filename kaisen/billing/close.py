"""The monthly close (issue 4 §3; S-BILL-1, S-BILL-3, S-COV-1, X-INVOICE-JP).

One close per tenant, coverage and month, after the month has ended:

1. rate the month one last time (new call records, the payments app's extra fees) and freeze the items;
2. tax once per rate on the item sums (``tax.compute_tax``);
3. Global: the month's TTS rate (``TtsRate``) must exist — the close refuses without it — and the USD
   total is converted to yen, rounded down;
4. prepaid coupons are consumed first (S-BILL-3), oldest expiry first; a coupon larger than the month
   keeps its remainder for later months;
5. a month whose amount is zero, or fully covered by coupons, issues no invoice: status ``no_charge``,
   no number, no issue date;
6. otherwise: status ``final``, an invoice number, amounts final on the 2nd business day of the next
   month, issued on its 4th business day (then ``invoiced``), due on the last day of the issue month
   (``kaisen.core.calendar``: weekends, Japanese holidays, ``KAISEN_CLOSED_DAYS`` — year-end 12/29–1/3
   by default);
7. the issuer (``KAISEN_INVOICE_ISSUER_NAME``, ``KAISEN_INVOICE_REGISTRATION_NUMBER``) and recipient are
   copied onto the invoice, so a reprint shows what was issued;
8. combined billing (S-BILL-5, ``kaisen.billing.combined``): a member account's month is closed as above but
   becomes ``combined`` into the payer's invoice (its own share, no number); the payer's close closes its
   members first and taxes the sum of every account's items once per rate.

Closing again returns the closed invoice unchanged (idempotent; the unique constraint on tenant,
coverage and month makes a second invoice impossible, and ``CouponUse`` is unique per coupon and
invoice). Invoices are never deleted (``PROTECT``) and kept 7 years (``RETENTION_YEARS``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from kaisen.billing import combined
from kaisen.billing.models import Coupon, CouponUse, Invoice, InvoiceStatus, TtsRate
from kaisen.billing.rating import invoice_tax, late_data_billed, month_start, open_invoice, rate_month
from kaisen.billing.tax import TaxSummary, usd_to_jpy
from kaisen.carriers.models import Coverage
from kaisen.core import clock, metrics
from kaisen.core.calendar import first_of_next_month, last_day_of_month, nth_business_day_of_month
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.tenancy.models import Tenant

RETENTION_YEARS = 7
FINAL_BUSINESS_DAY = 2  # amounts final (S-BILL-1, seed 001 §4.3)
ISSUE_BUSINESS_DAY = 4  # invoice issued (S-BILL-1, seed 001 §4.1.2)

_REG_RE = re.compile(r"^T(\d)(\d{12})$")


def registration_number_valid(value: str) -> bool:
    """``T`` + 13 digits whose first digit is the check digit of the corporate number (法人番号):
    ``9 - (Σ Pn × Qn mod 9)`` over the 12 other digits, ``Pn`` the n-th digit from the right, ``Qn`` 1
    for odd n and 2 for even n."""
    match = _REG_RE.match(value or "")
    if not match:
        return False
    check, base = int(match.group(1)), match.group(2)
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), start=1))
    return check == 9 - total % 9


@dataclass(frozen=True)
class BillingDates:
    final_on: dt.date
    issued_on: dt.date
    due_on: dt.date


def billing_dates(month: dt.date) -> BillingDates:
    """For a month of use: amounts final on the 2nd business day of the next month, invoice issued on its
    4th business day, due on the last day of the issue month (S-BILL-1)."""
    nxt = first_of_next_month(month_start(month))
    issued = nth_business_day_of_month(nxt.year, nxt.month, ISSUE_BUSINESS_DAY)
    return BillingDates(final_on=nth_business_day_of_month(nxt.year, nxt.month, FINAL_BUSINESS_DAY),
                        issued_on=issued, due_on=last_day_of_month(issued))


def invoice_number(invoice: Invoice) -> str:
    """Deterministic, so a repeated close can never mint a second number: ``KS-<operator>-<J|G>-<yyyymm>``."""
    cov = "G" if invoice.coverage == Coverage.GLOBAL else "J"
    return f"KS-{invoice.tenant.public_id}-{cov}-{invoice.month:%Y%m}"


def _issuer() -> tuple[str, str]:
    name = str(getattr(settings, "KAISEN_INVOICE_ISSUER_NAME", "")).strip()
    number = str(getattr(settings, "KAISEN_INVOICE_REGISTRATION_NUMBER", "")).strip()
    if not name or not registration_number_valid(number):
        raise DomainError(ErrorCode.INVOICE_ISSUER_INVALID, _(
            "Set KAISEN_INVOICE_ISSUER_NAME and a valid KAISEN_INVOICE_REGISTRATION_NUMBER ('T' and 13 digits) "
            "before closing: a qualified invoice needs them."))
    return name, number


def _consume_coupons(invoice: Invoice, amount: Decimal) -> Decimal:
    """Take up to ``amount`` from the tenant's coupons of the coverage; returns what was taken."""
    if amount <= 0:
        return Decimal(0)
    end = last_day_of_month(invoice.month)
    coupons = (Coupon.objects.select_for_update()
               .filter(tenant_id=invoice.tenant_id, coverage=invoice.coverage, balance__gt=0, purchased_on__lte=end)
               .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=invoice.month))
               .order_by(F("expires_on").asc(nulls_last=True), "purchased_on", "id"))
    taken = Decimal(0)
    for coupon in coupons:
        if taken >= amount:
            break
        take = min(coupon.balance, amount - taken)
        coupon.balance -= take
        coupon.save(update_fields=["balance"])
        CouponUse.objects.create(coupon=coupon, invoice=invoice, amount=take)
        taken += take
    return taken


def issue_due(*, today: dt.date | None = None) -> int:
    """Mark final invoices whose issue date has come as ``invoiced``, each with its ``invoice.issued`` event
    (issue 13 §1) in the same transaction. Returns how many."""
    today = today or clock.today_jst()
    with transaction.atomic():
        due = list(Invoice.objects.select_for_update().filter(status=InvoiceStatus.FINAL, issued_on__lte=today))
        Invoice.objects.filter(pk__in=[i.pk for i in due]).update(status=InvoiceStatus.INVOICED,
                                                                 updated_at=clock.now())
        for invoice in due:
            invoice.status = InvoiceStatus.INVOICED
            invoice_issued_event(invoice)
    return len(due)


def invoice_issued_event(invoice: Invoice) -> None:
    event_emit(tenant_id=invoice.tenant_id, type=catalogue.INVOICE_ISSUED, data={
        "invoice_id": invoice.pk, "number": invoice.number, "month": f"{invoice.month:%Y-%m}",
        "coverage": invoice.coverage, "total": str(invoice.total), "currency": invoice.currency,
        "due_on": invoice.due_on.isoformat() if invoice.due_on else None})


@metrics.timed_calls(metrics.CLOSE_SECONDS)
@transaction.atomic
def close_month(*, tenant: Tenant, coverage: str, month: dt.date, today: dt.date | None = None,
                actor: str = "") -> Invoice:
    """Close ``month`` (any day in it) for ``tenant`` and ``coverage``; see the module docstring."""
    from kaisen.audit.services import audit_record

    today = today or clock.today_jst()
    start = month_start(month)
    if today < first_of_next_month(start):
        raise DomainError(ErrorCode.MONTH_NOT_ENDED, _("%(month)s has not ended yet; it can be closed from %(day)s.")
                          % {"month": f"{start:%Y-%m}", "day": first_of_next_month(start).isoformat()})
    invoice = Invoice.objects.select_for_update().get(pk=open_invoice(tenant=tenant, coverage=coverage, month=start).pk)
    if invoice.closed_at is not None:
        return invoice
    tts: TtsRate | None = None
    if coverage == Coverage.GLOBAL:
        tts = TtsRate.objects.filter(month=start).first()
        if tts is None:
            raise DomainError(ErrorCode.TTS_RATE_MISSING, _(
                "Enter the TTS rate of %(month)s first (kaisen admin billing tts-rate set): Global charges are "
                "converted to yen at it.") % {"month": f"{start:%Y-%m}"})
    issuer_name, issuer_number = _issuer()
    result = rate_month(tenant=tenant, coverage=coverage, month=start)
    late_data_billed(tenant=tenant, coverage=coverage, month=start)  # issue 10 §4: its adjustments are frozen now
    invoice = result.invoice
    summary = result.summary
    coupon = _consume_coupons(invoice, summary.total)
    dates = billing_dates(start)
    invoice.final_on = dates.final_on
    invoice.issuer_name = issuer_name
    invoice.issuer_registration_number = issuer_number
    invoice.recipient_name = tenant.legal_name
    invoice.closed_at = clock.now()
    arrangement = combined.arrangement_for_member(member=tenant, coverage=coverage, month=start)
    if arrangement is not None:
        # S-BILL-5: billed on the payer's invoice; this row keeps the account's own share.
        _set_amounts(invoice, summary, coupon, tts)
        invoice.combined_into = open_invoice(tenant=arrangement.payer, coverage=coverage, month=start)
        invoice.status = InvoiceStatus.COMBINED
        invoice.number = ""
        invoice.issued_on = None
        invoice.due_on = None
    else:
        members = [close_month(tenant=m.member, coverage=coverage, month=start, today=today, actor=actor)
                   for m in combined.members_of(payer=tenant, coverage=coverage, month=start)]
        if members:
            # The payer's invoice bills every account: tax once per rate on the sum of all their items.
            summary = invoice_tax(invoice, with_combined=True)
            coupon += sum((m.coupon_applied for m in members), Decimal(0))
        _set_amounts(invoice, summary, coupon, tts)
        if invoice.total <= 0:
            # S-BILL-1 / S-BILL-3: a zero month, or one fully covered by coupons, issues no invoice.
            invoice.status = InvoiceStatus.NO_CHARGE
            invoice.number = ""
            invoice.issued_on = None
            invoice.due_on = None
        else:
            invoice.number = invoice_number(invoice)
            invoice.issued_on = dates.issued_on
            invoice.due_on = dates.due_on
            invoice.status = InvoiceStatus.INVOICED if today >= dates.issued_on else InvoiceStatus.FINAL
    invoice.save()
    if invoice.status == InvoiceStatus.INVOICED:
        invoice_issued_event(invoice)
    audit_record(action="billing.invoice.close", tenant=tenant, actor=actor or "kaisen admin billing", target=invoice,
                 changes={"month": [None, f"{start:%Y-%m}"], "coverage": [None, coverage],
                          "status": [InvoiceStatus.ACCUMULATING, invoice.status], "total": [None, str(invoice.total)],
                          "coupon_applied": [None, str(coupon)],
                          **({"combined_into": [None, invoice.combined_into_id]} if invoice.combined_into_id else {})})
    return invoice


def _set_amounts(invoice: Invoice, summary: TaxSummary, coupon: Decimal, tts: TtsRate | None) -> None:
    """The invoice's stored figures: totals per tax class and tax (``summary``), coupons, the amount billed
    and, for Global, its yen amount at the month's TTS rate."""
    invoice.taxable_total = summary.taxable_total
    invoice.tax_total = summary.tax_total
    invoice.exempt_total = summary.exempt_total
    invoice.coupon_applied = coupon
    invoice.total = summary.total - coupon
    if tts is not None:
        invoice.jpy_rate = tts.jpy_per_usd
        invoice.total_jpy = usd_to_jpy(invoice.total, tts.jpy_per_usd)
    else:
        invoice.total_jpy = int(invoice.total)


def close_all(*, month: dt.date, today: dt.date | None = None, actor: str = "",
              tenants: list[Tenant] | None = None) -> list[Invoice | DomainError]:
    """Close ``month`` for every active tenant and each of its coverages; one transaction per invoice, so
    one refusal (e.g. a missing TTS rate) does not hold the others back."""
    out: list[Invoice | DomainError] = []
    for tenant in tenants if tenants is not None else Tenant.objects.filter(is_active=True).order_by("pk"):
        for coverage in tenant.coverages:
            try:
                out.append(close_month(tenant=tenant, coverage=coverage, month=month, today=today, actor=actor))
            except DomainError as exc:
                exc.details = {**exc.details, "tenant": tenant.public_id, "coverage": coverage}
                out.append(exc)
    return out
