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
