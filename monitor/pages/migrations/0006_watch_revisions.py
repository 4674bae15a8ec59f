"""Pages, feeds and calendars name the revision of the terms they used: its table moves the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table terms 0009 adds.
"""

from django.db import migrations

TABLE = "terms_revision"
TRIGGER = (
    f'CREATE TRIGGER pages_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{TABLE}" '
    "FOR EACH STATEMENT EXECUTE FUNCTION pages_data_changed()"
)


def create(apps, schema_editor):
    # Dropped first, so that running it again is harmless.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{TABLE}"', None)
        schema_editor.execute(TRIGGER, None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{TABLE}"', None)


class Migration(migrations.Migration):
    dependencies = [("pages", "0005_watch_provisions"), ("terms", "0011_every_agreement_has_r1")]

    operations = [migrations.RunPython(create, drop)]
