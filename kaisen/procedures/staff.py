"""What staff do to an order from the back office (issue 14): retry it now, mark it failed, mark it completed.

Each action takes a reason, locks the order row, allows only the moves of ``models.TRANSITIONS``, and is
written to the audit log with the staff member as actor (the status moves through ``workflow.order_transition``
and ``results.order_apply_result``, exactly as the engine's own moves do). A refusal is a ``DomainError``
(``ORDER_STATE_INVALID``, ``VALIDATION_ERROR``, ``PERMISSION_DENIED``); the admin shows its message.

- **Retry** asks the engine to handle the order now (``engine.orders_tick(order_id=...)``): a due SCHEDULED
  order is sent, a SENT or UNKNOWN one is checked with the carrier at once. Nothing is sent blindly: an
  UNKNOWN order is still resolved by a query first (0004).
- **Mark failed** finishes a pending order as failed, as a carrier refusal would: what acceptance put on the
  line is withdrawn, pending reminders are dropped, and the customer gets the "failed" mail.
- **Mark completed** finishes a SENT or UNKNOWN order as completed, as a carrier completion would: the
  line changes (``order_apply_result`` with a COMPLETED status). Only for orders the carrier has been sent
  — staff use it after confirming with the carrier that the change is done. Refused for the procedures
  whose completion carries data only the carrier has (an MNP reservation number, a reissued SIM's ICCID).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kaisen.audit.services import audit_record
from kaisen.carriers.adapters import CarrierState, CarrierStatus
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.procedures.models import TRANSITIONS, Order, OrderEvent, OrderKind, OrderStatus
from kaisen.procedures.results import order_apply_result

#: Procedures whose completion needs what only the carrier returns: never completed by hand.
NOT_COMPLETABLE_BY_HAND = frozenset({OrderKind.MNP_RESERVATION, OrderKind.SIM_REISSUE})
#: The error code a failure marked by staff leaves on the order.
STAFF_FAILED_CODE = "STAFF_MARKED_FAILED"


def _actor(staff: Any) -> str:
    return f"staff:{getattr(staff, 'username', staff)}"[:100]


def _check(staff: Any, reason: str) -> str:
    if not (getattr(staff, "is_staff", False) and staff.has_perm("procedures.change_order")):
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Enter a reason."), field="reason")
    return reason[:500]


def _locked(order_id: int) -> Order:
    # The order and its line locked, not the tenant row the join reads (PostgreSQL locks every joined row otherwise).
    order = (Order.objects.select_for_update(of=("self", "line")).select_related("line", "tenant")
             .filter(pk=order_id).first())
    if order is None:
        raise NotFound(_("No such order."))
    return order


def _refuse(order: Order, message: str) -> DomainError:
    return DomainError(ErrorCode.ORDER_STATE_INVALID, message,
                       details={"order_id": order.pk, "status": order.status})


def order_staff_retry(*, staff: Any, order_id: int, reason: str) -> Order:
    """Have the engine handle a pending order now: send a due SCHEDULED order, ask the carrier about a SENT or
    UNKNOWN one. Returns the order as the engine left it."""
    reason = _check(staff, reason)
    with transaction.atomic():
        order = _locked(order_id)
        now = clock.now()
        if order.status == OrderStatus.SCHEDULED:
            if order.due_at > now:
                raise _refuse(order, _("This order is not due yet: it is carried out from its scheduled time."))
        elif order.status in (OrderStatus.SENT, OrderStatus.UNKNOWN):
            order.next_check_at = now
            order.save(update_fields=["next_check_at", "updated_at"])
        else:
            raise _refuse(order, _("Only an order waiting to be sent or waiting for the carrier can be retried."))
        OrderEvent.objects.create(order=order, tenant_id=order.tenant_id, from_status=order.status,
                                  to_status=order.status, actor=_actor(staff), note=reason,
                                  data={"staff_action": "retry"})
        audit_record(action="order.staff_retry", tenant=order.tenant, user=staff, target=order, reason=reason,
                     changes={"status": [order.status, order.status]})
    from kaisen.procedures.engine import orders_tick  # the engine sits above the services (0006)

    orders_tick(order_id=order.pk)
    order.refresh_from_db()
    return order


def order_staff_fail(*, staff: Any, order_id: int, reason: str) -> Order:
    """Finish a pending order as failed, as a carrier refusal would (the line's pending change withdrawn,
    the customer mailed)."""
    reason = _check(staff, reason)
    with transaction.atomic():
        order = _locked(order_id)
        if OrderStatus.FAILED not in TRANSITIONS[order.status]:
            raise _refuse(order, _("This order is already finished."))
        order_apply_result(order=order, status=CarrierStatus(state=CarrierState.FAILED, error_code=STAFF_FAILED_CODE,
                                                             error_message=reason),
                           actor=_actor(staff), user=staff, reason=reason)
    return order


def order_staff_complete(*, staff: Any, order_id: int, reason: str) -> Order:
    """Finish a SENT or UNKNOWN order as completed, as a carrier completion would (the line changes)."""
    reason = _check(staff, reason)
    with transaction.atomic():
        order = _locked(order_id)
        if OrderStatus.COMPLETED not in TRANSITIONS[order.status]:
            raise _refuse(order, _("Only an order sent to the carrier can be marked completed."))
        if order.kind in NOT_COMPLETABLE_BY_HAND:
            raise _refuse(order, _("This procedure completes only with the carrier's answer; retry it instead."))
        order_apply_result(order=order, status=CarrierStatus(state=CarrierState.COMPLETED,
                                                             result={"completed_by": "staff"}),
                           actor=_actor(staff), user=staff, reason=reason)
        order.next_check_at = None
        order.save(update_fields=["next_check_at", "updated_at"])
    return order
