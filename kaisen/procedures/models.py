"""Orders: every change a customer asks for on a line (M-MNP-1..2, M-PROC-1..7).

An order is accepted by a service (``order_submit``), waits until it is due, is sent to the carrier
through an adapter, and completes when the carrier says so. Its status moves only along ``TRANSITIONS``,
and every move writes an ``OrderEvent`` (the history on the line page and the audit trail).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kaisen.core import calendar


class OrderKind(models.TextChoices):
    MNP_ACTIVATION = "mnp_activation", _("MNP port-in activation")  # M-MNP-2
    SUSPEND = "suspend", _("Suspend")  # M-PROC-1
    RESUME = "resume", _("Resume")  # M-PROC-1
    VOICE_OPTIONS = "voice_options", _("Voice options change")  # M-PROC-2
    PLAN_CHANGE = "plan_change", _("Plan / data cap change")  # M-PROC-3
    SIM_REISSUE = "sim_reissue", _("SIM size change / reissue")  # M-PROC-4
    MNP_RESERVATION = "mnp_reservation", _("MNP reservation number (port-out)")  # M-PROC-5
    CANCELLATION = "cancellation", _("Cancellation")  # M-PROC-6


class OrderStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent to carrier")
    UNKNOWN = "unknown", _("Awaiting carrier confirmation")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    # Its own word: a withdrawn order is not a terminated line (issue 14; tests/test_choice_labels.py).
    CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")


S = OrderStatus
#: The only moves an order's status can make. UNKNOWN is a send whose answer was lost (a timeout): it is
#: resolved by asking the carrier (``query``), never by sending blindly again — if the carrier has the
#: request the order is SENT (or finished); if it has never seen it, the order goes back to SCHEDULED.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.SCHEDULED, S.CANCELLED, S.FAILED}),
    S.SCHEDULED: frozenset({S.SENT, S.UNKNOWN, S.CANCELLED, S.FAILED}),
    S.SENT: frozenset({S.COMPLETED, S.FAILED}),
    S.UNKNOWN: frozenset({S.SENT, S.SCHEDULED, S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
PENDING_STATUSES = (S.RECEIVED, S.SCHEDULED, S.SENT, S.UNKNOWN)
FINAL_STATUSES = (S.COMPLETED, S.FAILED, S.CANCELLED)


class Order(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="orders")
    line = models.ForeignKey("lines.Line", verbose_name=_("line"), on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(_("procedure"), max_length=24, choices=OrderKind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.RECEIVED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="orders")
    idempotency_key = models.CharField(_("idempotency key"), max_length=100)
    params_hash = models.CharField(max_length=64)
    #: Not a field: True on the order ``order_submit`` returns when its idempotency key had already made it
    #: (a replay; the API answers 200 instead of 201). Decided under the line lock, so of requests sent at
    #: the same moment with one key exactly one is not a replay (issue 14 e).
    replayed = False
    effective_date = models.DateField(_("effective date"))
    # When the order may be sent to the carrier (e.g. SoftBank suspensions not before 10:00 JST).
    due_at = models.DateTimeField(_("carried out from"), db_index=True)
    # The last moment the customer may still cancel it (None: not cancellable once accepted).
    cancellable_until = models.DateTimeField(_("cancellable until"), null=True, blank=True)
    carrier_ref = models.CharField(_("carrier reference"), max_length=64, blank=True)
    attempts = models.PositiveIntegerField(_("send attempts"), default=0)
    next_check_at = models.DateTimeField(_("next carrier check"), null=True, blank=True, db_index=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.CharField(_("error message"), max_length=500, blank=True)
    bulk_job = models.ForeignKey("procedures.BulkJob", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="orders")
    created_at = models.DateTimeField(_("accepted at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="order_idempotency_key_per_tenant"),
            # At most one pending order of a kind per line (conflicts across kinds are checked by the service).
            models.UniqueConstraint(
                fields=["line", "kind"], condition=models.Q(status__in=["received", "scheduled", "sent", "unknown"]),
                name="order_one_pending_per_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="order_tenant_created"),
            models.Index(fields=["status", "due_at"], name="order_status_due"),
            models.Index(fields=["line", "status"], name="order_line_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status}"

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @property
    def withdrawal_deadline(self) -> dt.datetime | None:
        """The real last moment to withdraw the order: ``cancellable_until`` brought back to the end of
        reception hours (withdrawals are refused outside them). What every page, mail and the API show,
        and what ``order_cancel`` enforces (issue 14)."""
        if self.cancellable_until is None:
            return None
        return calendar.last_reception_moment(self.kind, self.cancellable_until)


class OrderEvent(models.Model):
    """One status move (or a notable step) of an order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="order_events")
    at = models.DateTimeField(_("time"), auto_now_add=True)
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    actor = models.CharField(_("by"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} -> {self.to_status}"


class BulkJobStatus(models.TextChoices):
    """A bulk job's run: queued → running → done | failed. The API shows a finished dry run as ``dry_run``."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Submitted")
    FAILED = "failed", _("Failed")
    DRY_RUN = "dry_run", _("Dry run")


class BulkJob(models.Model):
    """A CSV of lines and parameters for one procedure (X-BULK), with its per-row results."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="bulk_jobs")
    kind = models.CharField(_("procedure"), max_length=24, choices=OrderKind.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_ok = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    # One entry per CSV row: {"row": n, "line": "...", "ok": bool, "order_id": id|None, "code": "", "message": ""}
    results = models.JSONField(default=list, blank=True)
    # The background run (large files): status, progress, the file itself (kept on the job row, so it is
    # only ever read through the tenant's job), a heartbeat (updated_at) and who holds the run (run_token).
    status = models.CharField(_("status"), max_length=12, choices=BulkJobStatus.choices,
                              default=BulkJobStatus.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    csv_data = models.BinaryField(default=b"", blank=True, editable=False)
    csv_sha256 = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    run_token = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk upload")
        verbose_name_plural = _("bulk uploads")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                                    name="bulkjob_tenant_idempotency_key"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="bulkjob_status_updated")]

    def __str__(self) -> str:
        return f"bulk {self.pk} {self.kind}"
