"""Parallel requests on PostgreSQL (issue 12 §3-§4): the same idempotency key sent four times at once makes one
order; four settle runs of one order charge the card once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from kaisen.core.errors import DomainError
from kaisen.goods import services
from kaisen.goods.models import GoodsOrder, OrderStatus
from kaisen.goods.setup import catalogue_ensure
from kaisen.payments.models import SimulatedCharge
from tests.conftest import make_world
from tests.factories import PlanFactory
from tests.goods.conftest import ADDRESS, SIM, card

pytestmark = pytest.mark.django_db(transaction=True)


def _parallel(call: Callable[[], Any], n: int = 4) -> list[Any]:
    results: list[Any] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        try:
            barrier.wait()
            results.append(call())
        except DomainError as exc:
            results.append(str(exc.code))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_same_key_in_parallel_orders_once_and_settles_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL (SQLite serialises writers on the whole file)")
    PlanFactory(code="DOCOMO-3G", carrier="docomo")
    catalogue_ensure()
    world = make_world(n_lines=1)
    card(world.user)
    results = _parallel(lambda: services.order_create(user=world.user, idempotency_key="same",
                                                      products=[{"code": SIM, "quantity": 1}], **ADDRESS))
    assert GoodsOrder.objects.filter(tenant=world.tenant).count() == 1
    order = GoodsOrder.objects.get(tenant=world.tenant)
    assert sorted(replayed for _o, replayed in results) == [False, True, True, True]
    settled = _parallel(lambda: services.order_settle(order_id=order.pk).status)
    assert sorted(settled) == ["ORDER_STATE_INVALID"] * 3 + [OrderStatus.AWAITING_SHIPMENT]
    assert SimulatedCharge.objects.filter(idempotency_key=f"kaisen-goods-{order.pk}").count() == 1
