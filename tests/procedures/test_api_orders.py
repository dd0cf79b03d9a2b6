"""Orders over the API (X-API, M-LINE-1, M-MNP-1, M-PROC-1..7): create, preview, procedures, list, get,
cancel, the MNP waiting list; idempotency; bad input answers 4xx with a code; T-2 across tenants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from kaisen.accounts.services import token_issue_for_api_key
from kaisen.core import clock
from kaisen.lines.models import Line, LineStatus, SimType
from kaisen.procedures.models import Order, OrderStatus
from tests.conftest import ApiClient, TenantWorld
from tests.factories import LineFactory, make_msisdn

pytestmark = pytest.mark.django_db

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield


def _post(api: ApiClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post(path, body, content_type="application/json", headers={**api._headers(), **headers})


def _order(api: ApiClient, line: Line, kind: str = "suspend", params: dict[str, Any] | None = None,
           key: str = "k-1") -> Any:
    return api.post(f"/api/v1/lines/{line.pk}/orders", {"kind": kind, "params": params or {}, "idempotency_key": key})


def test_create_an_order_201_with_every_field_m_proc_1(tenant_a: TenantWorld) -> None:
    response = _order(tenant_a.api(), tenant_a.line)
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert order.tenant == tenant_a.tenant and order.requested_by == tenant_a.user
    assert body["line_id"] == tenant_a.line.pk and body["msisdn"] == tenant_a.line.msisdn
    assert body["kind"] == "suspend" and body["status"] == OrderStatus.SCHEDULED
    assert body["idempotency_key"] == "k-1" and body["is_pending"] is True
    assert body["effective_date"] == "2026-11-24"
    for field in ("due_at", "cancellable_until", "cancellable", "result", "error_code", "created_at",
                  "kind_label", "status_label"):
        assert field in body


def test_same_idempotency_key_twice_is_one_order_200_m_proc_7(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    first = _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-31"})
    again = _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-31"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Order.objects.filter(tenant=tenant_a.tenant).count() == 1


def test_idempotency_key_header_m_proc_7(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    url = f"/api/v1/lines/{tenant_a.line.pk}/orders"
    first = _post(api, url, {"kind": "suspend"}, **{"Idempotency-Key": "hdr-1"})
    again = _post(api, url, {"kind": "suspend", "params": {}}, **{"Idempotency-Key": "hdr-1"})
    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["idempotency_key"] == "hdr-1" and first.json()["id"] == again.json()["id"]
    # The same key in the body is the same request.
    assert _order(api, tenant_a.line, key="hdr-1").status_code == 200
    # Two different keys at once is a mistake.
    clash = _post(api, url, {"kind": "suspend", "idempotency_key": "other"}, **{"Idempotency-Key": "hdr-1"})
    assert clash.status_code == 400 and clash.json()["code"] == "VALIDATION_ERROR"
    assert Order.objects.count() == 1


def test_same_key_other_params_is_409_m_proc_7(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    assert _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-31"}, key="k").status_code == 201
    other = _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-30"}, key="k")
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    other_line = _order(api, tenant_a.lines[1], "cancellation", {"end_date": "2026-12-31"}, key="k")
    assert other_line.status_code == 409 and other_line.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Order.objects.count() == 1


def test_an_idempotency_key_is_required(tenant_a: TenantWorld) -> None:
    response = tenant_a.api().post(f"/api/v1/lines/{tenant_a.line.pk}/orders", {"kind": "suspend"})
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert "idempotency" in response.json()["message"].lower()
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "teleport", "idempotency_key": "x"}, 422, "VALIDATION_ERROR"),
        ({"idempotency_key": "x"}, 422, "VALIDATION_ERROR"),
        ({"kind": "suspend", "params": "now", "idempotency_key": "x"}, 422, "VALIDATION_ERROR"),
        ({"kind": "suspend", "params": {"colour": "red"}, "idempotency_key": "x"}, 400, "VALIDATION_ERROR"),
        ({"kind": "cancellation", "params": {"end_date": "2028-11-25"}, "idempotency_key": "x"}, 400, "INVALID_DATE"),
        ({"kind": "cancellation", "params": {"end_date": "soon"}, "idempotency_key": "x"}, 400, "INVALID_DATE"),
        ({"kind": "resume", "idempotency_key": "x"}, 400, "LINE_NOT_ELIGIBLE"),
        ({"kind": "voice_options", "params": {"options": {"voicemail": True}}, "idempotency_key": "x"}, 400,
         "LINE_NOT_ELIGIBLE"),
        ({"kind": "plan_change", "params": {"plan_code": "NO-SUCH"}, "idempotency_key": "x"}, 400, "INVALID_PLAN"),
        ({"kind": "suspend", "idempotency_key": "x" * 101}, 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_input_is_4xx_with_a_code_never_500(tenant_a: TenantWorld, body: dict[str, Any], status: int,
                                                code: str) -> None:
    response = tenant_a.api().post(f"/api/v1/lines/{tenant_a.line.pk}/orders", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["message"]
    assert not Order.objects.exists()


def test_malformed_json_is_4xx(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    response = api.client.post(f"/api/v1/lines/{tenant_a.line.pk}/orders", "{not json", content_type="application/json",
                               headers=api._headers())
    assert 400 <= response.status_code < 500


def test_conflicting_order_is_409_m_proc_6(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    assert _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-31"}, key="c").status_code == 201
    response = _order(api, tenant_a.line, "suspend", key="s")
    assert response.status_code == 409 and response.json()["code"] == "ORDER_CONFLICT"


@pytest.mark.parametrize(("at", "ok"), [((8, 59), False), ((9, 0), True), ((19, 59), True), ((20, 0), False)])
def test_reception_hours_m_auth_2(tenant_a: TenantWorld, at: tuple[int, int], ok: bool) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 24, *at, tzinfo=clock.JST), tick=False):
        token = token_issue_for_api_key(key_id=tenant_a.api_key.key_id, secret=tenant_a.api_secret).token
        response = _order(ApiClient(token, Client()), tenant_a.line)
    if ok:
        assert response.status_code == 201
    else:
        assert response.status_code == 400 and response.json()["code"] == "OUTSIDE_RECEPTION_HOURS"
        assert "09:00" in response.json()["message"]


def test_preview_writes_nothing_and_tells_the_dates_m_proc_7(tenant_a: TenantWorld) -> None:
    response = tenant_a.api().post(f"/api/v1/lines/{tenant_a.line.pk}/orders/preview",
                                   {"kind": "cancellation", "params": {}})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["effective_date"] == "2026-11-30"  # default: the last day of this month (M-PROC-6)
    assert body["params"] == {"end_date": "2026-11-30"}
    assert body["cancellable_until"] and body["due_at"]
    assert isinstance(body["warnings"], list) and "accepted" in body["emails"]
    assert not Order.objects.exists()
    bad = tenant_a.api().post(f"/api/v1/lines/{tenant_a.line.pk}/orders/preview",
                              {"kind": "cancellation", "params": {"end_date": "2020-01-01"}})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATE"


def test_procedures_of_a_line_and_its_pending_orders_m_line_1(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    url = f"/api/v1/lines/{tenant_a.line.pk}/procedures"
    body = api.get(url).json()
    by_kind = {p["kind"]: p for p in body["procedures"] if p["action"] == "submit"}
    assert by_kind["suspend"]["available"] is True
    assert by_kind["resume"]["available"] is False and by_kind["resume"]["reason"]
    assert by_kind["resume"]["code"] == "LINE_NOT_ELIGIBLE"
    assert body["pending"] == []

    order_id = _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-31"}).json()["id"]
    body = api.get(url).json()
    assert [o["id"] for o in body["pending"]] == [order_id]
    assert body["pending"][0]["cancellable"] is True
    cancel = [p for p in body["procedures"] if p["action"] == "cancel"]
    assert cancel == [{"kind": "cancellation", "label": cancel[0]["label"], "action": "cancel", "order_id": order_id,
                       "available": True, "reason": "", "code": ""}]
    assert all(not p["available"] for p in body["procedures"] if p["action"] == "submit")


def test_list_filter_and_page_orders(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    api = tenant_a.api()
    a, b, c = tenant_a.lines
    _order(api, a, key="1")
    _order(api, b, "cancellation", {"end_date": "2026-12-31"}, key="2")
    _order(api, c, key="3")
    _order(tenant_b.api(), tenant_b.line, key="1")
    body = api.get("/api/v1/orders").json()
    assert len(body["items"]) == 3 and body["next_cursor"] is None
    assert tenant_b.line.iccid not in str(body)
    assert [o["line_id"] for o in api.get("/api/v1/orders", {"line_id": b.pk}).json()["items"]] == [b.pk]
    assert len(api.get("/api/v1/orders", {"kind": "suspend"}).json()["items"]) == 2
    assert len(api.get("/api/v1/orders", {"status": "scheduled"}).json()["items"]) == 3
    assert api.get("/api/v1/orders", {"status": "completed"}).json()["items"] == []
    assert api.get("/api/v1/orders", {"line_id": tenant_b.line.pk}).json()["items"] == []

    first = api.get("/api/v1/orders", {"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get("/api/v1/orders", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 1
    seen = [o["id"] for o in first["items"] + second["items"]]
    assert len(set(seen)) == 3

    for query, code in (({"status": "sleeping"}, "VALIDATION_ERROR"), ({"kind": "teleport"}, "VALIDATION_ERROR"),
                        ({"cursor": "garbage!"}, "INVALID_CURSOR"), ({"limit": 0}, "VALIDATION_ERROR"),
                        ({"line_id": "x"}, "VALIDATION_ERROR")):
        response = api.get("/api/v1/orders", query)
        assert 400 <= response.status_code < 500 and response.json()["code"] == code, (query, response.content)


def test_get_an_order_with_its_history_and_cancel_it_m_proc_6(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    order_id = _order(api, tenant_a.line, "cancellation", {"end_date": "2026-12-31"}).json()["id"]
    body = api.get(f"/api/v1/orders/{order_id}").json()
    assert [e["to_status"] for e in body["events"]] == ["received", "scheduled"]
    assert body["cancellable"] is True

    response = api.post(f"/api/v1/orders/{order_id}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["cancellable"] is False
    assert response.json()["events"][-1]["to_status"] == "cancelled"
    again = api.post(f"/api/v1/orders/{order_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "ORDER_NOT_CANCELLABLE"


def test_an_immediate_order_is_not_cancellable(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    order_id = _order(api, tenant_a.line).json()["id"]
    response = api.post(f"/api/v1/orders/{order_id}/cancel")
    assert response.status_code == 409 and response.json()["code"] == "ORDER_NOT_CANCELLABLE"


def test_mnp_waiting_list_m_mnp_1(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    shipped: Line = LineFactory(tenant=tenant_a.tenant, status=LineStatus.NOT_ACTIVATED, sim_type=SimType.VOICE,
                          msisdn=make_msisdn(6_000_001), mnp_port_in_pending=True, shipped_on=dt.date(2026, 11, 20),
                          started_on=None, mnp_port_in_expires_on=dt.date(2026, 12, 5))
    LineFactory(tenant=tenant_a.tenant, status=LineStatus.NOT_ACTIVATED, sim_type=SimType.VOICE,
                msisdn=make_msisdn(6_000_002), mnp_port_in_pending=True, shipped_on=None, started_on=None,
                mnp_port_in_expires_on=dt.date(2026, 12, 6))
    LineFactory(tenant=tenant_b.tenant, status=LineStatus.NOT_ACTIVATED, msisdn=make_msisdn(6_000_003),
                mnp_port_in_pending=True, started_on=None, mnp_port_in_expires_on=dt.date(2026, 12, 7))
    response = tenant_a.api().get("/api/v1/mnp/waiting")
    assert response.status_code == 200
    rows = {r["msisdn"]: r for r in response.json()}
    assert set(rows) == {make_msisdn(6_000_001), make_msisdn(6_000_002)}
    assert rows[shipped.msisdn] == {"line_id": shipped.pk, "msisdn": shipped.msisdn, "iccid": shipped.iccid,
                                    "shipped": True, "shipped_on": "2026-11-20",
                                    "reservation_expires_on": "2026-12-05"}
    assert rows[make_msisdn(6_000_002)]["shipped"] is False

    # The activation request itself (M-MNP-2) goes through the same orders endpoint.
    response = _order(tenant_a.api(), shipped, "mnp_activation", {"activation_date": "2026-11-24"})
    assert response.status_code == 201, response.content


def test_another_tenants_line_order_and_the_ghost_are_the_same_404_t_2(tenant_a: TenantWorld,
                                                                       tenant_b: TenantWorld) -> None:
    b_order = _order(tenant_b.api(), tenant_b.line, "cancellation", {"end_date": "2026-12-31"}).json()["id"]
    api = tenant_a.api()
    calls = [
        ("post", "/api/v1/lines/{}/orders", tenant_b.line.pk, {"kind": "suspend", "idempotency_key": "z"}),
        ("post", "/api/v1/lines/{}/orders/preview", tenant_b.line.pk, {"kind": "suspend"}),
        ("get", "/api/v1/lines/{}/procedures", tenant_b.line.pk, None),
        ("get", "/api/v1/orders/{}", b_order, None),
        ("post", "/api/v1/orders/{}/cancel", b_order, None),
    ]
    for method, pattern, their_id, body in calls:
        url, ghost_url = pattern.format(their_id), pattern.format(987_654_321)
        theirs = api.post(url, body) if method == "post" else api.get(url)
        ghost = api.post(ghost_url, body) if method == "post" else api.get(ghost_url)
        assert theirs.status_code == ghost.status_code == 404, (url, theirs.content)
        assert theirs.json()["code"] == "NOT_FOUND"
        assert theirs.content == ghost.content
    assert Order.objects.get(pk=b_order).status == OrderStatus.SCHEDULED
    assert not Order.objects.filter(tenant=tenant_a.tenant).exists()


def test_an_idempotency_key_of_another_tenant_is_not_shared_t_2(tenant_a: TenantWorld,
                                                                tenant_b: TenantWorld) -> None:
    """Keys are per tenant: B's key neither returns B's order nor conflicts with it."""
    _order(tenant_b.api(), tenant_b.line, key="shared")
    response = _order(tenant_a.api(), tenant_a.line, "cancellation", {"end_date": "2026-12-31"}, key="shared")
    assert response.status_code == 201 and response.json()["line_id"] == tenant_a.line.pk


def test_routes_need_a_token(tenant_a: TenantWorld) -> None:
    anonymous = ApiClient(None, Client())
    for url in (f"/api/v1/lines/{tenant_a.line.pk}/procedures", "/api/v1/orders", "/api/v1/mnp/waiting",
                "/api/v1/bulk/1"):
        assert anonymous.get(url).status_code == 401
    assert anonymous.post(f"/api/v1/lines/{tenant_a.line.pk}/orders", {"kind": "suspend"}).status_code == 401


def test_openapi_lists_the_procedure_routes_with_their_bodies_x_api() -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    expected = {
        "/api/v1/lines/{line_id}/orders": {"post"},
        "/api/v1/lines/{line_id}/orders/preview": {"post"},
        "/api/v1/lines/{line_id}/procedures": {"get"},
        "/api/v1/orders": {"get"},
        "/api/v1/orders/{order_id}": {"get"},
        "/api/v1/orders/{order_id}/cancel": {"post"},
        "/api/v1/mnp/waiting": {"get"},
        "/api/v1/bulk": {"post"},
        "/api/v1/bulk/{job_id}": {"get"},
        "/api/v1/bulk/{job_id}/result.csv": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    schemas = doc["components"]["schemas"]
    create = paths["/api/v1/lines/{line_id}/orders"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrderIn")
    assert set(create["responses"]) >= {"200", "201", "404", "409"}
    assert "suspend" in str(schemas["OrderIn"]["properties"]["kind"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert "multipart/form-data" in paths["/api/v1/bulk"]["post"]["requestBody"]["content"]
    assert "text/csv" in paths["/api/v1/bulk/{job_id}/result.csv"]["get"]["responses"]["200"]["content"]
    for name in ("OrderOut", "OrderDetailOut", "PreviewOut", "ProceduresOut", "BulkJobOut", "MnpWaitingOut"):
        assert name in schemas
