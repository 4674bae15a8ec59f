"""Report.entered_at: when a report entered the monitor, kept beside its knowledge time (recorded_at).

Until now the two were the same instant for every report but a back-dated one, so existing reports (and
their history rows) get their recorded_at: the best we know. A back-dated report's true entry is in its
history (the date of its "+" row), which an auditor can still read.
"""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def backfill(apps, schema_editor):
    for name in ("Report", "HistoricalReport"):
        apps.get_model("evidence", name).objects.filter(entered_at__isnull=True).update(entered_at=F("recorded_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('evidence', '0005_records_kept_protect'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalreport',
            name='entered_at',
            field=models.DateTimeField(null=True, editable=False, verbose_name='entered at'),
        ),
        migrations.AddField(
            model_name='report',
            name='entered_at',
            field=models.DateTimeField(null=True, editable=False, verbose_name='entered at'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='historicalreport',
            name='entered_at',
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='entered at'),
        ),
        migrations.AlterField(
            model_name='report',
            name='entered_at',
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='entered at'),
        ),
        migrations.AlterField(
            model_name='historicalreport',
            name='recorded_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When it was known: what every view “as known at” a date compares.', verbose_name='recorded at'),
        ),
        migrations.AlterField(
            model_name='report',
            name='recorded_at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, help_text='When it was known: what every view “as known at” a date compares.', verbose_name='recorded at'),
        ),
    ]
