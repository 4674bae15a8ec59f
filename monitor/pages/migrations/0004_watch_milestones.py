"""Public pages read milestones (a commitment counted from one): their table moves the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the table terms 0006 adds.
"""

from django.db import migrations

TABLE = "terms_milestone"
TRIGGER = (
    f'CREATE TRIGGER pages_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{TABLE}" '
    "FOR EACH STATEMENT EXECUTE FUNCTION pages_data_changed()"
)


def create(apps, schema_editor):
    # A new database may have run 0001 after terms 0006, and so have the trigger already.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{TABLE}"', None)
        schema_editor.execute(TRIGGER, None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{TABLE}"', None)


class Migration(migrations.Migration):
    dependencies = [("pages", "0003_watch_non_party_actors"), ("terms", "0006_milestones")]

    operations = [migrations.RunPython(create, drop)]
