"""Rows into reports on PostgreSQL: COPY a batch into a staging table, then write it with set-based statements.

The checked rows of a batch travel with COPY (psycopg formats them in C) into a
temporary table, and from there a batch costs at most five statements whatever
its size:

1. COPY the batch into `evidence_import_batch`;
2. INSERT … ON CONFLICT DO NOTHING the new reports (no history row: the import
   job is their audit, docs/importing.md);
3. find the rows whose id was met earlier in the file (reported as
   duplicates, and taken out of the batch in one more statement if any);
4. UPDATE the reports whose values differ (IS DISTINCT FROM), and write their
   history rows the same way, in the same statement: first the version as
   imported of those that have no history yet (bulk.first_versions_sql, which
   reads the rows as they were before the UPDATE), then the new one. A report
   that matches its row is neither written nor locked, so re-importing an
   unchanged export only reads;
5. TRUNCATE the staging table for the next batch.

Steps 3 and 4 are skipped when the INSERT created every row of the batch (a
first import): a row whose id was met before would have found its report.

Temporary tables are private to the connection and write no WAL. No model
instance and no dict is made per row: a row is the reader's tuple from the
CSV cell to the COPY buffer.

Inserting with DO NOTHING and updating in a separate statement (rather than one
INSERT … ON CONFLICT DO UPDATE) keeps "new" and "updated" exact without relying
on system columns, and lets each statement see what a concurrent import of the
same ids committed: if another transaction inserts an id first, the INSERT
waits for it and skips the row, and the UPDATE (a new snapshot under READ
COMMITTED) then finds that report and updates it instead of failing the file on
the unique constraint.
"""

import threading
from array import array
from collections import deque
from queue import Queue

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from monitor.evidence import models as ev
from monitor.evidence.judged import JUDGED_COLUMNS

from .bulk import first_versions_sql
from .problems import Problem
from .writer import reclaimed_reason_around_line

BATCH = "evidence_import_batch"
SEEN = "evidence_import_seen"
NOW = object()  # stands for the batch's instant among a statement's parameters


def supported(reader):
    """Whether this writer can take `reader`'s rows: PostgreSQL, and rows as tuples of fixed fields."""
    return connection.vendor == "postgresql" and getattr(reader, "fields", None) is not None


class StagingWriter:
    """Writes the rows it is given in batches, on a thread of its own, while the rows are read and checked.

    Why a thread: most of an import's time is PostgreSQL's (writing the reports
    and their indexes), and reading and checking the next batch
    in Python needs none of it, so the two overlap on two cores. psycopg releases
    the GIL while it waits for the server.

    The writing thread uses the importing thread's connection, inside the
    import's transaction (Django's thread sharing allows it for as long as the
    writer runs). Only one of them uses it at a time: the importing thread does
    not touch the database between the first batch it hands over and `close()`
    or `stop()`, which wait for the writer to finish. At most three batches are
    in memory: one being written, one waiting, one being gathered.

    Problems are logged by the importing thread only: duplicates the writer finds
    wait in a queue until the next hand-over. If writing fails, the error is
    raised in the importing thread at the next hand-over or at `close()`, and
    the import's transaction is rolled back as for any other error.
    """

    def __init__(self, job, *, user, log, fields, size, create_defaults=None, create_only=(), id_column="source_ref"):
        self.job = job
        self.user = user
        self.log = log
        self.fields = tuple(fields)  # what each of the reader's tuples holds, in order
        self.size = size
        self.id_column = id_column
        self.reason = f"Imported from {job.file_name}"[:100]
        self.at_source = self.fields.index("source_id")
        self.at_ref = self.fields.index("source_ref")
        self.rows = []  # (line, *values) of the batch being gathered
        self.lines = {}  # (source_id, source_ref) → line, for the batch being gathered
        # refused: rows refused while writing (a back-dated new report: never here, as ACLED rows' recorded_at is
        # the dataset's own timestamp, taken whoever imports: acled.py).
        self.created = self.updated = self.unchanged = self.duplicates = self.refused = 0
        # Created or changed: what re-evaluation needs to know about. 8 bytes a row (8 MB for a million rows)
        # is the one thing that grows with the file; the reports themselves are never kept.
        self.written_ids = array("q")
        self.db = connections[DEFAULT_DB_ALIAS]  # this thread's connection, in the import's transaction
        self.batches = Queue(maxsize=1)
        self.thread = None
        self.failure = None  # what the writing thread raised
        self.abandoned = False  # the import stopped early: batches still queued are not written
        self.found = deque()  # (line, id, first line) of the duplicates the writing thread found
        self._prepare_sql(create_defaults or {}, set(create_only))
        with self.db.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {BATCH}, {SEEN}")
            cursor.execute(f"CREATE TEMPORARY TABLE {BATCH} (line integer NOT NULL, {self._staged_columns})")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {SEEN} (source_id bigint NOT NULL, source_ref varchar(100) NOT NULL, "
                "line integer NOT NULL, PRIMARY KEY (source_id, source_ref))"
            )
            # Foreign keys are checked as each batch is written, not all at commit. Deferred, each new report
            # and history row queues a check per foreign key that the server holds until the commit (millions
            # for a million rows), and TRUNCATE reads that whole queue every batch: a batch took longer the
            # further into the file it was (a million rows: 7 s of TRUNCATE, 0.4 s now, and 9 s less at the
            # commit). Put back as they were in close(); a rollback puts them back too.
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid IN (%s::regclass, %s::regclass) "
                "AND contype = 'f' AND condeferred",
                [ev.Report._meta.db_table, ev.Report.history.model._meta.db_table],
            )
            self._foreign_keys = ", ".join(connection.ops.quote_name(name) for (name,) in cursor.fetchall())
            if self._foreign_keys:
                cursor.execute(f"SET CONSTRAINTS {self._foreign_keys} IMMEDIATE")

    def add(self, line, row):
        key = (row[self.at_source], row[self.at_ref])
        first = self.lines.get(key)
        if first is not None:
            self._duplicate(line, key[1], first)
            return
        self.lines[key] = line
        self.rows.append((line, *row))
        if len(self.rows) >= self.size:
            self._hand_over()

    def close(self):
        """Write what is left and wait until it is written; raise what the writing thread raised."""
        self._hand_over()
        self._join()
        if self.failure is not None:
            raise self.failure
        with self.db.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {BATCH}, {SEEN}")
            if self._foreign_keys:
                cursor.execute(f"SET CONSTRAINTS {self._foreign_keys} DEFERRED")

    def stop(self):
        """After `close()`, or instead of it when the import stops early: the writing thread is gone on return."""
        self.abandoned = self.thread is not None
        self._join()

    def _hand_over(self):
        self._log_duplicates()
        if self.failure is not None:
            raise self.failure
        if not self.rows:
            return
        rows, self.rows, self.lines = self.rows, [], {}
        if self.thread is None:
            self.db.inc_thread_sharing()
            self.thread = threading.Thread(target=self._write_batches, name=f"import {self.job.pk}", daemon=True)
            self.thread.start()
        self.batches.put(rows)  # waits while the writer is a batch behind

    def _join(self):
        if self.thread is not None:
            self.batches.put(None)
            self.thread.join()
            self.thread = None
            self.db.dec_thread_sharing()
        self._log_duplicates()

    def _write_batches(self):
        while (rows := self.batches.get()) is not None:
            # After a failure, or once the import is abandoned, batches are taken but not written, so that
            # whoever hands one over never waits for a writer that has stopped writing.
            if self.failure is None and not self.abandoned:
                try:
                    self._write(rows)
                except BaseException as e:
                    self.failure = e

    def _log_duplicates(self):
        while self.found:
            self._duplicate(*self.found.popleft())

    def _write(self, rows):
        now = timezone.now()  # one instant for the batch: its entered_at (recorded_at if none) and its history date
        duplicates, updated = [], []
        with self.db.cursor() as cursor:
            with cursor.copy(self._copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            insert_params = [now if p is NOW else p for p in self._insert_params]
            cursor.execute(self._insert_sql, insert_params)
            created = [pk for (pk,) in cursor.fetchall()]
            # An id met earlier in the file has a report by now, so a row the INSERT created is not a
            # duplicate: when it created them all (a first import), there is nothing more to do.
            if len(created) < len(rows):
                cursor.execute(self._duplicates_sql, [self.job.pk])
                duplicates = cursor.fetchall()
                if duplicates:
                    lines = [line for line, _ref, _first in duplicates]
                    cursor.execute(f"DELETE FROM {BATCH} WHERE line = ANY(%s)", [lines])
                cursor.execute(self._update_sql, [*self._update_params, now, *self._history_params("~"),
                                                  *self._reclaim_params(now), self.job.pk])
                updated = [pk for (pk,) in cursor.fetchall()]
            cursor.execute(f"TRUNCATE {BATCH}")
        self.written_ids.extend(created)
        self.written_ids.extend(updated)
        self.created += len(created)
        self.updated += len(updated)
        self.unchanged += len(rows) - len(duplicates) - len(created) - len(updated)
        self.found.extend(sorted(duplicates))

    def _reclaim_params(self, now):
        """The parameters of the verification changes the update records (see _prepare_sql)."""
        return [now, getattr(self.user, "pk", None), *reclaimed_reason_around_line(self.job.file_name)]

    def _history_params(self, history_type):
        return [history_type, getattr(self.user, "pk", None), self.reason or None]

    def _duplicate(self, line, ref, first_line):
        self.duplicates += 1
        reason = f"the id “{ref}” appears twice in this file (first on line {first_line})"
        self.log.add(Problem(line, self.id_column, reason))

    def _prepare_sql(self, create_defaults, create_only):
        report = ev.Report._meta
        history = ev.Report.history.model._meta
        qn = connection.ops.quote_name
        table = qn(report.db_table)
        by_name = {f.attname: f for f in report.concrete_fields}
        staged = [by_name[name] for name in self.fields]
        self._staged_columns = ", ".join(f"{qn(f.column)} {f.db_type(connection)}" for f in staged)
        self._copy_sql = f"COPY {BATCH} (line, {', '.join(qn(f.column) for f in staged)}) FROM STDIN"

        # An id met earlier in the file is one this import wrote (its report now names this job and an
        # earlier line) or one whose report it left unchanged (recorded in SEEN). So SEEN holds only the ids
        # of unchanged rows, and a first import, where every row is new, never writes to it. A job is
        # imported at most once (jobs.start_import claims it), and a check's writes are rolled back.
        key = "s.source_id = b.source_id AND s.source_ref = b.source_ref"
        self._duplicates_sql = (
            "SELECT line, source_ref, first_line FROM (SELECT b.line, b.source_ref, coalesce("
            f"(SELECT s.line FROM {SEEN} s WHERE {key}), "
            f"(SELECT s.import_line FROM {table} s WHERE {key} AND s.source_ref <> '' "
            "AND s.import_job_id = %s AND s.import_line < b.line)"
            f") AS first_line FROM {BATCH} b) d WHERE first_line IS NOT NULL"
        )

        # What a new report gets besides the row's values: the reader's defaults, how it arrived, field defaults.
        marks = {
            **create_defaults,
            "arrived_via": ev.ARRIVED_IMPORT,
            "entered_by_id": getattr(self.user, "pk", None),
            "import_job_id": self.job.pk,
            "import_file": self.job.file_name[:255],
        }
        columns, values, self._insert_params = [], [], []
        for f in report.concrete_fields:
            if f.primary_key:
                continue
            columns.append(qn(f.column))
            if f.attname == "recorded_at" and f.attname in self.fields:
                # The row's knowledge time (ACLED's timestamp, checked by the reader), else the batch's instant.
                values.append(f"coalesce(b.{qn(f.column)}, %s::{f.db_type(connection)})")
                self._insert_params.append(NOW)
            elif f.attname in self.fields:
                values.append(f"b.{qn(f.column)}")
            elif f.attname == "import_line":
                values.append("b.line")
            else:
                values.append(f"%s::{f.db_type(connection)}")
                if f.attname in ("recorded_at", "entered_at"):
                    self._insert_params.append(NOW)  # the batch's instant
                else:
                    value = marks[f.attname] if f.attname in marks else f.get_default()
                    self._insert_params.append(f.get_db_prep_save(value, connection))

        tracked = [qn(f.column) for f in history.concrete_fields if not f.name.startswith("history_")]
        history_columns = ", ".join(tracked)
        record = (
            f"INSERT INTO {qn(history.db_table)} ({history_columns}, history_date, history_type, history_user_id, "
            f"history_change_reason) SELECT {history_columns}, %s, %s, %s, %s FROM written"
        )

        # ON CONFLICT names the partial unique index on (source, source_ref) by its columns and predicate.
        # No history row: the import job is a new report's audit, and its first version is written when
        # something first changes it (bulk.first_versions_sql): half of PostgreSQL's work, saved.
        self._insert_sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM {BATCH} b "
            "ON CONFLICT (source_id, source_ref) WHERE source_ref <> '' DO NOTHING "
            f"RETURNING {table}.id"
        )
        updatable = [by_name[n] for n in self.fields if n not in create_only and n not in ("source_id", "source_ref")]
        sets = [f"{qn(f.column)} = m.{qn(f.column)}" for f in updatable]
        sets += ["import_job_id = %s", "import_file = %s", "import_line = m.line"]
        self._update_params = [self.job.pk, self.job.file_name[:255]]
        mine = ", ".join(f"r.{qn(f.column)}" for f in updatable)
        theirs = ", ".join(f"b.{qn(f.column)}" for f in updatable)
        # Four eyes: a verified report whose judged fields (monitor/evidence/judged.py) the row changes is claimed
        # again, and a verification change says which, from which line. `judged` names them ('' for none).
        judged = [f for f in updatable if f.attname in JUDGED_COLUMNS]
        names = ", ".join(
            f"CASE WHEN r.{qn(f.column)} IS DISTINCT FROM b.{qn(f.column)} THEN '{f.name}' END" for f in judged
        )
        judged_sql = f"concat_ws(', ', {names})" if judged else "''"
        sets.append(f"verification = CASE WHEN m.judged <> '' AND r.verification = '{ev.VERIFIED}' "
                    f"THEN '{ev.CLAIMED}' ELSE r.verification END")
        changes = connection.ops.quote_name(ev.VerificationChange._meta.db_table)
        # Every row of the batch whose id has a report, and whether they differ. The ones that differ are
        # updated; the ones that do not are recorded in SEEN, except the reports the INSERT just created.
        self._update_sql = (
            f"WITH matched AS (SELECT b.*, r.id AS report_id, r.import_job_id, r.verification AS was, "
            f"{judged_sql} AS judged, "
            f"({mine}) IS DISTINCT FROM ({theirs}) AS differs FROM {BATCH} b JOIN {table} r "
            "ON r.source_id = b.source_id AND r.source_ref = b.source_ref AND r.source_ref <> ''), "
            # Every sub-statement sees the reports as they were before the statement: `first` copies the
            # version as imported of those about to change that have no history yet.
            f"first AS ({first_versions_sql('r.id IN (SELECT report_id FROM matched WHERE differs)')}), "
            f"written AS (UPDATE {table} r SET {', '.join(sets)} FROM matched m "
            "WHERE r.id = m.report_id AND m.differs RETURNING r.*, m.was, m.judged), "
            f"history AS ({record}), "
            f"reclaimed AS (INSERT INTO {changes} (report_id, old_state, new_state, changed_at, changed_by_id, reason) "
            f"SELECT id, was, verification, %s, %s, %s::text || import_line::text || %s::text || judged FROM written "
            f"WHERE was = '{ev.VERIFIED}' AND verification = '{ev.CLAIMED}'), "
            f"seen AS (INSERT INTO {SEEN} (source_id, source_ref, line) SELECT source_id, source_ref, line "
            "FROM matched WHERE NOT differs AND import_job_id IS DISTINCT FROM %s) "
            "SELECT id FROM written"
        )
