"""Bills over the API (issue 4 §8; K-4, S-BILL-2, X-INVOICE-JP, X-API).

Every route is tenant-scoped (another tenant's bill or line answers 404 ``NOT_FOUND``, exactly like one
that does not exist) and needs ``Billing:read`` (403 ``PERMISSION_DENIED`` naming the action otherwise).
Amounts are decimal strings in the invoice's currency, tax excluded unless the field says otherwise; every
object that carries an amount names that currency in its own ``currency`` field (issue 10 §7: JPY for the
Japan coverage, USD for Global — two currencies are never added together).
The reading lives in ``kaisen.billing.charges``; this module only maps.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from kaisen.accounts.models import User
from kaisen.billing import charges, combined
from kaisen.billing.charges import Bill, NumberCharges
from kaisen.billing.models import ChargeCategory, CombinedBilling, InvoiceItem
from kaisen.billing.pdf import invoice_pdf, invoice_pdf_filename
from kaisen.carriers.models import Coverage
from kaisen.core.clock import JST
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import Id
from kaisen.core.schemas import ErrorOut, PathText, one_of
from kaisen.tenancy.models import Tenant

router = Router(tags=["billing"])


#: Issue 10 §7: every object with an amount names its currency.
CURRENCY_FIELD = Field(description="ISO 4217 code of every amount in this object: JPY (Japan coverage) or "
                                   "USD (Global).")


class CategoryAmountsOut(Schema):
    """Charges by category (tax excluded). ``mobile`` = ``mobile_au`` + ``mobile_other`` (K-4)."""

    fee: Decimal
    domestic: Decimal
    international: Decimal
    mobile: Decimal
    mobile_au: Decimal
    mobile_other: Decimal
    sms: Decimal
    data: Decimal
    discount: Decimal
    subtotal: Decimal = Field(description="Every category together, tax excluded.")


class CombinedIntoOut(Schema):
    """S-BILL-5: the invoice a member account's month is billed on (no amounts of the paying account)."""

    operator_id: str = Field(description="The paying account.")
    company_name: str
    invoice_number: str = Field(description="Empty until that invoice is closed.")
    status: str
    status_label: str


class AccountShareOut(Schema):
    """One account's share of a combined invoice, tax excluded; coupons are the account's own (S-BILL-5)."""

    operator_id: str
    company_name: str
    payer: bool = Field(description="True for the paying account (the invoice's recipient).")
    currency: str = CURRENCY_FIELD
    taxable: Decimal
    exempt: Decimal
    coupon_applied: Decimal


class CombinedBillingOut(Schema):
    id: int
    role: str = Field(description="payer: this account pays for the other; member: this account is billed on "
                                  "the other's invoice.")
    payer_operator_id: str
    payer_company_name: str
    member_operator_id: str
    member_company_name: str
    coverage: str
    first_month: str = Field(description="YYYY-MM")
    last_month: str | None = Field(description="YYYY-MM; null while it has no end.")


class BillOut(Schema):
    id: int
    month: str = Field(description="Month of use, YYYY-MM.")
    coverage: str
    currency: str = Field(description="ISO 4217 code of every amount of the bill (its charges, cost types and "
                                      "accounts too): JPY (Japan coverage) or USD (Global). ``total_jpy`` is "
                                      "always yen.")
    status: str = Field(description="accumulating | final | invoiced | paid | payment_error | no_charge | combined")
    status_label: str
    number: str = Field(description="Invoice number; empty until issued.")
    charges: CategoryAmountsOut
    taxable_total: Decimal
    tax_total: Decimal = Field(description="Consumption tax, computed once per rate for the whole invoice.")
    exempt_total: Decimal
    coupon_applied: Decimal
    total: Decimal = Field(description="Amount billed, tax included, after coupons (0 while accumulating).")
    jpy_rate: Decimal | None = Field(description="Global (USD) invoices: the month's TTS rate, JPY per USD.")
    total_jpy: int
    final_on: dt.date | None
    issued_on: dt.date | None
    due_on: dt.date | None
    pdf_available: bool = Field(description="Whether `GET /bills/{id}/pdf` has a qualified invoice to give.")
    combined_into: CombinedIntoOut | None = Field(
        description="Status `combined`: this account's month is billed on another account's invoice (S-BILL-5); "
                    "the amounts here are this account's share.")


class CostTypeOut(Schema):
    currency: str = CURRENCY_FIELD
    tax_class: str
    category: str
    cost_type: str
    label: str
    quantity: Decimal
    numbers: int
    amount: Decimal


class BillDetailOut(BillOut):
    issuer_name: str
    issuer_registration_number: str
    recipient_name: str
    cost_types: list[CostTypeOut]
    accounts: list[AccountShareOut] = Field(
        description="A combined invoice (S-BILL-5): each account's share, the paying account first; empty "
                    "otherwise. The totals and cost types above are those of every account together.")


class ItemOut(Schema):
    id: int
    msisdn: str
    line_id: int | None
    cost_type: str
    label: str
    category: str
    is_voice: bool
    quantity: Decimal
    amount: Decimal
    currency: str = CURRENCY_FIELD
    tax_class: str


class ItemPageOut(Schema):
    items: list[ItemOut]
    next_cursor: str | None
    prev_cursor: str | None


class ItemQuery(Schema):
    msisdn: str = Field("", description="Only this phone number's items.")
    cursor: str | None = None
    limit: int = Field(100, ge=1, le=500)


class NumberChargesOut(Schema):
    """One number's call charges of the month at the standard rate, tax excluded (K-4, K-6)."""

    msisdn: str
    line_id: int | None
    currency: str = CURRENCY_FIELD
    total: Decimal = Field(description="K-6 合計料金: the four call columns together.")
    domestic: Decimal
    international: Decimal
    au: Decimal
    other_mobile: Decimal


class NumberPageOut(Schema):
    items: list[NumberChargesOut]
    count: int
    next_cursor: str | None
    prev_cursor: str | None


class NumberQuery(Schema):
    q: str = Field("", description="Phone number, or its beginning.")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=500)


if TYPE_CHECKING:
    AnyCoverage = str
else:
    AnyCoverage = one_of(["", *Coverage.values])


class BillsQuery(Schema):
    months: int = Field(charges.DEFAULT_MONTHS, ge=1, le=charges.MAX_MONTHS,
                        description="How many months back, the current one included (K-4 shows 4).")
    coverage: AnyCoverage = Field("", description="`japan` or `global`; empty: both.")


class DayOut(Schema):
    date: dt.date
    currency: str = CURRENCY_FIELD
    amount: Decimal = Field(description="Call and SMS charges of the day as billed (Japan time, by call start).")
    cumulative: Decimal


class CurrentOut(Schema):
    month: str
    coverage: str
    currency: str = Field(description="ISO 4217 code of every amount here: JPY (Japan coverage) or USD (Global).")
    provisional: bool = True
    invoice_id: int | None
    status: str
    charges: CategoryAmountsOut
    tax: Decimal = Field(description="Consumption tax if the month closed now (once per rate).")
    total: Decimal = Field(description="Tax included, before coupons; an estimate until the amount is final.")
    days: list[DayOut] = Field(description="Every day of the month up to today.")


class CurrentQuery(Schema):
    coverage: AnyCoverage = Field(Coverage.JAPAN, description="`japan` or `global`; empty: `japan`.")


class CallOut(Schema):
    no: int
    started_at: dt.datetime
    start_time: str = Field(description="Japan time to a tenth of a second, hh:mm:ss.s.")
    destination_number: str
    destination_area: str
    call_type: str
    is_internal: bool
    duration_ds: int = Field(description="Duration in tenths of a second.")
    duration: str = Field(description="hhmmss.s, or the count for directory assistance and SMS (K-7).")
    units: int
    charge: Decimal | None = Field(description="Standard rate, tax excluded; null while not rated.")
    currency: str = CURRENCY_FIELD


class CallPageOut(Schema):
    invoice_id: int
    msisdn: str
    month: str
    page: int
    pages: int
    per_page: int
    count: int
    currency: str = CURRENCY_FIELD
    total_charge: Decimal = Field(description="The calls' charges (standard rates, tax excluded), SMS not included: "
                                              "the same figure as the number's `total` in `/bills/{id}/numbers`.")
    sms_charge: Decimal = Field(description="The SMS listed here, apart from `total_charge`.")
    items: list[CallOut]


class CallQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(charges.CALLS_PER_PAGE, ge=1, le=100, description="Calls per page (K-4: 10).")


def _who(request: HttpRequest) -> tuple[Tenant, User]:
    user: User = request.auth  # type: ignore[attr-defined]
    if user.tenant is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    return user.tenant, user


def _amounts(breakdown: charges.Breakdown) -> dict[str, Any]:
    out = {value: breakdown.get(value) for value in ChargeCategory.values}
    out["mobile"] = breakdown.mobile
    out["subtotal"] = breakdown.subtotal
    return out


def bill_out(bill: Bill) -> dict[str, Any]:
    inv = bill.invoice
    return {
        "id": inv.pk, "month": inv.month.strftime("%Y-%m"), "coverage": inv.coverage, "currency": inv.currency,
        "status": inv.status, "status_label": str(inv.get_status_display()), "number": inv.number,
        "charges": _amounts(bill.breakdown), "taxable_total": inv.taxable_total, "tax_total": inv.tax_total,
        "exempt_total": inv.exempt_total, "coupon_applied": inv.coupon_applied, "total": inv.total,
        "jpy_rate": inv.jpy_rate, "total_jpy": inv.total_jpy, "final_on": inv.final_on, "issued_on": inv.issued_on,
        "due_on": inv.due_on, "pdf_available": bill.pdf_available, "combined_into": _combined_into(bill),
    }


def _combined_into(bill: Bill) -> dict[str, Any] | None:
    payer = bill.invoice.combined_into
    if payer is None:
        return None
    return {"operator_id": payer.tenant.public_id, "company_name": payer.tenant.legal_name,
            "invoice_number": payer.number, "status": payer.status, "status_label": str(payer.get_status_display())}


def combined_billing_out(row: CombinedBilling, tenant: Tenant) -> dict[str, Any]:
    return {"id": row.pk, "role": "payer" if row.payer_id == tenant.pk else "member",
            "payer_operator_id": row.payer.public_id, "payer_company_name": row.payer.legal_name,
            "member_operator_id": row.member.public_id, "member_company_name": row.member.legal_name,
            "coverage": row.coverage, "first_month": f"{row.first_month:%Y-%m}",
            "last_month": f"{row.last_month:%Y-%m}" if row.last_month else None}


def _number_out(n: NumberCharges, currency: str) -> dict[str, Any]:
    return {"msisdn": n.msisdn, "line_id": n.line_id, "currency": currency, "total": n.total, "domestic": n.domestic,
            "international": n.international, "au": n.au, "other_mobile": n.other_mobile}


@router.get("/bills", response={200: list[BillOut], 400: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="Bills of the last months with status and totals (K-4)")
def bills_list(request: HttpRequest, query: Query[BillsQuery]) -> list[dict[str, Any]]:
    tenant, user = _who(request)
    bills = charges.bill_list(tenant=tenant, user=user, months=query.months, coverage=query.coverage or None)
    return [bill_out(b) for b in bills]


@router.get("/bills/current", response={200: CurrentOut, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="This month's provisional charges with the daily breakdown (S-BILL-2)")
def bills_current(request: HttpRequest, query: Query[CurrentQuery]) -> dict[str, Any]:
    tenant, user = _who(request)
    p = charges.current_get(tenant=tenant, user=user, coverage=query.coverage)
    return {
        "month": p.month.strftime("%Y-%m"), "coverage": p.coverage, "currency": p.currency, "provisional": True,
        "invoice_id": p.invoice_id, "status": p.data.status, "charges": _amounts(p.breakdown), "tax": p.data.tax,
        "total": p.data.total,
        "days": [{"date": d.day, "currency": p.currency, "amount": d.amount, "cumulative": d.cumulative}
                 for d in p.days],
    }


@router.get("/bills/{int:invoice_id}", response={200: BillDetailOut, 403: ErrorOut, 404: ErrorOut},
            summary="One bill: totals, tax per rate, items summed by cost type and tax class")
def bills_get(request: HttpRequest, invoice_id: Id) -> dict[str, Any]:
    tenant, user = _who(request)
    bill = charges.bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    inv = bill.invoice
    rows = charges.cost_type_rows(invoice=inv)
    return {**bill_out(bill), "issuer_name": inv.issuer_name,
            "issuer_registration_number": inv.issuer_registration_number, "recipient_name": inv.recipient_name,
            "cost_types": [{"currency": inv.currency, "tax_class": r.tax_class, "category": r.category,
                            "cost_type": r.cost_type, "label": r.label, "quantity": r.quantity, "numbers": r.numbers,
                            "amount": r.amount}
                           for r in rows],
            "accounts": [{"operator_id": a.operator_id, "company_name": a.name, "payer": a.payer,
                          "currency": inv.currency, "taxable": a.taxable,
                          "exempt": a.exempt, "coupon_applied": a.coupon} for a in combined.shares(inv)]}


@router.get("/billing/combined", response={200: list[CombinedBillingOut], 403: ErrorOut},
            summary="Combined billing: the accounts whose bills are on one invoice with this account's (S-BILL-5)")
def combined_billing(request: HttpRequest) -> list[dict[str, Any]]:
    tenant, user = _who(request)
    return [combined_billing_out(r, tenant) for r in combined.tenant_arrangements(tenant=tenant, user=user)]


@router.get("/bills/{int:invoice_id}/items",
            response={200: ItemPageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
            summary="The bill's items one by one (keyset paged)")
def bills_items(request: HttpRequest, invoice_id: Id, query: Query[ItemQuery]) -> dict[str, Any]:
    tenant, user = _who(request)
    bill = charges.bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    page = charges.invoice_items_page(tenant=tenant, user=user, invoice=bill.invoice, msisdn=query.msisdn,
                                      cursor=query.cursor, size=query.limit)
    items: list[InvoiceItem] = page.items
    currency = bill.invoice.currency
    return {"items": [{"id": i.pk, "msisdn": i.msisdn, "line_id": i.line_id, "cost_type": i.cost_type,
                       "label": i.label, "category": i.category, "is_voice": i.is_voice, "quantity": i.quantity,
                       "amount": i.amount, "currency": currency, "tax_class": i.tax_class} for i in items],
            "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get("/bills/{int:invoice_id}/numbers",
            response={200: NumberPageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
            summary="Call charges by phone number: domestic, international, au, other mobile (K-4, K-6)")
def bills_numbers(request: HttpRequest, invoice_id: Id, query: Query[NumberQuery]) -> dict[str, Any]:
    tenant, user = _who(request)
    bill = charges.bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    page = charges.number_charges_page(tenant=tenant, user=user, invoice=bill.invoice, q=query.q,
                                       cursor=query.cursor, size=query.limit)
    return {"items": [_number_out(n, bill.invoice.currency) for n in page.items], "count": page.count,
            "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get("/bills/{int:invoice_id}/pdf", response={200: None, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
            summary="The qualified invoice as PDF (X-INVOICE-JP); 409 INVOICE_NOT_ISSUED before the issue date",
            openapi_extra={"responses": {200: {"description": "The invoice (application/pdf).",
                                               "content": {"application/pdf": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}}})
def bills_pdf(request: HttpRequest, invoice_id: Id) -> HttpResponse:
    tenant, user = _who(request)
    bill = charges.bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    response = HttpResponse(invoice_pdf(invoice=bill.invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(bill.invoice)}"'
    return response


@router.get("/bills/{int:invoice_id}/numbers/{msisdn}/calls",
            response={200: CallPageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
            summary="One number's call details of the bill's month, 10 per page (K-4)")
def bill_number_calls(request: HttpRequest, invoice_id: Id, msisdn: PathText,
                      query: Query[CallQuery]) -> dict[str, Any]:
    """Calls billed in the bill's month (a call spanning a month end is in the next month), by start time;
    ``page`` numbers from 1, ``limit`` calls a page (K-4: 10)."""
    tenant, user = _who(request)
    bill = charges.bill_get(tenant=tenant, user=user, invoice_id=invoice_id)
    page = charges.call_page(tenant=tenant, user=user, month=bill.invoice.month, msisdn=msisdn, page=query.page,
                             per_page=query.limit, coverage=bill.invoice.coverage)
    return {
        "invoice_id": bill.invoice.pk, "msisdn": page.msisdn, "month": page.month.strftime("%Y-%m"),
        "page": page.page, "pages": page.pages, "per_page": page.per_page, "count": page.count,
        "currency": bill.invoice.currency, "total_charge": page.total_charge, "sms_charge": page.sms_charge,
        "items": [{"no": page.first_row + n, "started_at": c.started_at,
                   "start_time": c.started_at.astimezone(JST).strftime("%H:%M:%S") + f".{charges.tenths(c.started_at)}",
                   "destination_number": c.destination_number, "destination_area": c.destination_area,
                   "call_type": c.call_type, "is_internal": c.is_internal, "duration_ds": c.duration_ds,
                   "duration": charges.duration_code(c), "units": c.units, "charge": c.charge,
                   "currency": bill.invoice.currency}
                  for n, c in enumerate(page.items)],
    }
