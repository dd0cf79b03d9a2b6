"""The mail outbox (M-PROC-7): nothing lost, nothing sent twice.

``outbox_add`` writes the message in the caller's transaction (the step it reports); ``outbox_send_due``,
called by the scheduler's tick every few seconds, sends what is due in batches under row locks (so two
workers never send the same message), over one mail connection per batch. There is no task per message
(issue 11 §1): a message waits at most one scheduler interval (``KAISEN_SCHEDULER_INTERVAL``).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import AbstractContextManager
from typing import Any

from django.db import IntegrityError, transaction

from kaisen.core import clock
from kaisen.core.pending import PendingWrites
from kaisen.notifications.models import OutboxMessage, OutboxStatus
from kaisen.notifications.sending import outbox_send as outbox_send  # one message, by id (re-exported)
from kaisen.notifications.sending import outbox_send_batch

log = logging.getLogger(__name__)


def _write_mails(pending: list[OutboxMessage]) -> None:
    if pending:
        OutboxMessage.objects.bulk_create(pending, ignore_conflicts=True)


#: The order mails queued inside ``batching()``, written at its end with one ``INSERT`` that skips a repeat of
#: (order, topic) (issue 11 §1: the order engine's batch of orders paid a savepoint, an ``INSERT`` and its release
#: per mail).
_mails: PendingWrites[OutboxMessage] = PendingWrites(_write_mails)


def batching() -> AbstractContextManager[None]:
    """Collect the order mails queued in the block and write them at its end (``kaisen.core.pending``: inside the
    caller's transaction; nested blocks join the outermost; nothing written if the block raises)."""
    return _mails.block()


def outbox_add(*, tenant: Any, order: Any, topic: str, to: list[str] | str, subject: str, body: str,
               send_after: dt.datetime | None = None) -> OutboxMessage | None:
    """Queue a message in the current transaction. A repeat of (order, topic) is a no-op (returns the
    existing message; the unique constraint finds it, no query first). Sent by the next sweep once
    ``send_after`` has passed. Inside ``batching()`` a message about an order is returned unsaved and written
    when the block ends (a repeat is then skipped by that ``INSERT``)."""
    recipients = [to] if isinstance(to, str) else [r for r in to if r]
    message = OutboxMessage(tenant=tenant, order=order, topic=topic[:64], to=recipients, subject=subject[:200],
                            body=body, send_after=send_after)
    pending = _mails.pending
    if pending is not None and order is not None:
        if not any(m.order_id == message.order_id and m.topic == message.topic for m in pending):
            pending.append(message)
        return message
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
    pending = _mails.pending
    if pending:  # queued in this batching() block, not written yet
        pending[:] = [m for m in pending if not (m.order_id == order.pk and m.topic in topics)]
    deleted, _ = OutboxMessage.objects.filter(order=order, topic__in=topics, status=OutboxStatus.PENDING).delete()
    return deleted
