"""One Idempotency-Key sent by several requests at the same moment (issue 14 e, M-PROC-7, X-API).

The API used to decide 201 or 200 by looking for the key *before* ordering, so parallel requests all
answered 201 though one order was made. ``order_submit`` now tells a replay from a new order under the
line's row lock: exactly one 201, the others 200 with the same order, as README promises. PostgreSQL runs
the requests truly in parallel (threads, each with its own connection); on SQLite (whose test database
refuses parallel writers) the threads take turns, and the replay is checked in sequence."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client

from kaisen.core import clock
from kaisen.procedures.models import Order
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)
REQUESTS = 6


@time_machine.travel(TUESDAY_1030, tick=False)
def test_parallel_requests_with_one_key_make_one_201_and_replays_m_proc_7() -> None:
    world = make_world(n_lines=1)
    url = f"/api/v1/lines/{world.line.pk}/orders"
    body = {"kind": "cancellation", "params": {"end_date": "2026-12-31"}}
    headers = {"Authorization": f"Bearer {world.token}", "Idempotency-Key": "same-moment-1"}
    barrier = threading.Barrier(REQUESTS)
    turns = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()
    answers: list[Any] = []

    def send() -> None:
        try:
            barrier.wait()
            with turns:
                response = Client().post(url, body, content_type="application/json", headers=headers)
            answers.append((response.status_code, response.json().get("id")))
        except Exception as exc:  # reported by the assertion below
            answers.append((repr(exc), None))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    order = Order.objects.get(tenant=world.tenant)
    assert sorted(status for status, _id in answers) == [200] * (REQUESTS - 1) + [201], answers
    assert {order_id for _status, order_id in answers} == {order.pk}
