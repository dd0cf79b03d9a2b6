"""The REST API under /api/v1 (X-API). OpenAPI document: /api/v1/openapi.json, docs page: /api/v1/docs."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from kaisen.accounts.services import token_authenticate
from kaisen.controls.web import request_refusal
from kaisen.core.errors import DomainError, ErrorCode


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>`` where the token comes from ``POST /api/v1/auth``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token=token)
        if user is None:
            return None
        request.user = user
        request.api_token = token  # type: ignore[attr-defined]
        # A maintenance window for this tenant only (the middleware saw no tenant yet): 503 MAINTENANCE.
        refusal = request_refusal(request, getattr(user, "tenant_id", None))
        if refusal is not None:
            raise refusal
        return user


api = NinjaAPI(
    title="Kaisen API",
    version="1",
    description=(
        "Self-service API for corporate line customers. Exchange an API key (or operator ID, username and "
        "password) for a bearer token at `POST /api/v1/auth`, then send `Authorization: Bearer <token>`. "
        "Errors answer `{\"code\": ..., \"message\": ...}` with a 4xx status. While a maintenance window closes "
        "what you call, the answer is `503` with code `MAINTENANCE`, a `Retry-After` header and, in `details.until`, "
        "when it is back; a `Kaisen-Maintenance` header announces a window before it starts (`GET /service`). "
        "A function your contract does not include answers `403` with code `NOT_IN_CONTRACT`."
    ),
    auth=BearerToken(),
    urls_namespace="api",
)


def _error(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    response = api.create_response(request, exc.as_dict(), status=exc.http_status)
    if exc.code == ErrorCode.MAINTENANCE:
        response["Retry-After"] = str(exc.details.get("retry_after", 60))
    return response


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    has_header = bool(request.headers.get("Authorization"))
    code = ErrorCode.TOKEN_INVALID if has_header else ErrorCode.NOT_AUTHENTICATED
    return api.create_response(request, DomainError(code).as_dict(), status=401)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", [])[1:]) or None, "message": e.get("msg", "")}
        for e in exc.errors
    ]
    fields = ", ".join(e["field"] for e in errors if e["field"])
    message = _("The input is not valid: %(fields)s.") % {"fields": fields} if fields else _("The input is not valid.")
    return _error(request, 422, ErrorCode.VALIDATION_ERROR, message, errors=errors)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, ErrorCode.NOT_FOUND, _("Not found."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, "HTTP_ERROR", str(exc))


api.add_router("/", "kaisen.accounts.api.router")
api.add_router("/", "kaisen.mfa.api.router")
api.add_router("/lines", "kaisen.lines.api.router")
api.add_router("/", "kaisen.procedures.api.router")
api.add_router("/", "kaisen.auditlog.api.router")
api.add_router("/", "kaisen.accounts.api_users.router")
api.add_router("/", "kaisen.access.api.router")
api.add_router("/", "kaisen.usage.api.router")
api.add_router("/", "kaisen.billing.api.router")
api.add_router("/", "kaisen.payments.api.router")
api.add_router("/", "kaisen.statements.api.router")
api.add_router("/", "kaisen.account.api.router")
api.add_router("/", "kaisen.controls.api.router")
