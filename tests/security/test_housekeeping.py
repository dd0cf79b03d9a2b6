"""Housekeeping: stale login counters are purged, locks in force are kept (issue 5 §4); the scheduler's
periodic runner runs due jobs once per interval and survives a failing job."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from kaisen.core import clock
from kaisen.core.periodic import Job, PeriodicRunner
from kaisen.security.models import LoginThrottle
from kaisen.security.throttle import account_rule, address_rule, throttle_purge

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_purge_deletes_only_counters_that_hold_nothing_back() -> None:
    window = max(account_rule().window, address_rule().window)
    with time_machine.travel(T0, tick=False):
        now = clock.now()
        old = now - window * 3
        LoginThrottle.objects.create(key="ip:old", window_start=old, failures=2)
        LoginThrottle.objects.create(key="ip:old-lock-over", window_start=old, failures=9, locked_until=now - window)
        LoginThrottle.objects.create(key="acct:locked", window_start=old, failures=9,
                                     locked_until=now + dt.timedelta(minutes=5))
        LoginThrottle.objects.create(key="ip:recent", window_start=now - dt.timedelta(seconds=30), failures=1)
        assert throttle_purge() == 2
    assert set(LoginThrottle.objects.values_list("key", flat=True)) == {"acct:locked", "ip:recent"}


def _count() -> int:
    _count.calls += 1  # type: ignore[attr-defined]
    return 3


def _boom() -> int:
    raise RuntimeError("job failed")


def test_periodic_runner_runs_each_job_once_per_interval_and_survives_failures() -> None:
    _count.calls = 0  # type: ignore[attr-defined]
    runner = PeriodicRunner(jobs=[Job("boom", f"{__name__}._boom", 10), Job("count", f"{__name__}._count", 60)])
    assert runner.run_due(now=1000.0) == {"count": 3}
    assert runner.run_due(now=1030.0) == {}
    assert runner.run_due(now=1061.0) == {"count": 3}
    assert _count.calls == 2  # type: ignore[attr-defined]
