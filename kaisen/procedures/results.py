"""The carrier's final answer to an order, applied (M-PROC-1..5): the line changes, the order moves to
completed or failed, the customer's mail is queued; a ported-out MNP reservation cancels its line.

Called by the order engine (``kaisen.procedures.engine``) in its transaction with the order row locked.
Below the engine and the services, so that the services can enqueue the engine's task and the engine can
apply results without either importing the other.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from kaisen.audit.services import audit_record
from kaisen.carriers.adapters import CarrierState, CarrierStatus
from kaisen.core import clock
from kaisen.lines.history import KEPT_LINE_FIELDS, line_record_change
from kaisen.lines.models import Line, LinePeriodReason, LineStatus
from kaisen.notifications.services import outbox_withdraw
from kaisen.procedures import mails, rules, workflow
from kaisen.procedures.models import Order, OrderKind, OrderStatus
from kaisen.procedures.rules import rule_for


def save_line(line: Line, fields: list[str], *, order: Order | None = None, at: dt.datetime | None = None) -> None:
    """Save the changed ``fields`` of ``line``; with ``order``, a change of a kept field also starts a new
    interval of the line's history (issue 10 §1), from ``at`` or the rule's ``in_force_from``."""
    if fields:
        line.save(update_fields=sorted({*fields, "updated_at"}))
        if order is not None and KEPT_LINE_FIELDS.intersection(fields):
            line_record_change(line=line, at=at or rule_for(order.kind).in_force_from(order),
                               reason=LinePeriodReason.ORDER, order_id=order.pk)


_batch = threading.local()


@contextmanager
def lines_of_batch(line_ids: Iterable[int]) -> Iterator[None]:
    """The orders handled in this block (a batch of the engine, in one transaction) are on ``line_ids``: the
    first result applied locks all those lines with one ``SELECT … FOR UPDATE … ORDER BY id`` (issue 11 §1: it
    was one per applied order; in id order, two workers lock shared lines in the same order), and each line is
    then handed once to ``order_apply_result`` (a second order on the same line reads it again)."""
    _batch.ids, _batch.lines = sorted(set(line_ids)), None
    try:
        yield
    finally:
        _batch.ids, _batch.lines = None, None


def _line_locked(line_id: int) -> Line:
    ids = getattr(_batch, "ids", None)
    if ids and line_id in ids:
        if _batch.lines is None:
            _batch.lines = {line.pk: line for line in Line.objects.select_for_update(of=("self",))
                            .select_related("plan", "tenant").filter(pk__in=ids).order_by("pk")}
        line: Line | None = _batch.lines.pop(line_id, None)
        if line is not None:
            return line
    return Line.objects.select_for_update(of=("self",)).select_related("plan", "tenant").get(pk=line_id)


def order_apply_result(*, order: Order, status: CarrierStatus, actor: str = "carrier", user: Any = None,
                       reason: str = "") -> None:
    """The carrier finished ``order`` (COMPLETED or FAILED): change the line, move the order, queue the mail.

    The engine calls it in its transaction with the order row locked. Applied once: an order already
    final is left alone — except a completed MNP reservation whose number has since been ported out
    (``status.result["ported_out"]``), which cancels the line (once). ``actor``/``user``/``reason`` name
    who decided when it is not the carrier (a staff member in the back office, ``procedures.staff``).
    """
    rule = rule_for(order.kind)
    result = dict(status.result or {})
    if order.status in (OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED):
        if order.status == OrderStatus.COMPLETED and order.kind == OrderKind.MNP_RESERVATION and result.get(
                "ported_out"):
            mnp_port_out_apply(order=order, result=result)
        return
    line = _line_locked(order.line_id)
    order.line = line
    if status.state == CarrierState.COMPLETED:
        fields = rule.on_completed(order, line, result)
        save_line(line, fields, order=order)
        order.result = {**(order.result or {}), **result}
        workflow.order_transition(order, OrderStatus.COMPLETED, actor=actor, user=user, note=reason or "carried out",
                                  data={"result": result}, update_fields=["result"], reason=reason)
        topic = rule.completion_topic(order)
        if topic:
            mails.order_mail(order, topic)
        if order.kind == OrderKind.MNP_RESERVATION and result.get("ported_out"):
            mnp_port_out_apply(order=order, result=result)
        return
    if status.state != CarrierState.FAILED:
        raise ValueError(f"order_apply_result: not a final state: {status.state}")
    order.error_code = (status.error_code or "CARRIER_FAILED")[:64]
    order.error_message = (status.error_message or "")[:500]
    order.result = {**(order.result or {}), **result}
    workflow.order_transition(order, OrderStatus.FAILED, actor=actor, user=user, note=order.error_message,
                              data={"error_code": order.error_code}, update_fields=["error_code", "error_message",
                                                                                    "result"], reason=reason)
    # What acceptance put on the line (a scheduled end date) no longer holds.
    save_line(line, rule.on_withdrawn(order, line))
    outbox_withdraw(order=order, topics=[rules.REMINDER])
    mails.order_mail(order, rules.FAILED)


def mnp_port_out_apply(*, order: Order, result: dict[str, Any] | None = None) -> None:
    """The number of a completed MNP reservation has left for another operator: the line is cancelled
    and the customer told (M-PROC-5). Safe to call again."""
    line = Line.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=order.line_id)
    order.line = line
    if line.status != LineStatus.CANCELLED:
        fields = rules.MnpReservationRule().on_ported_out(order, line, clock.today_jst())
        # The number left when the carrier reports it: the line is cancelled from that moment.
        save_line(line, fields, order=order, at=clock.now())
        audit_record(action="line.ported_out", tenant=order.tenant, actor="carrier", target=line,
                              changes={"status": [None, LineStatus.CANCELLED], "order": [None, order.pk]})
    if not (order.result or {}).get("ported_out"):
        order.result = {**(order.result or {}), **(result or {}), "ported_out": True}
        order.save(update_fields=["result", "updated_at"])
    mails.order_mail(order, rules.PORTED_OUT)
