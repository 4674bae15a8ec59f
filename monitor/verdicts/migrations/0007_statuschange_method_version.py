"""Status changes name the judging rules' version that detected them (monitor/verdicts/method.py).

Changes recorded before versions had names keep an empty version rather than today's: they were
detected by earlier rules, and a feed or an API answer must not credit them to 2026.12.
"""

import monitor.verdicts.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("verdicts", "0006_statuses_unconfirmed_overdue"),
    ]

    operations = [
        migrations.AddField(
            model_name="statuschange",
            name="method_version",
            field=models.CharField(blank=True, default="", editable=False, max_length=20, verbose_name="method version"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="method_version",
            field=models.CharField(
                blank=True, default=monitor.verdicts.models.current_method_version, editable=False, max_length=20,
                verbose_name="method version",
            ),
        ),
    ]
