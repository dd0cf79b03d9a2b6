"""Back office for billing (issue 4 §2-§3): the tariff catalogue, TTS rates, coupons, long-term discounts
(editable, audited) and invoices (read-only: the close writes them; they are never deleted)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.billing.models import (
    CallRate,
    Coupon,
    CouponUse,
    FeeRate,
    Invoice,
    InvoiceItem,
    LongTermDiscount,
    LongTermRate,
    PlanTariff,
    TtsRate,
)
from kaisen.core.admin import AuditedAdminMixin


@admin.register(CallRate)
class CallRateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("coverage", "call_type", "unit_seconds", "rate", "cost_type", "label", "category",
                    "flat_rate_covered")
    list_filter = ("coverage", "category", "flat_rate_covered")
    list_editable = ("unit_seconds", "rate")


@admin.register(FeeRate)
class FeeRateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("coverage", "code", "plan", "amount", "unit_mb")
    list_filter = ("coverage", "code")
    autocomplete_fields = ("plan",)


@admin.register(PlanTariff)
class PlanTariffAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("plan", "usd_monthly_fee", "includes_flat_rate_calling")
    autocomplete_fields = ("plan",)


@admin.register(LongTermRate)
class LongTermRateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("plan", "term_months", "monthly_fee")
    autocomplete_fields = ("plan",)


@admin.register(LongTermDiscount)
class LongTermDiscountAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("tenant", "line", "rate", "starts_on", "ends_on")
    list_filter = ("tenant",)
    raw_id_fields = ("line",)
    search_fields = ("line__msisdn", "tenant__public_id")


class TtsRateForm(forms.ModelForm):
    class Meta:
        model = TtsRate
        fields = ("month", "jpy_per_usd")

    def clean_month(self) -> Any:
        month = self.cleaned_data["month"]
        return month.replace(day=1) if month else month

    def clean_jpy_per_usd(self) -> Any:
        value = self.cleaned_data["jpy_per_usd"]
        if value is None or value <= 0:
            raise forms.ValidationError(_("The amount must be greater than zero."))
        return value


@admin.register(TtsRate)
class TtsRateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = TtsRateForm
    list_display = ("month", "jpy_per_usd", "entered_by", "entered_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.entered_by = getattr(request.user, "username", "")
        super().save_model(request, obj, form, change)


class CouponUseInline(admin.TabularInline):
    model = CouponUse
    extra = 0
    can_delete = False
    readonly_fields = ("invoice", "amount", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Coupon)
class CouponAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "tenant", "coverage", "amount", "balance", "purchased_on", "expires_on")
    list_filter = ("coverage",)
    search_fields = ("code", "tenant__public_id", "tenant__legal_name")
    inlines = [CouponUseInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The balance only moves with the close; the amount is fixed once bought.
        return ("balance", "amount", "tenant", "coverage") if obj is not None else ("balance",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.balance = obj.amount
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvoiceItemInline(admin.TabularInline):
    model = InvoiceItem
    extra = 0
    can_delete = False
    fields = ("msisdn", "cost_type", "label", "category", "is_voice", "quantity", "amount", "tax_class")
    readonly_fields = fields
    max_num = 0
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("msisdn", "cost_type")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Read-only: the rating and the close write invoices; nobody deletes them (7-year retention)."""

    list_display = ("month", "tenant", "coverage", "status", "number", "currency", "total", "total_jpy",
                    "issued_on", "due_on")
    list_display_links = ("month",)
    list_filter = ("status", "coverage", "currency", "month")
    search_fields = ("number", "tenant__public_id", "tenant__legal_name")
    date_hierarchy = "month"
    inlines = [InvoiceItemInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
