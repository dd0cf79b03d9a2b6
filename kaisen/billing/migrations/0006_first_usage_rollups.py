"""The first rollups (issue 10 §4): written here, in billing, because they are rated (usage is a layer below)."""

from django.db import migrations


def first_rollups(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Rollups of the calls stored so far, from their stored charges, every month; then the calls of the open
    months rated as the loader now rates them (the charges rating used to write at the close)."""
    from kaisen.billing.rating import rerate_calls

    rerate_calls(keep_charges=True, include_closed=True)
    rerate_calls()


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0005_tariff_versions"),
        ("usage", "0007_usage_rollup"),
        # ``rerate_calls`` (today's code) also keeps the rollups' day totals: their table must exist first.
        ("usage", "0010_usagedaytotal"),
    ]

    operations = [
        migrations.RunPython(first_rollups, migrations.RunPython.noop, elidable=True),
    ]
