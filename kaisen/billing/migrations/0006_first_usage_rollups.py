"""The first rollups (issue 10 §4): written here, in billing, because they are rated (usage is a layer below)."""

from django.db import migrations


def first_rollups(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Rollups of the calls stored so far, from their stored charges, every month; then the calls of the open
    months rated as the loader now rates them (the charges rating used to write at the close)."""
    from kaisen.billing.rating import rerate_calls

    # Today's ``rerate_calls`` also keeps the rollups' day totals (usage 0011), a table this migration must not
    # depend on (databases that applied it before that table existed would be refused by Django's history
    # check). Without the table the day totals are left out: usage 0011 fills them from the rollups written here.
    day_totals = "usage_usagedaytotal" in schema_editor.connection.introspection.table_names()
    rerate_calls(keep_charges=True, include_closed=True, day_totals=day_totals)
    rerate_calls(day_totals=day_totals)


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0005_tariff_versions"),
        ("usage", "0007_usage_rollup"),
    ]

    operations = [
        migrations.RunPython(first_rollups, migrations.RunPython.noop, elidable=True),
    ]
