from django.apps import AppConfig


class LinesConfig(AppConfig):
    name = "kaisen.lines"
    label = "lines"
