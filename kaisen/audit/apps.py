from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "kaisen.audit"
    label = "audit"
