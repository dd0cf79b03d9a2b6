"""Maintenance on the web and the API (issue 15 §1): refuse closed functions, announce coming windows.

``MaintenanceMiddleware`` maps each request to the functions it belongs to (every request: the whole portal;
``/api/``: the API; statements, payments and CSV bulk procedures by path) and, while a window closes one of
them, answers 503 with ``Retry-After``: a page saying when the function is back, or the API's
``{"code": "MAINTENANCE", ...}``. A window with ``reads_allowed`` lets GET and HEAD through, and signing in
and out. Line procedures
are refused by the procedure services themselves (per kind, on every interface). The back office, static
files, the language switch and the operations probes (``/healthz``, ``/readyz``, ``/metrics``) are never closed.

Before and during a window, API answers carry a ``Kaisen-Maintenance`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.core.errors import DomainError

log = logging.getLogger(__name__)

PATH_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("/statements/", fn.STATEMENTS), ("/api/v1/statements", fn.STATEMENTS),
    ("/payments/", fn.PAYMENTS), ("/api/v1/payments", fn.PAYMENTS),
    ("/procedures/bulk/", fn.IMPORTS), ("/api/v1/bulk", fn.IMPORTS),
)
#: The operations probes answer the load balancer and the monitoring: never closed, and they must not read the
#: controls (``/healthz`` makes no query at all; ``/readyz`` reports the database itself).
PROBES = ("/healthz", "/readyz", "/metrics")
EXEMPT = ("/admin/", "/static/", "/i18n/", "/api/v1/openapi.json", "/api/v1/docs", "/favicon", *PROBES)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Signing in and out changes nothing of the contract: a window with ``reads_allowed`` lets them through too.
SIGN_IN_PATHS = ("/login/", "/logout/", "/api/v1/auth")


def request_functions(path: str) -> list[str]:
    names = [fn.PORTAL]
    if path.startswith("/api/"):
        names.append(fn.API)
    names.extend(name for prefix, name in PATH_FUNCTIONS if path.startswith(prefix))
    return names


def request_refusal(request: HttpRequest, tenant_id: int | None) -> DomainError | None:
    """The maintenance refusal for this request and tenant, if any."""
    if request.path.startswith(EXEMPT):
        return None
    write = request.method not in SAFE_METHODS and not request.path.startswith(SIGN_IN_PATHS)
    for name in request_functions(request.path):
        refusal = services.maintenance_refusal(name, tenant_id, write=write)
        if refusal is not None:
            return refusal
    return None


def user_tenant_id(user: Any) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "tenant_id", None)


def refusal_response(request: HttpRequest, refusal: DomainError) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(refusal.as_dict(), status=refusal.http_status,
                                              json_dumps_params={"ensure_ascii": False})
    else:
        response = render(request, "controls/maintenance.html", {"refusal": refusal}, status=refusal.http_status)
    response["Retry-After"] = str(refusal.details.get("retry_after", 60))
    return response


class MaintenanceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(EXEMPT):  # the back office, static files, the API's own document
            return self.get_response(request)
        refusal = request_refusal(request, user_tenant_id(getattr(request, "user", None)))
        response = refusal_response(request, refusal) if refusal is not None else self.get_response(request)
        if request.path.startswith("/api/") and not response.has_header("Kaisen-Maintenance"):
            windows = services.announced_windows(user_tenant_id(getattr(request, "user", None)))
            if windows:
                response["Kaisen-Maintenance"] = services.window_header(windows[0])
        return response


def banners(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the maintenance banners and the unread notice count every page shows. A page is
    never lost for them: if the database cannot answer, the page shows without."""
    try:
        return _banners(request)
    except (RuntimeError, DatabaseError):
        log.warning("maintenance banners unavailable for %s", request.path, exc_info=True)
        return {}


def _banners(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    tenant_id = user_tenant_id(user)
    windows = services.announced_windows(tenant_id)
    out: dict[str, Any] = {"maintenance_banners": [
        {"text": services.window_banner(w), "active": w.active(services.clock.now())} for w in windows]}
    tenant = getattr(user, "tenant", None) if tenant_id is not None else None
    if tenant is not None:
        out["notices_unread"] = services.notice_unread_count(tenant=tenant, user=user)
    return out
