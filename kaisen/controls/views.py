"""The customer's notices (お知らせ) and what the operator has set for the tenant (issue 15 §2–§4)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from kaisen.controls import services
from kaisen.core.errors import NotFound
from kaisen.core.web import request_tenant


@login_required
def notice_list_view(request: HttpRequest) -> HttpResponse:
    tenant = request_tenant(request)
    notices = list(services.notices_visible(tenant=tenant, user=request.user)[:100])
    return render(request, "controls/notices.html", {"notices": notices})


@login_required
def notice_detail_view(request: HttpRequest, notice_id: int) -> HttpResponse:
    tenant = request_tenant(request)
    try:
        notice = services.notice_mark_read(tenant=tenant, user=request.user, notice_id=notice_id)
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "controls/notice_detail.html", {"notice": notice})


@login_required
def service_hours_view(request: HttpRequest) -> HttpResponse:
    tenant = request_tenant(request)
    return render(request, "controls/service_hours.html", {
        "hours": services.hours_in_force(), "switches": services.switches_for(tenant.pk, customer=True),
        "windows": services.announced_windows(tenant.pk), "closed_days": services.closed_days_ahead(),
        "calendar_changes": list(services.closed_day_history()[:services.CALENDAR_CHANGES_SHOWN])})
