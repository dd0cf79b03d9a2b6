from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class StatementsConfig(AppConfig):
    name = "kaisen.statements"
    label = "statements"
    verbose_name = pgettext_lazy("CSV statement", "Statements")
