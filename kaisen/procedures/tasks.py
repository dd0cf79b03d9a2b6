"""Background task of the order engine (django-tasks). The bulk upload's task, ``bulk_job_run``, is defined
next to its work in ``kaisen.procedures.bulk``."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from kaisen.procedures.engine import orders_tick


@task()
def order_kick(*, order_id: int) -> dict[str, Any]:
    """Run the engine at once for one order.

    No longer enqueued (issue 11 §1: the scheduler's tick finds due orders; a task per order cost a queue row,
    a claim and a result per order). Kept so that rows queued by an older version still run: a run is a
    no-op or does what the next tick would (row locks and the order status decide).
    """
    return orders_tick(order_id=order_id, limit=1).as_dict()
