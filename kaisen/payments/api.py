"""``/api/v1/payments``, ``/api/v1/billing-contacts``: payment methods, payments and billing contacts
(issue 4 §5; S-PAY-1..3). Reading needs ``Billing:read``, changing ``Payment:manage``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from kaisen.accounts.api import ErrorOut
from kaisen.billing.models import Invoice
from kaisen.core.ids import Id, Int64
from kaisen.core.schemas import EmailText, OptionalEmailText, PathText
from kaisen.payments import services
from kaisen.payments.models import InvoiceApplication, Payment

router = Router(tags=["payments"])


class CardOut(Schema):
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    holder: str
    usable: bool


class BankDebitOut(Schema):
    status: str  # "" | pending | active
    requested_on: dt.date | None
    expected_on: dt.date | None
    effective_on: dt.date | None


class ApplicationOut(Schema):
    application_id: int
    status: str
    company_name: str
    email: str
    delivery: str
    created_at: dt.datetime
    decision_reason: str


class MethodOut(Schema):
    coverage: str
    method: str  # "" (none yet) | card | invoice | bank_debit | konbini
    accepted_brands: list[str]
    card: CardOut | None
    invoice_approved: bool
    invoice_delivery: str
    invoice_email: str
    postal_fee_jpy: int  # per mailing when invoices are posted (konbini slip included)
    bank_debit: BankDebitOut
    application: ApplicationOut | None
    provider: str
    simulator: bool


class CardIn(Schema):
    number: str
    exp_month: Int64
    exp_year: Int64
    cvc: str
    holder: str = ""


class MethodIn(Schema):
    """Give ``card`` to register or replace the card; ``method`` to switch (card, invoice, bank_debit,
    konbini); ``delivery`` (email or post) for invoice payment. Applied all or nothing."""

    method: str | None = None
    delivery: str | None = None
    card: CardIn | None = None


class ApplicationIn(Schema):
    company_name: str
    contact_name: str
    email: str
    phone: str
    postal_code: str
    prefecture: str
    address: str
    delivery: str = "email"
    department: str = ""
    note: str = ""


class PaymentOut(Schema):
    payment_id: int
    invoice_id: int
    channel: str
    method: str
    status: str
    amount: Decimal
    currency: str
    card_brand: str
    card_last4: str
    failure_code: str
    failure_message: str  # in the request's language
    note: str
    trigger: str
    created_at: dt.datetime


class InvoicePaymentsOut(Schema):
    invoice_id: int
    number: str
    month: dt.date
    coverage: str
    currency: str
    total: Decimal
    total_jpy: int
    status: str
    issued_on: dt.date | None
    due_on: dt.date | None
    can_retry: bool
    payments: list[PaymentOut]


class ContactsOut(Schema):
    primary_email: str
    recovery_email: str
    billing_emails: list[str]
    max_billing_emails: int


class ContactsIn(Schema):
    """Only the fields given change. ``billing_emails`` replaces the whole list (at most 5)."""

    billing_emails: list[EmailText] | None = Field(
        default=None, description="At most 5 distinct addresses (more: 409 `BILLING_EMAIL_LIMIT`).")
    recovery_email: OptionalEmailText | None = None


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(payment_id=p.pk, invoice_id=p.invoice_id, channel=p.channel, method=p.method, status=p.status,
                      amount=p.amount, currency=p.currency, card_brand=p.card_brand, card_last4=p.card_last4,
                      failure_code=p.failure_code, failure_message=p.failure_label, note=p.note, trigger=p.trigger,
                      created_at=p.created_at)


def invoice_payments_out(inv: Invoice, can_retry: bool) -> InvoicePaymentsOut:
    return InvoicePaymentsOut(
        invoice_id=inv.pk, number=inv.number, month=inv.month, coverage=inv.coverage, currency=inv.currency,
        total=inv.total, total_jpy=inv.total_jpy, status=inv.status, issued_on=inv.issued_on, due_on=inv.due_on,
        can_retry=can_retry, payments=[payment_out(p) for p in inv.payments.order_by("-created_at", "-id")])


def application_out(app: InvoiceApplication) -> ApplicationOut:
    return ApplicationOut(application_id=app.pk, status=app.status, company_name=app.company_name, email=app.email,
                          delivery=app.delivery, created_at=app.created_at, decision_reason=app.decision_reason)


def method_out(view: services.MethodView) -> MethodOut:
    s, app = view.setting, view.application
    return MethodOut(
        coverage=view.coverage, method=s.method, accepted_brands=list(view.accepted_brands),
        card=CardOut(brand=s.card_brand, last4=s.card_last4, exp_month=s.card_exp_month, exp_year=s.card_exp_year,
                     holder=s.card_holder, usable=view.card_usable) if s.card_last4 else None,
        invoice_approved=s.invoice_approved, invoice_delivery=s.invoice_delivery, invoice_email=s.invoice_email,
        postal_fee_jpy=200,
        bank_debit=BankDebitOut(status=s.bank_debit_status, requested_on=s.bank_debit_requested_on,
                                expected_on=s.bank_debit_expected_on, effective_on=s.bank_debit_effective_on),
        application=application_out(app) if app else None,
        provider=view.provider_name, simulator=view.simulator)


def contacts_out(c: services.ContactsView) -> ContactsOut:
    return ContactsOut(primary_email=c.primary_email, recovery_email=c.recovery_email,
                       billing_emails=c.billing_emails, max_billing_emails=c.max_billing_emails)


@router.get("/payments/methods/{coverage}", response={200: MethodOut, 403: ErrorOut, 404: ErrorOut},
            summary="The payment method of a coverage (japan or global)")
def method_get(request: HttpRequest, coverage: PathText) -> MethodOut:
    return method_out(services.method_view(user=request.auth, coverage=coverage))  # type: ignore[attr-defined]


@router.put("/payments/methods/{coverage}",
            response={200: MethodOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
            summary="Register the card and/or choose the payment method of a coverage")
def method_put(request: HttpRequest, coverage: PathText, payload: MethodIn) -> MethodOut:
    user = request.auth  # type: ignore[attr-defined]
    services.method_view(user=user, coverage=coverage)  # 404 for a coverage the tenant does not hold
    with transaction.atomic():
        if payload.card is not None:
            services.card_register(user=user, coverage=coverage, number=payload.card.number,
                                   exp_month=payload.card.exp_month, exp_year=payload.card.exp_year,
                                   cvc=payload.card.cvc, holder=payload.card.holder)
        if payload.method is not None:
            services.method_set(user=user, coverage=coverage, method=payload.method, delivery=payload.delivery)
        elif payload.delivery is not None:
            current = services.method_view(user=user, coverage=coverage).setting.method
            services.method_set(user=user, coverage=coverage, method=current or "invoice", delivery=payload.delivery)
    return method_out(services.method_view(user=user, coverage=coverage))


@router.post("/payments/methods/{coverage}/invoice-application",
             response={201: ApplicationOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                       422: ErrorOut},
             summary="Apply for invoice payment (corporate accounts; reviewed by the operator)")
def application_post(request: HttpRequest, coverage: PathText, payload: ApplicationIn) -> Status[ApplicationOut]:
    app = services.invoice_apply(user=request.auth, coverage=coverage, **payload.dict())  # type: ignore[attr-defined]
    return Status(201, application_out(app))


@router.get("/payments", response={200: list[InvoicePaymentsOut], 403: ErrorOut, 404: ErrorOut},
            summary="Invoices with their payment status and every payment attempt")
def payments_list(request: HttpRequest, coverage: str | None = None) -> list[InvoicePaymentsOut]:
    rows = services.payment_history(user=request.auth, coverage=coverage)  # type: ignore[attr-defined]
    return [invoice_payments_out(inv, can_retry) for inv, can_retry in rows]


@router.get("/payments/invoices/{invoice_id}", response={200: InvoicePaymentsOut, 403: ErrorOut, 404: ErrorOut},
            summary="One invoice's payment status and attempts")
def payment_detail(request: HttpRequest, invoice_id: Id) -> InvoicePaymentsOut:
    inv, can_retry = services.invoice_payments(user=request.auth, invoice_id=invoice_id)  # type: ignore[attr-defined]
    return invoice_payments_out(inv, can_retry)


@router.post("/payments/invoices/{invoice_id}/retry",
             response={200: InvoicePaymentsOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
             summary="Retry the card payment of an invoice in payment error (never charges a paid invoice)")
def payment_retry(request: HttpRequest, invoice_id: Id) -> InvoicePaymentsOut:
    user = request.auth  # type: ignore[attr-defined]
    services.invoice_retry(user=user, invoice_id=invoice_id, channel="api")
    inv, can_retry = services.invoice_payments(user=user, invoice_id=invoice_id)
    return invoice_payments_out(inv, can_retry)


@router.get("/billing-contacts", response={200: ContactsOut, 403: ErrorOut},
            summary="Primary, recovery and billing email addresses (S-PAY-3)")
def contacts_get(request: HttpRequest) -> ContactsOut:
    return contacts_out(services.contacts_view(user=request.auth))  # type: ignore[attr-defined]


@router.put("/billing-contacts", response={200: ContactsOut, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut,
                                           422: ErrorOut},
            summary="Replace the billing email addresses (at most 5) and/or set the recovery address")
def contacts_put(request: HttpRequest, payload: ContactsIn) -> ContactsOut:
    user = request.auth  # type: ignore[attr-defined]
    with transaction.atomic():
        if payload.billing_emails is not None:
            services.billing_emails_replace(user=user, emails=payload.billing_emails)
        if payload.recovery_email is not None:
            services.recovery_email_set(user=user, email=payload.recovery_email)
    return contacts_out(services.contacts_view(user=user))

