"""The tenant's audit log (X-AUDIT), for its root user."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kaisen.audit.forms import AuditFilterForm
from kaisen.audit.selectors import audit_event_list
from kaisen.core.web import request_tenant, root_user_required

PAGE_SIZE = 50


@root_user_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    valid = form.is_valid()
    prefix = form.cleaned_data.get("action", "") if valid else ""
    events = audit_event_list(tenant=request_tenant(request), action_prefix=prefix)
    paginator = Paginator(events, PAGE_SIZE)
    page = paginator.get_page(form.cleaned_data.get("page") if valid else 1)
    return render(request, "audit/list.html", {"form": form, "page": page, "invalid": not valid},
                  status=200 if valid else 400)
