"""Sending one outbox message (M-PROC-7), under a row lock so that two workers never send it twice.

Run by the task ``kaisen.notifications.tasks.outbox_send_task`` and by the sweep
``kaisen.notifications.services.outbox_send_due``; below both, so that the service can enqueue the task and
the task can send without either importing the other.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

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
