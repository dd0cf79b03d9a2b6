"""Helpers for the engine, simulator and kill tests: orders made directly (no rules), and a stand-in for
``services.order_apply_result`` where a test wants the engine alone."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from kaisen.carriers.adapters import CarrierState, CarrierStatus
from kaisen.core import clock
from kaisen.lines.models import Line, LineStatus
from kaisen.procedures.models import Order, OrderKind, OrderStatus
from kaisen.procedures.workflow import order_record_created, order_transition


def make_order(line: Line, kind: str = OrderKind.SUSPEND, *, due_at: dt.datetime | None = None,
               params: dict[str, Any] | None = None) -> Order:
    """A SCHEDULED order, as ``order_submit`` leaves one, without the rules."""
    now = clock.now()
    order = Order.objects.create(
        tenant=line.tenant, line=line, kind=kind, params=params or {}, idempotency_key=uuid.uuid4().hex,
        params_hash="x", effective_date=clock.today_jst(), due_at=due_at or now,
    )
    order_record_created(order, actor="test")
    order_transition(order, OrderStatus.SCHEDULED, actor="test")
    return order


LINE_EFFECT = {OrderKind.SUSPEND: LineStatus.SUSPENDED, OrderKind.RESUME: LineStatus.ACTIVE,
               OrderKind.CANCELLATION: LineStatus.CANCELLED}


def fake_apply(*, order: Order, status: CarrierStatus) -> None:
    """What ``order_apply_result`` does, minus mails: final status, result, and the line's new state."""
    if status.state == CarrierState.COMPLETED:
        order.result = dict(status.result)
        order_transition(order, OrderStatus.COMPLETED, actor="test", update_fields=["result"])
        line = Line.objects.select_for_update().get(pk=order.line_id)
        if order.kind in LINE_EFFECT:
            line.status = LINE_EFFECT[order.kind]
        if order.kind == OrderKind.SIM_REISSUE:
            line.iccid = status.result["new_iccid"]
        line.save()
    else:
        order.error_code, order.error_message = status.error_code, status.error_message
        order_transition(order, OrderStatus.FAILED, actor="test", update_fields=["error_code", "error_message"])
