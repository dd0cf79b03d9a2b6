"""Back office for payments (T-3; issue 4 §5): review invoice-payment applications (the credit check),
complete bank-debit switches, record received payments, and look at payments and the simulator's ledger.
Every action goes through kaisen.payments.services (audited there)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.core import clock
from kaisen.core.admin import AmountFieldsAdminMixin, ReadOnlyAdminMixin, amount_column, format_amount
from kaisen.core.errors import DomainError
from kaisen.payments import services
from kaisen.payments.models import (
    ApplicationStatus,
    BankDebitStatus,
    InvoiceApplication,
    Payment,
    PaymentSetting,
    SimulatedCharge,
    SimulatedRefund,
    UnpaidInvoice,
)
from kaisen.procedures.models import PENDING_STATUSES, Order, OrderStatus
from kaisen.usage.models import UsageFile


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], call: Any,
          done: str) -> None:
    ok = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, done % {"n": ok}, messages.SUCCESS)


@admin.register(InvoiceApplication)
class InvoiceApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Applications for invoice payment: approve after the credit check, or reject (the tenant is mailed)."""

    list_display = ("pk", "tenant", "coverage", "company_name", "email", "postal_code", "delivery", "status",
                    "created_at")
    list_filter = ("status", "coverage", "delivery")
    search_fields = ("tenant__public_id", "company_name", "email")
    actions = ("approve", "reject")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_staff", False)) and obj is None  # actions only, no edit form

    @admin.action(description=_("Approve (credit check passed): switch to invoice payment"))
    def approve(self, request: HttpRequest, queryset: QuerySet[InvoiceApplication]) -> None:
        _each(self, request, queryset.filter(status=ApplicationStatus.PENDING),
              lambda app: services.invoice_application_decide(staff=request.user, application_id=app.pk,
                                                              approve=True),
              str(_("%(n)d application(s) approved.")))

    @admin.action(description=_("Reject (credit check failed)"))
    def reject(self, request: HttpRequest, queryset: QuerySet[InvoiceApplication]) -> None:
        _each(self, request, queryset.filter(status=ApplicationStatus.PENDING),
              lambda app: services.invoice_application_decide(staff=request.user, application_id=app.pk,
                                                              approve=False, reason="与信審査の結果"),
              str(_("%(n)d application(s) rejected.")))


@admin.register(PaymentSetting)
class PaymentSettingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Payment settings per tenant and coverage (changed by the tenants; the card token is never shown)."""

    list_display = ("tenant", "coverage", "method", "card_brand", "card_last4", "card_exp_month", "card_exp_year",
                    "invoice_approved", "invoice_delivery", "bank_debit_status", "bank_debit_expected_on")
    list_filter = ("coverage", "method", "bank_debit_status", "invoice_delivery")
    search_fields = ("tenant__public_id", "tenant__legal_name")
    exclude = ("card_token",)
    actions = ("bank_debit_complete",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_staff", False)) and obj is None

    @admin.action(description=_("Bank direct debit: switch complete (effective today)"))
    def bank_debit_complete(self, request: HttpRequest, queryset: QuerySet[PaymentSetting]) -> None:
        _each(self, request, queryset.filter(bank_debit_status=BankDebitStatus.PENDING),
              lambda s: services.bank_debit_complete(staff=request.user, setting_id=s.pk),
              str(_("%(n)d bank direct debit switch(es) completed.")))


@admin.register(UnpaidInvoice)
class UnpaidInvoiceAdmin(AmountFieldsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Issued invoices not paid yet. Invoice, bank-debit and convenience-store payments are marked paid here
    when the money is received (card invoices are charged by ``kaisen admin payments charge-due``)."""

    list_display = ("number", "tenant", "coverage", "month", "currency", amount_column("total", _("amount billed")),
                    amount_column("total_jpy", _("amount billed (JPY)")), "due_on", "status")
    list_filter = ("status", "coverage")
    search_fields = ("number", "tenant__public_id")
    actions = ("record_receipt",)
    amount_fields = ("taxable_total", "tax_total", "exempt_total", "coupon_applied", "total", "total_jpy")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(status__in=["invoiced", "payment_error"])

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_staff", False)) and obj is None

    @admin.action(description=_("Record the payment as received (mark paid)"))
    def record_receipt(self, request: HttpRequest, queryset: QuerySet[UnpaidInvoice]) -> None:
        _each(self, request, queryset,
              lambda inv: services.receipt_record(staff=request.user, invoice_id=inv.pk, note="back office"),
              str(_("%(n)d invoice(s) marked paid.")))


@admin.register(Payment)
class PaymentAdmin(AmountFieldsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    amount_fields = ("amount",)
    list_display = ("created_at", "tenant", "invoice", "channel", "method", "status",
                    amount_column("amount", _("amount")), "currency",
                    "card_brand", "card_last4", "failure_code", "trigger")
    list_filter = ("status", "channel", "method")
    search_fields = ("tenant__public_id", "invoice__number", "provider_charge_id")


@admin.register(SimulatedCharge)
class SimulatedChargeAdmin(AmountFieldsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The SIMULATOR provider's ledger (no real money): what a real provider would show in its dashboard."""

    list_display = ("created_at", "charge_id", "idempotency_key", amount_column("amount", _("amount")), "currency",
                    "status", "failure_code")
    list_filter = ("status",)
    amount_fields = ("amount",)


@admin.register(SimulatedRefund)
class SimulatedRefundAdmin(AmountFieldsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The SIMULATOR provider's refunds (no real money)."""

    list_display = ("created_at", "refund_id", "charge_id", "idempotency_key", amount_column("amount", _("amount")),
                    "currency", "status", "failure_code")
    list_filter = ("status",)
    amount_fields = ("amount",)


# --- "Needs attention" (issue 14) ------------------------------------------------------------------------
#: How many rows of each kind the page shows.
ATTENTION_LIMIT = 200


def attention_view(request: HttpRequest) -> HttpResponse:
    """What staff must look at: orders past their time and not finished, invoices with a payment error,
    usage files with rejected rows. Here because payments is the layer that may read all three (0006)."""
    if not request.user.has_perm("procedures.view_order"):
        raise PermissionDenied
    now = clock.now()
    # Past its time and not final: waiting to be sent after its time (the engine should have sent it), or
    # sent / unknown with the carrier check overdue or missing.
    overdue = (Order.objects.filter(status__in=PENDING_STATUSES, due_at__lt=now)
               .filter(Q(status__in=[OrderStatus.RECEIVED, OrderStatus.SCHEDULED])
                       | Q(next_check_at__isnull=True) | Q(next_check_at__lt=now))
               .select_related("tenant", "line").order_by("due_at", "id"))
    payment_errors = (Invoice.objects.filter(status=InvoiceStatus.PAYMENT_ERROR)
                      .select_related("tenant").order_by("due_on", "id"))
    failed_imports = UsageFile.objects.filter(rows_rejected__gt=0).order_by("-imported_at", "-id")
    invoices = list(payment_errors[:ATTENTION_LIMIT])
    for invoice in invoices:
        invoice.total_display = format_amount(invoice.total)  # type: ignore[attr-defined]
    files = list(failed_imports[:ATTENTION_LIMIT])
    for file in files:
        file.rows_total_display = format_amount(file.rows_total)  # type: ignore[attr-defined]
        file.rows_rejected_display = format_amount(file.rows_rejected)  # type: ignore[attr-defined]
    context = {
        **admin.site.each_context(request),
        "title": _("Needs attention"),
        "now": now,
        "overdue": list(overdue[:ATTENTION_LIMIT]),
        "payment_errors": invoices,
        "failed_imports": files,
        "limit": ATTENTION_LIMIT,
    }
    return TemplateResponse(request, "admin/needs_attention.html", context)


_site_urls = admin.site.get_urls


def _get_urls() -> list[Any]:
    return [path("needs-attention/", admin.site.admin_view(attention_view), name="needs_attention"),
            *_site_urls()]


admin.site.get_urls = _get_urls  # type: ignore[method-assign]
