"""The OpenAPI document tells API clients about maintenance (issue 15 §1): every operation, all of which a
window can close, lists 503 with the ``Retry-After`` header and the ``MaintenanceErrorOut`` body; the
operations a service switch can refuse list 403 (``NOT_IN_CONTRACT`` is 403, not 503). The real 503 answers —
from the middleware (a window for every tenant), from the bearer authentication (a window for one tenant) and
from a procedure service (one procedure kind closed) — validate against what the document says."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pytest
from django.test import Client

from kaisen.controls import functions as fn
from kaisen.controls import services
from kaisen.core import clock
from kaisen.core.errors import HTTP_STATUS, ErrorCode
from tests.conftest import make_world

METHODS = ("get", "post", "put", "patch", "delete")


def _document() -> dict[str, Any]:
    """The document as clients read it (``/api/v1/openapi.json``: status codes as strings)."""
    resp = Client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.json()
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items()
            if method in METHODS]


@pytest.mark.django_db
def test_every_operation_documents_the_maintenance_answer() -> None:
    doc = _document()
    operations = _operations(doc)
    assert len(operations) > 50
    missing = [f"{m.upper()} {p}" for m, p, op in operations if "503" not in op.get("responses", {})]
    assert missing == []
    for method, path, op in operations:
        answer = op["responses"]["503"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/MaintenanceErrorOut"}, (method, path)
        assert answer["headers"]["Retry-After"]["required"] is True
        assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"
    body = doc["components"]["schemas"]["MaintenanceErrorOut"]
    assert set(body["required"]) >= {"code", "message", "details"}


@pytest.mark.django_db
def test_switched_off_functions_are_403_and_documented_so() -> None:
    assert HTTP_STATUS[ErrorCode.NOT_IN_CONTRACT] == 403 and HTTP_STATUS[ErrorCode.MAINTENANCE] == 503
    paths = _document()["paths"]
    for method, path in [("post", "/api/v1/lines/{line_id}/orders"), ("get", "/api/v1/mnp/waiting"),
                         ("post", "/api/v1/statements"), ("post", "/api/v1/bulk")]:
        assert "403" in paths[path][method]["responses"], (method, path)


def _validate(doc: dict[str, Any], response: Any) -> dict[str, Any]:
    """The answer against the document: 503, the body against MaintenanceErrorOut, Retry-After an integer >= 1
    equal to ``details.retry_after``."""
    assert response.status_code == 503, response.content[:500]
    schema = {"$ref": "#/components/schemas/MaintenanceErrorOut", "components": doc["components"]}
    body = response.json()
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    retry_after = int(response["Retry-After"])
    assert retry_after >= 1 and retry_after == body["details"]["retry_after"]
    assert dt.datetime.fromisoformat(body["details"]["until"]) > clock.now()
    return body


@pytest.mark.django_db
def test_the_real_503_answers_match_the_document() -> None:
    doc = _document()
    a, b = make_world(1), make_world(1)
    now = clock.now()
    # One procedure kind closed for everyone: the procedure service refuses (the API's domain error handler).
    services.window_schedule(starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(hours=1),
                             functions=[fn.procedure("suspend")], reason_ja="工事", reason_en="Works", actor="t")
    body = _validate(doc, a.api().post(f"/api/v1/lines/{a.line.pk}/orders",
                                       {"kind": "suspend", "params": {}, "idempotency_key": "oa-1"}))
    assert body["code"] == "MAINTENANCE"
    # The API closed for tenant A only: the bearer authentication refuses A; B is served.
    services.window_schedule(starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(hours=2),
                             functions=[fn.API], tenants=[a.tenant.public_id], reason_ja="工事",
                             reason_en="Works", actor="t")
    _validate(doc, a.api().get("/api/v1/service"))
    assert b.api().get("/api/v1/service").status_code == 200
    # The whole portal closed for everyone: the middleware refuses before any view, signing in included.
    services.window_schedule(starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(hours=3),
                             functions=[fn.PORTAL], reason_ja="全体工事", reason_en="All works", actor="t")
    _validate(doc, b.api().get("/api/v1/lines"))
    _validate(doc, Client().post("/api/v1/auth", {"api_key_id": "x", "api_key_secret": "y"},
                                 content_type="application/json"))
    answer = b.api().post("/api/v1/line-tags", {"name": "x", "kind": "department"})
    assert "Kaisen-Maintenance" in answer
    _validate(doc, answer)
