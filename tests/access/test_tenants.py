"""Access objects belong to one tenant (T-2, issue 5 §1): another tenant's role, tag, user or approval
answers 404 NOT_FOUND through the services and the API, and nothing of it changes."""

from __future__ import annotations

import pytest

from kaisen.access import services as access
from kaisen.access.models import LineTagging, Role, RoleAssignment, UserLineLimit
from kaisen.core.errors import NotFound
from tests.access.helpers import member
from tests.conftest import TenantWorld

pytestmark = pytest.mark.django_db


def test_another_tenants_role_tag_and_user_are_404(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    b_role = access.role_create(actor=tenant_b.user, name="B only", statements=[("allow", "*")])
    b_tag = access.tag_create(actor=tenant_b.user, kind="group", name="B fleet")
    b_user = member(tenant_b, "read_only")
    a_user = member(tenant_a)
    api = tenant_a.api()
    for method, path, body in (
        ("GET", f"/api/v1/roles/{b_role.pk}", None),
        ("PATCH", f"/api/v1/roles/{b_role.pk}", {"name": "taken"}),
        ("DELETE", f"/api/v1/roles/{b_role.pk}", None),
        ("DELETE", f"/api/v1/line-tags/{b_tag.pk}", None),
        ("GET", f"/api/v1/users/{b_user.pk}/access", None),
        ("PUT", f"/api/v1/users/{b_user.pk}/roles", {"roles": []}),
        ("PUT", f"/api/v1/users/{a_user.pk}/roles", {"roles": [b_role.pk]}),
        ("PUT", f"/api/v1/users/{a_user.pk}/line-tags", {"tags": [b_tag.pk]}),
        ("PUT", f"/api/v1/lines/{tenant_a.line.pk}/tags", {"tags": [b_tag.pk]}),
        ("PUT", f"/api/v1/lines/{tenant_b.line.pk}/tags", {"tags": []}),
        ("POST", "/api/v1/roles", {"name": "with B tag", "line_tag_ids": [b_tag.pk]}),
    ):
        response = api.request(method, path, body)
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "NOT_FOUND"
    # Nothing of B's changed, and nothing of B's reached A.
    assert Role.objects.get(pk=b_role.pk).name == "B only"
    assert RoleAssignment.objects.filter(user=b_user).count() == 1
    assert not RoleAssignment.objects.filter(user=a_user).exists()
    assert not UserLineLimit.objects.filter(user=a_user).exists()
    assert not LineTagging.objects.filter(tag=b_tag).exists()
    assert not Role.objects.filter(name="with B tag").exists()
    assert b_tag.pk not in [t["id"] for t in api.get("/api/v1/line-tags").json()]
    assert b_role.pk not in [r["id"] for r in api.get("/api/v1/roles").json()]
    with pytest.raises(NotFound):
        access.role_get(tenant=tenant_a.tenant, role_id=b_role.pk)
    with pytest.raises(NotFound):
        access.user_roles_set(actor=tenant_a.user, user_id=a_user.pk, roles=["B only"])


def test_builtin_roles_are_shared_but_assignments_are_not(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    ops_a = member(tenant_a, "operations")
    ops_b = member(tenant_b, "operations")
    role = access.builtin_roles_ensure()["operations"]
    holders_seen_by_a = tenant_a.api().get(f"/api/v1/roles/{role.pk}")
    assert holders_seen_by_a.status_code == 200
    page = tenant_a.api().get(f"/api/v1/users/{ops_b.pk}/access")
    assert page.status_code == 404
    assert tenant_a.api().get(f"/api/v1/users/{ops_a.pk}/access").json()["roles"][0]["key"] == "operations"
