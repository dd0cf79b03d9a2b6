"""Back office for billing (issue 4 §2-§3): the tariff catalogue, TTS rates, coupons, long-term discounts
(editable, audited) and invoices (read-only: the close writes them; they are never deleted)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.audit.backoffice import AuditedAdminMixin
from kaisen.billing.models import (
    CallRate,
    CombinedBilling,
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


class CombinedBillingForm(forms.ModelForm):
    """Creating an arrangement goes through ``combined.combined_add`` (its rules and its audit)."""

    first_month = forms.CharField(label=_("First month"), max_length=7, help_text=_(
        "YYYY-MM: the current month or later (a past month may already be closed)."))

    class Meta:
        model = CombinedBilling
        fields = ("payer", "member", "coverage")

    def clean(self) -> Any:
        from kaisen.billing.combined import combined_check
        from kaisen.billing.services import parse_month
        from kaisen.core.errors import DomainError

        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["first_month"] = combined_check(payer=data["payer"], member=data["member"],
                                                 coverage=data["coverage"],
                                                 first_month=parse_month(data.get("first_month", "")))
        except DomainError as exc:
            field = exc.field if exc.field in ("member", "coverage", "first_month") else None
            raise forms.ValidationError({field: str(exc.message)} if field else str(exc.message)) from exc
        return data


@admin.register(CombinedBilling)
class CombinedBillingAdmin(admin.ModelAdmin):
    """S-BILL-5: the operator combines accounts' bills on request (seed 001 §3.4.3 ①). Rows are only created
    and ended (the action below), never edited or deleted: closed invoices depend on them."""

    list_display = ("payer", "member", "coverage", "first_month", "last_month", "created_by", "ended_by")
    list_filter = ("coverage",)
    search_fields = ("payer__public_id", "member__public_id", "payer__legal_name", "member__legal_name")
    autocomplete_fields = ("payer", "member")
    actions = ["end_with_current_month"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = CombinedBillingForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in CombinedBilling._meta.fields] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from django.core.exceptions import ValidationError

        from kaisen.billing.combined import combined_add
        from kaisen.core.errors import DomainError

        if change:
            return
        try:
            row = combined_add(payer=obj.payer, member=obj.member, coverage=obj.coverage,
                               first_month=form.cleaned_data["first_month"],
                               actor=getattr(request.user, "username", "") or "back office")
        except DomainError as exc:  # checked again under lock; shown by add_view
            raise ValidationError(str(exc.message)) from exc
        obj.pk = row.pk
        obj.first_month = row.first_month

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        from django.contrib import messages
        from django.core.exceptions import ValidationError
        from django.shortcuts import redirect

        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(request.get_full_path())

    @admin.action(description=_("End combined billing with the current month"))
    def end_with_current_month(self, request: HttpRequest, queryset: Any) -> None:
        from django.contrib import messages

        from kaisen.billing.combined import combined_end
        from kaisen.core import clock
        from kaisen.core.errors import DomainError

        for row in queryset:
            try:
                combined_end(arrangement_id=row.pk, last_month=clock.today_jst(),
                             actor=getattr(request.user, "username", "") or "back office")
            except DomainError as exc:
                messages.error(request, f"{row.member.public_id} → {row.payer.public_id}: {exc.message}")
            else:
                messages.success(request, _("Ended: %(member)s → %(payer)s") % {
                    "member": row.member.public_id, "payer": row.payer.public_id})

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
