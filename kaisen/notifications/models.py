"""The mail outbox: a message is written in the same transaction as the change it reports, and sent
after commit by a task; a sweep resends anything a dead worker left behind (M-PROC-7: nothing lost)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboxMessage(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="outbox_messages")
    order = models.ForeignKey("procedures.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="messages")
    # What the message is about, e.g. "order.accepted" — unique per order so a retried step mails once.
    topic = models.CharField(_("topic"), max_length=64)
    to = models.JSONField(_("to"), default=list)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # Not before this time (e.g. the reminder the day before a SIM ships, M-PROC-4).
    send_after = models.DateTimeField(_("send after"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "topic"], condition=models.Q(order__isnull=False),
                                    name="outbox_one_message_per_order_topic"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="outbox_status_created")]

    def __str__(self) -> str:
        return f"{self.topic} -> {', '.join(self.to)}"
