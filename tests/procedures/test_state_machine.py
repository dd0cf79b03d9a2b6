"""A Hypothesis stateful test over the order state machine (issue 3: nothing lost, nothing doubled).

Rules: customers submit orders (suspend, resume, voice options today / next month, cancellation) on a few
docomo and SoftBank lines and withdraw them; the carrier acks, refuses, or loses requests (timeouts before
and after recording); the engine ticks; the clock jumps (an hour, across reception hours, to the day
before the month end, the month end itself, the next morning). Every service, rule and the engine are
the real ones; the carrier is the simulator with injected faults.

Invariants after every step: every status move follows ``TRANSITIONS``; at most one pending order per
(line, kind); the carrier applied each request at most once; a completed order's effect is on the line;
a withdrawn order never reached the carrier.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from kaisen.carriers import simulator
from kaisen.carriers.models import Carrier, SimulatedCarrierRequest
from kaisen.core import clock
from kaisen.core.errors import DomainError
from kaisen.lines.models import Line, LineStatus, SimType
from kaisen.procedures.engine import orders_tick
from kaisen.procedures.models import PENDING_STATUSES, TRANSITIONS, Order, OrderEvent, OrderKind, OrderStatus
from kaisen.procedures.services import order_cancel, order_submit
from tests.factories import LineFactory, PlanFactory, TenantFactory, UserFactory

JST = clock.JST
START = dt.datetime(2026, 11, 26, 9, 30, tzinfo=JST)  # Thursday; month end is Monday 30th
DELAY = 60

JUMPS = {
    "minute": lambda now: now + dt.timedelta(minutes=1),
    "carrier_delay": lambda now: now + dt.timedelta(seconds=DELAY + 1),
    "hour": lambda now: now + dt.timedelta(hours=1),
    "to_1000": lambda now: _next_at(now, dt.time(10, 0)),
    "to_1959": lambda now: _next_at(now, dt.time(19, 59)),
    "to_2000": lambda now: _next_at(now, dt.time(20, 0, 30)),
    "next_morning": lambda now: _next_at(now, dt.time(9, 0)),
    "day_before_month_end": lambda now: max(now, dt.datetime(2026, 11, 29, 12, 0, tzinfo=JST)),
    "month_end_evening": lambda now: max(now, dt.datetime(2026, 11, 30, 20, 0, 30, tzinfo=JST)),
    "next_month": lambda now: max(now, dt.datetime(2026, 12, 1, 9, 5, tzinfo=JST)),
}


def _next_at(now: dt.datetime, at: dt.time) -> dt.datetime:
    local = now.astimezone(JST)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=JST)
    return candidate if candidate > local else candidate + dt.timedelta(days=1)


LINE_STATE_KINDS = {OrderKind.SUSPEND: LineStatus.SUSPENDED, OrderKind.RESUME: LineStatus.ACTIVE,
                    OrderKind.CANCELLATION: LineStatus.CANCELLED}


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        simulator.faults.reset()
        self.tenant = TenantFactory()
        self.user = UserFactory(tenant=self.tenant, is_root=True)
        sb = PlanFactory(code="SM-SB", carrier=Carrier.SOFTBANK)
        self.lines = [
            LineFactory(tenant=self.tenant, sim_type=SimType.VOICE),
            LineFactory(tenant=self.tenant, sim_type=SimType.DATA, status=LineStatus.SUSPENDED),
            LineFactory(tenant=self.tenant, plan=sb, sim_type=SimType.VOICE),
        ]
        self.initial = {line.pk: line.status for line in self.lines}
        self.keys = 0

    def teardown(self) -> None:
        simulator.faults.reset()
        self.traveller.stop()

    # --- helpers ----------------------------------------------------------------------------------

    def _orders(self) -> Any:
        return Order.objects.filter(tenant=self.tenant)

    def _pick(self, statuses: tuple[str, ...], index: int) -> Order | None:
        orders = list(self._orders().filter(status__in=statuses).order_by("id"))
        return orders[index % len(orders)] if orders else None

    @initialize()
    def first_orders(self) -> None:
        """Start with work in flight (rules may still add, withdraw and fault more)."""
        self.submit(0, "suspend", 0)
        self.submit(1, "resume", 0)
        self.submit(2, "voice_today", 1)

    # --- customers --------------------------------------------------------------------------------

    @rule(line_index=st.integers(0, 2), kind=st.sampled_from(["suspend", "resume", "voice_today", "voice_next",
                                                              "cancellation"]),
          value=st.sampled_from([0, 5000, 20000, 100000]))
    def submit(self, line_index: int, kind: str, value: int) -> None:
        line = self.lines[line_index]
        params: dict[str, Any] = {}
        real_kind = kind
        if kind.startswith("voice"):
            real_kind = OrderKind.VOICE_OPTIONS
            params = {"effective": "today" if kind == "voice_today" else "next_month",
                      "options": {"international_call_cap" if line.carrier == Carrier.DOCOMO else "voicemail":
                                  value if line.carrier == Carrier.DOCOMO else bool(value)}}
        self.keys += 1
        with contextlib.suppress(DomainError):  # refused by a rule (hours, conflict, line state): nothing written
            order_submit(tenant=self.tenant, user=self.user, line_id=line.pk, kind=real_kind, params=params,
                         idempotency_key=f"sm-{self.keys}")

    @rule(index=st.integers(0, 50))
    def customer_cancel(self, index: int) -> None:
        order = self._pick(tuple(PENDING_STATUSES), index)
        if order is None:
            return
        with contextlib.suppress(DomainError):
            order_cancel(tenant=self.tenant, user=self.user, order_id=order.pk)

    # --- the carrier ------------------------------------------------------------------------------

    @rule(index=st.integers(0, 50), fault=st.sampled_from(["refuse", "timeout_before", "timeout_after",
                                                           "query_timeout", "fail_at_completion"]))
    def carrier_fault(self, index: int, fault: str) -> None:
        order = self._pick((OrderStatus.SCHEDULED, OrderStatus.SENT, OrderStatus.UNKNOWN), index)
        if order is None:
            return
        ref = f"KSN-{order.pk}"
        f = simulator.faults
        if fault == "refuse":
            f.refuse_submit[ref] = ("REFUSED", "refused by the test")
        elif fault == "timeout_before":
            f.timeout_before_recording.add(ref)
        elif fault == "timeout_after":
            f.timeout_after_recording.add(ref)
        elif fault == "query_timeout":
            f.timeout_query.add(ref)
        else:
            f.fail_at_completion[ref] = ("FAILED_AT_CARRIER", "failed by the test")

    @rule()
    def tick(self) -> None:
        report = orders_tick()
        assert report.errors == 0, report

    @rule()
    def carrier_works_a_while(self) -> None:
        """Time passes by the carrier's delay, with the scheduler ticking."""
        for _ in range(3):
            self.clock.shift(DELAY / 2 + 1)
            assert orders_tick().errors == 0

    @rule(jump=st.sampled_from(sorted(JUMPS)))
    def clock_jump(self, jump: str) -> None:
        self.clock.move_to(JUMPS[jump](clock.now()))

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def moves_follow_the_transition_table(self) -> None:
        for order in self._orders():
            chain = list(OrderEvent.objects.filter(order=order).order_by("id").values_list("from_status", "to_status"))
            assert chain[0] == ("", OrderStatus.RECEIVED), chain
            for (_, before), (frm, to) in itertools.pairwise(chain):
                assert frm == before and to in TRANSITIONS[frm], (order.pk, chain)
            assert chain[-1][1] == order.status

    @invariant()
    def one_pending_per_line_and_kind(self) -> None:
        seen = set()
        for line_id, kind in self._orders().filter(status__in=PENDING_STATUSES).values_list("line_id", "kind"):
            assert (line_id, kind) not in seen
            seen.add((line_id, kind))

    @invariant()
    def carrier_applies_at_most_once_and_never_a_withdrawn_order(self) -> None:
        refs = {f"KSN-{pk}": status for pk, status in self._orders().values_list("pk", "status")}
        for req in SimulatedCarrierRequest.objects.filter(order_ref__in=refs):
            assert req.applied_count <= 1, req
            assert refs[req.order_ref] != OrderStatus.CANCELLED, req  # withdrawn before it was sent
            if req.applied_count:
                assert refs[req.order_ref] in (OrderStatus.SENT, OrderStatus.UNKNOWN, OrderStatus.COMPLETED), req

    @invariant()
    def completed_effects_are_on_the_line(self) -> None:
        for line in Line.objects.filter(pk__in=[x.pk for x in self.lines]):
            done = self._orders().filter(line=line, status=OrderStatus.COMPLETED)
            last = done.filter(kind__in=list(LINE_STATE_KINDS)).order_by("completed_at", "id").last()
            expected = LINE_STATE_KINDS[OrderKind(last.kind)] if last else self.initial[line.pk]
            if done.filter(kind=OrderKind.CANCELLATION).exists():
                expected = LineStatus.CANCELLED
            assert line.status == expected, (line.pk, line.status, expected)
            voice = done.filter(kind=OrderKind.VOICE_OPTIONS).order_by("completed_at", "id").last()
            if voice is not None:
                later = done.filter(kind=OrderKind.VOICE_OPTIONS, completed_at__gt=voice.completed_at)
                if not later.exists():
                    for name, value in voice.params["options"].items():
                        assert line.voice_options.get(name) == value, (line.voice_options, voice.params)


@pytest.fixture
def _carrier(settings: Any) -> None:
    settings.KAISEN_CARRIER_DELAY = DELAY
    settings.KAISEN_CARRIER_FAILURE_RATE = 0
    settings.KAISEN_CARRIER_TIMEOUT_RATE = 0


@pytest.mark.django_db
@pytest.mark.usefixtures("_carrier")
def test_orders_state_machine() -> None:
    run_state_machine_as_test(OrderMachine, settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
