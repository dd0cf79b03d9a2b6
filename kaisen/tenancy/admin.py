from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.audit.backoffice import AuditedAdminMixin
from kaisen.tenancy.models import ContractService, DialInNumber, SimTransfer, SimTransferLine, Tenant
from kaisen.tenancy.services import tenant_generate_public_id


class ContractServiceInline(admin.TabularInline):
    """K-1: the contract's services and whether each is applied; the tenant reads them on its contract page."""

    model = ContractService
    extra = 0
    fields = ("position", "name", "applied", "detail")


class DialInNumberInline(admin.TabularInline):
    """K-1 / K-2: the contract's extra dial-in numbers and the mobile line each is linked to."""

    model = DialInNumber
    extra = 0
    fields = ("number", "line", "started_on")
    raw_id_fields = ("line",)


@admin.register(Tenant)
class TenantAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("public_id", "legal_name", "kind", "contract_code", "contact_email", "is_active", "created_at")
    list_filter = ("kind", "is_active", "coverage_japan", "coverage_global")
    search_fields = ("public_id", "legal_name", "legal_name_kana", "contract_code", "contact_email")
    ordering = ("public_id",)
    readonly_fields = ("created_at", "updated_at", "deleted_at")
    inlines = (ContractServiceInline, DialInNumberInline)
    fieldsets = (
        (None, {"fields": ("public_id", "legal_name", "legal_name_kana", "contract_code", "kind", "is_active")}),
        (_("Coverage"), {"fields": ("coverage_japan", "coverage_global")}),
        (_("Contact"), {"fields": ("contact_name", "contact_name_kana", "contact_email", "contact_phone",
                                   "notification_email", "postal_code", "address")}),
        (_("Security"), {"fields": ("password_profile", "mfa_policy", "session_idle_minutes")}),
        (_("Contract summary (K-1)"), {"fields": ("contract_started_on", "base_number", "channels", "connection_type",
                                                  "dns_primary", "dns_secondary")}),
        (_("Record"), {"fields": ("created_at", "updated_at", "deleted_at")}),
    )

    def audit_tenant(self, obj: Any) -> Any:
        return obj

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("public_id", tenant_generate_public_id())
        return initial

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The operator ID is how the customer logs in: fixed once the tenant exists.
        return (*self.readonly_fields, "public_id") if obj is not None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a contract has preconditions (S-ACC-5) and history to keep: deactivate instead.
        return False


class SimTransferLineInline(admin.TabularInline):
    model = SimTransferLine
    extra = 0
    fields = ("iccid", "msisdn", "line")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SimTransfer)
class SimTransferAdmin(admin.ModelAdmin):
    """S-ACC-4: read-only for the operator (transfers are made and accepted by the tenants' root users)."""

    list_display = ("pk", "from_tenant", "to_public_id", "status", "created_at", "expires_at", "accepted_at")
    list_filter = ("status",)
    search_fields = ("from_tenant__public_id", "to_public_id")
    inlines = (SimTransferLineInline,)
    exclude = ("token_hash",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields if f.name != "token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
