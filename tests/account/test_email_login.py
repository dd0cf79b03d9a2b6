"""S-ACC-1: the root user logs in with email + password — same limiter, lock, two-step login and audit as the
operator-ID login, and the same generic error (no account enumeration). Root emails are unique."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from typer.testing import CliRunner

from kaisen.accounts.email_login import login_check_email
from kaisen.accounts.models import User
from kaisen.audit.models import AuditEvent
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.mfa.models import MfaMethod, UserMfa
from tests.factories import PASSWORD, TenantFactory, UserFactory

LIMIT = settings.KAISEN_LOCKOUT_ACCOUNT_FAILURES


@pytest.fixture
def mails(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        sent.append(kwargs)

    monkeypatch.setattr("kaisen.mfa.services.mail_after_commit", record)
    monkeypatch.setattr("kaisen.core.mail.mail_after_commit", record)
    return sent


@pytest.fixture
def root(db: None) -> User:
    return UserFactory(tenant=TenantFactory(), is_root=True, email="Owner@Example.co.jp")


def _req(ip: str = "192.0.2.20") -> Any:
    return RequestFactory().post("/login/", REMOTE_ADDR=ip)


def test_root_logs_in_with_email_any_case_s_acc_1(root: User) -> None:
    user = login_check_email(request=_req(), email=" owner@EXAMPLE.co.jp ", password=PASSWORD)
    assert user.pk == root.pk
    ok = AuditEvent.objects.filter(action="auth.login.web", user=root, success=True)
    assert ok.count() == 1


@pytest.mark.parametrize("email,password", [("owner@example.co.jp", "wrong-password"),
                                            ("nobody@example.co.jp", PASSWORD)])
def test_wrong_password_and_unknown_email_are_the_same_error_s_acc_1(root: User, email: str, password: str) -> None:
    with pytest.raises(DomainError) as exc:
        login_check_email(request=_req(), email=email, password=password)
    assert exc.value.code == ErrorCode.AUTHENTICATION_FAILED
    assert AuditEvent.objects.filter(action="auth.login.web", success=False).count() == 1


def test_a_limited_users_email_does_not_log_in_s_acc_1(db: None) -> None:
    limited = UserFactory(tenant=TenantFactory(), is_root=False, email="clerk@example.co.jp")
    with pytest.raises(DomainError):
        login_check_email(request=_req(), email=limited.email, password=PASSWORD)


def test_email_login_shares_the_account_lock_s_acc_1(root: User, checks: list[str], mails: list[Any]) -> None:
    """Failures by email count on the same account counter as the operator-ID form; after the limit the
    password is not checked at all, whichever form is used."""
    for _ in range(LIMIT):
        with pytest.raises(DomainError):
            login_check_email(request=_req(), email=root.email, password="wrong-password")
    root.refresh_from_db()
    assert root.is_locked
    evaluated = len(checks)
    for _ in range(3):
        with pytest.raises(DomainError) as exc:
            login_check_email(request=_req(), email=root.email, password=PASSWORD)
        assert exc.value.code == ErrorCode.AUTHENTICATION_FAILED
    from kaisen.accounts.services import login_check

    assert root.tenant is not None
    with pytest.raises(DomainError):
        login_check(request=_req(), operator_id=root.tenant.public_id, username=root.username, password=PASSWORD)
    assert len(checks) == evaluated, "attempts after the limit must not be evaluated"
    assert [m["to"] for m in mails] == [[root.email]]  # the lock notice


def test_unknown_emails_are_throttled_too_s_acc_1(db: None, checks: list[str]) -> None:
    for _ in range(LIMIT):
        with pytest.raises(DomainError):
            login_check_email(request=_req("192.0.2.30"), email="ghost@example.co.jp", password="x")
    before = len(checks)
    with pytest.raises(DomainError):
        login_check_email(request=_req("192.0.2.31"), email="ghost@example.co.jp", password="x")
    assert len(checks) == before  # refused without hashing: same as a known account at its limit


def test_web_email_login_and_generic_error_s_acc_1(root: User) -> None:
    client = Client()
    page = client.get(reverse("accounts:login") + "?mode=root")
    assert page.status_code == 200 and b'name="email"' in page.content and b'name="username"' not in page.content
    bad = client.post(reverse("accounts:login"), {"mode": "root", "email": "nobody@example.co.jp",
                                                  "password": PASSWORD})
    wrong = client.post(reverse("accounts:login"), {"mode": "root", "email": root.email, "password": "nope-nope"})
    assert bad.status_code == wrong.status_code == 401
    msg = lambda r: re.search(rb'role="alert">.*?<div>(.*?)</div>', r.content, re.S).group(1)  # noqa: E731
    assert msg(bad) == msg(wrong)
    ok = client.post(reverse("accounts:login"), {"mode": "root", "email": root.email, "password": PASSWORD})
    assert ok.status_code == 302
    assert client.get(reverse("core:home")).status_code == 200


def test_the_login_page_defaults_to_the_operator_id_form(db: None) -> None:
    page = Client().get(reverse("accounts:login"))
    assert b'name="operator_id"' in page.content and b'name="email"' not in page.content
    assert b"?mode=root" in page.content  # the switch


def test_email_login_asks_for_the_second_step_s_acc_1_m_auth_1(root: User, mails: list[dict[str, Any]]) -> None:
    UserMfa.objects.create(user=root, method=MfaMethod.EMAIL, email="2fa@example.co.jp")
    client = Client()
    response = client.post(reverse("accounts:login"), {"mode": "root", "email": root.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa:login_verify")
    assert "_auth_user_id" not in client.session  # not logged in before the code
    code = re.search(r"\b(\d{6})\b", mails[-1]["body"]).group(1)  # type: ignore[union-attr]
    done = client.post(reverse("mfa:login_verify"), {"code": code})
    assert done.status_code == 302
    assert client.session["_auth_user_id"] == str(root.pk)


def test_api_email_login_and_mfa_s_acc_1(root: User, mails: list[dict[str, Any]]) -> None:
    client = Client()
    ok = client.post("/api/v1/auth", {"email": root.email, "password": PASSWORD}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["username"] == root.username
    bad = client.post("/api/v1/auth", {"email": "nobody@example.co.jp", "password": PASSWORD},
                      content_type="application/json")
    assert bad.status_code == 401 and bad.json()["code"] == "AUTHENTICATION_FAILED"
    UserMfa.objects.create(user=root, method=MfaMethod.EMAIL, email="2fa@example.co.jp")
    step = client.post("/api/v1/auth", {"email": root.email, "password": PASSWORD}, content_type="application/json")
    assert step.status_code == 401 and step.json()["code"] == "MFA_REQUIRED"


def test_cli_login_with_email_s_acc_1(root: User, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import httpx

    from kaisen.cli import app

    client = Client()
    sent: list[dict[str, Any]] = []

    def fake_post(url: str, json: dict[str, Any], timeout: int,
                  headers: dict[str, str] | None = None) -> httpx.Response:
        sent.append(json)
        r = client.post(url.split("http://portal")[1], json, content_type="application/json")
        return httpx.Response(r.status_code, content=r.content, headers={"content-type": "application/json"})

    monkeypatch.setattr(httpx, "post", fake_post)
    monkeypatch.setenv("KAISEN_CONFIG_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["login", "--email", root.email, "--password", PASSWORD, "--url",
                                      "http://portal"])
    assert result.exit_code == 0, result.output
    assert sent == [{"email": root.email, "password": PASSWORD}]
    assert json.loads(result.output)["username"] == root.username


def test_root_emails_are_unique_case_insensitively_s_acc_1(root: User) -> None:
    other = UserFactory(tenant=TenantFactory(), is_root=True, email="someone@example.co.jp")
    other.email = "OWNER@example.co.jp"
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save(update_fields=["email"])
    # Limited users may share an address (it is only a contact there), and so may several empty ones.
    UserFactory(tenant=other.tenant, is_root=False, email="owner@example.co.jp")
    UserFactory(tenant=TenantFactory(), is_root=True, email="")
    UserFactory(tenant=TenantFactory(), is_root=True, email="")


def test_the_demo_roots_have_distinct_emails() -> None:
    from kaisen.demo import TENANTS

    emails = [t["contact_email"].lower() for t in TENANTS]
    assert len(set(emails)) == len(emails)
