"""Two-step login (M-AUTH-1, M-USER-3; issue 5 §3).

* **Email code**: after the password, a 6-digit code is mailed to the user's confirmed 2FA address. Only
  its keyed hash is stored, bound to one challenge (one login attempt); it is valid for 90 seconds and
  for one try: a wrong code ends the challenge and the user starts again from the password.
* **Authenticator app (TOTP)**: RFC 6238 codes with ±1 step of clock drift; a step once used cannot be
  used again. Ten single-use recovery codes, stored only as hashes.
* **Setup** of the 2FA email address through a link valid for 24 hours that asks for user ID and
  password; until it is confirmed the old method and address stay in force; a pending change can be
  withdrawn.

Every change sends a security notice (without any secret) and is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass

import pyotp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kaisen.accounts.models import User
from kaisen.accounts.services import login_check
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode
from kaisen.core.mail import mail_after_commit, security_notice
from kaisen.mfa.models import EmailChange, LoginChallenge, MfaMethod, RecoveryCode, UserMfa
from kaisen.tenancy.models import MfaPolicy

CODE_TTL = dt.timedelta(seconds=90)
RESEND_COOLDOWN = dt.timedelta(seconds=30)
MAX_SENDS = 5
CHALLENGE_TTL = dt.timedelta(minutes=10)
LINK_TTL = dt.timedelta(hours=24)
RECOVERY_CODES = 10
MAX_WRONG = 10
WRONG_WINDOW = dt.timedelta(hours=1)
TOTP_ISSUER = "Kaisen"


def _keyed_hash(*parts: str) -> str:
    msg = "\x1f".join(parts).encode()
    return hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()


def _normalize_code(code: str) -> str:
    # Full-width digits (１２３４５６) and stray spaces or dashes are accepted.
    return "".join(ch for ch in unicodedata.normalize("NFKC", code or "") if ch.isalnum()).lower()


def user_mfa(user: User) -> UserMfa:
    """The user's two-step setting (an unsaved 'password only' one when there is none yet)."""
    return UserMfa.objects.filter(user=user).first() or UserMfa(user=user)


def _policy(user: User) -> str:
    return user.tenant.mfa_policy if user.tenant is not None else MfaPolicy.OPTIONAL


def enrolment_needed(user: User, mfa: UserMfa | None = None) -> str:
    """"" when the user's method satisfies the tenant policy, "any" or "totp" when they must enrol first."""
    mfa = mfa or user_mfa(user)
    policy = _policy(user)
    if policy == MfaPolicy.REQUIRED_TOTP_ROOT and user.is_root and mfa.method != MfaMethod.TOTP:
        return "totp"
    if policy in (MfaPolicy.REQUIRED, MfaPolicy.REQUIRED_TOTP_ROOT) and mfa.method == MfaMethod.NONE:
        return "any"
    return ""


def methods_of(challenge: LoginChallenge) -> list[str]:
    return ["totp", "recovery_code"] if challenge.method == MfaMethod.TOTP else ["email"]


# --- login: the second step ----------------------------------------------------------------------

@dataclass(frozen=True)
class LoginStep:
    """What follows a correct password: a challenge to answer (or None), and whether enrolment is due."""

    challenge: LoginChallenge | None
    enrol: str


def _send_code(challenge: LoginChallenge, to: str) -> None:
    now = clock.now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    challenge.code_hash = _keyed_hash("login-code", challenge.challenge_id, code)
    challenge.code_sent_at = now
    challenge.code_expires_at = now + CODE_TTL
    challenge.sends += 1
    challenge.save(update_fields=["code_hash", "code_sent_at", "code_expires_at", "sends"])
    mail_after_commit(
        to=[to], subject="[Kaisen] " + _("Your login code"),
        body=_("Your login code is %(code)s.\n\nEnter it on the login page within 90 seconds. It can be used "
               "once. If you did not try to log in, change your password and tell your administrator.")
        % {"code": code},
    )


def login_begin(*, user: User, channel: str) -> LoginStep:
    """Called once the password is right. Starts the second step when the user has one.

    A wrong code ends its challenge, so every guess needs a new password login; on top of the password
    lockout, at most ``MAX_WRONG`` wrong second steps per user in ``WRONG_WINDOW`` are evaluated, then
    no new challenge starts (and no code is mailed) until the window has passed.
    """
    mfa = user_mfa(user)
    enrol = enrolment_needed(user, mfa)
    if mfa.method == MfaMethod.NONE:
        return LoginStep(challenge=None, enrol=enrol)
    now = clock.now()
    wrong = LoginChallenge.objects.filter(user=user, ended_reason="wrong", ended_at__gt=now - WRONG_WINDOW).count()
    if wrong >= MAX_WRONG:
        audit_record(action=f"auth.mfa.{channel}", tenant=user.tenant, user=user, success=False,
                     changes={"reason": "too_many_wrong_codes"})
        raise DomainError(ErrorCode.MFA_TOO_MANY_ATTEMPTS)
    with transaction.atomic():
        challenge = LoginChallenge.objects.create(
            user=user, challenge_id="mc_" + secrets.token_urlsafe(24), channel=channel, method=mfa.method,
            created_at=now, expires_at=now + CHALLENGE_TTL,
        )
        if mfa.method == MfaMethod.EMAIL:
            _send_code(challenge, mfa.email)
    return LoginStep(challenge=challenge, enrol=enrol)


def _open_challenge(challenge_id: str, channel: str) -> LoginChallenge | None:
    ch = (
        LoginChallenge.objects.select_for_update(of=("self",)).select_related("user", "user__tenant")
        .filter(challenge_id=challenge_id or "-", channel=channel).first()
    )
    if ch is None or ch.ended_at is not None or ch.expires_at <= clock.now():
        return None
    return ch


def login_resend(*, challenge_id: str, channel: str) -> LoginChallenge:
    """Mail a new code (the old one stops working) — not before the cooldown, at most MAX_SENDS times."""
    with transaction.atomic():
        ch = _open_challenge(challenge_id, channel)
        if ch is None or ch.method != MfaMethod.EMAIL:
            raise DomainError(ErrorCode.MFA_CHALLENGE_INVALID)
        now = clock.now()
        wait = (ch.code_sent_at + RESEND_COOLDOWN - now) if ch.code_sent_at else dt.timedelta(0)
        if wait > dt.timedelta(0):
            seconds = int(wait.total_seconds()) + 1
            raise DomainError(ErrorCode.MFA_RESEND_TOO_SOON,
                              _("Wait %(seconds)s seconds before asking for a new code.") % {"seconds": seconds},
                              details={"retry_after": seconds})
        if ch.sends >= MAX_SENDS:
            raise DomainError(ErrorCode.MFA_RESEND_TOO_SOON,
                              _("No more codes can be sent for this login. Log in again."))
        _send_code(ch, user_mfa(ch.user).email)
        return ch


def _totp_match(mfa: UserMfa, code: str, now: dt.datetime) -> int | None:
    """The time step (±1 around now) whose code this is, when not used before; None otherwise."""
    if not (mfa.totp_secret and len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(mfa.totp_secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if mfa.totp_last_step is not None and step <= mfa.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _second_factor_ok(user: User, code: str, now: dt.datetime) -> str:
    """Check a TOTP or recovery code of ``user`` and consume it; the kind used, or "" when wrong."""
    mfa = UserMfa.objects.select_for_update().filter(user=user, method=MfaMethod.TOTP).first()
    if mfa is None:
        return ""
    step = _totp_match(mfa, code, now)
    if step is not None:
        mfa.totp_last_step = step
        mfa.save(update_fields=["totp_last_step", "updated_at"])
        return "totp"
    if len(code) == 10:
        used = RecoveryCode.objects.filter(user=user, used_at__isnull=True,
                                           code_hash=_keyed_hash("recovery", str(user.pk), code)).update(used_at=now)
        if used:
            return "recovery_code"
    return ""


def login_verify(*, challenge_id: str, code: str, channel: str) -> User:
    """The user, when ``code`` answers this challenge. Any wrong answer ends the challenge."""
    code = _normalize_code(code)
    now = clock.now()
    with transaction.atomic():
        ch = _open_challenge(challenge_id, channel)
        used = ""
        if ch is not None:
            if ch.method == MfaMethod.EMAIL:
                ok = (ch.code_expires_at is not None and now < ch.code_expires_at and len(code) == 6
                      and hmac.compare_digest(ch.code_hash, _keyed_hash("login-code", ch.challenge_id, code)))
                used = "email" if ok else ""
            else:
                used = _second_factor_ok(ch.user, code, now)
            ch.ended_at = now
            ch.ended_reason = "ok" if used else "wrong"
            ch.save(update_fields=["ended_at", "ended_reason"])
    if ch is None:
        raise DomainError(ErrorCode.MFA_CHALLENGE_INVALID)
    user = ch.user
    if not used or not user.is_active or user.is_locked:
        audit_record(action=f"auth.mfa.{channel}", tenant=user.tenant, user=user, success=False,
                     changes={"method": [None, ch.method]})
        raise DomainError(ErrorCode.MFA_CODE_INVALID)
    audit_record(action=f"auth.mfa.{channel}", tenant=user.tenant, user=user, changes={"method": [None, used]})
    if used == "recovery_code":
        left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        security_notice(user, _("A recovery code was used"),
                _("A recovery code was used to log in as user %(user)s. %(left)s recovery codes are left. "
                  "If this was not you, change your password and tell your administrator.")
                % {"user": user.audit_label, "left": left})
    return user


# --- authenticator app (TOTP) --------------------------------------------------------------------

def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.audit_label, issuer_name=TOTP_ISSUER)


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [secrets.token_hex(5) for _i in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=_keyed_hash("recovery", str(user.pk), c)) for c in codes]
    )
    return [f"{c[:5]}-{c[5:]}" for c in codes]


@transaction.atomic
def totp_enable(*, user: User, secret: str, code: str) -> list[str]:
    """Switch the user to the authenticator app once a first code proves it works; the recovery codes."""
    probe = UserMfa(user=user, totp_secret=secret)
    step = _totp_match(probe, _normalize_code(code), clock.now())
    if step is None:
        raise DomainError(ErrorCode.MFA_CODE_INVALID,
                          _("The code does not match. Check the clock of your phone and enter the current code."),
                          field="code")
    mfa, _created = UserMfa.objects.select_for_update().get_or_create(user=user)
    before = mfa.method
    mfa.method = MfaMethod.TOTP
    mfa.totp_secret = secret
    mfa.totp_last_step = step
    mfa.save()
    codes = _new_recovery_codes(user)
    audit_record(action="mfa.totp.enable", tenant=user.tenant, user=user, target=mfa,
                 changes={"method": [before, MfaMethod.TOTP]})
    security_notice(user, _("Two-step login: authenticator app enabled"),
            _("User %(user)s now logs in with an authenticator app (二段階認証). If you did not do this, "
              "tell your administrator at once.") % {"user": user.audit_label})
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User, password: str, code: str) -> list[str]:
    _check_password_and_code(user, password, code)
    codes = _new_recovery_codes(user)
    audit_record(action="mfa.recovery.regenerate", tenant=user.tenant, user=user)
    security_notice(user, _("Two-step login: new recovery codes"),
            _("New recovery codes were made for user %(user)s; the old ones no longer work.")
            % {"user": user.audit_label})
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def _check_password_and_code(user: User, password: str, code: str) -> None:
    if not user.check_password(password or ""):
        raise DomainError(ErrorCode.AUTHENTICATION_FAILED, _("The password is incorrect."), field="password")
    mfa = user_mfa(user)
    if mfa.method == MfaMethod.TOTP and not _second_factor_ok(user, _normalize_code(code), clock.now()):
        raise DomainError(ErrorCode.MFA_CODE_INVALID, _("The code is incorrect."), field="code")


def mfa_disable(*, user: User, password: str, code: str = "") -> None:
    """Back to password only (needs the password, and a code when the app is in use), if the policy allows."""
    if _policy(user) != MfaPolicy.OPTIONAL:
        raise DomainError(ErrorCode.PERMISSION_DENIED,
                          _("Your company requires two-step login; it cannot be switched off."))
    with transaction.atomic():
        _check_password_and_code(user, password, code)
        mfa = UserMfa.objects.select_for_update().filter(user=user).first()
        if mfa is None or mfa.method == MfaMethod.NONE:
            return
        before = mfa.method
        mfa.method = MfaMethod.NONE
        mfa.totp_secret = ""
        mfa.totp_last_step = None
        mfa.save()
        RecoveryCode.objects.filter(user=user).delete()
        audit_record(action="mfa.disable", tenant=user.tenant, user=user, target=mfa,
                     changes={"method": [before, MfaMethod.NONE]})
        security_notice(user, _("Two-step login switched off"),
                _("User %(user)s now logs in with the password only. If you did not do this, tell your "
                  "administrator at once.") % {"user": user.audit_label})


# --- the 2FA email address (M-USER-3) ------------------------------------------------------------

def email_change_pending(user: User) -> EmailChange | None:
    return (EmailChange.objects.filter(user=user, confirmed_at__isnull=True, withdrawn_at__isnull=True,
                                       expires_at__gt=clock.now()).first())


@transaction.atomic
def email_change_request(*, user: User, email: str, link_base: str) -> EmailChange:
    """Ask to log in with email codes sent to ``email``; mails a confirmation link (``link_base`` + token)."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Enter a valid email address."), field="email") from exc
    if user.tenant is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED)
    if email.casefold() == user.tenant.notification_email.casefold():
        raise DomainError(ErrorCode.VALIDATION_ERROR,
                          _("Use an address other than your company's notification address."), field="email")
    if enrolment_needed(user, UserMfa(user=user, method=MfaMethod.EMAIL)) == "totp":
        raise DomainError(ErrorCode.PERMISSION_DENIED,
                          _("Root users of your company must use an authenticator app."))
    now = clock.now()
    EmailChange.objects.filter(user=user, confirmed_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=now)
    token = secrets.token_urlsafe(32)
    change = EmailChange.objects.create(user=user, email=email, token_hash=_keyed_hash("email-link", token),
                                        created_at=now, expires_at=now + LINK_TTL)
    mail_after_commit(
        to=[email], subject="[Kaisen] " + _("Confirm your two-step login email address"),
        body=_("Open this link within 24 hours to use this address for login codes (二段階認証):\n\n%(link)s\n\n"
               "You will be asked for your operator ID, username and password. Until then your current "
               "login method stays in force. If you did not ask for this, ignore this mail.")
        % {"link": f"{link_base}{token}/"},
    )
    audit_record(action="mfa.email.request", tenant=user.tenant, user=user, target=change,
                 changes={"email": [None, email]})
    return change


@transaction.atomic
def email_change_withdraw(*, user: User) -> bool:
    n = EmailChange.objects.filter(user=user, confirmed_at__isnull=True, withdrawn_at__isnull=True).update(
        withdrawn_at=clock.now())
    if n:
        audit_record(action="mfa.email.withdraw", tenant=user.tenant, user=user)
    return bool(n)


def email_change_lookup(token: str) -> EmailChange | None:
    change = EmailChange.objects.select_related("user", "user__tenant").filter(
        token_hash=_keyed_hash("email-link", token or "")).first()
    if (change is None or change.confirmed_at is not None or change.withdrawn_at is not None
            or change.expires_at <= clock.now()):
        return None
    return change


def email_change_confirm(*, token: str, request: HttpRequest | None, operator_id: str, username: str,
                         password: str) -> EmailChange:
    """Confirm through the mailed link with user ID + password; from now on login codes go to the address."""
    if email_change_lookup(token) is None:
        raise DomainError(ErrorCode.MFA_LINK_INVALID)
    user = login_check(request=request, operator_id=operator_id, username=username, password=password,
                       channel="mfa_link")
    with transaction.atomic():
        change = EmailChange.objects.select_for_update().filter(
            token_hash=_keyed_hash("email-link", token), user=user, confirmed_at__isnull=True,
            withdrawn_at__isnull=True, expires_at__gt=clock.now()).first()
        if change is None:
            raise DomainError(ErrorCode.MFA_LINK_INVALID)
        change.confirmed_at = clock.now()
        change.save(update_fields=["confirmed_at"])
        mfa, _created = UserMfa.objects.select_for_update().get_or_create(user=user)
        before = [mfa.method, mfa.email]
        mfa.method = MfaMethod.EMAIL
        mfa.email = change.email
        mfa.totp_secret = ""
        mfa.totp_last_step = None
        mfa.save()
        RecoveryCode.objects.filter(user=user).delete()
        audit_record(action="mfa.email.confirm", tenant=user.tenant, user=user, target=mfa,
                     changes={"method": [before[0], MfaMethod.EMAIL], "email": [before[1] or None, change.email]})
        mail_after_commit(
            to=[change.email], subject="[Kaisen] " + _("Two-step login setup complete"),
            body=_("From your next login, user %(user)s receives login codes (認証コード) at this address.")
            % {"user": user.audit_label},
        )
        security_notice(user, _("Two-step login: email address changed"),
                _("Login codes for user %(user)s are now sent to a new address (%(email)s). If you did not do "
                  "this, tell your administrator at once.") % {"user": user.audit_label, "email": change.email})
        return change
