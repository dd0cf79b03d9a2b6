"""User management by the tenant's root user (issue 5 §2, M-USER-1, M-USER-2, S-ACC-1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse

from kaisen.accounts.models import User
from kaisen.accounts.services import (
    _issue,
    api_key_create,
    login_check,
    token_issue_for_api_key,
    user_create_limited,
    user_deactivate,
    user_unlock_by_root,
    user_update,
    username_change,
)
from kaisen.audit.models import AuditEvent
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.security.models import LoginThrottle
from kaisen.security.throttle import account_key
from tests.conftest import ApiClient, TenantWorld, make_world
from tests.factories import UserFactory

NEW_PASSWORD = "Umi-no-Hoshi-2026"  # meets the SECURE profile


def _limited(world: TenantWorld, **kw: Any) -> User:
    return user_create_limited(actor=world.user, username=kw.pop("username", "clerk_01"),
                               display_name=kw.pop("display_name", "山田 花子"), email=kw.pop("email", ""),
                               password=kw.pop("password", NEW_PASSWORD))


def _login(user: User, password: str) -> User:
    assert user.tenant is not None
    return login_check(request=RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.44"),
                       operator_id=user.tenant.public_id, username=user.username, password=password)


def _token(user: User) -> str:
    if not user.is_root:  # a user without a role may not create API keys (issue 5 §6): a password login's token
        return _issue(user, None).token
    new = api_key_create(user=user, name="test")
    return token_issue_for_api_key(key_id=new.api_key.key_id, secret=new.secret).token


@pytest.mark.django_db
def test_root_creates_a_limited_user_who_can_log_in(tenant_a: TenantWorld) -> None:
    user = _limited(tenant_a)
    assert not user.is_root and user.is_active and user.tenant == tenant_a.tenant
    assert _login(user, NEW_PASSWORD).pk == user.pk
    response = Client().post(reverse("accounts:login"), {"operator_id": tenant_a.tenant.public_id,
                                                         "username": "clerk_01", "password": NEW_PASSWORD})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.create", target_id=str(user.pk))
    assert event.changes["username"] == [None, "clerk_01"] and event.user_id == tenant_a.user.pk


@pytest.mark.django_db
def test_initial_password_must_meet_the_tenant_profile(tenant_a: TenantWorld) -> None:
    with pytest.raises(DomainError) as exc:
        _limited(tenant_a, password="short")
    assert exc.value.code == ErrorCode.VALIDATION_ERROR and exc.value.field == "password"
    assert not User.objects.filter(username="clerk_01").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "ok"), [
    ("a" * 5, False), ("a" * 6, True), ("a" * 32, True), ("a" * 33, False), ("clerk-01", False),
    ("Clerk_9", True), ("ｃｌｅｒｋ０１", False), ("clerk 01", False),
])
def test_username_rule_m_user_2(tenant_a: TenantWorld, username: str, ok: bool) -> None:
    if ok:
        assert _limited(tenant_a, username=username).username == username
        other = UserFactory(tenant=tenant_a.tenant)
        assert username_change(actor=other, user_id=other.pk, new_username=username[:30] + "_2").pk == other.pk
    else:
        for call in (lambda: _limited(tenant_a, username=username),
                     lambda: username_change(actor=tenant_a.user, user_id=tenant_a.user.pk, new_username=username)):
            with pytest.raises(DomainError) as exc:
                call()
            assert exc.value.code == ErrorCode.INVALID_USERNAME


@pytest.mark.django_db
def test_duplicate_username_and_rules_for_root(tenant_a: TenantWorld) -> None:
    user = _limited(tenant_a)
    with pytest.raises(DomainError) as exc:
        _limited(tenant_a)
    assert exc.value.code == ErrorCode.DUPLICATE
    with pytest.raises(DomainError) as exc:
        username_change(actor=tenant_a.user, user_id=user.pk, new_username=tenant_a.user.username)
    assert exc.value.code == ErrorCode.DUPLICATE
    for call in (lambda: user_deactivate(actor=tenant_a.user, user_id=tenant_a.user.pk),
                 lambda: user_create_limited(actor=user, username="other_01", password=NEW_PASSWORD),
                 lambda: user_update(actor=user, user_id=user.pk, display_name="x"),
                 lambda: user_unlock_by_root(actor=user, user_id=user.pk),
                 lambda: username_change(actor=user, user_id=tenant_a.user.pk, new_username="hijack_01")):
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.code == ErrorCode.PERMISSION_DENIED
    # A limited user renames themselves.
    assert username_change(actor=user, user_id=user.pk, new_username="clerk_02").username == "clerk_02"
    assert _login(User.objects.get(pk=user.pk), NEW_PASSWORD).username == "clerk_02"


@pytest.mark.django_db
def test_writes_are_audited_with_before_and_after(tenant_a: TenantWorld) -> None:
    user = _limited(tenant_a, email="a@example.jp")
    user_update(actor=tenant_a.user, user_id=user.pk, display_name="佐藤 一郎", email="b@example.jp")
    username_change(actor=tenant_a.user, user_id=user.pk, new_username="clerk_99")
    user_deactivate(actor=tenant_a.user, user_id=user.pk)
    events = {e.action + str(sorted(e.changes)): e.changes for e in
              AuditEvent.objects.filter(target_id=str(user.pk), user=tenant_a.user)}
    changes = [c for c in events.values()]
    assert {"display_name": ["山田 花子", "佐藤 一郎"], "email": ["a@example.jp", "b@example.jp"]} in changes
    assert {"username": ["clerk_01", "clerk_99"]} in changes
    assert {"is_active": [True, False]} in changes
    with pytest.raises(DomainError):
        _login(User.objects.get(pk=user.pk), NEW_PASSWORD)


@pytest.mark.django_db
def test_unlock_clears_the_lock_and_the_throttle_so_the_user_can_log_in(tenant_a: TenantWorld) -> None:
    user = _limited(tenant_a)
    for i in range(settings.KAISEN_LOCKOUT_ACCOUNT_FAILURES):
        with pytest.raises(DomainError):
            _login(user, f"wrong-{i}")
    user.refresh_from_db()
    assert user.is_locked
    with pytest.raises(DomainError):
        _login(user, NEW_PASSWORD)
    unlocked = user_unlock_by_root(actor=tenant_a.user, user_id=user.pk)
    assert not unlocked.is_locked and unlocked.failed_login_count == 0
    row = LoginThrottle.objects.get(key=account_key(tenant_a.tenant.public_id, user.username))
    assert row.failures == 0 and row.locked_until is None
    assert _login(user, NEW_PASSWORD).pk == user.pk
    event = AuditEvent.objects.get(action="user.unlock", target_id=str(user.pk))
    assert event.changes["is_locked"] == [True, False] and event.user_id == tenant_a.user.pk


@pytest.mark.django_db
def test_other_tenants_user_is_not_found(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    for call in (lambda: user_update(actor=tenant_a.user, user_id=tenant_b.user.pk, display_name="x"),
                 lambda: user_deactivate(actor=tenant_a.user, user_id=tenant_b.user.pk),
                 lambda: username_change(actor=tenant_a.user, user_id=tenant_b.user.pk, new_username="taken_01"),
                 lambda: user_unlock_by_root(actor=tenant_a.user, user_id=tenant_b.user.pk)):
        with pytest.raises(NotFound):
            call()
    root_b = tenant_b.user
    client = Client()
    client.force_login(tenant_a.user)
    for name in ("accounts:user_detail", "accounts:user_username", "accounts:user_unlock", "accounts:user_active"):
        assert client.post(reverse(name, kwargs={"user_id": root_b.pk})).status_code == 404
    api = tenant_a.api()
    assert api.get(f"/api/v1/users/{root_b.pk}").json()["code"] == "NOT_FOUND"
    assert api.post(f"/api/v1/users/{root_b.pk}/unlock").status_code == 404
    assert api.request("PATCH", f"/api/v1/users/{root_b.pk}", {"display_name": "x"}).status_code == 404
    assert root_b.username not in api.get("/api/v1/users").content.decode()


@pytest.mark.django_db
def test_non_root_gets_403_on_every_users_page_and_api_route(tenant_a: TenantWorld) -> None:
    clerk = _limited(tenant_a)
    target = tenant_a.user.pk
    client = Client()
    client.force_login(clerk)
    pages = [reverse("accounts:users"), reverse("accounts:user_create")] + [
        reverse(n, kwargs={"user_id": target})
        for n in ("accounts:user_detail", "accounts:user_username", "accounts:user_unlock", "accounts:user_active")]
    for url in pages:
        assert client.post(url).status_code == 403, url
    for url in pages[:3]:
        assert client.get(url).status_code == 403, url
    assert "/account/users/" not in client.get(reverse("accounts:security")).content.decode()
    api = ApiClient(_token(clerk), Client())
    for response in (api.get("/api/v1/users"), api.post("/api/v1/users", {"username": "x", "password": "y"}),
                     api.get(f"/api/v1/users/{target}"), api.post(f"/api/v1/users/{target}/unlock"),
                     api.request("PATCH", f"/api/v1/users/{target}", {"display_name": "x"})):
        assert response.status_code == 403
        assert response.json()["code"] == "PERMISSION_DENIED" and response.json()["action"] == "User:manage"
    # Their own username: allowed, through "my account".
    assert client.get(reverse("accounts:my_username")).status_code == 200
    response = client.post(reverse("accounts:my_username"), {"new_username": "clerk_77"})
    assert response.status_code == 302 and User.objects.get(pk=clerk.pk).username == "clerk_77"


@pytest.mark.django_db
def test_root_pages_create_edit_unlock_and_deactivate(tenant_a: TenantWorld) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    page = client.get(reverse("accounts:users")).content.decode()
    assert tenant_a.user.username in page and reverse("accounts:user_create") in page
    response = client.post(reverse("accounts:user_create"), {
        "username": "clerk-bad", "display_name": "", "email": "", "password": NEW_PASSWORD,
        "password2": NEW_PASSWORD})
    assert response.status_code == 200 and "6～32" in response.content.decode()
    response = client.post(reverse("accounts:user_create"), {
        "username": "clerk_10", "display_name": "鈴木", "email": "s@example.jp", "password": NEW_PASSWORD,
        "password2": NEW_PASSWORD})
    user = User.objects.get(tenant=tenant_a.tenant, username="clerk_10")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:user_detail", args=[user.pk])
    detail = client.get(response["Location"]).content.decode()
    assert "clerk_10" in detail and reverse("accounts:user_unlock", args=[user.pk]) not in detail
    User.objects.filter(pk=user.pk).update(is_locked=True)
    assert reverse("accounts:user_unlock", args=[user.pk]) in client.get(response["Location"]).content.decode()
    assert client.post(reverse("accounts:user_unlock", args=[user.pk])).status_code == 302
    assert not User.objects.get(pk=user.pk).is_locked
    assert client.post(reverse("accounts:user_detail", args=[user.pk]),
                       {"display_name": "鈴木 次郎", "email": ""}).status_code == 302
    assert client.post(reverse("accounts:user_username", args=[user.pk]),
                       {"new_username": "clerk_11"}).status_code == 302
    response = client.post(reverse("accounts:user_username", args=[user.pk]), {"new_username": "bad-name"})
    assert response.status_code == 400 and "6～32" in response.content.decode()
    assert client.post(reverse("accounts:user_active", args=[user.pk]), {"is_active": "0"}).status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.email, user.username, user.is_active) == ("鈴木 次郎", "", "clerk_11", False)
    client.post(reverse("accounts:user_active", args=[tenant_a.user.pk]), {"is_active": "0"})
    assert User.objects.get(pk=tenant_a.user.pk).is_active


@pytest.mark.django_db
def test_api_create_list_get_patch_unlock(tenant_a: TenantWorld) -> None:
    api = tenant_a.api()
    response = api.post("/api/v1/users", {"username": "api_user_1", "password": NEW_PASSWORD,
                                          "display_name": "API"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["role"] == "user" and not created["is_locked"]
    assert api.post("/api/v1/users", {"username": "api_user_1", "password": NEW_PASSWORD}).status_code == 409
    assert api.post("/api/v1/users", {"username": "api-user", "password": NEW_PASSWORD}).json()["code"] == \
        "INVALID_USERNAME"
    roles = {u["username"]: u["role"] for u in api.get("/api/v1/users").json()}
    assert roles == {tenant_a.user.username: "root", "api_user_1": "user"}
    uid = created["user_id"]
    patched = api.request("PATCH", f"/api/v1/users/{uid}", {"username": "api_user_2", "is_active": False}).json()
    assert patched["username"] == "api_user_2" and patched["is_active"] is False
    assert api.get(f"/api/v1/users/{uid}").json()["username"] == "api_user_2"
    assert api.post(f"/api/v1/users/{uid}/unlock").json()["is_locked"] is False
    response = api.request("PATCH", f"/api/v1/users/{tenant_a.user.pk}", {"is_active": False})
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_cli_users_list_create_get_unlock(live_server: Any, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from kaisen.cli import app

    world = make_world(n_lines=1)
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": world.token,
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    res = run("users", "create", "--username", "cli_user_1", "--password", NEW_PASSWORD, "--name", "CLI")
    assert res.exit_code == 0, res.output
    uid = json.loads(res.stdout)["user_id"]
    assert "cli_user_1" in [u["username"] for u in json.loads(run("users", "list").stdout)]
    assert json.loads(run("users", "get", str(uid)).stdout)["display_name"] == "CLI"
    User.objects.filter(pk=uid).update(is_locked=True)
    res = run("users", "unlock", str(uid))
    assert res.exit_code == 0 and json.loads(res.stdout)["is_locked"] is False
    res = run("users", "get", "987654321")
    assert res.exit_code == 1 and json.loads(res.stderr.strip().splitlines()[-1])["code"] == "NOT_FOUND"
