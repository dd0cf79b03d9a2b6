from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "kaisen.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # The plan-change form (procedures, a layer below) shows a plan's fee in force from billing's versions:
        # hand it the price labels here (docs/decisions/0006-layers.md), as payments does for extra fees.
        from kaisen.billing.plan_prices import plan_price_label
        from kaisen.procedures.prices import register

        register("billing", plan_price_label)
