from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ControlsConfig(AppConfig):
    name = "kaisen.controls"
    label = "controls"
    verbose_name = _("Operator controls")

    def ready(self) -> None:
        from kaisen.controls import hours

        hours.install()
