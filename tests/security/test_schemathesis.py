"""Schemathesis over the whole OpenAPI document (issue 5, "Tests that must exist"; issue 14): every operation
is called with generated input — authenticated as a tenant's root user — and must never answer 5xx, and every
answer must be one the document declares (status code, content type, body schema); every operation the
document marks as protected must answer 401 to the same request without a token; a request the document
calls valid must not be refused with 400/422 (``positive_data_acceptance``, with the exceptions listed below)
and one it calls invalid must be refused (``negative_data_rejection``). A stateful phase chains calls through
the ids earlier answers returned, checked the same way.

Bounded and deterministic: derandomised Hypothesis, no example database. ``scripts/test.sh`` runs it as its
own step after the SQLite run with 30 examples per operation, and in the PostgreSQL run with 30 as well.
``KAISEN_SCHEMATHESIS_EXAMPLES`` sets the number of examples per operation,
``KAISEN_SCHEMATHESIS_STATEFUL`` the number of stateful scenarios (docs/security.md, "API fuzzing").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("KAISEN_SCHEMATHESIS_EXAMPLES", "4"))
#: Scenarios of the stateful phase (chains of calls that reuse what earlier answers returned).
STATEFUL_EXAMPLES = int(os.environ.get("KAISEN_SCHEMATHESIS_STATEFUL", "10"))
#: 400 codes for a request whose shape is right but which stored data or the clock refuses: no request
#: schema can state them (a line's state, an opaque cursor or link token that is unknown or expired, a wrong
#: password, the columns of an uploaded CSV file). ``positive_data_acceptance`` lets them pass; a 400 with any
#: other code (``VALIDATION_ERROR``, ``INVALID_DATE`` ...) for a request the document calls valid fails it.
DATA_DEPENDENT_CODES = frozenset({
    "LINE_NOT_ELIGIBLE", "PROCEDURE_NOT_AVAILABLE", "OUTSIDE_RECEPTION_HOURS", "INVALID_CURSOR",
    "TRANSFER_TOKEN_INVALID", "EMAIL_LINK_INVALID", "DELETION_CONFIRMATION_INVALID", "INVALID_CSV",
    # A month the clock has not opened yet, or has closed (statements, the goods payment statement); the
    # payer a payment statement needs, not entered yet.
    "STATEMENT_NOT_YET_AVAILABLE", "STATEMENT_OUT_OF_WINDOW", "PAYER_REQUIRED",
    # A webhook URL of the documented form whose host does not resolve, or not to a public address (the
    # network decides; kaisen.alerts.api.WEBHOOK_URL_PATTERN states the form).
    "WEBHOOK_URL_REFUSED",
    # An item code the catalogue (stored data) has not, or not priced yet (goods quotes and orders).
    "ITEM_UNKNOWN",
})
#: 400 for a period that is refused by a rule between two parameters, which no JSON Schema keyword can state
#: for query parameters (``date_to`` not before ``date_from`` on ``/audit``), or by the clock (an API key's
#: ``expires_at`` in the future): the document says it in the parameter's description, and the service
#: answers this code only for it. ``positive_data_acceptance`` lets it pass like the codes above.
CROSS_PARAMETER_CODES = frozenset({"INVALID_PERIOD"})
#: Codes that are data-dependent on one operation only. An order's ``params`` (``POST /lines/{line_id}/orders``
#: and ``.../preview``): the document states each kind's params (``kaisen.procedures.params``) and the API
#: refuses a value it calls invalid before the service, with these same codes; what the service still refuses
#: for a body the document calls valid is decided by the line, stored data or the clock only — a date outside
#: today's window or after the MNP reservation's expiry (``INVALID_DATE``), an option the line's carrier has
#: not or no change from the line's options, flat-rate calling changed "today" while subscribed, a data cap
#: above the plan's allowance (``INVALID_OPTION``), a plan not offered to the line or the contract, or no
#: change (``INVALID_PLAN``), a SIM size the line's product does not offer (``SIZE_NOT_OFFERED``), a line that
#: can be reissued by OTA only (``METHOD_NOT_OFFERED``). A pending order answers 409 ``ORDER_CONFLICT``.
_ORDER_PARAMS_CODES = frozenset({"INVALID_DATE", "INVALID_OPTION", "INVALID_PLAN", "SIZE_NOT_OFFERED",
                                 "METHOD_NOT_OFFERED"})
OPERATION_DATA_DEPENDENT_CODES = {
    "POST /api/v1/lines/{line_id}/orders": _ORDER_PARAMS_CODES,
    "POST /api/v1/lines/{line_id}/orders/preview": _ORDER_PARAMS_CODES,
}

#: Operations whose request schema does not yet state a rule the service enforces (so a request the
#: document calls valid is refused with 400): ``positive_data_acceptance`` is not applied to them until
#: it does. Every other check still is. Each entry says which rule; docs/security.md, "API fuzzing".
POSITIVE_PENDING = {
    # Its params per kind are stated (``kaisen.procedures.params``); this rule alone keeps it here.
    "POST /api/v1/lines/{line_id}/orders": "Idempotency-Key header equal to idempotency_key, one of them given",
    "POST /api/v1/users": "roles: existing roles; the password validators (username: now stated)",
    "POST /api/v1/goods/orders": ("Idempotency-Key header equal to idempotency_key; the address, phone and "
                                  "delivery date rules not run since item codes answer ITEM_UNKNOWN"),
    "POST /api/v1/alerts/rules": "name: 1-100 characters; condition, threshold, actions: known values",
    "POST /api/v1/bulk": "Idempotency-Key header equal to idempotency_key; the columns of the CSV",
}


def _error_code(response: Any) -> str | None:
    try:
        body = response.json()
    except Exception:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def positive_data_acceptance_kaisen(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance`` (a request the document calls valid must not be refused with 400/422),
    except for the refusals listed above: by stored data or the clock, or on an operation still pending."""
    if case.operation.label in POSITIVE_PENDING:
        return None
    if response.status_code == 400 and _has_nul((case.query, case.body, case.path_parameters)):
        # A NUL character is refused everywhere (PostgreSQL cannot store it: 500s found by the 30-example run
        # there); the document does not yet say so on every string (docs/security.md, "API fuzzing").
        return None
    if response.status_code == 400 and _error_code(response) in DATA_DEPENDENT_CODES | CROSS_PARAMETER_CODES:
        return None
    if (response.status_code == 400
            and _error_code(response) in OPERATION_DATA_DEPENDENT_CODES.get(case.operation.label, ())):
        return None
    return positive_data_acceptance(ctx, response, case)  # type: ignore[no-any-return]


#: Every answer must be no 5xx and match the document (a documented status code, its content type, its
#: schema); a request the document calls valid must be accepted (as above) and one it calls invalid refused.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          positive_data_acceptance_kaisen, negative_data_rejection]


@pytest.fixture
def _wsgi_requests_in_test_transaction() -> Iterator[None]:
    """Django's handler closes "old" connections when a request ends; inside the test's transaction that
    would close it. The test client switches this off for its requests; the WSGI transport needs the same."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _load_schema() -> Any:
    from kaisen.wsgi import application

    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    # The test sends a valid token itself (and checks the answer without one separately: 401), so
    # schemathesis must not generate the ``Authorization`` header as an input of its own: a case whose
    # only "invalid" part was a missing or malformed token would reach the API with a valid one, and
    # ``negative_data_rejection`` would call its (right) 2xx "invalid data accepted".
    loaded.config.generation.update(with_security_parameters=False)
    return loaded


# Loaded at collection (the document needs no database). ``schemathesis.pytest.from_fixture`` would defer
# it, but does not work with pytest 9 (it reads ``Function._nodeid``).
schema = _load_schema()


def _routes(path_url: str) -> bool:
    from urllib.parse import unquote, urlsplit

    from django.urls import Resolver404, resolve

    try:
        resolve(unquote(urlsplit(path_url).path))
    except Resolver404:
        return False
    return True


def _is_protected(case: Any) -> bool:
    if case.method.upper() != case.operation.method.upper():
        return False  # schemathesis also probes unsupported methods (TRACE, ...): 405 is right there
    definition = case.operation.definition.raw
    security = definition.get("security", case.operation.schema.raw_schema.get("security"))
    return bool(security)


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_no_server_errors_and_no_unauthenticated_access(
    case: Any, tenant_a: TenantWorld, _wsgi_requests_in_test_transaction: None,
) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = headers  # a mapping, even empty: the negative-data checks read every container as one
    response = case.call(headers={"Authorization": f"Bearer {tenant_a.token}"})
    case.validate_response(response, checks=CHECKS)
    if _is_protected(case):
        anonymous = case.call()
        if anonymous.status_code == 404 and not _routes(anonymous.request.path_url):
            return  # e.g. ``/lines/null,null``: no route matches (an ``int`` converter), nothing was reached
        assert anonymous.status_code == 401, (
            f"{case.method} {anonymous.request.url} answered {anonymous.status_code} without a token")
        case.validate_response(anonymous, checks=CHECKS)


class _Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """The stateful phase: sequences of calls linked by the ids earlier answers returned (schemathesis infers
    the links from the document), each answer checked like above; as tenant A's root user."""

    token = ""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self.token}"}}

    def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)


def test_api_stateful_sequences(tenant_a: TenantWorld, _wsgi_requests_in_test_transaction: None) -> None:
    _Workflow.token = tenant_a.token
    _Workflow.run(settings=settings(max_examples=STATEFUL_EXAMPLES, derandomize=True, database=None, deadline=None,
                                    stateful_step_count=6, suppress_health_check=list(HealthCheck)))


def test_schema_has_protected_operations() -> None:
    """A guard for the test above: the document declares bearer security on every operation but the sign-in
    steps and the public goods calculator (issue 12: a quote without an account), named here one by one."""
    from kaisen.api import api

    doc = api.get_openapi_schema()
    operations = [(method, path) for path, ops in doc["paths"].items() for method in ops]
    public = {(method, path) for path, ops in doc["paths"].items() for method, op in ops.items()
              if not op.get("security")}
    assert public == {("post", "/api/v1/auth"), ("post", "/api/v1/auth/mfa"), ("post", "/api/v1/auth/mfa/resend"),
                      ("get", "/api/v1/goods/public/catalogue"), ("post", "/api/v1/goods/public/quotes"),
                      ("get", "/api/v1/goods/public/quotes/{token}/pdf"),
                      ("post", "/api/v1/goods/public/quotes/{token}/email")}
    assert len(operations) > 100
