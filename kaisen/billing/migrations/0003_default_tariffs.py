from django.db import migrations


def seed(apps, schema_editor):
    from kaisen.billing.tariffs import seed_default_tariffs

    seed_default_tariffs(apps.get_model("billing", "CallRate"), apps.get_model("billing", "FeeRate"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_tariffs_coupons_tts")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
