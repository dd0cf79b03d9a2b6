from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.audit.backoffice import AuditedAdminMixin
from kaisen.core import clock
from kaisen.core.admin import amount_column
from kaisen.core.errors import DomainError
from kaisen.core.numbers import iccid_normalize, msisdn_format, msisdn_normalize
from kaisen.lines.history import line_history_open, line_record_change
from kaisen.lines.models import Line, LinePeriod, LinePeriodReason, LineStatus, Plan


@admin.register(Plan)
class PlanAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "carrier", "coverage", "data_allowance_mb", "has_data_cap",
                    amount_column("monthly_fee", Plan._meta.get_field("monthly_fee").verbose_name), "change_rule",
                    "is_active")
    list_filter = ("carrier", "coverage", "has_data_cap", "is_active")
    search_fields = ("code", "name", "name_en")
    ordering = ("carrier", "code")


class LineAdminForm(forms.ModelForm):
    """Phone number and SIM serial get the same normalisation and checks as every other way in."""

    class Meta:
        model = Line
        fields = ("tenant", "msisdn", "msisdn_is_temporary", "iccid", "product_code", "status", "plan", "carrier",
                  "sim_type", "sim_size", "is_ota", "shipped_on", "started_on", "scheduled_end_on", "voice_options",
                  "data_cap_mb")

    def clean_msisdn(self) -> str | None:
        raw = self.cleaned_data.get("msisdn") or ""
        try:
            return msisdn_normalize(raw) if raw else None
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from exc

    def clean_iccid(self) -> str:
        try:
            return iccid_normalize(self.cleaned_data.get("iccid") or "")
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from exc

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        plan = cleaned.get("plan")
        if plan is not None and cleaned.get("carrier") and plan.carrier != cleaned["carrier"]:
            self.add_error("carrier", _("The carrier must be the plan's carrier (%(carrier)s).")
                           % {"carrier": plan.get_carrier_display()})
        if cleaned.get("status") in (LineStatus.ACTIVE, LineStatus.SUSPENDED) and not cleaned.get("msisdn"):
            self.add_error("msisdn", _("An active or suspended line needs a phone number."))
        return cleaned


class LinePeriodInline(admin.TabularInline):
    """The line's history, read-only: only the services write it."""

    model = LinePeriod
    fields = ("valid_from", "valid_to", "tenant", "plan", "status", "voice_options", "data_cap_mb", "sim_size",
              "iccid", "msisdn", "reason", "order_id")
    readonly_fields = fields
    ordering = ("-valid_from",)
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Line)
class LineAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = LineAdminForm
    inlines = (LinePeriodInline,)
    list_display = ("phone_number", "iccid", "tenant", "plan", "carrier", "sim_type", "sim_size", "status",
                    "started_on", "scheduled_end_on")
    list_filter = ("status", "carrier", "sim_type", "sim_size", "is_ota")
    list_select_related = ("tenant", "plan")
    # Prefix searches (LIKE 'x%'), not "contains": a tenant may hold a million lines.
    search_fields = ("^msisdn", "^iccid")
    search_help_text = _("Beginning of a phone number (digits only) or of a SIM serial number.")
    raw_id_fields = ("tenant",)
    autocomplete_fields = ("plan",)
    show_full_result_count = False
    ordering = ("-id",)
    list_per_page = 100
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("tenant", "msisdn", "msisdn_is_temporary", "iccid", "product_code", "status")}),
        (_("SIM"), {"fields": ("plan", "carrier", "sim_type", "sim_size", "is_ota")}),
        (_("Dates"), {"fields": ("shipped_on", "started_on", "scheduled_end_on")}),
        (_("Options"), {"fields": ("voice_options", "data_cap_mb")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Line, form: Any, change: bool) -> None:
        """The back office writes the line's history in the same transaction as the change (issue 10 §1):
        a new line opens its history, a change starts a new interval now."""
        super().save_model(request, obj, form, change)
        if change:
            line_record_change(line=obj, at=clock.now(), reason=LinePeriodReason.BACK_OFFICE)
        else:
            line_history_open(line=obj, reason=LinePeriodReason.REGISTERED)

    @admin.display(description=_("phone number"), ordering="msisdn")
    def phone_number(self, obj: Line) -> str:
        return msisdn_format(obj.msisdn) if obj.msisdn else "—"
