"""Public pages read the attachments of reports (their digests, capture times): their table moves the data version.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table evidence 0010 adds.
"""

from django.db import migrations

TABLE = "evidence_attachment"
TRIGGER = (
    f'CREATE TRIGGER pages_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{TABLE}" '
    "FOR EACH STATEMENT EXECUTE FUNCTION pages_data_changed()"
)


def create(apps, schema_editor):
    # Dropped first, as 0004 does, so that running it again leaves one trigger.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{TABLE}"', None)
        schema_editor.execute(TRIGGER, None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{TABLE}"', None)


class Migration(migrations.Migration):
    dependencies = [("pages", "0006_watch_revisions"), ("evidence", "0008_attachments_and_verification_method")]

    operations = [migrations.RunPython(create, drop)]
