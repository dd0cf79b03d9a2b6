"""The provisional charges page (``/billing/current/``) and ``GET /api/v1/bills/current`` (S-BILL-2) read the sums
kept beside the items and the rollups (issue 10 benchmarks: p99 ≤ 300 ms for a 600k-line tenant): what they show
equals the close's invoice of the same data, and a request costs the same number of statements whatever the
number of lines and calls of the account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kaisen.billing.close import close_month
from kaisen.billing.models import InvoiceItem
from kaisen.billing.rating import rate_month
from kaisen.lines.models import Plan
from kaisen.usage.models import UsageRollup
from tests.billing import kit
from tests.conftest import TenantWorld, make_world

pytestmark = pytest.mark.django_db
MARCH = dt.date(2026, 3, 1)
NOW = kit.at(2026, 3, 20, 12)
USAGE = ("domestic", "international", "mobile_au", "mobile_other", "sms")


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _calls(world: TenantWorld, plan: Plan, *, lines: int, first_day: int = 1) -> None:
    """``lines`` more lines of the tenant, each with calls of every kind over a few days of March (one begun on
    28 February and billed in March; a flat-rate line whose domestic calls are free on the invoice)."""
    for n in range(lines):
        ln = kit.line(world.tenant, plan, voice={"flat_rate_calling": True} if n % 3 == 2 else {})
        day = first_day + n % 10
        kit.call(ln, start=kit.at(2026, 2, 28, 23, 59, 50), seconds=20)
        kit.call(ln, start=kit.at(2026, 3, day), seconds=61 + n)
        kit.call(ln, start=kit.at(2026, 3, day, 15), seconds=10, dest="09012345678", network="au")
        kit.call(ln, start=kit.at(2026, 3, day + 1), seconds=95, dest="0101212555000")
        kit.call(ln, start=kit.at(2026, 3, day + 2, 9), seconds=10, dest="08012345678")
        kit.call(ln, start=kit.at(2026, 3, day + 3, 9), seconds=0, dest="09012345678", service="sms")


def _web(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


def test_page_and_api_show_what_the_close_bills() -> None:
    world, other = make_world(n_lines=1), make_world(n_lines=1)
    plan = kit.plan("CS-1", fee=1000)
    _calls(world, plan, lines=4)
    _calls(other, plan, lines=2, first_day=7)  # another account's usage on the same days: never counted here
    rate_month(tenant=world.tenant, coverage="japan", month=MARCH)  # the hourly provisional rating
    rate_month(tenant=other.tenant, coverage="japan", month=MARCH)
    page = _web(world).get("/billing/current/")
    assert page.status_code == 200
    p = page.context["p"]
    body = world.api_now().get("/api/v1/bills/current").json()
    # The daily breakdown is what the rollups of the account's billed calls give, day by day.
    per_day: dict[dt.date, D] = {}
    for r in (UsageRollup.objects.filter(tenant=world.tenant, billing_month=MARCH, coverage="japan",
                                         flat_rate_free=False).values("day").order_by().annotate(s=Sum("charge"))):
        key = max(r["day"], MARCH)
        per_day[key] = per_day.get(key, D(0)) + r["s"]
    shown = {d.day: d.amount for d in p.days if d.amount}
    assert shown == per_day and len(p.days) == 20
    assert {dt.date.fromisoformat(d["date"]): D(d["amount"]) for d in body["days"] if D(d["amount"])} == per_day

    invoice = close_month(tenant=world.tenant, coverage="japan", month=MARCH, today=dt.date(2026, 4, 10))
    items = dict(InvoiceItem.objects.filter(invoice=invoice).values_list("category").annotate(s=Sum("amount"))
                 .order_by())
    assert items["international"] > 0 and items["fee"] > 0 and items["sms"] > 0
    subtotal = invoice.taxable_total + invoice.exempt_total
    assert p.subtotal == subtotal == D(body["charges"]["subtotal"])
    assert p.data.tax == invoice.tax_total == D(body["tax"])
    assert p.data.total == invoice.total == D(body["total"])  # no coupon here: the total before coupons
    for category, amount in items.items():
        assert p.breakdown.get(category) == amount == D(body["charges"][category]), category
    assert sum(per_day.values()) == sum(items.get(c, D(0)) for c in USAGE)
    # The other account sees its own figures only.
    theirs = other.api_now().get("/api/v1/bills/current").json()
    assert D(theirs["charges"]["subtotal"]) != D(body["charges"]["subtotal"])
    assert sum(D(d["amount"]) for d in theirs["days"]) == sum(
        UsageRollup.objects.filter(tenant=other.tenant, billing_month=MARCH, flat_rate_free=False)
        .values_list("charge", flat=True))


def _statements(client: Any, path: str) -> int:
    assert client.get(path).status_code == 200  # warm: the session, the operator controls' snapshot
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx)


def test_a_request_costs_the_same_statements_whatever_the_lines_and_calls() -> None:
    world = make_world(n_lines=1)
    plan = kit.plan("CS-2", fee=1000)
    _calls(world, plan, lines=2)
    rate_month(tenant=world.tenant, coverage="japan", month=MARCH)
    web, api = _web(world), world.api_now()
    small = (_statements(web, "/billing/current/"), _statements(api, "/api/v1/bills/current"))
    _calls(world, plan, lines=12, first_day=3)  # six times the lines, calls on more days
    rate_month(tenant=world.tenant, coverage="japan", month=MARCH)
    large = (_statements(web, "/billing/current/"), _statements(api, "/api/v1/bills/current"))
    assert large == small
    # And neither reads the items or the rollups of the account: only the sums kept beside them.
    for client, path in ((web, "/billing/current/"), (api, "/api/v1/bills/current")):
        with CaptureQueriesContext(connection) as ctx:
            client.get(path)
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        assert "billing_invoiceitem" not in sql and "usage_usagerollup" not in sql, path
