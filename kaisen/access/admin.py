"""Back office (issue 14): roles, their assignments and approval requests, read-only. Tenants manage them on
the portal (kaisen.access.services); staff only look."""

from __future__ import annotations

from django.contrib import admin

from kaisen.access.models import ApprovalRequest, Role, RoleAssignment
from kaisen.core.admin import ReadOnlyAdminMixin


@admin.register(Role)
class RoleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "tenant", "key", "requires_approval", "created_at")
    list_filter = ("requires_approval",)
    list_select_related = ("tenant",)
    search_fields = ("name", "key", "tenant__public_id", "tenant__legal_name")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "role", "tenant", "created_at")
    list_select_related = ("tenant", "user", "role")
    search_fields = ("user__username", "role__name", "tenant__public_id")


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "tenant", "line", "kind", "status", "requested_by", "decided_by", "decided_at",
                    "order", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("tenant", "line", "requested_by", "decided_by")
    search_fields = ("tenant__public_id", "tenant__legal_name", "line__msisdn", "line__iccid")
