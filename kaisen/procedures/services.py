"""Line procedures: accept, preview, withdraw and complete orders (M-MNP-2, M-LINE-1, M-PROC-1..7).

Every interface (web pages, API, CLI, bulk upload) calls these functions only. The rules of each
procedure are in ``rules.py``; status moves go through ``workflow.order_transition``; mails are written
to the outbox in the same transaction as the step they report (``mails.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kaisen.access import actions
from kaisen.access.services import approval_needed, authorize, can, line_scope
from kaisen.controls import functions as fn
from kaisen.controls import services as controls
from kaisen.core import calendar, clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.lines.models import Line
from kaisen.lines.selectors import line_get
from kaisen.notifications.services import outbox_withdraw
from kaisen.procedures import mails, rules, workflow
from kaisen.procedures.models import PENDING_STATUSES, BulkJob, Order, OrderKind, OrderStatus
from kaisen.procedures.results import save_line
from kaisen.procedures.rules import LINE_STATE_KINDS, Decision, rule_for
from kaisen.tenancy.models import Tenant

log = logging.getLogger(__name__)

#: The web helper's URL names for each procedure's first page and for withdrawing an order.
URL_NAMES: dict[str, str] = {kind: f"procedures:{kind}" for kind in OrderKind.values}
CANCEL_URL_NAME = "procedures:order_cancel"


@dataclass(frozen=True)
class OrderPreview:
    """What ``order_submit`` would accept (the confirm page and the bulk dry run show it)."""

    kind: str
    line: Line
    params: dict[str, Any]
    effective_date: dt.date
    due_at: dt.datetime
    cancellable_until: dt.datetime | None
    warnings: list[str] = field(default_factory=list)
    #: The mail topics the customer will receive (``rules.ACCEPTED`` …; ``mails.SUBJECTS`` names them).
    emails: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProcedureOption:
    """A button of the line status page (M-LINE-1): a procedure to start, or a pending order to withdraw."""

    kind: str
    label: str
    available: bool
    reason: str = ""
    url_name: str = ""
    action: str = "submit"  # "submit" (start the procedure) or "cancel" (withdraw ``order_id``)
    order_id: int | None = None
    code: str = ""  # the DomainError code behind ``reason``


# --- helpers --------------------------------------------------------------------------------------

def _actor(user: Any) -> str:
    if user is not None and getattr(user, "pk", None):
        return str(getattr(user, "audit_label", user))
    return "system"


def params_hash(kind: str, line_id: int, params: dict[str, Any]) -> str:
    """The request as the client sent it: a retry with the same key must send the same thing."""
    raw = json.dumps({"kind": kind, "line": line_id, "params": params}, sort_keys=True, default=str,
                     ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def reception_refusal(kind: str, now: dt.datetime) -> DomainError | None:
    if calendar.is_within_reception(kind, now):
        return None
    window = calendar.reception_window(kind)
    opens = calendar.next_reception_opening(kind, now)
    message = _("Procedures are accepted from %(opens)s to %(closes)s Japan time. Reception opens again at "
                "%(when)s.") % {"opens": f"{window.opens:%H:%M}", "closes": f"{window.closes:%H:%M}",
                                "when": f"{opens:%Y-%m-%d %H:%M}"}
    return DomainError(ErrorCode.OUTSIDE_RECEPTION_HOURS, message,
                       details={"opens_at": opens.isoformat(), "window": window.label()})


def control_refusal(kind: str, tenant_id: int | None, now: dt.datetime) -> DomainError | None:
    """Operator controls (issue 15): the procedure switched off for the tenant (``NOT_IN_CONTRACT``), or closed
    by a maintenance window (``MAINTENANCE``, saying when it reopens)."""
    switch = fn.SWITCH_OF_KIND.get(kind)
    refusal = controls.switch_refusal(tenant_id, switch) if switch else None
    return refusal or controls.maintenance_refusal(fn.procedure(kind), tenant_id, at=now)


def _kind_label(kind: str) -> str:
    return str(OrderKind(kind).label)


def conflict_refusal(kind: str, pending: list[Order]) -> DomainError | None:
    """Design note 0004: one pending order per kind; line-state kinds exclude each other; a pending
    cancellation refuses everything."""
    for other in pending:
        if other.kind == OrderKind.CANCELLATION:
            return DomainError(ErrorCode.ORDER_CONFLICT,
                               _("A cancellation of this line is pending (order %(id)s); withdraw it first.")
                               % {"id": other.pk}, details={"order_id": other.pk})
    for other in pending:
        if other.kind == kind:
            return DomainError(ErrorCode.ORDER_CONFLICT,
                               _("A %(kind)s order for this line is already pending (order %(id)s).")
                               % {"kind": _kind_label(kind), "id": other.pk}, details={"order_id": other.pk})
    if kind in LINE_STATE_KINDS:
        for other in pending:
            if other.kind in LINE_STATE_KINDS:
                return DomainError(ErrorCode.ORDER_CONFLICT,
                                   _("A %(kind)s order for this line is pending (order %(id)s); it must finish or "
                                     "be withdrawn first.") % {"kind": _kind_label(other.kind), "id": other.pk},
                                   details={"order_id": other.pk})
    return None


def _pending(line: Line) -> list[Order]:
    return list(Order.objects.filter(line=line, status__in=PENDING_STATUSES).order_by("id"))


def _decide(*, line: Line, kind: str, params: Any, now: dt.datetime, pending: list[Order]) -> Decision:
    rule = rule_for(kind)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The parameters must be an object."), field="params")
    refusal = control_refusal(kind, line.tenant_id, now) or reception_refusal(kind, now)
    if refusal is not None:
        raise refusal
    rule.check_line(line, now.astimezone(clock.JST).date())
    refusal = conflict_refusal(kind, pending)
    if refusal is not None:
        raise refusal
    decision = rule.decide(line, params, now)
    if decision.cancellable_until is None:  # never withdrawable: no withdrawal mail to announce
        decision.emails = [t for t in decision.emails if t != rules.CANCELLED]
    return decision


def _existing(tenant: Tenant, key: str, digest: str) -> Order | None:
    order = Order.objects.filter(tenant=tenant, idempotency_key=key).select_related("line", "tenant").first()
    if order is None:
        return None
    if order.params_hash != digest:
        raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                          _("This idempotency key was already used for a different request (order %(id)s).")
                          % {"id": order.pk}, field="idempotency_key", details={"order_id": order.pk})
    return order


# --- the services ---------------------------------------------------------------------------------

def _authorize_kind(user: Any, kind: str) -> None:
    if kind not in actions.ORDER_KIND_ACTIONS:
        rule_for(kind)  # the procedure's own "unknown procedure" refusal
    authorize(user=user, action=actions.order_kind_action(kind))


def order_refusal_before_params(*, tenant: Tenant, user: Any, kind: str) -> None:
    """The checks that come before the parameters, in the order ``order_submit`` makes them: the user's
    permission (403), the operator's controls (contract switch, maintenance), reception hours. The API runs them
    before its own check of ``params`` against the document (issue 14), so that those answers keep winning."""
    _authorize_kind(user, kind)
    now = clock.now()
    refusal = control_refusal(kind, tenant.pk, now) or reception_refusal(kind, now)
    if refusal is not None:
        raise refusal


def order_key_used(*, tenant: Tenant, key: str) -> bool:
    """Whether an order was made with this idempotency key (a replay answers it before any other check)."""
    return Order.objects.filter(tenant=tenant, idempotency_key=key).exists()


def order_preview(*, tenant: Tenant, user: Any, line_id: int, kind: str, params: dict[str, Any]) -> OrderPreview:
    """Validate everything ``order_submit`` would, without writing anything."""
    _authorize_kind(user, kind)
    line = line_get(tenant=tenant, line_id=line_id, user=user, action=None)
    decision = _decide(line=line, kind=kind, params=params, now=clock.now(), pending=_pending(line))
    return OrderPreview(kind=kind, line=line, params=decision.params, effective_date=decision.effective_date,
                        due_at=decision.due_at, warnings=decision.warnings, emails=decision.emails,
                        # what the order will show as its withdrawal deadline (Order.withdrawal_deadline)
                        cancellable_until=None if decision.cancellable_until is None else
                        calendar.last_reception_moment(kind, decision.cancellable_until))


def order_submit(*, tenant: Tenant, user: Any, line_id: int, kind: str, params: dict[str, Any],
                 idempotency_key: str, bulk_job: BulkJob | None = None, approved_by: Any = None) -> Order:
    """Accept an order (RECEIVED → SCHEDULED) and mail the customer. Idempotent per (tenant, key).

    ``user`` needs the procedure's action and must see the line (issue 5 §1). When an approval policy holds
    this procedure for ``user``, only ``kaisen.access.services.approval_decide`` submits it (``approved_by``);
    anything else is refused with ``APPROVAL_REQUIRED`` (interfaces call ``procedure_request``)."""
    rule = rule_for(kind)
    _authorize_kind(user, kind)
    if approved_by is None and approval_needed(user=user, kind=kind):
        raise DomainError(ErrorCode.APPROVAL_REQUIRED)
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give an idempotency key of 1 to 100 characters."),
                          field="idempotency_key")
    line = line_get(tenant=tenant, line_id=line_id, user=user, action=None)
    params = {} if params is None else params
    digest = params_hash(kind, line.pk, params if isinstance(params, dict) else {"_": str(params)})
    with transaction.atomic(), workflow.recording():
        # The line alone locked: without ``of`` PostgreSQL also locks the joined plan and tenant rows, and every
        # submit on a line of the same plan or tenant would wait for this one (issue 11 §3).
        line = (Line.objects.select_for_update(of=("self",)).select_related("plan", "tenant")
                .get(pk=line.pk, tenant=tenant))
        existing = _existing(tenant, key, digest)  # a replay, or a twin request committed while we waited
        if existing is not None:
            existing.replayed = True
            return existing
        now = clock.now()
        decision = _decide(line=line, kind=kind, params=params, now=now, pending=_pending(line))
        order = Order(tenant=tenant, line=line, kind=kind, params=decision.params, status=OrderStatus.SCHEDULED,
                      requested_by=user if user is not None and getattr(user, "pk", None) else None,
                      idempotency_key=key, params_hash=digest, effective_date=decision.effective_date,
                      due_at=decision.due_at, cancellable_until=decision.cancellable_until, bulk_job=bulk_job)
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as exc:
            twin = _existing(tenant, key, digest)
            if twin is not None:
                twin.replayed = True
                return twin
            raise DomainError(ErrorCode.ORDER_CONFLICT,
                              _("Another %(kind)s order for this line was accepted at the same moment.")
                              % {"kind": _kind_label(kind)}) from exc
        # Saved straight in SCHEDULED; both moves (received, scheduled) are recorded (issue 11 §1).
        workflow.order_record_accepted(order, actor=_actor(user), user=user)
        save_line(line, rule.on_accepted(order, line))
        order.line = line
        if rules.ACCEPTED in decision.emails:
            mails.order_mail(order, rules.ACCEPTED)
        if kind == OrderKind.SIM_REISSUE and order.effective_date > now.astimezone(clock.JST).date():
            mails.order_mail(order, rules.REMINDER, send_after=rules.SimReissueRule().reminder_at(order))
    return order


def order_cancel(*, tenant: Tenant, user: Any, order_id: int, reason: str = "") -> Order:
    """Withdraw a pending order before ``cancellable_until`` (and within reception hours). ``reason``, the
    user's own words, goes into the audit log (X-AUDIT)."""
    authorize(user=user, action=actions.ORDER_CANCEL)
    with transaction.atomic():
        order = (Order.objects.select_for_update(of=("self", "line")).select_related("line", "tenant")
                 .filter(tenant=tenant, pk=order_id).filter(line_scope(user=user, prefix="line__")).first())
        if order is None:
            raise NotFound(_("No such order."))
        now = clock.now()
        refusal = (controls.maintenance_refusal(fn.procedure(order.kind), order.tenant_id, at=now)
                   or reception_refusal(order.kind, now))
        if refusal is not None:
            raise refusal
        if not order_is_cancellable(order, now):
            if order.is_pending and order.withdrawal_deadline is not None:
                until = order.withdrawal_deadline.astimezone(clock.JST)
                message = _("This order could be withdrawn until %(until)s only.") % {
                    "until": f"{until:%Y-%m-%d %H:%M}"}
            else:
                message = _("This order can no longer be withdrawn.")
            raise DomainError(ErrorCode.ORDER_NOT_CANCELLABLE, message, details={"order_id": order.pk})
        line = Line.objects.select_for_update().get(pk=order.line_id)
        actor = _actor(user)
        workflow.order_transition(order, OrderStatus.CANCELLED, actor=actor, user=user, note="withdrawn by customer",
                                  reason=reason)
        save_line(line, rule_for(order.kind).on_withdrawn(order, line))
        order.line = line
        outbox_withdraw(order=order, topics=[rules.REMINDER])
        if rules.CANCELLED in rule_for(order.kind).emails(line):
            mails.order_mail(order, rules.CANCELLED)
    return order


def order_is_cancellable(order: Order, now: dt.datetime | None = None) -> bool:
    """Not sent yet, and not past ``withdrawal_deadline`` (the deadline within reception hours; being
    inside reception hours right now is checked separately)."""
    now = now or clock.now()
    deadline = order.withdrawal_deadline
    return order.status in (OrderStatus.RECEIVED, OrderStatus.SCHEDULED) and deadline is not None and now <= deadline


def procedures_for_line(*, tenant: Tenant, user: Any, line: Line) -> list[ProcedureOption]:
    """The status page's buttons (M-LINE-1): every procedure with whether it is possible now and why
    not, then one withdraw button per pending order (available while it may still be withdrawn)."""
    if line.tenant_id != tenant.pk:
        raise NotFound(_("No such line."))
    now = clock.now()
    today = now.astimezone(clock.JST).date()
    pending = _pending(line)
    options: list[ProcedureOption] = []
    for kind in OrderKind.values:
        if not can(user=user, action=actions.order_kind_action(kind)):
            continue  # a procedure the user may not start is not offered at all (issue 5 §1)
        rule = rule_for(kind)
        refusal = (control_refusal(kind, tenant.pk, now) or rule.line_refusal(line, today)
                   or conflict_refusal(kind, pending) or reception_refusal(kind, now))
        options.append(ProcedureOption(kind=kind, label=_kind_label(kind), available=refusal is None,
                                       reason=str(refusal.message) if refusal else "", url_name=URL_NAMES[kind],
                                       code=str(refusal.code) if refusal else ""))
    may_withdraw = can(user=user, action=actions.ORDER_CANCEL)
    for order in pending:
        if not may_withdraw:
            break
        refusal = None
        if not order_is_cancellable(order, now):
            refusal = DomainError(ErrorCode.ORDER_NOT_CANCELLABLE, _("This order can no longer be withdrawn."))
        else:
            refusal = (controls.maintenance_refusal(fn.procedure(order.kind), tenant.pk, at=now)
                       or reception_refusal(order.kind, now))
        options.append(ProcedureOption(kind=order.kind, label=_kind_label(order.kind), available=refusal is None,
                                       reason=str(refusal.message) if refusal else "", url_name=CANCEL_URL_NAME,
                                       action="cancel", order_id=order.pk, code=str(refusal.code) if refusal else ""))
    return options
