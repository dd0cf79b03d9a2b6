"""Tenants: the customer companies that hold lines (T-1, T-2)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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


class ConnectionType(models.TextChoices):
    DIAL_IN = "dial_in", _("Dial-in connection")
    REPRESENTATIVE = "representative", _("Representative number connection")
    DIRECT = "direct", _("Direct connection")


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
    contact_name_kana = models.CharField(_("contact name (katakana)"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=8, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    notification_email = models.EmailField(_("notification email"))
    is_active = models.BooleanField(_("active"), default=True)
    # Set by the operator (back office): the password rules and the two-step login policy of the tenant.
    password_profile = models.CharField(_("password rules"), max_length=16, choices=PasswordProfile.choices,
                                        default=PasswordProfile.SECURE)
    mfa_policy = models.CharField(_("two-step login"), max_length=24, choices=MfaPolicy.choices,
                                  default=MfaPolicy.OPTIONAL)
    session_idle_minutes = models.PositiveIntegerField(
        _("sign out after idle minutes"), default=30, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text=_("A signed-in browser session without any request for this long is signed out (5 to 1,440)."))
    # The contract summary (K-1), kept by the operator in the back office and shown read-only to the tenant.
    contract_started_on = models.DateField(_("contract start date"), null=True, blank=True)
    base_number = models.CharField(_("base (management) number"), max_length=11, blank=True,
                                   help_text=_("The carrier's management number of the contract (K-2)."))
    channels = models.PositiveIntegerField(_("channels / lines"), default=1)
    connection_type = models.CharField(_("connection type"), max_length=16, choices=ConnectionType.choices,
                                       blank=True)
    dns_primary = models.GenericIPAddressField(_("primary DNS"), null=True, blank=True)
    dns_secondary = models.GenericIPAddressField(_("secondary DNS"), null=True, blank=True)
    # S-ACC-5: an account deleted by its root user is deactivated, never removed (invoices are kept 7 years).
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
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


class ContractService(models.Model):
    """A service of the contract (K-1: ダイヤルイン, 番号通知リクエスト, ...) and whether it is applied for.

    Entered by the operator in the back office; the tenant reads it on the contract summary page.
    """

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="contract_services")
    name = models.CharField(_("service"), max_length=100)
    applied = models.BooleanField(_("applied"), default=False)
    detail = models.CharField(_("detail"), max_length=200, blank=True,
                              help_text=_("E.g. the notified number of a number notification service."))
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("contract service")
        verbose_name_plural = _("contract services")
        ordering = ["tenant", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="contract_service_unique_name")]

    def __str__(self) -> str:
        return self.name


class DialInNumber(models.Model):
    """An extra fixed dial-in number of the contract (K-1 追加ダイヤルイン番号), linked to a mobile line (K-2)."""

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="dial_in_numbers")
    number = models.CharField(
        _("fixed dial-in number"), max_length=11,
        validators=[RegexValidator(r"^0\d{9}$", _("A fixed number is 10 digits starting with 0."))],
    )
    line = models.OneToOneField("lines.Line", verbose_name=_("linked mobile line"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="dial_in_number")
    started_on = models.DateField(_("start date"), null=True, blank=True)

    class Meta:
        verbose_name = _("dial-in number")
        verbose_name_plural = _("dial-in numbers")
        ordering = ["tenant", "number"]
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="dial_in_number_unique")]

    def __str__(self) -> str:
        return self.number


class TransferStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the receiving account")
    ACCEPTED = "accepted", pgettext_lazy("transfer", "Accepted")  # as the transfer pages say (not 受付)
    CANCELLED = "cancelled", pgettext_lazy("transfer status", "Cancelled")  # withdrawn, not 解約


class SimTransfer(models.Model):
    """S-ACC-4: never-used SIMs offered by one tenant's root user to another tenant, by a single-use token.

    Only the SHA-256 of the token is stored. The lines stay the sender's until the receiving root user
    accepts; then every line moves at once or none does.
    """

    from_tenant = models.ForeignKey(Tenant, verbose_name=_("from"), on_delete=models.PROTECT,
                                    related_name="transfers_out")
    # The receiving account's operator ID as the sender typed it; only that account can accept. It is not
    # checked when the transfer is made, so making one tells nothing about which operator IDs exist.
    to_public_id = models.CharField(_("to operator ID"), max_length=12, validators=[operator_id_validator])
    to_tenant = models.ForeignKey(Tenant, verbose_name=_("to"), null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="transfers_in")
    status = models.CharField(_("status"), max_length=12, choices=TransferStatus.choices,
                              default=TransferStatus.OPEN)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    accepted_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SIM transfer")
        verbose_name_plural = _("SIM transfers")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["from_tenant", "created_at"], name="transfer_from"),
            models.Index(fields=["to_tenant", "created_at"], name="transfer_to"),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.status}"


class SimTransferLine(models.Model):
    transfer = models.ForeignKey(SimTransfer, on_delete=models.CASCADE, related_name="items")
    line = models.ForeignKey("lines.Line", on_delete=models.PROTECT, related_name="+")
    # What the sender saw, kept as it was (the line's own fields can change later).
    iccid = models.CharField(_("SIM serial number (ICCID)"), max_length=20)
    msisdn = models.CharField(_("phone number"), max_length=11, blank=True)

    class Meta:
        verbose_name = _("transferred line")
        verbose_name_plural = _("transferred lines")
        constraints = [models.UniqueConstraint(fields=["transfer", "line"], name="transfer_line_unique")]

    def __str__(self) -> str:
        return self.iccid
