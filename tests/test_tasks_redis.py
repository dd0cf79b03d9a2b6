"""The Redis task backend (django-tasks-rq) runs Kaisen's tasks (issue 11 §3), against the Redis server at
127.0.0.1:6379 (KAISEN_TEST_REDIS_URL), on a queue of this test's own. The database backend, the default,
is what every other test uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from kaisen.core import clock
from kaisen.procedures.models import OrderStatus
from tests.conftest import TenantWorld
from tests.procedures.engine_support import make_order

#: A Redis database of its own (the server is shared), emptied of this queue before and after.
REDIS_URL = os.environ.get("KAISEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def rq_backend(settings: Any) -> Iterator[str]:
    import django_rq
    import django_rq.settings as rq_settings

    queues = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60}}
    saved = rq_settings.QUEUES
    rq_settings.QUEUES = queues  # django-rq reads its settings once, at import
    settings.RQ_QUEUES = queues
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    django_rq.get_queue("default").empty()
    try:
        yield "default"
    finally:
        django_rq.get_queue("default").empty()
        rq_settings.QUEUES = saved


@pytest.mark.django_db
def test_a_task_runs_through_redis(rq_backend: str, tenant_a: TenantWorld, settings: Any) -> None:
    import django_rq
    from django_tasks_rq.backend import Job
    from rq import SimpleWorker

    from kaisen.procedures.tasks import order_kick

    settings.KAISEN_CARRIER_DELAY = 60
    with time_machine.travel(clock.now(), tick=False):
        order = make_order(tenant_a.line)
        result = order_kick.enqueue(order_id=order.pk)
        queue = django_rq.get_queue(rq_backend)
        assert queue.count == 1  # the task is in Redis, not in the database
        from django_tasks_db.models import DBTaskResult

        assert not DBTaskResult.objects.exists()
        # SimpleWorker runs the job in this thread: the same database connection as the test.
        worker = django_rq.get_worker(rq_backend, worker_class=SimpleWorker, job_class=Job)
        assert worker.work(burst=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    result.refresh()
    assert result.status == "SUCCESSFUL" and result.return_value["sent"] == 1
