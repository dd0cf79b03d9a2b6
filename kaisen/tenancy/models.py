"""Tenants: the customer companies that hold lines (T-1, T-2)."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

OPERATOR_ID_RE = r"^OP\d{10}$"
operator_id_validator = RegexValidator(
    OPERATOR_ID_RE, _("An operator ID is 'OP' followed by 10 digits, e.g. OP0123456789."), code="invalid_operator_id"
)


class TenantKind(models.TextChoices):
    CORPORATE = "corporate", _("Corporate")
    INDIVIDUAL = "individual", _("Individual")


class PasswordProfile(models.TextChoices):
    SECURE = "secure", _("Secure (recommended): 10+ characters, common passwords refused")
    LEGACY_K3 = "legacy_k3", _("Legacy (seed K-3, weaker): 4-8 characters mixing letters and digits")


class MfaPolicy(models.TextChoices):
    OPTIONAL = "optional", _("Optional: each user chooses")
    REQUIRED = "required", _("Required for every user (email code or authenticator app)")
    REQUIRED_TOTP_ROOT = "required_totp_root", _("Required for every user; root users must use an authenticator app")


class Tenant(models.Model):
    """A customer company (an "operator" account in the seeds). Everything it owns points here."""

    public_id = models.CharField(
        _("operator ID"), max_length=12, unique=True, validators=[operator_id_validator],
        help_text=_("'OP' followed by 10 digits; shown to the customer and used to log in."),
    )
    legal_name = models.CharField(_("legal name"), max_length=200)
    legal_name_kana = models.CharField(_("legal name (katakana)"), max_length=200, blank=True)
    contract_code = models.CharField(_("contract code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=TenantKind.choices, default=TenantKind.CORPORATE)
    coverage_japan = models.BooleanField(_("coverage: Japan"), default=True)
    coverage_global = models.BooleanField(_("coverage: Global"), default=False)
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    notification_email = models.EmailField(_("notification email"))
    is_active = models.BooleanField(_("active"), default=True)
    # Set by the operator (back office): the password rules and the two-step login policy of the tenant.
    password_profile = models.CharField(_("password rules"), max_length=16, choices=PasswordProfile.choices,
                                        default=PasswordProfile.SECURE)
    mfa_policy = models.CharField(_("two-step login"), max_length=24, choices=MfaPolicy.choices,
                                  default=MfaPolicy.OPTIONAL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["public_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(coverage_japan=True) | models.Q(coverage_global=True),
                name="tenant_has_a_coverage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.legal_name}"

    @property
    def coverages(self) -> list[str]:
        out = []
        if self.coverage_japan:
            out.append("japan")
        if self.coverage_global:
            out.append("global")
        return out
