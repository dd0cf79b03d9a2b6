"""Background sending of outbox messages (M-PROC-7)."""

from __future__ import annotations

from django_tasks import task

from kaisen.notifications.sending import outbox_send


@task()
def outbox_send_task(*, message_id: int) -> bool:
    """Send one outbox message; a no-op if it was sent already (or is not due yet)."""
    return outbox_send(message_id)
