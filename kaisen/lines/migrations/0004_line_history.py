"""Line history (issue 10 §1): the ``LinePeriod`` table, and every existing line's opening interval.

The opening intervals are written set-wise (two ``INSERT … SELECT``), so a million lines take seconds. A line's
history starts at 00:00 JST of its start date, or when it was registered if it has none, with its current
state. A cancelled line with a start and an end date was in service through its end date: it gets an
``active`` interval up to 00:00 JST of the day after the end date, then its open ``cancelled`` one.
The SQL is a frozen copy of ``kaisen.lines.history.opening_sql`` as it was when this migration was written.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

_CANCELLED = ("l.status = 'cancelled' AND l.started_on IS NOT NULL AND l.scheduled_end_on IS NOT NULL "
              "AND l.scheduled_end_on >= l.started_on")
_EXPR = {
    "sqlite": ("datetime(l.started_on, '-9 hours')", "datetime(l.scheduled_end_on, '+1 day', '-9 hours')"),
    "postgresql": ("(l.started_on::timestamp AT TIME ZONE 'Asia/Tokyo')",
                   "((l.scheduled_end_on + 1)::timestamp AT TIME ZONE 'Asia/Tokyo')"),
}
_COLS = ("tenant_id, line_id, valid_from, valid_to, plan_id, coverage, carrier, status, voice_options, data_cap_mb, "
         "sim_size, iccid, msisdn, reason, order_id, created_at")


def open_history(apps, schema_editor):
    connection = schema_editor.connection
    start, end = _EXPR[connection.vendor]
    opening = f"COALESCE({start}, l.created_at)"
    select = ("l.voice_options, l.data_cap_mb, l.sim_size, l.iccid, l.msisdn, 'opening', NULL, %s "
              "FROM lines_line l JOIN lines_plan p ON p.id = l.plan_id")
    statements = [
        f"INSERT INTO lines_lineperiod ({_COLS}) SELECT l.tenant_id, l.id, {opening}, {end}, l.plan_id, p.coverage, "
        f"l.carrier, 'active', {select} WHERE {_CANCELLED} AND {end} > {opening} AND NOT EXISTS "
        f"(SELECT 1 FROM lines_lineperiod x WHERE x.line_id = l.id)",
        f"INSERT INTO lines_lineperiod ({_COLS}) SELECT l.tenant_id, l.id, CASE WHEN {_CANCELLED} AND "
        f"{end} > {opening} THEN {end} ELSE {opening} END, NULL, l.plan_id, p.coverage, l.carrier, l.status, "
        f"{select} WHERE NOT EXISTS (SELECT 1 FROM lines_lineperiod x WHERE x.line_id = l.id AND x.valid_to IS NULL)",
    ]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql, [now])


class Migration(migrations.Migration):

    dependencies = [
        ('lines', '0003_line_mnp_port_in_expires_on_line_mnp_port_in_pending_and_more'),
        ('tenancy', '0004_contract_transfer_deletion'),
    ]

    operations = [
        migrations.CreateModel(
            name='LinePeriod',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('valid_from', models.DateTimeField(verbose_name='valid from')),
                ('valid_to', models.DateTimeField(blank=True, null=True, verbose_name='valid to')),
                ('coverage', models.CharField(choices=[('japan', 'Japan'), ('global', 'Global')], max_length=16, verbose_name='coverage')),
                ('carrier', models.CharField(choices=[('docomo', 'docomo'), ('softbank', 'SoftBank'), ('au', 'au')], max_length=16, verbose_name='carrier')),
                ('status', models.CharField(choices=[('not_activated', 'Not activated'), ('active', 'Active'), ('suspended', 'Suspended'), ('cancelled', 'Cancelled')], max_length=16, verbose_name='status')),
                ('voice_options', models.JSONField(blank=True, default=dict, verbose_name='voice options')),
                ('data_cap_mb', models.PositiveIntegerField(blank=True, null=True, verbose_name='data cap (MB)')),
                ('sim_size', models.CharField(choices=[('standard', 'Standard'), ('micro', 'Micro'), ('nano', 'Nano'), ('multi', 'Multi')], max_length=8, verbose_name='SIM size')),
                ('iccid', models.CharField(max_length=20, verbose_name='SIM serial number (ICCID)')),
                ('msisdn', models.CharField(blank=True, max_length=11, null=True, verbose_name='phone number')),
                ('reason', models.CharField(choices=[('opening', 'History opened'), ('registered', 'Line registered'), ('order', 'Procedure'), ('back_office', 'Changed by the operator'), ('transfer', 'SIM transfer'), ('demo', 'Demo data')], max_length=16, verbose_name='reason')),
                ('order_id', models.PositiveBigIntegerField(blank=True, null=True, verbose_name='order')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='recorded at')),
                ('line', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='periods', to='lines.line', verbose_name='line')),
                ('plan', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='lines.plan', verbose_name='plan')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='line_periods', to='tenancy.tenant', verbose_name='tenant')),
            ],
            options={
                'verbose_name': 'line history interval',
                'verbose_name_plural': 'line history',
                'ordering': ['line', 'valid_from'],
                'indexes': [models.Index(fields=['tenant', 'line', 'valid_from'], name='lineperiod_tenant_line_from')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('valid_to__isnull', True)), fields=('line',), name='lineperiod_one_open_per_line'), models.CheckConstraint(condition=models.Q(('valid_to__isnull', True), ('valid_to__gt', models.F('valid_from')), _connector='OR'), name='lineperiod_from_before_to')],
            },
        ),
        migrations.RunPython(open_history, migrations.RunPython.noop, elidable=True),
    ]
