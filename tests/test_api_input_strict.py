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


# --- issue 14, last part: the document states what the API requires (POSITIVE_PENDING emptied in part) -------

def _path_strings() -> list[tuple[str, str, dict]]:
    return [(f"{method.upper()} {path}", p["name"], p["schema"]) for path, ops in DOC["paths"].items()
            for method, op in ops.items() for p in op.get("parameters", [])
            if p["in"] == "path" and p["schema"].get("type") == "string"]


def test_every_text_path_parameter_states_that_nul_is_refused() -> None:
    import re

    found = _path_strings()
    assert len(found) >= 10
    for label, name, schema in found:
        assert "enum" in schema or "pattern" in schema, (label, name)
        pattern = schema.get("pattern")
        if pattern:
            assert not re.search(pattern, "\x00") and not re.search(pattern, "a\x00b"), (label, name, pattern)


@pytest.mark.parametrize("path", ["/api/v1/lines/by-msisdn/090%00", "/api/v1/api-keys/K%00/permissions",
                                  "/api/v1/payments/methods/japan%00"])
def test_a_nul_character_in_a_path_is_refused_like_anywhere_else(tenant_a: TenantWorld, path: str) -> None:
    response = tenant_a.api().get(path)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_phone_number_of_the_documented_form_that_no_line_can_hold_is_not_found(tenant_a: TenantWorld) -> None:
    """``09000000000`` has the documented form but is no number (``phonenumbers``): no line can hold it, 404
    (was 400 ``INVALID_PHONE_NUMBER``, for a value the document called valid)."""
    import re

    pattern = next(s["pattern"] for label, name, s in _path_strings() if name == "msisdn")
    assert re.fullmatch(pattern, "09000000000") and re.fullmatch(pattern, "090-1234-5678")
    api = tenant_a.api()
    response = api.get("/api/v1/lines/by-msisdn/09000000000")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "NOT_FOUND"
    assert api.get("/api/v1/lines/by-msisdn/abc").json()["code"] == "INVALID_PHONE_NUMBER"  # another form: as before
    number = tenant_a.line.msisdn
    assert api.get(f"/api/v1/lines/by-msisdn/{number[:3]}-{number[3:7]}-{number[7:]}").status_code == 200


def test_an_iccid_with_a_wrong_check_digit_is_not_found_and_the_document_says_so(tenant_a: TenantWorld) -> None:
    iccid = tenant_a.line.iccid
    wrong = iccid[:-1] + str((int(iccid[-1]) + 1) % 10)
    api = tenant_a.api()
    response = api.get(f"/api/v1/lines/by-iccid/{wrong}")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "NOT_FOUND" and wrong in response.json()["message"]
    assert api.get(f"/api/v1/lines/by-iccid/{iccid}").status_code == 200
    schema = next(s for label, name, s in _path_strings() if name == "iccid")
    assert schema["pattern"] == "^89[0-9]{17,18}$" and "check digit" in schema["description"]


@pytest.mark.parametrize("value", ["1e3", "0.001", "0", "0.00", "1000000000000", "999999999999.5", " 100", "-1"])
def test_a_budget_is_a_decimal_over_0_with_2_decimals_at_most(tenant_a: TenantWorld, value: str) -> None:
    """``1e3`` and ``0.001`` were taken (the latter stored as a budget of 0.00)."""
    api = tenant_a.api()
    response = api.request("PUT", "/api/v1/budgets/japan", {"amount": value})
    assert response.status_code == 422, response.content
    assert api.get("/api/v1/budgets").json() == []
    for ok in ("0.01", "1200.5", "999999999999", "999999999999.00", ""):
        assert api.request("PUT", "/api/v1/budgets/japan", {"amount": ok}).status_code == 200, ok


@pytest.mark.parametrize("email", ["a@b", "a@example.c0m", "a b@example.com", "", "ａ@example.com",
                                   "a@exa_mple.com", "x" * 250 + "@example.com"])
def test_an_email_address_is_of_the_documented_form(tenant_a: TenantWorld, email: str) -> None:
    """What Django's ``validate_email`` or the billing contacts' check refused (400) is refused by the schema
    (422), which the document states (``pattern``); ``a@example.c0m`` was taken by the profile."""
    api = tenant_a.api()
    for method, path, body in (("POST", "/api/v1/account/login-email", {"email": email}),
                               ("PATCH", "/api/v1/account/profile", {"notification_email": email}),
                               ("PUT", "/api/v1/billing-contacts", {"billing_emails": [email]}),
                               ("PUT", "/api/v1/billing-contacts", {"recovery_email": email or "x"})):
        response = api.request(method, path, body)
        assert response.status_code == 422, (path, response.content)
        assert response.json()["code"] == "VALIDATION_ERROR"
    for name in ("LoginEmailIn", "ProfileIn"):
        props = COMPONENTS[name]["properties"]
        field = props.get("email") or props["notification_email"]
        assert "pattern" in json.dumps(field)
    ok = api.request("PATCH", "/api/v1/account/profile", {"notification_email": "ops+alerts@sub.example.co.jp"})
    assert ok.status_code == 200, ok.content
    assert api.request("PUT", "/api/v1/billing-contacts", {"recovery_email": ""}).status_code == 200


def test_the_profile_fields_state_the_service_s_rules() -> None:
    import re

    props = COMPONENTS["ProfileIn"]["properties"]

    def pattern(name: str) -> str:
        return props[name]["pattern"]  # type: ignore[no-any-return]

    assert re.fullmatch(pattern("contact_phone"), " 03-1234-5678 ")
    assert not re.fullmatch(pattern("contact_phone"), "03-1234-5678x")
    assert re.fullmatch(pattern("postal_code"), "105-0011") and not re.fullmatch(pattern("postal_code"), "1050")
    assert re.fullmatch(pattern("contact_name_kana"), "カイセン　タロウ")
    assert not re.fullmatch(pattern("contact_name_kana"), "kaisen")
    assert not re.fullmatch(pattern("contact_name"), "x" * 101) and re.fullmatch(pattern("contact_name"), "")


def test_the_payer_is_on_one_line_and_the_document_says_so(tenant_a: TenantWorld) -> None:
    import re

    name = COMPONENTS["GoodsPayerIn"]["properties"]["name"]
    assert re.fullmatch(name["pattern"], "  Taro Yamada ") and not re.fullmatch(name["pattern"], "Taro\x01Yamada")
    assert not re.fullmatch(name["pattern"], "   ")
    api = tenant_a.api()
    refused = api.request("PUT", "/api/v1/goods/payment-statement/payer",
                          {"company": "Kaisen", "name": "Taro\x01Yamada"})
    assert refused.status_code == 400, refused.content


def test_date_to_before_date_from_answers_its_own_documented_code(tenant_a: TenantWorld) -> None:
    """A rule between two query parameters, which no JSON Schema keyword states: ``INVALID_PERIOD`` (was
    ``VALIDATION_ERROR``), named in the parameter's description."""
    api = tenant_a.api()
    for path in ("/api/v1/audit", "/api/v1/audit/export"):
        response = api.get(path, {"date_from": "2026-03-03", "date_to": "2026-03-01"})
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "INVALID_PERIOD"
    date_to = next(p for p in DOC["paths"]["/api/v1/audit"]["get"]["parameters"] if p["name"] == "date_to")
    assert "INVALID_PERIOD" in date_to["description"]


def test_a_statement_request_states_what_goes_with_each_kind(tenant_a: TenantWorld) -> None:
    body = COMPONENTS["StatementIn"]
    branches = body["anyOf"]
    daily = [b for b in branches if b["properties"].get("month") == {"type": "null"}]
    assert {k for b in daily for k in b["properties"]["kind"]["enum"]} == {"line_daily", "datausage"}
    assert all("cp932" not in b["properties"]["encoding"]["enum"] for b in daily)
    import re

    month = body["properties"]["month"]["pattern"]
    assert not re.fullmatch(month, "2026-13") and re.fullmatch(month, "2026-12")  # was ^\d{4}-\d{2}$
    response = tenant_a.api().post("/api/v1/statements", {"kind": "invoice", "month": "2026-13"})
    assert response.status_code == 400, response.content  # the service's own answer, as before
    assert response.json()["code"] == "INVALID_DATE"


def test_the_payment_statement_month_and_payer(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    assert api.get("/api/v1/goods/payment-statement", {"month": "1999-12"}).status_code == 422
    response = api.get("/api/v1/goods/payment-statement", {"month": "2000-01"})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "PAYER_REQUIRED"  # was VALIDATION_ERROR: stored data refuses it
    ok = api.request("PUT", "/api/v1/goods/payment-statement/payer", {"company": "Kaisen", "name": "Taro"})
    assert ok.status_code == 200, ok.content
    response = api.get("/api/v1/goods/payment-statement", {"month": "2100-12"})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "STATEMENT_NOT_YET_AVAILABLE"


def test_an_api_key_expiry_in_the_past_answers_invalid_period(tenant_a: TenantWorld) -> None:
    """The clock refuses it, which no schema states: its own documented code (was ``VALIDATION_ERROR``)."""
    response = tenant_a.api().post("/api/v1/api-keys", {"name": "old", "expires_at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_PERIOD"
    assert "INVALID_PERIOD" in COMPONENTS["ApiKeyIn"]["properties"]["expires_at"]["description"]


def test_a_transfer_states_the_operator_id_and_at_least_one_line(tenant_a: TenantWorld) -> None:
    import re

    body = COMPONENTS["TransferIn"]["properties"]
    assert re.fullmatch(body["to_operator_id"]["pattern"], "OP0123456789")
    assert not re.fullmatch(body["to_operator_id"]["pattern"], "OP012345678")
    assert body["lines"]["minItems"] == 1 and body["lines"]["maxItems"] == 1000
    assert not re.search(body["lines"]["items"]["pattern"], "  ")
    response = tenant_a.api().post("/api/v1/account/transfers", {"to_operator_id": "OP0123456789",
                                                                 "lines": ["89810000000000000000"]})
    assert response.status_code == 404, response.content  # a line that is not the account's: data, 404


def test_a_coverage_outside_the_contract_answers_not_in_contract(tenant_a: TenantWorld) -> None:
    """A coverage the document lists but the tenant's contract lacks: 403 ``NOT_IN_CONTRACT`` (was 400)."""
    assert "global" not in tenant_a.tenant.coverages
    api = tenant_a.api()
    api.request("PUT", "/api/v1/goods/payment-statement/payer", {"company": "Kaisen", "name": "Taro"})
    response = api.get("/api/v1/goods/payment-statement", {"month": "2000-01", "coverage": "global"})
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "NOT_IN_CONTRACT"


def test_an_item_code_the_catalogue_has_not_answers_item_unknown(tenant_a: TenantWorld) -> None:
    """The catalogue is stored data (no ``enum``): its own code, was ``VALIDATION_ERROR``."""
    import re

    response = tenant_a.api().post("/api/v1/goods/quotes", {"products": [{"code": "NO-SUCH", "quantity": 1}]})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "ITEM_UNKNOWN"
    code = COMPONENTS["GoodsRow"]["properties"]["code"]
    assert "ITEM_UNKNOWN" in code["description"] and not re.search(code["pattern"], "   ")


def test_the_tag_import_file_is_not_empty_and_the_document_says_so(tenant_a: TenantWorld) -> None:
    """An empty upload is refused (Django drops a file part it reads as empty: 422, field required; an empty
    file with a name: 400 ``INVALID_CSV``): the document states ``minLength: 1`` on the file (schemathesis
    counts a binary's length in bytes), so it no longer calls an empty upload valid."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = DOC["paths"]["/api/v1/line-tags/import"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["file"]["minLength"] == 1
    response = Client().post("/api/v1/line-tags/import", {"file": SimpleUploadedFile("tags.csv", b"")},
                             headers={"Authorization": f"Bearer {tenant_a.token}"})
    assert (response.status_code, response.json()["code"]) in ((400, "INVALID_CSV"), (422, "VALIDATION_ERROR"))


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-12-07T10:00:00-21:01",
                                "2026-12-07", "2026-12-07T10:00:00.123456Z"])
def test_history_at_takes_every_date_and_date_time_the_document_states(tenant_a: TenantWorld, at: str) -> None:
    """``at`` is a ``date`` or a ``date-time`` (stated): the ends of time and offsets PostgreSQL cannot hold
    are read in UTC, not a 500; an empty ``at`` is no date (400, was read as absent)."""
    line_id = tenant_a.line.pk
    api = tenant_a.api()
    response = api.get(f"/api/v1/lines/{line_id}/history", {"at": at})
    assert response.status_code == 200, response.content
    assert api.get(f"/api/v1/lines/{line_id}/history", {"at": ""}).json()["code"] == "INVALID_DATE"
    schema = next(p for p in DOC["paths"]["/api/v1/lines/{line_id}/history"]["get"]["parameters"]
                  if p["name"] == "at")["schema"]
    assert {"format": "date-time"} in json.loads(json.dumps(schema))["anyOf"][0]["anyOf"]


# --- an order's params per kind (issue 14: POST /lines/{line_id}/orders and .../orders/preview) -------------

def _order_body_schema(name: str) -> dict:
    return COMPONENTS[name]


@pytest.mark.parametrize("name", ["OrderIn", "PreviewIn"])
def test_the_document_states_each_order_kind_s_params(name: str) -> None:
    from kaisen.procedures.models import OrderKind
    from kaisen.procedures.rules import RULES

    schema = _order_body_schema(name)
    assert schema["discriminator"] == {"propertyName": "kind"}
    variants = {v["properties"]["kind"]["const"]: v for v in schema["oneOf"]}
    assert set(variants) == set(OrderKind.values)
    for kind, variant in variants.items():
        params = variant["properties"]["params"]
        assert params["type"] == "object" and params["additionalProperties"] is False, kind
        assert set(params["properties"]) == RULES[kind].params_allowed, kind
    assert variants["sim_reissue"]["required"] == ["kind", "params"]
    assert variants["sim_reissue"]["properties"]["params"]["required"] == ["sim_size"]
    assert set(variants["mnp_reservation"]["properties"]["params"]["required"]) == {"holder_name", "holder_name_kana"}
    options = variants["voice_options"]["properties"]["params"]["properties"]["options"]
    assert options["minProperties"] == 1 and options["additionalProperties"] is False
    assert options["properties"]["international_call_cap"]["enum"][:2] == [0, 5000]
    assert variants["cancellation"]["properties"]["params"]["properties"]["end_date"]["format"] == "date"


def _voice_line(world: TenantWorld) -> object:
    from kaisen.lines.models import SimType
    from tests.factories import LineFactory

    return LineFactory(tenant=world.tenant, sim_type=SimType.VOICE, plan=world.line.plan)


#: Bodies the document calls valid, each on a line whose state allows it (the frozen clock: 2026-12-07 10:00 JST).
_VALID = [
    ("suspend", {}),
    ("cancellation", {"end_date": "2026-12-31"}),
    ("cancellation", {}),
    ("sim_reissue", {"sim_size": "nano", "ship_date": "2026-12-09", "method": "ship",
                     "delivery_address": {"postal_code": "100-0001", "address": "東京都千代田区千代田1-1",
                                          "recipient": "総務部"}}),
    ("voice_options", {"effective": "next_month", "options": {"voicemail": True, "international_call_cap": 5000,
                                                              "network_pin": "0123"}}),
    ("mnp_reservation", {"holder_name": "株式会社　カイセン", "holder_name_kana": "カブシキガイシャ　カイセン",
                         "category": "corporate"}),
]


@pytest.mark.parametrize(("kind", "params"), _VALID)
def test_an_order_body_valid_per_the_document_is_accepted(tenant_a: TenantWorld, kind: str, params: dict) -> None:
    import jsonschema

    body = {"kind": kind, "params": params}
    for name in ("OrderIn", "PreviewIn"):
        jsonschema.validate(body, _order_body_schema(name))  # the document calls it valid
    line = _voice_line(tenant_a) if kind in ("voice_options", "mnp_reservation") else tenant_a.line
    api = tenant_a.api()
    preview = api.post(f"/api/v1/lines/{line.pk}/orders/preview", body)  # type: ignore[attr-defined]
    assert preview.status_code == 200, preview.content
    created = api.post(f"/api/v1/lines/{line.pk}/orders",  # type: ignore[attr-defined]
                       {**body, "idempotency_key": f"k-{kind}-{len(params)}"})
    assert created.status_code == 201, created.content


#: Bodies the document calls invalid, which the service used to read (a loose form) or refuse only after the
#: line's checks: the API now refuses them with the code the service gives that parameter (400, never 422).
_INVALID = [
    ("cancellation", {"end_date": "2026/12/31"}, "INVALID_DATE", "end_date"),
    ("cancellation", {"end_date": "２０２６-１２-３１"}, "INVALID_DATE", "end_date"),
    ("cancellation", {"end_date": "2026-02-30"}, "INVALID_DATE", "end_date"),
    ("cancellation", {"end_date": None}, "INVALID_DATE", "end_date"),
    ("voice_options", {"options": {"voicemail": "yes"}}, "INVALID_OPTION", "voicemail"),
    ("voice_options", {"options": {"voicemail": 1}}, "INVALID_OPTION", "voicemail"),
    ("voice_options", {"options": {"international_call_cap": "5,000"}}, "INVALID_OPTION", "international_call_cap"),
    ("voice_options", {"options": {"network_pin": 1234}}, "INVALID_OPTION", "network_pin"),
    ("voice_options", {"options": {"fax": True}}, "INVALID_OPTION", "fax"),
    ("voice_options", {"options": {}}, "INVALID_OPTION", "options"),
    ("voice_options", {"effective": "Today", "options": {"voicemail": True}}, "INVALID_OPTION", "effective"),
    ("plan_change", {"data_cap_mb": 0}, "INVALID_OPTION", "data_cap_mb"),
    ("plan_change", {"data_cap_mb": "100"}, "INVALID_OPTION", "data_cap_mb"),
    ("sim_reissue", {"sim_size": "NANO"}, "SIZE_NOT_OFFERED", "sim_size"),
    ("sim_reissue", {}, "SIZE_NOT_OFFERED", "sim_size"),
    ("sim_reissue", {"sim_size": "nano", "method": "ota"}, "METHOD_NOT_OFFERED", "method"),
    ("sim_reissue", {"sim_size": "nano", "delivery_address": {"postal_code": "1000001", "address": "x",
                                                              "recipient": ""}},
     "VALIDATION_ERROR", "delivery_address.recipient"),
    ("mnp_reservation", {"holder_name": "Kaisen", "holder_name_kana": "カイセン"}, "INVALID_NAME", "holder_name"),
    ("mnp_reservation", {"holder_name": "カイセン", "holder_name_kana": "ｶｲｾﾝ"}, "INVALID_NAME", "holder_name_kana"),
    ("suspend", {"when": "now"}, "VALIDATION_ERROR", "when"),
]


@pytest.mark.parametrize(("kind", "params", "code", "field"), _INVALID)
def test_order_params_the_document_calls_invalid_answer_the_service_s_code(
    tenant_a: TenantWorld, kind: str, params: dict, code: str, field: str,
) -> None:
    import jsonschema

    from kaisen.procedures.models import Order

    body = {"kind": kind, "params": params}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, _order_body_schema("OrderIn"), format_checker=jsonschema.FormatChecker())
    line = _voice_line(tenant_a)
    api = tenant_a.api()
    for path, extra in (("orders/preview", {}), ("orders", {"idempotency_key": "k-invalid"})):
        response = api.post(f"/api/v1/lines/{line.pk}/{path}", {**body, **extra})  # type: ignore[attr-defined]
        assert response.status_code == 400, response.content
        assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert not Order.objects.filter(line_id=line.pk).exists()
