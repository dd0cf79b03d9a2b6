"""The development mail viewer. (The home page, M-HOME-1, shows lines: ``kaisen.lines.home``.)"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from kaisen.core.errors import NotFound
from kaisen.core.selectors import dev_mail_get, dev_mail_list
from kaisen.core.web import staff_required


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
