"""Issue 10 §2: tariffs carry a valid-from date. Every existing price becomes one version valid from
2000-01-01 (before any invoice), and every Japan plan's catalogue fee (``lines.Plan.monthly_fee``) is copied
into a plan fee version at that date, so every month bills exactly what it billed before."""

import datetime
import django.db.models.deletion
from django.db import migrations, models


EPOCH = datetime.date(2000, 1, 1)


def plan_fee_versions(apps, schema_editor):
    Plan = apps.get_model("lines", "Plan")
    PlanTariff = apps.get_model("billing", "PlanTariff")
    for plan in Plan.objects.filter(coverage="japan"):
        rows = PlanTariff.objects.filter(plan=plan)
        if rows.exists():
            rows.filter(jpy_monthly_fee__isnull=True).update(jpy_monthly_fee=plan.monthly_fee)
        else:
            PlanTariff.objects.create(plan=plan, valid_from=EPOCH, jpy_monthly_fee=plan.monthly_fee)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_combined_billing'),
        ('lines', '0003_line_mnp_port_in_expires_on_line_mnp_port_in_pending_and_more'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='callrate',
            options={'ordering': ['coverage', 'call_type', '-valid_from'], 'verbose_name': 'call rate', 'verbose_name_plural': 'call rates'},
        ),
        migrations.AlterModelOptions(
            name='feerate',
            options={'ordering': ['coverage', 'code', 'plan', '-valid_from'], 'verbose_name': 'fee rate', 'verbose_name_plural': 'fee rates'},
        ),
        migrations.AlterModelOptions(
            name='longtermrate',
            options={'ordering': ['plan', 'term_months', '-valid_from'], 'verbose_name': 'long-term discount rate', 'verbose_name_plural': 'long-term discount rates'},
        ),
        migrations.AlterModelOptions(
            name='plantariff',
            options={'ordering': ['plan', '-valid_from'], 'verbose_name': 'plan fee', 'verbose_name_plural': 'plan fees'},
        ),
        migrations.RemoveConstraint(
            model_name='callrate',
            name='callrate_unique',
        ),
        migrations.RemoveConstraint(
            model_name='feerate',
            name='feerate_unique',
        ),
        migrations.RemoveConstraint(
            model_name='feerate',
            name='feerate_default_unique',
        ),
        migrations.RemoveConstraint(
            model_name='longtermrate',
            name='longtermrate_unique',
        ),
        migrations.AddField(
            model_name='callrate',
            name='valid_from',
            field=models.DateField(default=datetime.date(2000, 1, 1), help_text="Japan time. Calls started on or after this day use this version; a month's monthly fees use the version in force on the month's first day. A price change is a new version.", verbose_name='valid from'),
        ),
        migrations.AddField(
            model_name='feerate',
            name='valid_from',
            field=models.DateField(default=datetime.date(2000, 1, 1), help_text="Japan time. Calls started on or after this day use this version; a month's monthly fees use the version in force on the month's first day. A price change is a new version.", verbose_name='valid from'),
        ),
        migrations.AddField(
            model_name='longtermrate',
            name='valid_from',
            field=models.DateField(default=datetime.date(2000, 1, 1), help_text="Japan time. Calls started on or after this day use this version; a month's monthly fees use the version in force on the month's first day. A price change is a new version.", verbose_name='valid from'),
        ),
        migrations.AddField(
            model_name='plantariff',
            name='jpy_monthly_fee',
            field=models.PositiveIntegerField(blank=True, help_text="Japan plans; empty: the plan's catalogue fee.", null=True, verbose_name='monthly fee (yen, tax excluded)'),
        ),
        migrations.AddField(
            model_name='plantariff',
            name='valid_from',
            field=models.DateField(default=datetime.date(2000, 1, 1), help_text="Japan time. Calls started on or after this day use this version; a month's monthly fees use the version in force on the month's first day. A price change is a new version.", verbose_name='valid from'),
        ),
        migrations.AlterField(
            model_name='plantariff',
            name='plan',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tariffs', to='lines.plan', verbose_name='plan'),
        ),
        migrations.AddConstraint(
            model_name='callrate',
            constraint=models.UniqueConstraint(fields=('coverage', 'call_type', 'valid_from'), name='callrate_version_unique'),
        ),
        migrations.AddConstraint(
            model_name='feerate',
            constraint=models.UniqueConstraint(fields=('coverage', 'code', 'plan', 'valid_from'), name='feerate_version_unique'),
        ),
        migrations.AddConstraint(
            model_name='feerate',
            constraint=models.UniqueConstraint(condition=models.Q(('plan__isnull', True)), fields=('coverage', 'code', 'valid_from'), name='feerate_default_version_unique'),
        ),
        migrations.AddConstraint(
            model_name='longtermrate',
            constraint=models.UniqueConstraint(fields=('plan', 'term_months', 'valid_from'), name='longtermrate_version_unique'),
        ),
        migrations.AddConstraint(
            model_name='plantariff',
            constraint=models.UniqueConstraint(fields=('plan', 'valid_from'), name='plantariff_version_unique'),
        ),
        migrations.RunPython(plan_fee_versions, migrations.RunPython.noop),
    ]
