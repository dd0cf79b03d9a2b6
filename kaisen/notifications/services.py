"""The mail outbox (M-PROC-7): nothing lost, nothing sent twice.

``outbox_add`` writes the message in the caller's transaction (the step it reports); ``outbox_send_due``,
called by the scheduler's tick every few seconds, sends what is due in batches under row locks (so two
workers never send the same message), over one mail connection per batch. There is no task per message
(issue 11 §1): a message waits at most one scheduler interval (``KAISEN_SCHEDULER_INTERVAL``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction

from kaisen.core import clock
from kaisen.notifications.models import OutboxMessage, OutboxStatus
from kaisen.notifications.sending import outbox_send as outbox_send  # one message, by id (re-exported)
from kaisen.notifications.sending import outbox_send_batch

log = logging.getLogger(__name__)


def outbox_add(*, tenant: Any, order: Any, topic: str, to: list[str] | str, subject: str, body: str,
               send_after: dt.datetime | None = None) -> OutboxMessage | None:
    """Queue a message in the current transaction. A repeat of (order, topic) is a no-op (returns the
    existing message; the unique constraint finds it, no query first). Sent by the next sweep once
    ``send_after`` has passed."""
    recipients = [to] if isinstance(to, str) else [r for r in to if r]
    message = OutboxMessage(tenant=tenant, order=order, topic=topic[:64], to=recipients, subject=subject[:200],
                            body=body, send_after=send_after)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:  # a repeat of the step, or the same step concurrently: one message only
        if order is None:
            raise
        return OutboxMessage.objects.filter(order=order, topic=topic).first()
    return message


def outbox_send_due(now: dt.datetime | None = None, *, limit: int = 200, batch: int = 50) -> int:
    """Send pending messages whose ``send_after`` has passed, ``batch`` per transaction, at most ``limit``.
    Returns how many were sent."""
    now = now or clock.now()
    sent = 0
    seen = 0
    while seen < limit:
        looked, done = outbox_send_batch(now, batch=min(batch, limit - seen))
        seen += looked
        sent += done
        if looked < batch:
            break
    return sent


def outbox_withdraw(*, order: Any, topics: list[str]) -> int:
    """Drop messages not sent yet (e.g. the day-before-shipment reminder of a cancelled SIM reissue)."""
    deleted, _ = OutboxMessage.objects.filter(order=order, topic__in=topics, status=OutboxStatus.PENDING).delete()
    return deleted
