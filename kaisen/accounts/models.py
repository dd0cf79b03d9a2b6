"""Users, API keys and API tokens.

A user belongs to one tenant and logs in with operator ID + username + password, or is operator staff
(``tenant`` empty, ``is_staff``) who administer every tenant through the back office (T-3).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from kaisen.accounts.validators import validate_username


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Natural key for operator staff (the back-office login has no operator ID).
        return self.get(tenant__isnull=True, username=username)

    def create_user(self, username: str, password: str | None = None, **extra) -> User:
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra["tenant"] = None
        return self.create_user(username, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    tenant = models.ForeignKey(
        "tenancy.Tenant", verbose_name=_("tenant"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="users", help_text=_("Empty for the operator's own staff."),
    )
    username = models.CharField(_("username"), max_length=32, validators=[validate_username])
    display_name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    is_root = models.BooleanField(
        _("root user"), default=False, help_text=_("The tenant's owner account: may do everything in the tenant."),
    )
    is_staff = models.BooleanField(_("operator staff"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    is_locked = models.BooleanField(_("locked"), default=False)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    failed_login_count = models.PositiveIntegerField(_("failed logins in a row"), default=0)
    language = models.CharField(_("language"), max_length=8, blank=True)
    date_joined = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "username"], name="user_username_unique_in_tenant"),
            models.UniqueConstraint(
                fields=["username"], condition=models.Q(tenant__isnull=True), name="staff_username_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(tenant__isnull=False) | models.Q(is_root=False), name="root_user_has_tenant",
            ),
            # S-ACC-1: the root user logs in by email, so no two root users share one (case-insensitive).
            models.UniqueConstraint(
                Lower("email"), condition=models.Q(is_root=True) & ~models.Q(email=""), name="root_email_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.audit_label

    @property
    def audit_label(self) -> str:
        if self.tenant is None:
            return f"staff:{self.username}"
        return f"{self.tenant.public_id}:{self.username}"

    @property
    def is_tenant_user(self) -> bool:
        return self.tenant_id is not None


class ApiKey(models.Model):
    """A credential for programs: ``key_id`` is public, the secret is shown once and kept only hashed."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    key_id = models.CharField(_("key ID"), max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.name})"


class ApiToken(models.Model):
    """A bearer token issued by ``POST /api/v1/auth``; only its SHA-256 is stored."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user_id}"


class LoginEmailChange(models.Model):
    """S-ACC-3: a pending change of the root user's login email; it takes effect only when the single-use
    link mailed to the new address is opened (before ``expires_at``). Only the token's SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_email_changes")
    old_email = models.EmailField(_("old email"), blank=True)
    new_email = models.EmailField(_("new email"))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("requested at"))
    expires_at = models.DateTimeField(_("expires at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    class Meta:
        verbose_name = _("login email change")
        verbose_name_plural = _("login email changes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.new_email}"
