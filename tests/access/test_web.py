"""The access pages (issue 5 §1, §6): the root user manages roles, users' access, tags and approvals; buttons
and menu entries a user may not use are not shown; a forced page answers 403."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.urls import reverse

from kaisen.access import services as access
from kaisen.access.models import ApprovalRequest, Role, RoleAssignment
from kaisen.core import clock
from kaisen.procedures.models import Order
from tests.access.helpers import member, web
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db

TUESDAY_1030 = dt.datetime(2026, 11, 24, 10, 30, tzinfo=clock.JST)


@pytest.fixture(autouse=True)
def _in_reception_hours() -> Iterator[None]:
    with time_machine.travel(TUESDAY_1030, tick=False):
        yield


def test_root_creates_a_role_and_assigns_it_with_a_line_limit(tenant_a: TenantWorld) -> None:
    client = web(tenant_a.user)
    assert client.get(reverse("access:index")).status_code == 200
    tag = access.tag_create(actor=tenant_a.user, kind="cost_centre", name="CC-100")
    created = client.post(reverse("access:role_create"), {
        "name": "Support", "description": "first line", "effect:Line:read": "allow", "effect:Line:suspend": "allow",
        "effect:Line:cancel": "deny", "patterns": "allow Order:*", "tags": [str(tag.pk)]})
    assert created.status_code == 302
    role = Role.objects.get(tenant=tenant_a.tenant, name="Support")
    assert sorted(access.role_statements(role)) == [("allow", "Line:read"), ("allow", "Line:suspend"),
                                                     ("allow", "Order:*"), ("deny", "Line:cancel")]
    assert list(role.line_tags.all()) == [tag]
    page = client.get(reverse("access:role_detail", kwargs={"role_id": role.pk})).content.decode()
    assert "Support" in page and "CC-100" in page
    bad = client.post(reverse("access:role_create"), {"name": "Bad", "patterns": "allow Line:explode"})
    assert bad.status_code == 400 and not Role.objects.filter(name="Bad").exists()

    clerk = member(tenant_a)
    saved = client.post(reverse("access:user_access", kwargs={"user_id": clerk.pk}),
                        {"roles": [str(role.pk)], "tags": [str(tag.pk)], "effect:Billing:read": "allow"})
    assert saved.status_code == 302
    assert RoleAssignment.objects.filter(user=clerk, role=role).exists()
    data = access.user_access(tenant=tenant_a.tenant, user=clerk)
    assert data["line_tags"] == [tag] and data["statements"] == [("allow", "Billing:read")]
    index = client.get(reverse("access:index")).content.decode()
    assert clerk.username in index and "Support" in index


def test_user_creation_with_roles_on_the_web_and_api(tenant_a: TenantWorld) -> None:
    operations = access.builtin_roles_ensure()["operations"]
    client = web(tenant_a.user)
    form = client.get(reverse("accounts:user_create")).content.decode()
    assert 'name="roles"' in form
    response = client.post(reverse("accounts:user_create"), {
        "username": "ops_clerk_1", "password": "correct-horse-battery-9", "password2": "correct-horse-battery-9",
        "roles": [str(operations.pk)]})
    assert response.status_code == 302
    assert RoleAssignment.objects.filter(user__username="ops_clerk_1", role=operations).exists()
    made = tenant_a.api().post("/api/v1/users", {"username": "acct_clerk_1", "password": "correct-horse-battery-9",
                                                 "roles": ["accounting"]})
    assert made.status_code == 201 and len(made.json()["roles"]) == 1
    assert RoleAssignment.objects.filter(user__username="acct_clerk_1", role__key="accounting").exists()
    unknown = tenant_a.api().post("/api/v1/users", {"username": "x_clerk_1", "password": "correct-horse-battery-9",
                                                    "roles": ["no-such-role"]})
    assert unknown.status_code == 404
    from kaisen.accounts.models import User

    assert not User.objects.filter(username="x_clerk_1").exists(), "no user without the roles asked for"


def test_menu_and_buttons_follow_permissions(tenant_a: TenantWorld) -> None:
    accountant = member(tenant_a, "accounting")
    home = web(accountant).get(reverse("core:home")).content.decode()
    for hidden in (reverse("lines:list"), reverse("procedures:order_list"), reverse("procedures:bulk"),
                   reverse("audit:list"), reverse("accounts:users"), reverse("access:index")):
        assert f'href="{hidden}"' not in home, hidden
    # Accounting may read usage without reading lines: its menu shows Usage, Charges and Reports.
    for shown in (reverse("usage:overview"), reverse("billing:charges"), reverse("statements:index")):
        assert f'href="{shown}"' in home, shown
    ops = member(tenant_a, "operations")
    page = web(ops).get(reverse("lines:detail", kwargs={"pk": tenant_a.line.pk})).content.decode()
    assert reverse("procedures:suspend", kwargs={"line_id": tenant_a.line.pk}) in page
    assert reverse("procedures:cancellation", kwargs={"line_id": tenant_a.line.pk}) not in page
    assert f'href="{reverse("lines:list")}"' in page and f'href="{reverse("audit:list")}"' not in page
    usage_button = reverse("usage:line", kwargs={"line_id": tenant_a.line.pk})
    assert usage_button in page  # operations may read usage
    lines_only = member(tenant_a)
    access.user_statements_set(actor=tenant_a.user, user_id=lines_only.pk, statements=[("allow", "Line:read")])
    plain = web(lines_only).get(reverse("lines:detail", kwargs={"pk": tenant_a.line.pk})).content.decode()
    assert usage_button not in plain  # no Usage:read, no Data usage button
    root_page = web(tenant_a.user).get(reverse("lines:detail", kwargs={"pk": tenant_a.line.pk})).content.decode()
    assert reverse("procedures:cancellation", kwargs={"line_id": tenant_a.line.pk}) in root_page
    assert f'href="{reverse("access:index")}"' in root_page


def test_forced_pages_answer_403(tenant_a: TenantWorld) -> None:
    ops = member(tenant_a, "operations")
    client = web(ops)
    line = tenant_a.line
    for url in (reverse("procedures:cancellation", kwargs={"line_id": line.pk}), reverse("access:index"),
                reverse("audit:list"), reverse("accounts:users"), reverse("access:tags")):
        assert client.get(url).status_code == 403, url
    response = client.post(reverse("procedures:cancellation", kwargs={"line_id": line.pk}),
                           {"step": "submit", "end_date": "2026-12-31", "idempotency_key": "web-x"})
    assert response.status_code == 403 and not Order.objects.filter(line=line).exists()


def test_approval_pages(tenant_a: TenantWorld) -> None:
    access.access_settings_update(actor=tenant_a.user, approval_required=True)
    clerk = member(tenant_a, "administrator", username="clerk_web")
    manager = member(tenant_a, "administrator", username="manager_web")
    line = tenant_a.line
    submitted = web(clerk).post(reverse("procedures:cancellation", kwargs={"line_id": line.pk}),
                                {"step": "submit", "end_date": "2026-12-31", "idempotency_key": "web-appr-1"})
    req = ApprovalRequest.objects.get(line=line)
    assert submitted.status_code == 302 and submitted["Location"] == reverse("access:approval_detail",
                                                                           kwargs={"approval_id": req.pk})
    own = web(clerk).get(submitted["Location"]).content.decode()
    assert 'value="approve"' not in own and 'value="withdraw"' in own
    queue = web(manager).get(reverse("access:approvals")).content.decode()
    assert reverse("access:approval_detail", kwargs={"approval_id": req.pk}) in queue
    assert 'value="approve"' in web(manager).get(submitted["Location"]).content.decode()
    done = web(manager).post(submitted["Location"], {"decision": "approve", "note": "ok"})
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == "approved" and Order.objects.filter(line=line).count() == 1
    again = web(manager).post(submitted["Location"], {"decision": "approve"})
    assert again.status_code == 409 and Order.objects.filter(line=line).count() == 1


def test_tags_page_line_tags_and_key_permissions_page(tenant_a: TenantWorld) -> None:
    client = web(tenant_a.user)
    assert client.post(reverse("access:tags"), {"do": "create", "kind": "group", "name": "Fleet"}).status_code == 302
    tag = access.tag_list(tenant=tenant_a.tenant)[0]
    line = tenant_a.line
    assert client.get(reverse("access:line_tags", kwargs={"line_id": line.pk})).status_code == 200
    tagged = client.post(reverse("access:line_tags", kwargs={"line_id": line.pk}), {"tags": [str(tag.pk)]})
    assert tagged.status_code == 302
    assert "Fleet" in client.get(reverse("lines:detail", kwargs={"pk": line.pk})).content.decode()
    key = tenant_a.api_key.key_id
    assert client.get(reverse("access:api_key_permissions", kwargs={"key_id": key})).status_code == 200
    client.post(reverse("access:api_key_permissions", kwargs={"key_id": key}),
                {"mode": "narrow", "actions": ["Line:read", "Order:read"]})
    assert access.api_key_actions(api_key=tenant_a.api_key) == ["Line:read", "Order:read"]
    client.post(reverse("access:api_key_permissions", kwargs={"key_id": key}), {"mode": "all"})
    assert access.api_key_actions(api_key=tenant_a.api_key) is None


def test_the_requester_sees_their_orders_complete_page_without_order_read(tenant_a: TenantWorld) -> None:
    access.role_create(actor=tenant_a.user, name="suspend only", statements=[("allow", "Line:read"),
                                                                            ("allow", "Line:suspend")])
    clerk = member(tenant_a, "suspend only")
    client = web(clerk)
    line = tenant_a.line
    done = client.post(reverse("procedures:suspend", kwargs={"line_id": line.pk}),
                       {"step": "submit", "idempotency_key": "web-own-1"})
    assert done.status_code == 302
    assert client.get(done["Location"]).status_code == 200
    order = Order.objects.get(line=line)
    assert client.get(reverse("procedures:order_detail", kwargs={"order_id": order.pk})).status_code == 403
    other = Order.objects.create(tenant=tenant_a.tenant, line=tenant_a.lines[1], kind="suspend", params={},
                                 status="scheduled", idempotency_key="other", params_hash="other",
                                 effective_date=order.effective_date, due_at=order.due_at)
    assert client.get(reverse("procedures:complete", kwargs={"order_id": other.pk})).status_code == 404
