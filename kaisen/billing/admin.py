"""Back office for billing (issue 4 §2-§3, issue 10 §2): the tariff catalogue as versions valid from a date
(a version in force for a closed month is read-only), TTS rates, coupons, long-term discounts (audited) and
invoices (read-only: the close writes them; they are never deleted)."""

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
from kaisen.core.admin import AmountFieldsAdminMixin, amount_column


class TariffVersionForm(forms.ModelForm):
    """Every tariff version form: refuses a version that would re-price a closed month (``versions``)."""

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        from kaisen.billing import versions
        from kaisen.core.errors import DomainError

        if self.errors:
            return
        try:
            versions.check_version(self.instance)
            versions._validate(versions._BY_MODEL[type(self.instance)], self.instance)
        except DomainError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, str(exc.message))


class TariffVersionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Issue 10 §2: a tariff is a list of versions, each valid from a date (Japan time). A version in force for
    a closed month is read-only and kept; a price change is a new version ("Add", or the link on such a
    version's page, which copies it). ``kaisen billing tariffs set`` does the same from the command line."""

    form = TariffVersionForm

    @admin.display(description=_("status"))
    def version_status(self, obj: Any) -> str:
        from kaisen.billing import versions

        labels = {"in force": _("in force"), "scheduled": _("scheduled"), "superseded": _("superseded")}
        status = str(labels[versions.status_of(obj)])
        return f"{status} 🔒" if versions.is_frozen(obj) else status

    @admin.display(description=_("new version"))
    def new_version(self, obj: Any) -> str:
        from django.urls import reverse
        from django.utils.html import format_html
        from django.utils.http import urlencode

        from kaisen.billing import versions

        if obj is None or obj.pk is None:
            return "-"
        spec = versions.kind_of(obj)
        params: dict[str, Any] = {"valid_from": max(versions.first_open_day(versions.coverage_of(obj)),
                                                    self._today())}
        for name in (*spec.keys, *spec.values):
            field = obj._meta.get_field(name)
            value = getattr(obj, getattr(field, "attname", name))
            if value is None or value is False:
                continue
            params[name] = value
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_add") + "?" + urlencode(params)
        return format_html('<a href="{}">{}</a>', url, _("Add a new version from these values"))

    def _today(self) -> Any:
        from kaisen.core import clock

        return clock.today_jst()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        from kaisen.billing import versions

        if obj is not None and versions.is_frozen(obj):
            return [f.name for f in self.model._meta.fields if f.name != "id"] + ["version_status", "new_version"]
        return ["version_status", "new_version"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        from kaisen.billing import versions

        if obj is not None and versions.is_frozen(obj):
            return False
        return bool(super().has_delete_permission(request, obj))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        from kaisen.billing import versions

        versions.check_delete(obj)  # the bulk action reaches here too
        super().delete_model(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from kaisen.billing import versions

        versions.check_version(obj)  # again at the save (the form checked it)
        super().save_model(request, obj, form, change)
        if isinstance(obj, PlanTariff):
            versions.plan_catalogue_sync()

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: Any = None) -> Any:
        from django.contrib import messages
        from django.shortcuts import redirect

        from kaisen.core.errors import DomainError

        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:  # a close ran between the form check and the save
            messages.error(request, str(exc.message))
            return redirect(request.get_full_path())

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        from django.contrib import messages

        from kaisen.billing import versions
        from kaisen.core.errors import DomainError

        for obj in queryset:
            try:
                versions.check_delete(obj)
            except DomainError as exc:
                messages.error(request, f"{obj}: {exc.message}")
                continue
            super().delete_model(request, obj)


@admin.register(CallRate)
class CallRateAdmin(TariffVersionAdmin):
    list_display = ("coverage", "call_type", "valid_from", "version_status", "unit_seconds",
                    amount_column("rate", CallRate._meta.get_field("rate").verbose_name), "cost_type",
                    "label", "category", "flat_rate_covered")
    list_filter = ("coverage", "call_type", "category", "flat_rate_covered")
    date_hierarchy = "valid_from"


@admin.register(FeeRate)
class FeeRateAdmin(TariffVersionAdmin):
    list_display = ("coverage", "code", "plan", "valid_from", "version_status",
                    amount_column("amount", FeeRate._meta.get_field("amount").verbose_name), "unit_mb")
    list_filter = ("coverage", "code")
    autocomplete_fields = ("plan",)


@admin.register(PlanTariff)
class PlanTariffAdmin(TariffVersionAdmin):
    list_display = ("plan", "valid_from", "version_status",
                    amount_column("jpy_monthly_fee", PlanTariff._meta.get_field("jpy_monthly_fee").verbose_name),
                    amount_column("usd_monthly_fee", PlanTariff._meta.get_field("usd_monthly_fee").verbose_name),
                    "includes_flat_rate_calling")
    list_filter = ("plan__coverage",)
    search_fields = ("plan__code", "plan__name")
    autocomplete_fields = ("plan",)


@admin.register(LongTermRate)
class LongTermRateAdmin(TariffVersionAdmin):
    list_display = ("plan", "term_months", "valid_from", "version_status",
                    amount_column("monthly_fee", LongTermRate._meta.get_field("monthly_fee").verbose_name))
    list_filter = ("term_months",)
    search_fields = ("plan__code", "plan__name")
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

    def clean(self) -> Any:
        """The month is the rate's validity: once a Global invoice of the month is closed, the rate stays."""
        data = super().clean() or {}
        stored = TtsRate.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        month, rate = data.get("month"), data.get("jpy_per_usd")
        if stored is not None and _tts_closed(stored.month) and (month != stored.month or rate != stored.jpy_per_usd):
            raise forms.ValidationError(_(
                "Global invoices of %(month)s are closed at %(rate)s; the rate can no longer change.")
                % {"month": f"{stored.month:%Y-%m}", "rate": stored.jpy_per_usd})
        if month is not None and (stored is None or month != stored.month) and _tts_closed(month):
            raise forms.ValidationError(_("Global invoices of %(month)s are closed; its rate can no longer change.")
                                        % {"month": f"{month:%Y-%m}"})
        return data


def _tts_closed(month: Any) -> bool:
    from kaisen.carriers.models import Coverage

    return Invoice.objects.filter(coverage=Coverage.GLOBAL, month=month, closed_at__isnull=False).exists()


@admin.register(TtsRate)
class TtsRateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = TtsRateForm
    list_display = ("month", "jpy_per_usd", "entered_by", "entered_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.entered_by = getattr(request.user, "username", "")
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and _tts_closed(obj.month):
            return False
        return bool(super().has_delete_permission(request, obj))


class CouponUseInline(AmountFieldsAdminMixin, admin.TabularInline):
    model = CouponUse
    amount_fields = ("amount",)
    extra = 0
    can_delete = False
    readonly_fields = ("invoice", "amount", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Coupon)
class CouponAdmin(AmountFieldsAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    amount_fields = ("amount", "balance")
    list_display = ("code", "tenant", "coverage", amount_column("amount", _("amount")),
                    amount_column("balance", _("balance")), "purchased_on", "expires_on")
    list_filter = ("coverage",)
    search_fields = ("code", "tenant__public_id", "tenant__legal_name")
    inlines = [CouponUseInline]

    def plain_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The balance only moves with the close; the amount is fixed once bought.
        return ("balance", "amount", "tenant", "coverage") if obj is not None else ("balance",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.balance = obj.amount
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvoiceItemInline(AmountFieldsAdminMixin, admin.TabularInline):
    model = InvoiceItem
    amount_fields = ("amount",)
    extra = 0
    can_delete = False
    fields = ("msisdn", "cost_type", "label", "category", "is_voice", "quantity", "amount", "tax_class")
    readonly_fields = fields
    max_num = 0
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("msisdn", "cost_type")


@admin.register(Invoice)
class InvoiceAdmin(AmountFieldsAdminMixin, admin.ModelAdmin):
    """Read-only: the rating and the close write invoices; nobody deletes them (7-year retention)."""

    amount_fields = ("taxable_total", "tax_total", "exempt_total", "coupon_applied", "total", "total_jpy")

    list_display = ("month", "tenant", "coverage", "status", "number", "currency",
                    amount_column("total", _("amount billed")), amount_column("total_jpy", _("amount billed (JPY)")),
                    "issued_on", "due_on")
    list_display_links = ("month",)
    list_filter = ("status", "coverage", "currency", "month")
    search_fields = ("number", "tenant__public_id", "tenant__legal_name")
    date_hierarchy = "month"
    inlines = [InvoiceItemInline]

    def plain_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
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
