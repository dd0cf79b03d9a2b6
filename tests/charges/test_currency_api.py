"""Every API amount states its currency (issue 10 §7), and a number's call charges are one figure on the
per-number table and on its call-details page (issue 14: SMS is not a call; the page shows it apart)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kaisen.billing.models import Currency
from kaisen.carriers.models import Coverage
from kaisen.core.clock import JST
from kaisen.usage.models import CallType
from tests.charges.conftest import OCT, Billed
from tests.charges.factories import call_make, invoice_make, item_make, usage_file
from tests.factories import LineFactory, PlanFactory

pytestmark = pytest.mark.django_db

#: Schemas whose amounts are read with their parent's ``currency`` (a bill's or the current month's).
NESTED = {"CategoryAmountsOut"}
AMOUNT_NAMES = {"amount", "total", "charge", "total_charge", "sms_charge", "taxable", "exempt", "subtotal",
                "taxable_total", "tax_total", "exempt_total", "coupon_applied", "cumulative", "tax"}


def _with_sms_and_global(billed: Billed) -> tuple[Any, Any]:
    """An SMS of ¥3 for l0 in October, and a Global line with a USD invoice and a 40-cent call."""
    l0 = billed.world.lines[0]
    src = usage_file()
    call_make(l0, dt.datetime(2026, 10, 28, 12, 0, tzinfo=JST), source=src, call_type=CallType.SMS, duration_ds=0,
              charge="3", destination="09098765432", area="")
    plan = PlanFactory(code="G-CUR-1", coverage=Coverage.GLOBAL)
    g = LineFactory(tenant=billed.world.tenant, plan=plan, msisdn="09088880008")
    usd = invoice_make(billed.world.tenant, OCT, coverage=Coverage.GLOBAL, currency=Currency.USD, taxable="12.40",
                       total_jpy=1860, jpy_rate="150")
    item_make(usd, amount="12", line=g)
    item_make(usd, amount="0.40", category="domestic", label="Xi通話料", line=g)
    call_make(g, dt.datetime(2026, 10, 3, 9, 0, tzinfo=JST), source=src, charge="0.40")
    return g, usd


def test_a_numbers_call_charges_are_one_figure_on_the_table_and_the_call_details(billed: Billed) -> None:
    """Issue 14: the per-number total and the call-details total use one definition (calls, SMS apart)."""
    _with_sms_and_global(billed)
    api = billed.world.api()
    l0 = billed.world.lines[0]
    numbers = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers").json()["items"]
    table = Decimal(next(n for n in numbers if n["msisdn"] == l0.msisdn)["total"])
    calls = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers/{l0.msisdn}/calls").json()
    assert calls["count"] == 24, "the SMS is listed on the page"
    assert Decimal(calls["total_charge"]) == table == Decimal(23 * 8)
    assert Decimal(calls["sms_charge"]) == 3
    # The pages say the same figure, and say what it holds.
    client = Client()
    client.force_login(billed.world.user)
    detail = client.get(reverse("billing:bill_detail", args=[billed.oct.pk])).content.decode()
    assert "SMS not included" in detail or "SMSを含みません" in detail
    page = client.get(reverse("billing:number_calls", args=[billed.oct.pk, l0.msisdn])).content.decode()
    assert "¥184" in page and "¥3" in page
    assert "SMS not included" in page or "SMSを含みません" in page


def test_every_bill_amount_states_its_currency(billed: Billed) -> None:
    """Issue 10 §7: a yen bill's amounts say JPY and a Global bill's say USD, on every route."""
    g, usd = _with_sms_and_global(billed)
    api = billed.world.api()
    l0 = billed.world.lines[0]
    for invoice, number, currency in ((billed.oct, l0.msisdn, "JPY"), (usd, g.msisdn, "USD")):
        detail = api.get(f"/api/v1/bills/{invoice.pk}").json()
        assert detail["currency"] == currency
        assert {c["currency"] for c in detail["cost_types"]} == {currency}
        items = api.get(f"/api/v1/bills/{invoice.pk}/items").json()["items"]
        assert items and {i["currency"] for i in items} == {currency}
        numbers = api.get(f"/api/v1/bills/{invoice.pk}/numbers").json()["items"]
        assert numbers and {n["currency"] for n in numbers} == {currency}
        calls = api.get(f"/api/v1/bills/{invoice.pk}/numbers/{number}/calls").json()
        assert calls["currency"] == currency and {c["currency"] for c in calls["items"]} == {currency}
    usd_calls = api.get(f"/api/v1/bills/{usd.pk}/numbers/{g.msisdn}/calls").json()
    assert [c["charge"] for c in usd_calls["items"]] == ["0.40"] and usd_calls["total_charge"] == "0.40"
    # The yen bill's per-number table does not add the Global line's dollars.
    yen_numbers = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers").json()["items"]
    assert g.msisdn not in {n["msisdn"] for n in yen_numbers}
    current = api.get("/api/v1/bills/current").json()
    assert current["currency"] == "JPY" and {d["currency"] for d in current["days"]} == {"JPY"}
    line_calls = api.get(f"/api/v1/lines/{g.pk}/calls", {"month": "2026-10"}).json()
    assert line_calls["currency"] == "USD" and [c["currency"] for c in line_calls["items"]] == ["USD"]
    jp_calls = api.get(f"/api/v1/lines/{l0.pk}/calls", {"month": "2026-10"}).json()
    assert jp_calls["currency"] == "JPY" and {c["currency"] for c in jp_calls["items"]} == {"JPY"}


def test_openapi_every_object_with_an_amount_has_a_currency(billed: Billed) -> None:
    """The OpenAPI document: each response object of the billing and usage routes with an amount field has
    a required ``currency`` next to it (issue 10 §7)."""
    doc = Client().get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    checked = []
    for name, schema in schemas.items():
        props = set(schema.get("properties", {}))
        if not props & AMOUNT_NAMES or name in NESTED or name.endswith(("In", "Query")):
            continue
        checked.append(name)
        assert "currency" in props and "currency" in schema.get("required", []), name
    assert {"ItemOut", "NumberChargesOut", "CallPageOut", "LineCallOut", "CostTypeOut", "DayOut",
            "BillOut"} <= set(checked)
