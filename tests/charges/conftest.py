"""A tenant with five months of bills, call records and a current month, on a fixed clock (K-4, S-BILL-2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import time_machine

from kaisen.billing.models import Invoice, InvoiceStatus
from kaisen.core.clock import JST
from tests.charges.factories import call_make, invoice_make, item_make, usage_file
from tests.conftest import TenantWorld, make_world

#: "Now" in these tests: the middle of November 2026, Japan time.
NOW = dt.datetime(2026, 11, 16, 10, 0, tzinfo=JST)
NOV, OCT, SEP, AUG, JUL = (dt.date(2026, m, 1) for m in (11, 10, 9, 8, 7))


@dataclass
class Billed:
    world: TenantWorld
    nov: Invoice  # accumulating (this month)
    oct: Invoice  # invoiced: ¥3,365 with ¥295 tax and ¥120 exempt
    sep: Invoice  # paid
    aug: Invoice  # payment error
    jul: Invoice  # paid, outside the 4-month window


def build_billed(world: TenantWorld) -> Billed:
    l0, l1, l2 = world.lines[:3]
    t = world.tenant
    src = usage_file()
    oct_ = invoice_make(t, OCT, status=InvoiceStatus.INVOICED, taxable="2950", tax="295", exempt="120")
    for line in (l0, l1, l2):
        item_make(oct_, amount="980", line=line)
    item_make(oct_, amount="6.00", category="domestic", label="国内通話料", line=l0)
    item_make(oct_, amount="4.50", category="mobile_au", label="au携帯通話料", line=l1)
    item_make(oct_, amount="120", category="international", label="国際通話料", line=l1, tax_class="exempt")
    # 23 calls of l0 in October: three pages of call details (10 per page, K-4).
    for n in range(23):
        call_make(l0, dt.datetime(2026, 10, 1 + n, 20, 12, 21, 500_000, tzinfo=JST), source=src,
                  duration_ds=665 + n, charge="8.00")
    call_make(l1, dt.datetime(2026, 10, 5, 9, 0, tzinfo=JST), source=src, call_type="mobile_au",
              destination="09011112222", area="au携帯", charge="4.50")
    call_make(l1, dt.datetime(2026, 10, 6, 9, 0, tzinfo=JST), source=src, call_type="international",
              destination="0101212555", area="アメリカ", charge="120.00")
    # Begun on 31 October, ended on 1 November: billed in November (K-4).
    call_make(l2, dt.datetime(2026, 10, 31, 23, 59, 50, tzinfo=JST), source=src, duration_ds=300,
              destination="0612345678", area="大阪", charge="16.00")
    sep = invoice_make(t, SEP, status=InvoiceStatus.PAID, taxable="2940", tax="294")
    for line in (l0, l1, l2):
        item_make(sep, amount="980", line=line)
    aug = invoice_make(t, AUG, status=InvoiceStatus.PAYMENT_ERROR, taxable="2940", tax="294")
    for line in (l0, l1, l2):
        item_make(aug, amount="980", line=line)
    jul = invoice_make(t, JUL, status=InvoiceStatus.PAID, taxable="1960", tax="196")
    item_make(jul, amount="1960", label="月額基本料金（7月）")
    nov = invoice_make(t, NOV, status=InvoiceStatus.ACCUMULATING)
    for line in (l0, l1, l2):
        item_make(nov, amount="980", line=line)
    item_make(nov, amount="40.00", category="domestic", label="国内通話料", line=l0)
    for day, charge in ((2, "8.00"), (2, "8.00"), (9, "16.00"), (14, "8.00")):
        call_make(l0, dt.datetime(2026, 11, day, 11, 30, tzinfo=JST), source=src, charge=charge)
    return Billed(world=world, nov=nov, oct=oct_, sep=sep, aug=aug, jul=jul)


@pytest.fixture
def clock_nov() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def billed(db: None, clock_nov: None) -> Billed:
    return build_billed(make_world(n_lines=3))
