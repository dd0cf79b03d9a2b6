"""Two retries of one invoice at the same moment (a double submit from two browsers): one charge, never two
(S-PAY-2). Threads with their own connections; PostgreSQL row locks make the second wait, then refuse."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from kaisen.core.errors import DomainError
from kaisen.payments import services
from kaisen.payments.models import Payment, SimulatedCharge
from tests.conftest import make_world
from tests.payments.conftest import make_invoice

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_retries_charge_once_s_pay_2() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL (SQLite serialises writers on the whole file)")
    world = make_world(n_lines=1)
    services.card_register(user=world.user, coverage="japan", number="4000000000000002", exp_month=12,
                           exp_year=2030, cvc="123")
    invoice = make_invoice(world.tenant)
    services.invoice_charge(invoice_id=invoice.pk)  # declined: payment error
    services.card_register(user=world.user, coverage="japan", number="4242424242424242", exp_month=12,
                           exp_year=2030, cvc="123")
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def retry() -> None:
        try:
            barrier.wait()
            results.append(services.invoice_retry(user=world.user, invoice_id=invoice.pk).status)
        except DomainError as exc:
            results.append(str(exc.code))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["INVOICE_NOT_PAYABLE"] * 3 + ["succeeded"]
    assert Payment.objects.filter(invoice=invoice, status="succeeded").count() == 1
    key = f"kaisen-invoice-{invoice.pk}"
    assert SimulatedCharge.objects.filter(idempotency_key=key, status="succeeded").count() == 1
