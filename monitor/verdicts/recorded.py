"""What the monitor had recorded at an instant: each object's version from its history, set-based.

A view cited "as known at" a past instant must keep showing what it showed (issue 14): the terms,
the parties' names, the sources' grades and the reports' contents are read as they were recorded
then, from django-simple-history's tables, not as they are now. `monitor.verdicts.inputs` uses this
when a caller asks for the recorded state (`standings(..., recorded=True)`); the present view reads
the tables themselves.

Which version of an object stands at `known_at`:

- its latest history row at or before `known_at` (a deletion there: the object is absent);
- if all its history is later, its *first* recorded version. What the monitor first recorded stands
  for what was known before it held the object, as a back-dated report's `recorded_at` says: an
  agreement loaded in 2026 about a deal of 2020 is read, as known in 2020, as first loaded. A
  revision made later is not. (`joined_later` tells an object added later to something already
  held, which is absent instead: a commitment added to an agreement, a name added to a party.)
- an object with no history row at all (an imported report until something changes it, whose
  first change writes its imported version first: importing/bulk.first_versions_sql; rows a bulk
  path wrote without history: the demo's reports, some tests): as it is now.

One query per model whatever the number of objects: on PostgreSQL, DISTINCT ON (id) over the
history ordered so that the standing version comes first (one sort, no subquery); elsewhere (SQLite,
the quick start) the same order in a ROW_NUMBER() window, filtered to the first row, which SQLite
has had since 3.25 and Django can filter on since 4.2.
"""

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When, Window
from django.db.models.functions import RowNumber

BEFORE = "_recorded_before"  # 1: the version is the latest at or before the cutoff; 0: the first one, later


def versions(model, known_at, **filters):
    """The history rows of `model` (filtered by `filters`) that stand at `known_at`: one per object.

    Each row carries `_recorded_before` (see BEFORE). A queryset of the historical model.
    """
    history = model.history.model.objects.filter(**filters)
    before = Q(history_date__lte=known_at)
    history = history.annotate(**{
        BEFORE: Case(When(before, then=Value(1)), default=Value(0), output_field=IntegerField()),
        "_recorded_date": Case(When(before, then=F("history_date")), default=None),
        "_recorded_hid": Case(When(before, then=F("history_id")), default=None),
    })
    # Rows at or before the cutoff first, the latest of them first; if there are none, the earliest row.
    order = [
        F(BEFORE).desc(),
        F("_recorded_date").desc(nulls_last=True),
        F("_recorded_hid").desc(nulls_last=True),
        F("history_date").asc(),
        F("history_id").asc(),
    ]
    if connection.vendor == "postgresql":
        return history.order_by(F("id").asc(), *order).distinct("id")
    ranked = history.annotate(_recorded_rank=Window(RowNumber(), partition_by=[F("id")], order_by=order))
    return ranked.filter(_recorded_rank=1).order_by("id")


def present(row):
    """Whether the object existed at the cutoff, by its standing row (a deletion: no)."""
    return row.history_type != "-" or not getattr(row, BEFORE)


def joined_later(row, container_row):
    """An object first recorded after the cutoff, added to a container already held then: absent.

    A commitment added in a revision to an agreement the monitor held at the cutoff; a name added to
    a party it held. Not so when the container itself was first recorded after the cutoff: both are
    then read as first recorded (see the module's note).
    """
    return not getattr(row, BEFORE) and container_row is not None and bool(getattr(container_row, BEFORE))
