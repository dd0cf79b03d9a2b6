"""Failed-login limiting per account and per client address (issue 5 §4, M-USER-1, X-AUDIT).

Once the limit is reached the password is not even checked (``check_password`` is counted), every refusal
is the same generic error as a wrong password, and the lock ends by time or by the operator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client, RequestFactory

from kaisen.accounts.models import User
from kaisen.accounts.services import login_check
from kaisen.audit.models import AuditEvent
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from tests.factories import PASSWORD, TenantFactory, UserFactory

LIMIT = settings.KAISEN_LOCKOUT_ACCOUNT_FAILURES


@pytest.fixture
def sent_mail(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Mails queued by the security services (recorded instead of queued)."""
    sent: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        sent.append(kwargs)

    for module in ("kaisen.core.mail", "kaisen.security.passwords"):
        monkeypatch.setattr(f"{module}.mail_after_commit", record)
    return sent


def _request(ip: str = "192.0.2.10") -> Any:
    return RequestFactory().post("/login/", REMOTE_ADDR=ip)


def _login(user: User, password: str, ip: str = "192.0.2.10") -> User:
    assert user.tenant is not None
    return login_check(request=_request(ip), operator_id=user.tenant.public_id, username=user.username,
                       password=password)


def _fails(user: User, password: str, ip: str = "192.0.2.10") -> str:
    with pytest.raises(DomainError) as exc:
        _login(user, password, ip)
    assert exc.value.code == ErrorCode.AUTHENTICATION_FAILED
    return str(exc.value.message)


@pytest.mark.django_db
def test_account_locks_after_the_limit_and_further_attempts_are_not_evaluated(
        checks: list[str], sent_mail: list[dict[str, Any]]) -> None:
    user = UserFactory(email="clerk@example.jp")
    wrong = {_fails(user, f"wrong-{i}") for i in range(LIMIT)}
    assert len(checks) == LIMIT
    user.refresh_from_db()
    assert user.is_locked and user.locked_at is not None and user.failed_login_count == LIMIT
    assert AuditEvent.objects.filter(action="user.lock", target_id=str(user.pk)).count() == 1
    assert [m["to"] for m in sent_mail] == [["clerk@example.jp"]]
    assert PASSWORD not in sent_mail[0]["body"] and "wrong" not in sent_mail[0]["body"]
    # Locked: even the right password is refused with the same message, and no hash is computed.
    locked = {_fails(user, PASSWORD) for _ in range(10)}
    assert locked == wrong
    assert len(checks) == LIMIT
    reasons = [e.changes.get("reason") for e in AuditEvent.objects.filter(action="auth.login.web", success=False)]
    assert reasons.count("invalid") == LIMIT and reasons.count("throttled") == 10


@pytest.mark.django_db
def test_the_lock_ends_by_time(checks: list[str]) -> None:
    user = UserFactory()
    with time_machine.travel(clock.now(), tick=False) as traveller:
        for i in range(LIMIT):
            _fails(user, f"wrong-{i}")
        traveller.shift(dt.timedelta(minutes=settings.KAISEN_LOCKOUT_MINUTES - 1))
        _fails(user, PASSWORD)
        traveller.shift(dt.timedelta(minutes=1, seconds=1))
        assert _login(user, PASSWORD).pk == user.pk
    user.refresh_from_db()
    assert not user.is_locked and user.failed_login_count == 0
    assert AuditEvent.objects.filter(action="user.unlock", changes__reason="time").count() == 1


@pytest.mark.django_db
def test_the_operator_unlocks_in_the_back_office(checks: list[str]) -> None:
    user = UserFactory()
    for i in range(LIMIT):
        _fails(user, f"wrong-{i}")
    staff = User.objects.create_superuser("opstaff", "staff-Password-1")
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/accounts/user/", {"is_locked__exact": "1"})
    assert listing.status_code == 200 and user.username in listing.content.decode()   # lock state listed
    response = client.post("/admin/accounts/user/", {"action": "unlock_users", "_selected_action": [user.pk]})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_locked
    assert _login(user, PASSWORD).pk == user.pk


@pytest.mark.django_db
def test_a_success_resets_the_account_counter(checks: list[str]) -> None:
    user = UserFactory()
    for _ in range(3):
        for i in range(LIMIT - 1):
            _fails(user, f"wrong-{i}")
        _login(user, PASSWORD)
    user.refresh_from_db()
    assert not user.is_locked


@pytest.mark.django_db
def test_one_address_is_throttled_across_accounts(checks: list[str]) -> None:
    tenant = TenantFactory()
    users = [UserFactory(tenant=tenant) for _ in range(8)]
    limit = settings.KAISEN_LOCKOUT_IP_FAILURES
    with time_machine.travel(clock.now(), tick=False) as traveller:
        for i in range(limit):
            _fails(users[i % len(users)], "wrong", ip="198.51.100.7")
        assert len(checks) == limit
        fresh = UserFactory(tenant=tenant)
        _fails(fresh, PASSWORD, ip="198.51.100.7")     # right password, throttled address
        assert len(checks) == limit
        assert _login(fresh, PASSWORD, ip="198.51.100.8").pk == fresh.pk   # another address is fine
        traveller.shift(dt.timedelta(minutes=settings.KAISEN_LOCKOUT_IP_WINDOW_MINUTES, seconds=1))
        assert _login(fresh, PASSWORD, ip="198.51.100.7").pk == fresh.pk


@pytest.mark.django_db
def test_unknown_users_are_throttled_the_same_way(checks: list[str]) -> None:
    tenant = TenantFactory()
    ghost = User(tenant=tenant, username="nobody_here")
    for _ in range(LIMIT + 3):
        _fails(ghost, "wrong")
    reasons = [e.changes.get("reason") for e in AuditEvent.objects.filter(action="auth.login.web")]
    assert reasons.count("invalid") == LIMIT and reasons.count("throttled") == 3


@pytest.mark.django_db
def test_lock_state_is_shown_on_my_account_page() -> None:
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get("/account/security/")
    assert page.status_code == 200
    assert user.username in page.content.decode() and "accounts:password_change" not in page.content.decode()
    User.objects.filter(pk=user.pk).update(is_locked=True)
    assert client.get("/account/security/").status_code == 302   # a locked user is signed out


@pytest.mark.django_db
def test_the_api_login_is_limited_too(checks: list[str]) -> None:
    user = UserFactory()
    assert user.tenant is not None
    body = {"operator_id": user.tenant.public_id, "username": user.username}
    codes = [Client().post("/api/v1/auth", {**body, "password": "wrong"}, content_type="application/json").json()
             for _ in range(LIMIT + 2)]
    right = Client().post("/api/v1/auth", {**body, "password": PASSWORD}, content_type="application/json")
    assert right.status_code == 401 and right.json() == codes[0] == codes[-1]
    assert len(checks) == LIMIT
