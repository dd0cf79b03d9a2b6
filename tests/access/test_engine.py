"""The policy engine (issue 5 §1, §6): deny beats allow, wildcards, roles and direct statements, the root
user, a user with no role, API keys narrower than their user, and permission removal through keys."""

from __future__ import annotations

import pytest
from django.test import Client

from kaisen.access import actions as a
from kaisen.access import services as access
from kaisen.access.policies import BUILTIN_ROLES
from kaisen.accounts.services import api_key_create, token_issue_for_api_key
from kaisen.core.errors import DomainError, ErrorCode
from tests.access.helpers import fresh, member
from tests.conftest import ApiClient, TenantWorld

pytestmark = pytest.mark.django_db


def test_root_user_may_do_every_action_s_acc_1(tenant_a: TenantWorld) -> None:
    assert all(access.can(user=tenant_a.user, action=name) for name in a.ACTIONS)


def test_a_user_without_role_may_do_nothing(tenant_a: TenantWorld) -> None:
    """Issue 5 §1 decision: no role and no statement = no action (own sign-in settings are not actions)."""
    nobody = member(tenant_a)
    assert not any(access.can(user=nobody, action=name) for name in a.ACTIONS)
    with pytest.raises(DomainError) as exc:
        access.authorize(user=nobody, action=a.LINE_READ)
    assert exc.value.code == ErrorCode.PERMISSION_DENIED and exc.value.as_dict()["action"] == "Line:read"


def test_deny_beats_allow_across_roles_and_direct_statements(tenant_a: TenantWorld) -> None:
    access.role_create(actor=tenant_a.user, name="no cancel", statements=[("deny", "Line:cancel")])
    admin = member(tenant_a, "administrator", "no cancel")
    assert access.can(user=admin, action=a.LINE_SUSPEND)
    assert not access.can(user=admin, action=a.LINE_CANCEL), "a deny in one role beats the * of another"
    # A direct deny on the user beats a role's allow as well.
    ops = member(tenant_a, "operations")
    assert access.can(user=ops, action=a.LINE_SUSPEND)
    access.user_statements_set(actor=tenant_a.user, user_id=ops.pk, statements=[("deny", "Line:suspend")])
    assert not access.can(user=fresh(ops), action=a.LINE_SUSPEND)
    assert access.can(user=fresh(ops), action=a.LINE_RESUME)


def test_wildcards_resource_and_star(tenant_a: TenantWorld) -> None:
    access.role_create(actor=tenant_a.user, name="line all", statements=[("allow", "Line:*")])
    user = member(tenant_a, "line all")
    line_actions = [n for n in a.ACTIONS if n.startswith("Line:")]
    assert line_actions and all(access.can(user=user, action=n) for n in line_actions)
    assert not access.can(user=user, action=a.ORDER_READ)
    assert not access.can(user=user, action=a.BILLING_READ)
    access.user_statements_set(actor=tenant_a.user, user_id=user.pk,
                               statements=[("allow", "*"), ("deny", "Billing:*")])
    user = fresh(user)
    assert access.can(user=user, action=a.ORDER_READ) and access.can(user=user, action=a.AUDIT_READ)
    assert not access.can(user=user, action=a.BILLING_READ)


@pytest.mark.parametrize("bad", ["Line:destroy", "Nothing:*", "line:read", "", "**", "Line"])
def test_a_statement_must_name_a_catalogue_action(tenant_a: TenantWorld, bad: str) -> None:
    with pytest.raises(DomainError) as exc:
        access.role_create(actor=tenant_a.user, name="bad", statements=[("allow", bad)])
    assert exc.value.code == ErrorCode.INVALID_ACTION


def test_builtin_roles_as_documented(tenant_a: TenantWorld) -> None:
    ops = member(tenant_a, "operations")
    assert access.can(user=ops, action=a.LINE_SUSPEND) and access.can(user=ops, action=a.LINE_RESUME)
    assert not access.can(user=ops, action=a.LINE_CANCEL), "operations may suspend and resume but not cancel"
    accountant = member(tenant_a, "accounting")
    assert {n for n in a.ACTIONS if access.can(user=accountant, action=n)} == {
        a.BILLING_READ, a.USAGE_READ, a.PAYMENT_MANAGE, a.STATEMENT_REQUEST, a.STATEMENT_DOWNLOAD}
    reader = member(tenant_a, "read_only")
    assert not any(access.can(user=reader, action=n) for n in a.ACTIONS
                   if not n.endswith(":read") and n != a.STATEMENT_DOWNLOAD)
    admin = member(tenant_a, "administrator")
    assert {n for n in a.ACTIONS if not access.can(user=admin, action=n)} == {a.ACCOUNT_MANAGE, a.LINE_TRANSFER}
    assert set(BUILTIN_ROLES) == {"administrator", "operations", "accounting", "read_only"}


def test_a_builtin_role_cannot_be_changed_or_deleted(tenant_a: TenantWorld) -> None:
    role = access.builtin_roles_ensure()["operations"]
    with pytest.raises(DomainError) as exc:
        access.role_update(actor=tenant_a.user, role_id=role.pk, statements=[("allow", "*")])
    assert exc.value.code == ErrorCode.PERMISSION_DENIED
    with pytest.raises(DomainError):
        access.role_delete(actor=tenant_a.user, role_id=role.pk)


def test_managing_roles_needs_role_manage(tenant_a: TenantWorld) -> None:
    ops = member(tenant_a, "operations")
    with pytest.raises(DomainError) as exc:
        access.role_create(actor=ops, name="mine", statements=[("allow", "*")])
    assert exc.value.as_dict()["action"] == "Role:manage"
    with pytest.raises(DomainError):
        access.user_roles_set(actor=ops, user_id=ops.pk, roles=["administrator"])
    assert not access.can(user=fresh(ops), action=a.LINE_CANCEL)


# --- API keys (issue 5 §6) ------------------------------------------------------------------------------

def _key_client(user, actions: list[str] | None = None) -> tuple[ApiClient, str]:  # type: ignore[no-untyped-def]
    new = api_key_create(user=user, name="script")
    if actions is not None:
        access.api_key_actions_set(user=user, key_id=new.api_key.key_id, actions=actions)
    token = token_issue_for_api_key(key_id=new.api_key.key_id, secret=new.secret).token
    return ApiClient(token, Client()), new.api_key.key_id


def test_api_key_narrower_than_its_user(tenant_a: TenantWorld) -> None:
    """Effective = user's ∩ key's: a root user's key narrowed to Line:read reads lines but cannot suspend."""
    client, key_id = _key_client(tenant_a.user, actions=["Line:read"])
    line = tenant_a.line
    assert client.get(f"/api/v1/lines/{line.pk}").status_code == 200
    refused = client.post(f"/api/v1/lines/{line.pk}/orders", {"kind": "suspend", "idempotency_key": "k1"})
    assert refused.status_code == 403
    assert refused.json() == {**refused.json(), "code": "PERMISSION_DENIED", "action": "Line:suspend"}
    assert client.get("/api/v1/orders").json()["action"] == "Order:read"
    me = client.get("/api/v1/access/me").json()
    assert me["actions"] == ["Line:read"] and me["api_key_actions"] == ["Line:read"]
    # The narrowed key cannot widen itself nor mint a wider key.
    assert client.request("PUT", f"/api/v1/api-keys/{key_id}/permissions", {"actions": None}).status_code == 403
    assert client.post("/api/v1/api-keys", {"name": "wider"}).json()["action"] == "ApiKey:manage"


def test_api_key_never_exceeds_its_user(tenant_a: TenantWorld) -> None:
    """A key listing more than its user holds still gets only the user's permissions."""
    ops = member(tenant_a, "operations", "administrator")
    client, _key_id = _key_client(ops, actions=["*"])
    access.user_roles_set(actor=tenant_a.user, user_id=ops.pk, roles=["read_only"])
    line = tenant_a.line
    assert client.get(f"/api/v1/lines/{line.pk}").status_code == 200
    response = client.post(f"/api/v1/lines/{line.pk}/orders", {"kind": "suspend", "idempotency_key": "k2"})
    assert response.status_code == 403 and response.json()["action"] == "Line:suspend"


def test_removing_a_users_permission_removes_it_from_their_keys_at_once(tenant_a: TenantWorld) -> None:
    reader = member(tenant_a, "read_only", "administrator")
    client, _key = _key_client(reader)
    assert client.get("/api/v1/audit").status_code == 200
    access.user_roles_set(actor=tenant_a.user, user_id=reader.pk, roles=["read_only"])
    gone = client.get("/api/v1/audit")  # the very next request, same token
    assert gone.status_code == 403 and gone.json()["action"] == "Audit:read"
    assert client.get(f"/api/v1/lines/{tenant_a.line.pk}").status_code == 200
    access.user_roles_set(actor=tenant_a.user, user_id=reader.pk, roles=[])
    assert client.get(f"/api/v1/lines/{tenant_a.line.pk}").status_code == 403


def test_api_key_revocation_effective_on_next_request_and_last_used(tenant_a: TenantWorld) -> None:
    from kaisen.accounts.models import ApiKey
    from kaisen.accounts.services import api_key_revoke

    client, key_id = _key_client(tenant_a.user)
    assert client.get("/api/v1/me").status_code == 200
    assert ApiKey.objects.get(key_id=key_id).last_used_at is not None
    api_key_revoke(user=tenant_a.user, key_id=key_id)
    assert client.get("/api/v1/me").status_code == 401
