"""Actor, place and category names as reported, kept by a trigger on reports (`ReportName`): what narrows a sweep's reading."""

from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION evidence_report_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One statement per write (an import batch), not one per row; names already listed are skipped.
  INSERT INTO evidence_reportname (kind, name)
  SELECT 'actor', actor1 FROM changed UNION SELECT 'actor', actor2 FROM changed
  UNION SELECT 'place', admin1 FROM changed UNION SELECT 'place', location FROM changed
  UNION SELECT 'category', category FROM changed UNION SELECT 'category', sub_category FROM changed
  ON CONFLICT (kind, name) DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER evidence_report_names_insert AFTER INSERT ON evidence_report
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION evidence_report_names();
CREATE TRIGGER evidence_report_names_update AFTER UPDATE ON evidence_report
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION evidence_report_names();
INSERT INTO evidence_reportname (kind, name)
SELECT 'actor', actor1 FROM evidence_report UNION SELECT 'actor', actor2 FROM evidence_report
UNION SELECT 'place', admin1 FROM evidence_report UNION SELECT 'place', location FROM evidence_report
UNION SELECT 'category', category FROM evidence_report UNION SELECT 'category', sub_category FROM evidence_report
ON CONFLICT (kind, name) DO NOTHING;
"""

DROP = """
DROP TRIGGER IF EXISTS evidence_report_names_insert ON evidence_report;
DROP TRIGGER IF EXISTS evidence_report_names_update ON evidence_report;
DROP FUNCTION IF EXISTS evidence_report_names();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, None)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0013_import_job_is_the_audit")]

    operations = [
        migrations.CreateModel(
            name="ReportName",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(
                    choices=[("actor", "actor"), ("place", "place"), ("category", "category")], max_length=8)),
                ("name", models.CharField(max_length=300)),
            ],
            options={"verbose_name": "name in reports"},
        ),
        migrations.AddConstraint(
            model_name="reportname",
            constraint=models.UniqueConstraint(fields=("kind", "name"), name="report_name_once"),
        ),
        migrations.RunPython(create, drop),
    ]
