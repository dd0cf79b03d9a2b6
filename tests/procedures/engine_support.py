"""Helpers for the engine and state-machine tests: orders made directly, as ``order_submit`` leaves them
(without its rules), so the engine can be tested on its own."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

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
