from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kaisen.audit.backoffice import AuditedAdminMixin
from kaisen.core.errors import DomainError
from kaisen.core.numbers import iccid_normalize, msisdn_format, msisdn_normalize
from kaisen.lines.models import Line, LineStatus, Plan


@admin.register(Plan)
class PlanAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "carrier", "coverage", "data_allowance_mb", "has_data_cap",
                    "monthly_fee", "change_rule", "is_active")
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


@admin.register(Line)
class LineAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = LineAdminForm
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

    @admin.display(description=_("phone number"), ordering="msisdn")
    def phone_number(self, obj: Line) -> str:
        return msisdn_format(obj.msisdn) if obj.msisdn else "—"
