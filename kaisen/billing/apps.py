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

        # Calls are rated in the statement that stores them (issue 10 §4): the loader (usage, a layer below)
        # gets rating's SQL here; a line-history change re-rates that line's calls (lines, below too).
        from kaisen.billing import rating
        from kaisen.lines import history
        from kaisen.usage.hooks import CallRating, call_rating

        call_rating.register(CallRating(rated_select=rating.rated_calls_select, late_targets=rating.late_targets))
        history.history_changed.register(rating.rerate_line_history)
