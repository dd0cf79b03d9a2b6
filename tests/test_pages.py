"""The web pages (M-HOME-1, M-LINE-1, M-DL-4, M-AUTH-1, X-API, X-AUDIT, X-I18N) through Django's test client."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from kaisen.audit.models import AuditEvent
from kaisen.core.errors import DEFAULT_MESSAGES, ErrorCode
from kaisen.core.numbers import msisdn_format
from tests.conftest import TenantWorld
from tests.factories import PASSWORD, LineFactory, UserFactory

pytestmark = pytest.mark.django_db


def _session(world: TenantWorld) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


def _login(client: Client, world: TenantWorld, **override: str):  # type: ignore[no-untyped-def]
    data = {"operator_id": world.tenant.public_id, "username": world.user.username, "password": PASSWORD}
    data.update(override)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client.post(reverse("accounts:login"), data)


def test_login_form_logs_in_and_lands_on_home_m_home_1(tenant_a: TenantWorld) -> None:
    client = Client()
    page = client.get(reverse("accounts:login"))
    assert page.status_code == 200
    for field in ("operator_id", "username", "password"):
        assert f'name="{field}"' in page.content.decode()
    response = _login(client, tenant_a)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    home = client.get(reverse("core:home"))
    assert home.status_code == 200
    assert AuditEvent.objects.filter(action="auth.login.web", success=True, user=tenant_a.user).exists()


@pytest.mark.parametrize("case", ["wrong password", "unknown operator", "unknown user", "locked user"])
def test_login_form_failures_show_the_same_generic_error_m_auth_1(tenant_a: TenantWorld, case: str) -> None:
    override = {"wrong password": {"password": "nope-nope-nope"}, "unknown operator": {"operator_id": "OP9999999999"},
                "unknown user": {"username": "somebody_else"}, "locked user": {}}[case]
    if case == "locked user":
        tenant_a.user.is_locked = True
        tenant_a.user.save(update_fields=["is_locked"])
    before = AuditEvent.objects.filter(success=False, action="auth.login.web").count()
    client = Client()
    response = _login(client, tenant_a, **override)
    assert response.status_code == 401
    from django.utils import translation

    with translation.override("en"):
        generic = str(DEFAULT_MESSAGES[ErrorCode.AUTHENTICATION_FAILED])
    assert generic in response.content.decode()
    assert AuditEvent.objects.filter(success=False, action="auth.login.web").count() == before + 1
    assert client.get(reverse("core:home")).status_code == 302, "still logged out"


def test_pages_require_login(tenant_a: TenantWorld) -> None:
    for name, kwargs in (("core:home", {}), ("lines:list", {}), ("lines:lookup", {}),
                         ("lines:detail", {"pk": tenant_a.line.pk}), ("accounts:api_keys", {}), ("audit:list", {})):
        response = Client().get(reverse(name, kwargs=kwargs))
        assert response.status_code == 302, name
        assert reverse("accounts:login") in response["Location"]


def test_line_list_shows_own_lines_and_filters_m_dl_4(tenant_a: TenantWorld, tenant_b: TenantWorld) -> None:
    client = _session(tenant_a)
    page = client.get(reverse("lines:list"))
    assert page.status_code == 200
    text = page.content.decode()
    for line in tenant_a.lines:
        assert line.iccid in text
    assert tenant_b.line.iccid not in text
    suspended = LineFactory(tenant=tenant_a.tenant, status="suspended")
    filtered = client.get(reverse("lines:list"), {"status": "suspended"}).content.decode()
    assert suspended.iccid in filtered
    assert tenant_a.line.iccid not in filtered
    bad = client.get(reverse("lines:list"), {"status": "exploded"})
    assert bad.status_code == 400


def test_line_list_pages_with_cursor(tenant_a: TenantWorld) -> None:
    LineFactory.create_batch(60, tenant=tenant_a.tenant)
    client = _session(tenant_a)
    first = client.get(reverse("lines:list"))
    assert first.status_code == 200
    cursor = first.context["page"].next_cursor
    assert cursor
    second = client.get(reverse("lines:list"), {"cursor": cursor})
    assert second.status_code == 200
    assert {x.pk for x in first.context["page"].items}.isdisjoint({x.pk for x in second.context["page"].items})
    assert client.get(reverse("lines:list"), {"cursor": "forged"}).status_code == 400


def test_lookup_by_number_and_serial_m_line_1(tenant_a: TenantWorld) -> None:
    client = _session(tenant_a)
    line = tenant_a.line
    for query in (msisdn_format(line.msisdn or ""), line.msisdn, line.iccid):
        response = client.get(reverse("lines:lookup"), {"q": query})
        assert response.status_code == 302, query
        assert response["Location"] == reverse("lines:detail", kwargs={"pk": line.pk})
    detail = client.get(reverse("lines:detail", kwargs={"pk": line.pk}))
    assert detail.status_code == 200
    assert line.iccid in detail.content.decode()


@pytest.mark.parametrize("query", ["03-1234-5678", "abc", "8981000000000000001"])
def test_lookup_bad_input_is_a_clear_400(tenant_a: TenantWorld, query: str) -> None:
    response = _session(tenant_a).get(reverse("lines:lookup"), {"q": query})
    assert response.status_code == 400
    assert query in response.content.decode()


def test_api_keys_page_creates_and_revokes_x_api(tenant_a: TenantWorld) -> None:
    client = _session(tenant_a)
    assert client.get(reverse("accounts:api_keys")).status_code == 200
    created = client.post(reverse("accounts:api_keys"), {"name": "nightly export"})
    assert created.status_code == 200
    new = created.context["new"]
    assert new.secret in created.content.decode(), "the secret is shown once"
    assert new.secret not in client.get(reverse("accounts:api_keys")).content.decode()
    revoke = client.post(reverse("accounts:api_key_revoke", kwargs={"key_id": new.api_key.key_id}))
    assert revoke.status_code == 302
    new.api_key.refresh_from_db()
    assert new.api_key.revoked_at is not None


def test_audit_page_is_for_the_root_user_and_shows_own_tenant_x_audit(tenant_a: TenantWorld,
                                                                       tenant_b: TenantWorld) -> None:
    page = _session(tenant_a).get(reverse("audit:list"))
    assert page.status_code == 200
    assert tenant_a.api_key.key_id in page.content.decode()
    assert tenant_b.api_key.key_id not in page.content.decode()
    member = UserFactory(tenant=tenant_a.tenant, is_root=False)
    client = Client()
    client.force_login(member)
    assert client.get(reverse("audit:list")).status_code == 403


def test_japanese_by_default_english_on_request_x_i18n(tenant_a: TenantWorld) -> None:
    client = Client()
    ja = client.get(reverse("accounts:login"))
    assert 'lang="ja"' in ja.content.decode()
    assert "パスワード" in ja.content.decode()
    browser_says_en = Client().get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en")
    assert "パスワード" in browser_says_en.content.decode(), "pages stay Japanese whatever the browser says"
    switched = Client()
    response = switched.post(reverse("set_language"), {"language": "en", "next": reverse("accounts:login")})
    assert response.status_code == 302
    en = switched.get(reverse("accounts:login"))
    assert 'lang="en"' in en.content.decode()
    assert "Password" in en.content.decode()


def test_lookup_accepts_full_width_serial_m_line_1(tenant_a: TenantWorld) -> None:
    """M-LINE-1: a serial typed with full-width digits (a Japanese IME) finds the line like a phone number does."""
    from kaisen.lines.selectors import line_lookup

    line = tenant_a.line
    full_width = line.iccid.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert line_lookup(tenant=tenant_a.tenant, query=full_width) == line
    assert line_lookup(tenant=tenant_a.tenant, query=f"{line.iccid[:4]}-{line.iccid[4:]}") == line
    response = _session(tenant_a).get(reverse("lines:lookup"), {"q": full_width})
    assert response.status_code == 302
    assert response["Location"] == reverse("lines:detail", kwargs={"pk": line.pk})
