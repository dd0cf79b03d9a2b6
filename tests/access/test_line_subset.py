"""A user limited to a subset of lines (issue 5 §1): every page and API route naming a line answers 404 for
a line outside the subset (as for a line that does not exist) and works for a line inside; lists, lookups,
orders, bulk rows and tagging respect it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from kaisen.access import services as access
from kaisen.core import clock
from kaisen.procedures.bulk import bulk_start
from kaisen.procedures.models import Order
from tests.access.helpers import api, member, web
from tests.conftest import TenantWorld
from tests.factories import LineFactory, make_msisdn
from tests.test_cross_tenant import _example_body, swept_page_routes

pytestmark = pytest.mark.django_db

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)
LINE_PARAMS = {"line_id", "msisdn", "iccid"}


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield


@pytest.fixture
def subset(tenant_a: TenantWorld) -> dict[str, Any]:
    """Sales department lines (inside) and a finance line (outside); a user with every permission but only
    the sales lines."""
    sales = access.tag_create(actor=tenant_a.user, kind="department", name="Sales")
    finance = access.tag_create(actor=tenant_a.user, kind="department", name="Finance")
    inside, outside = tenant_a.lines[0], tenant_a.lines[1]
    access.line_tags_set(actor=tenant_a.user, line_id=inside.pk, tags=[sales.pk])
    access.line_tags_set(actor=tenant_a.user, line_id=outside.pk, tags=[finance.pk])
    user = member(tenant_a, "administrator", username="sales_mgr")
    access.user_line_limits_set(actor=tenant_a.user, user_id=user.pk, tag_ids=[sales.pk])
    return {"user": member_refresh(user), "inside": inside, "outside": outside, "untagged": tenant_a.lines[2],
            "sales": sales, "finance": finance}


def member_refresh(user: Any) -> Any:
    from tests.access.helpers import fresh

    return fresh(user)


def _fill(line: Any) -> dict[str, Any]:
    return {"line_id": line.pk, "msisdn": line.msisdn, "iccid": line.iccid, "pk": line.pk}


def test_every_line_page_404_outside_and_not_inside(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    client = web(subset["user"])
    checked, problems = 0, []
    for route in swept_page_routes():
        names = set(route.params)
        if not names or not (names & LINE_PARAMS or route.name == "lines:detail"):
            continue
        if names - LINE_PARAMS - {"pk", "kind"}:
            continue  # a route naming another object too (an invoice's number): its own tests
        kinds = ["suspend"] if "kind" in names else [None]
        for kind in kinds:
            def url(line: Any, kind: str | None = kind, route: Any = route) -> str:
                kwargs = {p: _fill(line)[p] for p in route.params if p != "kind"}
                if kind:
                    kwargs["kind"] = kind
                return reverse(route.name, kwargs=kwargs)
            inside, outside = client.get(url(subset["inside"])), client.get(url(subset["outside"]))
            untagged = client.get(url(subset["untagged"]))
            checked += 1
            if outside.status_code != 404 or untagged.status_code != 404:
                problems.append(f"{route.name}: outside {outside.status_code}, untagged {untagged.status_code}")
            if inside.status_code == 404:
                problems.append(f"{route.name}: the user's own line answered 404")
    assert checked >= 3, "the line routes were not found"
    assert not problems, "\n".join(problems)


def test_every_line_api_route_404_outside_and_not_inside(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    client = api(subset["user"])
    openapi = Client().get("/api/v1/openapi.json").json()
    components = openapi.get("components", {}).get("schemas", {})
    checked, problems = 0, []
    for path, operations in sorted(openapi["paths"].items()):
        params = set(re.findall(r"{(\w+)}", path))
        if not params or not params <= LINE_PARAMS:
            continue
        for method, operation in sorted(operations.items()):
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            fill = {"kind": "suspend", "tags": ["department:Sales"]}
            body = _example_body(content["schema"], components, fill) if content else None
            answers = {}
            for where in ("inside", "outside"):
                fill = _fill(subset[where])
                url = re.sub(r"{(\w+)}", lambda m, fill=fill: str(fill[m.group(1)]), path)
                answers[where] = client.request(method.upper(), url, body)
            checked += 1
            out = answers["outside"]
            if out.status_code != 404 or out.json().get("code") != "NOT_FOUND":
                problems.append(f"{method.upper()} {path}: outside answered {out.status_code}")
            if answers["inside"].status_code == 404:
                problems.append(f"{method.upper()} {path}: inside answered 404 {answers['inside'].content[:200]!r}")
    assert checked >= 8
    assert not problems, "\n".join(problems)
    assert not Order.objects.filter(line=subset["outside"]).exists()


def test_lists_and_lookups_show_only_the_subset(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    client = api(subset["user"])
    ids = [item["id"] for item in client.get("/api/v1/lines", {"with_count": True}).json()["items"]]
    assert ids == [subset["inside"].pk]
    assert client.get("/api/v1/lines", {"with_count": True}).json()["count"] == 1
    assert client.get(f"/api/v1/lines/by-msisdn/{subset['outside'].msisdn}").status_code == 404
    # Orders on an outside line are not listed and not reachable.
    root = tenant_a.api()
    outside_order = root.post(f"/api/v1/lines/{subset['outside'].pk}/orders",
                              {"kind": "suspend", "idempotency_key": "root-1"}).json()
    inside_order = client.post(f"/api/v1/lines/{subset['inside'].pk}/orders",
                               {"kind": "suspend", "idempotency_key": "mine-1"}).json()
    assert [o["id"] for o in client.get("/api/v1/orders").json()["items"]] == [inside_order["id"]]
    assert client.get(f"/api/v1/orders/{outside_order['id']}").status_code == 404
    assert client.post(f"/api/v1/orders/{outside_order['id']}/cancel").status_code == 404
    # The web pages: list, lookup, home counts.
    page = web(subset["user"]).get(reverse("lines:list")).content.decode()
    assert subset["inside"].iccid in page and subset["outside"].iccid not in page
    lookup = web(subset["user"]).get(reverse("lines:lookup"), {"q": subset["outside"].msisdn})
    assert lookup.status_code == 400 and f"/lines/{subset['outside'].pk}/" not in lookup.content.decode()
    # Tags: the user sees and uses only their own.
    assert [t["label"] for t in client.get("/api/v1/line-tags").json()] == ["department:Sales"]
    assert client.request("PUT", f"/api/v1/lines/{subset['inside'].pk}/tags",
                          {"tags": ["department:Finance"]}).status_code == 404


def test_bulk_rows_outside_the_subset_are_refused_per_row(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    extra = LineFactory(tenant=tenant_a.tenant)
    access.line_tags_set(actor=tenant_a.user, line_id=extra.pk, tags=[subset["sales"].pk])
    rows = [subset["inside"].msisdn, subset["outside"].msisdn, subset["untagged"].iccid, extra.msisdn]
    csv_bytes = ("line\r\n" + "".join(f"{r}\r\n" for r in rows)).encode()
    job, _created = bulk_start(tenant=tenant_a.tenant, user=subset["user"], kind="suspend", csv_bytes=csv_bytes,
                               filename="s.csv", dry_run=False)
    assert [(r["ok"], r["code"]) for r in job.results] == [(True, ""), (False, "NOT_FOUND"), (False, "NOT_FOUND"),
                                                           (True, "")]
    assert not Order.objects.filter(line__in=[subset["outside"], subset["untagged"]]).exists()


def test_a_roles_tags_limit_its_holders(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    access.role_create(actor=tenant_a.user, name="finance readers", statements=[("allow", "Line:read")],
                       tag_ids=[subset["finance"].pk])
    reader = member(tenant_a, "finance readers")
    client = api(reader)
    assert [i["id"] for i in client.get("/api/v1/lines").json()["items"]] == [subset["outside"].pk]
    assert client.get(f"/api/v1/lines/{subset['inside'].pk}").status_code == 404
    # A tag a user or role is limited to cannot be deleted (that would widen their view).
    tag_in_use = tenant_a.api().delete(f"/api/v1/line-tags/{subset['finance'].pk}")
    assert tag_in_use.status_code == 409 and tag_in_use.json()["code"] == "TAG_IN_USE"


def test_bulk_tag_import_csv(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    lines = tenant_a.lines
    body = (f"line,tags\r\n{lines[2].msisdn},department:Sales;department:Finance\r\n"
            f"{lines[1].iccid},\r\n{make_msisdn(99_999)},department:Sales\r\n{lines[0].msisdn},group:Nope\r\n").encode()
    response = tenant_a.api().client.post("/api/v1/line-tags/import",
                                          {"file": SimpleUploadedFile("tags.csv", body, "text/csv")},
                                          headers=tenant_a.api()._headers())
    assert response.status_code == 200, response.content
    rows = response.json()
    assert [(r["ok"], r["code"]) for r in rows] == [(True, ""), (True, ""), (False, "NOT_FOUND"),
                                                    (False, "NOT_FOUND")]
    assert rows[0]["tags"] == ["department:Finance", "department:Sales"] and rows[1]["tags"] == []
    # As the line-limited user, a row on a line outside their lines is NOT_FOUND.
    limited = api(subset["user"])
    body = f"line,tags\r\n{lines[1].msisdn},department:Sales\r\n".encode()
    rows = limited.client.post("/api/v1/line-tags/import", {"file": SimpleUploadedFile("t.csv", body)},
                               headers=limited._headers()).json()
    assert rows[0]["code"] == "NOT_FOUND"


def test_a_line_limited_user_never_reads_the_audit_log(tenant_a: TenantWorld, subset: dict[str, Any]) -> None:
    """The audit log names every line of the tenant: Audit:read is refused to a line-limited user even through
    the administrator role, and allowed again once the limit is lifted."""
    response = api(subset["user"]).get("/api/v1/audit")
    assert response.status_code == 403 and response.json()["action"] == "Audit:read"
    assert web(subset["user"]).get(reverse("audit:list")).status_code == 403
    access.user_line_limits_set(actor=tenant_a.user, user_id=subset["user"].pk, tag_ids=[])
    assert api(member_refresh(subset["user"])).get("/api/v1/audit").status_code == 200
