"""What one order costs the database (issue 11 §1): submitting and applying an order each take a small,
fixed number of statements, whatever else is in the database. The figures are in docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kaisen.carriers import simulator
from kaisen.core import clock
from kaisen.lines.models import LineStatus, SimType
from kaisen.notifications.models import OutboxMessage, OutboxStatus
from kaisen.procedures.engine import orders_tick
from kaisen.procedures.models import Order, OrderStatus
from kaisen.procedures.services import order_submit
from tests.conftest import TenantWorld
from tests.factories import LineFactory

JST = clock.JST


@pytest.fixture(autouse=True)
def _controls_snapshot_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator controls (maintenance, hours, switches; issue 15) are read from the per-process snapshot:
    one version query per process every ``KAISEN_CONTROLS_CACHE_SECONDS``, never per order. A slow machine
    must not count that periodic query into an order's statements, so the snapshot stays fresh here."""
    monkeypatch.setenv("KAISEN_CONTROLS_CACHE_SECONDS", "3600")


@pytest.fixture(autouse=True)
def _instant_carrier(settings: Any) -> Iterator[None]:
    settings.KAISEN_CARRIER_DELAY = 0
    settings.KAISEN_CARRIER_FAILURE_RATE = 0
    settings.KAISEN_CARRIER_TIMEOUT_RATE = 0
    simulator.faults.reset()
    yield
    simulator.faults.reset()


def _noon() -> dt.datetime:
    """12:00 JST of the next weekday from the test clock: inside every reception window."""
    day = clock.today_jst() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=JST)


def _submit(world: TenantWorld, line: Any) -> Order:
    return order_submit(tenant=world.tenant, user=world.user, line_id=line.pk, kind="suspend", params={},
                        idempotency_key=uuid.uuid4().hex)


def _lines(world: TenantWorld, n: int) -> list[Any]:
    return [LineFactory(tenant=world.tenant, status=LineStatus.ACTIVE, sim_type=SimType.VOICE) for _ in range(n)]


def _sql(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries]


def _tick_statements(world: TenantWorld, lines: list[Any], at: dt.datetime) -> tuple[int, Any]:
    """Submit an order on each line at ``at``, then count the statements of the tick that applies them all
    (the instant carrier: sent and completed in one transaction per order), without the mail sweep."""
    with time_machine.travel(at, tick=False):
        orders = [_submit(world, line) for line in lines]
    with time_machine.travel(at + dt.timedelta(seconds=1), tick=False), \
            CaptureQueriesContext(connection) as ctx:
        report = orders_tick(send_mail=False)
    assert report.completed == len(lines) and report.errors == 0
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETED
    return len(ctx), report


#: The events outbox (issue 13) of one order transaction: one INSERT of all its events (the order's, and its
#: line's status change) and one look-up of the tenant's subscribed webhook endpoints (kaisen.events.services
#: ``batching``). Two more only when an endpoint subscribes (the deliveries).
EVENTS_OUTBOX = 2
#: The order mails of one order transaction: one ``INSERT … ON CONFLICT DO NOTHING`` of all of them
#: (kaisen.notifications.services ``batching``, inside ``workflow.recording``; issue 11 session 7: it was a
#: savepoint, the INSERT and its release per mail).
MAIL_OUTBOX = 1
#: Statements of one order_submit (see docs/benchmarks.md, "What an order costs"): 11 + the events outbox + the
#: mail outbox (the acceptance mail).
SUBMIT_MAX = 11 + EVENTS_OUTBOX + MAIL_OUTBOX
#: The re-rating a change of the line's history asks for when it can price a call differently (issue 10 §4,
#: ``billing.rating.rerate_line_history``): the closed months, one UPDATE of the line's calls from the day of the
#: change whose charge changes, one DELETE and one INSERT of their rollups, and their day totals taken off and
#: added again (two INSERTs; issue 10 benchmarks) — fixed, whatever the tenant's size. A suspend or resume
#: changes no rated field of the line (``lines.history.RATED_FIELDS``) and asks for none (issue 11 session 7: it
#: was 4 per order).
LINE_HISTORY_RERATE = 6
#: Statements of a tick with nothing to do (three phases that find no order).
TICK_IDLE_MAX = 9
#: What each order of a transaction costs (suspend, voice line, instant carrier): 2 on the carrier simulator's
#: table (the carrier side: the submit's upsert and the query's ``UPDATE … RETURNING``; issue 11 session 7, later:
#: it was a SELECT … FOR UPDATE and a write each), the order's UPDATE (sent and completed in one:
#: ``order_transition(defer=True)``), the line's UPDATE, 2 for its history (closing the open interval with
#: ``UPDATE … RETURNING``, the new one; it was 3 with a SELECT first). The line's SELECT … FOR UPDATE is the
#: batch's (below; it was one per order). No re-rating (above), no statement per mail.
APPLY_IN_BATCH_MAX = 6
#: What a transaction of orders costs besides its orders (``KAISEN_ORDER_BATCH`` orders share it): (BEGIN,) the
#: claim, the lock of the batch's lines (one SELECT … FOR UPDATE … ORDER BY id, when a result is applied;
#: ``results.lines_of_batch``), the record writes (order events, audit rows, webhook events and the endpoint
#: look-up, the mails: 5), COMMIT.
BATCH_MAX = 9
#: An order alone in its transaction.
APPLY_PER_ORDER_MAX = APPLY_IN_BATCH_MAX + BATCH_MAX


def test_submit_takes_a_fixed_number_of_statements_issue_11(tenant_a: TenantWorld,
                                                             django_assert_max_num_queries: Any) -> None:
    busy, fresh = _lines(tenant_a, 2)
    with time_machine.travel(_noon(), tick=False):
        for _ in range(3):  # history on the line and in the tenant does not make a submit dearer
            _submit(tenant_a, busy)
            orders_tick()
            order = order_submit(tenant=tenant_a.tenant, user=tenant_a.user, line_id=busy.pk, kind="resume",
                                 params={}, idempotency_key=uuid.uuid4().hex)
            orders_tick()
            order.refresh_from_db()
            assert order.status == OrderStatus.COMPLETED
        for line in (fresh, busy):
            with django_assert_max_num_queries(SUBMIT_MAX):
                order = _submit(tenant_a, line)
            assert order.status == OrderStatus.SCHEDULED
            assert list(order.events.values_list("to_status", flat=True)) == ["received", "scheduled"]
            assert OutboxMessage.objects.filter(order=order, topic="accepted").count() == 1


def test_applying_orders_takes_a_fixed_number_of_statements_per_order_issue_11(tenant_a: TenantWorld) -> None:
    lines = _lines(tenant_a, 11)
    one, _ = _tick_statements(tenant_a, lines[:1], _noon())
    ten, _ = _tick_statements(tenant_a, lines[1:], _noon() + dt.timedelta(minutes=1))
    assert one <= TICK_IDLE_MAX + APPLY_PER_ORDER_MAX
    assert ten - one <= 9 * APPLY_IN_BATCH_MAX  # linear in the orders, nothing per tick that grows
    with CaptureQueriesContext(connection) as ctx:
        orders_tick(send_mail=False)
    assert len(ctx) <= TICK_IDLE_MAX


def test_mails_go_out_in_one_sweep_transaction_issue_11(tenant_a: TenantWorld,
                                                        django_assert_max_num_queries: Any) -> None:
    from django.core import mail

    from kaisen.notifications.services import outbox_send_due

    with time_machine.travel(_noon(), tick=False):
        for line in _lines(tenant_a, 20):
            _submit(tenant_a, line)
        assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING).count() == 20
        mail.outbox.clear()
        with django_assert_max_num_queries(4):  # (savepoint) lock the batch, one UPDATE, (release)
            assert outbox_send_due() == 20
    assert len(mail.outbox) == 20
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT, attempts=1).count() == 20
    assert outbox_send_due() == 0  # nothing sent twice


def test_submit_enqueues_no_task_issue_11(tenant_a: TenantWorld, django_capture_on_commit_callbacks: Any) -> None:
    """The scheduler finds due orders and due mails: no task row per order or per mail."""
    from django_tasks_db.models import DBTaskResult

    with time_machine.travel(_noon(), tick=False), django_capture_on_commit_callbacks(execute=True) as callbacks:
        _submit(tenant_a, _lines(tenant_a, 1)[0])
    assert callbacks == []
    assert DBTaskResult.objects.count() == 0


def test_a_batch_of_orders_shares_its_claim_commit_and_records_issue_11(tenant_a: TenantWorld,
                                                                        settings: Any) -> None:
    """Ten due orders are applied in one transaction: one claim query, one commit, one write of their records."""
    settings.KAISEN_ORDER_BATCH = 20
    lines = _lines(tenant_a, 10)
    at = _noon()
    with time_machine.travel(at, tick=False):
        for line in lines:
            _submit(tenant_a, line)
    with time_machine.travel(at + dt.timedelta(seconds=1), tick=False), \
            CaptureQueriesContext(connection) as ctx:
        report = orders_tick(send_mail=False)
    assert report.completed == 10 and report.errors == 0
    sql = _sql(ctx)
    assert len(sql) <= TICK_IDLE_MAX + BATCH_MAX + 10 * APPLY_IN_BATCH_MAX, len(sql)
    table = '"carriers_simulatedcarrierrequest"'
    assert sum(1 for q in sql if table in q) == 20  # the carrier side: one upsert and one UPDATE per order
    assert sum(1 for q in sql if '"lines_lineperiod"' in q) == 20  # the history: close (RETURNING), open
    assert sum(1 for q in sql if q.startswith('SELECT "lines_line"."id"')) == 1  # the batch's lines, locked once
    assert sum(1 for q in sql if q.startswith('INSERT INTO "procedures_orderevent"')) == 1
    assert sum(1 for q in sql if q.startswith('INSERT INTO "audit_auditevent"')) == 1
    assert sum(1 for q in sql if "notifications_outboxmessage" in q) == 1  # the ten completion mails
    assert not [q for q in sql if "usage_" in q or "billing_invoice" in q]  # a suspend re-rates no call
    assert sum(1 for q in sql if q.startswith('UPDATE "procedures_order"')) == 10  # one per order
    if connection.vendor == "postgresql":  # SQLite's commits are not statements Django records
        assert sum(1 for q in sql if q == "COMMIT") <= 3  # the batch's, and the two empty phases'
