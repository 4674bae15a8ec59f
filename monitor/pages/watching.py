"""The page cache's trigger on one more table: what each `watch_*` migration of this app adds.

0001_data_version puts the trigger on every table a public page read then; a table a page starts
reading later (a model added by another app's migration) needs it too, or a cached page would
outlive a change to it (tests/test_page_cache.py holds the list complete). One operation for all
of them, so that each such migration names only its tables and what it depends on.
"""

from django.db import migrations


def _trigger(table):
    return (
        f'CREATE TRIGGER pages_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION pages_data_changed()"
    )


def watch(*tables):
    """A migration operation putting the data-version trigger on `tables` (PostgreSQL only; SQLite caches nothing).

    Dropped first, so that running it again leaves one trigger: a new database may have run 0001 after
    the migration that made the table, and so have the trigger already.
    """

    def create(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{table}"', None)
                schema_editor.execute(_trigger(table), None)

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(f'DROP TRIGGER IF EXISTS pages_data_changed ON "{table}"', None)

    return migrations.RunPython(create, drop)
