"""Back office for SIM and device orders (issue 12 §1, §4): the catalogue and its price versions, and
fulfilment — the due orders, the payment just before shipment, the shipment (delivery company, tracking
number, ICCIDs) and the delivery note. Every change of an order goes through ``kaisen.goods.services``
(audited there); catalogue changes are audited by ``AuditedAdminMixin``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kaisen.audit.backoffice import AuditedAdminMixin
from kaisen.core import clock
from kaisen.core.admin import ReadOnlyAdminMixin, amount_column, amount_display, format_amount
from kaisen.core.errors import DomainError
from kaisen.goods import services
from kaisen.goods.catalogue import price_set
from kaisen.goods.models import (
    CatalogueItem,
    GoodsOrder,
    GoodsOrderEvent,
    GoodsOrderItem,
    ItemKind,
    ItemPrice,
    OrderStatus,
    PaymentKind,
)
from kaisen.goods.pdf import delivery_note_pdf
from kaisen.procedures.rules import OFFERED_SIZES


class ItemPriceInline(admin.TabularInline):
    model = ItemPrice
    extra = 0
    can_delete = False
    fields = ("valid_from", "amount", "created_at")
    readonly_fields = ("valid_from", "amount", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CatalogueItemForm(forms.ModelForm):
    class Meta:
        model = CatalogueItem
        fields = ("code", "name", "name_en", "kind", "coverage", "carrier", "sim_type", "sim_size", "plan",
                  "tax_class", "stock_state", "size_units", "nekopos_ok", "capacity_units", "is_nekopos", "quotable",
                  "position", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == ItemKind.SIM:
            missing = [f for f in ("carrier", "sim_type", "sim_size", "plan") if not data.get(f)]
            if missing:
                raise ValidationError(_("A SIM needs its carrier, SIM type, size and the plan its line starts on."))
            if data["sim_size"] not in OFFERED_SIZES.get((data["carrier"], data["sim_type"]), ()):
                raise ValidationError(_("This carrier does not offer this SIM type in this size."))
        if kind == ItemKind.SHIPPING and not data.get("capacity_units"):
            raise ValidationError(_("A shipping method needs the capacity of one parcel."))
        if kind in (ItemKind.SIM, ItemKind.DEVICE, ItemKind.KIT) and not data.get("size_units"):
            raise ValidationError(_("A product needs its size in a parcel."))
        return data


@admin.register(CatalogueItem)
class CatalogueItemAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = CatalogueItemForm
    list_display = ("code", "name", "kind", "coverage", "carrier", "sim_type", "sim_size", "current_price",
                    "stock_state", "size_units", "capacity_units", "quotable", "is_active")
    list_filter = ("kind", "coverage", "carrier", "stock_state", "is_active", "quotable")
    search_fields = ("code", "name", "name_en")
    list_editable = ("stock_state",)
    inlines = [ItemPriceInline]

    @admin.display(description=_("price today"))
    def current_price(self, obj: CatalogueItem) -> str:
        from kaisen.goods.catalogue import price_on

        price = price_on(obj)
        return "—" if price is None else f"{price:,}"


class ItemPriceForm(forms.ModelForm):
    class Meta:
        model = ItemPrice
        fields = ("item", "valid_from", "amount")


@admin.register(ItemPrice)
class ItemPriceAdmin(admin.ModelAdmin):
    """A price version is added through ``price_set`` (valid from today or later; audited)."""

    form = ItemPriceForm
    list_display = ("item", "valid_from", "amount", "created_at")
    list_filter = ("item__kind", "item__coverage")
    search_fields = ("item__code", "item__name")
    date_hierarchy = "valid_from"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ItemPrice, form: Any, change: bool) -> None:
        saved = price_set(item=obj.item, valid_from=obj.valid_from, amount=obj.amount,
                          actor=getattr(request.user, "audit_label", "") or str(request.user))
        obj.pk = saved.pk

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class GoodsOrderItemInline(admin.TabularInline):
    model = GoodsOrderItem
    extra = 0
    can_delete = False
    fields = ("code", "name", "quantity", amount_display(GoodsOrderItem, "unit_price"),
              amount_display(GoodsOrderItem, "amount"), "tax_class", "iccids")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _status_label(code: str) -> str:
    return str(OrderStatus(code).label) if code in OrderStatus.values else (code or "-")


class GoodsOrderEventInline(admin.TabularInline):
    model = GoodsOrderEvent
    verbose_name = _("status change")
    verbose_name_plural = _("status history")
    extra = 0
    can_delete = False
    fields = ("at", "from_label", "to_label", "actor", "note")
    readonly_fields = fields

    @admin.display(description=pgettext_lazy("status change", "from"))
    def from_label(self, obj: GoodsOrderEvent) -> str:
        return _status_label(obj.from_status)

    @admin.display(description=pgettext_lazy("status change", "to"))
    def to_label(self, obj: GoodsOrderEvent) -> str:
        return _status_label(obj.to_status)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DueFilter(admin.SimpleListFilter):
    title = _("due for shipment")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Due now"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(pk__in=services.due_orders().values("pk"))
        return queryset


class ShipForm(forms.Form):
    carrier_name = forms.CharField(label=_("Delivery company"), max_length=60, initial="ヤマト運輸")
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=40)
    iccids = forms.CharField(label=_("ICCIDs of the SIMs in the parcel"), required=False,
                             widget=forms.Textarea(attrs={"rows": 4}),
                             help_text=_("One per line, in the order of the SIM items."))


_MONEY = {f: amount_display(GoodsOrder, f) for f in ("subtotal", "tax_total", "total", "refunded_amount")}


@admin.register(GoodsOrder)
class GoodsOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "tenant", "status", "paid_by", amount_column("total", _("total (tax included)")),
                    "desired_delivery_on", "settled_on", "tracking_number", "created_at")
    fieldsets = (
        (None, {"fields": ("number", "tenant", "status", "ordered_by", "created_at", "quote",
                           "desired_delivery_on")}),
        (_("Ship to"), {"fields": ("recipient", "postal_code", "address", "phone", "shipping_code")}),
        (_("Payment and amounts"), {"fields": (
            "payment_method", "coverage", _MONEY["subtotal"], "tax_per_rate", _MONEY["total"], "settled_on",
            "charge_id", "failure_code", "refund_id", _MONEY["refunded_amount"], "refunded_on")}),
        (_("Shipment"), {"fields": ("carrier_name", "tracking_number", "shipped_on", "delivered_on")}),
        (_("Order request (technical)"), {"classes": ("collapse",),
                                          "fields": ("idempotency_key", "request_hash", "updated_at")}),
    )
    readonly_fields = ("ordered_by", "tax_per_rate", *_MONEY.values())
    list_filter = (DueFilter, "status", "payment_method", "coverage")
    list_select_related = ("tenant",)
    search_fields = ("number", "tenant__public_id", "tenant__legal_name", "tracking_number")
    inlines = [GoodsOrderItemInline, GoodsOrderEventInline]
    actions = ["settle", "deliver"]
    change_form_template = "admin/goods/goodsorder/change_form.html"

    @admin.display(description=_("payment method"), ordering="payment_method")
    def paid_by(self, obj: GoodsOrder) -> str:
        return str(_("Card") if obj.payment_method == PaymentKind.CARD else _("Invoice"))

    @admin.display(description=_("ordered by"))
    def ordered_by(self, obj: GoodsOrder) -> str:
        return getattr(obj.created_by, "audit_label", "") or str(obj.created_by or "-")

    @admin.display(description=_("tax per rate"))
    def tax_per_rate(self, obj: GoodsOrder) -> str:
        return " · ".join(f"{Decimal(r['rate']) * 100:.0f}%: {format_amount(r['base'])} / "
                          f"{_('consumption tax')} {format_amount(r['tax'])}" for r in obj.tax_rates or []) or "-"

    def has_fulfil_permission(self, request: HttpRequest) -> bool:
        """Settling, shipping and delivering need the change permission of orders (a viewer only looks)."""
        return bool(request.user.is_active and request.user.has_perm("goods.change_goodsorder"))

    def _each(self, request: HttpRequest, queryset: QuerySet[GoodsOrder], call: Any, done: Any) -> None:
        ok = 0
        for order in queryset:
            try:
                call(order)
            except DomainError as exc:
                self.message_user(request, f"{order}: {exc.message}", messages.ERROR)
            else:
                ok += 1
        if ok:
            self.message_user(request, done % {"n": ok}, messages.SUCCESS)

    @admin.action(description=_("Take the payment (just before shipment)"), permissions=["fulfil"])
    def settle(self, request: HttpRequest, queryset: QuerySet[GoodsOrder]) -> None:
        self._each(request, queryset, lambda o: services.order_settle(order_id=o.pk, staff=request.user),
                   _("%(n)s orders handled (a failed card charge puts the order on hold and mails the customer)."))

    @admin.action(description=_("Mark delivered"), permissions=["fulfil"])
    def deliver(self, request: HttpRequest, queryset: QuerySet[GoodsOrder]) -> None:
        self._each(request, queryset, lambda o: services.order_deliver(order_id=o.pk, staff=request.user),
                   _("%(n)s orders marked delivered."))

    def get_urls(self) -> list[Any]:
        return [
            path("<int:object_id>/ship/", self.admin_site.admin_view(self.ship_view), name="goods_goodsorder_ship"),
            path("<int:object_id>/delivery-note/", self.admin_site.admin_view(self.note_view),
                 name="goods_goodsorder_note"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "ship_form": ShipForm() if self.has_fulfil_permission(request) else None,
                 "ship_url": reverse("admin:goods_goodsorder_ship", args=[object_id]),
                 "note_url": reverse("admin:goods_goodsorder_note", args=[object_id]),
                 "today": clock.today_jst()}
        return super().change_view(request, object_id, form_url, extra)

    def ship_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST" or not self.has_fulfil_permission(request):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:goods_goodsorder_change", args=[object_id]))
        form = ShipForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, str(error), messages.ERROR)
            return back
        try:
            order = services.order_ship(order_id=object_id, staff=request.user, **form.cleaned_data)
        except DomainError as exc:
            self.message_user(request, f"{exc.message} ({exc.code})", messages.ERROR)
            return back
        self.message_user(request, _("Shipped: %(number)s") % {"number": order.number}, messages.SUCCESS)
        return back

    def note_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        order = GoodsOrder.objects.select_related("tenant").filter(pk=object_id).first()
        if order is None or order.shipped_on is None:
            self.message_user(request, _("The delivery note exists once the order has shipped."), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:goods_goodsorder_change", args=[object_id]))
        response = HttpResponse(delivery_note_pdf(order=order), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="delivery_note_{order.number}.pdf"'
        return response
