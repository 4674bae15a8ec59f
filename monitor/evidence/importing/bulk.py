"""Set-based writes for batches of rows: one statement each, whatever the batch's size.

On PostgreSQL a batch travels as one array per column: `insert_rows` is
INSERT … SELECT FROM unnest(…) RETURNING id, and `update_rows` is UPDATE …
FROM unnest(…). Django's `bulk_update` builds a CASE expression per field and
row (seconds per thousand rows with a dozen fields), and `bulk_create` builds a
model instance and prepares every value of every row in Python, which was most
of an import's time. Elsewhere (the SQLite quick start) both fall back to
Django's bulk methods.

`record_history` writes django-simple-history's rows for a batch with one
INSERT … SELECT from the rows just written, instead of building a historical
object per row in Python.

`record_first_versions` writes, before an edit, the first version of the
imported reports that have none: an import writes no history row (its job is
the audit: docs/importing.md, "The audit of an imported report"), so the
contents a report had as imported reach its history when something first
changes them, dated when the import wrote them.
"""

from django.db import connection
from django.utils import timezone


def insert_rows(model, rows):
    """INSERT rows given as {attname: value} (primitive values; absent fields take their defaults); their ids."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**row) for row in rows]
        model._base_manager.bulk_create(objs)
        return [obj.pk for obj in objs]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}  # once a batch: recorded_at is the batch's instant
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays}) "
        f"RETURNING {qn(model._meta.pk.column)}"
    )
    params = [[row.get(f.attname, defaults[f.attname]) for row in rows] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def update_rows(model, objs, fields):
    """UPDATE the given fields of `objs` (saved instances) in one statement."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_update(objs, fields)
        return
    pk = model._meta.pk
    columns = [pk] + [model._meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
    names = ", ".join(qn(f.column) for f in columns)
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns[1:])
    sql = (
        f"UPDATE {qn(model._meta.db_table)} AS t SET {sets} "
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{qn(pk.column)} = v.{qn(pk.column)}"
    )
    params = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def record_history(model, ids, *, history_type, user=None, reason=""):
    """One historical row per id ("+" created, "~" changed), copied from the table as it now is."""
    if not ids:
        return
    history = model.history.model
    tracked = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in tracked)
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"INSERT INTO {qn(history._meta.db_table)} ({columns}, history_date, history_type, history_user_id, "
        f"history_change_reason) SELECT {columns}, %s, %s, %s, %s FROM {qn(model._meta.db_table)} "
        f"WHERE {qn(model._meta.pk.column)} IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), history_type, getattr(user, "pk", None), reason or None, *ids])


def first_versions_sql(which):
    """INSERT … SELECT of a "+" history row for each report `which` (SQL on the reports as `r`) that has none.

    The row reproduces the report as it now is, dated when it was entered, by whoever entered it, as the
    import used to write it: a reader of the history "as recorded at" a past instant then reads the same
    version before and after the edit that follows. Reports with history are left alone (NOT EXISTS).
    Read in the same statement as an UPDATE (staging's), it sees the rows as they were before it.
    """
    from monitor.evidence.models import Report  # the models import this module

    history = Report.history.model
    qn = connection.ops.quote_name
    tracked = [qn(f.column) for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    return (
        f"INSERT INTO {qn(history._meta.db_table)} ({', '.join(tracked)}, history_date, history_type, "
        f"history_user_id, history_change_reason) SELECT {', '.join('r.' + c for c in tracked)}, r.entered_at, '+', "
        "r.entered_by_id, CASE WHEN r.import_file <> '' THEN substr('Imported from ' || r.import_file, 1, 100) END "
        f"FROM {qn(Report._meta.db_table)} r WHERE ({which}) AND NOT EXISTS "
        f"(SELECT 1 FROM {qn(history._meta.db_table)} h WHERE h.id = r.id)"
    )


def record_first_versions(ids):
    """Before reports `ids` are changed: the first version of those without history, in one statement."""
    ids = list(ids)
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(first_versions_sql(f"r.id IN ({', '.join(['%s'] * len(ids))})"), ids)
