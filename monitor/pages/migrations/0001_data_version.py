"""The data version the page cache keys on: a PostgreSQL trigger on every table a public page reads.

Why triggers and not Django signals: signals miss `QuerySet.update`, `bulk_create`, raw SQL and other
programs writing to the same database (the importer's batches, admin bulk actions, the sweep, a
psql session). A trigger sees every write however it is made, so the page cache cannot be
told about a change too late or not at all.

Why an insert-only log and not one counter row: every writer would have to lock that one row until
it commits, so writers that otherwise never meet (an import batch, the sweep, an analyst verifying
a report) would queue behind each other and could deadlock. Inserting a row locks nothing another
writer waits for. The version is the sum of the log's weights: it rises with every committed
writing statement and with nothing else, so it names one state of the data. The log is kept short
by folding old rows into one row of their summed weight (the sum does not move); the fold skips rows
another transaction holds, so it never waits either.

The epoch is random per database, so two databases (a test run, a benchmark, production) never
share a version, even when they share a Redis.

On SQLite (the quick start) nothing is created and pages are not cached.
"""

from django.db import migrations

# The models whose tables the public pages, badges and feeds read, with their many-to-many tables.
# tests/test_page_cache.py holds every table a page reads to carrying the trigger: a new table a
# page starts reading (a waiver, an amendment) needs a migration adding it here.
WATCHED = (
    ("terms", "Agreement"),
    ("terms", "Party"),
    ("terms", "PartyName"),
    ("terms", "Commitment"),
    ("evidence", "Source"),
    ("evidence", "Coverage"),
    ("evidence", "EventGroup"),
    ("evidence", "Report"),
    ("evidence", "VerificationChange"),
    ("verdicts", "Assessment"),
    ("verdicts", "StatusChange"),
)

# Fold the log every FOLD_EVERY rows; reading the version sums at most a few times that many rows.
FOLD_EVERY = 256

CREATE = (
    "CREATE TABLE pages_data_epoch (epoch text NOT NULL)",
    "INSERT INTO pages_data_epoch (epoch) VALUES (md5(random()::text || clock_timestamp()::text))",
    "CREATE TABLE pages_data_change (id bigserial PRIMARY KEY, weight bigint NOT NULL DEFAULT 1)",
    f"""CREATE FUNCTION pages_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO pages_data_change DEFAULT VALUES RETURNING id INTO new_id;
    IF mod(new_id, {FOLD_EVERY}) = 0 THEN
        WITH folded AS (
            DELETE FROM pages_data_change WHERE id IN (
                SELECT id FROM pages_data_change WHERE id < new_id FOR UPDATE SKIP LOCKED
            ) RETURNING weight
        )
        INSERT INTO pages_data_change (weight) SELECT sum(weight) FROM folded HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END
$$""",
)

TRIGGER = (
    'CREATE TRIGGER pages_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
    "FOR EACH STATEMENT EXECUTE FUNCTION pages_data_changed()"
)

DROP = (
    # CASCADE takes the triggers with the function.
    "DROP FUNCTION IF EXISTS pages_data_changed() CASCADE",
    "DROP TABLE IF EXISTS pages_data_change",
    "DROP TABLE IF EXISTS pages_data_epoch",
)


def watched_tables(apps):
    tables = []
    for app_label, name in WATCHED:
        model = apps.get_model(app_label, name)
        tables.append(model._meta.db_table)
        tables.extend(f.remote_field.through._meta.db_table for f in model._meta.local_many_to_many)
    return tables


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # params=None: run as written, so the SQL's own % and $$ are not taken for placeholders.
    for statement in CREATE:
        schema_editor.execute(statement, None)
    for table in watched_tables(apps):
        schema_editor.execute(TRIGGER.format(table=table), None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in DROP:
        schema_editor.execute(statement, None)


class Migration(migrations.Migration):
    dependencies = [
        ("terms", "0002_history"),
        ("evidence", "0002_imports_places_history"),
        ("verdicts", "0003_assessment_history"),
    ]

    operations = [migrations.RunPython(create, drop)]
