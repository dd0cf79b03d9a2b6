"""Background delivery of webhooks (issue 13 §2)."""

from __future__ import annotations

from django_tasks import task

from kaisen.events.delivery import deliver, deliver_batch

#: Deliveries per task: the events written together are sent by one task in their order (a line's events
#: stay in order), and several workers share a large batch (an alert firing for many lines) chunk by chunk.
BATCH = 50


@task()
def webhook_deliver_task(*, delivery_id: int) -> str:
    """Try one delivery if it is due; a no-op if another worker holds it or it is done."""
    return deliver(delivery_id)


@task()
def webhook_deliver_batch_task(*, delivery_ids: list[int]) -> dict[str, int]:
    """Try each of ``delivery_ids`` (in order) if it is due (``deliver_batch``)."""
    return deliver_batch(delivery_ids)
