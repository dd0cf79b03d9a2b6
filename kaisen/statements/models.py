"""Statements: CSV files generated on request and kept for 48 hours (issue 4 §6; K-5, M-DL-1..5, K-6, K-7,
S-BILL-2).

A ``Statement`` row is the request and its result: which layout (``kind``), for which month (or day),
in which encoding, for whom; its progress while it is written; where the file is and until when. The
file is deleted 48 hours after it was finished (``expires_at``); the row stays, and a download then
answers 410 STATEMENT_EXPIRED.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class StatementStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Being created")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class Statement(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.CASCADE,
                               related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(pgettext_lazy("CSV statement", "statement"), max_length=32)
    period = models.DateField(_("period"), help_text=_("First day of the month, or the file date of a daily file."))
    encoding = models.CharField(_("character encoding"), max_length=16, default="utf-8")  # utf-8, utf-8-sig, cp932
    #: True when the rows were limited to the lines the requesting user may see (a limited user).
    scoped = models.BooleanField(_("limited to the user's lines"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=StatementStatus.choices,
                              default=StatementStatus.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    file_name = models.CharField(_("file name"), max_length=120)
    file_path = models.CharField(_("stored file"), max_length=255, blank=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("CSV statement", "statement")
        verbose_name_plural = pgettext_lazy("CSV statement", "statements")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="statement_tenant_created"),
            models.Index(fields=["status", "expires_at"], name="statement_status_expires"),
        ]

    def __str__(self) -> str:
        return self.file_name

    def is_expired(self, now: dt.datetime) -> bool:
        """Past its keeping time: marked ``expired`` by the purge, or past ``expires_at`` and not purged yet."""
        return self.status == StatementStatus.EXPIRED or (self.expires_at is not None and self.expires_at <= now)
