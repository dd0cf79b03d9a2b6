"""Idle timeout of web sessions and no-store on signed-in answers (issue 14 d).

A session used to stay valid for as long as its cookie (a probe found one valid after 13 idle days). A
session is now signed out after the tenant's ``session_idle_minutes`` without a request (default 30), and
after SESSION_COOKIE_AGE from sign-in whatever the activity. Every answer to a signed-in user carries
``Cache-Control: no-store``; public static files do not need it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from kaisen.core import clock
from kaisen.security.models import UserSession
from tests.conftest import TenantWorld
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=clock.JST)


def _login(world: TenantWorld) -> Client:
    client = Client()
    response = client.post("/login/", {"operator_id": world.tenant.public_id, "username": world.user.username,
                                       "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def _signed_in(client: Client) -> bool:
    return client.get("/account/security/").status_code == 200


def test_default_idle_timeout_is_30_minutes(tenant_a: TenantWorld) -> None:
    assert tenant_a.tenant.session_idle_minutes == 30


def test_session_survives_activity_within_the_idle_timeout_and_ends_after_it(tenant_a: TenantWorld) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        client = _login(tenant_a)
        for _ in range(4):  # active every 29 minutes for two hours: still signed in
            traveller.shift(dt.timedelta(minutes=29))
            assert _signed_in(client)
        traveller.shift(dt.timedelta(minutes=31))
        assert not _signed_in(client)
        row = UserSession.objects.get(user=tenant_a.user)
        assert row.end_reason == "idle" and row.ended_at is not None
        # Signing in again works; the old cookie stays dead.
        assert _signed_in(_login(tenant_a))
        assert not _signed_in(client)


def test_the_tenants_idle_minutes_apply(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    tenant_a.tenant.session_idle_minutes = 10
    tenant_a.tenant.save()
    with time_machine.travel(T0, tick=False) as traveller:
        short, default = _login(tenant_a), _login(tenant_b)
        traveller.shift(dt.timedelta(minutes=11))
        assert not _signed_in(short)
        assert _signed_in(default)


def test_absolute_lifetime_ends_an_active_session(tenant_a: TenantWorld) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        client = _login(tenant_a)
        # A session whose store expiry was pushed on (a backend or a save that refreshes it) still ends at
        # SESSION_COOKIE_AGE from sign-in.
        session = client.session
        session.set_expiry(settings.SESSION_COOKIE_AGE * 2)
        session.save()
        steps = settings.SESSION_COOKIE_AGE // (20 * 60)
        for _ in range(steps - 1):
            traveller.shift(dt.timedelta(minutes=20))
            client.get("/account/security/")
        assert _signed_in(client)
        traveller.shift(dt.timedelta(minutes=20))
        assert not _signed_in(client)
        assert UserSession.objects.get(user=tenant_a.user).end_reason == "expired"


@pytest.mark.parametrize("path", ["/", "/lines/", "/account/security/", "/account/sessions/"])
def test_signed_in_pages_are_no_store(tenant_a: TenantWorld, path: str) -> None:
    response = _login(tenant_a).get(path)
    assert response.status_code == 200
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_api_answers_to_a_token_are_no_store(tenant_a: TenantWorld) -> None:
    response = tenant_a.api().get("/api/v1/me")
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]


def test_static_assets_need_not_be_no_store(tenant_a: TenantWorld) -> None:
    # A signed-in browser fetching a static file from the app is not sent no-store.
    signed = _login(tenant_a)
    static = signed.get(settings.STATIC_URL + "kaisen/admin.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_operator_edits_the_idle_minutes_with_the_tenants_other_security_settings(tenant_a: TenantWorld) -> None:
    from django.core.exceptions import ValidationError

    from kaisen.accounts.services import user_create

    staff = user_create(tenant=None, username="idle_staff_1", password="Staff-password-2026", is_staff=True,
                        is_superuser=True)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/tenancy/tenant/{tenant_a.tenant.pk}/change/")
    assert page.status_code == 200
    for field in ("session_idle_minutes", "mfa_policy", "password_profile"):
        assert f'name="{field}"' in page.content.decode()
    for bad in (4, 24 * 60 + 1):
        tenant_a.tenant.session_idle_minutes = bad
        with pytest.raises(ValidationError):
            tenant_a.tenant.full_clean()
