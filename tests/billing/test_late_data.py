"""Late daily data usage (issue 10 §4: "Usage that arrives after its month closed is billed as an adjustment in
the next open month and shown as such"), on SQLite and PostgreSQL.

Data usage is billed: the data overage of a month (bytes beyond the plan's allowance, ``rating._overage``). Data
of a closed month that arrives late — a new day, or a carrier's correction of a day — bills the difference of
that month's overage in the next open month of the tenant and coverage, labelled
``データ通信超過料金（YYYY-MM分調整）``; the closed invoices never change."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from decimal import Decimal as D

import pytest
import time_machine
from django.test import Client

from kaisen.billing.close import close_month
from kaisen.billing.models import Invoice, InvoiceItem
from kaisen.billing.rating import ADJUSTMENT_SUFFIX, rate_month
from kaisen.lines.models import Line
from kaisen.usage.ingest import usage_file_import, usage_rematch
from kaisen.usage.models import LateDataUsage, UnmatchedDataUsage
from tests.billing import kit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
FEB, MARCH, APRIL = dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)
NOW = dt.datetime(2026, 4, 10, 10, tzinfo=kit.JST)
MB = 1024 * 1024
_files = itertools.count(1)
ADJ_FEB = f"データ通信超過料金（2026-02{ADJUSTMENT_SUFFIX}）"


@pytest.fixture(autouse=True)
def _frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _data(*rows: tuple[str, str, int]) -> dict:
    """Import a daily data file of (day, msisdn, MB) rows."""
    body = "date,msisdn,bytes\n" + "".join(f"{d},{m},{mb * MB}\n" for d, m, mb in rows)
    return usage_file_import(fileobj=io.BytesIO(body.encode()), name=f"data-{next(_files)}.csv").as_dict()


def _snapshot(invoice: Invoice) -> list[tuple]:
    invoice.refresh_from_db()
    items = sorted(invoice.items.values_list("msisdn", "cost_type", "label", "quantity", "amount"))
    return [*items, (invoice.status, invoice.total, invoice.tax_total)]


def _data_items(invoice: Invoice) -> dict[str, tuple[D, D]]:
    return {i.label: (i.quantity, i.amount) for i in invoice.items.filter(cost_type="data_overage")}


def test_late_data_of_a_closed_month_bills_the_difference_in_the_next_open_month() -> None:
    t = kit.tenant()
    ln = kit.line(t, kit.plan("LD-1", allowance_mb=1024))
    _data(("2026-02-03", ln.msisdn, 1000))
    feb = close_month(tenant=t, coverage="japan", month=FEB, today=dt.date(2026, 3, 5))
    assert not _data_items(feb)  # within the allowance when February closed
    feb_before = _snapshot(feb)

    # A day of February arrives after the close: February's overage is now one started unit.
    _data(("2026-02-20", ln.msisdn, 600), ("2026-03-02", ln.msisdn, 10))
    march = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    assert _data_items(march) == {ADJ_FEB: (D(1), D(550))}
    item = march.items.get(label=ADJ_FEB)
    assert item.usage_month == FEB and item.line_id == ln.pk
    assert _snapshot(feb) == feb_before  # the closed invoice never changes

    # The carrier corrects that day (a later value replaces the earlier one): two units in all now, billed
    # once — the March adjustment is the whole difference against what February billed (nothing).
    _data(("2026-02-20", ln.msisdn, 2000))
    march = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    assert _data_items(march) == {ADJ_FEB: (D(2), D(1100))}
    march = close_month(tenant=t, coverage="japan", month=MARCH, today=dt.date(2026, 4, 5))
    march_before = _snapshot(march)
    assert not LateDataUsage.objects.exists()  # billed: the marks are done

    # Corrected down again after March closed: April credits one unit (February 1 unit; billed so far 2).
    _data(("2026-02-20", ln.msisdn, 600))
    april = rate_month(tenant=t, coverage="japan", month=APRIL).invoice
    assert _data_items(april) == {ADJ_FEB: (D(-1), D(-550))}
    # The same value again changes nothing; rating again gives the same items.
    _data(("2026-02-20", ln.msisdn, 600), ("2026-04-01", ln.msisdn, 1))
    april = rate_month(tenant=t, coverage="japan", month=APRIL).invoice
    assert _data_items(april) == {ADJ_FEB: (D(-1), D(-550))}
    assert sum(april.items.values_list("amount", flat=True)) == april.taxable_total + april.exempt_total
    assert _snapshot(feb) == feb_before and _snapshot(march) == march_before


def test_late_data_shown_as_an_adjustment_on_the_bill_page_api_and_invoice_detail_csv(tenant_a) -> None:  # type: ignore[no-untyped-def]
    t = tenant_a.tenant
    ln = kit.line(t, kit.plan("LD-2", allowance_mb=1024))
    close_month(tenant=t, coverage="japan", month=FEB, today=dt.date(2026, 3, 5))
    _data(("2026-02-27", ln.msisdn, 1500))
    march = rate_month(tenant=t, coverage="japan", month=MARCH).invoice
    items = tenant_a.api_now().get(f"/api/v1/bills/{march.pk}/items", {"msisdn": ln.msisdn}).json()["items"]
    assert {(i["label"], i["cost_type"], i["amount"]) for i in items if i["cost_type"] == "data_overage"} == {
        (ADJ_FEB, "data_overage", "550.00")}
    page = Client()
    page.force_login(tenant_a.user)
    with time_machine.travel(NOW, tick=False):
        html = page.get(f"/billing/{march.pk}/").content.decode()
    assert ADJ_FEB in html  # the bill page lists it as its own cost type
    from kaisen.statements.services import statement_file, statement_request

    march = close_month(tenant=t, coverage="japan", month=MARCH, today=dt.date(2026, 4, 5))
    user = UserFactory(tenant=t, is_root=True)
    with time_machine.travel(dt.datetime(2026, 4, 26, 10, tzinfo=kit.JST), tick=False):
        statement = statement_request(tenant=t, user=user, kind="invoice", month=MARCH)
    assert statement.status == "done", statement.error
    rows = list(csv.reader(io.StringIO(statement_file(statement).read_text(encoding="utf-8"), newline="")))
    assert any(ADJ_FEB in row for row in rows)


def test_late_data_goes_to_the_tenant_billed_for_that_month_only() -> None:
    a, b = kit.tenant(), kit.tenant()
    ln_a = kit.line(a, kit.plan("LD-3", allowance_mb=1024))
    ln_b = kit.line(b, kit.plan("LD-4", allowance_mb=1024))
    close_month(tenant=a, coverage="japan", month=FEB, today=dt.date(2026, 3, 5))
    b_march = rate_month(tenant=b, coverage="japan", month=MARCH).invoice
    # B's February is still open: its late data is billed in February itself, no adjustment.
    _data(("2026-02-10", ln_a.msisdn, 2000), ("2026-02-10", ln_b.msisdn, 2000))
    assert _data_items(rate_month(tenant=a, coverage="japan", month=MARCH).invoice) == {ADJ_FEB: (D(1), D(550))}
    assert not _data_items(rate_month(tenant=b, coverage="japan", month=MARCH).invoice)
    assert _data_items(rate_month(tenant=b, coverage="japan", month=FEB).invoice) == {
        "データ通信超過料金": (D(1), D(550))}
    assert not InvoiceItem.objects.filter(invoice=b_march, usage_month__isnull=False).exists()
    assert not InvoiceItem.objects.filter(tenant=b, line=ln_a).exists()


def test_rematched_late_data_is_billed_as_an_adjustment() -> None:
    t = kit.tenant()
    close_month(tenant=t, coverage="japan", month=FEB, today=dt.date(2026, 3, 5))
    _data(("2026-02-11", "09087654321", 1500))  # no such line yet: kept aside
    assert UnmatchedDataUsage.objects.count() == 1
    ln = kit.line(t, kit.plan("LD-5", allowance_mb=1024), msisdn="09087654321")
    usage_rematch()
    assert Line.objects.filter(pk=ln.pk).exists()
    assert _data_items(rate_month(tenant=t, coverage="japan", month=MARCH).invoice) == {ADJ_FEB: (D(1), D(550))}
