"""The demo's order history (issue 14, "Demo data"): for each demo tenant, orders in every status — completed
and failed ones in past months, one withdrawn by the customer, one scheduled for the 1st of next month, and
the in-flight states (received, sent to the carrier, awaiting the carrier's confirmation).

Each order is decided by its procedure's own rule (``rules.rule_for(kind).decide``) at the moment it was
placed, and moves along ``TRANSITIONS`` through ``workflow.order_transition``, so its params, dates and
events are what real use leaves. The orders' own times (placed, completed, each event) are then set to that
past moment; the audit log keeps the real time the demo wrote them. Lines are left as they are: the completed
orders are a suspension and the resumption after it, which cancel out. The in-flight ones are real work for
the engine: with the task worker running they go to the (simulated) carrier like any other order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from kaisen.carriers.adapters import get_adapter
from kaisen.core import clock
from kaisen.lines.models import Line, LineStatus, Plan
from kaisen.procedures.engine import _request as engine_request
from kaisen.procedures.engine import order_ref
from kaisen.procedures.models import Order, OrderEvent, OrderKind, OrderStatus
from kaisen.procedures.rules import rule_for
from kaisen.procedures.services import params_hash
from kaisen.procedures.workflow import order_record_created, order_transition
from kaisen.tenancy.models import Tenant

S = OrderStatus
ACTOR = "kaisen demo"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.JST)


def _weekday_before(day: dt.date, days: int) -> dt.date:
    out = day - dt.timedelta(days=days)
    while out.weekday() >= 5:
        out -= dt.timedelta(days=1)
    return out


def _recent_reception(local: dt.datetime) -> dt.datetime:
    """``local`` when it is a weekday within reception hours (with an hour's history behind it), else the
    last such moment before it (19:30 of the previous weekday): the in-flight orders were placed then."""
    if local.weekday() < 5 and dt.time(10, 0) <= local.time() <= dt.time(19, 59):
        return local
    day = local.date() if local.time() > dt.time(19, 59) else local.date() - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return _at(day, 19, 30)


def _order(line: Line, kind: str, params: dict[str, Any], placed: dt.datetime, path: list[tuple[str, int]],
           *, user: Any, error: tuple[str, str] | None = None) -> Order:
    """An order placed at ``placed``, moved along ``path`` ((status, minutes after placing), …)."""
    decision = rule_for(kind).decide(line, params, placed)
    order = Order.objects.create(
        tenant=line.tenant, line=line, kind=kind, params=decision.params, status=S.RECEIVED, requested_by=user,
        idempotency_key=f"demo-{uuid.uuid4().hex}", params_hash=params_hash(kind, line.pk, params),
        effective_date=decision.effective_date, due_at=decision.due_at, cancellable_until=decision.cancellable_until)
    order_record_created(order, actor=ACTOR, user=user)
    times = [placed]
    for status, minutes in path:
        if status == S.FAILED and error is not None:
            order.error_code, order.error_message = error
            order_transition(order, status, actor="carrier", note=error[1],
                             update_fields=["error_code", "error_message"])
        else:
            order_transition(order, status, actor=ACTOR if status == S.CANCELLED else "engine",
                             user=user if status == S.CANCELLED else None,
                             reason="demo: 社内稟議の取り下げ" if status == S.CANCELLED else "")
        times.append(placed + dt.timedelta(minutes=minutes))
    events = list(OrderEvent.objects.filter(order=order).order_by("id"))
    for event, when in zip(events, times, strict=False):
        OrderEvent.objects.filter(pk=event.pk).update(at=when)
    last = times[-1]
    Order.objects.filter(pk=order.pk).update(
        created_at=placed, updated_at=last, completed_at=last if order.status in (S.COMPLETED, S.FAILED, S.CANCELLED)
        else None)
    order.refresh_from_db()
    return order


def _smaller_plan(line: Line) -> Plan | None:
    """A plan of the line's carrier with less data (a downgrade waits for the 1st of next month)."""
    allowance = line.plan.data_allowance_mb
    candidates = Plan.objects.filter(carrier=line.carrier, is_active=True, coverage=line.plan.coverage) \
        .exclude(pk=line.plan_id).exclude(data_allowance_mb__isnull=True).order_by("-data_allowance_mb")
    for plan in candidates:
        if plan.data_allowance_mb is not None and (allowance is None or plan.data_allowance_mb < allowance):
            return plan
    return None


def demo_orders_create(*, tenants: Sequence[Tenant], today: dt.date, users: dict[Any, Any]) -> dict[str, int]:
    """Orders in every status for each demo tenant with enough active lines; ``users`` maps tenant id to the
    user who placed them. Returns how many orders of each status were made."""
    counts = {str(s): 0 for s in S}
    for tenant in tenants:
        user = users.get(tenant.pk)
        lines = list(Line.objects.filter(tenant=tenant, status=LineStatus.ACTIVE).select_related("plan", "tenant")
                     .order_by("id")[:40])
        if len(lines) < 6:
            continue
        made: list[Order] = []
        now = _recent_reception(clock.now().astimezone(clock.JST).replace(second=0, microsecond=0))
        # Two months ago: a line suspended, and resumed two weeks later (both completed).
        line = lines[0]
        made.append(_order(line, OrderKind.SUSPEND, {}, _at(_weekday_before(today, 61), 10, 12),
                           [(S.SCHEDULED, 0), (S.SENT, 1), (S.COMPLETED, 4)], user=user))
        made.append(_order(line, OrderKind.RESUME, {}, _at(_weekday_before(today, 47), 9, 41),
                           [(S.SCHEDULED, 0), (S.SENT, 1), (S.COMPLETED, 3)], user=user))
        # Three weeks ago: a suspension the carrier refused.
        made.append(_order(lines[1], OrderKind.SUSPEND, {}, _at(_weekday_before(today, 21), 15, 5),
                           [(S.SCHEDULED, 0), (S.SENT, 1), (S.FAILED, 6)], user=user,
                           error=("LINE_BUSY", "キャリア側で別の手続きを処理中のため受け付けられませんでした。")))
        # Last week: a downgrade for the 1st, withdrawn by the customer before its deadline.
        downgrade_lines = [ln for ln in lines[2:] if _smaller_plan(ln) is not None]
        if downgrade_lines:
            line = downgrade_lines[0]
            plan = _smaller_plan(line)
            assert plan is not None
            made.append(_order(line, OrderKind.PLAN_CHANGE, {"plan_code": plan.code},
                               _at(_weekday_before(today, 6), 11, 30), [(S.SCHEDULED, 0), (S.CANCELLED, 26 * 60)],
                               user=user))
        # Just now: a downgrade scheduled for the 1st of next month (withdrawable until the day before).
        if len(downgrade_lines) > 1:
            line = downgrade_lines[1]
            plan = _smaller_plan(line)
            assert plan is not None
            made.append(_order(line, OrderKind.PLAN_CHANGE, {"plan_code": plan.code}, now - dt.timedelta(minutes=40),
                               [(S.SCHEDULED, 0)], user=user))
        # In flight a few minutes ago: received, sent to the carrier, awaiting its confirmation.
        busy = {o.line_id for o in made}
        free = [ln for ln in lines if ln.pk not in busy]
        in_flight: list[tuple[int, list[tuple[str, int]]]] = [
            (2, []), (9, [(S.SCHEDULED, 0), (S.SENT, 1)]), (14, [(S.SCHEDULED, 0), (S.UNKNOWN, 1)])]
        for line, (minutes, path) in zip(free, in_flight, strict=False):  # a tenant with few lines gets fewer
            made.append(_order(line, OrderKind.SUSPEND, {}, now - dt.timedelta(minutes=minutes), path, user=user))
        # The sent one is really with the (simulated) carrier, under the engine's reference; the engine asks
        # about it, and about the one whose answer was lost, at ``next_check_at``.
        for order in made:
            if order.status == S.SENT:
                adapter = get_adapter()
                adapter.submit(engine_request(order))
                Order.objects.filter(pk=order.pk).update(carrier_ref=order_ref(order), attempts=1)
            if order.status == S.UNKNOWN:
                Order.objects.filter(pk=order.pk).update(carrier_ref=order_ref(order), attempts=1)
        Order.objects.filter(pk__in=[o.pk for o in made if o.status in (S.SENT, S.UNKNOWN)]).update(
            next_check_at=clock.now() + dt.timedelta(minutes=1))
        for order in made:
            counts[str(order.status)] += 1
    return counts
