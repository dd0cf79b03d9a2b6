"""The quote calculator and the catalogue's price versions (issue 12 §1-§2; S-ORD-1, seed 001 §5.1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kaisen.billing.models import PlanTariff
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.goods.calc import SHIP_EXCLUDED, calculate
from kaisen.goods.catalogue import price_on, price_set
from kaisen.goods.models import CatalogueItem, ItemKind
from kaisen.lines.models import Plan
from tests.goods.conftest import SIM

pytestmark = pytest.mark.usefixtures("catalogue")


def _codes(kind: str) -> list[str]:
    return list(CatalogueItem.objects.filter(kind=kind).values_list("code", flat=True))


def test_sims_only_in_the_sizes_the_products_offer() -> None:
    sizes = set(CatalogueItem.objects.filter(kind=ItemKind.SIM, carrier="softbank").values_list("sim_size", flat=True))
    assert sizes == {"nano", "multi"}  # SoftBank data SIMs: nano and multi only, as a reissue offers
    assert CatalogueItem.objects.filter(kind=ItemKind.SIM, carrier="docomo", sim_type="voice").count() == 4


def test_initial_costs_with_shipping_and_tax_once_per_rate() -> None:
    calc = calculate(products=[{"code": SIM, "quantity": 3}, {"code": "DEV-USB-LTE", "quantity": 1}])
    # 3 × 1,650 + 9,800 + the size-60 parcel 1,100 = 15,850; 10 % of the sum once = 1,585
    assert [r.amount for r in calc.products] == [Decimal(4950), Decimal(9800)]
    assert calc.shipping is not None and calc.shipping.item.code == "SHIP-60"
    assert calc.initial_tax is not None
    assert calc.initial_tax.taxable_total == Decimal(15850)
    assert calc.initial_tax.tax_total == Decimal(1585)
    assert calc.initial_total == Decimal(17435)
    assert calc.units == 3 + 6 and calc.capacity == 60


def test_tax_is_rounded_once_on_the_sum_not_per_item() -> None:
    tomorrow = clock.today_jst() + dt.timedelta(days=1)
    price_set(item=CatalogueItem.objects.get(code=SIM), valid_from=tomorrow, amount=105)
    calc = calculate(products=[{"code": SIM, "quantity": 2}], shipping=SHIP_EXCLUDED, day=tomorrow)
    assert calc.initial_tax is not None and calc.initial_tax.tax_total == Decimal(21)  # not 10 + 10


def test_shipping_can_be_left_out_of_the_quote() -> None:
    calc = calculate(products=[{"code": SIM, "quantity": 1}], shipping=SHIP_EXCLUDED)
    assert calc.shipping is None
    assert calc.initial_total == Decimal(1815)


def test_nekopos_only_when_every_product_fits() -> None:
    calc = calculate(products=[{"code": SIM, "quantity": 2}], nekopos=True)
    assert calc.shipping is not None and calc.shipping.item.code == "SHIP-NEKOPOS"
    with pytest.raises(DomainError) as err:
        calculate(products=[{"code": SIM, "quantity": 1}, {"code": "DEV-USB-LTE", "quantity": 1}], nekopos=True)
    assert err.value.field == "nekopos"
    with pytest.raises(DomainError) as err:  # the small parcel holds 10 SIMs
        calculate(products=[{"code": SIM, "quantity": 11}], nekopos=True)
    assert err.value.code == ErrorCode.SHIPMENT_LIMIT_EXCEEDED


def test_a_mixed_cart_is_limited_by_one_parcel_of_size_60() -> None:
    ok = calculate(products=[{"code": "DEV-LTE-ROUTER", "quantity": 2}, {"code": SIM, "quantity": 20}])
    assert ok.units == 60
    with pytest.raises(DomainError) as err:
        calculate(products=[{"code": "DEV-LTE-ROUTER", "quantity": 2}, {"code": SIM, "quantity": 21}])
    assert err.value.code == ErrorCode.SHIPMENT_LIMIT_EXCEEDED
    with pytest.raises(DomainError) as err:
        calculate(products=[{"code": SIM, "quantity": 61}])
    assert err.value.code == ErrorCode.SHIPMENT_LIMIT_EXCEEDED


def test_running_costs_per_month_follow_the_plan_fee_version() -> None:
    plan = Plan.objects.get(code="DOCOMO-3G")
    code = "RUN-PLAN-DOCOMO-3G"
    calc = calculate(running=[{"code": code, "quantity": 10}, {"code": "RUN-OPT-VOICEMAIL", "quantity": 10}])
    assert calc.running[0].unit_price == Decimal(980)  # no tariff version yet: the catalogue fee
    assert calc.monthly_tax is not None and calc.monthly_tax.taxable_total == Decimal(12800)
    assert calc.monthly_total == Decimal(14080)
    assert calc.shipping is None and calc.initial_total == 0
    PlanTariff.objects.create(plan=plan, valid_from=clock.today_jst() - dt.timedelta(days=1), jpy_monthly_fee=880)
    assert calculate(running=[{"code": code, "quantity": 1}]).running[0].unit_price == Decimal(880)


def test_price_versions_apply_from_their_date() -> None:
    item = CatalogueItem.objects.get(code=SIM)
    today = clock.today_jst()
    price_set(item=item, valid_from=today + dt.timedelta(days=10), amount=1800)
    assert price_on(item, today) == Decimal(1650)
    assert price_on(item, today + dt.timedelta(days=10)) == Decimal(1800)
    with pytest.raises(DomainError) as err:
        price_set(item=item, valid_from=today - dt.timedelta(days=1), amount=1)
    assert err.value.code == ErrorCode.INVALID_DATE
    with pytest.raises(DomainError):
        price_set(item=item, valid_from=today, amount=-1)
    with pytest.raises(DomainError):  # the version in force is kept
        price_set(item=item, valid_from=item.prices.order_by("valid_from").first().valid_from, amount=2000)


@pytest.mark.parametrize("products,field,code", [
    ([{"code": "NOPE", "quantity": 1}], "products", ErrorCode.ITEM_UNKNOWN),  # issue 14: the catalogue's own code
    ([{"code": SIM, "quantity": -1}], "products.0.quantity", ErrorCode.VALIDATION_ERROR),
    ([{"code": SIM, "quantity": "x"}], "products.0.quantity", ErrorCode.VALIDATION_ERROR),
    ([{"code": SIM, "quantity": 1000}], "products.0.quantity", ErrorCode.VALIDATION_ERROR),
    ([{"code": "SHIP-60", "quantity": 1}], "products", ErrorCode.ITEM_UNKNOWN),
    ([], "products", ErrorCode.VALIDATION_ERROR),
])
def test_bad_rows_are_refused(products: list, field: str, code: ErrorCode) -> None:
    with pytest.raises(DomainError) as err:
        calculate(products=products)
    assert err.value.code == code and err.value.field == field


def test_catalogue_english_names_do_not_depend_on_the_active_language() -> None:
    item = CatalogueItem.objects.get(code=SIM)
    assert item.name_en == "docomo data SIM (nano)" and "ナノ" in item.name
