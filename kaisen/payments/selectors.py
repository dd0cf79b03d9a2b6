"""Reads of payments data, always scoped by the tenant (T-2). Called by billing (close) and mail senders too."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kaisen.billing.models import Invoice, InvoiceStatus, TaxClass
from kaisen.core.errors import NotFound
from kaisen.payments.models import (
    AccountEmails,
    BillingEmail,
    InvoiceApplication,
    Payment,
    PaymentSetting,
)
from kaisen.tenancy.models import Tenant

POSTAL_FEE_COST_TYPE = "postal_invoice_fee"


def payment_setting_get(*, tenant: Tenant, coverage: str) -> PaymentSetting | None:
    return PaymentSetting.objects.filter(tenant=tenant, coverage=coverage).first()


def invoice_extra_fees(*, tenant: Tenant, coverage: str, month: dt.date) -> list[dict[str, Any]]:
    """Account fees the payment method adds to the invoice of ``tenant``/``coverage``/``month``.

    Called by the monthly close (billing). Today: ¥200 per postal invoice mailing (seed 001 §3.3.1 / §3.6:
    invoice payment by post, which the convenience-store slip requires — 郵送（別途送料 200 円 / 通）).
    Keys: ``cost_type``, ``label``, ``amount`` (Decimal, in ``currency``), ``tax_class`` (billing
    ``TaxClass`` value) and ``currency`` (always ``"JPY"``: the fee is a yen amount; for a Global invoice in
    USD the close converts it at the month's rate). The setting in force at the close decides.
    """
    setting = payment_setting_get(tenant=tenant, coverage=coverage)
    if setting is None or not setting.is_postal:
        return []
    return [{
        "cost_type": POSTAL_FEE_COST_TYPE,
        "label": "請求書郵送料（コンビニ払込票）" if setting.method == "konbini" else "請求書郵送料",
        "amount": Decimal(200),
        "tax_class": TaxClass.TAXABLE_10.value,
        "currency": "JPY",
    }]


def billing_emails(*, tenant: Tenant) -> list[str]:
    """S-PAY-3: the billing addresses (up to 5) that receive payment notices.

    Falls back to the tenant's notification address when none is registered, so a notice always has a
    recipient."""
    emails = list(BillingEmail.objects.filter(tenant=tenant).order_by("id").values_list("email", flat=True))
    if not emails and tenant.notification_email:
        emails = [tenant.notification_email]
    return emails


def billing_email_list(*, tenant: Tenant) -> QuerySet[BillingEmail]:
    return BillingEmail.objects.filter(tenant=tenant).order_by("id")


def primary_email(*, tenant: Tenant) -> str:
    """The primary address (プライマリ, S-PAY-3): the login email of the tenant's root user (S-ACC-1)."""
    from kaisen.accounts.models import User

    email = (User.objects.filter(tenant=tenant, is_root=True, is_active=True).exclude(email="")
             .order_by("pk").values_list("email", flat=True).first())
    return email or ""


def recovery_email(*, tenant: Tenant) -> str:
    row = AccountEmails.objects.filter(tenant=tenant).first()
    return row.recovery_email if row else ""


def invoice_application_list(*, tenant: Tenant, coverage: str | None = None) -> QuerySet[InvoiceApplication]:
    qs = InvoiceApplication.objects.filter(tenant=tenant)
    if coverage:
        qs = qs.filter(coverage=coverage)
    return qs.order_by("-created_at", "-id")


def invoice_get(*, tenant: Tenant, invoice_id: int) -> Invoice:
    """The tenant's invoice (not an accumulating one) or NOT_FOUND (404 for another tenant's)."""
    inv = (Invoice.objects.filter(tenant=tenant, pk=invoice_id)
           .exclude(status=InvoiceStatus.ACCUMULATING).first())
    if inv is None:
        raise NotFound(_("No such invoice."))
    return inv


def payable_invoices(*, tenant: Tenant, coverage: str | None = None) -> QuerySet[Invoice]:
    """Issued invoices that are not paid yet (invoiced or payment error)."""
    qs = Invoice.objects.filter(tenant=tenant, status__in=[InvoiceStatus.INVOICED, InvoiceStatus.PAYMENT_ERROR])
    if coverage:
        qs = qs.filter(coverage=coverage)
    return qs.order_by("month", "coverage")


def unpaid_invoices(*, tenant: Tenant) -> QuerySet[Invoice]:
    """Every unpaid invoice of the tenant, for the failure notice (S-PAY-2)."""
    return payable_invoices(tenant=tenant)


def billed_invoices(*, tenant: Tenant, coverage: str | None = None) -> QuerySet[Invoice]:
    """Invoices that were issued (or closed): the payment history page lists them."""
    qs = Invoice.objects.filter(tenant=tenant).exclude(status=InvoiceStatus.ACCUMULATING)
    if coverage:
        qs = qs.filter(coverage=coverage)
    return qs.order_by("-month", "coverage")


def payment_list(*, tenant: Tenant, invoice: Invoice | None = None) -> QuerySet[Payment]:
    qs = Payment.objects.filter(tenant=tenant).select_related("invoice")
    if invoice is not None:
        qs = qs.filter(invoice=invoice)
    return qs.order_by("-created_at", "-id")
