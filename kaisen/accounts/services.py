"""Login, users, API keys and bearer tokens."""

from __future__ import annotations

import copy
import datetime as dt
import hmac
import secrets
import threading
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kaisen.accounts.models import ApiKey, ApiToken, User
from kaisen.accounts.validators import validate_username
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import DomainError, ErrorCode, NotFound
from kaisen.core.mail import security_notice
from kaisen.core.tokens import secret_digest
from kaisen.events import catalogue
from kaisen.events.services import event_emit
from kaisen.tenancy.models import Tenant

# --- users ---------------------------------------------------------------------------------------

def _check_username(username: str) -> None:
    try:
        validate_username(username)
    except ValidationError as exc:
        raise DomainError(ErrorCode.INVALID_USERNAME, exc.messages[0], field="username") from exc


@transaction.atomic
def user_create(
    *,
    tenant: Tenant | None,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    is_root: bool = False,
    is_staff: bool = False,
    is_superuser: bool = False,
    actor: User | None = None,
) -> User:
    _check_username(username)
    user = User(tenant=tenant, username=username, display_name=display_name, email=email, is_root=is_root,
                is_staff=is_staff, is_superuser=is_superuser)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise DomainError(ErrorCode.DUPLICATE, _("This username is already taken."), field="username") from exc
    audit_record(action="user.create", tenant=tenant, user=actor, target=user,
                 changes={"username": [None, username], "is_root": [None, is_root]})
    return user


# --- login ---------------------------------------------------------------------------------------

def login_check(*, request: HttpRequest | None, operator_id: str, username: str, password: str,
                channel: str = "web") -> User:
    """Check credentials and audit the attempt. Every failure is the same generic error.

    The failed-login limiter (kaisen.security.throttle) is asked first: once an account or a client address
    has reached its limit, the attempt is refused without the password being checked at all.
    """
    from kaisen.core.middleware import client_ip, ip_from_request
    from kaisen.security import throttle

    operator_id = (operator_id or "").strip().upper()
    username = username or ""
    ip = ip_from_request(request) if request is not None else client_ip()
    keys = throttle.login_keys(operator_id, username, ip)
    tenant = Tenant.objects.filter(public_id=operator_id).first() if operator_id else None
    known = User.objects.filter(tenant=tenant, username=username).first() if (tenant or not operator_id) else None
    actor = f"{operator_id or 'staff'}:{username}"[:100]

    if known is not None and known.is_locked and throttle.throttle_lock_over(keys[throttle.ACCOUNT][0],
                                                                               known.locked_at):
        user_unlock(user=known, actor=None, reason="time")
        known.refresh_from_db()

    refused = throttle.throttle_reserve(keys)
    if refused is not None:
        audit_record(action=f"auth.login.{channel}", tenant=tenant, user=known, actor=actor, success=False,
                     changes={"reason": "throttled", "limit": refused})
        raise DomainError(ErrorCode.AUTHENTICATION_FAILED)

    user = authenticate(request, operator_id=operator_id or None, username=username, password=password)
    if user is None:
        reached = throttle.throttle_failed(keys)
        if known is not None:
            User.objects.filter(pk=known.pk).update(failed_login_count=F("failed_login_count") + 1)
        audit_record(action=f"auth.login.{channel}", tenant=tenant, user=known, actor=actor, success=False,
                     changes={"reason": "locked" if known is not None and known.is_locked else "invalid"})
        if throttle.ACCOUNT in reached and known is not None:
            _user_lock_after_failures(known)
        raise DomainError(ErrorCode.AUTHENTICATION_FAILED)
    assert isinstance(user, User)
    throttle.throttle_succeeded(keys)
    if user.failed_login_count:
        User.objects.filter(pk=user.pk).update(failed_login_count=0)
    audit_record(action=f"auth.login.{channel}", tenant=user.tenant, user=user)
    return user


def _user_lock_after_failures(user: User) -> None:
    now = clock.now()
    with transaction.atomic():
        if not User.objects.filter(pk=user.pk, is_locked=False).update(is_locked=True, locked_at=now):
            return
        _token_cache_clear_now_and_on_commit()
        audit_record(action="user.lock", tenant=user.tenant, user=user, actor="system", target=user,
                     changes={"is_locked": [False, True], "reason": "failed_logins"})
        security_notice(user, _("Your account was locked"),
                         _("User %(user)s was locked after %(count)d failed logins in a row. It is unlocked "
                           "automatically after %(minutes)d minutes, or by the operator. If these attempts "
                           "were not yours, change your password after the lock ends.")
                         % {"user": user.audit_label, "count": settings.KAISEN_LOCKOUT_ACCOUNT_FAILURES,
                            "minutes": settings.KAISEN_LOCKOUT_MINUTES})


def user_unlock(*, user: User, actor: User | None, reason: str = "operator") -> bool:
    """End a lock (by the operator, or by time); clears the failed-login counter of the account."""
    from kaisen.security import throttle

    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_locked=True).update(is_locked=False, locked_at=None,
                                                                         failed_login_count=0)
        operator_id = user.tenant.public_id if user.tenant else ""
        throttle.throttle_clear(throttle.account_key(operator_id, user.username))
        if changed:
            audit_record(action="user.unlock", tenant=user.tenant, user=actor,
                         actor=None if actor is not None else "system", target=user,
                         changes={"is_locked": [True, False], "reason": reason})
    return bool(changed)


# --- API keys ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str


@transaction.atomic
def api_key_create(*, user: User, name: str, expires_at: dt.datetime | None = None) -> NewApiKey:
    from kaisen.access import actions
    from kaisen.access.services import authorize

    if user.tenant is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, _("Operator staff use the back office, not API keys."))
    authorize(user=user, action=actions.APIKEY_MANAGE)  # issue 5 §6: a narrowed key cannot mint a wider one
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("Give the key a name of 1 to 100 characters."), field="name")
    if expires_at is not None and expires_at <= clock.now():
        # The clock refuses it, which no schema can state: a period's own code (issue 14), as the operator
        # controls answer a window that does not end in the future.
        raise DomainError(ErrorCode.INVALID_PERIOD, _("The expiry must be in the future."), field="expires_at")
    key_id = "KK" + secrets.token_hex(8).upper()
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(tenant=user.tenant, user=user, name=name, key_id=key_id,
                                    secret_hash=secret_digest(secret), expires_at=expires_at)
    audit_record(action="apikey.create", tenant=user.tenant, user=user, target=api_key,
                 changes={"key_id": [None, key_id], "name": [None, name]})
    event_emit(tenant_id=user.tenant.pk, type=catalogue.APIKEY_CREATED,
               data={"key_id": key_id, "name": name, "user": user.username})
    security_notice(user, _("A new API key was created"),
                     _("An API key named \"%(name)s\" (key ID %(key_id)s) was created for user %(user)s. "
                       "If you did not do this, revoke the key and contact your administrator.")
                     % {"name": name, "key_id": key_id, "user": user.audit_label})
    return NewApiKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_revoke(*, user: User, key_id: str, reason: str = "") -> ApiKey:
    from kaisen.access import actions
    from kaisen.access.services import authorize

    authorize(user=user, action=actions.APIKEY_MANAGE)
    try:
        api_key = ApiKey.objects.select_for_update().get(tenant=user.tenant, user=user, key_id=key_id)
    except ApiKey.DoesNotExist as exc:
        raise NotFound() from exc
    if api_key.revoked_at is None:
        api_key.revoked_at = clock.now()
        api_key.save(update_fields=["revoked_at"])
        ApiToken.objects.filter(api_key=api_key, revoked_at__isnull=True).update(revoked_at=api_key.revoked_at)
        _token_cache_clear_now_and_on_commit()
        audit_record(action="apikey.revoke", tenant=user.tenant, user=user, target=api_key,
                     changes={"revoked_at": [None, api_key.revoked_at]}, reason=reason)
        event_emit(tenant_id=api_key.tenant_id, type=catalogue.APIKEY_REVOKED,
                   data={"key_id": api_key.key_id, "name": api_key.name, "user": user.username})
        security_notice(user, _("An API key was revoked"),
                         _("The API key %(key_id)s of user %(user)s was revoked; it can no longer be used.")
                         % {"key_id": api_key.key_id, "user": user.audit_label})
    return api_key


# --- bearer tokens -------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime
    user: User


def _issue(user: User, api_key: ApiKey | None) -> IssuedToken:
    if user.tenant is None:
        raise DomainError(ErrorCode.AUTHENTICATION_FAILED)
    token = "kst_" + secrets.token_urlsafe(32)
    expires_at = clock.now() + dt.timedelta(seconds=settings.KAISEN_API_TOKEN_TTL_SECONDS)
    ApiToken.objects.create(tenant=user.tenant, user=user, api_key=api_key, token_hash=secret_digest(token),
                            expires_at=expires_at)
    return IssuedToken(token=token, expires_at=expires_at, user=user)


def token_issue_for_password(*, request: HttpRequest | None, operator_id: str, username: str,
                             password: str) -> IssuedToken:
    # Not atomic as a whole: the audit entry of a failed attempt must survive the error (X-AUDIT).
    user = login_check(request=request, operator_id=operator_id, username=username, password=password,
                       channel="api")
    return _issue(user, None)


def token_issue_for_api_key(*, key_id: str, secret: str) -> IssuedToken:
    # Not atomic as a whole: the audit entry of a failed attempt must survive the error (X-AUDIT).
    api_key = ApiKey.objects.select_related("user", "user__tenant", "tenant").filter(key_id=key_id).first()
    now = clock.now()
    ok = (
        api_key is not None
        and hmac.compare_digest(api_key.secret_hash, secret_digest(secret or ""))
        and api_key.revoked_at is None
        and (api_key.expires_at is None or api_key.expires_at > now)
        and api_key.user.is_active
        and not api_key.user.is_locked
        and api_key.tenant.is_active
    )
    if not ok or api_key is None:
        audit_record(action="auth.apikey", tenant=api_key.tenant if api_key else None,
                     user=api_key.user if api_key else None, actor=f"apikey:{key_id}"[:100], success=False)
        raise DomainError(ErrorCode.AUTHENTICATION_FAILED,
                          _("The API key ID or secret is incorrect, or the key is expired or revoked."))
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        audit_record(action="auth.apikey", tenant=api_key.tenant, user=api_key.user, target=api_key)
        return _issue(api_key.user, api_key)


# --- bearer tokens: one query, then a short-lived cache in this process (issue 11 §2) --------------------

@dataclass
class _CachedToken:
    user: User  # as loaded, with its tenant; every request gets its own copy
    api_key_id: int | None
    valid_until: dt.datetime  # the cache's TTL, or the token's (or key's) expiry if sooner
    key_used_at: dt.datetime | None


_token_cache: dict[str, _CachedToken] = {}
_token_cache_lock = threading.Lock()
#: At most this many tokens are kept; beyond that the cache is emptied (a burst of new tokens, not a leak).
TOKEN_CACHE_MAX = 10_000


def token_cache_clear() -> None:
    """Forget every cached token of this process: called on every revoke, lock, deactivation and account
    deletion, at once and again after commit. Other processes forget within
    ``KAISEN_API_TOKEN_CACHE_SECONDS`` (their entries expire)."""
    with _token_cache_lock:
        _token_cache.clear()


def _token_cache_clear_now_and_on_commit() -> None:
    token_cache_clear()
    transaction.on_commit(token_cache_clear)


def _token_user(hit: _CachedToken, now: dt.datetime) -> User:
    user = copy.copy(hit.user)
    if hit.api_key_id is not None:
        # issue 5 §6: the request is limited to the key's action list too (kaisen.access.services), and the
        # key's last use is kept to the minute.
        user._kaisen_api_key_id = hit.api_key_id  # type: ignore[attr-defined]
        if hit.key_used_at is None or now - hit.key_used_at > dt.timedelta(minutes=1):
            ApiKey.objects.filter(pk=hit.api_key_id).update(last_used_at=now)
            hit.key_used_at = now
    return user


def token_authenticate(*, token: str) -> User | None:
    """The user behind a bearer token, or None when it is unknown, expired or revoked.

    One query (the token with its user, tenant and key). A valid answer is kept in this process for
    ``KAISEN_API_TOKEN_CACHE_SECONDS`` (0: no cache): a revoke in this process clears it at once, one in
    another process takes effect within that many seconds (tests/test_api_token_cache.py)."""
    if not token:
        return None
    digest = secret_digest(token)
    now = clock.now()
    ttl = settings.KAISEN_API_TOKEN_CACHE_SECONDS
    if ttl > 0:
        hit = _token_cache.get(digest)
        if hit is not None and now < hit.valid_until:
            return _token_user(hit, now)
    row = (
        ApiToken.objects.select_related("user", "user__tenant", "api_key")
        .filter(token_hash=digest).first()
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.api_key is not None and (
        row.api_key.revoked_at is not None
        or (row.api_key.expires_at is not None and row.api_key.expires_at <= now)
    ):
        return None
    user = row.user
    if not user.is_active or user.is_locked or user.tenant is None or not user.tenant.is_active:
        return None
    valid_until = min(now + dt.timedelta(seconds=max(ttl, 0)), row.expires_at)
    if row.api_key is not None and row.api_key.expires_at is not None:
        valid_until = min(valid_until, row.api_key.expires_at)
    entry = _CachedToken(user=copy.copy(user), api_key_id=row.api_key.pk if row.api_key else None,
                         valid_until=valid_until, key_used_at=row.api_key.last_used_at if row.api_key else None)
    if ttl > 0:
        with _token_cache_lock:
            if len(_token_cache) >= TOKEN_CACHE_MAX:
                _token_cache.clear()
            _token_cache[digest] = entry
    return _token_user(entry, now)


@transaction.atomic
def token_revoke(*, token: str) -> None:
    updated = ApiToken.objects.filter(token_hash=secret_digest(token), revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
    _token_cache_clear_now_and_on_commit()
    if not updated:
        raise DomainError(ErrorCode.TOKEN_INVALID)


# --- user management by the tenant's root user (issue 5 §2, M-USER-1, M-USER-2) -------------------

def _require_root(actor: User, message: str) -> None:
    """User management needs ``User:manage`` (issue 5 §1; the root user always has it)."""
    from kaisen.access import actions
    from kaisen.access.services import authorize

    if actor.tenant_id is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, message)
    authorize(user=actor, action=actions.USER_MANAGE)


def _protect_root(actor: User, user: User) -> None:
    """Only a root user changes a root user (its email is the owner's login)."""
    if user.is_root and not actor.is_root:
        raise DomainError(ErrorCode.PERMISSION_DENIED, _("Only the root user can change the root user."))


def _managed_user(actor: User, user_id: int, *, lock: bool = False) -> User:
    """A user of the actor's own tenant; another tenant's user (or none) is NotFound."""
    qs = User.objects.select_related("tenant").filter(tenant=actor.tenant)
    if lock:
        qs = qs.select_for_update(of=("self",))
    user = qs.filter(pk=user_id).first() if actor.tenant_id is not None else None
    if user is None:
        raise NotFound()
    return user


@transaction.atomic
def user_create_limited(*, actor: User, username: str, display_name: str = "", email: str = "",
                        password: str) -> User:
    """A root user adds a limited ("user" role) user to their tenant; the initial password must meet the
    tenant's password profile (kaisen.security.passwords)."""
    from kaisen.security.passwords import password_validate

    _require_root(actor, _("Only the tenant's root user can create users."))
    _check_username(username)
    if User.objects.filter(tenant=actor.tenant, username=username).exists():
        raise DomainError(ErrorCode.DUPLICATE, _("This username is already taken."), field="username")
    display_name, email = (display_name or "").strip(), (email or "").strip()
    if len(display_name) > 100:
        raise DomainError(ErrorCode.VALIDATION_ERROR, _("The name is at most 100 characters."),
                          field="display_name")
    _check_email(email)
    candidate = User(tenant=actor.tenant, username=username, display_name=display_name, email=email)
    try:
        password_validate(password or "", candidate)
    except ValidationError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, " ".join(exc.messages), field="password") from exc
    user = user_create(tenant=actor.tenant, username=username, password=password, display_name=display_name,
                       email=email, is_root=False, actor=actor)
    audit_record(action="user.update", tenant=actor.tenant, user=actor, target=user,
                 changes={"display_name": [None, display_name], "email": [None, email], "is_active": [None, True],
                          "password": [None, "********"]})
    return user


def _check_email(email: str) -> None:
    from django.core.validators import validate_email

    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("Enter a valid email address."), field="email") from exc


@transaction.atomic
def user_update(*, actor: User, user_id: int, display_name: str | None = None, email: str | None = None,
                is_active: bool | None = None) -> User:
    """Root user only. A root user cannot deactivate themselves (nor another root user)."""
    from kaisen.security.sessions import sessions_end_all

    _require_root(actor, _("Only the tenant's root user can change users."))
    user = _managed_user(actor, user_id, lock=True)
    _protect_root(actor, user)
    changes: dict[str, list[object]] = {}
    if display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > 100:
            raise DomainError(ErrorCode.VALIDATION_ERROR, _("The name is at most 100 characters."),
                              field="display_name")
        if display_name != user.display_name:
            changes["display_name"] = [user.display_name, display_name]
            user.display_name = display_name
    if email is not None:
        email = email.strip()
        _check_email(email)
        if email != user.email:
            changes["email"] = [user.email, email]
            user.email = email
    if is_active is not None and is_active != user.is_active:
        if not is_active and (user.pk == actor.pk or user.is_root):
            raise DomainError(ErrorCode.PERMISSION_DENIED, _("A root user cannot be deactivated."),
                              field="is_active")
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
    if changes:
        user.save(update_fields=[f for f in ("display_name", "email", "is_active") if f in changes])
        audit_record(action="user.update", tenant=actor.tenant, user=actor, target=user, changes=changes)
        if changes.get("is_active") == [True, False]:
            sessions_end_all(user=user, except_key=None, reason="deactivated")
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())
            _token_cache_clear_now_and_on_commit()
    return user


def user_deactivate(*, actor: User, user_id: int) -> User:
    """Root user only: the user can no longer log in; their sessions and tokens end."""
    return user_update(actor=actor, user_id=user_id, is_active=False)


@transaction.atomic
def username_change(*, actor: User, user_id: int, new_username: str) -> User:
    """M-USER-2: 6-32 of [A-Za-z0-9_], unique in the tenant. The root user may rename any user of the
    tenant; any user may rename themselves."""
    if actor.tenant_id is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED,
                          _("Only the tenant's root user can change another user's username."))
    if user_id != actor.pk:
        _require_root(actor, _("Only the tenant's root user can change another user's username."))
    user = _managed_user(actor, user_id, lock=True)
    if user_id != actor.pk:
        _protect_root(actor, user)
    _check_username(new_username)
    if new_username == user.username:
        return user
    if User.objects.filter(tenant=user.tenant, username=new_username).exclude(pk=user.pk).exists():
        raise DomainError(ErrorCode.DUPLICATE, _("This username is already taken."), field="username")
    from kaisen.security import throttle

    old = user.username
    user.username = new_username
    try:
        with transaction.atomic():
            user.save(update_fields=["username"])
    except IntegrityError as exc:
        raise DomainError(ErrorCode.DUPLICATE, _("This username is already taken."), field="username") from exc
    assert user.tenant is not None
    # The failed-login counter follows the account to its new name.
    throttle.throttle_clear(throttle.account_key(user.tenant.public_id, old))
    audit_record(action="user.username_change", tenant=user.tenant, user=actor, target=user,
                 changes={"username": [old, new_username]})
    return user


def user_unlock_by_root(*, actor: User, user_id: int) -> User:
    """Root user only: end a user's lock and clear the failed-login counter (``user_unlock`` above, which
    also clears the security app's LoginThrottle row). Unlocking an unlocked user changes nothing."""
    _require_root(actor, _("Only the tenant's root user can unlock users."))
    user = _managed_user(actor, user_id)
    user_unlock(user=user, actor=actor, reason="root_user")
    user.refresh_from_db()
    return user
