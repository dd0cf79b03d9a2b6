"""Line procedure pages (M-MNP-1..2, M-LINE-1, M-PROC-1..7, X-BULK).

Every procedure runs input → confirm (back / submit) → complete on one URL per line and kind:
GET draws the input form with a fresh idempotency key; POST ``step=confirm`` validates it and shows what
``order_preview`` says; POST ``step=back`` redraws the input with what was typed; POST ``step=submit``
calls ``order_submit`` with the key from the input page, so a double click or a browser resubmit returns the
same order, and redirects to the order's complete page. A ``DomainError`` is shown on the page.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kaisen.access import actions
from kaisen.access.models import ApprovalRequest
from kaisen.access.services import authorize, can, procedure_request
from kaisen.controls import functions as fn
from kaisen.controls import services as controls
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.web import request_tenant, request_user, tenant_user_required
from kaisen.lines.forms import LineLookupForm
from kaisen.lines.models import Line
from kaisen.lines.selectors import line_get, line_lookup, plan_list
from kaisen.procedures import bulk as bulk_api
from kaisen.procedures.display import KIND_ORDER, KIND_TEXT, mail_labels, param_rows, result_rows, voice_value
from kaisen.procedures.forms import FORMS, VOICE_LABELS, BulkUploadForm, PlanChangeForm, ProcedureForm
from kaisen.procedures.models import BulkJobStatus, Order, OrderKind, OrderStatus
from kaisen.procedures.selectors import (
    line_pending_orders,
    mnp_waiting_list,
    order_events,
    order_get,
    order_list,
)
from kaisen.procedures.services import (
    ProcedureOption,
    order_cancel,
    order_is_cancellable,
    order_preview,
    procedures_for_line,
)
from kaisen.tenancy.models import Tenant

ORDER_PAGE_SIZE = 50


def _line_or_404(request: HttpRequest, line_id: int, action: str | None = actions.LINE_READ) -> Line:
    """The line, if the user may see it (a line outside their lines is 404, issue 5 §1), and ``action``."""
    try:
        return line_get(tenant=request_tenant(request), line_id=line_id, user=request_user(request), action=action)
    except NotFound as exc:
        raise Http404 from exc


def _order_or_404(request: HttpRequest, order_id: int, *, own: bool = False) -> Order:
    try:
        return order_get(tenant=request_tenant(request), order_id=order_id, user=request_user(request), own=own)
    except NotFound as exc:
        raise Http404 from exc


def _kind_or_404(kind: str) -> str:
    if kind not in FORMS:
        raise Http404
    return kind


def new_idempotency_key() -> str:
    return f"web-{uuid.uuid4().hex}"


def _make_form(kind: str, line: Line, data: Any = None, initial: dict[str, Any] | None = None) -> ProcedureForm:
    form_class = FORMS[kind]
    kwargs: dict[str, Any] = {"line": line, "initial": initial or {}}
    if form_class is PlanChangeForm:
        coverages = line.tenant.coverages
        kwargs["plans"] = [p for p in plan_list(carrier=line.carrier) if p.coverage in coverages]
    return form_class(data, **kwargs)


def _start_option(tenant: Tenant, user: Any, line: Line, kind: str) -> ProcedureOption | None:
    """The status page's button for ``kind`` on ``line``: whether the procedure is possible now and why not."""
    return next((o for o in procedures_for_line(tenant=tenant, user=user, line=line)
                 if o.kind == kind and o.action == "submit"), None)


def _carry(request: HttpRequest) -> list[tuple[str, str]]:
    """What the user typed, carried through the confirm page in hidden fields (for 戻る and 申し込む)."""
    skip = {"csrfmiddlewaretoken", "step"}
    return [(key, value) for key in request.POST for value in request.POST.getlist(key) if key not in skip]


def _input_page(request: HttpRequest, line: Line, kind: str, form: ProcedureForm, *, error: Any = None,
                status: int = 200, blocked: bool = False) -> HttpResponse:
    return render(request, "procedures/input.html", {
        "line": line, "kind": kind, "kind_label": OrderKind(kind).label, "text": KIND_TEXT[kind], "form": form,
        "error": error, "reception": _reception_label(kind), "blocked": blocked,
        "form_action": reverse(f"procedures:{kind}", kwargs={"line_id": line.pk}),
        "current": _current_values(kind, line),
    }, status=status)


def _current_values(kind: str, line: Line) -> dict[str, str]:
    """The line's current value of each field, shown next to it (voice options, plan, SIM size)."""
    if kind == OrderKind.VOICE_OPTIONS:
        current = line.voice_options or {}
        return {name: voice_value(name, current.get(name, 0 if name.endswith("_cap") else False))
                for name in VOICE_LABELS if name != "network_pin"}
    if kind == OrderKind.PLAN_CHANGE:
        return {"plan_code": line.plan.code}
    if kind == OrderKind.SIM_REISSUE:
        return {"sim_size": str(line.get_sim_size_display())}
    return {}


def _reception_label(kind: str) -> str:
    from kaisen.core import calendar

    return calendar.reception_window(kind).label()


@tenant_user_required
@require_http_methods(["GET", "POST"])
def procedure_view(request: HttpRequest, line_id: int, kind: str) -> HttpResponse:
    line = _line_or_404(request, line_id, action=None)
    kind = _kind_or_404(kind)
    tenant, user = request_tenant(request), request_user(request)
    authorize(user=user, action=actions.order_kind_action(kind))  # the 403 page when forced
    if request.method == "GET":
        form = _make_form(kind, line, initial={"idempotency_key": new_idempotency_key()})
        option = _start_option(tenant, user, line, kind)
        if option is not None and not option.available:
            # Outside reception hours the form stays usable (it is refused at "Next" with the same message);
            # a line that cannot have this procedure at all gets the reason and no form.
            blocked = option.code != ErrorCode.OUTSIDE_RECEPTION_HOURS
            return _input_page(request, line, kind, form, error=option.reason, blocked=blocked)
        return _input_page(request, line, kind, form)

    step = request.POST.get("step", "confirm")
    form = _make_form(kind, line, request.POST)
    if step == "back":
        return _input_page(request, line, kind, form)
    if not form.is_valid():
        return _input_page(request, line, kind, form, status=400)
    params = form.params()
    if step == "submit":
        try:
            result = procedure_request(tenant=tenant, user=user, line_id=line.pk, kind=kind, params=params,
                                       idempotency_key=form.cleaned_data["idempotency_key"])
        except DomainError as exc:
            if exc.code == ErrorCode.IDEMPOTENCY_KEY_REUSED:
                # The form was submitted already with other values (e.g. the browser's back button after the
                # complete page): start again with a fresh key.
                fresh = _make_form(kind, line, initial={"idempotency_key": new_idempotency_key()})
                return _input_page(request, line, kind, fresh, status=409, error=_(
                    "This form was already submitted with other values. Check the order history of the line, "
                    "then enter the procedure again if you still need it."))
            return _confirm_page(request, line, kind, form, params, error=exc.message, status=exc.http_status)
        if isinstance(result, ApprovalRequest):
            messages.success(request, _("Your request waits for another user's approval; it is submitted when "
                                        "approved."))
            return redirect("access:approval_detail", approval_id=result.pk)
        return redirect("procedures:complete", order_id=result.pk)
    return _confirm_page(request, line, kind, form, params)


def _confirm_page(request: HttpRequest, line: Line, kind: str, form: ProcedureForm, params: dict[str, Any], *,
                  error: Any = None, status: int = 200) -> HttpResponse:
    tenant, user = request_tenant(request), request_user(request)
    try:
        preview = order_preview(tenant=tenant, user=user, line_id=line.pk, kind=kind, params=params)
    except DomainError as exc:
        # Refused before confirming: back to the input with the reason (field errors go next to the field).
        if exc.field and exc.field in form.fields:
            form.add_error(exc.field, str(exc.message))
            return _input_page(request, line, kind, form, status=exc.http_status)
        return _input_page(request, line, kind, form, error=exc.message, status=exc.http_status)
    return render(request, "procedures/confirm.html", {
        "line": line, "kind": kind, "kind_label": OrderKind(kind).label, "text": KIND_TEXT[kind],
        "preview": preview, "rows": param_rows(kind, preview.params, line, show_pin=True),
        "emails": mail_labels(preview.emails), "now_": clock.now(),
        "carry": _carry(request), "error": error, "reception": _reception_label(kind),
        "form_action": reverse(f"procedures:{kind}", kwargs={"line_id": line.pk}),
    }, status=status)


@tenant_user_required
def complete_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id, own=True)  # the requester sees what they just ordered
    return render(request, "procedures/complete.html", {
        "order": order, "line": order.line, "text": KIND_TEXT.get(order.kind),
        "rows": param_rows(order.kind, order.params, None), "emails": mail_labels(_order_emails(order)),
    })


def _order_emails(order: Order) -> list[str]:
    from kaisen.procedures.rules import rule_for

    try:
        return rule_for(order.kind).emails(order.line)
    except DomainError:
        return []


# --- cancelling a pending order (取消, 解約取消) ---------------------------------------------------------------


@tenant_user_required
@require_http_methods(["GET", "POST"])
def order_cancel_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    authorize(user=request_user(request), action=actions.ORDER_CANCEL)
    error: Any = None
    status = 200
    if request.method == "POST":
        if order.status == OrderStatus.CANCELLED:  # a resubmitted form: it is done already
            return redirect("procedures:cancelled", order_id=order.pk)
        try:
            order_cancel(tenant=request_tenant(request), user=request_user(request), order_id=order.pk,
                         reason=request.POST.get("reason", "")[:500])
        except DomainError as exc:
            error, status = exc.message, exc.http_status
            order.refresh_from_db()
        else:
            return redirect("procedures:cancelled", order_id=order.pk)
    elif order.status == OrderStatus.CANCELLED:
        return redirect("procedures:cancelled", order_id=order.pk)
    elif not order_is_cancellable(order):
        error = _("This order can no longer be cancelled.")
    return render(request, "procedures/cancel_confirm.html", {
        "order": order, "line": order.line, "text": KIND_TEXT.get(order.kind), "error": error,
        "rows": param_rows(order.kind, order.params, None), "can_cancel": order_is_cancellable(order),
        "reception": _reception_label(order.kind),
    }, status=status)


@tenant_user_required
def order_cancelled_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    if order.status != OrderStatus.CANCELLED:
        return redirect("procedures:order_detail", order_id=order.pk)
    return render(request, "procedures/cancelled.html", {"order": order, "line": order.line,
                                                          "text": KIND_TEXT.get(order.kind)})


# --- the procedures card of the line status page ---------------------------------------------------------------


def line_card_context(*, tenant: Tenant, user: Any, line: Line) -> dict[str, Any]:
    """What the 各種手続き card of the status page shows: buttons, pending changes, recent orders."""
    options: list[ProcedureOption]
    try:
        options = procedures_for_line(tenant=tenant, user=user, line=line)
    except NotFound:  # not the tenant's line: nothing to offer (the page itself is the caller's 404 to give)
        options = []
    starts = {o.kind: o for o in options if o.action == "submit"}
    withdraws = {o.order_id: o for o in options if o.action == "cancel"}
    buttons = [{"option": starts[k], "url": reverse(f"procedures:{k}", kwargs={"line_id": line.pk})}
               for k in KIND_ORDER if k in starts]
    pending = line_pending_orders(tenant=tenant, line=line)
    now = clock.now()
    pending_rows = [{"order": o, "text": KIND_TEXT.get(o.kind), "withdraw": withdraws.get(o.pk),
                     "cancellable": order_is_cancellable(o, now), "rows": param_rows(o.kind, o.params, None)}
                    for o in pending]
    history = (order_list(tenant=tenant, line_id=line.pk, size=10, user=user).items
               if can(user=user, action=actions.ORDER_READ) else [])
    # Procedures the user may not start get no button; the "why not" list says so (issue 14).
    not_permitted = [str(OrderKind(k).label) for k in KIND_ORDER
                     if k not in starts and not can(user=user, action=actions.order_kind_action(k))]
    return {"line": line, "buttons": buttons, "pending": pending_rows, "history": history,
            "signature": _pending_signature(pending), "pending_ids": ",".join(str(o.pk) for o in pending),
            "any_unavailable": any(not starts[k].available for k in starts) or bool(not_permitted),
            "not_permitted": not_permitted}


def _pending_signature(pending: list[Order]) -> str:
    raw = ",".join(f"{o.pk}:{o.status}" for o in sorted(pending, key=lambda o: o.pk))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@tenant_user_required
def line_card_view(request: HttpRequest, line_id: int) -> HttpResponse:
    """The card alone, polled by htmx every few seconds while changes are pending (6.)."""
    line = _line_or_404(request, line_id)
    tenant, user = request_tenant(request), request_user(request)
    pending = line_pending_orders(tenant=tenant, line=line)
    known = request.GET.get("sig", "")
    if request.headers.get("HX-Request") and known:
        before_ids = {part.split(":")[0] for part in request.GET.get("ids", "").split(",") if part}
        now_ids = {str(o.pk) for o in pending}
        if before_ids != now_ids:
            # A change landed (or a new one was made elsewhere): the whole page changes (status, options,
            # plan …), so reload it rather than only the card.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        if known == _pending_signature(pending):
            return HttpResponse(status=204)
    context = line_card_context(tenant=tenant, user=user, line=line)
    return render(request, "procedures/_line_card.html", context)


# --- 各種手続き: find a line, MNP waiting list, order list --------------------------------------------------------


@tenant_user_required
def index_view(request: HttpRequest) -> HttpResponse:
    """各種手続き: look up the line, then its status page shows the procedures possible on it (or the input
    page of the procedure chosen in the menu)."""
    kind = request.GET.get("kind", "")
    if kind and kind not in FORMS:
        kind = ""
    form = LineLookupForm(request.GET if "q" in request.GET else None)
    error: Any = None
    if form.is_bound and form.is_valid():
        tenant = request_tenant(request)
        try:
            line = line_lookup(tenant=tenant, query=form.cleaned_data["q"], user=request_user(request))
        except NotFound:
            error = _("No line with this phone number or SIM serial number was found in your contract.")
        except DomainError as exc:
            if exc.code == ErrorCode.PERMISSION_DENIED:
                raise
            error = exc.message
        else:
            if kind:
                option = _start_option(tenant, request_user(request), line, kind)
                if option is not None and option.available:
                    return redirect(f"procedures:{kind}", line_id=line.pk)
                messages.warning(request, _("%(procedure)s is not possible on this line: %(reason)s") % {
                    "procedure": OrderKind(kind).label,
                    "reason": (option.reason if option is not None else "") or _("see the line's status")})
            return redirect("lines:detail", pk=line.pk)
    kinds = [(k, OrderKind(k).label, KIND_TEXT[k]) for k in KIND_ORDER
             if can(user=request_user(request), action=actions.order_kind_action(k))]
    return render(request, "procedures/index.html", {"form": form, "error": error, "kind": kind, "kinds": kinds,
                                                     "kind_label": OrderKind(kind).label if kind else "",
                                                     "reception": _reception_label("")},
                  status=400 if error else 200)


@tenant_user_required
def mnp_waiting_view(request: HttpRequest) -> HttpResponse:
    """M-MNP-1: lines waiting for port-in activation, each with the activation request (M-MNP-2). Switched off
    for the tenant (issue 15 §4, M-AUTH-3): "not available under your contract", not an error page."""
    tenant = request_tenant(request)
    refusal = controls.switch_refusal(tenant.pk, fn.SWITCH_MNP_PORT_IN)
    if refusal is not None:
        return render(request, "procedures/mnp_waiting.html", {"not_in_contract": refusal.message,
                                                               "reception": _reception_label(OrderKind.MNP_ACTIVATION)})
    lines = mnp_waiting_list(tenant=tenant, user=request_user(request))
    paginator = Paginator(lines, 50)
    page = paginator.get_page(request.GET.get("page"))
    today = clock.today_jst()
    rows = [{"line": line, "shipped": bool(line.shipped_on and line.shipped_on <= today),
             "key": new_idempotency_key()} for line in page.object_list]
    return render(request, "procedures/mnp_waiting.html", {"page": page, "rows": rows, "today": today,
                                                           "reception": _reception_label(OrderKind.MNP_ACTIVATION)})


@tenant_user_required
def order_list_view(request: HttpRequest) -> HttpResponse:
    tenant = request_tenant(request)
    user = request_user(request)
    authorize(user=user, action=actions.ORDER_READ)
    kind = request.GET.get("kind", "")
    kind = kind if kind in OrderKind.values else ""
    status = request.GET.get("status", "")
    status = status if status in (*OrderStatus.values, "pending") else ""
    error: Any = None
    page = None
    line_filter: Line | None = None
    try:
        if request.GET.get("line", "").isdigit():
            line_filter = line_get(tenant=tenant, line_id=int(request.GET["line"]), user=user, action=None)
        page = order_list(tenant=tenant, line_id=line_filter.pk if line_filter else None, status=status, kind=kind,
                          cursor=request.GET.get("cursor") or None, size=ORDER_PAGE_SIZE, user=user)
    except NotFound:
        error = _("No such line in your contract.")
    except DomainError as exc:
        error = exc.message
    return render(request, "procedures/order_list.html", {
        "page": page, "error": error, "status": status, "kind": kind, "statuses": OrderStatus.choices,
        "kinds": OrderKind.choices, "filtered": bool(status or kind or line_filter), "line_filter": line_filter,
    }, status=400 if error else 200)


@tenant_user_required
def order_detail_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    events = order_events(tenant=request_tenant(request), order=order)
    return render(request, "procedures/order_detail.html", {
        "order": order, "line": order.line, "events": events, "rows": param_rows(order.kind, order.params, None),
        "results": result_rows(order), "can_cancel": order_is_cancellable(order), "text": KIND_TEXT.get(order.kind),
    })


# --- 一括申込 (X-BULK) ------------------------------------------------------------------------------------------

_BULK_SESSION = "kaisen.bulk.csv.{}"
_BULK_DONE = "kaisen.bulk.done.{}"


def _bulk_page(request: HttpRequest, form: BulkUploadForm, *, error: Any = None, status: int = 200) -> HttpResponse:
    templates = [(k, OrderKind(k).label, bulk_api.bulk_columns(k)) for k in KIND_ORDER]
    # A new key per page: the same form sent twice (a lost answer, a reload) gives the first job.
    key = request.POST.get("idempotency_key", "") if request.method == "POST" else ""
    return render(request, "procedures/bulk.html", {"form": form, "error": error, "templates": templates,
                                                    "max_rows": bulk_api.MAX_ROWS,
                                                    "idempotency_key": key or f"web-{uuid.uuid4().hex}"},
                  status=status)


@tenant_user_required
@require_http_methods(["GET", "POST"])
def bulk_view(request: HttpRequest) -> HttpResponse:
    authorize(user=request_user(request), action=actions.BULK_SUBMIT)
    if request.method == "GET":
        return _bulk_page(request, BulkUploadForm(initial={"kind": request.GET.get("kind", "")}))
    form = BulkUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _bulk_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    dry_run = request.POST.get("mode", "dry_run") != "submit"
    key = request.POST.get("idempotency_key", "")[:100]
    try:
        try:
            job, _created = bulk_api.bulk_start(tenant=request_tenant(request), user=request_user(request),
                                                kind=form.cleaned_data["kind"], csv_bytes=data,
                                                filename=upload.name or "", dry_run=dry_run, idempotency_key=key)
        except DomainError as exc:
            if exc.code != ErrorCode.IDEMPOTENCY_KEY_REUSED:
                raise
            # The page was used again (the back button) for another file: that is a new upload.
            job, _created = bulk_api.bulk_start(tenant=request_tenant(request), user=request_user(request),
                                                kind=form.cleaned_data["kind"], csv_bytes=data,
                                                filename=upload.name or "", dry_run=dry_run,
                                                idempotency_key=f"web-{uuid.uuid4().hex}")
    except DomainError as exc:
        return _bulk_page(request, form, error=exc.message, status=exc.http_status)
    if dry_run:
        # The real run after a dry run uses the file kept on the job, without asking for it again; only the
        # session that made the dry run is offered to submit it.
        request.session[_BULK_SESSION.format(job.pk)] = True
    return redirect("procedures:bulk_job", job_id=job.pk)


def _selected_lines(request: HttpRequest) -> list[Line]:
    """The lines ticked in the line list (``line`` = their IDs), each looked up within the user's lines."""
    ids: list[int] = []
    for raw in request.POST.getlist("line"):
        if not raw.isdigit() or len(raw) > 18:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("The selection is not valid: select the lines again."),
                              field="line")
        if int(raw) not in ids:
            ids.append(int(raw))
    if not ids:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Select at least one line in the list."), field="line")
    if len(ids) > bulk_api.MAX_ROWS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Select at most %(n)d lines at once.")
                          % {"n": bulk_api.MAX_ROWS}, field="line")
    return [line_get(tenant=request_tenant(request), line_id=i, user=request_user(request), action=None) for i in ids]


def _selected_csv(kind: str, lines: list[Line]) -> bytes:
    """A bulk CSV of ``kind`` with one row per line (by SIM serial number), the other columns empty."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = bulk_api.bulk_columns(kind)
    writer.writerow(columns)
    for line in lines:
        writer.writerow([line.iccid, *[""] * (len(columns) - 1)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@tenant_user_required
@require_POST
def bulk_selected_view(request: HttpRequest) -> HttpResponse:
    """Lines ticked in the line list → one bulk procedure. Without ``kind``: the page to choose it. A procedure
    that needs nothing but the line (suspend, resume) starts its dry run at once, to check and submit like an
    uploaded file; the others give their CSV template filled with the lines, to complete and upload."""
    authorize(user=request_user(request), action=actions.BULK_SUBMIT)
    try:
        lines = _selected_lines(request)
    except NotFound:
        messages.error(request, _("A selected line was not found: select the lines again."))
        return redirect("lines:list")
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("lines:list")
    kind = request.POST.get("kind", "")
    error = None
    if kind:
        if kind not in bulk_api.BULK_COLUMNS:
            error = _("Choose a procedure.")
        elif bulk_api.BULK_COLUMNS[kind]:
            response = HttpResponse(_selected_csv(kind, lines), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="kaisen-bulk-{kind}-selected.csv"'
            return response
        else:
            key = request.POST.get("idempotency_key", "")[:100] or f"web-{uuid.uuid4().hex}"
            try:
                job, _created = bulk_api.bulk_start(
                    tenant=request_tenant(request), user=request_user(request), kind=kind,
                    csv_bytes=_selected_csv(kind, lines), filename="selected-lines.csv", dry_run=True,
                    idempotency_key=key)
            except DomainError as exc:
                error = str(exc.message)
            else:
                request.session[_BULK_SESSION.format(job.pk)] = True
                return redirect("procedures:bulk_job", job_id=job.pk)
    kinds = [(k, OrderKind(k).label, not bulk_api.BULK_COLUMNS[k]) for k in KIND_ORDER if k in bulk_api.BULK_COLUMNS]
    return render(request, "procedures/bulk_selected.html", {
        "lines": lines, "kinds": kinds, "kind": kind, "error": error,
        "idempotency_key": f"web-{uuid.uuid4().hex}"}, status=400 if error else 200)


def _bulk_job_or_404(request: HttpRequest, job_id: int) -> Any:
    try:
        return bulk_api.bulk_job_get(tenant=request_tenant(request), job_id=job_id, user=request_user(request))
    except NotFound as exc:
        raise Http404 from exc


@tenant_user_required
def bulk_job_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job: its progress while it runs (the panel polls itself), then its per-row results."""
    job = _bulk_job_or_404(request, job_id)
    finished = bulk_api.bulk_job_finished(job)
    if request.headers.get("HX-Request"):
        if finished:  # the whole page changes (results, actions): reload it
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "procedures/_bulk_progress.html", {"job": job})
    can_submit = (job.dry_run and job.status == BulkJobStatus.DONE and job.rows_ok > 0
                  and _BULK_SESSION.format(job.pk) in request.session)
    submitted = request.session.get(_BULK_DONE.format(job.pk))
    return render(request, "procedures/bulk_job.html", {
        "job": job, "kind_label": OrderKind(job.kind).label if job.kind in OrderKind.values else job.kind,
        "can_submit": can_submit and not submitted, "submitted_job": submitted, "finished": finished,
    })


@tenant_user_required
@require_POST
def bulk_submit_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """The real run of a dry run's file: once (a second click shows the first run's results)."""
    job = _bulk_job_or_404(request, job_id)
    done = request.session.get(_BULK_DONE.format(job.pk))
    if done:
        return redirect("procedures:bulk_job", job_id=done)
    data = bytes(job.csv_data or b"")
    if not job.dry_run or job.status != BulkJobStatus.DONE or not data \
            or _BULK_SESSION.format(job.pk) not in request.session:
        messages.error(request, _("The file of this dry run is no longer available: upload it again."))
        return redirect("procedures:bulk")
    # Mark it first, so that a second click in flight finds it done rather than running the file twice; the
    # idempotency key makes the real run of one dry run unique even across sessions.
    request.session[_BULK_DONE.format(job.pk)] = job.pk
    request.session.save()
    try:
        real, _created = bulk_api.bulk_start(tenant=request_tenant(request), user=request_user(request),
                                             kind=job.kind, csv_bytes=data, filename=job.filename, dry_run=False,
                                             idempotency_key=f"dry-run-{job.pk}")
    except DomainError as exc:
        request.session.pop(_BULK_DONE.format(job.pk), None)
        messages.error(request, str(exc.message))
        return redirect("procedures:bulk_job", job_id=job.pk)
    request.session[_BULK_DONE.format(job.pk)] = real.pk
    request.session.pop(_BULK_SESSION.format(job.pk), None)
    return redirect("procedures:bulk_job", job_id=real.pk)


@tenant_user_required
def bulk_result_view(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        data = bulk_api.bulk_result_csv(tenant=request_tenant(request), job_id=job_id, user=request_user(request))
    except NotFound as exc:
        raise Http404 from exc
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kaisen-bulk-{job_id}-result.csv"'
    return response


@tenant_user_required
def bulk_template_view(request: HttpRequest) -> HttpResponse:
    """The CSV template of one procedure: its header row (``?kind=``)."""
    kind = request.GET.get("kind", "")
    if kind not in bulk_api.BULK_COLUMNS:
        raise Http404
    body = ",".join(bulk_api.bulk_columns(kind)) + "\r\n"
    response = HttpResponse(("\ufeff" + body).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kaisen-bulk-{kind}.csv"'
    return response


