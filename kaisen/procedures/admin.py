"""Back office for orders (issue 14): find an order (number, ICCID, phone number, tenant, status), read it with
its events, and act on it — retry, mark failed, mark completed — always with a reason, through
``kaisen.procedures.staff`` (audited there). Bulk jobs read-only. The "needs attention" page is in
``kaisen.payments.admin`` (the layer that may read orders, invoices and usage files alike)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from kaisen.core.admin import ReadOnlyAdminMixin
from kaisen.core.errors import DomainError
from kaisen.procedures import staff
from kaisen.procedures.models import BulkJob, Order, OrderEvent

STAFF_ACTIONS = {
    "retry": (staff.order_staff_retry, _("The order was handed to the engine again.")),
    "fail": (staff.order_staff_fail, _("The order was marked failed.")),
    "complete": (staff.order_staff_complete, _("The order was marked completed.")),
}


class StaffActionForm(forms.Form):
    action = forms.ChoiceField(label=_("action"), choices=[("retry", _("Retry now")), ("fail", _("Mark failed")),
                                                           ("complete", _("Mark completed"))])
    reason = forms.CharField(label=_("reason"), max_length=500, widget=forms.TextInput(attrs={"size": 60}))


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Orders are written by services only; staff act on them through the form on the order's page."""

    list_display = ("id", "tenant", "line_number", "line_iccid", "kind", "status", "due_at", "attempts",
                    "error_code", "created_at")
    list_filter = ("status", "kind", "line__carrier")
    list_select_related = ("tenant", "line")
    search_fields = ("line__iccid", "line__msisdn", "tenant__public_id", "tenant__legal_name", "carrier_ref")
    search_help_text = _("Order number, ICCID, phone number, tenant ID or name, or carrier reference.")
    show_full_result_count = False
    inlines = [OrderEventInline]
    change_form_template = "admin/procedures/order/change_form.html"

    @admin.display(description=_("phone number"), ordering="line__msisdn")
    def line_number(self, obj: Order) -> str:
        return obj.line.msisdn or ""

    @admin.display(description=_("ICCID"), ordering="line__iccid")
    def line_iccid(self, obj: Order) -> str:
        return obj.line.iccid

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        """An order number ("123" or "#123": up to 9 digits, shorter than any phone number or ICCID) finds
        that order; anything else is looked up in the fields above."""
        term = search_term.strip()
        number = term.removeprefix("#")
        if number.isdigit() and (term.startswith("#") or len(number) <= 9):
            return queryset.filter(pk=int(number[:18])), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self) -> list[Any]:
        return [
            path("<int:object_id>/act/", self.admin_site.admin_view(self.act_view), name="procedures_order_act"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "staff_action_form": StaffActionForm(),
                 "staff_action_url": reverse("admin:procedures_order_act", args=[object_id])}
        return super().change_view(request, object_id, form_url, extra)

    def act_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST only: one staff action with its reason; the order's page shows the outcome."""
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:procedures_order_change", args=[object_id]))
        form = StaffActionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, str(error), messages.ERROR)
            return back
        call, done = STAFF_ACTIONS[form.cleaned_data["action"]]
        try:
            order = call(staff=request.user, order_id=object_id, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            self.message_user(request, f"{exc.message} ({exc.code})", messages.ERROR)
            return back
        self.message_user(request, f"{done} ({order.get_status_display()})", messages.SUCCESS)
        return back


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "tenant", "kind", "filename", "dry_run", "status", "rows_total", "rows_ok", "rows_failed",
                    "created_at", "finished_at")
    list_filter = ("status", "kind", "dry_run")
    list_select_related = ("tenant",)
    search_fields = ("tenant__public_id", "tenant__legal_name", "filename")
    exclude = ("csv_data", "run_token")
