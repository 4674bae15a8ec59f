"""The names every recorded version of a report carried, not only its row's now (`ReportName`).

A view "as known at" a past instant reads the versions standing then (`inputs._recorded_evidence`),
narrowed by the names its rules read: a spelling edited away before migration 0014 began keeping
names was in no list, and a version carrying it would not have been read. Since 0014 the trigger
keeps every spelling written to a report, and a history row copies a report as it was written.
"""

from django.db import migrations

FROM_HISTORY = """
INSERT INTO evidence_reportname (kind, name)
SELECT 'actor', actor1 FROM evidence_historicalreport UNION SELECT 'actor', actor2 FROM evidence_historicalreport
UNION SELECT 'place', admin1 FROM evidence_historicalreport UNION SELECT 'place', location FROM evidence_historicalreport
UNION SELECT 'category', category FROM evidence_historicalreport
UNION SELECT 'category', sub_category FROM evidence_historicalreport
ON CONFLICT (kind, name) DO NOTHING;
"""


def from_history(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FROM_HISTORY, None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0016_report_actor_place_indexes")]

    operations = [migrations.RunPython(from_history, migrations.RunPython.noop)]
