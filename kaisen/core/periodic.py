"""Periodic housekeeping run by the scheduler (``kaisen serve``'s scheduler thread and ``kaisen worker``).

Each job is a dotted path to a function taking no arguments and returning a count (rows handled), and an
interval in seconds. Apps add their line to ``JOBS``. Every scheduler runs the jobs that are due; jobs must
therefore be safe to run concurrently from several processes (delete/update by condition, row locks).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.utils.module_loading import import_string

log = logging.getLogger("kaisen.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    func: str
    every_seconds: float


JOBS: list[Job] = [
    # Finished django-tasks rows (issue 11 §1): the worker's claim query slows down as they pile up.
    Job("prune finished task rows", "kaisen.core.taskqueue.task_results_prune", 600),
    Job("purge stale login counters", "kaisen.security.throttle.throttle_purge", 3600),
    # Usage storage (issue 10 §5): monthly partitions ahead of time (PostgreSQL); months past retention archived.
    Job("prepare usage partitions", "kaisen.usage.partitions.usage_partitions_prepare", 3600),
    Job("archive usage past retention", "kaisen.usage.retention.usage_archive_due", 86400),
    # Billing (issue 4 §2-§3, part `rate`): provisional rating, then the close from the 2nd business day.
    Job("rate open billing months", "kaisen.billing.services.rate_open_months", 3600),
    Job("close due billing months", "kaisen.billing.services.close_due", 3600),
    # Payments (issue 4 §5): charge issued card invoices not charged yet (S-BILL-1, S-PAY-2).
    Job("charge issued card invoices", "kaisen.payments.services.charge_due_job", 3600),
    # Statements (issue 4 §6, K-5): delete files kept past 48 hours; start lost generations again.
    Job("purge expired statements", "kaisen.statements.services.statements_purge", 300),
    # Webhooks (issue 13 §2): retries whose backoff has passed, and first attempts a lost task left behind.
    Job("send due webhook deliveries", "kaisen.events.delivery.deliveries_send_due", 10),
    # Budgets (issue 13 §4): the projection moves with the hourly rating too, not only with imports.
    Job("check budgets", "kaisen.alerts.budgets.budgets_check", 3600),
    # "No traffic for N days" (issue 13 §3): the quiet lines change with the day, not with an import.
    Job("evaluate no-traffic alert rules", "kaisen.alerts.evaluate.quiet_rules_evaluate", 3600),
]


@dataclass
class PeriodicRunner:
    jobs: list[Job] = field(default_factory=lambda: list(JOBS))
    last_run: dict[str, float] = field(default_factory=dict)

    def run_due(self, *, now: float | None = None) -> dict[str, int]:
        """Run every job whose interval has passed since its last run here (all of them the first time)."""
        now = time.monotonic() if now is None else now
        done: dict[str, int] = {}
        for job in self.jobs:
            last = self.last_run.get(job.name)
            if last is not None and now - last < job.every_seconds:
                continue
            self.last_run[job.name] = now
            try:
                done[job.name] = int(import_string(job.func)() or 0)
            except Exception:
                log.exception("periodic job %r failed; next try in %.0f s", job.name, job.every_seconds)
                continue
            if done[job.name]:
                log.info("%s: %d", job.name, done[job.name])
        return done
