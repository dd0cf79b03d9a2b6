from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "kaisen.alerts"
    label = "alerts"
    verbose_name = _("Usage alerts and forecast")

    def ready(self) -> None:
        # Usage sits below this app: it calls what is registered here after each successful import
        # (issue 13 §3, docs/decisions/0006-layers.md).
        from kaisen.alerts.evaluate import after_usage_import
        from kaisen.usage.hooks import after_import

        after_import.register("alerts", after_usage_import)
