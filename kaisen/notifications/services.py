"""The mail outbox (M-PROC-7): nothing lost, nothing sent twice.

``outbox_add`` writes the message in the caller's transaction (the step it reports) and enqueues its
sending after commit; ``outbox_send`` (``kaisen.notifications.sending``, run by the task) sends one message
under a row lock, so two workers never send the same message; ``outbox_send_due`` (called by the scheduler's
tick) sends what is due and was left behind — a dead worker, a lost task, or a message held back with
``send_after``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction

from kaisen.core import clock
from kaisen.notifications.models import OutboxMessage, OutboxStatus
from kaisen.notifications.sending import outbox_send
from kaisen.notifications.tasks import outbox_send_task

log = logging.getLogger(__name__)

#: A pending message younger than this is left to the task enqueued for it (no race with that task).
SWEEP_GRACE = dt.timedelta(seconds=5)


def outbox_add(*, tenant: Any, order: Any, topic: str, to: list[str] | str, subject: str, body: str,
               send_after: dt.datetime | None = None) -> OutboxMessage | None:
    """Queue a message in the current transaction. A repeat of (order, topic) is a no-op (returns the
    existing message). Sent after commit, or by the sweep once ``send_after`` has passed."""
    recipients = [to] if isinstance(to, str) else [r for r in to if r]
    if order is not None:
        existing = OutboxMessage.objects.filter(order=order, topic=topic).first()
        if existing is not None:
            return existing
    message = OutboxMessage(tenant=tenant, order=order, topic=topic[:64], to=recipients, subject=subject[:200],
                            body=body, send_after=send_after)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:  # the same step, concurrently: the other one mails
        return OutboxMessage.objects.filter(order=order, topic=topic).first()
    if send_after is None or send_after <= clock.now():
        message_id = message.pk
        transaction.on_commit(lambda: _enqueue(message_id))
    return message


def _enqueue(message_id: int) -> None:
    try:
        outbox_send_task.enqueue(message_id=message_id)
    except Exception:  # the sweep sends it later
        log.exception("could not enqueue outbox message %s", message_id)


def outbox_send_due(now: dt.datetime | None = None, *, limit: int = 200) -> int:
    """Send pending messages whose ``send_after`` has passed and that are older than a few seconds.
    Returns how many were sent."""
    now = now or clock.now()
    ids = list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, created_at__lte=now - SWEEP_GRACE)
        .exclude(send_after__gt=now)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if outbox_send(pk))


def outbox_withdraw(*, order: Any, topics: list[str]) -> int:
    """Drop messages not sent yet (e.g. the day-before-shipment reminder of a cancelled SIM reissue)."""
    deleted, _ = OutboxMessage.objects.filter(order=order, topic__in=topics, status=OutboxStatus.PENDING).delete()
    return deleted
