"""Issue 14 ("Demo data"): `kaisen demo` leaves an order history in every order status, and the past invoices
paid on plausible dates — card invoices on their issue date, invoice / slip payments a few days before the
due date — not all on the day the demo was made."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from kaisen.core import clock
from kaisen.demo import TENANTS, demo_create
from kaisen.payments.models import Payment, PaymentStatus
from kaisen.procedures.models import Order, OrderEvent, OrderStatus
from kaisen.tenancy.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["2026-12-07T10:00:00+09:00", "2026-12-06T23:59:00+09:00", "2026-12-08T00:40:00+09:00"])
def demo(request: pytest.FixtureRequest) -> Iterator[list[Tenant]]:
    with time_machine.travel(dt.datetime.fromisoformat(request.param), tick=False):
        yield _demo()


def _demo() -> list[Tenant]:
    demo_create(lines=150, seed=7, today=clock.today_jst())
    return list(Tenant.objects.filter(public_id__in=[t["public_id"] for t in TENANTS]).order_by("pk"))


def test_orders_in_every_status_with_their_history(demo: list[Tenant]) -> None:
    today = clock.today_jst()
    tenant = demo[0]
    orders = Order.objects.filter(tenant=tenant)
    assert set(orders.values_list("status", flat=True)) == set(OrderStatus.values)
    for order in orders:
        events = list(OrderEvent.objects.filter(order=order).order_by("id"))
        assert events and events[-1].to_status == order.status, order
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert order.created_at <= clock.now()
        placed = order.created_at.astimezone(clock.JST)  # placed within reception hours, on a weekday
        assert placed.weekday() < 5 and 9 <= placed.hour <= 19, (order, placed)
    finished = orders.filter(status=OrderStatus.COMPLETED)
    # The history reaches back into past months, not only today.
    assert min(o.created_at.astimezone(clock.JST).date() for o in finished) <= today.replace(day=1)
    assert all(o.completed_at is not None and o.completed_at >= o.created_at for o in finished)
    failed = orders.get(status=OrderStatus.FAILED)
    assert failed.error_code and failed.error_message
    scheduled = orders.get(status=OrderStatus.SCHEDULED)
    assert scheduled.effective_date > today and scheduled.cancellable_until is not None
    # The completed suspension and resumption leave their line active, as it was.
    assert {o.kind for o in finished} == {"suspend", "resume"}
    assert finished.first().line.status == "active"  # type: ignore[union-attr]


def test_past_invoices_are_paid_on_plausible_dates(demo: list[Tenant]) -> None:
    today = clock.today_jst()
    paid = list(Payment.objects.filter(tenant__in=demo, status=PaymentStatus.SUCCEEDED).select_related("invoice"))
    assert len(paid) >= 4
    days = {p.created_at.astimezone(clock.JST).date() for p in paid}
    assert len(days) >= 3 and days != {today}
    for payment in paid:
        day = payment.created_at.astimezone(clock.JST).date()
        invoice = payment.invoice
        assert payment.created_at <= clock.now()
        if payment.method == "card":
            assert day == min(invoice.issued_on, today), payment
        else:
            assert invoice.due_on is not None and day < invoice.due_on, payment
            assert invoice.issued_on is None or day >= invoice.issued_on, payment
