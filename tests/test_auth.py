"""Login and API authentication (M-AUTH-1, S-ACC-1, X-API, X-AUDIT; issue #2 rules).

Every way a login can fail answers the same generic error, so an attacker learns nothing about which
operator IDs or usernames exist; every attempt is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from kaisen.accounts.models import ApiToken, User
from kaisen.accounts.services import api_key_create, api_key_revoke, login_check
from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.core.errors import DEFAULT_MESSAGES, DomainError, ErrorCode
from tests.conftest import ApiClient, TenantWorld
from tests.factories import PASSWORD, TenantFactory, UserFactory

GENERIC_CODE = "AUTHENTICATION_FAILED"


def _creds(world: TenantWorld, **override: str) -> dict[str, str]:
    creds = {"operator_id": world.tenant.public_id, "username": world.user.username, "password": PASSWORD}
    creds.update(override)
    return creds


def _lock(world: TenantWorld) -> None:
    User.objects.filter(pk=world.user.pk).update(is_locked=True, locked_at=clock.now())


def _deactivate_user(world: TenantWorld) -> None:
    User.objects.filter(pk=world.user.pk).update(is_active=False)


def _deactivate_tenant(world: TenantWorld) -> None:
    world.tenant.is_active = False
    world.tenant.save(update_fields=["is_active"])


def _nothing(world: TenantWorld) -> None:
    return None


FAILURES: list[tuple[str, Callable[[TenantWorld], None], dict[str, str]]] = [
    ("wrong password", _nothing, {"password": "not-the-password"}),
    ("empty password", _nothing, {"password": ""}),
    ("unknown operator ID", _nothing, {"operator_id": "OP9999999999"}),
    ("malformed operator ID", _nothing, {"operator_id": "OP123"}),
    ("unknown username", _nothing, {"username": "nobody_here"}),
    ("locked user", _lock, {}),
    ("inactive user", _deactivate_user, {}),
    ("inactive tenant", _deactivate_tenant, {}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "prepare", "override"), FAILURES, ids=[f[0] for f in FAILURES])
def test_every_api_login_failure_is_the_same_generic_401_and_audited_m_auth_1(
    tenant_a: TenantWorld, case: str, prepare: Callable[[TenantWorld], None], override: dict[str, str],
) -> None:
    """M-AUTH-1 / X-AUDIT: wrong password, unknown operator ID, unknown user, locked user, inactive tenant."""
    prepare(tenant_a)
    before = AuditEvent.objects.filter(success=False).count()
    response = Client().post("/api/v1/auth", _creds(tenant_a, **override), content_type="application/json")
    assert response.status_code == 401, (case, response.content)
    body = response.json()
    assert body["code"] == GENERIC_CODE
    assert body["message"] == str(DEFAULT_MESSAGES[ErrorCode.AUTHENTICATION_FAILED])
    assert "token" not in body
    failures = AuditEvent.objects.filter(success=False)
    assert failures.count() == before + 1, f"{case}: the failed attempt is not audited"
    event = failures.order_by("-id").first()
    assert event is not None
    assert event.action == "auth.login.api"
    assert event.ip_address == "127.0.0.1"
    assert override.get("username", tenant_a.user.username) in event.actor


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "prepare", "override"), FAILURES, ids=[f[0] for f in FAILURES])
def test_every_login_check_failure_is_the_same_domain_error_m_auth_1(
    tenant_a: TenantWorld, case: str, prepare: Callable[[TenantWorld], None], override: dict[str, str],
) -> None:
    prepare(tenant_a)
    before = AuditEvent.objects.filter(success=False, action="auth.login.web").count()
    with pytest.raises(DomainError) as info:
        login_check(request=None, **_creds(tenant_a, **override))
    assert info.value.code == ErrorCode.AUTHENTICATION_FAILED
    assert info.value.field is None
    assert str(info.value.message) == str(DEFAULT_MESSAGES[ErrorCode.AUTHENTICATION_FAILED])
    assert AuditEvent.objects.filter(success=False, action="auth.login.web").count() == before + 1


@pytest.mark.django_db
def test_failure_audit_names_the_tenant_and_user_when_known_x_audit(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError):
        login_check(request=None, **_creds(tenant_a, password="nope"))
    event = AuditEvent.objects.filter(success=False).latest("id")
    assert event.tenant == tenant_a.tenant
    assert event.user == tenant_a.user
    tenant_a.user.refresh_from_db()
    assert tenant_a.user.failed_login_count == 1


@pytest.mark.django_db
def test_successful_api_login_issues_a_token_and_is_audited_m_auth_1(tenant_a: TenantWorld) -> None:
    before = AuditEvent.objects.filter(success=True, action="auth.login.api").count()
    response = Client().post("/api/v1/auth", _creds(tenant_a), content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["operator_id"] == tenant_a.tenant.public_id
    assert body["username"] == tenant_a.user.username
    assert AuditEvent.objects.filter(success=True, action="auth.login.api").count() == before + 1
    event = AuditEvent.objects.filter(action="auth.login.api").latest("id")
    assert (event.tenant, event.user, event.ip_address) == (tenant_a.tenant, tenant_a.user, "127.0.0.1")
    me = ApiClient(body["token"], Client()).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == tenant_a.user.username


@pytest.mark.django_db
def test_operator_id_is_case_and_space_insensitive(tenant_a: TenantWorld) -> None:
    user = login_check(request=None, **_creds(tenant_a, operator_id=f"  {tenant_a.tenant.public_id.lower()} "))
    assert user == tenant_a.user


@pytest.mark.django_db
def test_same_username_in_two_tenants_logs_into_the_right_one_t_2() -> None:
    a, b = TenantFactory(), TenantFactory()
    ua = UserFactory(tenant=a, username="shared_name", password="password-of-a-1")
    ub = UserFactory(tenant=b, username="shared_name", password="password-of-b-1")
    assert login_check(request=None, operator_id=a.public_id, username="shared_name",
                       password="password-of-a-1") == ua
    assert login_check(request=None, operator_id=b.public_id, username="shared_name",
                       password="password-of-b-1") == ub
    with pytest.raises(DomainError):
        login_check(request=None, operator_id=b.public_id, username="shared_name", password="password-of-a-1")


@pytest.mark.django_db
def test_staff_cannot_get_an_api_token_t_3() -> None:
    UserFactory(tenant=None, username="staff_person", is_staff=True)
    response = Client().post("/api/v1/auth", {"operator_id": "", "username": "staff_person", "password": PASSWORD},
                             content_type="application/json")
    assert response.status_code in (400, 401)
    assert "token" not in response.json()


# --- API keys and tokens ----------------------------------------------------------------------------

def _exchange(key_id: str, secret: str):  # type: ignore[no-untyped-def]
    return Client().post("/api/v1/auth", {"key_id": key_id, "secret": secret}, content_type="application/json")


@pytest.mark.django_db
def test_api_key_exchange_gives_a_working_token_x_api(tenant_a: TenantWorld) -> None:
    response = _exchange(tenant_a.api_key.key_id, tenant_a.api_secret)
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    expires_at = dt.datetime.fromisoformat(response.json()["expires_at"])
    ttl = (expires_at - clock.now()).total_seconds()
    assert settings.KAISEN_API_TOKEN_TTL_SECONDS - 60 < ttl <= settings.KAISEN_API_TOKEN_TTL_SECONDS
    lines = ApiClient(token, Client()).get("/api/v1/lines")
    assert lines.status_code == 200
    assert {item["iccid"] for item in lines.json()["items"]} == {line.iccid for line in tenant_a.lines}
    tenant_a.api_key.refresh_from_db()
    assert tenant_a.api_key.last_used_at is not None


@pytest.mark.django_db
def test_api_key_secret_is_stored_hashed_x_api(tenant_a: TenantWorld) -> None:
    tenant_a.api_key.refresh_from_db()
    assert tenant_a.api_secret not in tenant_a.api_key.secret_hash
    assert len(tenant_a.api_key.secret_hash) == 64
    token_row = ApiToken.objects.get(api_key=tenant_a.api_key)
    assert tenant_a.token not in token_row.token_hash


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case", ["wrong secret", "unknown key", "revoked key", "expired key", "locked user", "inactive tenant",
             "missing secret"],
)
def test_bad_api_key_exchange_is_401_and_audited_x_api(tenant_a: TenantWorld, case: str) -> None:
    key_id, secret = tenant_a.api_key.key_id, tenant_a.api_secret
    if case == "wrong secret":
        secret = secret[:-2] + "xx"
    elif case == "unknown key":
        key_id = "KK0000000000000000"
    elif case == "revoked key":
        api_key_revoke(user=tenant_a.user, key_id=key_id)
    elif case == "expired key":
        key = api_key_create(user=tenant_a.user, name="short", expires_at=clock.now() + dt.timedelta(minutes=5))
        key_id, secret = key.api_key.key_id, key.secret
    elif case == "locked user":
        _lock(tenant_a)
    elif case == "inactive tenant":
        _deactivate_tenant(tenant_a)
    elif case == "missing secret":
        secret = ""
    before = AuditEvent.objects.filter(success=False).count()
    if case == "expired key":
        with time_machine.travel(clock.now() + dt.timedelta(minutes=6), tick=False):
            response = _exchange(key_id, secret)
    else:
        response = _exchange(key_id, secret)
    if case == "missing secret":
        assert response.status_code in (400, 401, 422)
        assert "token" not in response.json()
        return
    assert response.status_code == 401, response.content
    assert response.json()["code"] == GENERIC_CODE
    assert "token" not in response.json()
    assert AuditEvent.objects.filter(success=False).count() == before + 1


@pytest.mark.django_db
def test_token_of_revoked_key_is_refused_on_next_request_x_api(tenant_a: TenantWorld) -> None:
    client = tenant_a.api()
    assert client.get("/api/v1/lines").status_code == 200
    revoke = client.delete(f"/api/v1/api-keys/{tenant_a.api_key.key_id}")
    assert revoke.status_code == 200, revoke.content
    assert revoke.json()["revoked_at"] is not None
    response = client.get("/api/v1/lines")
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_INVALID"
    assert _exchange(tenant_a.api_key.key_id, tenant_a.api_secret).status_code == 401


@pytest.mark.django_db
def test_expired_token_is_401_token_invalid(tenant_a: TenantWorld) -> None:
    """Issue #2: an expired API token gets 401."""
    client = tenant_a.api()
    assert client.get("/api/v1/lines").status_code == 200
    later = clock.now() + dt.timedelta(seconds=settings.KAISEN_API_TOKEN_TTL_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        response = client.get("/api/v1/lines")
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_INVALID"
    just_before = clock.now() + dt.timedelta(seconds=settings.KAISEN_API_TOKEN_TTL_SECONDS - 30)
    with time_machine.travel(just_before, tick=False):
        assert client.get("/api/v1/lines").status_code == 200


@pytest.mark.django_db
def test_delete_auth_revokes_the_token(tenant_a: TenantWorld) -> None:
    """Issue #2: a revoked API token gets 401."""
    client = tenant_a.api()
    assert client.get("/api/v1/me").status_code == 200
    response = client.delete("/api/v1/auth")
    assert response.status_code == 204
    after = client.get("/api/v1/me")
    assert after.status_code == 401
    assert after.json()["code"] == "TOKEN_INVALID"
    assert client.delete("/api/v1/auth").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/lines", "/api/v1/me", "/api/v1/api-keys"])
def test_no_authorization_header_is_401_not_authenticated(tenant_a: TenantWorld, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert tenant_a.line.iccid not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "kst_abc"])
def test_bad_authorization_header_is_401(tenant_a: TenantWorld, header: str) -> None:
    response = Client().get("/api/v1/lines", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] in ("TOKEN_INVALID", "NOT_AUTHENTICATED")


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["lock user", "deactivate user", "deactivate tenant"])
def test_existing_token_stops_working_when_user_locked_or_tenant_inactive(tenant_a: TenantWorld, change: str,
                                                                         settings: Any) -> None:
    """The change is written straight to the database, as another process would: the token cache of this
    process (KAISEN_API_TOKEN_CACHE_SECONDS, issue 11 §2) trusts the token at most that long."""
    client = tenant_a.api()
    assert client.get("/api/v1/me").status_code == 200
    {"lock user": _lock, "deactivate user": _deactivate_user, "deactivate tenant": _deactivate_tenant}[change](tenant_a)
    with time_machine.travel(clock.now() + dt.timedelta(seconds=settings.KAISEN_API_TOKEN_CACHE_SECONDS + 0.1),
                             tick=False):
        assert client.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_api_key_create_and_list_through_api_shows_secret_once_x_api(tenant_a: TenantWorld) -> None:
    client = tenant_a.api()
    created = client.post("/api/v1/api-keys", {"name": "ci robot"})
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    listed = client.get("/api/v1/api-keys")
    assert listed.status_code == 200
    assert created.json()["key_id"] in {k["key_id"] for k in listed.json()}
    assert secret not in listed.content.decode()
    assert _exchange(created.json()["key_id"], secret).status_code == 200
    assert client.post("/api/v1/api-keys", {"name": ""}).status_code in (400, 422)
