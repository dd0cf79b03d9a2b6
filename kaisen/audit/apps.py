from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_append_only(using: str = "default", **kwargs: Any) -> None:
    """Re-install the append-only triggers after every migrate (idempotent): a later migration that
    rebuilds the table on SQLite would otherwise drop them with the old table."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from kaisen.audit import db

    connection = connections[using]
    if MigrationRecorder(connection).migration_qs.filter(app="audit", name="0003_append_only_triggers").exists():
        db.install(connection)


class AuditConfig(AppConfig):
    name = "kaisen.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        post_migrate.connect(_ensure_append_only, sender=self, dispatch_uid="kaisen.audit.append_only")
