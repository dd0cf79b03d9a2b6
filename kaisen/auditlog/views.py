"""The tenant's audit log (X-AUDIT), for its root user: filter by date range, user, action family and
result; export the filtered entries as CSV."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from kaisen.access.web import action_required
from kaisen.accounts.selectors import user_list
from kaisen.audit.export import csv_chunks
from kaisen.audit.labels import action_label, change_rows
from kaisen.audit.selectors import audit_event_list
from kaisen.audit.services import audit_export_record
from kaisen.auditlog.forms import AuditFilterForm
from kaisen.core import clock
from kaisen.core.web import request_tenant, request_user

PAGE_SIZE = 50


def _form(request: HttpRequest) -> AuditFilterForm:
    users = [(u.pk, u.username) for u in user_list(tenant=request_tenant(request))]
    return AuditFilterForm(request.GET, users=users)


@action_required("Audit:read")
def audit_list(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    valid = form.is_valid()
    events = audit_event_list(tenant=request_tenant(request), **(form.filters() if valid else {}))
    paginator = Paginator(events, PAGE_SIZE)
    page = paginator.get_page(form.cleaned_data.get("page") if valid else 1)
    rows = [{"event": e, "label": action_label(e.action), "changes": change_rows(e.changes)} for e in page]
    export_query = request.GET.copy()
    export_query.pop("page", None)
    return render(request, "audit/list.html", {"form": form, "page": page, "rows": rows, "invalid": not valid,
                                               "export_query": export_query.urlencode()},
                  status=200 if valid else 400)


@action_required("Audit:read")
def audit_export(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return HttpResponse(status=400)
    events = audit_event_list(tenant=request_tenant(request), **form.filters())
    audit_export_record(user=request_user(request), channel="web", filters=form.filters())
    response = StreamingHttpResponse((chunk.encode("utf-8") for chunk in csv_chunks(events)),
                                     content_type="text/csv; charset=utf-8")
    name = f"audit-{request_tenant(request).public_id}-{clock.now_jst():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response  # type: ignore[return-value]  # a streamed body; the decorator passes it through
