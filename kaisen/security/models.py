"""Failed-login counters and the user's sessions (issue 5, sections 4 and 5).

Both live in the database, so they hold across threads and processes of one installation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginThrottle(models.Model):
    """Failed logins counted under one key: ``acct:<operator ID>:<username>`` or ``ip:<address>``.

    Every attempt takes a slot (``failures + 1``) *before* the password is checked, under a row lock; a
    successful login gives it back. Once ``failures`` reaches the limit no further attempt is evaluated.
    """

    key = models.CharField(max_length=200, unique=True)
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("login throttle")
        verbose_name_plural = _("login throttles")

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


class UserSession(models.Model):
    """One signed-in browser session of a user, keyed by the session key (listed on "My sessions")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("started"))
    last_seen_at = models.DateTimeField(_("last seen"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"
