"""Statements over the API (issue 4 §6, §8; K-5, M-DL-1..5, K-6, K-7, S-BILL-2).

``POST /statements`` asks for one statement: 201 with the finished statement when it was small enough to
write at once, else 202 with its ``id`` (status ``queued``/``running``; ``rows_done`` / ``rows_total`` is the
progress). ``GET /statements/{id}`` to poll, ``GET /statements/{id}/download`` streams the file (410
``STATEMENT_EXPIRED`` 48 hours after it was finished). Another tenant's statement answers 404 like a missing one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from kaisen.accounts.models import User
from kaisen.core import clock, files
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.ids import MONTH_PATTERN, Id, Int64
from kaisen.core.schemas import ErrorOut
from kaisen.statements.layouts import LAYOUTS, MONTH, available_months
from kaisen.statements.models import Statement, StatementStatus
from kaisen.statements.selectors import statement_get, statement_list
from kaisen.statements.services import statement_open, statement_request

router = Router(tags=["statements"])

Kind = Literal["invoice", "invoice_voice", "cdr", "line_daily", "line_monthly", "datausage", "number_charges",
               "call_detail", "billing_detail"]
assert set(Kind.__args__) == set(LAYOUTS)  # type: ignore[attr-defined]


def _kinds_rule() -> dict[str, Any]:
    """What goes with each kind (issue 14: stated so that a body the document calls valid is one the service
    takes): a monthly file needs a month, a daily file takes none, and only the encodings its layout offers.
    One ``anyOf`` branch per (period, encodings) of the layouts."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for kind, layout in LAYOUTS.items():
        groups.setdefault((layout.period, tuple(layout.encodings)), []).append(kind)
    branches: list[dict[str, Any]] = []
    for (period, encodings), kinds in groups.items():
        properties: dict[str, Any] = {"kind": {"enum": kinds}, "encoding": {"enum": list(encodings)}}
        if period != MONTH:
            properties["month"] = {"type": "null"}
            branches.append({"properties": properties})
        else:
            properties["month"] = {"type": "string"}
            branches.append({"properties": properties, "required": ["kind", "month"]})
    return {"anyOf": branches}


class StatementIn(Schema):
    model_config = {"json_schema_extra": _kinds_rule()}

    kind: Kind = Field(..., description="invoice (M-DL-1), invoice_voice (M-DL-2), cdr (M-DL-3), line_daily / "
                                        "line_monthly (M-DL-4), datausage (M-DL-5), number_charges (K-6), "
                                        "call_detail (K-7), billing_detail (S-BILL-2).")
    # The document states a real month; the schema keeps checking the form only, so that ``2026-13`` is still
    # the service's 400 ``INVALID_DATE`` with its message.
    month: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", json_schema_extra={"pattern": MONTH_PATTERN},
                              description="YYYY-MM for a monthly statement (one of the months `GET "
                                          "/statements/kinds` lists for today); omit for a daily file.")
    encoding: Literal["utf-8", "utf-8-sig", "cp932"] = Field(
        "utf-8", description="utf-8-sig = UTF-8 starting with a byte-order mark (EF BB BF), which Excel on "
                             "Windows opens correctly; cp932 = Shift-JIS as Windows writes it, only where the "
                             "seed allows it.")


class StatementOut(Schema):
    id: int
    kind: str
    period: dt.date
    encoding: str
    status: str
    rows_total: int
    rows_done: int
    progress_percent: int
    file_name: str
    size_bytes: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None
    download_url: str | None
    error: str


class KindOut(Schema):
    kind: str
    label: str
    encodings: list[str]
    period: str
    months: list[str]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def statement_out(statement: Statement) -> dict[str, Any]:
    status = StatementStatus.EXPIRED.value if statement.is_expired(clock.now()) else statement.status
    total = statement.rows_total
    percent = 100 if status in (StatementStatus.DONE, StatementStatus.EXPIRED) else (
        min(99, statement.rows_done * 100 // total) if total else 0)
    return {"id": statement.pk, "kind": statement.kind,
            "period": statement.period, "encoding": statement.encoding, "status": status,
            "rows_total": total, "rows_done": statement.rows_done, "progress_percent": percent,
            "file_name": statement.file_name, "size_bytes": statement.size_bytes, "created_at": statement.created_at,
            "finished_at": statement.finished_at, "expires_at": statement.expires_at,
            "download_url": f"/api/v1/statements/{statement.pk}/download" if status == StatementStatus.DONE else None,
            "error": statement.error}


@router.get("/statements/kinds", response={200: list[KindOut]},
            summary="The statements that can be requested, their encodings and the months open today")
def statement_kinds(request: HttpRequest) -> list[dict[str, Any]]:
    today = clock.today_jst()
    return [{"kind": k, "label": str(layout.label),
             "encodings": list(layout.encodings), "period": layout.period,
             "months": [f"{m:%Y-%m}" for m in available_months(layout, today)] if layout.period == MONTH else []}
            for k, layout in LAYOUTS.items()]


@router.post("/statements", response={201: StatementOut, 202: StatementOut, 400: ErrorOut, 403: ErrorOut,
                                      409: ErrorOut, 422: ErrorOut},
             summary="Request a statement (CSV); small ones are ready at once (201), large ones are written in "
                     "the background (202)")
def statement_create(request: HttpRequest, payload: StatementIn) -> Status[dict[str, Any]]:
    """Errors: ``STATEMENT_UNAVAILABLE_TODAY`` (409, K-6/K-7 on the 1st and the last day of a month),
    ``STATEMENT_OUT_OF_WINDOW`` (month older than the statement's window), ``STATEMENT_NOT_YET_AVAILABLE``
    (month not published yet), ``STATEMENT_ENCODING_NOT_ALLOWED`` (cp932 for a UTF-8-only file)."""
    try:
        month = dt.date.fromisoformat(payload.month + "-01") if payload.month else None
    except ValueError:
        raise DomainError(ErrorCode.INVALID_DATE, _("The month is not a valid YYYY-MM month.")) from None
    user = _user(request)
    statement = statement_request(tenant=user.tenant, user=user, kind=payload.kind, month=month,
                                  encoding=payload.encoding)
    return Status(201 if statement.status == StatementStatus.DONE else 202, statement_out(statement))


@router.get("/statements", response={200: list[StatementOut]},
            summary="The statements requested recently (newest first), with their status and expiry")
def statement_index(request: HttpRequest, limit: Int64 = 50) -> list[dict[str, Any]]:
    user = _user(request)
    return [statement_out(s) for s in statement_list(tenant=user.tenant, user=user, limit=max(1, min(limit, 200)))]


@router.get("/statements/{int:statement_id}", response={200: StatementOut, 404: ErrorOut},
            summary="One statement: status and progress (rows_done / rows_total)")
def statement_detail(request: HttpRequest, statement_id: Id) -> dict[str, Any]:
    user = _user(request)
    return statement_out(statement_get(tenant=user.tenant, user=user, statement_id=statement_id))


@router.get("/statements/{int:statement_id}/download",
            response={200: None, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 410: ErrorOut},
            summary="The statement's file (streamed); 410 STATEMENT_EXPIRED after 48 hours",
            openapi_extra={"responses": {"200": {"description": "CSV, CRLF, UTF-8 (BOM or not) or cp932",
                                                 "content": {"text/csv": {"schema": {"type": "string"}}}}}})
def statement_download(request: HttpRequest, statement_id: Id) -> FileResponse:
    user = _user(request)
    statement, opened = statement_open(tenant=user.tenant, user=user, statement_id=statement_id)
    return file_response(statement, opened)


def file_response(statement: Statement, opened: files.Opened) -> FileResponse:
    """The statement's file, streamed from its storage in blocks (the local disk or S3)."""
    charset = "shift_jis" if statement.encoding == "cp932" else "utf-8"
    response = FileResponse(opened.file, as_attachment=True, filename=statement.file_name,
                            content_type=f"text/csv; charset={charset}")
    response.block_size = files.BLOCK
    response["Content-Length"] = str(opened.size)
    response["Cache-Control"] = "no-store"
    return response
