"""Per-request context (client address) for the audit log."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("kaisen_client_ip", default=None)
_user_agent: contextvars.ContextVar[str] = contextvars.ContextVar("kaisen_user_agent", default="")


def client_ip() -> str | None:
    return _client_ip.get()


def client_user_agent() -> str:
    """The User-Agent header of the current request ("" outside a request), for the audit log."""
    return _user_agent.get()


def ip_from_request(request: HttpRequest) -> str | None:
    """The client's address. Behind a trusted reverse proxy (``KAISEN_TRUSTED_PROXIES``) the WSGI layer
    (:mod:`kaisen.core.proxy`) has already put the forwarded client address into ``REMOTE_ADDR``."""
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        token = _client_ip.set(ip_from_request(request))
        ua_token = _user_agent.set(request.META.get("HTTP_USER_AGENT", "")[:300])
        try:
            return self.get_response(request)
        finally:
            _user_agent.reset(ua_token)
            _client_ip.reset(token)


class PortalLocaleMiddleware(LocaleMiddleware):
    """Japanese unless the user chose otherwise (X-I18N).

    Pages follow the language cookie set by the language switch, else ``LANGUAGE_CODE`` (Japanese) — not
    the browser's Accept-Language, so the portal is Japanese by default on every machine. API clients
    state their language explicitly, so ``/api/`` also honours ``Accept-Language``.
    """

    def process_request(self, request: HttpRequest) -> None:
        from django.conf import settings

        supported = {code for code, _name in settings.LANGUAGES}
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if lang not in supported and request.path.startswith("/api/"):
            lang = translation.get_language_from_request(request)
        if lang not in supported:
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()
