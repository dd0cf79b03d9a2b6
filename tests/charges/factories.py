"""Factories for invoices, their items and call records (the Charges pages, bills API and PDF tests).

The rows are made directly, as rating and the close would store them: these tests prove what the pages,
the API and the PDF show from stored figures, not how the figures are computed (that is rating's tests).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import Decimal

from kaisen.billing.models import ChargeCategory, Currency, Invoice, InvoiceItem, InvoiceStatus, TaxClass
from kaisen.billing.rating import category_totals_write, rerate_calls
from kaisen.carriers.models import Coverage
from kaisen.core.clock import JST
from kaisen.lines.models import Line
from kaisen.tenancy.models import Tenant
from kaisen.usage.models import CallRecord, CallType, UsageFile

ISSUER = "株式会社カイセンモバイル"
ISSUER_T = "T1234567890123"
_seq = itertools.count(1)


def invoice_make(tenant: Tenant, month: dt.date, *, status: str = InvoiceStatus.INVOICED,
                 coverage: str = Coverage.JAPAN, currency: str = Currency.JPY, taxable: str = "0", tax: str = "0",
                 exempt: str = "0", coupon: str = "0", total: str | None = None, jpy_rate: str | None = None,
                 total_jpy: int | None = None, issued: bool | None = None) -> Invoice:
    issued = status in (InvoiceStatus.INVOICED, InvoiceStatus.PAID, InvoiceStatus.PAYMENT_ERROR) if issued is None \
        else issued
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    amount = (Decimal(total) if total is not None
              else Decimal(taxable) + Decimal(tax) + Decimal(exempt) - Decimal(coupon))
    return Invoice.objects.create(
        tenant=tenant, coverage=coverage, month=month, currency=currency, status=status,
        number=f"INV-{month:%Y%m}-{next(_seq):06d}" if issued else "",
        taxable_total=Decimal(taxable), tax_total=Decimal(tax), exempt_total=Decimal(exempt),
        coupon_applied=Decimal(coupon), total=amount,
        jpy_rate=Decimal(jpy_rate) if jpy_rate else None,
        total_jpy=total_jpy if total_jpy is not None else (int(amount) if currency == Currency.JPY else 0),
        final_on=next_month + dt.timedelta(days=1) if status != InvoiceStatus.ACCUMULATING else None,
        issued_on=next_month + dt.timedelta(days=5) if issued else None,
        due_on=(next_month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        if issued else None,
        issuer_name=ISSUER if issued else "", issuer_registration_number=ISSUER_T if issued else "",
        recipient_name=tenant.legal_name if issued else "",
    )


def item_make(invoice: Invoice, *, amount: str, category: str = ChargeCategory.FEE, label: str = "月額基本料金",
              cost_type: str = "", line: Line | None = None, tax_class: str = TaxClass.TAXABLE_10,
              quantity: str = "1") -> InvoiceItem:
    item = InvoiceItem.objects.create(
        invoice=invoice, tenant=invoice.tenant, line=line, msisdn=(line.msisdn or "") if line else "",
        cost_type=cost_type or category, label=label, category=category,
        is_voice=category in (ChargeCategory.DOMESTIC, ChargeCategory.INTERNATIONAL, ChargeCategory.MOBILE_AU,
                              ChargeCategory.MOBILE_OTHER),
        quantity=Decimal(quantity), amount=Decimal(amount), tax_class=tax_class,
    )
    category_totals_write(invoice)  # the sums rating stores with its items (what the pages read)
    return item


def usage_file() -> UsageFile:
    return UsageFile.objects.create(kind="calls", name=f"calls-{uuid.uuid4().hex[:8]}.csv", sha256=uuid.uuid4().hex * 2)


def call_make(line: Line, started_at: dt.datetime, *, source: UsageFile, duration_ds: int = 665,
              call_type: str = CallType.DOMESTIC, charge: str | None = "8.00", destination: str = "0312345678",
              area: str = "東京", units: int = 1, billing_month: dt.date | None = None) -> CallRecord:
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=JST)
    end = (started_at + dt.timedelta(seconds=duration_ds / 10)).astimezone(JST)
    record = CallRecord.objects.create(
        tenant=line.tenant, line=line, msisdn=line.msisdn or "", started_at=started_at, duration_ds=duration_ds,
        units=units, billing_month=billing_month or end.date().replace(day=1), destination_number=destination,
        destination_area=area, call_type=call_type, tax_exempt=call_type in ("international", "roaming_out"),
        charge=Decimal(charge) if charge is not None else None, record_id=uuid.uuid4().hex, source_file=source,
    )
    # The rollups the pages read (issue 10 §4), from the charge given here.
    rerate_calls(line_ids=[line.pk], since=started_at.astimezone(JST).date(), keep_charges=True,
                 include_closed=True)
    return record
