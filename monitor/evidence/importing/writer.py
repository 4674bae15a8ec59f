"""Rows into reports, a batch at a time, by (source, the source's own id): the portable way.

Used on SQLite (the quick start) and for the monitor's own format, whose JSON
rows leave out what they do not change; ACLED files on PostgreSQL go through
`staging.StagingWriter` instead, which is many times faster.

Each batch costs a fixed number of queries whatever its content: two for the
ids seen earlier in the file (see SeenIds), one to read the reports that
already have these ids, then at most one insert and one update of the changed
rows (plus one before it for the first versions of those without history, and
one after it for their history). A row that matches its report exactly is not
written at all, so re-importing a large, mostly unchanged export costs little
more than reading it.

A new report gets no history row: its import job is its audit (who, when, the
kept file, the line). Only a back-dated one does, naming who back-dated it.
"""

from array import array

from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitor.evidence import models as ev
from monitor.evidence.judged import JUDGED_COLUMNS, judged_names

from .bulk import insert_rows, record_first_versions, record_history, update_rows
from .problems import Problem

IMPORT_MARKS = ("import_job", "import_file", "import_line")


def reclaimed_reason(file_name, line, names):
    """Why an import made a verified report claimed again: the file, the line and what changed."""
    before, after = reclaimed_reason_around_line(file_name)
    return f"{before}{line}{after}{', '.join(names)}"


def reclaimed_reason_around_line(file_name):
    """The words of `reclaimed_reason` before the line number and between it and the fields (staging's SQL)."""
    return f"Changed by the import of {file_name}, line ", ", after verification: "


def batch_size():
    return getattr(settings, "MONITOR_IMPORT_BATCH_SIZE", 1000)


def _marks(values):
    return ", ".join(["%s"] * len(values))


def existing_reports(keys):
    """The reports that already have these (source_id, source_ref) ids, in one query."""
    sources, refs = [s for s, _ in keys], [r for _, r in keys]
    if connection.vendor != "postgresql":
        return ev.Report.objects.filter(source_id__in=set(sources), source_ref__in=refs)
    # One lookup per id through the unique index on (source, source_ref). Asked as one IN (…) of a
    # thousand ids, PostgreSQL may pick the source index instead when its statistics lag behind a
    # large import, and scan every row of the source for every batch.
    table = connection.ops.quote_name(ev.Report._meta.db_table)
    return ev.Report.objects.raw(
        "SELECT r.* FROM unnest(%s::bigint[], %s::text[]) AS k(source_id, source_ref) CROSS JOIN LATERAL "
        f"(SELECT * FROM {table} r WHERE r.source_id = k.source_id AND r.source_ref = k.source_ref "
        "AND r.source_ref <> '' LIMIT 1) r",
        [sources, refs],
    )


class SeenIds:
    """The ids met so far in the file, and their lines, in a temporary table of the import's transaction.

    Finds an id that appears twice, however far apart, without holding every id
    of a million-row file in memory. Temporary tables are private to the
    connection and cost no write-ahead log on PostgreSQL.
    """

    TABLE = "evidence_import_seen_ids"

    def __init__(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.TABLE} "
                "(source_id bigint NOT NULL, source_ref varchar(100) NOT NULL, line integer NOT NULL, "
                "PRIMARY KEY (source_id, source_ref))"
            )

    def first_lines(self, keys):
        """{(source_id, source_ref): line} of those keys seen before."""
        sources, refs = [s for s, _ in keys], [r for _, r in keys]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One primary-key lookup per key: a temporary table has no statistics to plan anything else by.
                cursor.execute(
                    f"SELECT k.source_id, k.source_ref, s.line FROM unnest(%s::bigint[], %s::text[]) "
                    f"AS k(source_id, source_ref) CROSS JOIN LATERAL (SELECT line FROM {self.TABLE} s "
                    "WHERE s.source_id = k.source_id AND s.source_ref = k.source_ref) s",
                    [sources, refs],
                )
            else:
                distinct_sources = sorted(set(sources))
                cursor.execute(
                    f"SELECT source_id, source_ref, line FROM {self.TABLE} "
                    f"WHERE source_id IN ({_marks(distinct_sources)}) AND source_ref IN ({_marks(refs)})",
                    [*distinct_sources, *refs],
                )
            return {(s, r): line for s, r, line in cursor.fetchall() if (s, r) in keys}

    def add(self, lines_by_key):
        rows = [(s, r, line) for (s, r), line in lines_by_key.items()]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.TABLE} (source_id, source_ref, line) VALUES "
                + ", ".join(["(%s, %s, %s)"] * len(rows)),
                [value for row in rows for value in row],
            )

    def drop(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")


# Why a row that gives a new report its `recorded_at` is refused, when its importer may not back-date.
NOT_A_BACKDATER = (
    "may be set only by those allowed to back-date reports (analysts and administrators): it rewrites what "
    "was known at a past date. Leave it empty, and the report is recorded now"
)


def backdating_reason(backdater, file_name):
    """The history's note on reports whose `recorded_at` a file set: who did (history_change_reason: 100 chars)."""
    return f"Back-dated by {backdater}: recorded_at from {file_name}"[:100]


class BatchWriter:
    """`backdater`: who may give new reports the file's `recorded_at` (named in their history), or None.

    `dataset_times`: the rows' `recorded_at` is a dataset's own record of when each row entered it (ACLED's
    `timestamp`), not an importer's claim, so it is taken whoever imports, with no back-dating permission.
    """

    def __init__(self, job, *, user, log, create_defaults=None, create_only=(), id_column="source_ref", fields=None,
                 backdater=None, dataset_times=False):
        self.job = job
        self.fields = fields  # the names of a row's values when the reader gives tuples; None when it gives dicts
        self.user = user
        self.log = log
        self.create_defaults = create_defaults or {}
        self.create_only = set(create_only)
        self.id_column = id_column
        self.reason = f"Imported from {job.file_name}"[:100]
        self.backdater = backdater
        self.dataset_times = dataset_times
        self.size = batch_size()
        self.seen = SeenIds()
        self.batch = {}  # (source_id, source_ref) → (line, values)
        # duplicates: an id met earlier in the file; refused: a new report back-dated by someone who may not.
        self.created = self.updated = self.unchanged = self.duplicates = self.refused = 0
        self.written_ids = array("q")  # created or changed: what re-evaluation needs to know about

    def add(self, line, values):
        if self.fields is not None:
            values = dict(zip(self.fields, values))
        key = (values["source_id"], values["source_ref"])
        first = self.batch.get(key)
        if first is not None:
            self._duplicate(line, values["source_ref"], first[0])
            return
        self.batch[key] = (line, values)
        if len(self.batch) >= self.size:
            self.flush()

    def close(self):
        self.flush()
        self.seen.drop()

    def stop(self):
        """Nothing to wait for: this writer writes in the caller's thread."""

    def flush(self):
        if not self.batch:
            return
        batch, self.batch = self.batch, {}
        for key, first_line in self.seen.first_lines(batch.keys()).items():
            self._duplicate(batch.pop(key)[0], key[1], first_line)
        if not batch:
            return
        self.seen.add({key: line for key, (line, _values) in batch.items()})
        existing = {(r.source_id, r.source_ref): r for r in existing_reports(list(batch))}
        new, backdated, changed, changed_fields, reclaimed = [], [], [], set(), []
        now = timezone.now()  # the batch's instant: its new reports' entered_at, and recorded_at if none is given
        for key, (line, values) in batch.items():
            report = existing.get(key)
            if report is None:
                # A re-import never changes `recorded_at` (create_only); a new report takes the file's only
                # from someone who may back-date, or from a dataset's own timestamps; else the row is refused.
                if values.get("recorded_at") is None or self.dataset_times:
                    new.append(self._new(line, values, now))
                elif self.backdater is None:
                    self.refused += 1
                    self.log.add(Problem(line, "recorded_at", NOT_A_BACKDATER))
                else:
                    backdated.append(self._new(line, values, now))
                continue
            diff = [f for f, v in values.items() if f not in self.create_only and getattr(report, f) != v]
            if not diff:
                self.unchanged += 1
                continue
            for f in diff:
                setattr(report, f, values[f])
            report.import_job, report.import_file, report.import_line = self.job, self.job.file_name[:255], line
            judged = judged_names(set(diff) & JUDGED_COLUMNS)
            if judged and report.verification == ev.VERIFIED:
                # Four eyes: what the analyst verified is not what the report says or decides any more.
                reclaimed.append((report.pk, line, judged))
            changed_fields.update(diff)
            changed.append(report)

        if new:
            self.written_ids.extend(insert_rows(ev.Report, new))  # no history row: the job is the audit
        if backdated:
            # Rare, and a rewrite of what was known at a past date: the history names who did it.
            ids = insert_rows(ev.Report, backdated)
            record_history(ev.Report, ids, history_type="+", user=self.user,
                           reason=backdating_reason(self.backdater, self.job.file_name))
            self.written_ids.extend(ids)
        if changed:
            # What they said as imported stays readable as known before this change.
            record_first_versions(r.pk for r in changed)
            update_rows(ev.Report, changed, sorted(changed_fields) + list(IMPORT_MARKS))
            if reclaimed:  # only these: another report's state is left as it is now, not as it was read
                ev.Report.objects.filter(pk__in=[pk for pk, _line, _judged in reclaimed]).update(
                    verification=ev.CLAIMED)
            ids = [r.pk for r in changed]
            record_history(ev.Report, ids, history_type="~", user=self.user, reason=self.reason)
            self.written_ids.extend(ids)
        if reclaimed:
            now = timezone.now()
            ev.VerificationChange.objects.bulk_create(
                ev.VerificationChange(
                    report_id=pk, old_state=ev.VERIFIED, new_state=ev.CLAIMED, changed_at=now, changed_by=self.user,
                    reason=reclaimed_reason(self.job.file_name, line, judged),
                )
                for pk, line, judged in reclaimed
            )
        self.created += len(new) + len(backdated)
        self.updated += len(changed)

    def _new(self, line, values, now):
        """A new report's columns ({attname: value}): no model instance needed to insert it."""
        return {
            **self.create_defaults,
            **values,
            "recorded_at": values.get("recorded_at") or now,
            "entered_at": now,
            "arrived_via": ev.ARRIVED_IMPORT,
            "entered_by_id": getattr(self.user, "pk", None),
            "import_job_id": self.job.pk,
            "import_file": self.job.file_name[:255],
            "import_line": line,
        }

    def _duplicate(self, line, ref, first_line):
        self.duplicates += 1
        reason = f"the id “{ref}” appears twice in this file (first on line {first_line})"
        self.log.add(Problem(line, self.id_column, reason))
