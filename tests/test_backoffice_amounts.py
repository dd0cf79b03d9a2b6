"""Issue 14 (operator back office): amounts with thousands separators on every list column and on the
change pages where they are read-only (invoice with its items, coupon with its uses, call record, payment);
editable amount inputs stay plain numbers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client

from kaisen.accounts.services import user_create
from kaisen.billing.models import Coupon, FeeRate, Invoice, InvoiceItem, InvoiceStatus, PlanTariff
from kaisen.core import clock
from kaisen.lines.models import Plan
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    staff = user_create(tenant=None, username="amt14_staff", password="Staff-password-2026", is_staff=True,
                        is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_login(staff)
    return client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _readonly_values(html: str) -> list[str]:
    """What the change page shows in its read-only fields (the object's title may print raw numbers)."""
    cells = re.findall(r'<div class="readonly">(.*?)</div>', html, re.S)
    cells += re.findall(r'<td class="field-[\w-]+">\s*<p>(.*?)</p>', html, re.S)
    return [_text(c).strip() for c in cells]


def test_invoice_change_page_and_its_items_show_separators(staff_client: Client, tenant_a: TenantWorld) -> None:
    month = clock.today_jst().replace(day=1) - dt.timedelta(days=40)
    invoice = Invoice.objects.create(tenant=tenant_a.tenant, month=month.replace(day=1), number="INV-AMT14-1",
                                     status=InvoiceStatus.INVOICED, taxable_total=Decimal("1234567.00"),
                                     tax_total=Decimal("123456.00"), total=Decimal("1358023.00"),
                                     total_jpy=1358023)
    InvoiceItem.objects.create(invoice=invoice, tenant=tenant_a.tenant, msisdn="09012345678", cost_type="base",
                               label="基本料", category="base", quantity=1, amount=Decimal("2345678.00"))
    page = staff_client.get(f"/admin/billing/invoice/{invoice.pk}/change/")
    assert page.status_code == 200
    values = _readonly_values(page.content.decode())
    for shown in ("1,234,567", "123,456", "1,358,023", "2,345,678"):
        assert shown in values, (shown, values)
    assert not [v for v in values if re.fullmatch(r"[1-9]\d{3,}(\.\d+)?", v)], values
    # The unpaid-invoice view of the same invoice too.
    values = _readonly_values(staff_client.get(f"/admin/payments/unpaidinvoice/{invoice.pk}/change/").content.decode())
    assert "1,358,023" in values and not [v for v in values if re.fullmatch(r"[1-9]\d{3,}(\.\d+)?", v)], values


def test_coupon_list_and_change_page_show_separators_the_add_form_stays_a_plain_input(
        staff_client: Client, tenant_a: TenantWorld) -> None:
    coupon = Coupon.objects.create(tenant=tenant_a.tenant, coverage="japan", code="CPN-AMT14",
                                   amount=Decimal("1500000.00"), balance=Decimal("1250000.00"),
                                   purchased_on=clock.today_jst())
    listing = _text(staff_client.get("/admin/billing/coupon/").content.decode())
    assert "1,500,000" in listing and "1,250,000" in listing
    page = staff_client.get(f"/admin/billing/coupon/{coupon.pk}/change/")
    assert page.status_code == 200
    values = _readonly_values(page.content.decode())
    assert "1,500,000" in values and "1,250,000" in values, values
    assert not [v for v in values if re.fullmatch(r"[1-9]\d{3,}(\.\d+)?", v)], values
    add = staff_client.get("/admin/billing/coupon/add/").content.decode()
    assert 'name="amount"' in add  # still a number input when it is being entered


def test_tariff_and_plan_lists_show_separators(staff_client: Client) -> None:
    plan = Plan.objects.create(code="AMT14", name="大容量", name_en="Large", carrier="docomo", monthly_fee=123456)
    PlanTariff.objects.create(plan=plan, valid_from=clock.today_jst() + dt.timedelta(days=400),
                              jpy_monthly_fee=234567)
    FeeRate.objects.create(coverage="japan", code="amt14_fee", valid_from=clock.today_jst() + dt.timedelta(days=400),
                           amount=Decimal("345678.0000"))
    assert "123,456" in _text(staff_client.get("/admin/lines/plan/").content.decode())
    assert "234,567" in _text(staff_client.get("/admin/billing/plantariff/").content.decode())
    text = _text(staff_client.get("/admin/billing/feerate/?code=amt14_fee").content.decode())
    assert "345,678" in text and "345678" not in text
