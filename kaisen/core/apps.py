from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kaisen.core"
    label = "core"
