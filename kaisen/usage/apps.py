from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    name = "kaisen.usage"
    label = "usage"
    verbose_name = _("Usage")

    def ready(self) -> None:
        from django.core import checks

        checks.register(_check_retention)


def _check_retention(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``KAISEN_USAGE_RETENTION_MONTHS`` is checked at start (issue 10 §5, usage.retention)."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from kaisen.usage.retention import retention_months

    try:
        retention_months()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="kaisen.usage.E001")]
    return []
