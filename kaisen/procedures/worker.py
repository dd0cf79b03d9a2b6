"""The scheduler loop (a thread of ``kaisen serve``) and the ``kaisen worker`` process.

The scheduler calls ``orders_tick`` every ``KAISEN_SCHEDULER_INTERVAL`` seconds (at once again while a tick
reports more due work) in every worker: the order engine is a work queue whose rows are claimed with
``SKIP LOCKED``, so workers add up. The leader of the cluster (``Leadership``: a PostgreSQL advisory lock)
also runs every ~10 s ``bulk_requeue_stale`` (bulk jobs whose run was lost) and the housekeeping jobs of
``kaisen.core.periodic`` when they are due. It logs and survives every error, and closes its database
connection (ending its leadership) when it stops.
``run_worker`` runs the django-tasks database worker and the scheduler in one process and stops both
cleanly on SIGTERM / SIGINT. Any number of these can run against one database (0004).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.db import close_old_connections, connection

log = logging.getLogger("kaisen.scheduler")


#: The PostgreSQL advisory lock whose holder is the cluster's scheduler leader ('KAIS').
LEADER_LOCK_KEY = 0x4B414953


class Leadership:
    """Which scheduler of the cluster runs the jobs that must run once (issue 11 §3).

    On PostgreSQL the leader is the scheduler whose database session holds the advisory lock
    ``LEADER_LOCK_KEY``: the others try to take it on every tick, and get it within one tick after the
    leader's session ends (a stopped or killed process, a lost connection: PostgreSQL releases a session's
    locks when it ends). On SQLite there is one machine and every scheduler leads (the jobs are safe to run
    concurrently anyway). Uses the calling thread's connection: call it from the scheduler thread only."""

    def __init__(self) -> None:
        self.leader = False

    def check(self) -> bool:
        if connection.vendor != "postgresql":
            self.leader = True
            return True
        with connection.cursor() as cur:
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "pid = pg_backend_pid() AND classid = 0 AND objid = %s AND objsubid = 1)", [LEADER_LOCK_KEY])
            held = bool(cur.fetchone()[0])
            if not held:
                cur.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK_KEY])
                held = bool(cur.fetchone()[0])
        if held != self.leader:
            log.info("scheduler %s: %s", os.getpid(), "now the leader" if held else "no longer the leader")
        self.leader = held
        return held


class Scheduler:
    def __init__(self, interval: float, *, limit: int = 200) -> None:
        self.interval = max(0.05, float(interval))
        self.limit = limit
        self.stop_event = threading.Event()
        self.ticks = 0
        self.bulk_checked = 0.0
        from kaisen.core.periodic import PeriodicRunner

        self.periodic = PeriodicRunner()
        self.leadership = Leadership()

    def stop(self) -> None:
        self.stop_event.set()

    def tick_once(self) -> None:
        from kaisen.procedures.engine import orders_tick

        close_old_connections()
        try:
            while not self.stop_event.is_set():
                report = orders_tick(limit=self.limit)
                self.ticks += 1
                if report.handled or report.errors:
                    log.debug("tick: %s", report.as_dict())
                if not report.more:
                    break
            if self.leadership.check():  # once across the cluster
                self.requeue_lost_bulk_jobs()
                self.periodic.run_due()
        except Exception:
            log.exception("scheduler tick failed; next try in %.1f s", self.interval)
            connection.close()  # a broken connection is reopened on the next tick

    def requeue_lost_bulk_jobs(self) -> None:
        """Every ~10 s: enqueue again the bulk jobs whose run was lost with its worker (X-BULK)."""
        from kaisen.procedures.bulk import bulk_requeue_stale

        if time.monotonic() - self.bulk_checked < 10:
            return
        self.bulk_checked = time.monotonic()
        if requeued := bulk_requeue_stale():
            log.info("bulk: %d lost job(s) enqueued again", requeued)

    def run(self) -> None:
        log.info("scheduler started (every %.1f s)", self.interval)
        try:
            while not self.stop_event.is_set():
                try:
                    self.tick_once()
                except BaseException:  # never let the thread die silently
                    log.exception("scheduler: unexpected error")
                self.stop_event.wait(self.interval)
        finally:
            connection.close()
            log.info("scheduler stopped")


def start_scheduler_thread(interval: float | None = None) -> tuple[threading.Thread, Scheduler]:
    """Start the scheduler as a daemon thread of this process."""
    from django.conf import settings

    scheduler = Scheduler(settings.KAISEN_SCHEDULER_INTERVAL if interval is None else interval)
    thread = threading.Thread(target=scheduler.run, name="kaisen-scheduler", daemon=True)
    thread.start()
    return thread, scheduler


def _task_worker(interval: float) -> Any:
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(queue_names=["*"], interval=interval, batch=False, backend_name="default", startup_delay=False,
                  max_tasks=None, worker_id=f"worker-{os.getpid()}", excluded_queue_names=[])


def run_rq_worker(*, scheduler_interval: float | None = None, on_ready: Callable[[], None] | None = None,
                  burst: bool = False) -> None:
    """``kaisen worker`` with the Redis task backend: an RQ worker in this (main) thread — it handles SIGTERM
    itself (a warm stop: the current job finishes) — and the scheduler in a thread, stopped after it."""
    import django_rq
    from django.conf import settings
    from django_tasks_rq.backend import Job

    sched_thread, scheduler = start_scheduler_thread(scheduler_interval)
    if on_ready is not None:
        on_ready()
    try:
        worker = django_rq.get_worker(*settings.TASKS["default"].get("QUEUES", ["default"]), job_class=Job)
        worker.work(with_scheduler=True, burst=burst)
    finally:
        scheduler.stop()
        sched_thread.join(timeout=30)


def run_worker(*, task_interval: float = 0.5, scheduler_interval: float | None = None,
               on_ready: Callable[[], None] | None = None) -> None:
    """``kaisen worker``: the task worker and the scheduler until SIGTERM / SIGINT, then a clean stop
    (the current task and the current tick finish; a second signal exits at once)."""
    from django.conf import settings

    if str(settings.TASKS["default"]["BACKEND"]).startswith("django_tasks_rq"):
        run_rq_worker(scheduler_interval=scheduler_interval, on_ready=on_ready)
        return
    stop = threading.Event()
    task_worker = _task_worker(task_interval)

    def run_tasks() -> None:
        try:
            task_worker.run()
        except BaseException:
            log.exception("task worker stopped by an error")
        finally:
            connection.close()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(1)
        log.warning("%s: stopping after the current task and tick", signal.strsignal(signum))
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tasks_thread = threading.Thread(target=run_tasks, name="kaisen-task-worker", daemon=True)
    tasks_thread.start()
    sched_thread, scheduler = start_scheduler_thread(scheduler_interval)
    if on_ready is not None:
        on_ready()
    while not stop.is_set():
        stop.wait(0.5)
        if not tasks_thread.is_alive():  # restart a task worker that died (it logs why)
            time.sleep(1)
            tasks_thread = threading.Thread(target=run_tasks, name="kaisen-task-worker", daemon=True)
            tasks_thread.start()
    task_worker.running = False
    scheduler.stop()
    sched_thread.join(timeout=30)
    tasks_thread.join(timeout=30)
