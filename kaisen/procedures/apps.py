from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProceduresConfig(AppConfig):
    name = "kaisen.procedures"
    label = "procedures"
    verbose_name = _("Line procedures")
