from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kaisen.core.admin import AuditedAdminMixin
from kaisen.tenancy.models import Tenant
from kaisen.tenancy.services import tenant_generate_public_id


@admin.register(Tenant)
class TenantAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("public_id", "legal_name", "kind", "contract_code", "contact_email", "is_active", "created_at")
    list_filter = ("kind", "is_active", "coverage_japan", "coverage_global")
    search_fields = ("public_id", "legal_name", "legal_name_kana", "contract_code", "contact_email")
    ordering = ("public_id",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("public_id", "legal_name", "legal_name_kana", "contract_code", "kind", "is_active")}),
        (_("Coverage"), {"fields": ("coverage_japan", "coverage_global")}),
        (_("Contact"), {"fields": ("contact_name", "contact_email", "contact_phone", "notification_email")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
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
