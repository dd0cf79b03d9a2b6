"""The order engine with the carrier simulator (0004; M-PROC-1 timing; nothing lost, nothing doubled)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection

from kaisen.carriers import simulator
from kaisen.carriers.models import Carrier, SimulatedCarrierRequest
from kaisen.core import clock
from kaisen.core.numbers import iccid_normalize
from kaisen.lines.models import LineStatus
from kaisen.notifications.models import OutboxMessage
from kaisen.procedures import engine
from kaisen.procedures.engine import orders_tick
from kaisen.procedures.models import Order, OrderEvent, OrderKind, OrderStatus
from tests.factories import LineFactory, PlanFactory
from tests.procedures.engine_support import make_order

JST = clock.JST
MONDAY_0930 = dt.datetime(2026, 11, 24, 9, 30, tzinfo=JST)  # a business day


@pytest.fixture(autouse=True)
def _engine(settings: Any) -> Iterator[None]:
    settings.KAISEN_CARRIER_DELAY = 60
    settings.KAISEN_CARRIER_FAILURE_RATE = 0
    settings.KAISEN_CARRIER_TIMEOUT_RATE = 0
    simulator.faults.reset()
    yield
    simulator.faults.reset()


def _req(order: Order) -> SimulatedCarrierRequest:
    return SimulatedCarrierRequest.objects.get(order_ref=f"KSN-{order.pk}")


def _statuses(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))


@pytest.mark.django_db
def test_immediate_order_completes_after_the_carrier_delay() -> None:
    line = LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        order = make_order(line)
        report = orders_tick()
        assert report.sent == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.SENT and order.carrier_ref == f"KSN-{order.pk}" and order.attempts == 1
        req = _req(order)
        assert req.state == "pending" and req.complete_after == MONDAY_0930 + dt.timedelta(seconds=60)
        assert order.next_check_at == req.complete_after  # the engine asks when the carrier expects to be done

        t.shift(59)
        assert orders_tick().handled == 0  # not due for a check yet
        orders_tick(now=clock.now() + dt.timedelta(seconds=1))  # a check forced early: still pending
        order.refresh_from_db()
        assert order.status == OrderStatus.SENT and _req(order).applied_count == 0

        t.shift(1.5)
        report = orders_tick()
        assert report.completed == 1
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and line.status == LineStatus.SUSPENDED
    assert _req(order).applied_count == 1 and _req(order).submit_count == 1
    assert _statuses(order) == ["received", "scheduled", "sent", "completed"]
    assert OutboxMessage.objects.filter(order=order, topic="completed").count() == 1
    assert orders_tick().handled == 0  # nothing left to do


@pytest.mark.django_db
def test_softbank_suspension_at_930_is_not_carried_out_before_1000() -> None:
    """M-PROC-1: SoftBank lines are carried out only from 10:00; a request accepted at 9:30 waits."""
    line = LineFactory(plan=PlanFactory(code="SB-TEST", carrier=Carrier.SOFTBANK))
    assert line.carrier == Carrier.SOFTBANK
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        order = make_order(line)
        orders_tick()
        req = _req(order)
        assert req.complete_after == dt.datetime(2026, 11, 24, 10, 1, 0, tzinfo=JST)
        for minute in (9 * 60 + 40, 9 * 60 + 50, 9 * 60 + 59, 10 * 60):
            t.move_to(dt.datetime(2026, 11, 24, minute // 60, minute % 60, 0, tzinfo=JST))
            orders_tick(now=clock.now() + engine.MAX_POLL)  # check even if not due: still not carried out
            order.refresh_from_db()
            assert order.status == OrderStatus.SENT, minute
            assert _req(order).applied_count == 0
        t.move_to(dt.datetime(2026, 11, 24, 10, 1, tzinfo=JST))
        orders_tick(now=clock.now() + engine.MAX_POLL)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and _req(order).applied_count == 1


@pytest.mark.django_db
def test_docomo_suspension_at_930_is_carried_out_at_once() -> None:
    line = LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False):
        order = make_order(line)
        orders_tick()
        assert _req(order).complete_after == MONDAY_0930 + dt.timedelta(seconds=60)


@pytest.mark.django_db
def test_timeout_after_recording_is_resolved_by_a_query_not_a_resend() -> None:
    line = LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        order = make_order(line)
        simulator.faults.timeout_after_recording.add(f"KSN-{order.pk}")
        report = orders_tick()
        assert report.unknown == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.UNKNOWN and _req(order).submit_count == 1

        t.shift(engine.RETRY_UNKNOWN.total_seconds())
        orders_tick()
        order.refresh_from_db()
        assert order.status == OrderStatus.SENT  # the carrier has it: no second send
        assert _req(order).submit_count == 1 and order.attempts == 1

        t.shift(60)
        orders_tick()
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert _req(order).applied_count == 1 and _req(order).submit_count == 1
    assert _statuses(order) == ["received", "scheduled", "unknown", "sent", "completed"]


@pytest.mark.django_db
def test_timeout_after_recording_resolved_after_completion_goes_straight_to_completed() -> None:
    line = LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        order = make_order(line)
        simulator.faults.timeout_after_recording.add(f"KSN-{order.pk}")
        orders_tick()
        simulator.faults.timeout_query.add(f"KSN-{order.pk}")  # the first query times out too
        t.shift(engine.RETRY_UNKNOWN.total_seconds())
        orders_tick()
        order.refresh_from_db()
        assert order.status == OrderStatus.UNKNOWN
        t.shift(120)
        orders_tick()
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and _req(order).applied_count == 1
    assert _statuses(order) == ["received", "scheduled", "unknown", "completed"]


@pytest.mark.django_db
def test_timeout_before_recording_goes_back_to_scheduled_and_is_sent_again_once() -> None:
    line = LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        order = make_order(line)
        simulator.faults.timeout_before_recording.add(f"KSN-{order.pk}")
        orders_tick()
        order.refresh_from_db()
        assert order.status == OrderStatus.UNKNOWN
        assert not SimulatedCarrierRequest.objects.filter(order_ref=f"KSN-{order.pk}").exists()

        t.shift(engine.RETRY_UNKNOWN.total_seconds())
        report = orders_tick()
        assert report.rescheduled == 1
        order.refresh_from_db()
        assert order.status == OrderStatus.SCHEDULED

        orders_tick()
        order.refresh_from_db()
        assert order.status == OrderStatus.SENT and order.attempts == 2
        t.shift(61)
        orders_tick()
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    req = _req(order)
    assert req.submit_count == 1 and req.applied_count == 1
    assert _statuses(order) == ["received", "scheduled", "unknown", "scheduled", "sent", "completed"]


@pytest.mark.django_db
def test_a_repeated_submit_is_recognised_by_the_carrier() -> None:
    """A worker that dies after the carrier got the request but before its own commit re-sends: the
    carrier counts the repeat and never applies it twice."""
    line = LineFactory()
    order = make_order(line)
    adapter = simulator.SimulatorAdapter()
    request = engine._request(order)
    first = adapter.submit(request)
    again = adapter.submit(request)
    assert first.state == again.state == "pending"
    req = _req(order)
    assert req.submit_count == 2 and req.applied_count == 0
    with time_machine.travel(clock.now() + dt.timedelta(seconds=61), tick=False) as t:
        orders_tick()  # the engine's own send: a third submit, still the same request
        t.shift(1)
        orders_tick()
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and _req(order).applied_count == 1
    assert _req(order).submit_count == 3


@pytest.mark.django_db
def test_a_repeated_submit_is_not_refused_and_leaves_the_refusal_for_a_new_request_issue_11() -> None:
    """A submit is one upsert (issue 11 §1), so a refusal is worked out before the carrier knows whether the
    request is new; a repeat is still never refused, and the refusal waits for the next new request."""
    first, second = make_order(LineFactory()), make_order(LineFactory())
    adapter = simulator.SimulatorAdapter()
    adapter.submit(engine._request(first))
    simulator.faults.refuse_submit["*"] = ("LINE_LOCKED", "The line is locked at the carrier.")
    assert adapter.submit(engine._request(first)).state == "pending"  # a repeat: counted, not refused
    assert _req(first).submit_count == 2 and _req(first).state == "pending"
    with pytest.raises(simulator.CarrierError):
        adapter.submit(engine._request(second))
    assert _req(second).state == "failed" and simulator.faults.refuse_submit == {}


@pytest.mark.django_db
def test_the_simulator_costs_one_statement_per_submit_and_per_due_query_issue_11() -> None:
    from django.test.utils import CaptureQueriesContext

    order = make_order(LineFactory())
    adapter = simulator.SimulatorAdapter()
    with CaptureQueriesContext(connection) as ctx:
        adapter.submit(engine._request(order))
    assert len(ctx) == 1
    with time_machine.travel(clock.now() + dt.timedelta(seconds=61), tick=False), \
            CaptureQueriesContext(connection) as ctx:
        status = adapter.query(f"KSN-{order.pk}")
    assert len(ctx) == 1 and status.state == "completed" and "completed_at" in status.result
    assert _req(order).applied_count == 1
    assert adapter.query(f"KSN-{order.pk}").state == "completed" and _req(order).applied_count == 1  # once


@pytest.mark.django_db
def test_carrier_refusal_fails_the_order_with_the_carriers_code() -> None:
    line = LineFactory()
    order = make_order(line)
    simulator.faults.refuse_submit[f"KSN-{order.pk}"] = ("LINE_LOCKED", "The line is locked at the carrier.")
    report = orders_tick()
    assert report.failed == 1
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.status == OrderStatus.FAILED and order.error_code == "LINE_LOCKED"
    assert "locked" in order.error_message and line.status == LineStatus.ACTIVE
    assert _req(order).applied_count == 0


@pytest.mark.django_db
def test_failure_at_completion_fails_the_order() -> None:
    line = LineFactory()
    order = make_order(line)
    simulator.faults.fail_at_completion[f"KSN-{order.pk}"] = ("SIM_FAULT", "The carrier could not do it.")
    orders_tick()
    with time_machine.travel(clock.now() + dt.timedelta(seconds=61), tick=False):
        orders_tick()
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED and order.error_code == "SIM_FAULT"
    assert _req(order).applied_count == 0


@pytest.mark.django_db
def test_future_orders_wait_for_their_due_time() -> None:
    line = LineFactory()
    order = make_order(line, due_at=clock.now() + dt.timedelta(days=3))
    assert orders_tick().handled == 0
    with time_machine.travel(clock.now() + dt.timedelta(days=3, seconds=1), tick=False):
        assert orders_tick().sent == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT


@pytest.mark.django_db
def test_sim_reissue_and_mnp_reservation_results() -> None:
    settings_delay = 0
    a, b = LineFactory(), LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        reissue = make_order(a, OrderKind.SIM_REISSUE, params={"sim_size": "nano"})
        mnp = make_order(b, OrderKind.MNP_RESERVATION, params={"holder_name": "テスト"})
        orders_tick(now=clock.now())
        t.shift(60 + settings_delay)
        orders_tick()
    reissue.refresh_from_db()
    mnp.refresh_from_db()
    a.refresh_from_db()
    new_iccid = reissue.result["new_iccid"]
    assert len(new_iccid) == 19 and iccid_normalize(new_iccid) == new_iccid and a.iccid == new_iccid
    assert simulator.new_iccid_for("KSN-1") != simulator.new_iccid_for("KSN-2")
    number = mnp.result["reservation_number"]
    assert len(number) == 10 and number.isdigit()
    issued = dt.date.fromisoformat(mnp.result["completed_at"][:10])
    assert dt.date.fromisoformat(mnp.result["expires_on"]) == issued + dt.timedelta(days=15)


@pytest.mark.django_db
def test_cancel_withdraws_a_pending_request_but_not_a_completed_one() -> None:
    from kaisen.carriers.adapters import CarrierError

    adapter = simulator.SimulatorAdapter()
    first, second = make_order(LineFactory()), make_order(LineFactory())
    orders_tick()
    assert adapter.cancel(f"KSN-{first.pk}").state == "cancelled"
    assert adapter.cancel("KSN-999999").state == "unknown"
    with time_machine.travel(clock.now() + dt.timedelta(seconds=61), tick=False):
        orders_tick()
        with pytest.raises(CarrierError):
            adapter.cancel(f"KSN-{second.pk}")
    first.refresh_from_db()
    assert first.status == OrderStatus.FAILED and first.error_code == "CARRIER_CANCELLED"
    assert _req(first).applied_count == 0


@pytest.mark.django_db
def test_an_error_in_one_order_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    broken, _fine = make_order(LineFactory()), make_order(LineFactory())
    real = engine._request

    def explode(order: Order) -> Any:
        if order.pk == broken.pk:
            raise RuntimeError("bug")
        return real(order)

    monkeypatch.setattr(engine, "_request", explode)
    report = orders_tick()
    assert report.errors == 1 and report.sent == 1 and report.error_ids == [broken.pk]
    broken.refresh_from_db()
    assert broken.status == OrderStatus.SCHEDULED and broken.attempts == 0  # rolled back, retried later


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_never_send_an_order_twice() -> None:
    """Two workers at once (threads; on SQLite one after the other, as its write lock serialises them)."""
    lines = LineFactory.create_batch(30)
    orders = [make_order(line) for line in lines]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            while orders_tick(limit=5, send_mail=False).sent:
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    if connection.vendor == "sqlite":
        barrier = threading.Barrier(1)
        work()
        work()
    else:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
    assert not errors, errors
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.SENT and order.attempts == 1
        assert _req(order).submit_count == 1
    assert Order.objects.filter(status=OrderStatus.SCHEDULED).count() == 0


@pytest.mark.django_db
def test_mnp_reservation_port_out_is_polled_and_cancels_the_line(settings: Any) -> None:
    """M-PROC-5: the number arrives first; when the holder ports out later, the line is cancelled."""
    settings.KAISEN_CARRIER_PORT_OUT_DELAY = 600
    line = LineFactory()
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        order = make_order(line, OrderKind.MNP_RESERVATION, params={"holder_name": "テスト", "category": "corporate"})
        orders_tick()
        t.shift(61)
        orders_tick()
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETED and order.result["reservation_number"]
        assert order.next_check_at == dt.datetime.fromisoformat(order.result["port_out_after"])
        line.refresh_from_db()
        assert line.status == LineStatus.ACTIVE
        t.shift(300)
        assert orders_tick().ported_out == 0
        t.shift(301)
        assert orders_tick().ported_out == 1
    order.refresh_from_db()
    line.refresh_from_db()
    assert order.result["ported_out"] is True and order.next_check_at is None
    assert line.status == LineStatus.CANCELLED
    assert OutboxMessage.objects.filter(order=order, topic="ported_out").count() == 1
    assert _req(order).applied_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["timeout", "pending", "completed", "repeat"])
def test_a_send_asked_about_at_once_keeps_its_sent_fields_issue_11(settings: Any, answer: str) -> None:
    """A send the carrier expects done by now is asked about in the same transaction, and the order's SENT fields
    are saved with whatever that answer makes of it (one UPDATE, ``order_transition(defer=True)``): a query that
    times out or finds the request still pending leaves the order SENT with its attempt and carrier reference."""
    settings.KAISEN_CARRIER_DELAY = 0
    line = LineFactory()
    with time_machine.travel(MONDAY_0930.replace(hour=11), tick=False):
        order = make_order(line)
        if answer == "timeout":
            simulator.faults.timeout_query.add(f"KSN-{order.pk}")
        elif answer == "pending":
            SimulatedCarrierRequest.objects.create(
                order_ref=f"KSN-{order.pk}", carrier=line.carrier, kind=order.kind, line_ref=line.iccid, payload={},
                state="pending", received_at=clock.now(), complete_after=clock.now() + dt.timedelta(hours=1))
        elif answer == "repeat":  # the carrier already carried it out (a send repeated after a lost answer)
            SimulatedCarrierRequest.objects.create(
                order_ref=f"KSN-{order.pk}", carrier=line.carrier, kind=order.kind, line_ref=line.iccid, payload={},
                state="completed", received_at=clock.now(), complete_after=clock.now(), applied_count=1)
        report = orders_tick()
        order.refresh_from_db()
        assert report.sent == 1 and report.errors == 0
        assert order.attempts == 1 and order.carrier_ref == f"KSN-{order.pk}"
        if answer in ("completed", "repeat"):
            assert order.status == OrderStatus.COMPLETED and order.completed_at == clock.now()
            assert _statuses(order)[-2:] == ["sent", "completed"]
        else:
            assert order.status == OrderStatus.SENT and order.next_check_at is not None
            assert order.next_check_at > clock.now()
            assert _statuses(order)[-1] == "sent"


@pytest.mark.django_db
def test_two_orders_on_one_line_in_one_batch_each_see_the_other_s_change_issue_11(settings: Any) -> None:
    """A batch locks its lines once (``results.lines_of_batch``); a second order on the same line reads the line
    again, so its history interval carries the first order's change too."""
    from kaisen.lines.models import LinePeriod

    settings.KAISEN_CARRIER_DELAY = 0
    with time_machine.travel(MONDAY_0930, tick=False) as t:
        line = LineFactory(carrier=Carrier.DOCOMO)
        suspend = make_order(line, OrderKind.SUSPEND)
        reissue = make_order(line, OrderKind.SIM_REISSUE, params={"sim_size": "nano"})
        t.shift(1)
        report = orders_tick(batch=20)
    assert report.completed == 2 and report.errors == 0
    line.refresh_from_db()
    reissue.refresh_from_db()
    assert line.status == LineStatus.SUSPENDED and line.iccid == reissue.result["new_iccid"]
    open_ = LinePeriod.objects.get(line=line, valid_to__isnull=True)
    assert open_.status == LineStatus.SUSPENDED and open_.iccid == line.iccid
    assert suspend.pk < reissue.pk
