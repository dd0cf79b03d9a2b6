"""The one way an order's status changes: ``order_transition``, inside the caller's transaction, with the
order row locked. It refuses any move not in ``TRANSITIONS`` and writes an ``OrderEvent`` and an audit
entry for every move."""

from __future__ import annotations

from typing import Any

from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.procedures.models import FINAL_STATUSES, TRANSITIONS, Order, OrderEvent, OrderStatus


class IllegalTransition(Exception):
    """A bug, not a user error: code tried a move the workflow does not allow."""


def can_transition(order: Order, to: str) -> bool:
    return to in TRANSITIONS[order.status]


def order_transition(order: Order, to: str, *, actor: str = "system", user: Any = None, note: str = "",
                     data: dict[str, Any] | None = None, update_fields: list[str] | None = None,
                     reason: str = "") -> Order:
    """Move ``order`` to ``to`` and record it. The caller holds the row lock (select_for_update)."""
    if to not in TRANSITIONS[order.status]:
        raise IllegalTransition(f"order {order.pk}: {order.status} -> {to}")
    before = order.status
    order.status = to
    fields = {"status", "updated_at", *(update_fields or [])}
    if to in FINAL_STATUSES:
        order.completed_at = clock.now()
        fields.add("completed_at")
    order.save(update_fields=sorted(fields))
    OrderEvent.objects.create(order=order, tenant_id=order.tenant_id, from_status=before, to_status=to,
                              actor=actor[:100], note=note[:500], data=data or {})
    audit_record(action=f"order.{to}", tenant=order.tenant, user=user, actor=None if user else actor,
                 target=order, changes={"status": [before, to], "kind": [order.kind, order.kind]}, reason=reason)
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
    OrderEvent.objects.create(order=order, tenant_id=order.tenant_id, from_status="",
                              to_status=OrderStatus.RECEIVED, actor=actor[:100], note=note[:500],
                              data={"params": order.params})
    audit_record(action="order.received", tenant=order.tenant, user=user, target=order,
                 changes={"status": [None, OrderStatus.RECEIVED], "kind": [None, order.kind],
                          "params": [None, order.params], "line": [None, order.line_id]})
    order_event(order, catalogue.ORDER_ACCEPTED)


def refuse(code: ErrorCode, message: str, **details: Any) -> DomainError:
    return DomainError(code, message, details=details or None)
