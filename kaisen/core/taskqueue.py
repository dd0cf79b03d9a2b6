"""The background-task queue seen from the operator's side (issue 11 §1, §5): pruning finished task rows,
and the queue's depth and age for the metrics and the readiness check.

With the database backend (django-tasks-db, the default) every enqueued task is a row of
``django_tasks_db_dbtaskresult``; a finished row is never deleted by the library, and the worker's claim
query slows down as they pile up. ``task_results_prune`` (a periodic job, ``kaisen.core.periodic``) deletes
successful rows after ``KAISEN_TASK_RESULTS_KEEP_HOURS`` and failed ones after
``KAISEN_TASK_FAILED_KEEP_DAYS`` (kept longer: the back office shows them). Other backends keep their own
results (Redis: django-tasks-rq's ``result_ttl``) and these functions do nothing for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Min, Q
from django.utils import timezone

DB_BACKEND = "django_tasks_db.DatabaseBackend"


def uses_db_backend(alias: str = "default") -> bool:
    return bool(settings.TASKS[alias]["BACKEND"] == DB_BACKEND)


def task_results_prune(*, now: dt.datetime | None = None) -> int:
    """Delete finished task rows older than the settings allow. Returns how many were deleted."""
    if not uses_db_backend():
        return 0
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    keep_ok = now - dt.timedelta(hours=settings.KAISEN_TASK_RESULTS_KEEP_HOURS)
    keep_failed = now - dt.timedelta(days=settings.KAISEN_TASK_FAILED_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(
        Q(status=TaskResultStatus.SUCCESSFUL, finished_at__lte=keep_ok)
        | Q(status=TaskResultStatus.FAILED, finished_at__lte=keep_failed)
    ).delete()
    return deleted


@dataclass(frozen=True)
class QueueState:
    ready: int  # tasks waiting for a worker
    running: int
    oldest_ready_seconds: float  # how long the oldest waiting task has waited (0 when none)


def queue_state(*, now: dt.datetime | None = None) -> QueueState | None:
    """Depth and age of the database task queue (None for another backend)."""
    if not uses_db_backend():
        return None
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    ready = DBTaskResult.objects.ready()
    oldest = ready.aggregate(oldest=Min("enqueued_at"))["oldest"]
    return QueueState(ready=ready.count(), running=DBTaskResult.objects.running().count(),
                      oldest_ready_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
