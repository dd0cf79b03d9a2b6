from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "kaisen.tenancy"
    label = "tenancy"
