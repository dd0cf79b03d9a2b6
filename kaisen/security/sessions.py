"""The user's web sessions (issue 5 §5): registered at login, listed on "My sessions", revocable.

Revoking deletes the session from Django's session store (so it is gone server-side at once) and marks
the :class:`UserSession` ended; :class:`SessionGuardMiddleware` also refuses a session whose record was
ended, whatever session backend is configured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, logout
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from kaisen.accounts.models import User
from kaisen.audit.services import audit_record
from kaisen.core import clock
from kaisen.core.errors import NotFound
from kaisen.core.middleware import ip_from_request
from kaisen.security.models import UserSession

#: "last seen" is written at most this often per session.
TOUCH_EVERY = dt.timedelta(seconds=60)


def _store(session_key: str) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def session_register(request: HttpRequest, user: User) -> UserSession | None:
    """Record the session of a login; call after ``django.contrib.auth.login`` (which rotates the key).

    Idempotent: a second call for the same session changes nothing.
    """
    session = getattr(request, "session", None)
    if session is None:
        return None
    if session.session_key is None:
        session.save()
    key = session.session_key
    existing = UserSession.objects.filter(session_key=key).first()
    if existing is not None:
        return existing
    now = clock.now()
    try:
        with transaction.atomic():
            return UserSession.objects.create(
                user=user, session_key=key, ip_address=ip_from_request(request) or None,
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:300], created_at=now, last_seen_at=now)
    except IntegrityError:
        return UserSession.objects.filter(session_key=key).first()


def session_list(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, ended_at__isnull=True)


def _end(rows: QuerySet[UserSession], reason: str) -> int:
    count = 0
    for row in rows:
        _store(row.session_key).delete()
        count += UserSession.objects.filter(pk=row.pk, ended_at__isnull=True).update(ended_at=clock.now(),
                                                                                    end_reason=reason)
    return count


def session_revoke(*, user: User, session_id: int) -> UserSession:
    """End one of the user's own sessions (another user's is "not found")."""
    row = UserSession.objects.filter(user=user, pk=session_id, ended_at__isnull=True).first()
    if row is None:
        raise NotFound()
    _end(UserSession.objects.filter(pk=row.pk), "revoked")
    audit_record(action="session.revoke", tenant=user.tenant, user=user, target=row)
    return row


def sessions_end_all(*, user: User, except_key: str | None, reason: str) -> int:
    rows = session_list(user=user)
    if except_key:
        rows = rows.exclude(session_key=except_key)
    return _end(rows, reason)


def sessions_keep_after_password_change(*, user: User, except_key: str | None) -> None:
    """Keep the user's other sessions valid after a password change (the user chose so)."""
    for row in session_list(user=user).exclude(session_key=except_key or ""):
        store = _store(row.session_key)
        if store.exists(row.session_key):
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.save()


def session_ended(session_key: str | None, reason: str) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(ended_at=clock.now(),
                                                                                         end_reason=reason)


def idle_timeout(user: User) -> dt.timedelta:
    """How long a session of ``user`` may go without a request: the tenant's setting (operator staff: the
    KAISEN_SESSION_IDLE_MINUTES setting)."""
    minutes = user.tenant.session_idle_minutes if user.tenant is not None else settings.KAISEN_SESSION_IDLE_MINUTES
    return dt.timedelta(minutes=minutes)


def _expiry(row: UserSession, user: User, now: dt.datetime) -> str:
    """Why the session is over ("idle", "expired"), or "" while it is valid. "last seen" is written at most
    every TOUCH_EVERY, so the idle time may be counted up to that much early."""
    if now - row.created_at >= dt.timedelta(seconds=settings.SESSION_COOKIE_AGE):
        return "expired"
    if now - row.last_seen_at >= idle_timeout(user):
        return "idle"
    return ""


class SessionGuardMiddleware:
    """After AuthenticationMiddleware: signs out a session whose record was ended, that was idle longer than
    the tenant's ``session_idle_minutes`` or is older than SESSION_COOKIE_AGE (issue 14 d); keeps "last seen"
    fresh; records sessions that began without ``session_register`` (e.g. before this existed). Answers to a
    signed-in user (web page or API) are marked ``Cache-Control: no-store``: a shared or back-button cache
    must not keep a customer's page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        key = request.session.session_key if hasattr(request, "session") else None
        if isinstance(user, User) and key:
            row = UserSession.objects.filter(session_key=key).only("id", "ended_at", "last_seen_at", "created_at",
                                                                   "user_id").first()
            now = clock.now()
            if row is None:
                session_register(request, user)
            elif row.ended_at is not None or row.user_id != user.pk:
                logout(request)
            elif reason := _expiry(row, user, now):
                session_ended(key, reason)
                logout(request)
            elif now - row.last_seen_at >= TOUCH_EVERY:
                UserSession.objects.filter(pk=row.pk).update(last_seen_at=now,
                                                             ip_address=ip_from_request(request) or None)
        signed_in = bool(getattr(getattr(request, "user", None), "is_authenticated", False))
        response = self.get_response(request)
        if signed_in or getattr(getattr(request, "user", None), "is_authenticated", False):
            add_never_cache_headers(response)
        return response
