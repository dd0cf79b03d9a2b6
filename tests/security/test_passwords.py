"""Password rules per tenant (SECURE and the seed's LEGACY_K3), password change and reset by email link
(issue 5 §4, M-USER-2, K-3). Both boundaries of both profiles."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client

from kaisen.accounts.models import User
from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.security.passwords import password_validate
from kaisen.tenancy.models import PasswordProfile
from tests.factories import PASSWORD, TenantFactory, UserFactory


@pytest.fixture
def sent_mail(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Mails queued by the security services (recorded instead of queued)."""
    sent: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        sent.append(kwargs)

    for module in ("kaisen.core.mail", "kaisen.security.passwords"):
        monkeypatch.setattr(f"{module}.mail_after_commit", record)
    return sent


def _user(profile: str, username: str = "clerk_01") -> User:
    return UserFactory(tenant=TenantFactory(password_profile=profile), username=username, email="clerk@example.jp")


def _ok(password: str, user: User) -> bool:
    try:
        password_validate(password, user)
    except ValidationError:
        return False
    return True


SECURE = [
    ("9 characters", "Kq7!zPw3m", False),
    ("10 characters", "Kq7!zPw3mX", True),
    ("long passphrase", "correct horse battery staple 42", True),
    ("common password", "password1234", False),
    ("only digits", "4839205718", False),
    ("like the username", "clerk_01_x", False),
]
LEGACY = [
    ("3 characters", "ab1", False),
    ("4 characters", "ab12", True),
    ("8 characters", "abcd1234", True),
    ("9 characters", "abcd12345", False),
    ("letters only", "abcdef", False),
    ("digits only", "123456", False),
    ("a symbol", "ab1!", False),
    ("full-width digit", "abc１", False),
    ("the user ID", "clerk001", False),
    ("the user ID in other case", "CLERK001", False),
    ("case-sensitive, mixed", "Ab3dEf", True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "password", "valid"), SECURE, ids=[c[0] for c in SECURE])
def test_secure_profile(case: str, password: str, valid: bool) -> None:
    assert _ok(password, _user(PasswordProfile.SECURE)) is valid, case


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "password", "valid"), LEGACY, ids=[c[0] for c in LEGACY])
def test_legacy_k3_profile(case: str, password: str, valid: bool) -> None:
    assert _ok(password, _user(PasswordProfile.LEGACY_K3, username="clerk001")) is valid, case


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_password_change_needs_the_current_password_and_a_matching_repeat(sent_mail: list[dict[str, Any]]) -> None:
    user = _user(PasswordProfile.LEGACY_K3)
    client = _client(user)
    url = "/account/password/"
    bad = client.post(url, {"current_password": "wrong", "new_password1": "abc123", "new_password2": "abc123"})
    assert bad.status_code == 200
    mismatch = client.post(url, {"current_password": PASSWORD, "new_password1": "abc123", "new_password2": "abc124"})
    assert mismatch.status_code == 200
    weak = client.post(url, {"current_password": PASSWORD, "new_password1": "abcdefghij",
                             "new_password2": "abcdefghij"})
    assert weak.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    done = client.post(url, {"current_password": PASSWORD, "new_password1": "abc123", "new_password2": "abc123",
                             "end_other_sessions": "on"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("abc123")
    assert client.get("/account/security/").status_code == 200   # this session stays signed in
    assert len(sent_mail) == 1 and "abc123" not in sent_mail[0]["body"] and PASSWORD not in sent_mail[0]["body"]
    assert AuditEvent.objects.filter(action="user.password_change", success=True).count() == 1


def _reset_link(sent_mail: list[dict[str, Any]]) -> str:
    match = re.search(r"http://testserver(/password-reset/confirm/\?u=\S+)", sent_mail[-1]["body"])
    assert match
    return match.group(1)


@pytest.mark.django_db
def test_reset_answers_the_same_whether_or_not_the_user_exists(sent_mail: list[dict[str, Any]]) -> None:
    user = _user(PasswordProfile.SECURE)
    assert user.tenant is not None
    no_mail = UserFactory(tenant=user.tenant, username="no_mail_user", email="")
    pages = []
    for operator_id, username in [(user.tenant.public_id, user.username), (user.tenant.public_id, "nobody_here"),
                                  ("OP9999999999", user.username), (user.tenant.public_id, no_mail.username)]:
        response = Client().post("/password-reset/", {"operator_id": operator_id, "username": username})
        assert response.status_code == 200
        html = response.content.decode()
        pages.append(html[html.index("<main"):html.index("</main>")])
    assert len(set(pages)) == 1
    assert [m["to"] for m in sent_mail] == [[user.email]]


@pytest.mark.django_db
def test_reset_link_works_once(sent_mail: list[dict[str, Any]]) -> None:
    user = _user(PasswordProfile.SECURE)
    assert user.tenant is not None
    Client().post("/password-reset/", {"operator_id": user.tenant.public_id, "username": user.username})
    link = _reset_link(sent_mail)
    client = Client()
    assert client.get(link).status_code == 200
    new = "a-brand-new-passphrase-7"
    assert client.post(link, {"new_password1": new, "new_password2": new}).status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    assert Client().get(link).status_code == 400    # used
    assert Client().post(link, {"new_password1": "other-passphrase-99", "new_password2": "other-passphrase-99"}
                         ).status_code == 400


@pytest.mark.django_db
def test_reset_link_expires_after_an_hour(sent_mail: list[dict[str, Any]]) -> None:
    user = _user(PasswordProfile.SECURE)
    assert user.tenant is not None
    with time_machine.travel(clock.now(), tick=False) as traveller:
        Client().post("/password-reset/", {"operator_id": user.tenant.public_id, "username": user.username})
        link = _reset_link(sent_mail)
        traveller.shift(dt.timedelta(minutes=59))
        assert Client().get(link).status_code == 200
        traveller.shift(dt.timedelta(minutes=1, seconds=1))
        assert Client().get(link).status_code == 400


@pytest.mark.django_db
def test_reset_follows_the_tenant_profile(sent_mail: list[dict[str, Any]]) -> None:
    user = _user(PasswordProfile.LEGACY_K3)
    assert user.tenant is not None
    Client().post("/password-reset/", {"operator_id": user.tenant.public_id, "username": user.username})
    link = _reset_link(sent_mail)
    assert Client().post(link, {"new_password1": "abcdefgh9", "new_password2": "abcdefgh9"}).status_code == 200
    assert Client().post(link, {"new_password1": "abcd1234", "new_password2": "abcd1234"}).status_code == 302


@pytest.mark.django_db
def test_reset_mails_are_limited_per_user(sent_mail: list[dict[str, Any]]) -> None:
    user = _user(PasswordProfile.SECURE)
    assert user.tenant is not None
    with time_machine.travel(clock.now(), tick=False) as traveller:
        for _ in range(5):
            response = Client().post("/password-reset/", {"operator_id": user.tenant.public_id,
                                                          "username": user.username})
            assert response.status_code == 200
        assert len(sent_mail) == 3
        traveller.shift(dt.timedelta(hours=1, seconds=1))
        Client().post("/password-reset/", {"operator_id": user.tenant.public_id, "username": user.username})
        assert len(sent_mail) == 4
