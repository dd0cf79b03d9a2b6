"""Bills over the API (K-4, S-BILL-2, X-INVOICE-JP, X-API, T-2): typed answers, paging, 404 for another
tenant, 403 naming the action without Billing:read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from kaisen.access.actions import BILLING_READ
from kaisen.access.services import can, line_tags_set, tag_create, user_line_limits_set, user_roles_set
from kaisen.accounts.services import token_issue_for_password
from tests.charges.conftest import Billed
from tests.conftest import ApiClient, make_world
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_bills_list_is_the_4_month_window_k_4(billed: Billed) -> None:
    api = billed.world.api()
    response = api.get("/api/v1/bills")
    assert response.status_code == 200
    bills = response.json()
    assert [b["month"] for b in bills] == ["2026-11", "2026-10", "2026-09", "2026-08"]
    oct_ = bills[1]
    assert oct_["status"] == "invoiced" and oct_["pdf_available"] is True
    assert Decimal(oct_["tax_total"]) == 295 and Decimal(oct_["total"]) == 3365 and Decimal(oct_["exempt_total"]) == 120
    assert Decimal(oct_["charges"]["domestic"]) == 6 and Decimal(oct_["charges"]["mobile"]) == Decimal("4.50")
    assert Decimal(oct_["charges"]["international"]) == 120
    assert bills[0]["status"] == "accumulating" and bills[0]["pdf_available"] is False
    assert bills[3]["status"] == "payment_error"
    longer = api.get("/api/v1/bills", {"months": 12}).json()
    assert "2026-07" in [b["month"] for b in longer]
    assert api.get("/api/v1/bills", {"months": 0}).status_code == 422
    bad = api.get("/api/v1/bills", {"coverage": "mars"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"


def test_bill_detail_items_and_numbers(billed: Billed) -> None:
    api = billed.world.api()
    l0, l1, _l2 = billed.world.lines
    detail = api.get(f"/api/v1/bills/{billed.oct.pk}").json()
    assert detail["issuer_registration_number"].startswith("T") and len(detail["issuer_registration_number"]) == 14
    fee = next(c for c in detail["cost_types"] if c["label"] == "月額基本料金")
    assert Decimal(fee["amount"]) == 2940 and fee["numbers"] == 3 and fee["tax_class"] == "taxable_10"
    assert any(c["tax_class"] == "exempt" for c in detail["cost_types"])
    # Items, keyset paged.
    first = api.get(f"/api/v1/bills/{billed.oct.pk}/items", {"limit": 4}).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = api.get(f"/api/v1/bills/{billed.oct.pk}/items", {"limit": 4, "cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    only = api.get(f"/api/v1/bills/{billed.oct.pk}/items", {"msisdn": l1.msisdn}).json()["items"]
    assert {i["msisdn"] for i in only} == {l1.msisdn} and len(only) == 3
    assert api.get(f"/api/v1/bills/{billed.oct.pk}/items", {"cursor": "garbage!"}).json()["code"] == "INVALID_CURSOR"
    # Per number (K-4 / K-6 columns, standard rates).
    numbers = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers").json()
    assert numbers["count"] == 2
    row0 = next(n for n in numbers["items"] if n["msisdn"] == l0.msisdn)
    assert Decimal(row0["domestic"]) == 184 and Decimal(row0["total"]) == 184 and row0["line_id"] == l0.pk
    row1 = next(n for n in numbers["items"] if n["msisdn"] == l1.msisdn)
    assert Decimal(row1["au"]) == Decimal("4.50") and Decimal(row1["international"]) == 120
    assert Decimal(row1["total"]) == Decimal("124.50")
    paged = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers", {"limit": 1}).json()
    assert len(paged["items"]) == 1 and paged["next_cursor"]
    searched = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers", {"q": l1.msisdn}).json()
    assert [n["msisdn"] for n in searched["items"]] == [l1.msisdn]


def test_current_month_provisional_and_daily_s_bill_2(billed: Billed) -> None:
    body = billed.world.api().get("/api/v1/bills/current").json()
    assert body["month"] == "2026-11" and body["provisional"] is True and body["invoice_id"] == billed.nov.pk
    assert Decimal(body["charges"]["subtotal"]) == 2980
    assert Decimal(body["tax"]) == 298 and Decimal(body["total"]) == 3278
    assert len(body["days"]) == 16 and body["days"][0]["date"] == "2026-11-01"
    assert Decimal(body["days"][-1]["cumulative"]) == 56
    empty = billed.world.api().get("/api/v1/bills/current", {"coverage": "global"}).json()
    assert empty["invoice_id"] is None and Decimal(empty["charges"]["subtotal"]) == 0


def test_number_calls_10_per_page_k_4(billed: Billed) -> None:
    api = billed.world.api()
    l0, _l1, l2 = billed.world.lines
    url = f"/api/v1/bills/{billed.oct.pk}/numbers/{l0.msisdn}/calls"
    page1 = api.get(url).json()
    assert page1["per_page"] == 10 and page1["count"] == 23 and page1["pages"] == 3 and len(page1["items"]) == 10
    assert page1["month"] == "2026-10" and page1["invoice_id"] == billed.oct.pk
    assert page1["items"][0]["start_time"] == "20:12:21.5" and page1["items"][0]["duration"] == "000106.5"
    assert page1["items"][0]["no"] == 1 and Decimal(page1["total_charge"]) == 184
    page3 = api.get(url, {"page": 3}).json()
    assert [c["no"] for c in page3["items"]] == [21, 22, 23]
    past = api.get(url, {"page": 4})
    assert past.status_code == 400 and past.json()["field"] == "page"
    dashed = f"{l0.msisdn[:3]}-{l0.msisdn[3:7]}-{l0.msisdn[7:]}"
    hyphenated = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers/{dashed}/calls")
    assert hyphenated.json()["count"] == 23
    # The call begun on 31 October is in November's bill (K-4).
    assert api.get(f"/api/v1/bills/{billed.oct.pk}/numbers/{l2.msisdn}/calls").json()["count"] == 0
    assert api.get(f"/api/v1/bills/{billed.nov.pk}/numbers/{l2.msisdn}/calls").json()["count"] == 1
    unknown = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers/09099999999/calls")
    assert unknown.status_code == 404


def test_other_tenants_bills_and_lines_are_404_t_2(billed: Billed) -> None:
    other = make_world(n_lines=1).api()
    l0 = billed.world.lines[0]
    for path in (f"/api/v1/bills/{billed.oct.pk}", f"/api/v1/bills/{billed.oct.pk}/items",
                 f"/api/v1/bills/{billed.oct.pk}/numbers", f"/api/v1/bills/{billed.oct.pk}/pdf",
                 f"/api/v1/bills/{billed.oct.pk}/numbers/{l0.msisdn}/calls"):
        response = other.get(path)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND", path
    assert other.get("/api/v1/bills").json() == []


def _token(billed: Billed, user: object) -> ApiClient:
    token = token_issue_for_password(request=None, operator_id=billed.world.tenant.public_id,
                                     username=user.username, password=PASSWORD).token  # type: ignore[attr-defined]
    return ApiClient(token, Client())


def _limited_client(billed: Billed) -> ApiClient:
    """A limited user with no role: the policy engine gives them no action at all, ``Billing:read`` included."""
    user = UserFactory(tenant=billed.world.tenant, is_root=False)
    assert not can(user=user, action=BILLING_READ)
    return _token(billed, user)


def test_without_billing_read_every_route_is_403_naming_the_action(billed: Billed) -> None:
    api = _limited_client(billed)
    l0 = billed.world.lines[0]
    for path in ("/api/v1/bills", "/api/v1/bills/current", f"/api/v1/bills/{billed.oct.pk}",
                 f"/api/v1/bills/{billed.oct.pk}/items", f"/api/v1/bills/{billed.oct.pk}/numbers",
                 f"/api/v1/bills/{billed.oct.pk}/pdf", f"/api/v1/bills/{billed.oct.pk}/numbers/{l0.msisdn}/calls"):
        response = api.get(path)
        assert response.status_code == 403, (path, response.status_code, response.content[:200])
        body = response.json()
        assert body["code"] == "PERMISSION_DENIED" and body["action"] == BILLING_READ
        assert BILLING_READ in body["message"]


def test_accounting_role_reads_bills_and_line_tags_limit_the_numbers(billed: Billed) -> None:
    """The built-in accounting role has Billing:read; a user limited to a line tag sees only those numbers
    (line_scope) in the per-number charges and call details, while the bill totals stay the account's."""
    root = billed.world.user
    l0, l1, _l2 = billed.world.lines
    accountant = UserFactory(tenant=billed.world.tenant, is_root=False)
    user_roles_set(actor=root, user_id=accountant.pk, roles=["accounting"])
    api = _token(billed, accountant)
    assert api.get("/api/v1/bills").status_code == 200
    assert api.get(f"/api/v1/bills/{billed.oct.pk}/numbers").json()["count"] == 2
    tag = tag_create(actor=root, kind="department", name="営業部")
    line_tags_set(actor=root, line_id=l1.pk, tags=[tag.pk])
    user_line_limits_set(actor=root, user_id=accountant.pk, tag_ids=[tag.pk])
    numbers = api.get(f"/api/v1/bills/{billed.oct.pk}/numbers").json()
    assert [n["msisdn"] for n in numbers["items"]] == [l1.msisdn] and numbers["count"] == 1
    assert api.get(f"/api/v1/bills/{billed.oct.pk}/numbers/{l0.msisdn}/calls").status_code == 404
    assert api.get(f"/api/v1/bills/{billed.oct.pk}/numbers/{l1.msisdn}/calls").json()["count"] == 2
    items = api.get(f"/api/v1/bills/{billed.oct.pk}/items", {"limit": 500}).json()["items"]
    assert {i["msisdn"] for i in items} <= {l1.msisdn, ""}
    assert Decimal(api.get(f"/api/v1/bills/{billed.oct.pk}").json()["total"]) == 3365


def test_openapi_documents_the_bill_routes(db: None) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/bills", "/api/v1/bills/current", "/api/v1/bills/{invoice_id}",
                 "/api/v1/bills/{invoice_id}/items", "/api/v1/bills/{invoice_id}/numbers",
                 "/api/v1/bills/{invoice_id}/pdf", "/api/v1/bills/{invoice_id}/numbers/{msisdn}/calls"):
        assert path in paths, path
    pdf = paths["/api/v1/bills/{invoice_id}/pdf"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf["content"]
