"""Plans and the line inventory (M-LINE-1, M-DL-4)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from kaisen.carriers.models import Carrier, Coverage


class PlanChangeRule(models.TextChoices):
    UP_NOW_DOWN_NEXT_MONTH = "up_now_down_next", _("Larger volume now, smaller from the 1st of next month")
    ALL_NEXT_MONTH = "all_next_month", _("Every change from the 1st of next month")


class Plan(models.Model):
    """An entry of the operator's plan catalogue."""

    code = models.CharField(_("plan code"), max_length=32, unique=True)
    name = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices, default=Coverage.JAPAN)
    data_allowance_mb = models.PositiveIntegerField(
        _("high-speed data allowance (MB)"), null=True, blank=True, help_text=_("Empty: no allowance (unlimited)."),
    )
    has_data_cap = models.BooleanField(_("data cap selectable"), default=False)
    monthly_fee = models.PositiveIntegerField(_("monthly fee (yen, tax excluded)"))
    change_rule = models.CharField(
        _("plan change rule"), max_length=32, choices=PlanChangeRule.choices,
        default=PlanChangeRule.UP_NOW_DOWN_NEXT_MONTH,
    )
    is_active = models.BooleanField(_("offered"), default=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["carrier", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class LineStatus(models.TextChoices):
    NOT_ACTIVATED = "not_activated", _("Not activated")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")


class SimType(models.TextChoices):
    DATA = "data", _("Data")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice")


class SimSize(models.TextChoices):
    STANDARD = "standard", _("Standard")
    MICRO = "micro", _("Micro")
    NANO = "nano", _("Nano")
    MULTI = "multi", _("Multi")


class Line(models.Model):
    """One SIM line of a tenant, with every field of the line list (M-DL-4)."""

    tenant = models.ForeignKey(
        "tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT, related_name="lines"
    )
    # National 11-digit form; NULL (no number) for an unactivated SoftBank OTA SIM (M-DL-4).
    msisdn = models.CharField(_("phone number"), max_length=11, null=True, blank=True, default=None)  # noqa: DJ001
    msisdn_is_temporary = models.BooleanField(
        _("temporary number"), default=False,
        help_text=_("An unactivated docomo OTA SIM carries a temporary number that changes at activation."),
    )
    iccid = models.CharField(_("SIM serial number (ICCID)"), max_length=20, unique=True)
    product_code = models.CharField(_("product code at shipment"), max_length=32, blank=True)
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="lines")
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    sim_type = models.CharField(_("SIM type"), max_length=8, choices=SimType.choices)
    sim_size = models.CharField(_("SIM size"), max_length=8, choices=SimSize.choices)
    is_ota = models.BooleanField(_("OTA SIM"), default=False)
    shipped_on = models.DateField(_("ship date"), null=True, blank=True)
    started_on = models.DateField(_("start date"), null=True, blank=True)
    scheduled_end_on = models.DateField(_("scheduled end date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=LineStatus.choices, default=LineStatus.NOT_ACTIVATED)
    # Voice options (M-PROC-2) and the data cap (M-PROC-3) are changed by line procedures.
    voice_options = models.JSONField(_("voice options"), default=dict, blank=True)
    data_cap_mb = models.PositiveIntegerField(_("data cap (MB)"), null=True, blank=True)
    # MNP port-in with a pre-issued ("half-black") docomo SIM waiting to be activated (M-MNP-1).
    mnp_port_in_pending = models.BooleanField(_("waiting for MNP port-in activation"), default=False)
    mnp_port_in_expires_on = models.DateField(_("port-in reservation expiry"), null=True, blank=True)
    # MNP reservation number issued for porting the number out (M-PROC-5).
    mnp_reservation_number = models.CharField(_("MNP reservation number"), max_length=10, blank=True)
    mnp_reservation_expires_on = models.DateField(_("MNP reservation expiry"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        # Each index leads with the tenant: every query is tenant-scoped, and the trailing id makes
        # keyset paging (WHERE (key, id) > (...)) a pure index range scan at any depth.
        indexes = [
            models.Index(fields=["tenant", "id"], name="line_tenant_id"),
            models.Index(fields=["tenant", "msisdn", "id"], name="line_tenant_msisdn"),
            models.Index(fields=["tenant", "iccid"], name="line_tenant_iccid"),
            models.Index(fields=["tenant", "started_on", "id"], name="line_tenant_started"),
            models.Index(fields=["tenant", "status", "carrier"], name="line_tenant_status_carrier"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status__in=["active", "suspended"]) | models.Q(msisdn__isnull=False),
                name="active_line_has_number",
            ),
        ]

    def __str__(self) -> str:
        return self.msisdn or self.iccid

    @property
    def msisdn_display(self) -> str:
        from kaisen.core.numbers import msisdn_format

        return msisdn_format(self.msisdn) if self.msisdn else ""


class LinePeriodReason(models.TextChoices):
    """What opened an interval of a line's history."""

    OPENING = "opening", _("History opened")
    REGISTERED = "registered", _("Line registered")
    ORDER = "order", _("Procedure")
    BACK_OFFICE = "back_office", _("Changed by the operator")
    TRANSFER = "transfer", _("SIM transfer")
    DEMO = "demo", _("Demo data")


class LinePeriod(models.Model):
    """One effective-dated interval of a line's history (issue 10 §1): the line's billing-relevant state
    from ``valid_from`` (inclusive) to ``valid_to`` (exclusive; NULL = still in force).

    Written only by ``kaisen.lines.history``, in the same transaction as the change of the line. The
    intervals of a line follow each other without gap or overlap; exactly one is open. ``tenant`` is the
    tenant the line belonged to during the interval, so a SIM transfer closes one tenant's interval and
    opens the other's, and each tenant reads only its own.
    """

    tenant = models.ForeignKey("tenancy.Tenant", verbose_name=_("tenant"), on_delete=models.PROTECT,
                               related_name="line_periods")
    line = models.ForeignKey(Line, verbose_name=_("line"), on_delete=models.CASCADE, related_name="periods")
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="+")
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices)
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    status = models.CharField(_("status"), max_length=16, choices=LineStatus.choices)
    voice_options = models.JSONField(_("voice options"), default=dict, blank=True)
    data_cap_mb = models.PositiveIntegerField(_("data cap (MB)"), null=True, blank=True)
    sim_size = models.CharField(_("SIM size"), max_length=8, choices=SimSize.choices)
    iccid = models.CharField(_("SIM serial number (ICCID)"), max_length=20)
    msisdn = models.CharField(_("phone number"), max_length=11, null=True, blank=True)  # noqa: DJ001
    reason = models.CharField(_("reason"), max_length=16, choices=LinePeriodReason.choices)
    # The procedure (procedures.Order) that made the change. A plain ID, not a foreign key: lines sit below
    # procedures in the layers, and an order is never deleted while its line exists.
    order_id = models.PositiveBigIntegerField(_("order"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("line history interval")
        verbose_name_plural = _("line history")
        ordering = ["line", "valid_from"]
        indexes = [
            models.Index(fields=["tenant", "line", "valid_from"], name="lineperiod_tenant_line_from"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["line"], condition=models.Q(valid_to__isnull=True),
                                    name="lineperiod_one_open_per_line"),
            models.CheckConstraint(condition=models.Q(valid_to__isnull=True)
                                   | models.Q(valid_to__gt=models.F("valid_from")),
                                   name="lineperiod_from_before_to"),
        ]

    def __str__(self) -> str:
        return f"{self.line_id} {self.valid_from:%Y-%m-%d %H:%M} – {self.valid_to or ''}"
