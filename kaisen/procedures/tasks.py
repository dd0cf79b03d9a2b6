"""Background tasks of the order engine (django-tasks)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def order_kick(*, order_id: int) -> dict[str, Any]:
    """Run the engine at once for one order that is due now (enqueued on commit by ``order_submit``).

    Only makes immediate work start sooner: if the task is lost or runs twice, nothing changes — the
    scheduler's tick finds the order anyway, and the row lock and order status make a second run a no-op.
    """
    from kaisen.procedures.engine import orders_tick

    return orders_tick(order_id=order_id, limit=1).as_dict()


@task()
def bulk_job_run(job_id: int) -> str:
    """Run a large bulk upload row by row (X-BULK), enqueued on commit by ``bulk_start``.

    Safe to run twice or after a crash: only one run holds the job, it resumes after the rows it saved, and
    every row of a real run has its own idempotency key. Lost runs are enqueued again by the scheduler.
    """
    from kaisen.procedures.bulk import bulk_process

    return bulk_process(job_id)
