"""The scheduler's once-per-cluster jobs run on one leader only (issue 11 §3): two schedulers, each with its
own database session as two processes would have, against one PostgreSQL database. When the leader's session
ends, the other takes over within a tick. (SQLite: one machine, every scheduler leads.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from kaisen.core.periodic import Job, PeriodicRunner
from kaisen.procedures.worker import Scheduler

RUNS: list[str] = []
_lock = threading.Lock()


def counted_job() -> int:
    with _lock:
        RUNS.append(threading.current_thread().name)
    return 1


def _scheduler() -> Scheduler:
    scheduler = Scheduler(1)
    scheduler.periodic = PeriodicRunner(jobs=[Job("count", "tests.procedures.test_scheduler_leader.counted_job", 0)])
    scheduler.requeue_lost_bulk_jobs = lambda: None  # type: ignore[method-assign]
    return scheduler


class _Process:
    """A scheduler in a thread of its own, with that thread's own database session."""

    def __init__(self, name: str) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.scheduler = self.run(_scheduler)

    def run(self, fn: Callable[[], Any]) -> Any:
        return self.pool.submit(fn).result(timeout=60)

    def tick(self) -> bool:
        self.run(self.scheduler.tick_once)
        return bool(self.scheduler.leadership.leader)

    def die(self) -> None:
        self.run(lambda: connection.close())  # this thread's session ends, as when the process is killed
        self.pool.shutdown()


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_one_leader_then_failover() -> None:
    RUNS.clear()
    if connection.vendor != "postgresql":  # one machine: every scheduler leads
        scheduler = _scheduler()
        scheduler.tick_once()
        assert scheduler.leadership.leader and RUNS
        return
    a, b = _Process("sched-a"), _Process("sched-b")
    try:
        first = [a.tick(), b.tick()]
        for _ in range(3):
            again = [a.tick(), b.tick()]
        assert first == again == [True, False]
        assert RUNS and all(name.startswith("sched-a") for name in RUNS)  # the job ran on the leader only
        before = len(RUNS)
        a.die()
        assert b.tick() is True  # the next tick of the other one takes over
        assert len(RUNS) > before and RUNS[-1].startswith("sched-b")
        c = _Process("sched-c")
        try:
            assert c.tick() is False and b.tick() is True
        finally:
            c.die()
    finally:
        for p in (a, b):
            if not p.pool._shutdown:  # type: ignore[attr-defined]
                p.die()
