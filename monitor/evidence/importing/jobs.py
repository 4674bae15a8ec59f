"""An uploaded file's way through the admin: upload → check (a dry run) → confirm → import.

Small files are checked and imported inside the request; larger ones (over
MONITOR_IMPORT_INLINE_MAX_BYTES) by a Celery task, so no request waits on them.
While a task runs, its progress is kept in the cache, not in the job row: the
import writes inside one long transaction, and a row updated in it would not
be seen by the admin until the end.
"""

import csv
import logging
import tempfile

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from monitor.evidence import models as ev

from .exports import safe_cell
from .problems import ProblemLog
from .run import import_file

log = logging.getLogger(__name__)

KEEP_PROBLEMS = 20  # shown on the job's page; every problem is in the downloadable list


def inline_limit():
    return getattr(settings, "MONITOR_IMPORT_INLINE_MAX_BYTES", 2 * 1024 * 1024)


def upload_limit():
    return getattr(settings, "MONITOR_IMPORT_MAX_UPLOAD_BYTES", 400 * 1024 * 1024)


def runs_in_background(job):
    return job.file_size > inline_limit()


# --- progress ------------------------------------------------------------------


def _progress_key(job_id):
    return f"evidence:import:{job_id}:progress"


def progress(job):
    """{"rows": n, "bytes": b, "invalid": rows with problems so far} read so far by the running check or import, or None."""
    return cache.get(_progress_key(job.pk))


def _reporter(job):
    key = _progress_key(job.pk)
    cache.delete(key)

    def report(rows, bytes_read, invalid=None):
        try:
            cache.set(key, {"rows": rows, "bytes": bytes_read, "invalid": invalid}, timeout=24 * 3600)
        except Exception:  # progress is a courtesy: a cache outage must not stop an import
            log.warning("Could not record the progress of import %s.", job.pk)

    return report


# --- the steps -----------------------------------------------------------------


def start_check(job):
    """Right after the upload: check now, or queue the check once the job row is committed."""
    if runs_in_background(job):
        from .tasks import check_import

        transaction.on_commit(lambda: check_import.delay(job.pk))
    else:
        check(job.pk)


def start_import(job, *, skip_invalid):
    """Confirm a checked job. False if it was not waiting for confirmation (say, a second click)."""
    claimed = ev.ImportJob.objects.filter(pk=job.pk, state=ev.CHECKED).update(
        state=ev.IMPORTING, skip_invalid=skip_invalid
    )
    if not claimed:
        return False
    if runs_in_background(job):
        from .tasks import run_import

        transaction.on_commit(lambda: run_import.delay(job.pk))
    else:
        execute(job.pk)
    return True


def check(job_id):
    if not ev.ImportJob.objects.filter(pk=job_id, state__in=(ev.UPLOADED, ev.CHECKING)).update(state=ev.CHECKING):
        return  # already checked (a task delivered twice)
    _run(ev.ImportJob.objects.get(pk=job_id), commit=False)


def execute(job_id):
    job = ev.ImportJob.objects.filter(pk=job_id, state=ev.IMPORTING).first()
    if job is not None:
        _run(job, commit=True)


def _run(job, *, commit):
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as listing:
        problems_csv = csv.writer(listing)
        problems_csv.writerow(["line", "column", "problem"])
        problems = ProblemLog(
            keep=KEEP_PROBLEMS,
            sink=lambda p: problems_csv.writerow([p.line or "", safe_cell(p.column), safe_cell(p.reason)]),
        )
        try:
            with job.file.open("rb") as binary:
                outcome = import_file(
                    job, binary, commit=commit, log=problems, user=job.created_by, progress=_reporter(job)
                )
        except Exception as e:  # anything unexpected: the transaction is rolled back, say so plainly
            log.exception("Import %s failed", job.pk)
            job.state, job.finished_at = ev.FAILED, timezone.now()
            job.message = f"The import stopped on an unexpected error, and nothing was imported: {e}"
            job.save()
            return
        _keep_problems(job, listing, problems)

    job.rows, job.rows_invalid = outcome.rows, outcome.rows_invalid
    job.rows_created, job.rows_updated, job.rows_unchanged = outcome.created, outcome.updated, outcome.unchanged
    job.summary = outcome.summary
    job.problem_count = problems.count
    job.problems = [p.as_dict() for p in problems.first]
    if outcome.fatal is not None:
        job.state, job.message = ev.FAILED, f"Nothing was imported: {outcome.fatal}"
    elif not commit:
        job.state, job.message = ev.CHECKED, ""
    elif outcome.committed:
        job.state, job.message = ev.DONE, ""
    elif not outcome.importable:
        job.state, job.message = ev.FAILED, "Nothing was imported: no row of the file can be imported."
    else:
        job.state = ev.FAILED
        job.message = (
            f"Nothing was imported: {outcome.rows_invalid} rows have problems. Fix them, or import again "
            "choosing to skip bad rows."
        )
    if job.state in (ev.DONE, ev.FAILED):
        job.finished_at = timezone.now()
    job.save()


def _keep_problems(job, listing, problems):
    if job.problems_file:
        job.problems_file.delete(save=False)
    if problems.count:
        listing.flush()
        listing.seek(0)
        name = f"{job.file.name or job.file_name}.problems.csv"
        job.problems_file.save(name.rsplit("/", 1)[-1], File(listing), save=False)
