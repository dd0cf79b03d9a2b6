"""The REST API under /api/v1 (X-API). OpenAPI document: /api/v1/openapi.json, docs page: /api/v1/docs."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from kaisen.accounts.services import token_authenticate
from kaisen.controls.openapi import maintenance_response, maintenance_schemas
from kaisen.controls.web import request_refusal
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.events.catalogue import openapi_components


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


_REQ_ID = r"(?:[A-Z]{1,2}-(?:[A-Z]+-)*\d+(?:\.\.\d+)?|X-[A-Z]+(?:-[A-Z]+)*)"
_REQ_ONLY = re.compile(r"\s*\(\s*" + _REQ_ID + r"(?:\s*(?:,|/|;|and)\s*" + _REQ_ID + r")*\s*\)")
_REQ_LEAD = re.compile(r"\b" + _REQ_ID + r"(?:/" + _REQ_ID + r")*(?::\s*|\s+)(?=[^\s(])")
_REQ_ANY = re.compile(r"\b" + _REQ_ID + r"\b")


def without_requirement_ids(text: str) -> str:
    """``text`` without the requirement IDs (K-4, S-BILL-5, X-INVOICE-JP …) the code's docstrings cite for
    developers: the OpenAPI document is read by customers, who must never see them (house rule)."""
    if not _REQ_ANY.search(text):
        return text
    text = _REQ_LEAD.sub("", _REQ_ONLY.sub("", text))
    text = _REQ_ANY.sub("", text)
    text = re.sub(r"\(\s*[,;]\s*", "(", text)
    text = re.sub(r"[,;]\s*\)", ")", text)
    text = re.sub(r",\s*;", ";", text)
    text = re.sub(r"\(\s*\)", "", text)
    return re.sub(r"[ \t]+([.,;])", r"\1", text)


def _clean_texts(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("summary", "description", "title") and isinstance(value, str):
                node[key] = without_requirement_ids(value)
            else:
                _clean_texts(value)
    elif isinstance(node, list):
        for item in node:
            _clean_texts(item)


class KaisenAPI(NinjaAPI):
    """The OpenAPI document also lists the errors every operation can answer whatever its own code does
    (issue 14: the schemathesis run found them undocumented): 401 on an operation that needs a token (none,
    expired or revoked); 400 and 422 where there is input (a body the JSON parser cannot read, or a value the
    rules refuse: ``DomainError`` answers 400 by default; ``_validation_error`` 422); 404 where the path has a
    parameter (no such object, or a value the route cannot match: ``not_found_view``). Each with the common
    error body ``ErrorOut``. And 503 on every operation, which a maintenance window can close (issue 15:
    ``kaisen.controls.openapi``), with its ``Retry-After`` header and ``MaintenanceErrorOut``. Its texts carry
    no requirement IDs (``without_requirement_ids``)."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        doc = super().get_openapi_schema(*args, **kwargs)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        # The webhook events: their payload schemas and one entry per event under ``webhooks`` (issue 13 §1,
        # ``kaisen.events.catalogue``).
        event_schemas, webhooks = openapi_components()
        for name, body in event_schemas.items():
            schemas.setdefault(name, body)
        doc["webhooks"] = webhooks
        if "ErrorOut" not in schemas:
            from kaisen.core.schemas import ErrorOut

            schemas["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, body in maintenance_schemas().items():
            schemas.setdefault(name, body)
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        global_security = doc.get("security")
        for item in doc.get("paths", {}).values():
            for method, operation in item.items():
                if method not in ("get", "post", "put", "patch", "delete") or not isinstance(operation, dict):
                    continue
                # Ninja keys the route's own answers by ``int``; one key per status (a ``str``, as JSON has
                # it), so the route's own answer wins over the common error added below (a duplicate key in
                # the served JSON let ``ErrorOut`` replace e.g. the 401 ``MfaRequiredOut`` of ``POST /auth``).
                # An ``openapi_extra`` answer keyed ``"200"`` (a CSV download) completes ninja's ``200``.
                responses: dict[str, Any] = {}
                for code, answer in operation.get("responses", {}).items():
                    responses.setdefault(str(code), {}).update(answer)
                operation["responses"] = responses
                if operation.get("security", global_security):
                    responses.setdefault("401", {"description": "Not authenticated", **error})
                if operation.get("parameters") or operation.get("requestBody"):
                    responses.setdefault("400", {"description": "Input refused", **error})
                    responses.setdefault("422", {"description": "Invalid input", **error})
                if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                    responses.setdefault("404", {"description": "Not found", **error})
                responses.setdefault("503", maintenance_response())  # issue 15: any operation, in a window
        _clean_texts(doc)
        return doc


class ObjectBodyParser(Parser):
    """Every JSON body the API takes is an object (the document says ``type: object``). Ninja would read any
    other JSON value (a list, a number) through its attributes, as an object with every field left out, so a
    ``PATCH`` with the body ``[null, null]`` answered 200 (issue 14: schemathesis, "invalid input accepted").
    Such a body is refused like one that is not JSON at all: 400; so is one with a NUL character in a string,
    which PostgreSQL cannot store or compare (a 500 there, found by the 30-example run on PostgreSQL)."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("the request body is not a JSON object")
        if _has_nul(data):
            raise ValueError("the request body holds a NUL character")
        return data

    def parse_querydict(self, data: Any, list_fields: list[str], request: HttpRequest) -> Any:
        """A NUL character in a query or form value is refused (400): PostgreSQL cannot hold one in a text
        value and answered 500 (issue 14: the 30-example schemathesis run on PostgreSQL, ``GET /lines?plan=``)."""
        if any("\x00" in key or any("\x00" in str(v) for v in data.getlist(key)) for key in data):
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("The input holds a character that is not allowed."))
        return super().parse_querydict(data, list_fields, request)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


api = KaisenAPI(
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
    parser=ObjectBodyParser(),
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


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: under ``/api/`` the API's JSON error (a path no route matches, e.g. a letter where an
    ID goes, never reaches the API's own handlers), elsewhere the portal's 404 page."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"code": ErrorCode.NOT_FOUND, "message": _("Not found.")}, status=404,
                            json_dumps_params={"ensure_ascii": False})
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


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
api.add_router("/", "kaisen.goods.api.router")
api.add_router("/", "kaisen.alerts.api.router")
api.add_router("/", "kaisen.controls.api.router")
