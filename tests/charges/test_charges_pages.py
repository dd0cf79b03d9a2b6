"""The "Charges" pages (K-4, S-BILL-2, X-PLOT): the 4-month window, the provisional month with its daily
breakdown, a month's detail with per-number charges, call details 10 per page; empty states; 404 / 403."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from kaisen.billing import views
from tests.charges.conftest import Billed
from tests.charges.factories import invoice_make
from tests.conftest import TenantWorld, make_world

pytestmark = pytest.mark.django_db


def _client(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", response.content.decode())


def test_charges_page_lists_the_last_4_months_k_4(billed: Billed) -> None:
    """K-4: the current month and the three before it, with total, domestic, international, mobile, status."""
    response = _client(billed.world).get(reverse("billing:charges"))
    assert response.status_code == 200
    body = _text(response)
    for month in ("2026年11月", "2026年10月", "2026年09月", "2026年08月"):
        assert month in body
    assert "2026年07月" not in body.split("trend-data")[0], "July is outside the 4-month window"
    for pk in (billed.nov.pk, billed.oct.pk, billed.sep.pk, billed.aug.pk):
        assert reverse("billing:bill_detail", args=[pk]) in body
    assert reverse("billing:bill_detail", args=[billed.jul.pk]) not in body
    # Status labels (Japanese by default).
    for label in ("集計中", "請求済", "支払済", "支払エラー"):
        assert label in body, label
    # October: ¥2,950.50 charges, domestic ¥6, international ¥120, mobile ¥4.50, billed ¥3,365, PDF link.
    oct_row = body[body.index(reverse("billing:bill_detail", args=[billed.oct.pk])):]
    oct_row = oct_row[:oct_row.index("</tr>")]
    for amount in ("¥3,070.50", "¥6", "¥120", "¥4.50", "¥295", "¥3,365"):
        assert amount in oct_row, amount
    assert reverse("billing:bill_pdf", args=[billed.oct.pk]) in oct_row
    # The accumulating month has no PDF and no billed amount yet.
    nov_row = body[body.index(reverse("billing:bill_detail", args=[billed.nov.pk])):]
    assert reverse("billing:bill_pdf", args=[billed.nov.pk]) not in nov_row[:nov_row.index("</tr>")]
    # Provisional card: this month's items so far (3 × ¥980 + ¥40).
    assert "¥2,980" in body and "暫定" in body
    # Trend chart data (X-PLOT): 12 months, July's and October's amounts billed on the line.
    trend = json.loads(re.search(r'id="trend-data"[^>]*>(.*?)</script>', response.content.decode(), re.S).group(1))
    assert len(trend["labels"]) == 12 and trend["labels"][-1] == "2026-11"
    assert trend["line"]["data"][trend["labels"].index("2026-10")] == 3365.0
    assert trend["line"]["data"][trend["labels"].index("2026-07")] == 2156.0
    assert trend["line"]["data"][-1] is None  # November is still accumulating: nothing billed yet, no point
    assert trend["line"]["data"][0] is None  # no bill in December 2025


def test_trend_counts_usd_bills_in_yen_s_cov_1(billed: Billed) -> None:
    """A Global (USD) bill adds its stored yen amount to the billed line, never its dollars to the yen bars."""
    from tests.charges.factories import item_make

    usd = invoice_make(billed.world.tenant, billed.oct.month, coverage="global", currency="USD", taxable="100.00",
                       tax="10.00", jpy_rate="150.0000", total_jpy=16_500)
    item_make(usd, amount="100.00", label="Global base fee", line=billed.world.lines[0])
    response = _client(billed.world).get(reverse("billing:charges"))
    trend = json.loads(re.search(r'id="trend-data"[^>]*>(.*?)</script>', response.content.decode(), re.S).group(1))
    october = trend["labels"].index("2026-10")
    assert trend["line"]["data"][october] == 3365.0 + 16500.0
    other = next(s for s in trend["series"] if s["key"] == "other")
    assert other["data"][october] == 2940.0  # the yen invoice's fees only
    body = _text(response)
    assert "US$110.00" in body and "¥16,500" in body  # the USD bill's row shows both amounts


def test_charges_page_empty_tenant_reads_well(db: None) -> None:
    world = make_world(n_lines=1)
    response = _client(world).get(reverse("billing:charges"))
    assert response.status_code == 200
    body = _text(response)
    assert "empty-state" in body and "trend-data" not in body
    assert "¥0" in body  # the provisional card of this month


def test_zero_month_without_invoice_issued(db: None, clock_nov: None) -> None:
    """A zero month (S-BILL-1: no invoice issued) shows its status, no PDF."""
    world = make_world(n_lines=1)
    inv = invoice_make(world.tenant, billed_month := __import__("datetime").date(2026, 10, 1), status="no_charge")
    assert billed_month.month == 10
    body = _text(_client(world).get(reverse("billing:charges")))
    assert "請求なし" in body or "No charge" in body
    assert reverse("billing:bill_pdf", args=[inv.pk]) not in body
    detail = _client(world).get(reverse("billing:bill_detail", args=[inv.pk]))
    assert detail.status_code == 200 and "disabled" in _text(detail)


def test_current_month_daily_breakdown_s_bill_2(billed: Billed) -> None:
    """S-BILL-2: this month so far by category, and every day up to today with its charges and running total."""
    response = _client(billed.world).get(reverse("billing:current"))
    assert response.status_code == 200
    body = _text(response)
    assert "2026年11月" in body and "¥2,980" in body  # 3 × ¥980 + ¥40 so far
    table = body[body.index('data-testid="daily-table"'):]
    rows = re.findall(r"<tr[^>]*> <td class=\"nowrap num\">([^<]+)</td> <td class=\"num text-end\">([^<]+)</td> "
                      r"<td class=\"num text-end\">([^<]+)</td>", table)
    assert [r[0] for r in rows][:2] == ["11/01(日)", "11/02(月)"] and rows[-1][0] == "11/16(月)"
    assert len(rows) == 16  # every day of the month up to today
    by_day = {r[0]: (r[1], r[2]) for r in rows}
    # The call begun on 31 October is billed in November and counted on its first day (K-4).
    assert by_day["11/01(日)"] == ("¥16", "¥16")
    assert by_day["11/02(月)"] == ("¥16", "¥32")
    assert by_day["11/03(火)"] == ("¥0", "¥32")
    assert by_day["11/14(土)"] == ("¥8", "¥56")
    assert "10/31" not in table
    chart = json.loads(re.search(r'id="daily-data"[^>]*>(.*?)</script>', response.content.decode(), re.S).group(1))
    assert chart["labels"][0] == "11/01" and len(chart["labels"]) == 16
    assert sum(chart["series"][0]["data"]) == 56.0 and chart["line"]["data"][-1] == 56.0


def test_current_month_empty(db: None, clock_nov: None) -> None:
    world = make_world(n_lines=1)
    response = _client(world).get(reverse("billing:current"), {"coverage": "global"})
    assert response.status_code == 200
    assert "daily-data" not in _text(response) and "empty-state" in _text(response)


def test_month_detail_cost_types_and_numbers(billed: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(billed.world)
    l0, l1, l2 = billed.world.lines
    response = client.get(reverse("billing:bill_detail", args=[billed.oct.pk]))
    assert response.status_code == 200
    body = _text(response)
    costs = body[body.index('data-testid="cost-types"'):]
    assert "月額基本料金" in costs and "国際通話料" in costs and "非課税" in costs and "外税10%" in costs
    assert "¥2,940" in costs  # 3 × ¥980 summed by cost type
    assert reverse("billing:bill_pdf", args=[billed.oct.pk]) in body
    numbers = body[body.index('data-testid="numbers-table"'):]
    # l0: 23 domestic calls × ¥8 at the standard rate; l1: ¥4.50 au + ¥120 international.
    assert "¥184" in numbers and "¥124.50" in numbers
    assert reverse("billing:number_calls", args=[billed.oct.pk, l0.msisdn]) in numbers
    # The call begun on 31 October is billed in November: l2 has no October call charges.
    assert l2.msisdn not in numbers
    # Search by number (prefix, with hyphens).
    only = _text(client.get(reverse("billing:bill_detail", args=[billed.oct.pk]),
                            {"q": f"{l1.msisdn[:3]}-{l1.msisdn[3:7]}-{l1.msisdn[7:]}"}))
    assert reverse("billing:number_calls", args=[billed.oct.pk, l1.msisdn]) in only
    assert reverse("billing:number_calls", args=[billed.oct.pk, l0.msisdn]) not in only
    bad = client.get(reverse("billing:bill_detail", args=[billed.oct.pk]), {"q": "abc"})
    assert bad.status_code == 400 and "alert-danger" in _text(bad)
    # Paging by number: one number per page.
    monkeypatch.setattr(views, "NUMBERS_PER_PAGE", 1)
    first = client.get(reverse("billing:bill_detail", args=[billed.oct.pk]))
    page = first.context["numbers"]
    assert page.count == 2 and len(page.items) == 1 and page.next_cursor
    second = client.get(reverse("billing:bill_detail", args=[billed.oct.pk]), {"cursor": page.next_cursor})
    assert second.context["numbers"].items[0].msisdn != page.items[0].msisdn
    assert second.context["numbers"].next_cursor is None and second.context["numbers"].prev_cursor


def test_call_details_10_per_page_k_4(billed: Billed) -> None:
    """K-4: 23 calls → pages of 10, 10 and 3, numbered 1-23; start to a tenth of a second; duration; charge."""
    client = _client(billed.world)
    l0 = billed.world.lines[0]
    url = reverse("billing:number_calls", args=[billed.oct.pk, l0.msisdn])
    pages = [client.get(url, {"page": n}) for n in (1, 2, 3)]
    assert all(p.status_code == 200 for p in pages)
    counts = [len(p.context["calls"].items) for p in pages]
    assert counts == [10, 10, 3]
    body1, body3 = _text(pages[0]), _text(pages[2])
    assert "10/01(木) 20:12:21.5" in body1  # 2026-10-01 was a Thursday
    assert "0:01:06.5" in body1  # 665 tenths of a second
    assert "¥8" in body1 and "東京" in body1 and "0312345678" in body1
    rows3 = re.findall(r'<td class="num text-end text-body-secondary">(\d+)</td>', pages[2].content.decode())
    assert rows3 == ["21", "22", "23"]
    assert "10/23(金)" in body3
    assert "23" in _text(pages[0]) and "¥184" in body1  # lead: 23 calls, ¥184
    # A page past the end shows the first page rather than an error.
    assert client.get(url, {"page": 99}).context["calls"].page == 1


def test_bad_number_in_the_calls_url_is_a_400_page_not_a_500(billed: Billed) -> None:
    response = _client(billed.world).get(reverse("billing:number_calls", args=[billed.oct.pk, "abc"]))
    assert response.status_code == 400 and "alert-warning" in _text(response)


def test_call_spanning_month_end_is_in_next_months_details_k_4(billed: Billed) -> None:
    client = _client(billed.world)
    l2 = billed.world.lines[2]
    october = client.get(reverse("billing:number_calls", args=[billed.oct.pk, l2.msisdn]))
    november = client.get(reverse("billing:number_calls", args=[billed.nov.pk, l2.msisdn]))
    assert october.status_code == 200 and november.status_code == 200
    assert october.context["calls"].count == 0 and "empty-state" in _text(october)
    assert november.context["calls"].count == 1 and "10/31(土) 23:59:50.0" in _text(november)


def test_other_tenants_bill_and_number_are_404_t_2(billed: Billed) -> None:
    other = make_world(n_lines=1)
    client = _client(other)
    l0 = billed.world.lines[0]
    for url in (reverse("billing:bill_detail", args=[billed.oct.pk]), reverse("billing:bill_pdf", args=[billed.oct.pk]),
                reverse("billing:number_calls", args=[billed.oct.pk, l0.msisdn])):
        assert client.get(url).status_code == 404, url
    # Its own invoice with B's number: not found either.
    mine = invoice_make(other.tenant, billed.oct.month)
    assert client.get(reverse("billing:number_calls", args=[mine.pk, l0.msisdn])).status_code == 404
    # The list shows none of the other tenant's bills.
    assert reverse("billing:bill_detail", args=[billed.oct.pk]) not in _text(client.get(reverse("billing:charges")))


def test_sidebar_has_charges_entry(billed: Billed) -> None:
    body = _text(_client(billed.world).get(reverse("billing:charges")))
    assert f'href="{reverse("billing:charges")}"' in body and "nav-link active" in body


def test_english_switch(billed: Billed) -> None:
    client = _client(billed.world)
    client.cookies["django_language"] = "en"
    body = _text(client.get(reverse("billing:charges"), headers={"accept-language": "en"}))
    assert "October 2026" in body and "Charges" in body


def test_without_billing_read_the_pages_are_403(billed: Billed) -> None:
    """A limited user without Billing:read (no role) gets the 403 page on every Charges page."""
    from kaisen.access.actions import BILLING_READ
    from kaisen.access.services import can
    from tests.factories import UserFactory

    user = UserFactory(tenant=billed.world.tenant, is_root=False)
    assert not can(user=user, action=BILLING_READ)
    client = Client()
    client.force_login(user)
    l0 = billed.world.lines[0]
    for url in (reverse("billing:charges"), reverse("billing:current"),
                reverse("billing:bill_detail", args=[billed.oct.pk]), reverse("billing:bill_pdf", args=[billed.oct.pk]),
                reverse("billing:number_calls", args=[billed.oct.pk, l0.msisdn])):
        assert client.get(url).status_code == 403, url


def test_payment_error_month_links_to_payment_settings_s_pay_2(billed: Billed) -> None:
    response = _client(billed.world).get(reverse("billing:bill_detail", args=[billed.aug.pk]))
    assert response.status_code == 200
    body = _text(response)
    assert "alert-danger" in body and reverse("payments:settings") in body
