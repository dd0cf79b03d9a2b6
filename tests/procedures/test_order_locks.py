"""An order locks its line, not the rows its query joins (issue 11 §3: workers and clients that add up).

On PostgreSQL ``SELECT … FOR UPDATE`` with joins locks every joined row unless ``OF`` names the table: a submit
locked the line's plan and tenant rows too, so every order on a line of the same plan (any tenant's) or of the
same tenant waited for the one before it, and a second worker applying orders of one tenant waited for the
first. SQLite has no row locks (one writer at a time): the test is PostgreSQL's."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections, transaction

from kaisen.core import clock
from kaisen.lines.models import Line, Plan
from kaisen.procedures.models import Order, OrderStatus
from kaisen.procedures.services import order_submit
from kaisen.tenancy.models import Tenant
from tests.conftest import make_world

pytestmark = pytest.mark.django_db(transaction=True)

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)


@time_machine.travel(TUESDAY_1030, tick=False)
def test_a_submit_does_not_wait_for_the_plan_or_tenant_row_issue_11() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite lets one writer at a time)")
    world = make_world(n_lines=1)
    line = Line.objects.get(pk=world.line.pk)
    held, release = threading.Event(), threading.Event()

    def hold_plan_and_tenant() -> None:
        try:
            with transaction.atomic():
                # What an UPDATE of the rows takes (an edit of the account or of the plan; FOR UPDATE would also
                # stop the order's foreign keys from being checked, which any insert needs).
                Tenant.objects.select_for_update(no_key=True).get(pk=world.tenant.pk)
                Plan.objects.select_for_update(no_key=True).get(pk=line.plan_id)
                held.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    other = threading.Thread(target=hold_plan_and_tenant)
    other.start()
    try:
        assert held.wait(timeout=30)
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '3s'")  # waiting on the other transaction's rows fails here
        order = order_submit(tenant=world.tenant, user=world.user, line_id=line.pk, kind="cancellation",
                             params={"end_date": "2026-12-31"}, idempotency_key="no-wait-1")
    finally:
        release.set()
        other.join(timeout=60)
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = 0")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SCHEDULED
