"""Back office (issue 14): CSV statements requested by tenants, read-only (their files are served to the
tenant only; staff see the request, its progress and any error)."""

from __future__ import annotations

from django.contrib import admin

from kaisen.core.admin import ReadOnlyAdminMixin, amount_column
from kaisen.statements.models import Statement


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "tenant", "kind", "period", "status", amount_column("rows_total", Statement._meta
                    .get_field("rows_total").verbose_name), "created_at", "finished_at", "error")
    list_filter = ("status", "kind")
    list_select_related = ("tenant",)
    search_fields = ("tenant__public_id", "tenant__legal_name", "file_name")
    exclude = ("file_path",)
