from __future__ import annotations

from django.contrib import admin

from kaisen.audit.models import AuditEvent
from kaisen.core.admin import ReadOnlyAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "tenant", "actor", "ip_address", "action", "target_label", "success")
    list_filter = ("success", "tenant")
    list_select_related = ("tenant",)
    search_fields = ("actor", "^action", "target_label", "=target_id", "=ip_address")
    show_full_result_count = False
    ordering = ("-at", "-id")
    list_per_page = 100
