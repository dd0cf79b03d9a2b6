"""The WSGI application: two Django handlers over one URL tree (issue 11 §2).

Requests under ``/api/v1/`` (except the interactive docs page) and the probes ``/healthz``, ``/readyz``,
``/metrics`` go through a lean middleware stack,
``settings.KAISEN_API_MIDDLEWARE``: the API authenticates with a bearer token, answers JSON and keeps no
session, so the session, CSRF, login, message, CSP, clickjacking and static-file middlewares only cost time
there. Every other path goes through ``settings.MIDDLEWARE``. The lean list is computed from ``MIDDLEWARE``
(everything but ``KAISEN_WEB_ONLY_MIDDLEWARE``), so a middleware added later applies to both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaisen.settings")

from kaisen.core.proxy import wrap

#: Paths served with the lean stack (the API and the probes), and the exceptions (HTML pages under them).
LEAN_PREFIXES = ("/api/v1/", "/healthz", "/readyz", "/metrics", "/bench-minimal/")
API_HTML_PATHS = ("/api/v1/docs",)


class ApiHandler(WSGIHandler):
    """A Django WSGI handler whose middleware chain is ``settings.KAISEN_API_MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        from django.conf import settings

        web = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.KAISEN_API_MIDDLEWARE  # only while the chain is built (at start-up)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = web


class KaisenApplication:
    """Both handlers behind the trusted-proxy layer: forwarded headers count only from the proxies of
    KAISEN_TRUSTED_PROXIES, and are dropped from anyone else (kaisen.core.proxy)."""

    def __init__(self) -> None:
        self.web = get_wsgi_application()
        self.api = ApiHandler()
        self._entry = wrap(self._route)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        result: Iterable[bytes] = self._entry(environ, start_response)
        return result

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(LEAN_PREFIXES) and not path.startswith(API_HTML_PATHS):
            return self.api(environ, start_response)
        return self.web(environ, start_response)


application = KaisenApplication()
