"""The one way an order's status changes: ``order_transition``, inside the caller's transaction, with the
order row locked. It refuses any move not in ``TRANSITIONS`` and writes an ``OrderEvent`` and an audit
entry for every move.

Inside ``recording()`` the event and audit rows of every move are collected and written at the end of the
block with one ``INSERT`` each (issue 11 §1): the order engine and ``order_submit`` wrap each order's
transaction in it, so an order that moves twice in one step still pays two statements for its records. The
events of the block (issue 13: the order's and its line's) are collected too and written at its end with one
``INSERT`` and one look-up of the subscribed webhook endpoints (``kaisen.events.services.batching``), and so
are its order mails (``kaisen.notifications.services.batching``: one ``INSERT … ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kaisen.audit.models import AuditEvent
from kaisen.audit.services import audit_entry, audit_write
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue
from kaisen.events.services import batching as events_batching
from kaisen.events.services import event_emit
from kaisen.notifications.services import batching as outbox_batching
from kaisen.procedures.models import FINAL_STATUSES, TRANSITIONS, Order, OrderEvent, OrderStatus


class IllegalTransition(Exception):
    """A bug, not a user error: code tried a move the workflow does not allow."""


@dataclass
class _Records:
    events: list[OrderEvent] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)

    def flush(self) -> None:
        if self.events:
            OrderEvent.objects.bulk_create(self.events)
        audit_write(self.audit)
        self.events, self.audit = [], []


_local = threading.local()


@contextmanager
def recording() -> Iterator[None]:
    """Collect the records of order moves and write them when the block ends (inside the caller's
    transaction: call it inside ``transaction.atomic``). Nested blocks join the outermost one."""
    if getattr(_local, "records", None) is not None:
        yield
        return
    records = _local.records = _Records()
    try:
        # The events of the block (orders, lines) and its order mails go out with one INSERT each at its end.
        with events_batching(), outbox_batching():
            yield
            records.flush()
    finally:
        _local.records = None


def _add(event: OrderEvent, entry: AuditEvent) -> None:
    records: _Records | None = getattr(_local, "records", None)
    if records is None:
        event.save(force_insert=True)
        entry.save(force_insert=True)
        return
    records.events.append(event)
    records.audit.append(entry)


def can_transition(order: Order, to: str) -> bool:
    return to in TRANSITIONS[order.status]


_UNSAVED = "_kaisen_unsaved_fields"


def order_save(order: Order, fields: list[str]) -> None:
    """Save ``fields`` of ``order`` (and ``updated_at``), with the fields of a move deferred by
    ``order_transition(..., defer=True)``: one ``UPDATE`` for both."""
    order.save(update_fields=sorted({*fields, "updated_at", *order.__dict__.pop(_UNSAVED, ())}))


def order_flush(order: Order) -> None:
    """Save what a deferred move left unsaved, if anything (a safety net at the end of an order's step)."""
    if order.__dict__.get(_UNSAVED):
        order_save(order, [])


def order_transition(order: Order, to: str, *, actor: str = "system", user: Any = None, note: str = "",
                     data: dict[str, Any] | None = None, update_fields: list[str] | None = None,
                     reason: str = "", save: bool = True, defer: bool = False) -> Order:
    """Move ``order`` to ``to`` and record it. The caller holds the row lock (select_for_update).
    ``save=False``: the caller saves the order itself (a new order, inserted in its final first state).
    ``defer=True``: the order moves again in this transaction (the engine's send of an order the carrier has
    already done, issue 11): its fields are saved with the next ``order_transition`` or ``order_save`` — one
    ``UPDATE`` for both moves; the move's records are written as usual."""
    if to not in TRANSITIONS[order.status]:
        raise IllegalTransition(f"order {order.pk}: {order.status} -> {to}")
    before = order.status
    order.status = to
    fields = {"status", "updated_at", *(update_fields or []), *order.__dict__.pop(_UNSAVED, ())}
    if to in FINAL_STATUSES:
        order.completed_at = clock.now()
        fields.add("completed_at")
    if defer:
        order.__dict__[_UNSAVED] = fields
    elif save:
        order.save(update_fields=sorted(fields))
    _add(OrderEvent(order=order, tenant_id=order.tenant_id, from_status=before, to_status=to, actor=actor[:100],
                    note=note[:500], data=data or {}),
         audit_entry(action=f"order.{to}", tenant=order.tenant, user=user, actor=None if user else actor,
                     target=order, changes={"status": [before, to], "kind": [order.kind, order.kind]},
                     reason=reason))
    if to in ORDER_EVENTS:
        order_event(order, ORDER_EVENTS[to])
    return order


#: The order statuses that are events a tenant can receive (issue 13 §1); acceptance is the order's creation.
ORDER_EVENTS: dict[str, str] = {OrderStatus.COMPLETED: catalogue.ORDER_COMPLETED,
                                OrderStatus.FAILED: catalogue.ORDER_FAILED,
                                OrderStatus.CANCELLED: catalogue.ORDER_WITHDRAWN}


def order_event(order: Order, event_type: str) -> None:
    """Write the event ``event_type`` about ``order`` in the current transaction (issue 13 §1)."""
    line = order.line
    event_emit(tenant_id=order.tenant_id, type=event_type, line_id=order.line_id, data={
        "order_id": order.pk, "kind": order.kind, "status": order.status, "line_id": order.line_id,
        "msisdn": line.msisdn, "iccid": line.iccid,
        "effective_date": order.effective_date.isoformat() if order.effective_date else None,
        "error_message": order.error_message or ""})


def order_record_created(order: Order, *, actor: str, user: Any = None, note: str = "") -> None:
    """The first event of an order (its creation in RECEIVED)."""
    _add(OrderEvent(order=order, tenant_id=order.tenant_id, from_status="", to_status=OrderStatus.RECEIVED,
                    actor=actor[:100], note=note[:500], data={"params": order.params}),
         audit_entry(action="order.received", tenant=order.tenant, user=user, target=order,
                     changes={"status": [None, OrderStatus.RECEIVED], "kind": [None, order.kind],
                              "params": [None, order.params], "line": [None, order.line_id]}))
    order_event(order, catalogue.ORDER_ACCEPTED)


def order_record_accepted(order: Order, *, actor: str, user: Any = None, note: str = "accepted") -> None:
    """The first two events of an order that ``order_submit`` saved straight in SCHEDULED: its creation in
    RECEIVED and the move to SCHEDULED, recorded as if it had been saved twice (one ``INSERT`` saved)."""
    order.status = OrderStatus.RECEIVED
    order_record_created(order, actor=actor, user=user)
    order_transition(order, OrderStatus.SCHEDULED, actor=actor, user=user, note=note, save=False)


def refuse(code: ErrorCode, message: str, **details: Any) -> DomainError:
    return DomainError(code, message, details=details or None)
