"""The "Reports" page (K-5): choose a statement, its month and encoding → request → "being created, please
wait" with progress → download; the list of what was generated and until when it is kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from kaisen.access import actions
from kaisen.access.services import can
from kaisen.core import clock
from kaisen.core.errors import DomainError, NotFound
from kaisen.core.web import request_tenant, request_user, tenant_user_required
from kaisen.statements.api import file_response, statement_out
from kaisen.statements.encoding import CP932
from kaisen.statements.generate import keep_hours
from kaisen.statements.layouts import LAYOUTS, MONTH, available_months
from kaisen.statements.models import Statement
from kaisen.statements.selectors import statement_get, statement_list
from kaisen.statements.services import check_blackout, statement_open, statement_request

ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "cp932": "Shift-JIS"}


def _rows(today: dt.date, partner_id: str) -> list[dict[str, Any]]:
    rows = []
    for kind, layout in LAYOUTS.items():
        blocked = False
        try:
            check_blackout(layout, today)
        except DomainError:
            blocked = True
        monthly = layout.period == MONTH
        months = available_months(layout, today)
        rows.append({
            "kind": kind, "layout": layout, "monthly": monthly, "months": months,
            "encodings": [(e, ENCODING_LABELS[e]) for e in layout.encodings],
            "example": layout.file_name(partner_id, months[0] if monthly else today),
            "blocked": blocked,
        })
    return rows


def _index(request: HttpRequest, *, error: Any = None, status: int = 200, selected: str = "") -> HttpResponse:
    tenant, user = request_tenant(request), request_user(request)
    may_request = can(user=user, action=actions.STATEMENT_REQUEST)
    if not may_request and not can(user=user, action=actions.STATEMENT_DOWNLOAD):
        raise PermissionDenied
    today = clock.today_jst()
    statements = statement_list(tenant=tenant, user=user, limit=30)
    return render(request, "statements/index.html", {
        "may_request": may_request,
        # each invoice's PDF is on the billing app's charges page
        "invoice_pdf_url": reverse("billing:charges") if can(user=user, action=actions.BILLING_READ) else None,
        "rows": _rows(today, tenant.public_id), "statements": [(s, statement_out(s)) for s in statements],
        "error": error,
        "selected": selected, "keep_hours": keep_hours(), "today": today,
        "partner_id": tenant.public_id,
    }, status=status)


@tenant_user_required
@require_http_methods(["GET", "POST"])
def index_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _index(request)
    kind = request.POST.get("kind", "")
    month_text = request.POST.get("month", "")
    try:
        month = dt.date.fromisoformat(month_text + "-01") if month_text else None
    except ValueError:
        month = None
    encoding = request.POST.get("encoding", "utf-8")
    if kind in LAYOUTS and encoding == CP932 and CP932 not in LAYOUTS[kind].encodings:
        encoding = "utf-8"
    try:
        statement = statement_request(tenant=request_tenant(request), user=request_user(request), kind=kind,
                                      month=month, encoding=encoding)
    except DomainError as exc:
        return _index(request, error=exc.message, status=exc.http_status, selected=kind)
    return redirect("statements:detail", statement_id=statement.pk)


def _statement_or_404(request: HttpRequest, statement_id: int) -> Statement:
    try:
        return statement_get(tenant=request_tenant(request), user=request_user(request), statement_id=statement_id)
    except NotFound as exc:
        raise Http404 from exc


@tenant_user_required
def detail_view(request: HttpRequest, statement_id: int) -> HttpResponse:
    """One statement: "being created, please wait" with its progress (the panel polls itself), then the
    download button."""
    statement = _statement_or_404(request, statement_id)
    out = statement_out(statement)
    finished = out["status"] not in ("queued", "running")
    if request.headers.get("HX-Request"):
        if finished:
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "statements/_progress.html", {"statement": statement, "out": out})
    layout = LAYOUTS.get(statement.kind)
    return render(request, "statements/detail.html", {
        "statement": statement, "out": out, "layout": layout, "finished": finished,
        "encoding_label": ENCODING_LABELS.get(statement.encoding, statement.encoding),
        "keep_hours": keep_hours(),
    })


@tenant_user_required  # type: ignore[arg-type]  # a FileResponse streams (StreamingHttpResponse)
def download_view(request: HttpRequest, statement_id: int) -> HttpResponse | FileResponse:
    try:
        statement, opened = statement_open(tenant=request_tenant(request), user=request_user(request),
                                           statement_id=statement_id)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        statement = _statement_or_404(request, statement_id)
        return render(request, "statements/unavailable.html", {
            "statement": statement, "message": exc.message, "code": str(exc.code)}, status=exc.http_status)
    return file_response(statement, opened)
