"""Background task of the order engine (django-tasks). The bulk upload's task, ``bulk_job_run``, is defined
next to its work in ``kaisen.procedures.bulk``."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from kaisen.procedures.engine import orders_tick


@task()
def order_kick(*, order_id: int) -> dict[str, Any]:
    """Run the engine at once for one order that is due now (enqueued on commit by ``order_submit``).

    Only makes immediate work start sooner: if the task is lost or runs twice, nothing changes — the
    scheduler's tick finds the order anyway, and the row lock and order status make a second run a no-op.
    """
    return orders_tick(order_id=order_id, limit=1).as_dict()
