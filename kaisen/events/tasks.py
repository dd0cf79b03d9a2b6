"""Background delivery of webhooks (issue 13 §2)."""

from __future__ import annotations

from django_tasks import task

from kaisen.events.delivery import deliver


@task()
def webhook_deliver_task(*, delivery_id: int) -> str:
    """Try one delivery if it is due; a no-op if another worker holds it or it is done."""
    return deliver(delivery_id)
