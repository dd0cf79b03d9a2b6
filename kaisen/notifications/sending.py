"""Sending outbox messages (M-PROC-7), under row locks so that two workers never send one twice.

``outbox_send_batch`` is what the scheduler's sweep (``kaisen.notifications.services.outbox_send_due``) runs:
up to ``batch`` due messages locked with ``SKIP LOCKED`` (other sweepers take the next ones), sent over one
mail connection, marked sent with one ``UPDATE`` in the same transaction (issue 11 §1). ``outbox_send`` sends
one message (the task ``outbox_send_task``, kept for tasks queued by an older version, and tests).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.db.models import F

from kaisen.core import clock
from kaisen.notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

#: Sending is retried by the sweep; after this many failed attempts the message is marked FAILED.
MAX_ATTEMPTS = 5


def outbox_send(message_id: int) -> bool:
    """Send one message if it is still pending and due. True if this call sent it."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != OutboxStatus.PENDING:
            return False
        now = clock.now()
        if message.send_after is not None and message.send_after > now:
            return False
        message.attempts += 1
        try:
            if message.to:
                send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, list(message.to))
        except Exception as exc:
            message.last_error = str(exc)[:500]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
            message.save(update_fields=["attempts", "last_error", "status"])
            log.warning("outbox message %s not sent: %s", message_id, exc)
            return False
        message.status = OutboxStatus.SENT
        message.sent_at = now
        message.save(update_fields=["attempts", "status", "sent_at"])
        return True


def outbox_send_batch(now: dt.datetime, *, batch: int = 50) -> tuple[int, int]:
    """Send up to ``batch`` pending messages that are due, in one transaction and over one mail connection.
    Returns (messages looked at, messages sent). A crash before the commit leaves them pending: they are sent
    again by the next sweep (at most ``batch`` messages can be sent twice that way, never lost)."""
    with transaction.atomic():
        messages = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING)
            .exclude(send_after__gt=now)
            .order_by("created_at", "id")[:batch]
        )
        if not messages:
            return 0, 0
        sent: list[int] = []
        mail = get_connection(fail_silently=False)
        try:
            for message in messages:
                try:
                    if message.to:
                        send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, list(message.to),
                                  connection=mail)
                except Exception as exc:
                    message.attempts += 1
                    message.last_error = str(exc)[:500]
                    if message.attempts >= MAX_ATTEMPTS:
                        message.status = OutboxStatus.FAILED
                    message.save(update_fields=["attempts", "last_error", "status"])
                    log.warning("outbox message %s not sent: %s", message.pk, exc)
                    continue
                sent.append(message.pk)
        finally:
            try:
                mail.close()
            except Exception:
                log.warning("closing the mail connection failed", exc_info=True)
        if sent:
            OutboxMessage.objects.filter(pk__in=sent).update(status=OutboxStatus.SENT, sent_at=now,
                                                             attempts=F("attempts") + 1)
        return len(messages), len(sent)
