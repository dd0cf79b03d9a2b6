from django.apps import AppConfig


class CarriersConfig(AppConfig):
    name = "kaisen.carriers"
    label = "carriers"
