"""Make the audit table append-only in the database itself: UPDATE and DELETE raise (X-AUDIT)."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from kaisen.audit import db

    for sql in db.statements(schema_editor.connection.vendor, install=True):
        schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from kaisen.audit import db

    for sql in db.statements(schema_editor.connection.vendor, install=False):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_reason_user_agent_protect_user")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
