"""One file through reading, checking and writing, in one transaction: all of it, or none of it.

`import_file(job, binary, commit=...)` is used three ways: the admin's check (a
dry run: everything is written, counted, then rolled back, so the preview's
counts of new, updated and duplicate rows are exact), the admin's import and
the command. Rows with problems are never written; if there is any and the job
does not skip bad rows, the whole file is rolled back.
"""

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitor.alerts import triggers
from monitor.evidence import models as ev

from . import acled, native, staging
from .lookups import Attribution, Lookups
from .problems import FileProblem, Problem
from .text import MAX_LINE, Limit, LineReader
from .writer import BatchWriter, batch_size


def max_line_bytes():
    """The longest line, CSV row or JSON report a file may have (docs/importing.md)."""
    return getattr(settings, "MONITOR_IMPORT_MAX_LINE_BYTES", MAX_LINE)


@dataclass
class Outcome:
    committed: bool = False
    rows: int = 0
    rows_invalid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    fatal: Problem | None = None
    summary: dict = field(default_factory=dict)

    @property
    def importable(self):
        """Whether confirming would import something (bad rows aside, if they are to be skipped)."""
        return self.fatal is None and self.rows > self.rows_invalid


def reader_for(job, lookups, attribution):
    tz = ZoneInfo(job.time_zone)
    if job.format == ev.ACLED:
        return acled.AcledReader(source_id=job.source_id, tz=tz, attribution=attribution)
    is_json = job.file_name.lower().endswith(".json")
    return native.NativeReader(lookups=lookups, source_id=job.source_id, tz=tz, attribution=attribution, json=is_json)


def writer_for(job, reader, *, user, log, size, backdater=None):
    """Through a staging table with COPY on PostgreSQL for readers that give tuples; portable batches otherwise."""
    options = dict(
        user=user,
        log=log,
        create_defaults=reader.create_defaults,
        create_only=native.CREATE_ONLY,
        id_column="event_id_cnty" if job.format == ev.ACLED else "source_ref",
    )
    if staging.supported(reader):
        # Tuples of fixed fields (ACLED's), whose recorded_at is the dataset's own timestamp: no back-dating.
        return staging.StagingWriter(job, fields=reader.fields, size=size, **options)
    return BatchWriter(job, fields=getattr(reader, "fields", None), backdater=backdater,
                       dataset_times=getattr(reader, "dataset_knowledge_time", False), **options)


def backdater_for(user):
    """The name the history gives whoever back-dates reports in this import, or None if `user` may not.

    Setting `recorded_at` rewrites what was "known at" a past date, so a file may set it only for a user
    with evidence.backdate_report (Analysts and Administrators, monitor/accounts/roles.py).
    """
    if user is not None and user.has_perm("evidence.backdate_report"):
        return user.get_username()
    return None


class ImportedDays:
    """The first and last local event day of the rows an ACLED import writes, for a source whose coverage
    follows its imports (`Source.coverage_from_imports`).

    Once the import commits, `declare` appends one coverage period over those days: a day inside the
    export with no row from it then reads zero events, and a day outside it still "no data" (we hold no
    row for it). Recorded at the instant the import is complete, after every row it wrote was recorded,
    so that as known at any earlier instant the days are not yet covered. Periods are only appended: an
    older one is never extended, so a view as known at a past cutoff still reads what it read then.
    """

    OCCURRED_AT = acled.FIELDS.index("occurred_at")

    def __init__(self, job):
        self.job = job
        self.tz = ZoneInfo(job.time_zone)
        self.first = self.last = None

    @classmethod
    def of(cls, job):
        """One for `job` if its rows' days are to be declared covered, else None."""
        source = job.source if job.source_id else None
        if job.format == ev.ACLED and source is not None and source.coverage_from_imports:
            return cls(job)
        return None

    def add(self, values):
        occurred_at = values[self.OCCURRED_AT]
        if self.first is None or occurred_at < self.first:
            self.first = occurred_at
        if self.last is None or occurred_at > self.last:
            self.last = occurred_at

    def declare(self):
        if self.first is None:
            return None
        source = self.job.source
        # The event_date cells, as the reader placed them: the start of each day in the import's zone.
        return ev.Coverage.objects.create(
            source=source,
            starts_on=self.first.astimezone(self.tz).date(),
            ends_on=self.last.astimezone(self.tz).date(),
            country=source.coverage_country,
            admin1="",  # the whole of the country the source declares
            recorded_at=timezone.now(),
        )


def import_file(job, binary, *, commit, log, user=None, progress=None, backdater=None):
    """Read `binary` as `job` says and write its rows; commit only if `commit` and nothing stands in the way.

    `log` (a ProblemLog) receives every problem; `progress(rows, bytes_read, rows_invalid)` is called after
    each batch.
    Neither may use the database: on PostgreSQL, a thread may be writing a batch on this connection
    meanwhile (see staging.StagingWriter). `backdater` names who may give new reports a `recorded_at` from
    the file (the history records it); by default `user`, if they may back-date (backdater_for). A row
    that sets it without one is refused.
    """
    backdater = backdater or backdater_for(user)
    lookups = Lookups.load()
    attribution = Attribution(lookups)
    reader = reader_for(job, lookups, attribution)
    lines = LineReader(binary, Limit(max_line_bytes(), job.file_name))
    outcome = Outcome()
    days = ImportedDays.of(job)
    every = batch_size()
    with transaction.atomic():
        writer = writer_for(job, reader, user=user, log=log, size=every, backdater=backdater)
        try:
            for line, values, problems in reader.rows(lines):
                outcome.rows += 1
                if problems:
                    outcome.rows_invalid += 1
                    log.extend(problems)
                else:
                    writer.add(line, values)
                    if days is not None:
                        days.add(values)
                if progress is not None and outcome.rows % every == 0:
                    # From the first batch on, the page shows the rows read and how many have problems.
                    progress(outcome.rows, lines.bytes_read, outcome.rows_invalid)
            writer.close()
        except FileProblem as e:
            outcome.fatal = e.problem
            log.add(e.problem)
        finally:
            writer.stop()
        outcome.rows_invalid += writer.duplicates + writer.refused
        outcome.created, outcome.updated, outcome.unchanged = writer.created, writer.updated, writer.unchanged
        outcome.summary = attribution.summary()
        clean = outcome.fatal is None and (log.count == 0 or job.skip_invalid)
        if commit and clean and outcome.importable:
            # Queued once the transaction commits: the commitments these rows can affect are re-evaluated.
            triggers.reports_changed(writer.written_ids)
            if days is not None:
                days.declare()
            outcome.committed = True
        else:
            transaction.set_rollback(True)
    if progress is not None:
        progress(outcome.rows, lines.bytes_read, outcome.rows_invalid)
    return outcome
