"""Line procedures over the API (M-MNP-1..2, M-LINE-1, M-PROC-1..7, X-BULK, X-API).

Every route is tenant-scoped: another tenant's line, order or bulk job answers 404 ``NOT_FOUND``, exactly
like one that does not exist. The rules live in ``kaisen.procedures.services``; this module only maps.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Header, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict

from kaisen.access.api import ApprovalOut, approval_out
from kaisen.access.models import ApprovalRequest
from kaisen.access.services import procedure_request
from kaisen.accounts.models import User
from kaisen.controls import functions as fn
from kaisen.controls import services as controls
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import Id
from kaisen.core.schemas import ErrorOut, one_of
from kaisen.lines.selectors import line_get
from kaisen.procedures import selectors, services
from kaisen.procedures.bulk import (
    MAX_BYTES,
    MAX_ROWS,
    bulk_job_finished,
    bulk_job_get,
    bulk_job_status,
    bulk_result_csv,
    bulk_start,
)
from kaisen.procedures.models import BulkJob, Order, OrderEvent, OrderKind, OrderStatus
from kaisen.procedures.params import check_params, order_body_schema

router = Router(tags=["orders"])

Kind = Literal["mnp_activation", "suspend", "resume", "voice_options", "plan_change", "sim_reissue",
               "mnp_reservation", "cancellation"]
assert set(Kind.__args__) == set(OrderKind.values)  # type: ignore[attr-defined]

PARAMS_HELP = (
    "The procedure's parameters (design note 0004): `mnp_activation` {activation_date}; `suspend`, `resume` "
    "{}; `voice_options` {effective: today|next_month, options: {flat_rate_calling, voicemail, call_waiting, "
    "call_forwarding, group_calling, number_block (bool), international_call_cap, international_roaming_cap "
    "(yen), network_pin (4 digits)}}; `plan_change` {plan_code, data_cap_mb}; `sim_reissue` {method: ship, "
    "sim_size, ship_date, delivery_address (optional): {postal_code, address, recipient}}; `mnp_reservation` "
    "{holder_name, holder_name_kana, category: corporate}; `cancellation` {end_date}. Dates are YYYY-MM-DD "
    "(Japan)."
)


class OrderIn(Schema):
    """An order: ``params`` as its ``kind`` takes them (the ``oneOf`` below; ``kaisen.procedures.params``)."""

    model_config = ConfigDict(json_schema_extra=order_body_schema)

    kind: Kind
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_HELP)
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=100,
        description="Your unique key for this request (or the `Idempotency-Key` header): sending it again "
                    "with the same parameters answers the first order instead of making a second one.",
    )


class PreviewIn(Schema):
    """A procedure to check: ``params`` as its ``kind`` takes them (the ``oneOf`` below)."""

    model_config = ConfigDict(json_schema_extra=order_body_schema)

    kind: Kind
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_HELP)


class PreviewOut(Schema):
    line_id: int
    kind: str
    params: dict[str, Any]
    effective_date: dt.date
    due_at: dt.datetime
    cancellable_until: dt.datetime | None
    warnings: list[str]
    emails: list[str] = Field(description="The mails the tenant's contact address will get: accepted, completed, "
                                          "cancelled, reminder, number_issued …")


class OrderOut(Schema):
    id: int
    line_id: int
    msisdn: str | None
    iccid: str
    kind: str
    kind_label: str
    params: dict[str, Any]
    status: str
    status_label: str
    is_pending: bool
    cancellable: bool = Field(description="Whether `POST /orders/{id}/cancel` would be accepted now.")
    idempotency_key: str
    effective_date: dt.date
    due_at: dt.datetime
    cancellable_until: dt.datetime | None
    result: dict[str, Any] = Field(description="What the carrier answered (e.g. an MNP reservation number).")
    error_code: str
    error_message: str
    bulk_job_id: int | None
    requested_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


class OrderEventOut(Schema):
    at: dt.datetime
    from_status: str
    to_status: str
    actor: str
    note: str


class OrderDetailOut(OrderOut):
    events: list[OrderEventOut]


class OrderPageOut(Schema):
    items: list[OrderOut]
    next_cursor: str | None
    prev_cursor: str | None


class ProcedureOptionOut(Schema):
    kind: str
    label: str
    action: Literal["submit", "cancel"] = Field(
        description="`submit`: order this procedure (`POST /lines/{line_id}/orders`); `cancel`: withdraw the "
                    "pending order `order_id` (`POST /orders/{order_id}/cancel`).")
    order_id: int | None
    available: bool
    reason: str = Field(description="Why it is not possible now (empty when it is).")
    code: str = Field(description="The error code behind `reason` (empty when available).")


class ProceduresOut(Schema):
    line_id: int
    procedures: list[ProcedureOptionOut]
    pending: list[OrderOut]


class MnpWaitingOut(Schema):
    line_id: int
    msisdn: str | None
    iccid: str
    shipped: bool
    shipped_on: dt.date | None
    reservation_expires_on: dt.date | None


class BulkRowOut(Schema):
    row: int = Field(description="Data row number: 1 is the first row after the header.")
    line: str
    ok: bool
    result: str = Field(description="accepted | refused (real run); would_accept | would_refuse (dry run)")
    order_id: int | None
    effective_date: dt.date | None
    code: str
    message: str


class BulkJobOut(Schema):
    id: int
    kind: str
    filename: str
    dry_run: bool
    status: str = Field(description="queued | running | failed; finished: dry_run (a dry run) or done (a real run)")
    rows_total: int
    rows_done: int = Field(description="Rows processed so far (progress); rows_total when finished.")
    rows_ok: int
    rows_failed: int
    idempotency_key: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    results: list[BulkRowOut] = Field(description="Per-row results (while running: those saved so far).")


if TYPE_CHECKING:
    StatusFilter = str
    KindFilter = str
else:
    # What ``selectors.order_list`` takes ("": no filter).
    StatusFilter = one_of(["", "pending", *OrderStatus.values])
    KindFilter = one_of(["", *OrderKind.values])


class OrderQuery(Schema):
    line_id: Id | None = None
    status: StatusFilter = Field("", description="An order status, or `pending` (received, scheduled, sent, unknown).")
    kind: KindFilter = Field("", description="A procedure (the `kind` of an order).")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=500)


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _tenant(request: HttpRequest) -> Any:
    return _user(request).tenant


def order_out(order: Order) -> dict[str, Any]:
    line = order.line
    return {
        "id": order.pk, "line_id": order.line_id, "msisdn": line.msisdn, "iccid": line.iccid,
        "kind": order.kind, "kind_label": str(order.get_kind_display()), "params": order.params,
        "status": order.status, "status_label": str(order.get_status_display()), "is_pending": order.is_pending,
        "cancellable": services.order_is_cancellable(order), "idempotency_key": order.idempotency_key,
        "effective_date": order.effective_date, "due_at": order.due_at, "cancellable_until": order.withdrawal_deadline,
        "result": order.result, "error_code": order.error_code, "error_message": order.error_message,
        "bulk_job_id": order.bulk_job_id,
        "requested_by": order.requested_by.username if order.requested_by_id and order.requested_by else None,
        "created_at": order.created_at, "updated_at": order.updated_at, "completed_at": order.completed_at,
    }


def _event_out(event: OrderEvent) -> dict[str, Any]:
    return {"at": event.at, "from_status": event.from_status, "to_status": event.to_status, "actor": event.actor,
            "note": event.note}


def _order_detail(request: HttpRequest, order: Order) -> dict[str, Any]:
    events = selectors.order_events(tenant=_tenant(request), order=order)
    return {**order_out(order), "events": [_event_out(e) for e in events]}


@router.post("/lines/{int:line_id}/orders/preview",
             response={200: PreviewOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
             summary="Check a procedure without ordering it (the confirm step)")
def order_preview(request: HttpRequest, line_id: Id, payload: PreviewIn) -> dict[str, Any]:
    """Everything the order would be checked for (rules, reception hours, conflicts), nothing written:
    the effective date, when it is carried out, until when it can be cancelled, and the warnings."""
    tenant = _tenant(request)
    line = line_get(tenant=tenant, line_id=line_id, user=_user(request), action=None)
    services.order_refusal_before_params(tenant=tenant, user=_user(request), kind=payload.kind)
    check_params(payload.kind, payload.params)
    preview = services.order_preview(tenant=tenant, user=_user(request), line_id=line.pk, kind=payload.kind,
                                     params=payload.params)
    return {"line_id": line.pk, "kind": preview.kind, "params": preview.params,
            "effective_date": preview.effective_date, "due_at": preview.due_at,
            "cancellable_until": preview.cancellable_until, "warnings": [str(w) for w in preview.warnings],
            "emails": [str(m) for m in preview.emails]}


@router.post("/lines/{int:line_id}/orders",
             response={200: OrderOut, 201: OrderOut, 202: ApprovalOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                       409: ErrorOut, 422: ErrorOut},
             summary="Order a procedure on a line (idempotent)")
def order_create(request: HttpRequest, line_id: Id, payload: OrderIn,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Status[Any]:
    """201 with the new order; 200 with the first order when the same idempotency key comes again with the
    same parameters; 409 ``IDEMPOTENCY_KEY_REUSED`` when it comes with other parameters. 202 with an approval
    request when an approval policy holds the procedure for a second user (``/approvals``); approving it
    submits the order. 403 ``PERMISSION_DENIED`` names the missing ``action``."""
    tenant, user = _tenant(request), _user(request)
    line = line_get(tenant=tenant, line_id=line_id, user=user, action=None)
    key = (payload.idempotency_key or "").strip()
    header_key = (idempotency_key or "").strip()
    if key and header_key and key != header_key:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("The Idempotency-Key header and the idempotency_key field differ."),
                          field="idempotency_key")
    key = key or header_key
    if not key:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("Give an idempotency key (the idempotency_key field or the Idempotency-Key header), "
                            "e.g. a random UUID: sending the request again with it never orders twice."),
                          field="idempotency_key")
    if len(key) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The idempotency key is longer than 100 characters."),
                          field="idempotency_key")
    if not services.order_key_used(tenant=tenant, key=key):  # a replay answers the first order, as before
        services.order_refusal_before_params(tenant=tenant, user=user, kind=payload.kind)
        check_params(payload.kind, payload.params)
    result = procedure_request(tenant=tenant, user=user, line_id=line.pk, kind=payload.kind,
                               params=payload.params, idempotency_key=key)
    if isinstance(result, ApprovalRequest):
        return Status(202, approval_out(result))
    # order_submit tells a replay from a new order under the line lock: of parallel requests with one key,
    # exactly one gets 201 (issue 14 e).
    return Status(200 if result.replayed else 201, order_out(result))


@router.get("/lines/{int:line_id}/procedures", response={200: ProceduresOut, 403: ErrorOut, 404: ErrorOut},
            summary="The procedures possible on a line now, and its pending orders (M-LINE-1)")
def line_procedures(request: HttpRequest, line_id: Id) -> dict[str, Any]:
    tenant, user = _tenant(request), _user(request)
    line = line_get(tenant=tenant, line_id=line_id, user=user)
    options = services.procedures_for_line(tenant=tenant, user=user, line=line)
    pending = selectors.line_pending_orders(tenant=tenant, line=line)
    for order in pending:
        order.line = line
    return {
        "line_id": line.pk,
        "procedures": [{"kind": o.kind, "label": str(o.label), "action": o.action, "order_id": o.order_id,
                        "available": o.available, "reason": str(o.reason), "code": o.code} for o in options],
        "pending": [order_out(o) for o in pending],
    }


@router.get("/orders", response={200: OrderPageOut, 400: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            summary="List orders (filter by line, status, procedure; cursor paging, newest first)")
def orders_list(request: HttpRequest, query: Query[OrderQuery]) -> dict[str, Any]:
    page = selectors.order_list(tenant=_tenant(request), line_id=query.line_id, status=query.status,
                                kind=query.kind, cursor=query.cursor, size=query.limit, user=_user(request))
    return {"items": [order_out(o) for o in page.items], "next_cursor": page.next_cursor,
            "prev_cursor": page.prev_cursor}


@router.get("/orders/{int:order_id}", response={200: OrderDetailOut, 403: ErrorOut, 404: ErrorOut},
            summary="One order with its history")
def order_detail(request: HttpRequest, order_id: Id) -> dict[str, Any]:
    return _order_detail(request, selectors.order_get(tenant=_tenant(request), order_id=order_id,
                                                      user=_user(request)))


@router.post("/orders/{int:order_id}/cancel", response={200: OrderDetailOut, 400: ErrorOut, 403: ErrorOut,
                                                        404: ErrorOut, 409: ErrorOut},
             summary="Cancel (withdraw) an order while it may still be cancelled")
def order_cancel(request: HttpRequest, order_id: Id,
                 reason: str = Query("", max_length=500, description="Why (optional; kept in the audit log).")
                 ) -> dict[str, Any]:
    order = services.order_cancel(tenant=_tenant(request), user=_user(request), order_id=order_id, reason=reason)
    return _order_detail(request, order)


@router.get("/mnp/waiting", response={200: list[MnpWaitingOut], 403: ErrorOut}, tags=["mnp"],
            summary="Lines waiting for MNP port-in activation (M-MNP-1)")
def mnp_waiting(request: HttpRequest) -> list[dict[str, Any]]:
    """403 ``NOT_IN_CONTRACT`` when MNP port-in is switched off for your company."""
    refusal = controls.switch_refusal(_tenant(request).pk, fn.SWITCH_MNP_PORT_IN)
    if refusal is not None:
        raise refusal
    return [{"line_id": line.pk, "msisdn": line.msisdn, "iccid": line.iccid,
             "shipped": line.shipped_on is not None and line.shipped_on <= clock.today_jst(),
             "shipped_on": line.shipped_on, "reservation_expires_on": line.mnp_port_in_expires_on}
            for line in selectors.mnp_waiting_list(tenant=_tenant(request), user=_user(request))]


def _job_out(job: BulkJob) -> dict[str, Any]:
    return {"id": job.pk, "kind": job.kind, "filename": job.filename, "dry_run": job.dry_run,
            "status": bulk_job_status(job), "rows_total": job.rows_total, "rows_done": job.rows_done,
            "rows_ok": job.rows_ok, "rows_failed": job.rows_failed, "idempotency_key": job.idempotency_key,
            "created_at": job.created_at, "finished_at": job.finished_at,
            "results": [{k: r.get(k) for k in ("row", "line", "ok", "result", "order_id", "effective_date", "code",
                                               "message")} for r in job.results]}


@router.post("/bulk", response={200: BulkJobOut, 201: BulkJobOut, 202: BulkJobOut, 400: ErrorOut, 403: ErrorOut,
                                 409: ErrorOut, 422: ErrorOut}, tags=["bulk"],
             summary="Run one procedure on many lines from a CSV (or with dry_run only check it)")
def bulk_upload(request: HttpRequest, file: File[UploadedFile], kind: Form[Kind],
                dry_run: Form[bool] = False, idempotency_key: Form[str] = "",
                idempotency_header: str | None = Header(None, alias="Idempotency-Key")) -> Status[dict[str, Any]]:
    """The CSV has a header row: ``line`` (phone number or SIM serial), then the procedure's parameters as
    columns (``voice_options``: the option names; the others: their parameter names). UTF-8 or Shift_JIS,
    comma or tab separated. Every row gets its own result; a refused row never stops the others.

    A small file runs at once: 201 with the finished job. A larger one runs in the background: 202 with the
    job ``queued`` (``rows_done`` / ``rows_total`` is its progress); poll ``GET /bulk/{job_id}`` until its status
    is no longer queued or running. With an idempotency key (the ``Idempotency-Key`` header or the
    ``idempotency_key`` field), sending the same upload again returns the same job (200 when finished, else
    202) and never runs the file twice; the same key with another file is 409 ``IDEMPOTENCY_KEY_REUSED``."""
    key, header_key = (idempotency_key or "").strip(), (idempotency_header or "").strip()
    if key and header_key and key != header_key:
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("The Idempotency-Key header and the idempotency_key field differ."),
                          field="idempotency_key")
    if file.size is not None and file.size > MAX_BYTES:
        raise DomainError(ErrorCode.INVALID_CSV, _("The file is larger than %(mb)d MB.")
                          % {"mb": MAX_BYTES // (1024 * 1024)}, field="file")
    job, created = bulk_start(tenant=_tenant(request), user=_user(request), kind=kind, csv_bytes=file.read(),
                              filename=file.name or "", dry_run=dry_run, idempotency_key=key or header_key)
    if not bulk_job_finished(job):
        return Status(202, _job_out(job))
    return Status(201 if created else 200, _job_out(job))


bulk_upload.__doc__ = (bulk_upload.__doc__ or "") + f" At most {MAX_ROWS:,} rows."


@router.get("/bulk/{int:job_id}", response={200: BulkJobOut, 403: ErrorOut, 404: ErrorOut}, tags=["bulk"],
            summary="A bulk upload with its progress (status, rows_done) and per-row results")
def bulk_detail(request: HttpRequest, job_id: Id) -> dict[str, Any]:
    return _job_out(bulk_job_get(tenant=_tenant(request), job_id=job_id, user=_user(request)))


@router.get("/bulk/{int:job_id}/result.csv", response={200: None, 403: ErrorOut, 404: ErrorOut}, tags=["bulk"],
            summary="The bulk upload's result file: the uploaded columns plus the per-row result (CSV)",
            openapi_extra={"responses": {"200": {"description": "UTF-8 CSV with a BOM, CRLF",
                                                 "content": {"text/csv": {"schema": {"type": "string"}}}}}})
def bulk_result(request: HttpRequest, job_id: Id) -> HttpResponse:
    data = bulk_result_csv(tenant=_tenant(request), job_id=job_id, user=_user(request))
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-{job_id}-result.csv"'
    return response
