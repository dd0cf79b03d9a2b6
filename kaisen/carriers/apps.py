from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CarriersConfig(AppConfig):
    name = "kaisen.carriers"
    label = "carriers"
    verbose_name = _("Carriers")
