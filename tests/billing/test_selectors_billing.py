"""Selectors of the bill pages (S-BILL-2, K-4, K-6): tenant-scoped, permission-checked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine

from kaisen.billing import selectors
from kaisen.billing.close import close_month
from kaisen.billing.rating import rate_month
from kaisen.core.errors import NotFound
from tests.billing import kit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_provisional_daily_breakdown_number_charges_and_isolation() -> None:
    a, b = kit.tenant(), kit.tenant()
    ua, ub = UserFactory(tenant=a, is_root=True), UserFactory(tenant=b, is_root=True)
    p = kit.plan("S-1", fee=1000)
    ln = kit.line(a, p, voice={})
    kit.call(ln, start=kit.at(2026, 2, 28, 23, 59, 50), seconds=20)  # billed in March, counted on the 1st
    kit.call(ln, start=kit.at(2026, 3, 5), seconds=61)
    kit.call(ln, start=kit.at(2026, 3, 5, 15), seconds=10, dest="09012345678", network="au")
    kit.call(ln, start=kit.at(2026, 3, 6), seconds=10, dest="0101212555000")
    kit.call(ln, start=kit.at(2026, 3, 6, 9), seconds=10, dest="08012345678")
    with time_machine.travel(kit.at(2026, 3, 10), tick=False):
        rate_month(tenant=a, coverage="japan", month=dt.date(2026, 3, 1))
        prov = selectors.provisional(tenant=a, user=ua, coverage="japan")
        assert list(prov.daily) == [dt.date(2026, 3, d) for d in range(1, 11)]
        assert prov.daily[dt.date(2026, 3, 1)] == D(20) and prov.daily[dt.date(2026, 3, 5)] == D(80)
        assert prov.daily[dt.date(2026, 3, 6)] == D(50)
        assert prov.categories["fee"] == D(1002) and prov.categories["international"] == D(30)
        assert prov.status == "accumulating" and prov.total == prov.subtotal + prov.tax
        invoices = selectors.invoice_list(tenant=a, user=ua)
        assert [i.month for i in invoices] == [dt.date(2026, 3, 1)]
        assert selectors.invoice_list(tenant=b, user=ub) == []
        [row] = selectors.number_charges(tenant=a, user=ua, invoice=invoices[0])
        assert (row.msisdn, row.domestic, row.international, row.au, row.other_mobile, row.total) == (
            ln.msisdn, D(80), D(30), D(20), D(20), D(150))
        months = selectors.call_charge_months(tenant=a, user=ua)
        assert months[0].total == D(150) and months[0].mobile == D(40) and len(months) == 4
        # Another tenant's invoice is not found, whatever the function.
        with pytest.raises(NotFound):
            selectors.invoice_get(tenant=b, user=ub, invoice_id=invoices[0].pk)
        with pytest.raises(NotFound):
            selectors.number_charges(tenant=b, user=ub, invoice=invoices[0])
        with pytest.raises(NotFound):
            selectors.invoice_items(tenant=b, user=ub, invoice=invoices[0])
        assert selectors.provisional(tenant=b, user=ub, coverage="japan").total == D(0)
    inv = close_month(tenant=a, coverage="japan", month=dt.date(2026, 3, 1), today=dt.date(2026, 4, 10))
    assert selectors.invoice_get(tenant=a, user=ua, invoice_id=inv.pk).number == inv.number
    tax = selectors.invoice_tax_lines(inv)
    assert tax.tax_total == inv.tax_total and tax.exempt_total == inv.exempt_total
