"""Operator controls as data (issue 15, M-AUTH-2, M-AUTH-3, X-OPS): maintenance windows, reception hours with
their history, closed days, notices (お知らせ) with who has read them, and service switches per tenant.

Every change bumps :class:`ControlsVersion`, which each process compares with the version of its cached
snapshot at most every ``KAISEN_CONTROLS_CACHE_SECONDS`` (``kaisen.controls.cache``): a change made in the
back office, by the operator CLI or in another web process is in force everywhere within those seconds,
without a restart.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kaisen.tenancy.models import Tenant


class ControlsVersion(models.Model):
    """One row: incremented in the transaction of every change to the controls."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("controls version")

    def __str__(self) -> str:
        return str(self.version)


def _pick(ja: str, en: str) -> str:
    return en if (get_language() or "ja").startswith("en") and en else ja


class MaintenanceWindow(models.Model):
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    announce_from = models.DateTimeField(_("announced from"),
                                         help_text=_("The banner appears on every page from this moment."))
    functions = models.JSONField(_("functions"), default=list,
                                 help_text=_("What is closed: the whole portal or named functions."))
    all_tenants = models.BooleanField(_("all tenants"), default=True)
    tenants = models.ManyToManyField(Tenant, verbose_name=_("tenants"), blank=True, related_name="+")
    reads_allowed = models.BooleanField(_("pages and reads stay available"), default=False,
                                        help_text=_("If set, only changes are refused; pages and downloads stay."))
    reason_ja = models.CharField(_("reason (Japanese)"), max_length=300)
    reason_en = models.CharField(_("reason (English)"), max_length=300)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    created_by = models.CharField(_("created by"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M} {self.reason_ja}"

    @property
    def reason(self) -> str:
        return _pick(self.reason_ja, self.reason_en)


class ReceptionHours(models.Model):
    """Effective-dated hours of one function: the row in force is the newest whose ``effective_from`` has come.

    Rows are never changed or deleted (the history); a change adds a row."""

    function = models.CharField(_("function"), max_length=40, blank=True,
                                help_text=_("Empty: every procedure's default hours."))
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes (last minute included)"))
    effective_from = models.DateTimeField(_("effective from"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.CharField(_("created by"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reception hours")
        verbose_name_plural = _("reception hours")
        ordering = ["function", "-effective_from", "-id"]
        indexes = [models.Index(fields=["function", "effective_from"], name="controls_hours_fn_from")]

    def __str__(self) -> str:
        return f"{self.function or '*'} {self.opens:%H:%M}–{self.closes:%H:%M} ({self.effective_from:%Y-%m-%d})"


class ClosedDay(models.Model):
    """One change to the company calendar: from ``effective_from`` (a date) on, ``day`` is closed (``closed``)
    or open again. Once (``day``) or every year (``yearly``: month and day only, stored in the year 2000).

    Like :class:`ReceptionHours`, rows are never changed or deleted (the history): closing a day adds a row,
    opening it again adds a row with ``closed`` false. For a day D, the row in force is the newest of that day
    (or of its month and day, every year) whose ``effective_from`` is not after D; without one, the
    environment's defaults (``KAISEN_CLOSED_DAYS``) decide."""

    day = models.DateField(_("day"))
    yearly = models.BooleanField(_("every year"), default=False)
    closed = models.BooleanField(_("closed"), default=True, help_text=_("Untick to open the day again."))
    effective_from = models.DateField(_("effective from"),
                                      help_text=_("The change applies to days from this date on."))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.CharField(_("created by"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ["-effective_from", "-id"]
        indexes = [models.Index(fields=["day", "yearly", "effective_from"], name="controls_closed_day_from")]

    def __str__(self) -> str:
        return self.day_label

    @property
    def day_label(self) -> str:
        return f"{self.day:%m-%d}" if self.yearly else f"{self.day:%Y-%m-%d}"


class NoticeImportance(models.TextChoices):
    NORMAL = "normal", _("Normal")
    IMPORTANT = "important", _("Important")


class Notice(models.Model):
    """お知らせ: published to all tenants or some, shown between ``starts_at`` and ``ends_at``."""

    title_ja = models.CharField(_("title (Japanese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    body_ja = models.TextField(_("text (Japanese)"), max_length=5000)
    body_en = models.TextField(_("text (English)"), max_length=5000)
    importance = models.CharField(_("importance"), max_length=10, choices=NoticeImportance.choices,
                                  default=NoticeImportance.NORMAL)
    starts_at = models.DateTimeField(_("shown from"))
    ends_at = models.DateTimeField(_("shown until"), null=True, blank=True)
    all_tenants = models.BooleanField(_("all tenants"), default=True)
    tenants = models.ManyToManyField(Tenant, verbose_name=_("tenants"), blank=True, related_name="+")
    mailed_at = models.DateTimeField(_("mailed at"), null=True, blank=True)
    created_by = models.CharField(_("created by"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return self.title_ja

    @property
    def title(self) -> str:
        return _pick(self.title_ja, self.title_en)

    @property
    def body(self) -> str:
        return _pick(self.body_ja, self.body_en)

    @property
    def important(self) -> bool:
        return self.importance == NoticeImportance.IMPORTANT


class NoticeRead(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(_("read at"))

    class Meta:
        verbose_name = _("notice read")
        constraints = [models.UniqueConstraint(fields=["notice", "user"], name="controls_notice_read_unique")]

    def __str__(self) -> str:
        return f"{self.notice_id}:{self.user_id}"


class ServiceSwitch(models.Model):
    """A function switched on or off for one tenant (no row: on)."""

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="+")
    function = models.CharField(_("function"), max_length=40)
    enabled = models.BooleanField(_("available"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_by = models.CharField(_("changed by"), max_length=100, blank=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("service switch")
        verbose_name_plural = _("service switches")
        ordering = ["tenant", "function"]
        constraints = [models.UniqueConstraint(fields=["tenant", "function"], name="controls_switch_unique")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.function}={'on' if self.enabled else 'off'}"


class OperatorSwitch(models.Model):
    """A function switched on or off for everyone, including visitors before sign-in (the public quote
    calculator). No row: the default of the environment (``kaisen.controls.functions.OPERATOR_SWITCHES``)."""

    function = models.CharField(_("function"), max_length=40, unique=True)
    enabled = models.BooleanField(_("available"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_by = models.CharField(_("changed by"), max_length=100, blank=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("operator-wide switch")
        verbose_name_plural = _("operator-wide switches")
        ordering = ["function"]

    def __str__(self) -> str:
        return f"{self.function}={'on' if self.enabled else 'off'}"
