"""Failed-login limiting per account and per client address (issue 5 §4).

The counters are rows of :class:`LoginThrottle`, changed only inside a transaction that holds the row
lock (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the IMMEDIATE transaction mode of
``kaisen.settings`` serialises writers). An attempt *reserves* a slot before the password is checked, so
with a limit of N at most N attempts per window are ever evaluated, however many arrive in parallel and
from however many processes; the others are refused without computing a hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from kaisen.core import clock
from kaisen.security.models import LoginThrottle

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Rule:
    limit: int
    window: dt.timedelta
    lock: dt.timedelta


def account_rule() -> Rule:
    minutes = dt.timedelta(minutes=settings.KAISEN_LOCKOUT_MINUTES)
    return Rule(settings.KAISEN_LOCKOUT_ACCOUNT_FAILURES, minutes, minutes)


def address_rule() -> Rule:
    minutes = dt.timedelta(minutes=settings.KAISEN_LOCKOUT_IP_WINDOW_MINUTES)
    return Rule(settings.KAISEN_LOCKOUT_IP_FAILURES, minutes, minutes)


def account_key(operator_id: str, username: str) -> str:
    return f"acct:{(operator_id or '').strip().upper() or '-'}:{username or ''}"[:200]


def login_keys(operator_id: str, username: str, ip: str | None) -> dict[str, tuple[str, Rule]]:
    keys = {ACCOUNT: (account_key(operator_id, username), account_rule())}
    if ip:
        keys[ADDRESS] = (f"ip:{ip}"[:200], address_rule())
    return keys


def _locked_row(key: str, now: dt.datetime) -> LoginThrottle:
    LoginThrottle.objects.bulk_create([LoginThrottle(key=key, window_start=now)], ignore_conflicts=True)
    return LoginThrottle.objects.select_for_update().get(key=key)


def _expire(row: LoginThrottle, rule: Rule, now: dt.datetime) -> bool:
    """Start a new window when the lock or the window is over; True when the row changed."""
    over = (row.locked_until is not None and row.locked_until <= now) or (
        row.locked_until is None and row.window_start + rule.window <= now
    )
    if over:
        row.failures, row.window_start, row.locked_until = 0, now, None
    return over


def throttle_reserve(keys: dict[str, tuple[str, Rule]]) -> str | None:
    """Take one attempt slot under every key. Returns the name of the first key at its limit (nothing is
    taken then), or None when the attempt may be evaluated."""
    now = clock.now()
    with transaction.atomic():
        rows = []
        for name, (key, rule) in sorted(keys.items(), key=lambda item: item[1][0]):
            row = _locked_row(key, now)
            if _expire(row, rule, now):
                row.save(update_fields=["failures", "window_start", "locked_until"])
            rows.append((name, row, rule))
        for name, row, rule in rows:
            if row.failures >= rule.limit:
                return name
        for _name, row, _rule in rows:
            LoginThrottle.objects.filter(pk=row.pk).update(failures=F("failures") + 1)
    return None


def throttle_failed(keys: dict[str, tuple[str, Rule]]) -> set[str]:
    """The reserved attempt failed: keep its slot. Returns the names of the keys that reached their limit
    with this failure (their lock starts now)."""
    now = clock.now()
    reached = set()
    with transaction.atomic():
        for name, (key, rule) in sorted(keys.items(), key=lambda item: item[1][0]):
            updated = LoginThrottle.objects.filter(key=key, failures__gte=rule.limit, locked_until__isnull=True).update(
                locked_until=now + rule.lock)
            if updated:
                reached.add(name)
    return reached


def throttle_succeeded(keys: dict[str, tuple[str, Rule]]) -> None:
    """The reserved attempt succeeded: the account starts afresh, the address gets its slot back."""
    now = clock.now()
    with transaction.atomic():
        for name, (key, _rule) in sorted(keys.items(), key=lambda item: item[1][0]):
            if name == ACCOUNT:
                LoginThrottle.objects.filter(key=key).update(failures=0, window_start=now, locked_until=None)
            else:
                LoginThrottle.objects.filter(key=key, failures__gt=0).update(failures=F("failures") - 1)


def throttle_lock_over(key: str, locked_at: dt.datetime | None) -> bool:
    """True when the account lock that began at ``locked_at`` was set by this limiter and has run out."""
    row = LoginThrottle.objects.filter(key=key).first()
    return (
        row is not None and row.locked_until is not None and locked_at is not None
        and locked_at <= row.locked_until <= clock.now()
    )


def throttle_clear(key: str) -> None:
    LoginThrottle.objects.filter(key=key).update(failures=0, window_start=clock.now(), locked_until=None)


def throttle_purge() -> int:
    """Delete counters that no longer hold anything back: no lock in force and the longest window over.

    Every failed login with a new username or from a new address adds a row; without this the table only
    grows. Run hourly by the scheduler (``kaisen.core.periodic``). Returns the number of rows deleted.
    """
    now = clock.now()
    longest = max(account_rule().window, address_rule().window)
    stale = LoginThrottle.objects.filter(window_start__lt=now - longest).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now))
    deleted, _ = stale.delete()
    return deleted
