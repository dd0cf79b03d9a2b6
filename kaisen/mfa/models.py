"""Two-step login (M-AUTH-1, M-USER-3): a user's method, pending email-address changes, login challenges
and TOTP recovery codes. Codes, links and recovery codes are stored only as keyed hashes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MfaMethod(models.TextChoices):
    NONE = "none", _("Password only")
    EMAIL = "email", _("Email code (認証コード)")
    TOTP = "totp", _("Authenticator app")


class UserMfa(models.Model):
    """The two-step login method in force for one user (none until a setup is confirmed)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa")
    method = models.CharField(_("two-step login"), max_length=8, choices=MfaMethod.choices, default=MfaMethod.NONE)
    email = models.EmailField(_("two-step login email address"), blank=True)
    # The TOTP shared secret must be readable to verify codes; it never leaves the server after enrolment.
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_last_step = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("two-step login setting")
        verbose_name_plural = _("two-step login settings")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.method}"


class EmailChange(models.Model):
    """A requested 2FA email address, in force only once confirmed through the mailed link (24 hours)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_email_changes")
    email = models.EmailField(_("two-step login email address"))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("requested at"))
    expires_at = models.DateTimeField(_("link valid until"))
    confirmed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("two-step login email change")
        verbose_name_plural = _("two-step login email changes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.email}"


class LoginChallenge(models.Model):
    """The second step of one login attempt. ``challenge_id`` is public; the code is kept only hashed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_challenges")
    challenge_id = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=8)
    method = models.CharField(max_length=8, choices=MfaMethod.choices)
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = _("login challenge")
        verbose_name_plural = _("login challenges")

    def __str__(self) -> str:
        return f"challenge {self.pk} of {self.user_id}"


class RecoveryCode(models.Model):
    """One single-use recovery code for a user with an authenticator app (hash only)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self) -> str:
        return f"recovery code {self.pk} of {self.user_id}"
