from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kaisen.billing.close import close_month
from kaisen.billing.rating import rate_month
from tests.billing import kit

pytestmark = pytest.mark.django_db


def test_smoke() -> None:
    t = kit.tenant()
    p = kit.plan("SMOKE-1", fee=1000)
    ln = kit.line(t, p, voice={"voicemail": True, "flat_rate_calling": False})
    kit.call(ln, start=kit.at(2026, 3, 5), seconds=61)
    kit.call(ln, start=kit.at(2026, 3, 6), seconds=10, call_type="international", dest="0011234")
    kit.data(ln, dt.date(2026, 3, 2), 3072 + 1500)
    res = rate_month(tenant=t, coverage="japan", month=dt.date(2026, 3, 1))
    print(kit.amounts(res.invoice), res.summary)
    inv = close_month(tenant=t, coverage="japan", month=dt.date(2026, 3, 1), today=dt.date(2026, 4, 10))
    print(inv.status, inv.number, inv.total, inv.issued_on, inv.final_on, inv.due_on)
    assert inv.total > Decimal(0)


def test_selectors_smoke() -> None:
    import time_machine

    from kaisen.billing import selectors
    from tests.factories import UserFactory

    t = kit.tenant()
    u = UserFactory(tenant=t, is_root=True)
    p = kit.plan("SMOKE-2", fee=1000)
    ln = kit.line(t, p, voice={"voicemail": True})
    kit.call(ln, start=kit.at(2026, 3, 5), seconds=61)
    kit.call(ln, start=kit.at(2026, 3, 5), seconds=10, call_type="mobile_au")
    with time_machine.travel(kit.at(2026, 3, 20), tick=False):
        rate_month(tenant=t, coverage="japan", month=dt.date(2026, 3, 1))
        prov = selectors.provisional(tenant=t, user=u, coverage="japan")
        print(prov)
        inv = selectors.invoice_list(tenant=t, user=u)[0]
        print(selectors.number_charges(tenant=t, user=u, invoice=inv))
        print(selectors.call_charge_months(tenant=t, user=u))
    assert prov.daily[dt.date(2026, 3, 5)] == Decimal(80)
