"""Back office (T-3): the usage tables, read-only. Files are imported on the "Usage imports" page or with
``kaisen admin usage import``; nothing here writes usage."""

from __future__ import annotations

from django.contrib import admin

from kaisen.core.admin import AmountFieldsAdminMixin, ReadOnlyAdminMixin, amount_column
from kaisen.usage.models import (
    CallRecord,
    DataUsageDaily,
    UnmatchedCall,
    UnmatchedDataUsage,
    UsageArchive,
    UsageFile,
    UsageRollup,
    UsageRowError,
)


@admin.register(UsageFile)
class UsageFileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("imported_at", "name", "kind", "rows_total", "rows_loaded", "rows_duplicate", "rows_rejected",
                    "rows_unmatched", "imported_by")
    list_filter = ("kind",)
    search_fields = ("name", "sha256")


@admin.register(CallRecord)
class CallRecordAdmin(AmountFieldsAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("started_at", "msisdn", "destination_number", "destination_area", "duration_ds", "units",
                    "call_type", "tax_exempt", "billing_month",
                    amount_column("charge", CallRecord._meta.get_field("charge").verbose_name), "tenant")
    amount_fields = ("charge",)
    list_filter = ("call_type", "tax_exempt", "billing_month")
    search_fields = ("msisdn", "record_id", "destination_number")
    list_select_related = ("tenant",)
    show_full_result_count = False


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Issue 10 §4: what the bills and usage pages read; an adjustment has a billing month after its month of
    use (late usage)."""

    list_display = ("day", "msisdn", "call_type", "calls", "duration_ds", "charge", "currency", "flat_rate_free",
                    "usage_month", "billing_month", "tenant")
    list_filter = ("call_type", "coverage", "flat_rate_free", "billing_month")
    search_fields = ("msisdn",)
    list_select_related = ("tenant",)
    show_full_result_count = False


@admin.register(DataUsageDaily)
class DataUsageDailyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("day", "msisdn", "bytes_used", "tenant")
    search_fields = ("msisdn",)
    list_select_related = ("tenant",)
    show_full_result_count = False


@admin.register(UnmatchedCall)
class UnmatchedCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("msisdn", "started_at", "destination_number", "call_type", "source_file", "row_no")
    search_fields = ("msisdn", "record_id")


@admin.register(UnmatchedDataUsage)
class UnmatchedDataUsageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("msisdn", "iccid", "day", "bytes_used", "source_file", "row_no")
    search_fields = ("msisdn", "iccid")


@admin.register(UsageRowError)
class UsageRowErrorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("source_file", "row_no", "code", "message")
    list_filter = ("code",)


@admin.register(UsageArchive)
class UsageArchiveAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Months archived past the retention period (issue 10 §5): written by ``kaisen admin usage archive``."""

    list_display = ("month", "table", "rows", "size_bytes", "path", "sha256", "archived_at", "archived_by")
    list_filter = ("table",)
