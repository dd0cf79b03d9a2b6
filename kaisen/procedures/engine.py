"""The order engine: sends due orders to the carrier, resolves unknown sends, applies results (0004).

``orders_tick`` is the whole engine. It is safe to run in any number of threads and processes at once:

- due orders are handled ``KAISEN_ORDER_BATCH`` per transaction (one claim, one commit and one write of
  the records for the batch; issue 11 §1), picked with ``select_for_update(skip_locked=True)``
  (PostgreSQL: two workers never pick the same row; SQLite: transactions are IMMEDIATE, so they run one at
  a time and the second one sees the first one's result); if one order of a batch fails, the batch is
  rolled back and its orders are handled again one per transaction; the first result applied in a batch
  locks the lines of all its orders at once, in id order (``results.lines_of_batch``);
- the carrier call happens inside that transaction, so a worker killed mid-send leaves the orders as they
  were (SCHEDULED → sent again next tick; the carrier recognises the repeat by ``KSN-<order id>``);
- a send whose answer was lost (``CarrierTimeout``) makes the order UNKNOWN, which is resolved by asking
  the carrier (``query``), never by sending blindly again: the carrier has it → SENT (or its result);
  it never arrived → SCHEDULED, and the next tick sends it (again safe: the carrier dedups by reference);
- a completed MNP reservation with a port-out to come (the simulator's ``port_out_after``) keeps a
  ``next_check_at``; when the carrier reports ``ported_out`` the rules cancel the line (M-PROC-5);
- a result (COMPLETED / FAILED) is applied by ``results.order_apply_result`` in the same transaction as
  the query that saw it, which changes the line and queues the mails (outbox, unique per order and topic).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction

from kaisen.carriers.adapters import (
    CarrierAdapter,
    CarrierError,
    CarrierRequest,
    CarrierState,
    CarrierStatus,
    CarrierTimeout,
    get_adapter,
)
from kaisen.controls import functions as control_functions
from kaisen.controls import services as controls
from kaisen.core import clock
from kaisen.procedures import mails
from kaisen.procedures.models import Order, OrderKind, OrderStatus
from kaisen.procedures.results import lines_of_batch, order_apply_result
from kaisen.procedures.workflow import order_flush, order_save, order_transition, recording

log = logging.getLogger(__name__)

ACTOR = "engine"
#: How soon to ask again after a send whose answer was lost, and after a query that timed out.
RETRY_UNKNOWN = dt.timedelta(seconds=2)
#: Poll bounds while the carrier works on a request: not sooner than MIN_POLL, not later than MAX_POLL
#: after the time the carrier said it expects to finish.
MIN_POLL = dt.timedelta(seconds=0.5)
MAX_POLL = dt.timedelta(minutes=10)
#: After an unexpected error on an order, leave it alone this long (the next tick retries).
ERROR_BACKOFF = dt.timedelta(seconds=30)


@dataclass
class TickReport:
    sent: int = 0
    completed: int = 0
    failed: int = 0
    unknown: int = 0  # sends whose answer was lost
    rescheduled: int = 0  # unknown sends the carrier never received: back to SCHEDULED
    postponed: int = 0  # due during a maintenance window: moved to its end (issue 15 §1)
    ported_out: int = 0  # MNP reservations whose number has since left (M-PROC-5)
    still_pending: int = 0
    errors: int = 0
    mails_sent: int = 0
    #: True if a phase stopped at ``limit``: there may be more due work right now.
    more: bool = False
    error_ids: list[int] = field(default_factory=list)

    def add(self, other: TickReport) -> None:
        for name, value in asdict(other).items():
            if name == "more":
                self.more = self.more or other.more
            elif name == "error_ids":
                self.error_ids.extend(other.error_ids)
            else:
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def handled(self) -> int:
        return (self.sent + self.completed + self.failed + self.unknown + self.rescheduled + self.still_pending
                + self.ported_out)


def order_ref(order: Order) -> str:
    return f"KSN-{order.pk}"


def _request(order: Order) -> CarrierRequest:
    line = order.line
    return CarrierRequest(order_ref=order_ref(order), carrier=line.carrier, kind=order.kind, line_ref=line.iccid,
                          msisdn=line.msisdn, sim_type=line.sim_type, params=dict(order.params or {}))


def _next_poll(now: dt.datetime, status: CarrierStatus) -> dt.datetime:
    if status.expected_at is None:
        return now + RETRY_UNKNOWN
    return min(max(status.expected_at, now + MIN_POLL), now + MAX_POLL)


def _apply(order: Order, status: CarrierStatus, report: TickReport) -> None:
    """Hand a final carrier answer to the rules (line changes, mails) — same transaction, row locked."""
    order_apply_result(order=order, status=status)
    port_out_after = status.result.get("port_out_after") if status.state == CarrierState.COMPLETED else None
    if port_out_after and not status.result.get("ported_out"):
        # An issued MNP reservation number: keep asking the carrier whether the number has ported out.
        order.next_check_at = dt.datetime.fromisoformat(port_out_after)
        order_save(order, ["next_check_at"])
    if status.state == CarrierState.COMPLETED:
        report.completed += 1
    else:
        report.failed += 1


def _refused(error: CarrierError) -> CarrierStatus:
    return CarrierStatus(state=CarrierState.FAILED, error_code=error.code, error_message=error.message)


def _postpone(order: Order, now: dt.datetime, report: TickReport) -> bool:
    """An order due while a maintenance window closes its procedure for its tenant keeps its promise: it is
    carried out when the window ends (``due_at`` moves there) and the customer is told once (issue 15 §1)."""
    function = control_functions.procedure(order.kind)
    resumes = controls.reopens_at(function, order.tenant_id, now)
    if resumes is None:
        return False
    window = controls.active_window(function, order.tenant_id, at=now)
    order.due_at = resumes
    order.save(update_fields=["due_at", "updated_at"])
    mails.order_delayed_mail(order, resumes, window.reason_ja if window else "")
    report.postponed += 1
    return True


def _send_one(order: Order, adapter: CarrierAdapter, now: dt.datetime, report: TickReport) -> None:
    """SCHEDULED → SENT (or FAILED if refused, UNKNOWN if the answer was lost); postponed while a maintenance
    window closes the procedure."""
    if _postpone(order, now, report):
        return
    order.attempts += 1
    order.carrier_ref = order_ref(order)
    try:
        status = adapter.submit(_request(order))
    except CarrierError as exc:
        order.save(update_fields=["attempts", "carrier_ref", "updated_at"])
        _apply(order, _refused(exc), report)
        return
    except CarrierTimeout as exc:
        order.next_check_at = now + RETRY_UNKNOWN
        order_transition(order, OrderStatus.UNKNOWN, actor=ACTOR, note=str(exc)[:500],
                         update_fields=["attempts", "carrier_ref", "next_check_at"])
        report.unknown += 1
        return
    order.next_check_at = _next_poll(now, status)
    final = status.state in (CarrierState.COMPLETED, CarrierState.FAILED)  # a repeat of a finished request
    # The carrier expects to be done already: ask now, in this transaction, instead of in a second one.
    ask = (status.state == CarrierState.PENDING and status.expected_at is not None
           and status.expected_at <= clock.now())
    # The order moves again below: its SENT fields are saved with that move (one UPDATE, not two).
    order_transition(order, OrderStatus.SENT, actor=ACTOR, data={"carrier_ref": order.carrier_ref},
                     update_fields=["attempts", "carrier_ref", "next_check_at"], defer=final or ask)
    report.sent += 1
    if final:
        _apply(order, status, report)
    elif ask:
        _check_one(order, adapter, now, report)


def _check_one(order: Order, adapter: CarrierAdapter, now: dt.datetime, report: TickReport) -> None:
    """A SENT or UNKNOWN order whose check is due: ask the carrier."""
    try:
        status = adapter.query(order.carrier_ref or order_ref(order))
    except CarrierTimeout:
        order.next_check_at = now + RETRY_UNKNOWN
        order_save(order, ["next_check_at"])
        report.still_pending += 1
        return
    if status.state == CarrierState.UNKNOWN:
        if order.status == OrderStatus.UNKNOWN:
            # The lost send never arrived: send it again (next tick; the carrier dedups by reference).
            order.next_check_at = None
            order_transition(order, OrderStatus.SCHEDULED, actor=ACTOR, note="carrier never received it",
                             update_fields=["next_check_at"])
            report.rescheduled += 1
        else:
            # SENT, yet the carrier does not know it: should not happen; keep asking, loudly.
            log.error("order %s: sent, but the carrier does not know %s", order.pk, order.carrier_ref)
            order.next_check_at = now + ERROR_BACKOFF
            order_save(order, ["next_check_at"])
            report.errors += 1
        return
    if status.state == CarrierState.PENDING:
        order.next_check_at = _next_poll(now, status)
        if order.status == OrderStatus.UNKNOWN:
            order_transition(order, OrderStatus.SENT, actor=ACTOR, note="carrier has it",
                             update_fields=["next_check_at"])
        else:
            order_save(order, ["next_check_at"])
        report.still_pending += 1
        return
    if status.state == CarrierState.CANCELLED:
        status = CarrierStatus(state=CarrierState.FAILED, error_code="CARRIER_CANCELLED",
                               error_message="The carrier reports the request as withdrawn.")
    _apply(order, status, report)


def _check_port_out(order: Order, adapter: CarrierAdapter, now: dt.datetime, report: TickReport) -> None:
    """A completed MNP reservation (M-PROC-5): has the number left for another operator yet?"""
    try:
        status = adapter.query(order.carrier_ref or order_ref(order))
    except CarrierTimeout:
        order.next_check_at = now + RETRY_UNKNOWN
        order.save(update_fields=["next_check_at", "updated_at"])
        return
    if status.result.get("ported_out"):
        order_apply_result(order=order, status=status)
        order.next_check_at = None
        report.ported_out += 1
    else:
        expires = status.result.get("expires_on")
        if expires and now.astimezone(clock.JST).date() > dt.date.fromisoformat(expires):
            order.next_check_at = None  # the reservation lapsed: nothing more will happen
        else:
            after = status.result.get("port_out_after")
            later = dt.datetime.fromisoformat(after) if after else now + MAX_POLL
            order.next_check_at = max(later, now + MIN_POLL)
    order.save(update_fields=["next_check_at", "updated_at"])


def _claim(qs: Any, order_by: tuple[str, ...], size: int) -> list[Order]:
    return list(qs.select_for_update(skip_locked=True, of=("self",)).select_related("line", "tenant")
                .order_by(*order_by)[:size])


def _batch(qs: Any, order_by: tuple[str, ...], handle: Any, adapter: CarrierAdapter, now: dt.datetime,
           size: int, report: TickReport, claimed: list[int]) -> int:
    """Claim up to ``size`` due orders and handle them all in one transaction: one claim, one commit, and
    one write of their event, audit and webhook event rows for the whole batch. Raises if any order fails
    (the whole batch is then rolled back; ``claimed`` says which orders it held)."""
    part = TickReport()
    with transaction.atomic(), recording():
        orders = _claim(qs, order_by, size)
        claimed.extend(o.pk for o in orders)
        with lines_of_batch(o.line_id for o in orders):  # their lines are locked once, if a result is applied
            for order in orders:
                handle(order, adapter, now, part)
                order_flush(order)
    report.add(part)
    return len(orders)


def _one(name: str, qs: Any, order_id: int, handle: Any, adapter: CarrierAdapter, now: dt.datetime,
         report: TickReport) -> bool:
    """Handle one order in its own transaction (after its batch failed). False if it failed."""
    try:
        with transaction.atomic(), recording():
            order = _claim(qs.filter(pk=order_id), ("id",), 1)
            if order:  # else another worker has it now, or it is no longer due
                handle(order[0], adapter, now, report)
                order_flush(order[0])
        return True
    except Exception:
        report.errors += 1
        log.exception("orders_tick %s: order %s failed; retried by a later tick", name, order_id)
        report.error_ids.append(order_id)
        _back_off(order_id, now)
        return False


def _phase(name: str, base: Any, order_by: tuple[str, ...], handle: Any, adapter: CarrierAdapter,
           now: dt.datetime, limit: int, report: TickReport, batch: int = 1) -> None:
    """Handle up to ``limit`` due orders of ``base``, ``batch`` per transaction (issue 11 §1: an order's
    commit, claim query and record writes are shared by its batch). If an order of a batch fails, the batch
    is rolled back and its orders are handled again one per transaction, so that only the failing one is
    left for a later tick (backed off, and skipped for the rest of this tick)."""
    skipped: list[int] = []
    done = 0
    while done < limit:
        size = min(max(1, batch), limit - done)
        qs = base.exclude(pk__in=skipped) if skipped else base
        claimed: list[int] = []
        try:
            got = _batch(qs, order_by, handle, adapter, now, size, report, claimed)
        except Exception:
            if not claimed:
                report.errors += 1
                log.exception("orders_tick %s: could not pick an order", name)
                return
            for order_id in claimed:
                if not _one(name, qs, order_id, handle, adapter, now, report):
                    skipped.append(order_id)
            done += len(claimed)
            continue
        done += got
        if got < size:
            return
    report.more = True


def _back_off(order_id: int, now: dt.datetime) -> None:
    try:
        Order.objects.filter(pk=order_id, next_check_at__isnull=False).update(
            next_check_at=now + ERROR_BACKOFF)
    except Exception:
        log.exception("could not back off order %s", order_id)


def orders_tick(*, now: dt.datetime | None = None, limit: int = 100, order_id: int | None = None,
                send_mail: bool = True, batch: int | None = None) -> TickReport:
    """One pass of the engine: (a) send due SCHEDULED orders, (b) check SENT/UNKNOWN orders whose
    ``next_check_at`` has come, (c) send outbox mails left behind. ``order_id`` limits (a) and (b) to one
    order (the ``order_kick`` task). At most ``limit`` orders per phase; ``report.more`` says there may be
    more due now. ``batch`` orders are handled per transaction (default ``KAISEN_ORDER_BATCH``)."""
    from django.conf import settings

    batch = max(1, int(getattr(settings, "KAISEN_ORDER_BATCH", 20) if batch is None else batch))
    now = now or clock.now()
    adapter = get_adapter()
    report = TickReport()
    scheduled = Order.objects.filter(status=OrderStatus.SCHEDULED, due_at__lte=now)
    checks = Order.objects.filter(status__in=[OrderStatus.SENT, OrderStatus.UNKNOWN], next_check_at__lte=now)
    if order_id is not None:
        scheduled, checks = scheduled.filter(pk=order_id), checks.filter(pk=order_id)
    _phase("send", scheduled, ("due_at", "id"), _send_one, adapter, now, limit, report, batch)
    _phase("check", checks, ("next_check_at", "id"), _check_one, adapter, now, limit, report, batch)
    port_outs = Order.objects.filter(status=OrderStatus.COMPLETED, kind=OrderKind.MNP_RESERVATION,
                                     next_check_at__lte=now)
    if order_id is not None:
        port_outs = port_outs.filter(pk=order_id)
    _phase("port-out", port_outs, ("next_check_at", "id"), _check_port_out, adapter, now, limit, report, batch)
    if send_mail and order_id is None:
        try:
            from kaisen.notifications.services import outbox_send_due

            report.mails_sent = outbox_send_due(now)
        except Exception:
            report.errors += 1
            log.exception("orders_tick: outbox sweep failed")
    return report
