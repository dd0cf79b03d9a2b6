"""The home page (M-HOME-1): the tenant's lines at a glance, by status and by carrier.

Served under the ``core:home`` URL name (kaisen/urls.py), the page every sign-in lands on.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kaisen.carriers.models import Carrier
from kaisen.controls.services import notices_visible
from kaisen.lines.models import LineStatus
from kaisen.lines.selectors import line_summary


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tenant = getattr(request.user, "tenant", None)
    if tenant is None:
        # Operator staff signed in through the back office: nothing of a tenant to show here.
        return render(request, "core/home_staff.html")
    summary = line_summary(tenant=tenant, user=request.user)
    statuses = [(value, label, summary.by_status.get(value, 0)) for value, label in LineStatus.choices]
    carriers = [(value, label, summary.by_carrier[value]) for value, label in Carrier.choices
                if summary.by_carrier.get(value)]
    notices = list(notices_visible(tenant=tenant, user=request.user)[:5])  # お知らせ (issue 15 §3)
    return render(request, "core/home.html", {"summary": summary, "statuses": statuses, "carriers": carriers,
                                              "notices": notices})
