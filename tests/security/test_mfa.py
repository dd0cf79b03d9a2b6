"""Two-step login (M-AUTH-1, M-USER-3; issue 5 §3): email codes, the address setup, TOTP, policy, API, CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from typer.testing import CliRunner

from kaisen.accounts.models import User
from kaisen.cli import app
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.mfa import services
from kaisen.mfa.models import LoginChallenge, MfaMethod, UserMfa
from kaisen.tenancy.models import MfaPolicy
from tests.conftest import TenantWorld, make_world
from tests.factories import PASSWORD

T0 = dt.datetime(2026, 11, 24, 1, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def mails(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        sent.append(kwargs)

    monkeypatch.setattr("kaisen.mfa.services.mail_after_commit", record)
    monkeypatch.setattr("kaisen.core.mail.mail_after_commit", record)  # security notices (security_notice)
    return sent


def _code(mails: list[dict[str, Any]]) -> str:
    match = re.search(r"\b(\d{6})\b", mails[-1]["body"])
    assert match, mails[-1]
    return match.group(1)


def _email_on(user: User, email: str = "2fa@example.jp") -> UserMfa:
    return UserMfa.objects.update_or_create(user=user, defaults={"method": MfaMethod.EMAIL, "email": email})[0]


def _totp_on(user: User) -> tuple[str, list[str]]:
    secret = services.totp_new_secret()
    codes = services.totp_enable(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    return secret, codes


def _web_login(client: Client, w: TenantWorld, password: str = PASSWORD) -> Any:
    return client.post(reverse("accounts:login"), {"operator_id": w.tenant.public_id, "username": w.user.username,
                                                   "password": password})


def _authenticated(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- email code --------------------------------------------------------------------------------

@pytest.mark.parametrize(("after", "ok"), [(89, True), (91, False)])
def test_email_code_valid_for_90_seconds_m_auth_1(tenant_a: TenantWorld, mails: list, after: int, ok: bool) -> None:
    _email_on(tenant_a.user)
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        res = _web_login(client, tenant_a)
        assert res.status_code == 302 and res["Location"] == reverse("mfa:login_verify")
        assert not _authenticated(client)  # the password alone does not log in
        assert mails[-1]["to"] == ["2fa@example.jp"]
        assert "認証コード" in mails[-1]["subject"] or "login code" in mails[-1]["subject"]
        page = client.get(reverse("mfa:login_verify"))
        assert page.status_code == 200 and "2***@example.jp" in page.content.decode()
        traveller.shift(after)
        res = client.post(reverse("mfa:login_verify"), {"code": _code(mails)})
        assert _authenticated(client) is ok  # read while the session is young, on the same clock
    assert res["Location"] == (reverse("core:home") if ok else reverse("accounts:login"))
    ch = LoginChallenge.objects.get(user=tenant_a.user)
    assert ch.code_hash and _code(mails) not in ch.code_hash  # only a keyed hash is stored


def test_email_code_single_use_and_bound_to_its_login(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user)
    first = services.login_begin(user=tenant_a.user, channel="api").challenge
    code_first = _code(mails)
    second = services.login_begin(user=tenant_a.user, channel="api").challenge
    while _code(mails) == code_first:  # one chance in a million: ask again
        second = services.login_begin(user=tenant_a.user, channel="api").challenge
    assert first is not None and second is not None
    # A code issued for one login is refused for another (and ends that other login).
    with pytest.raises(DomainError) as err:
        services.login_verify(challenge_id=second.challenge_id, code=code_first, channel="api")
    assert err.value.code == ErrorCode.MFA_CODE_INVALID
    assert services.login_verify(challenge_id=first.challenge_id, code=code_first, channel="api") == tenant_a.user
    with pytest.raises(DomainError) as err:  # used once
        services.login_verify(challenge_id=first.challenge_id, code=code_first, channel="api")
    assert err.value.code == ErrorCode.MFA_CHALLENGE_INVALID
    # A web challenge cannot be answered through the API.
    web = services.login_begin(user=tenant_a.user, channel="web").challenge
    assert web is not None
    with pytest.raises(DomainError):
        services.login_verify(challenge_id=web.challenge_id, code=_code(mails), channel="api")


def test_wrong_code_ends_the_challenge(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user)
    client = Client()
    _web_login(client, tenant_a)
    right = _code(mails)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    res = client.post(reverse("mfa:login_verify"), {"code": wrong})
    assert res["Location"] == reverse("accounts:login") and not _authenticated(client)
    res = client.post(reverse("mfa:login_verify"), {"code": right})  # too late: start again from the password
    assert res["Location"] == reverse("accounts:login") and not _authenticated(client)
    assert LoginChallenge.objects.get(user=tenant_a.user).ended_reason == "wrong"


def test_resend_cooldown_and_the_new_code_replaces_the_old(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user)
    with time_machine.travel(T0, tick=False) as traveller:
        ch = services.login_begin(user=tenant_a.user, channel="api").challenge
        assert ch is not None
        old = _code(mails)
        traveller.shift(10)
        with pytest.raises(DomainError) as err:
            services.login_resend(challenge_id=ch.challenge_id, channel="api")
        assert err.value.code == ErrorCode.MFA_RESEND_TOO_SOON and err.value.details["retry_after"] == 21
        traveller.shift(21)
        services.login_resend(challenge_id=ch.challenge_id, channel="api")
        new = _code(mails)
        assert len(mails) == 2
        traveller.shift(80)  # 111 s after the first code, 80 s after the new one
        if new != old:
            with pytest.raises(DomainError):
                services.login_verify(challenge_id=ch.challenge_id, code=old, channel="api")
            ch = services.login_begin(user=tenant_a.user, channel="api").challenge
            assert ch is not None
            new = _code(mails)
        assert services.login_verify(challenge_id=ch.challenge_id, code=new, channel="api") == tenant_a.user


def test_10000_guesses_are_stopped(tenant_a: TenantWorld, mails: list) -> None:
    """Each guess needs a new challenge (a wrong code ends it): after MAX_WRONG wrong ones no challenge starts."""
    _email_on(tenant_a.user)
    evaluated = stopped = 0
    for guess in range(10_000):
        try:
            ch = services.login_begin(user=tenant_a.user, channel="api").challenge
        except DomainError as exc:
            assert exc.code == ErrorCode.MFA_TOO_MANY_ATTEMPTS
            stopped += 1
            continue
        assert ch is not None
        code = f"{guess:06d}"
        if code == _code(mails):
            code = f"{guess + 1:06d}"
        evaluated += 1
        with pytest.raises(DomainError):
            services.login_verify(challenge_id=ch.challenge_id, code=code, channel="api")
    assert evaluated == services.MAX_WRONG == 10
    assert stopped == 10_000 - 10
    assert len(mails) == 10  # no code mails once stopped
    print(f"\nMFA guesses: 10000 attempted, {evaluated} evaluated, {stopped} stopped")


def test_guess_limit_over_the_web_form(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user)
    client = Client()
    for _i in range(services.MAX_WRONG):
        _web_login(client, tenant_a)
        client.post(reverse("mfa:login_verify"), {"code": "000000" if _code(mails) != "000000" else "111111"})
    res = _web_login(client, tenant_a)
    assert res.status_code == 401 and not _authenticated(client)
    assert len(mails) == services.MAX_WRONG


def test_user_without_two_step_logs_in_with_password_only(tenant_a: TenantWorld, mails: list) -> None:
    client = Client()
    res = _web_login(client, tenant_a)
    assert res["Location"] == reverse("core:home") and _authenticated(client)
    assert mails == []


# --- setup of the 2FA address (M-USER-3) -------------------------------------------------------

def _request_setup(client: Client, email: str = "mfa-new@example.jp") -> Any:
    return client.post(reverse("mfa:settings"), {"email": email})


def _link(mails: list) -> str:
    match = re.search(r"http://testserver(/account/two-step/confirm/[^/\s]+/)", mails[-1]["body"])
    assert match, mails[-1]["body"]
    return match.group(1)


@pytest.mark.parametrize(("after", "ok"), [(dt.timedelta(hours=24, minutes=-1), True),
                                          (dt.timedelta(hours=24, minutes=1), False)])
def test_setup_link_valid_24_hours_m_user_3(tenant_a: TenantWorld, mails: list, after: dt.timedelta,
                                            ok: bool) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    with time_machine.travel(T0, tick=False) as traveller:
        res = _request_setup(client)
        assert res.status_code == 302
        assert mails[-1]["to"] == ["mfa-new@example.jp"]
        link = _link(mails)
        # Until confirmed, the old method stays: a password login still completes at once.
        assert services.user_mfa(tenant_a.user).method == MfaMethod.NONE
        traveller.shift(after)
        page = Client().get(link)
        assert page.status_code == (200 if ok else 410)
        res = Client().post(link, {"operator_id": tenant_a.tenant.public_id, "username": tenant_a.user.username,
                                   "password": PASSWORD})
    mfa = services.user_mfa(tenant_a.user)
    if ok:
        assert res.status_code == 200 and mfa.method == MfaMethod.EMAIL and mfa.email == "mfa-new@example.jp"
        subjects = [m["subject"] for m in mails]
        assert any("setup complete" in s or "設定完了" in s for s in subjects)
        assert all(PASSWORD not in m["body"] for m in mails)
    else:
        assert res.status_code == 410 and mfa.method == MfaMethod.NONE


def test_setup_link_needs_the_users_own_password(tenant_a: TenantWorld, tenant_b: TenantWorld, mails: list) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    _request_setup(client)
    link = _link(mails)
    res = Client().post(link, {"operator_id": tenant_a.tenant.public_id, "username": tenant_a.user.username,
                               "password": "wrong-password-1"})
    assert res.status_code == 401
    res = Client().post(link, {"operator_id": tenant_b.tenant.public_id, "username": tenant_b.user.username,
                               "password": PASSWORD})
    assert res.status_code == 401
    assert services.user_mfa(tenant_a.user).method == MfaMethod.NONE
    assert services.user_mfa(tenant_b.user).method == MfaMethod.NONE


def test_setup_refuses_the_tenant_notification_address(tenant_a: TenantWorld, mails: list) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    res = _request_setup(client, tenant_a.tenant.notification_email.upper())
    assert res.status_code == 200 and mails == []
    assert services.email_change_pending(tenant_a.user) is None


def test_pending_change_can_be_withdrawn_and_the_old_address_stays(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user, "old-2fa@example.jp")
    client = Client()
    client.force_login(tenant_a.user)
    _request_setup(client, "new-2fa@example.jp")
    link = _link(mails)
    assert services.email_change_pending(tenant_a.user) is not None
    page = client.get(reverse("mfa:settings")).content.decode()
    assert "new-2fa@example.jp" in page and "old-2fa@example.jp" in page
    client.post(reverse("mfa:withdraw"))
    assert services.email_change_pending(tenant_a.user) is None
    res = Client().post(link, {"operator_id": tenant_a.tenant.public_id, "username": tenant_a.user.username,
                               "password": PASSWORD})
    assert res.status_code == 410
    assert services.user_mfa(tenant_a.user).email == "old-2fa@example.jp"
    services.login_begin(user=tenant_a.user, channel="web")
    assert mails[-1]["to"] == ["old-2fa@example.jp"]


def test_switch_back_to_password_only_if_the_policy_allows(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user)
    with pytest.raises(DomainError):
        services.mfa_disable(user=tenant_a.user, password="wrong-password-1")
    tenant_a.tenant.mfa_policy = MfaPolicy.REQUIRED
    tenant_a.tenant.save()
    tenant_a.user.refresh_from_db()
    with pytest.raises(DomainError) as err:
        services.mfa_disable(user=tenant_a.user, password=PASSWORD)
    assert err.value.code == ErrorCode.PERMISSION_DENIED
    tenant_a.tenant.mfa_policy = MfaPolicy.OPTIONAL
    tenant_a.tenant.save()
    tenant_a.user.refresh_from_db()
    client = Client()
    client.force_login(tenant_a.user)
    res = client.post(reverse("mfa:disable"), {"password": PASSWORD, "action": "disable"})
    assert res.status_code == 302 and services.user_mfa(tenant_a.user).method == MfaMethod.NONE
    assert any("switched off" in m["subject"] or "解除" in m["subject"] for m in mails)


# --- TOTP --------------------------------------------------------------------------------------

def test_totp_valid_replay_and_window(tenant_a: TenantWorld, mails: list) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        secret, _codes = _totp_on(tenant_a.user)  # consumes the code of T0's step
        totp = pyotp.TOTP(secret)
        traveller.shift(60)
        now = clock.now()

        def attempt(code: str) -> bool:
            ch = services.login_begin(user=tenant_a.user, channel="api").challenge
            assert ch is not None and services.methods_of(ch) == ["totp", "recovery_code"]
            try:
                services.login_verify(challenge_id=ch.challenge_id, code=code, channel="api")
            except DomainError:
                return False
            return True

        assert attempt(totp.at(now - dt.timedelta(seconds=30)))  # one step back: accepted
        assert not attempt(totp.at(now - dt.timedelta(seconds=30)))  # replayed: refused
        assert attempt(totp.at(now))
        assert not attempt(totp.at(now))  # replay within its window
        assert not attempt(totp.at(now - dt.timedelta(seconds=60)))  # older than the window (and below last step)
        assert not attempt(totp.at(now + dt.timedelta(seconds=60)))  # two steps ahead
        assert attempt(totp.at(now + dt.timedelta(seconds=30)))  # one step ahead
    assert mails and all(secret not in m["body"] for m in mails)


def test_recovery_codes_single_use(tenant_a: TenantWorld, mails: list) -> None:
    _secret, codes = _totp_on(tenant_a.user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(c.replace("-", "") not in str(list(tenant_a.user.mfa_recovery_codes.values_list("code_hash")))
               for c in codes)
    ch = services.login_begin(user=tenant_a.user, channel="api").challenge
    assert ch is not None
    assert services.login_verify(challenge_id=ch.challenge_id, code=codes[0].upper(), channel="api") == tenant_a.user
    ch = services.login_begin(user=tenant_a.user, channel="api").challenge
    assert ch is not None
    with pytest.raises(DomainError):
        services.login_verify(challenge_id=ch.challenge_id, code=codes[0], channel="api")
    assert services.recovery_codes_left(tenant_a.user) == 9
    assert any("recovery code was used" in m["body"] or "リカバリーコードが使用" in m["body"] for m in mails)


def test_totp_enrolment_through_the_pages_and_disable_needs_a_code(tenant_a: TenantWorld, mails: list) -> None:
    client = Client()
    client.force_login(tenant_a.user)
    page = client.get(reverse("mfa:totp_setup"))
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    secret = client.session["mfa_totp_secret"]
    assert client.post(reverse("mfa:totp_setup"), {"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                   else "111111"}).status_code == 200
    assert services.user_mfa(tenant_a.user).method == MfaMethod.NONE
    res = client.post(reverse("mfa:totp_setup"), {"code": pyotp.TOTP(secret).now()})
    assert res.status_code == 200 and "no-store" in res["Cache-Control"]
    assert len(re.findall(r"\b[0-9a-f]{5}-[0-9a-f]{5}\b", res.content.decode())) == 10
    assert services.user_mfa(tenant_a.user).method == MfaMethod.TOTP
    res = client.post(reverse("mfa:disable"), {"password": PASSWORD, "action": "disable"})
    assert res.status_code == 200 and services.user_mfa(tenant_a.user).method == MfaMethod.TOTP
    assert any("enabled" in m["subject"] or "有効" in m["subject"] for m in mails)


# --- tenant policy -----------------------------------------------------------------------------

def test_policy_required_sends_users_to_enrolment(tenant_a: TenantWorld, mails: list) -> None:
    tenant_a.tenant.mfa_policy = MfaPolicy.REQUIRED
    tenant_a.tenant.save()
    client = Client()
    res = _web_login(client, tenant_a)
    assert res["Location"] == reverse("mfa:settings") and not _authenticated(client)
    # The session opens nothing but the enrolment pages.
    assert client.get(reverse("core:home")).status_code == 302
    assert client.get(reverse("lines:list")).status_code == 302
    assert client.get(reverse("mfa:settings")).status_code == 200
    client.get(reverse("mfa:totp_setup"))
    secret = client.session["mfa_totp_secret"]
    res = client.post(reverse("mfa:totp_setup"), {"code": pyotp.TOTP(secret).now()})
    assert res.status_code == 200 and _authenticated(client)
    assert client.get(reverse("core:home")).status_code == 200
    # The API refuses a password login without two-step login under this policy.
    other = User.objects.create_user("nomfa_user", PASSWORD, tenant=tenant_a.tenant)
    res = Client().post("/api/v1/auth", {"operator_id": tenant_a.tenant.public_id, "username": other.username,
                                         "password": PASSWORD}, content_type="application/json")
    assert res.status_code == 403 and res.json()["code"] == "MFA_ENROLMENT_REQUIRED"


def test_policy_root_totp_asks_the_email_code_first_then_totp(tenant_a: TenantWorld, mails: list) -> None:
    tenant_a.tenant.mfa_policy = MfaPolicy.REQUIRED_TOTP_ROOT
    tenant_a.tenant.save()
    _email_on(tenant_a.user)
    client = Client()
    res = _web_login(client, tenant_a)
    assert res["Location"] == reverse("mfa:login_verify")  # the password alone cannot enrol a new app
    res = client.post(reverse("mfa:login_verify"), {"code": _code(mails)})
    assert res["Location"] == reverse("mfa:settings") and not _authenticated(client)
    page = client.get(reverse("mfa:settings")).content.decode()
    assert 'name="email"' not in page  # root users must use the app
    with pytest.raises(DomainError):
        services.email_change_request(user=tenant_a.user, email="x@example.jp", link_base="http://t/")


# --- API and CLI -------------------------------------------------------------------------------

def test_api_mfa_flow(tenant_a: TenantWorld, mails: list) -> None:
    _email_on(tenant_a.user)
    api = Client()
    creds = {"operator_id": tenant_a.tenant.public_id, "username": tenant_a.user.username, "password": PASSWORD}
    res = api.post("/api/v1/auth", creds, content_type="application/json")
    body = res.json()
    assert res.status_code == 401 and body["code"] == "MFA_REQUIRED" and body["methods"] == ["email"]
    assert "token" not in body
    res = api.post("/api/v1/auth/mfa", {"challenge_id": body["challenge_id"], "code": _code(mails)},
                   content_type="application/json")
    assert res.status_code == 200, res.content
    token = res.json()["token"]
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    res = api.post("/api/v1/auth/mfa", {"challenge_id": body["challenge_id"], "code": _code(mails)},
                   content_type="application/json")
    assert res.status_code == 401 and res.json()["code"] == "MFA_CHALLENGE_INVALID"
    # API keys are for programs: unaffected.
    res = api.post("/api/v1/auth", {"key_id": tenant_a.api_key.key_id, "secret": tenant_a.api_secret},
                   content_type="application/json")
    assert res.status_code == 200 and res.json()["token"]
    spec = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/auth/mfa" in spec["paths"]


@pytest.mark.django_db(transaction=True)
def test_cli_login_prompts_for_the_code(live_server: Any, tmp_path: Path, mails: list) -> None:
    w = make_world(n_lines=1)
    secret, _codes = _totp_on(w.user)
    UserMfa.objects.filter(user=w.user).update(totp_last_step=None)  # the enrolment code may be reused here
    env = {"KAISEN_URL": live_server.url, "KAISEN_CONFIG_DIR": str(tmp_path / "cfg"), "KAISEN_TOKEN": "",
           "KAISEN_API_KEY_ID": "", "KAISEN_API_KEY_SECRET": ""}
    runner = CliRunner()
    args = ["login", "--operator-id", w.tenant.public_id, "--username", w.user.username, "--password", PASSWORD]
    res = runner.invoke(app, args, env=env, input=pyotp.TOTP(secret).now() + "\n", catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "authenticator" in res.output  # the prompt says where the code comes from
    assert json.loads(res.stdout[res.stdout.index("{"):])["username"] == w.user.username
    saved = json.loads((tmp_path / "cfg" / "credentials.json").read_text())
    assert saved["token"].startswith("kst_")
    res = runner.invoke(app, ["lines", "list"], env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    # A wrong code given as an option: exit 1 with the code of the error.
    res = runner.invoke(app, [*args, "--code", "abcdef"], env=env, catch_exceptions=False)
    assert res.exit_code == 1 and "MFA_CODE_INVALID" in res.stderr
