"""The audit trail (X-AUDIT): every login attempt and every write, with who, when, from where, what.

Entries are append-only. The application never updates or deletes them, and the database refuses to:
migration 0003 installs triggers that reject UPDATE and DELETE on this table (PostgreSQL and SQLite).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditImmutable(Exception):
    """Raised by the model when code tries to change or delete an entry (the database refuses it too)."""


class AuditEvent(models.Model):
    tenant = models.ForeignKey(
        "tenancy.Tenant", verbose_name=_("tenant"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="audit_events",
    )
    # PROTECT, not SET_NULL: nulling the column would be an UPDATE of the entry, which the database
    # refuses. A user with history is deactivated, never deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="audit_events",
    )
    # Kept as text so the entry still says who it was after the user is renamed or removed.
    actor = models.CharField(_("actor"), max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target ID"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    success = models.BooleanField(_("success"), default=True)
    #: Why the user did it, given for destructive actions (cancellations, key revocations); optional.
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "-at", "-id"], name="audit_tenant_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise AuditImmutable("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AuditImmutable("Audit entries cannot be deleted.")

    @property
    def family(self) -> str:
        return self.action.split(".", 1)[0]
