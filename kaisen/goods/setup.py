"""The starting catalogue (demo data and a new installation's first load; ``kaisen admin goods catalogue-load``).

SIMs: one item per carrier × SIM type × size the products offer (``kaisen.procedures.rules.OFFERED_SIZES``,
the sizes a SIM reissue offers), starting on the carrier's first offered Japan plan; a few devices and a kit;
the two parcels (宅急便 size 60 and ネコポス); running-cost items for each offered plan (their price follows the
plan fee) and two options. Prices are the operator's to set: the figures here are demo values, entered as
price versions valid from the day of the load. Items that exist already are left as they are.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from kaisen.billing.models import TaxClass
from kaisen.carriers.models import Carrier, Coverage
from kaisen.core import clock
from kaisen.goods.models import CatalogueItem, ItemKind, ItemPrice
from kaisen.lines.models import Plan, SimSize, SimType
from kaisen.procedures.rules import OFFERED_SIZES

_SIM_JA = {SimType.DATA: "データ通信", SimType.SMS: "SMS付きデータ", SimType.VOICE: "音声通話"}
_SIZE_JA = {SimSize.STANDARD: "標準", SimSize.MICRO: "マイクロ", SimSize.NANO: "ナノ", SimSize.MULTI: "マルチカット"}
# English names are written out, not taken from the (translated) choice labels: the load may run in Japanese.
_SIM_EN = {SimType.DATA: "data", SimType.SMS: "data + SMS", SimType.VOICE: "voice"}
_SIZE_EN = {SimSize.STANDARD: "standard", SimSize.MICRO: "micro", SimSize.NANO: "nano", SimSize.MULTI: "multi-cut"}
SIM_PRICE = Decimal(1650)

# code, kind, name, name_en, size units, fits ネコポス, price (yen, tax excluded)
_OTHERS: list[tuple[str, str, str, str, int, bool, int]] = [
    ("DEV-USB-LTE", ItemKind.DEVICE, "USB型LTEドングル", "USB LTE dongle", 6, False, 9800),
    ("DEV-LTE-ROUTER", ItemKind.DEVICE, "LTEルーター", "LTE router", 20, False, 19800),
    ("DEV-GPS-TRACKER", ItemKind.DEVICE, "GPSトラッカー", "GPS tracker", 4, True, 7200),
    ("KIT-STARTER", ItemKind.KIT, "スターターキット（SIM＋USBドングル）", "Starter kit (SIM + USB dongle)", 8,
     False, 11000),
]
# code, name, name_en, capacity units, ネコポス, price
_PARCELS: list[tuple[str, str, str, int, bool, int]] = [
    ("SHIP-NEKOPOS", "ネコポス", "Nekopos (small parcel)", 10, True, 350),
    ("SHIP-60", "宅急便 60サイズ", "Parcel, size 60", 60, False, 1100),
]
_OPTIONS: list[tuple[str, str, str, int]] = [
    ("RUN-OPT-VOICEMAIL", "留守番電話（月額）", "Voicemail (per month)", 300),
    ("RUN-SVC-SUPPORT", "技術サポート（月額・1契約）", "Technical support (per month, per contract)", 5000),
]


def _price(item: CatalogueItem, amount: Decimal, day: dt.date) -> None:
    if not item.prices.exists():
        ItemPrice.objects.create(item=item, valid_from=day, amount=amount)


@transaction.atomic
def catalogue_ensure(*, day: dt.date | None = None) -> int:
    """Create the starting catalogue's missing items. Returns how many items were created."""
    day = day or clock.today_jst()
    created = 0

    def add(code: str, price: Decimal | None, **fields: object) -> None:
        nonlocal created
        item, new = CatalogueItem.objects.get_or_create(code=code, defaults=fields)
        created += int(new)
        if price is not None:
            _price(item, price, day)

    position = 0
    for (carrier, sim_type), sizes in OFFERED_SIZES.items():
        plan = (Plan.objects.filter(carrier=carrier, coverage=Coverage.JAPAN, is_active=True).order_by("code")
                .first())
        if plan is None:
            continue
        for size in sizes:
            position += 1
            label = Carrier(carrier).label
            add(f"SIM-{carrier}-{sim_type}-{size}".upper(), SIM_PRICE, kind=ItemKind.SIM, coverage=Coverage.JAPAN,
                name=f"{label} {_SIM_JA[SimType(sim_type)]}SIM（{_SIZE_JA[SimSize(size)]}）",
                name_en=f"{label} {_SIM_EN[SimType(sim_type)]} SIM ({_SIZE_EN[SimSize(size)]})", carrier=carrier,
                sim_type=sim_type, sim_size=size, plan=plan, size_units=1, nekopos_ok=True, position=position,
                tax_class=TaxClass.TAXABLE_10)
    for code, kind, name, name_en, units, nekopos, price in _OTHERS:
        add(code, Decimal(price), kind=kind, coverage=Coverage.JAPAN, name=name, name_en=name_en, size_units=units,
            nekopos_ok=nekopos)
    for code, name, name_en, capacity, nekopos, price in _PARCELS:
        add(code, Decimal(price), kind=ItemKind.SHIPPING, coverage=Coverage.JAPAN, name=name, name_en=name_en,
            capacity_units=capacity, is_nekopos=nekopos, quotable=False)
    for i, plan in enumerate(Plan.objects.filter(is_active=True, coverage=Coverage.JAPAN).order_by("code")):
        add(f"RUN-PLAN-{plan.code}".upper()[:40], None, kind=ItemKind.RUNNING, coverage=Coverage.JAPAN,
            name=f"{plan.name}（月額・1回線）", name_en=f"{plan.name_en} (per month, per line)", plan=plan,
            position=i)
    for code, name, name_en, price in _OPTIONS:
        add(code, Decimal(price), kind=ItemKind.RUNNING, coverage=Coverage.JAPAN, name=name, name_en=name_en,
            position=100)
    return created
