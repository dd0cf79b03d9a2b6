"""The quote calculator (S-ORD-1, seed 001 §5.1): initial costs and running costs per month.

* **Initial costs** — the products (SIMs, devices, kits) and the shipping of one parcel. Everything ordered
  at once travels in one parcel: the pieces' sizes (``size_units`` × quantity) must fit the parcel
  (``capacity_units``; 宅急便 size 60 by default). The seed: "the most the tool accepts is the most one
  shipment (order) can hold". ネコポス is the small parcel, offered when every product fits it. The shipping
  destination may be "leave shipping out of the quote" (the seed's 発送先 (送料を見積もりに含めない)): the
  quote then has no shipping fee.
* **Running costs** — per month: running items (plans, options, services) × quantity (e.g. lines × plan).
* **Tax** — per rate over each part, computed once per rate on the sum of its items, as on a qualified
  invoice (``kaisen.billing.tax.compute_tax``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kaisen.billing.tax import TaxSummary, compute_tax
from kaisen.carriers.models import Coverage
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.goods.catalogue import currency_of, price_on
from kaisen.goods.models import PRODUCT_KINDS, CatalogueItem, ItemKind

MAX_QUANTITY = 999
MAX_ROWS = 50
#: Shipping destinations of the calculator: a parcel in Japan, or shipping left out of the quote.
SHIP_JAPAN, SHIP_EXCLUDED = "japan", "excluded"
SHIPPING_CHOICES = (SHIP_JAPAN, SHIP_EXCLUDED)


@dataclass
class Row:
    item: CatalogueItem
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity

    def as_dict(self, lang: str) -> dict[str, Any]:
        return {"code": self.item.code, "name": self.item.label(lang), "kind": self.item.kind,
                "quantity": self.quantity, "unit_price": str(self.unit_price), "amount": str(self.amount),
                "tax_class": self.item.tax_class}


@dataclass
class Calculation:
    coverage: str
    currency: str
    day: dt.date
    products: list[Row] = field(default_factory=list)
    shipping: Row | None = None
    method: CatalogueItem | None = None
    shipping_destination: str = SHIP_JAPAN
    nekopos: bool = False
    running: list[Row] = field(default_factory=list)
    units: int = 0
    capacity: int = 0
    initial_tax: TaxSummary | None = None
    monthly_tax: TaxSummary | None = None

    @property
    def initial_rows(self) -> list[Row]:
        return self.products + ([self.shipping] if self.shipping else [])

    @property
    def initial_total(self) -> Decimal:
        return self.initial_tax.total if self.initial_tax else Decimal(0)

    @property
    def monthly_total(self) -> Decimal:
        return self.monthly_tax.total if self.monthly_tax else Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        lang = get_language() or "ja"

        def tax(summary: TaxSummary | None) -> dict[str, Any]:
            if summary is None:
                return {"rates": [], "exempt_total": "0", "tax_total": "0", "total": "0"}
            return {"rates": [{"tax_class": r.tax_class, "rate": str(r.rate), "base": str(r.base),
                               "tax": str(r.tax)} for r in summary.rates],
                    "exempt_total": str(summary.exempt_total), "tax_total": str(summary.tax_total),
                    "total": str(summary.total)}

        return {
            "coverage": self.coverage, "currency": self.currency, "priced_on": self.day.isoformat(),
            "products": [r.as_dict(lang) for r in self.products],
            "shipping": self.shipping.as_dict(lang) if self.shipping else None,
            "shipping_destination": self.shipping_destination, "nekopos": self.nekopos,
            "parcel_units": self.units, "parcel_capacity": self.capacity,
            "initial": tax(self.initial_tax), "running": [r.as_dict(lang) for r in self.running],
            "monthly": tax(self.monthly_tax),
        }


def _bad(message: str, field_name: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, field=field_name)


def _quantity(raw: Any, field_name: str) -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError) as exc:
        raise _bad(_("'%(value)s' is not a whole number.") % {"value": raw}, field_name) from exc
    if not 0 <= value <= MAX_QUANTITY:
        raise _bad(_("A quantity is from 0 to %(max)s.") % {"max": MAX_QUANTITY}, field_name)
    return value


def _rows(entries: list[dict[str, Any]] | None, *, coverage: str, kinds: tuple[str, ...], day: dt.date,
          where: str, orderable: bool) -> list[Row]:
    entries = list(entries or [])
    if len(entries) > MAX_ROWS:
        raise _bad(_("Up to %(max)s rows.") % {"max": MAX_ROWS}, where)
    wanted: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _bad(_("Each row names an item code and a quantity."), f"{where}.{i}")
        code = str(entry.get("code") or "").strip()
        qty = _quantity(entry.get("quantity", 0), f"{where}.{i}.quantity")
        if not code:
            raise _bad(_("Each row names an item code and a quantity."), f"{where}.{i}.code")
        if qty:
            wanted[code] = wanted.get(code, 0) + qty
            if wanted[code] > MAX_QUANTITY:
                raise _bad(_("A quantity is from 0 to %(max)s.") % {"max": MAX_QUANTITY}, f"{where}.{i}.quantity")
    items = {i.code: i for i in CatalogueItem.objects.filter(code__in=list(wanted)).select_related("plan")}
    rows = []
    for code, qty in wanted.items():
        item = items.get(code)
        if item is None or not item.is_active or item.kind not in kinds or item.coverage != coverage or (
                not orderable and not item.quotable):
            # The catalogue is stored data, which no schema states: a code of its own (issue 14).
            raise DomainError(ErrorCode.ITEM_UNKNOWN, _("There is no item %(code)s to choose here.")
                              % {"code": code}, field=where)
        price = price_on(item, day)
        if price is None:
            raise DomainError(ErrorCode.ITEM_UNKNOWN, _("Item %(code)s has no price yet.") % {"code": code},
                              field=where)
        rows.append(Row(item=item, quantity=qty, unit_price=price))
    order: dict[str, int] = {str(kind): i for i, kind in enumerate((*PRODUCT_KINDS, ItemKind.RUNNING))}
    rows.sort(key=lambda r: (order.get(str(r.item.kind), 9), r.item.position, r.item.code))
    return rows


def shipping_methods(*, coverage: str) -> list[CatalogueItem]:
    return list(CatalogueItem.objects.filter(kind=ItemKind.SHIPPING, coverage=coverage, is_active=True)
                .order_by("capacity_units", "position", "code"))


def calculate(*, coverage: str = Coverage.JAPAN, products: list[dict[str, Any]] | None = None,
              running: list[dict[str, Any]] | None = None, shipping: str = SHIP_JAPAN, nekopos: bool = False,
              orderable: bool = False, day: dt.date | None = None) -> Calculation:
    """The quote's figures. ``orderable``: the rows of an order (every product, quotable or not, and no
    running costs). Refused (``VALIDATION_ERROR``): unknown items, quantities outside 0..999, nothing chosen,
    ネコポス for a product that does not fit it; ``SHIPMENT_LIMIT_EXCEEDED``: more than one parcel holds."""
    if coverage not in Coverage.values:
        raise _bad(_("Unknown coverage %(coverage)s.") % {"coverage": coverage}, "coverage")
    if shipping not in SHIPPING_CHOICES:
        raise _bad(_("Choose where the parcel goes, or leave shipping out."), "shipping")
    day = day or clock.today_jst()
    calc = Calculation(coverage=coverage, currency=currency_of(coverage), day=day, shipping_destination=shipping,
                       nekopos=bool(nekopos))
    calc.products = _rows(products, coverage=coverage, kinds=PRODUCT_KINDS, day=day, where="products",
                          orderable=orderable)
    calc.running = [] if orderable else _rows(running, coverage=coverage, kinds=(ItemKind.RUNNING,), day=day,
                                              where="running", orderable=False)
    if not calc.products and not calc.running:
        raise _bad(_("Choose at least one product or running cost."), "products")
    if calc.products:
        methods = shipping_methods(coverage=coverage)
        if nekopos:
            unfit = [r.item.code for r in calc.products if not r.item.nekopos_ok]
            if unfit:
                raise _bad(_("ネコポス is only possible when every product fits it; %(codes)s does not.")
                           % {"codes": ", ".join(unfit)}, "nekopos")
            methods = [m for m in methods if m.is_nekopos]
        else:
            methods = [m for m in methods if not m.is_nekopos]
        if not methods:
            raise _bad(_("No shipping method is offered for these products."), "shipping")
        method = methods[-1]  # the largest parcel of the kind chosen
        calc.method = method
        calc.units = sum(r.item.size_units * r.quantity for r in calc.products)
        calc.capacity = method.capacity_units
        if calc.units > calc.capacity:
            raise DomainError(ErrorCode.SHIPMENT_LIMIT_EXCEEDED, _(
                "These products take %(units)s units; one parcel (%(parcel)s) holds %(capacity)s. Order fewer "
                "pieces, or split them into several orders.")
                % {"units": calc.units, "parcel": method.label(get_language() or "ja"),
                   "capacity": calc.capacity}, field="products")
        if shipping == SHIP_JAPAN:
            fee = price_on(method, day)
            if fee is None:
                raise _bad(_("Item %(code)s has no price yet.") % {"code": method.code}, "shipping")
            calc.shipping = Row(item=method, quantity=1, unit_price=fee)
    calc.initial_tax = compute_tax([(r.item.tax_class, r.amount) for r in calc.initial_rows],
                                   currency=calc.currency) if calc.initial_rows else None
    calc.monthly_tax = compute_tax([(r.item.tax_class, r.amount) for r in calc.running],
                                   currency=calc.currency) if calc.running else None
    return calc
