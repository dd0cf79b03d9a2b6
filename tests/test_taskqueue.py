"""Finished task rows are pruned on a schedule; the queue's depth and age are measured (issue 11 §1, §5)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from kaisen.core import periodic
from kaisen.core.taskqueue import queue_state, task_results_prune

pytestmark = pytest.mark.django_db


def _row(status: str, finished_ago: dt.timedelta | None, enqueued_ago: dt.timedelta = dt.timedelta(0)) -> DBTaskResult:
    now = timezone.now()
    row = DBTaskResult.objects.create(
        task_path="kaisen.statements.tasks.statement_generate_task", args_kwargs={"args": [], "kwargs": {}},
        backend_name="default", run_after=get_date_max(), queue_name="default", priority=0,
        exception_class_path="", traceback="", worker_ids=[], status=status)
    DBTaskResult.objects.filter(pk=row.pk).update(
        enqueued_at=now - enqueued_ago, finished_at=None if finished_ago is None else now - finished_ago)
    return row


def test_prune_deletes_old_finished_rows_only(settings: object) -> None:
    old_ok = _row(TaskResultStatus.SUCCESSFUL, dt.timedelta(hours=25))
    new_ok = _row(TaskResultStatus.SUCCESSFUL, dt.timedelta(hours=1))
    failed_2d = _row(TaskResultStatus.FAILED, dt.timedelta(days=2))  # kept 7 days: the back office shows it
    failed_8d = _row(TaskResultStatus.FAILED, dt.timedelta(days=8))
    waiting = _row(TaskResultStatus.READY, None, enqueued_ago=dt.timedelta(days=30))
    assert task_results_prune() == 2
    left = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert left == {new_ok.pk, failed_2d.pk, waiting.pk}
    assert old_ok.pk not in left and failed_8d.pk not in left
    assert task_results_prune() == 0


def test_prune_is_a_periodic_job() -> None:
    assert "kaisen.core.taskqueue.task_results_prune" in {job.func for job in periodic.JOBS}


def test_queue_state_counts_waiting_tasks_and_their_age() -> None:
    assert queue_state() == queue_state().__class__(ready=0, running=0, oldest_ready_seconds=0.0)
    _row(TaskResultStatus.READY, None, enqueued_ago=dt.timedelta(seconds=90))
    _row(TaskResultStatus.READY, None)
    _row(TaskResultStatus.SUCCESSFUL, dt.timedelta(seconds=1))
    state = queue_state()
    assert state is not None and state.ready == 2 and state.running == 0
    assert 89 <= state.oldest_ready_seconds <= 200
