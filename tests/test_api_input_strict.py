"""What schemathesis's ``positive_data_acceptance`` / ``negative_data_rejection`` checks found (issue 14), one
test each, so they stay fixed whatever the random examples of a run are:

- invalid input accepted: a JSON body that is not an object (read by ninja as an object with every field left
  out), ``0`` for a boolean, a number for a date (read as seconds since 1970);
- valid input refused: ``POST /auth`` and ``POST /goods/*/quotes`` bodies the document called valid though
  the rules refuse them; the document now states those rules (``anyOf``)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kaisen.api import api as ninja_api
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

DOC = ninja_api.get_openapi_schema(path_prefix="/api/v1")
COMPONENTS = DOC["components"]["schemas"]


def _send(world: TenantWorld, method: str, path: str, raw: str) -> object:
    send = getattr(Client(), method.lower())
    return send(path, raw, content_type="application/json", headers={"Authorization": f"Bearer {world.token}"})


@pytest.mark.parametrize("raw", ["[null, null]", "0", '"text"', "true"])
def test_a_body_that_is_no_json_object_is_refused(tenant_a: TenantWorld, raw: str) -> None:
    user_id = tenant_a.user.pk
    before = tenant_a.user.display_name
    response = _send(tenant_a, "PATCH", f"/api/v1/users/{user_id}", raw)
    assert response.status_code == 400, response.content  # type: ignore[attr-defined]
    assert response.json()["code"]  # type: ignore[attr-defined]
    tenant_a.user.refresh_from_db()
    assert tenant_a.user.display_name == before
    assert _send(tenant_a, "PUT", "/api/v1/billing-contacts", raw).status_code == 400  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_a_boolean_is_only_true_or_false(tenant_a: TenantWorld, value: object) -> None:
    response = _send(tenant_a, "PUT", "/api/v1/access/settings", json.dumps({"approval_required": value}))
    assert response.status_code == 422, response.content  # type: ignore[attr-defined]
    assert response.json()["code"] == "VALIDATION_ERROR"  # type: ignore[attr-defined]
    ok = _send(tenant_a, "PUT", "/api/v1/access/settings", json.dumps({"approval_required": True}))
    assert ok.status_code == 200, ok.content  # type: ignore[attr-defined]
    assert ok.json() == {"approval_required": True}  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["0", "1700000000", "2026-12", "20261201", "2026-12-01T00:00:00"])
def test_a_date_is_only_yyyy_mm_dd(tenant_a: TenantWorld, value: str) -> None:
    api = tenant_a.api()
    line_id = tenant_a.line.pk
    response = api.get(f"/api/v1/lines/{line_id}/usage", {"end": value})
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert api.get("/api/v1/audit", {"date_from": value}).status_code == 422
    ok = api.get(f"/api/v1/lines/{line_id}/usage", {"end": "2026-12-01"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["window_end"] == "2026-12-01"


def test_the_document_states_which_credentials_go_together() -> None:
    body = COMPONENTS["AuthIn"]
    assert [sorted(branch["required"]) for branch in body["anyOf"]] == [
        ["key_id", "secret"], ["operator_id", "password", "username"], ["email", "password"]]


@pytest.mark.parametrize("body", [
    {"key_id": "", "secret": "", "password": "x"},
    {"key_id": "K1", "password": "x"},
    {"email": "", "password": "x"},
    {"email": "a@example.com", "operator_id": "OP1", "password": None},
    {},
])
def test_incomplete_credentials_are_refused_with_400(db: None, body: dict) -> None:
    response = Client().post("/api/v1/auth", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_complete_credentials_win_over_stray_fields(tenant_a: TenantWorld) -> None:
    """A body with one complete set of credentials is valid per the document, whatever else it carries: the
    API key is used (the order of the ``anyOf``)."""
    body = {"key_id": tenant_a.api_key.key_id, "secret": tenant_a.api_secret, "email": "", "operator_id": None,
            "password": "unused"}
    response = Client().post("/api/v1/auth", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["token"]


def test_a_quote_needs_one_row_with_a_quantity_and_the_document_says_so(tenant_a: TenantWorld) -> None:
    branches = COMPONENTS["GoodsQuoteIn"]["anyOf"]
    assert sorted(b["required"][0] for b in branches) == ["products", "running"]
    for branch in branches:
        rows = branch["properties"][branch["required"][0]]
        assert rows["contains"]["properties"]["quantity"]["minimum"] == 1
    response = tenant_a.api().post("/api/v1/goods/quotes", {"products": [{"code": "X", "quantity": 0}]})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"


# --- found by the 30-example run on PostgreSQL: 500s there -------------------------------------------------

def test_a_nul_character_in_a_query_value_is_refused(tenant_a: TenantWorld) -> None:
    """PostgreSQL cannot hold a NUL in a text value: ``GET /lines?plan=...%00`` answered 500 there."""
    response = tenant_a.api().get("/api/v1/lines", {"plan": "a\x00b"})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert tenant_a.api().get("/api/v1/lines", {"plan": "ab"}).status_code == 200


def test_a_nul_character_in_a_json_body_is_refused(tenant_a: TenantWorld) -> None:
    response = tenant_a.api().post("/api/v1/goods/quotes", {"running": [{"code": "X\x00", "quantity": 1}]})
    assert response.status_code == 400, response.content
    response = tenant_a.api().post("/api/v1/api-keys", {"name": "key\x00"})
    assert response.status_code == 400, response.content


def test_a_utc_offset_beyond_postgresql_s_range_is_held_in_utc(tenant_a: TenantWorld) -> None:
    """Python takes offsets up to ±23:59, PostgreSQL to ±15:59: ``expires_at`` with -21:01 answered 500."""
    body = {"name": "far offset", "expires_at": "2205-01-11T04:41:58-21:01"}
    response = tenant_a.api().post("/api/v1/api-keys", body)
    assert response.status_code == 201, response.content
    assert response.json()["expires_at"].startswith("2205-01-12T01:42:58")
