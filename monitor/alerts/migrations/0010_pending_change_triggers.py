"""Triggers writing a PendingChange in the transaction of every change a verdict can depend on.

PostgreSQL only (SQLite, the quick start, has no statement triggers with transition tables, and
its periodic sweep judges everything). One row per statement, not per row: an import batch of
ten thousand reports writes one row naming their ids, or their range when they are many.
Tables whose changes are rare and hard to target (terms, sources, coverage, place names, event
groups, subscriptions, webhooks, users' addresses and staff flags, the Analysts group) mark everything due; reports and their verification, the reports they are;
assessments, their commitments. The sweep's own writes (status changes, alerts, next checks) and
history tables are not watched: they follow from these.
"""

from django.db import migrations

# Up to this many ids travel as a list; more as the range of ids (monitor.alerts.triggers does the same).
MAX_IDS = 1000

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION sweep_pending_ids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- TG_ARGV: the scope ('reports' or 'commitments') and the column naming them.
  EXECUTE format(
    'INSERT INTO alerts_pendingchange (scope, ids, first_id, last_id, created_at) '
    'SELECT %L, CASE WHEN count(*) <= {MAX_IDS} THEN to_jsonb(array_agg(DISTINCT %I)) END, '
    'min(%I), max(%I), now() FROM changed HAVING count(*) > 0',
    TG_ARGV[0], TG_ARGV[1], TG_ARGV[1], TG_ARGV[1]);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION sweep_pending_everything() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO alerts_pendingchange (scope, created_at) VALUES ('everything', now());
  RETURN NULL;
END $$;
"""

# (table, scope, column): each insert and update names what it changed; a delete cannot be
# followed (a deleted report's categories are gone), so it marks everything.
TARGETED = (
    ("evidence_report", "reports", "id"),
    ("evidence_verificationchange", "reports", "report_id"),
    ("verdicts_assessment", "commitments", "commitment_id"),
)
EVERYTHING = (
    "terms_agreement", "terms_agreement_parties", "terms_agreement_non_party_actors", "terms_party",
    "terms_partyname", "terms_milestone", "terms_commitment", "terms_commitment_owed_by",
    "evidence_source", "evidence_coverage", "evidence_placename", "evidence_eventgroup",
    "alerts_subscription",
    # Who the Analysts are (escalations go to them: monitor.alerts.escalation.analysts).
    "auth_group", "auth_user_groups",
)
# Tables whose rows their own deliveries update all day long (a failing receiver's `failing_since`):
# only the columns that decide what a sweep owes mark everything.
COLUMNS = {
    "alerts_webhook": ("agreement_id", "commitment_id", "paused_at", "created_at"),
    # A staff subscriber hears of provisional verdicts, at the user's address; not every login's last_login.
    "auth_user": ("email", "is_staff", "is_active", "is_superuser"),
}


def _statements():
    out = [FUNCTIONS]
    for table, scope, column in TARGETED:
        for event, which in (("INSERT", "NEW"), ("UPDATE", "NEW")):
            out.append(
                f'CREATE TRIGGER sweep_pending_{event.lower()} AFTER {event} ON "{table}" '
                f"REFERENCING {which} TABLE AS changed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION sweep_pending_ids('{scope}', '{column}')"
            )
        out.append(
            f'CREATE TRIGGER sweep_pending_delete AFTER DELETE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION sweep_pending_everything()"
        )
    for table in EVERYTHING:
        out.append(
            f'CREATE TRIGGER sweep_pending AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION sweep_pending_everything()"
        )
    for table, columns in COLUMNS.items():
        out.append(
            f'CREATE TRIGGER sweep_pending AFTER INSERT OR DELETE OR UPDATE OF {", ".join(columns)} ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION sweep_pending_everything()"
        )
    return out


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in _statements():
            schema_editor.execute(sql, None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _, _ in TARGETED:
        for name in ("sweep_pending_insert", "sweep_pending_update", "sweep_pending_delete"):
            schema_editor.execute(f'DROP TRIGGER IF EXISTS {name} ON "{table}"', None)
    for table in (*EVERYTHING, *COLUMNS):
        schema_editor.execute(f'DROP TRIGGER IF EXISTS sweep_pending ON "{table}"', None)
    schema_editor.execute("DROP FUNCTION IF EXISTS sweep_pending_ids(); DROP FUNCTION IF EXISTS sweep_pending_everything()", None)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0009_next_checks_and_pending_changes"),
        ("terms", "0013_coverage_share"),
        ("evidence", "0011_place_name_variants"),
        ("verdicts", "0007_statuschange_method_version"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create, drop)]
