"""Home (M-HOME-1) and the development mail viewer."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from kaisen.carriers.models import Carrier
from kaisen.core.errors import NotFound
from kaisen.core.selectors import dev_mail_get, dev_mail_list
from kaisen.core.web import staff_required
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
    return render(request, "core/home.html", {"summary": summary, "statuses": statuses, "carriers": carriers})


def _dev_mail_enabled() -> None:
    if not settings.KAISEN_DEV_MAIL:
        raise Http404


@staff_required
def dev_mail(request: HttpRequest) -> HttpResponse:
    _dev_mail_enabled()
    return render(request, "core/dev_mail.html", {"files": dev_mail_list()})


@staff_required
def dev_mail_detail(request: HttpRequest, name: str) -> HttpResponse:
    _dev_mail_enabled()
    try:
        info, messages = dev_mail_get(name=name)
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "core/dev_mail_detail.html", {"file": info, "mail_messages": messages})
