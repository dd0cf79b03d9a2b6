"""The lines API (X-API, M-LINE-1, M-DL-4): list, filter, search, sort, page, get by ID / number / serial."""

from __future__ import annotations

import datetime as dt

import pytest

from kaisen.carriers.models import Carrier
from kaisen.lines.models import LineStatus, SimType
from kaisen.lines.selectors import SORTS
from tests.conftest import TenantWorld
from tests.factories import LineFactory, PlanFactory, make_iccid, make_msisdn

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(tenant_a: TenantWorld) -> TenantWorld:
    """Tenant A with lines in several statuses, carriers and SIM types."""
    softbank = PlanFactory(code="SB-DATA-3G", carrier=Carrier.SOFTBANK)
    LineFactory(tenant=tenant_a.tenant, status=LineStatus.SUSPENDED, msisdn=make_msisdn(5_000_001, "080"))
    LineFactory(tenant=tenant_a.tenant, plan=softbank, sim_type=SimType.VOICE, msisdn=make_msisdn(5_000_002, "070"))
    LineFactory(tenant=tenant_a.tenant, status=LineStatus.NOT_ACTIVATED, msisdn=None, started_on=None, is_ota=True)
    LineFactory(tenant=tenant_a.tenant, status=LineStatus.CANCELLED, scheduled_end_on=dt.date(2025, 5, 31))
    return tenant_a


def test_list_returns_only_own_lines_with_every_line_list_field_m_dl_4(fleet: TenantWorld,
                                                                      tenant_b: TenantWorld) -> None:
    response = fleet.api().get("/api/v1/lines", {"with_count": "true", "limit": 100})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 7
    assert len(body["items"]) == 7
    assert tenant_b.line.iccid not in response.content.decode()
    item = body["items"][0]
    for field in ("msisdn", "iccid", "product_code", "plan", "carrier", "sim_type", "sim_size", "shipped_on",
                  "started_on", "scheduled_end_on", "status"):
        assert field in item, f"M-DL-4 field {field} missing from the API"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "suspended"}, 1),
        ({"status": "active"}, 4),
        ({"status": "not_activated"}, 1),
        ({"carrier": "softbank"}, 1),
        ({"sim_type": "voice"}, 1),
        ({"plan": "SB-DATA-3G"}, 1),
        ({"q": make_msisdn(5_000_001, "080")}, 1),
        ({"q": make_msisdn(5_000_001, "080")[:7]}, 1),  # a number's beginning
        ({"q": "080-" + make_msisdn(5_000_001, "080")[3:7]}, 1),  # typed with a hyphen
    ],
)
def test_filters_and_search_m_dl_4(fleet: TenantWorld, query: dict[str, str], expected: int) -> None:
    response = fleet.api().get("/api/v1/lines", {**query, "with_count": "true"})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == expected
    assert len(response.json()["items"]) == expected


def test_search_by_iccid_prefix(fleet: TenantWorld) -> None:
    iccid = fleet.line.iccid
    response = fleet.api().get("/api/v1/lines", {"q": iccid[:15]})
    assert response.status_code == 200
    assert iccid in {item["iccid"] for item in response.json()["items"]}


@pytest.mark.parametrize(
    "query",
    [{"status": "broken"}, {"carrier": "kddi"}, {"sim_type": "fax"}, {"sort": "legal_name"},
     {"q": "abc"}, {"cursor": "not-a-cursor"}, {"limit": "many"}],
)
def test_bad_filter_value_is_4xx_never_500(fleet: TenantWorld, query: dict[str, str]) -> None:
    response = fleet.api().get("/api/v1/lines", query)
    assert response.status_code in (400, 422), response.content
    body = response.json()
    assert body["code"] in ("VALIDATION_ERROR", "INVALID_CURSOR")
    assert body["message"]


@pytest.mark.parametrize("sort", sorted(SORTS))
def test_every_sort_pages_through_everything(fleet: TenantWorld, sort: str) -> None:
    client = fleet.api()
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/lines", params)
        assert response.status_code == 200, response.content
        seen += [item["id"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7


def test_limit_is_capped(fleet: TenantWorld) -> None:
    response = fleet.api().get("/api/v1/lines", {"limit": 100_000})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 7


def test_get_by_id_msisdn_and_iccid_m_line_1(fleet: TenantWorld) -> None:
    client, line = fleet.api(), fleet.line
    by_id = client.get(f"/api/v1/lines/{line.pk}")
    assert by_id.status_code == 200
    assert by_id.json()["iccid"] == line.iccid
    assert line.msisdn is not None
    for number in (line.msisdn, f"{line.msisdn[:3]}-{line.msisdn[3:7]}-{line.msisdn[7:]}", "+81" + line.msisdn[1:]):
        response = client.get(f"/api/v1/lines/by-msisdn/{number}")
        assert response.status_code == 200, (number, response.content)
        assert response.json()["id"] == line.pk
    by_iccid = client.get(f"/api/v1/lines/by-iccid/{line.iccid}")
    assert by_iccid.status_code == 200
    assert by_iccid.json()["msisdn"] == line.msisdn


def test_unknown_line_is_404(fleet: TenantWorld) -> None:
    client = fleet.api()
    for url in ("/api/v1/lines/987654321", f"/api/v1/lines/by-msisdn/{make_msisdn(8_888_888)}",
                f"/api/v1/lines/by-iccid/{make_iccid(88_888_888)}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("number", ["03-1234-5678", "090-1234-567", "phone", "+12125550123"])
def test_malformed_msisdn_is_400_invalid_phone_number(fleet: TenantWorld, number: str) -> None:
    response = fleet.api().get(f"/api/v1/lines/by-msisdn/{number}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_PHONE_NUMBER"
    message = response.json()["message"]
    assert number in message, "the message quotes the input"
    assert "090-1234-5678" in message and "020" in message, "the message says what a valid number looks like"
    english = fleet.api().client.get(f"/api/v1/lines/by-msisdn/{number}", headers={
        "Authorization": f"Bearer {fleet.token}", "Accept-Language": "en"})
    assert "090-1234-5678" in english.json()["message"]


def test_iccid_with_bad_check_digit_is_404_with_the_reason(fleet: TenantWorld) -> None:
    """The documented form (19-20 digits from 89) with a wrong check digit is no line's serial: 404, the
    message saying the check digit is wrong (issue 14: was 400 for a value the document called valid)."""
    good = fleet.line.iccid
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    response = fleet.api().get(f"/api/v1/lines/by-iccid/{bad}")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert bad in response.json()["message"]
    short = fleet.api().get("/api/v1/lines/by-iccid/898100000000000001")
    assert short.status_code == 400
    assert short.json()["code"] == "INVALID_ICCID"


def test_line_id_that_is_not_a_number_is_4xx(fleet: TenantWorld) -> None:
    response = fleet.api().get("/api/v1/lines/abc")
    assert 400 <= response.status_code < 500


def test_cancelled_and_live_line_with_same_number_prefers_the_live_one_m_line_1(fleet: TenantWorld) -> None:
    number = make_msisdn(6_000_000)
    LineFactory(tenant=fleet.tenant, msisdn=number, status=LineStatus.CANCELLED)
    live = LineFactory(tenant=fleet.tenant, msisdn=number, status=LineStatus.ACTIVE)
    LineFactory(tenant=fleet.tenant, msisdn=number, status=LineStatus.CANCELLED)
    response = fleet.api().get(f"/api/v1/lines/by-msisdn/{number}")
    assert response.json()["id"] == live.pk


def test_openapi_document_lists_the_routes_x_api(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/auth", "/api/v1/lines", "/api/v1/lines/{line_id}", "/api/v1/lines/by-msisdn/{msisdn}",
                 "/api/v1/lines/by-iccid/{iccid}", "/api/v1/api-keys", "/api/v1/api-keys/{key_id}", "/api/v1/me"):
        assert path in paths, f"{path} missing from the OpenAPI document"
    assert "post" in paths["/api/v1/auth"] and "delete" in paths["/api/v1/auth"]
    assert response.json()["components"]["securitySchemes"], "bearer auth is documented"
