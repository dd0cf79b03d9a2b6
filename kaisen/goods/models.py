"""The catalogue, quotes and orders of SIMs and devices (issue 12; S-ORD-1, S-ORD-2, seed 001 §5).

* ``CatalogueItem`` — one thing a quote or an order can name: a product (SIM per carrier × SIM type × size,
  device, kit), a shipping method (a parcel with a capacity in size units: 宅急便 size 60, ネコポス) or a
  running-cost item of a quote (a plan, an option, a service per month).
* ``ItemPrice`` — the item's price from a date (``valid_from``), per coverage's currency, as tariff versions
  are (``kaisen.billing.versions``): the version in force on a day is the newest one valid from that day or
  earlier. A running item naming a plan without a price of its own uses the plan-fee version in force.
* ``Quote`` — a saved calculation (number, valid-until date, the figures as computed then).
* ``GoodsOrder`` / ``GoodsOrderItem`` — an order; its status history is ``GoodsOrderEvent``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kaisen.billing.models import Currency, TaxClass
from kaisen.carriers.models import Carrier, Coverage
from kaisen.lines.models import SimSize, SimType


class ItemKind(models.TextChoices):
    SIM = "sim", _("SIM card")
    DEVICE = "device", _("Device")
    KIT = "kit", _("Kit")
    SHIPPING = "shipping", _("Shipping")
    RUNNING = "running", _("Running cost (per month)")


PRODUCT_KINDS = (ItemKind.SIM, ItemKind.DEVICE, ItemKind.KIT)


class StockState(models.TextChoices):
    IN_STOCK = "in_stock", _("In stock")
    LOW = "low", _("Few left")
    OUT = "out_of_stock", _("Out of stock")
    DISCONTINUED = "discontinued", _("No longer sold")


#: Stock states in which an item can be ordered (a quote may still name an item out of stock).
ORDERABLE_STOCK = (StockState.IN_STOCK, StockState.LOW)


class CatalogueItem(models.Model):
    code = models.CharField(_("item code"), max_length=40, unique=True)
    name = models.CharField(_("name (Japanese)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    kind = models.CharField(_("kind"), max_length=12, choices=ItemKind.choices)
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    # SIMs: what the card is; the plan the new line starts on.
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices, blank=True)
    sim_type = models.CharField(_("SIM type"), max_length=8, choices=SimType.choices, blank=True)
    sim_size = models.CharField(_("SIM size"), max_length=8, choices=SimSize.choices, blank=True)
    plan = models.ForeignKey("lines.Plan", verbose_name=_("plan"), on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+",
                             help_text=_("A SIM: the plan its line starts on. A running cost: the plan whose fee "
                                         "it is (its price then follows the plan fee when it has none of its own)."))
    tax_class = models.CharField(_("tax class"), max_length=16, choices=TaxClass.choices,
                                 default=TaxClass.TAXABLE_10)
    stock_state = models.CharField(_("stock"), max_length=16, choices=StockState.choices,
                                   default=StockState.IN_STOCK)
    # Parcels: a product takes ``size_units`` of a parcel; a shipping method carries ``capacity_units``.
    size_units = models.PositiveIntegerField(
        _("size in a parcel (units)"), default=1,
        help_text=_("How much of a parcel one piece takes; a parcel of size 60 holds 60 units."))
    nekopos_ok = models.BooleanField(_("fits a ネコポス parcel"), default=False)
    capacity_units = models.PositiveIntegerField(_("parcel capacity (units)"), default=0,
                                                 help_text=_("Shipping methods: how many units one parcel holds."))
    is_nekopos = models.BooleanField(_("ネコポス"), default=False,
                                     help_text=_("Shipping methods: the small parcel, only for products that fit."))
    quotable = models.BooleanField(_("in the quote calculator"), default=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("offered"), default=True)

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        ordering = ["kind", "position", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_product(self) -> bool:
        return self.kind in PRODUCT_KINDS

    def label(self, lang: str) -> str:
        return self.name if lang.startswith("ja") else self.name_en


class ItemPrice(models.Model):
    """A price version: from ``valid_from`` until the next version of the same item."""

    item = models.ForeignKey(CatalogueItem, verbose_name=_("item"), on_delete=models.CASCADE,
                             related_name="prices")
    valid_from = models.DateField(_("valid from"))
    amount = models.DecimalField(_("price (tax excluded)"), max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("price version")
        verbose_name_plural = _("price versions")
        ordering = ["item", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["item", "valid_from"], name="goods_price_item_from")]

    def __str__(self) -> str:
        return f"{self.item.code} {self.amount} from {self.valid_from}"


class Quote(models.Model):
    """A saved quote. ``tenant`` is empty for a quote made on the public calculator (reachable by its token
    only); a portal quote belongs to its tenant."""

    number = models.CharField(_("quote number"), max_length=24, unique=True)
    token = models.CharField(max_length=43, unique=True)
    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT, null=True,
                               blank=True, related_name="goods_quotes")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.JPY)
    addressee = models.CharField(_("addressee"), max_length=120, blank=True)
    request = models.JSONField(_("what was asked"), default=dict)
    figures = models.JSONField(_("figures"), default=dict)
    initial_total = models.DecimalField(_("initial costs (tax included)"), max_digits=14, decimal_places=2,
                                        default=Decimal(0))
    monthly_total = models.DecimalField(_("running costs per month (tax included)"), max_digits=14,
                                        decimal_places=2, default=Decimal(0))
    issued_on = models.DateField(_("issue date"))
    valid_until = models.DateField(_("valid until"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "id"], name="goods_quote_tenant")]

    def __str__(self) -> str:
        return self.number


class PaymentKind(models.TextChoices):
    CARD = "card", _("Credit card (charged just before shipment)")
    INVOICE = "invoice", _("Invoice (added to that month's invoice)")


class OrderStatus(models.TextChoices):
    RECEIVED = "received", pgettext_lazy("goods order", "Received")
    PAYMENT_FAILED = "payment_failed", _("On hold: payment failed")
    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting shipment")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", pgettext_lazy("goods order", "Cancelled")


class GoodsOrder(models.Model):
    number = models.CharField(_("order number"), max_length=24, unique=True)
    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="goods_orders")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    quote = models.ForeignKey(Quote, verbose_name=_("quote"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="orders")
    idempotency_key = models.CharField(_("idempotency key"), max_length=100)
    request_hash = models.CharField(max_length=64)
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.JPY)
    payment_method = models.CharField(_("payment method"), max_length=8, choices=PaymentKind.choices)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.RECEIVED)
    desired_delivery_on = models.DateField(_("desired delivery date"), null=True, blank=True,
                                           help_text=_("Advance orders only."))
    shipping_code = models.CharField(_("shipping method"), max_length=40)
    recipient = models.CharField(_("recipient"), max_length=120)
    postal_code = models.CharField(_("postal code"), max_length=8)
    address = models.CharField(_("address"), max_length=200)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    subtotal = models.DecimalField(_("subtotal (tax excluded)"), max_digits=14, decimal_places=2, default=Decimal(0))
    tax_total = models.DecimalField(_("consumption tax"), max_digits=14, decimal_places=2, default=Decimal(0))
    total = models.DecimalField(_("total (tax included)"), max_digits=14, decimal_places=2, default=Decimal(0))
    tax_rates = models.JSONField(_("tax per rate"), default=list)
    settled_on = models.DateField(_("payment date"), null=True, blank=True,
                                  help_text=_("Card: the day the card was charged. Invoice: the day it was added "
                                              "to that month's invoice."))
    charge_id = models.CharField(_("card charge"), max_length=64, blank=True)
    failure_code = models.CharField(_("last payment failure"), max_length=32, blank=True)
    refund_id = models.CharField(_("card refund"), max_length=64, blank=True,
                                 help_text=_("A card order cancelled after the charge: the provider's refund."))
    refunded_amount = models.DecimalField(_("refunded amount"), max_digits=14, decimal_places=2, null=True,
                                          blank=True)
    refunded_on = models.DateField(_("refund date"), null=True, blank=True)
    carrier_name = models.CharField(_("delivery company"), max_length=60, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True)
    shipped_on = models.DateField(_("ship date"), null=True, blank=True)
    delivered_on = models.DateField(_("delivery date"), null=True, blank=True)
    created_at = models.DateTimeField(_("ordered at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SIM / device order")
        verbose_name_plural = _("SIM / device orders")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "id"], name="goods_order_tenant"),
                   models.Index(fields=["status", "desired_delivery_on"], name="goods_order_due")]
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="goods_order_idem")]

    def __str__(self) -> str:
        return self.number


class GoodsOrderItem(models.Model):
    order = models.ForeignKey(GoodsOrder, on_delete=models.CASCADE, related_name="items")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(CatalogueItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("item code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price (tax excluded)"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount (tax excluded)"), max_digits=14, decimal_places=2)
    tax_class = models.CharField(_("tax class"), max_length=16, choices=TaxClass.choices)
    iccids = models.JSONField(_("SIM serial numbers shipped"), default=list, blank=True)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.code} ×{self.quantity}"


class GoodsOrderEvent(models.Model):
    order = models.ForeignKey(GoodsOrder, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("at"))
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20)
    actor = models.CharField(_("by"), max_length=150, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["order", "at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"


class StatementPayer(models.Model):
    """The payer printed on the payment statement (請求明細書, seed 001 §5.4.2): company, department (optional)
    and name, entered once before the first download."""

    tenant = models.OneToOneField("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                                  related_name="statement_payer")
    company = models.CharField(_("company name"), max_length=120)
    department = models.CharField(_("department"), max_length=120, blank=True)
    name = models.CharField(_("name"), max_length=120)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment statement payer")
        verbose_name_plural = _("payment statement payers")

    def __str__(self) -> str:
        return f"{self.company} {self.name}"
