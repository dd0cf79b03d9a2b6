"""Usage alert rules, their firings and the tenant's budgets (issue 13 §3-§4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RuleScope(models.TextChoices):
    ALL = "all", _("All lines")
    TAG = "tag", _("Lines with a tag")
    LINE = "line", _("One line")


class Condition(models.TextChoices):
    DATA_MONTH_MB = "data_month_mb", _("Data this month over (MB)")
    DATA_MONTH_PCT = "data_month_pct", _("Data this month over (percent of the allowance)")
    DATA_DAY_MB = "data_day_mb", _("One day's data over (MB)")
    CALLS_MONTH_YEN = "calls_month_yen", _("Call charges this month over (yen)")
    INTL_MONTH_YEN = "intl_month_yen", _("International charges this month over (yen)")
    NO_TRAFFIC_DAYS = "no_traffic_days", _("No traffic for (days)")


class Action(models.TextChoices):
    MAIL = "mail", _("Send a mail")
    WEBHOOK = "webhook", _("Send a webhook event")
    SUSPEND = "suspend", _("Suspend the line")


class AlertRule(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("applies to"), max_length=8, choices=RuleScope.choices, default=RuleScope.ALL)
    tag = models.ForeignKey("access.LineTag", verbose_name=_("tag"), null=True, blank=True,
                            on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey("lines.Line", verbose_name=_("line"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    condition = models.CharField(_("condition"), max_length=20, choices=Condition.choices)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=2)
    actions = models.JSONField(_("actions"), default=list)
    enabled = models.BooleanField(_("enabled"), default=True)
    #: A suspension is ordered as this user: their permissions, line scope and approval policy apply.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("usage alert rule")
        verbose_name_plural = _("usage alert rules")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def action_labels(self) -> list[str]:
        return [str(Action(a).label) for a in self.actions if a in Action.values]


class AlertFiring(models.Model):
    """One rule fired for one line in one period (a budget: for the account, ``rule`` empty). ``key`` makes
    it once per period: ``<rule>:<line>:<period>`` or ``budget:<coverage>:<month>``."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="firings")
    line = models.ForeignKey("lines.Line", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    key = models.CharField(max_length=80)
    rule_name = models.CharField(_("rule"), max_length=100)
    condition = models.CharField(_("condition"), max_length=20)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=2)
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2)
    period = models.CharField(_("period"), max_length=10)
    fired_at = models.DateTimeField(_("fired at"))
    outcome = models.JSONField(_("actions taken"), default=dict)

    class Meta:
        verbose_name = _("alert firing")
        verbose_name_plural = _("alert firings")
        ordering = ["-fired_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="alertfiring_once_per_period")]
        indexes = [models.Index(fields=["tenant", "-fired_at"], name="alertfiring_tenant_fired")]

    def __str__(self) -> str:
        return self.key

    @property
    def condition_label(self) -> str:
        if self.condition in Condition.values:
            return str(Condition(self.condition).label)
        return str(_("Projected month-end amount over the budget"))


class Budget(models.Model):
    """A monthly budget per coverage: alerts when the month-end projection crosses it (issue 13 §4)."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="+")
    coverage = models.CharField(_("coverage"), max_length=16)
    amount = models.DecimalField(_("budget"), max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [models.UniqueConstraint(fields=["tenant", "coverage"], name="budget_one_per_coverage")]

    def __str__(self) -> str:
        return f"{self.coverage} {self.amount}"
