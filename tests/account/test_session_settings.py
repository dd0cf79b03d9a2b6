"""Issue 14 (sessions): the idle timeout is a tenant setting the tenant's root user sees and changes on the
account's "Sign-in settings" page, through the API (``/api/v1/account/session-settings``) and the CLI
(``kaisen account sign-in``): 5 to 1,440 minutes, audited, other users read it only, other tenants untouched,
and the new value applies to the next idle check."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client

from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.tenancy.models import Tenant
from tests.conftest import TenantWorld, make_world
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = "/account/sign-in/"
API = "/api/v1/account/session-settings"


def _web(user: Any, lang: str = "ja") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client


def _minutes(world: TenantWorld) -> int:
    return Tenant.objects.get(pk=world.tenant.pk).session_idle_minutes


def test_root_user_sees_and_changes_it_on_the_page(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    client = _web(tenant_a.user)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "サインイン設定" in html and 'name="session_idle_minutes"' in html and 'value="30"' in html
    assert page["Cache-Control"].count("no-store")
    response = client.post(URL, {"session_idle_minutes": "45"})
    assert response.status_code == 302 and response["Location"] == URL
    assert _minutes(tenant_a) == 45 and _minutes(tenant_b) == 30
    event = AuditEvent.objects.get(action="account.session_settings.update")
    assert event.tenant_id == tenant_a.tenant.pk and event.changes == {"session_idle_minutes": [30, 45]}
    # The account pages link to it.
    assert URL in client.get("/account/profile/").content.decode()


@pytest.mark.parametrize("value", ["4", "1441", "abc", "", "30.5", "-10"])
def test_out_of_bounds_or_not_a_number_is_refused_on_the_page(tenant_a: TenantWorld, value: str) -> None:
    page = _web(tenant_a.user, "en").post(URL, {"session_idle_minutes": value})
    assert page.status_code == 200
    assert "is-invalid" in page.content.decode()
    assert _minutes(tenant_a) == 30
    assert not AuditEvent.objects.filter(action="account.session_settings.update").exists()


def test_other_users_read_it_but_cannot_change_it(tenant_a: TenantWorld) -> None:
    user = UserFactory(tenant=tenant_a.tenant, is_root=False)
    client = _web(user, "en")
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="session-idle-minutes">30<' in html and 'name="session_idle_minutes"' not in html
    assert client.post(URL, {"session_idle_minutes": "60"}).status_code == 403
    assert _minutes(tenant_a) == 30


def test_api_reads_and_changes_it_with_bounds(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    api = tenant_a.api()
    got = api.get(API)
    assert got.status_code == 200
    assert got.json() == {"session_idle_minutes": 30, "minimum": 5, "maximum": 1440, "can_change": True}
    changed = api.request("PATCH", API, {"session_idle_minutes": 5})
    assert changed.status_code == 200 and changed.json()["session_idle_minutes"] == 5
    assert _minutes(tenant_a) == 5
    for bad in (4, 1441, "sixty", None, True):
        refused = api.request("PATCH", API, {"session_idle_minutes": bad})
        assert refused.status_code == 422, (bad, refused.content)
        assert refused.json()["code"] == "VALIDATION_ERROR"
    assert api.request("PATCH", API, {}).status_code == 422
    assert _minutes(tenant_a) == 5
    # Tenant B sees and changes only its own.
    assert tenant_b.api().get(API).json()["session_idle_minutes"] == 30
    assert tenant_b.api().request("PATCH", API, {"session_idle_minutes": 1440}).status_code == 200
    assert _minutes(tenant_a) == 5 and _minutes(tenant_b) == 1440


def test_api_refuses_a_user_who_is_not_root(tenant_a: TenantWorld) -> None:
    from kaisen.accounts.services import token_issue_for_password

    user = UserFactory(tenant=tenant_a.tenant, is_root=False)
    token = token_issue_for_password(request=None, operator_id=tenant_a.tenant.public_id, username=user.username,
                                     password=PASSWORD).token
    headers = {"Authorization": f"Bearer {token}"}
    client = Client()
    assert client.get(API, headers=headers).json()["can_change"] is False
    refused = client.patch(API, {"session_idle_minutes": 60}, content_type="application/json", headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "PERMISSION_DENIED"
    assert _minutes(tenant_a) == 30


def test_the_changed_value_applies_to_sessions(tenant_a: TenantWorld) -> None:
    assert tenant_a.api().request("PATCH", API, {"session_idle_minutes": 7}).status_code == 200
    start = clock.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as traveller:
        client = Client()
        assert client.post("/login/", {"operator_id": tenant_a.tenant.public_id, "username": tenant_a.user.username,
                                       "password": PASSWORD}).status_code == 302
        traveller.shift(dt.timedelta(minutes=6))
        assert client.get(URL).status_code == 200
        traveller.shift(dt.timedelta(minutes=8))
        assert client.get(URL).status_code == 302  # idle longer than 7 minutes: signed out


@pytest.mark.django_db(transaction=True)
def test_cli_shows_and_changes_it(live_server: Any, tmp_path: Path) -> None:
    from tests.test_cli import _run

    world = make_world(n_lines=0)
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": world.token,
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    shown = _run(["account", "sign-in"], env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["session_idle_minutes"] == 30
    changed = _run(["account", "sign-in", "--idle-minutes", "90"], env)
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["session_idle_minutes"] == 90
    assert Tenant.objects.get(pk=world.tenant.pk).session_idle_minutes == 90
    refused = _run(["account", "sign-in", "--idle-minutes", "2"], env)
    assert refused.exit_code == 2  # refused by the command's bounds before any call
    assert Tenant.objects.get(pk=world.tenant.pk).session_idle_minutes == 90
