"""No 500 on out-of-range or malformed API input (issue 14 b).

An ID of 2^63 or more used to reach the database (SQLite cannot bind it; PostgreSQL refuses it for a bigint)
and a bare CR inside a cell of the line-tag CSV stopped Python's csv module: both answered 500. Every integer
an endpoint takes is now bounded in its schema (kaisen.core.ids), which the OpenAPI document shows and the
first test checks for every operation; the others send such input and expect a 4xx with a domain code."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kaisen.api import api as ninja_api
from kaisen.core.ids import DB_INT_MAX
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

TOO_BIG = 2**63
DOC = ninja_api.get_openapi_schema(path_prefix="/api/v1")
COMPONENTS = DOC["components"]["schemas"]


def _unbounded(schema: Any, where: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """Every integer in ``schema`` (following $refs) without a minimum and a maximum inside 64 bits."""
    if isinstance(schema, list):
        return [u for item in schema for u in _unbounded(item, where, seen)]
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else _unbounded(COMPONENTS[name], f"{where} {name}", seen | {name})
    out = []
    if schema.get("type") == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is None or hi is None or lo < -DB_INT_MAX - 1 or hi > DB_INT_MAX:
            out.append(f"{where} ({schema.get('title', '')}: {lo}..{hi})")
    for key, value in schema.items():
        if isinstance(value, dict | list):
            out += _unbounded(value, f"{where}.{key}" if key not in ("properties", "items") else where, seen)
    return out


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in DOC["paths"].items() for method, op in ops.items()]


def test_every_integer_input_of_the_api_is_bounded() -> None:
    unbounded = []
    for method, path, op in _operations():
        for param in op.get("parameters", []):
            unbounded += _unbounded(param.get("schema", {}), f"{method} {path} {param['in']}:{param['name']}")
        for media in (op.get("requestBody") or {}).get("content", {}).values():
            unbounded += _unbounded(media["schema"], f"{method} {path} body")
    assert unbounded == []
    # The walk does see integers: the roles' tag IDs are among them.
    role_in = COMPONENTS["RoleIn"]["properties"]["line_tag_ids"]["items"]
    assert (role_in["minimum"], role_in["maximum"]) == (1, DB_INT_MAX)


ID_OPERATIONS = [(m, p, op) for m, p, op in _operations()
                 if any(x["in"] in ("path", "query") and x.get("schema", {}).get("type") == "integer"
                        for x in op.get("parameters", []))]


@pytest.mark.parametrize(("method", "path", "op"), ID_OPERATIONS, ids=[f"{m} {p}" for m, p, _o in ID_OPERATIONS])
def test_an_integer_of_2_63_in_a_path_or_query_is_a_4xx(tenant_a: TenantWorld, method: str, path: str,
                                                         op: dict[str, Any]) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: {"msisdn": tenant_a.line.msisdn, "coverage": "japan"}.get(
        m.group(1), str(TOO_BIG)), path)
    query = {x["name"]: str(TOO_BIG) for x in op["parameters"]
             if x["in"] == "query" and x.get("schema", {}).get("type") == "integer"}
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    response = tenant_a.api().request(method, url, {})
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["code"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_role_tag_id_of_2_63_is_422_not_500(tenant_a: TenantWorld, method: str) -> None:
    api = tenant_a.api()
    url = "/api/v1/roles"
    if method == "PATCH":
        created = api.post(url, {"name": "Sales desk"})
        assert created.status_code == 201, created.content
        url = f"{url}/{created.json()['id']}"
    body = {"name": "Big", "line_tag_ids": [TOO_BIG]}
    response = api.request(method, url, body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "line_tag_ids" in response.json()["message"]
    # The largest possible ID is a well-formed one that does not exist: 404, not 500.
    response = api.request(method, url, {**body, "line_tag_ids": [DB_INT_MAX]})
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("ref", [str(TOO_BIG), "9" * 40, "²"])
def test_a_tag_or_role_reference_that_is_no_possible_id_is_404(tenant_a: TenantWorld, ref: str) -> None:
    api = tenant_a.api()
    tags = api.request("PUT", f"/api/v1/lines/{tenant_a.line.pk}/tags", {"tags": [ref]})
    assert tags.status_code == 404 and tags.json()["code"] == "NOT_FOUND", tags.content
    roles = api.request("PUT", f"/api/v1/users/{tenant_a.user.pk}/roles", {"roles": [ref]})
    assert roles.status_code == 404 and roles.json()["code"] == "NOT_FOUND", roles.content


def _import(world: TenantWorld, body: bytes) -> Any:
    api = world.api()
    return api.client.post("/api/v1/line-tags/import", {"file": SimpleUploadedFile("tags.csv", body, "text/csv")},
                           headers=api._headers())


def test_a_bare_cr_inside_a_cell_of_the_tag_csv_is_invalid_csv(tenant_a: TenantWorld) -> None:
    line = tenant_a.line.msisdn
    response = _import(tenant_a, f"line,tags\r\n{line},department:Sa\rles\r\n".encode())
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "INVALID_CSV" and ("Line 2 " in body["message"] or "2行目" in body["message"])
    # The same break in double quotes is a cell with a line break (no such tag on that row, not a 500).
    quoted = _import(tenant_a, f'line,tags\r\n{line},"department:Sa\rles"\r\n'.encode())
    assert quoted.status_code == 200 and quoted.json()[0]["code"] == "NOT_FOUND"
    # A cell over the csv module's field limit.
    huge = _import(tenant_a, f"line,tags\r\n{line},{'x' * 140_000}\r\n".encode())
    assert huge.status_code == 400 and huge.json()["code"] == "INVALID_CSV"


def test_a_cell_over_the_csv_field_limit_in_a_bulk_file_is_invalid_csv() -> None:
    from kaisen.core.errors import DomainError
    from kaisen.procedures.bulk import parse_csv

    with pytest.raises(DomainError) as err:
        parse_csv(f"line\r\n{'9' * 140_000}\r\n".encode(), "suspend")
    assert err.value.code == "INVALID_CSV"
