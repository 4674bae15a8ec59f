"""Public pages read the agreement's text (the text page, the agreement page's counts, a commitment's
citations): its tables move the data version too.

A migration adding the trigger that 0001_data_version puts on every table a public page reads
(tests/test_page_cache.py holds the list complete), for the tables terms 0010 adds.
"""

from django.db import migrations

TABLES = ("terms_provision", "terms_provision_commitments")


def _trigger(table):
    return (
        f'CREATE TRIGGER pages_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION pages_data_changed()"
    )


def create(apps, schema_editor):
    # A new database may have run 0001 after terms 0010, and so have the triggers already.
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{table}"', None)
            schema_editor.execute(_trigger(table), None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{table}"', None)


class Migration(migrations.Migration):
    dependencies = [("pages", "0004_watch_milestones"), ("terms", "0010_provisions")]

    operations = [migrations.RunPython(create, drop)]
