"""Closed days keep a history (issue 15 §2): each row is a change in force from ``effective_from``, closing a
day or opening it again; rows are no longer changed or deleted.

Behaviour is kept as it was: the rows already stored stay in force for every day (``effective_from``
2000-01-01), and where rows existed the environment's defaults no longer counted, so a default day that staff
had removed gets an "open" row in force for every day too.
"""

import datetime as dt
import os

from django.db import migrations, models

SINCE_EVER = dt.date(2000, 1, 1)
DEFAULT_CLOSED_DAYS = "12-29,12-30,12-31,01-02,01-03"


def forwards(apps, schema_editor):
    ClosedDay = apps.get_model("controls", "ClosedDay")
    rows = list(ClosedDay.objects.all())
    if not rows:
        return  # a fresh install: the environment's defaults stay in force
    ClosedDay.objects.update(effective_from=SINCE_EVER, closed=True)
    stored = {(r.yearly, r.day) for r in rows}
    for item in os.environ.get("KAISEN_CLOSED_DAYS", DEFAULT_CLOSED_DAYS).split(","):
        item = item.strip()
        if len(item) == 5:
            key = (True, dt.date(2000, int(item[:2]), int(item[3:])))
        elif len(item) == 10:
            key = (False, dt.date.fromisoformat(item))
        else:
            continue
        if key not in stored:
            ClosedDay.objects.create(day=key[1], yearly=key[0], closed=False, effective_from=SINCE_EVER,
                                     note="removed before the history was kept", created_by="migration")


class Migration(migrations.Migration):

    dependencies = [
        ("controls", "0001_operator_controls"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="closedday", name="controls_closed_day_unique"),
        migrations.AddField(
            model_name="closedday", name="closed",
            field=models.BooleanField(default=True, help_text="Untick to open the day again.",
                                      verbose_name="closed"),
        ),
        migrations.AddField(
            model_name="closedday", name="effective_from",
            field=models.DateField(default=SINCE_EVER, help_text="The change applies to days from this date on.",
                                   verbose_name="effective from"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="closedday", name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="changed at"),
        ),
        migrations.AlterModelOptions(
            name="closedday",
            options={"ordering": ["-effective_from", "-id"], "verbose_name": "closed day",
                     "verbose_name_plural": "closed days"},
        ),
        migrations.AddIndex(
            model_name="closedday",
            index=models.Index(fields=["day", "yearly", "effective_from"], name="controls_closed_day_from"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
