"""Long imports run in a Celery queue of their own, so sweeps and alerts never wait behind one (issue 11, finding 5).

The first tests read the routing and the commands that start the workers (bin/start, docs/operations.md).
The last runs the real parts, as production runs them: a worker for the default queue (`celery`) and one
for `imports`, each `celery -A monitor worker -Q …` in a process of its own (tests/realparts.py), against
this run's Redis and the committed test database. An upload's check, then its import, is held where the
test decides, on a lock the test holds (a row lock on the job, then a share lock on the reports table):
deterministic, with no file large enough to take time. While it is held, a sweep sent afterwards must
finish and its alert reach the SMTP server; with one queue for everything, the sweep waits behind the
import for as long as the import runs.
"""

import re
import shlex
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from monitor.alerts import models as am
from monitor.celery import app as monitor_celery_app
from monitor.evidence import models as ev
from monitor.evidence.importing import jobs
from tests import realparts
from tests.factories import AgreementFactory, CommitmentFactory, SourceFactory, UserFactory
from tests.realparts import SMTPServer, Worker, wait_until

ROOT = Path(__file__).resolve().parent.parent
IMPORT_TASKS = ("evidence.check_import", "evidence.run_import")
CHECK_TASKS = ("monitor.check", "monitor.sweep_agreements")  # the check and the sweeps it fans out
OTHER_TASKS = ("monitor.sweep", "monitor.sweep_agreement", "monitor.sweep_group", "monitor.send_alerts",
               "monitor.reevaluate_reports")


def queue_of(task_name):
    monitor_celery_app.loader.import_default_modules()
    return monitor_celery_app.amqp.router.route({}, task_name, (), {})["queue"].name


def test_the_import_tasks_go_to_the_imports_queue_and_sweeps_and_alerts_do_not():
    assert {name: queue_of(name) for name in IMPORT_TASKS} == dict.fromkeys(IMPORT_TASKS, "imports")
    assert {name: queue_of(name) for name in CHECK_TASKS} == dict.fromkeys(CHECK_TASKS, "checks")
    default = monitor_celery_app.conf.task_default_queue
    assert default == "celery"
    assert {name: queue_of(name) for name in OTHER_TASKS} == dict.fromkeys(OTHER_TASKS, default)
    # Every task the worker knows is one of these: a new task must choose its queue here on purpose.
    ours = {name for name in monitor_celery_app.tasks if not name.startswith("celery.")}
    assert ours == set(IMPORT_TASKS) | set(CHECK_TASKS) | set(OTHER_TASKS)


def worker_queues(text):
    """The -Q of each `celery -A monitor worker` command in `text` (None for a worker without one)."""
    queues = []
    for line in text.splitlines():
        if "celery -A monitor worker" in line:
            words = shlex.split(line, comments=True)
            queues.append(words[words.index("-Q") + 1] if "-Q" in words else None)
    return queues


def test_bin_start_and_the_production_commands_start_a_worker_for_each_queue():
    operations = (ROOT / "docs" / "operations.md").read_text()
    production = re.search(r"## Production\n.*?```\n(.*?)```", operations, re.S)[1]
    for where, text in (("docs/operations.md", production), ("bin/start", (ROOT / "bin" / "start").read_text())):
        assert sorted(worker_queues(text)) == ["celery", "imports,checks"], where


# --- the real parts --------------------------------------------------------------------------------------


def finished_sweeps():
    return am.SweepRun.objects.filter(finished_at__isnull=False).count()


@contextmanager
def held(statement):
    """`statement` (a lock) in a transaction of another connection, held inside the block; yields its pid."""
    with psycopg.connect(realparts.database_url()) as lock:
        try:
            pid = lock.execute("SELECT pg_backend_pid()").fetchone()[0]
            lock.execute(statement)
            yield pid
        finally:
            lock.rollback()


def waiting_on(pid):
    """How many sessions wait for a lock that session `pid` holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid])
        return cursor.fetchone()[0]


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def workers_as_documented(smtp, media, tmp_path):
    """The two workers of docs/operations.md: `-Q celery` and `-Q imports`, each a process of its own."""
    env = realparts.process_env(smtp.port, MEDIA_ROOT=str(media))
    realparts.flush_broker()
    started = [Worker(env, tmp_path / "default.log", "default", queues="celery"),
               Worker(env, tmp_path / "imports.log", "imports", queues="imports")]
    try:
        for worker in started:
            worker.start()
        yield started
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            print(f"----- log of worker {worker.name} -----\n{worker.log()}")
        realparts.flush_broker(check=False)


@pytest.mark.slow
@pytest.mark.timeout(240, method="signal")  # signal: fixtures still tear down, so no process outlives the test
@pytest.mark.django_db(transaction=True)  # the workers see committed rows only
def test_a_sweep_and_its_alert_go_through_while_an_import_is_held(workers_as_documented, smtp, settings):
    # A deadline that passed this morning, with a subscriber: a sweep records it and sends the alert.
    today = timezone.now().astimezone(UTC).date()
    agreement = AgreementFactory(slug="deal", title="The deal", time_zone="UTC", signed_on=today - timedelta(days=2))
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", due_offset=1)
    am.Subscription.objects.create(user=UserFactory(username="watcher", email="watcher@example.org"),
                                   agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC),
                                   reminder_days=[])
    # An upload large enough for the background (over the inline limit), as the admin leaves it.
    settings.MONITOR_IMPORT_INLINE_MAX_BYTES = 100
    source = SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)
    content = (ROOT / "tests" / "data" / "import" / "acled-6-rows-bom.csv").read_bytes()
    job = ev.ImportJob(file_name="events.csv", file_size=len(content), format=ev.ACLED, source=source,
                       time_zone="UTC")
    job.file.save("events.csv", ContentFile(content), save=False)
    job.save()
    assert jobs.runs_in_background(job)

    def state():
        return ev.ImportJob.objects.values_list("state", flat=True).get(pk=job.pk)

    with realparts.broker(monitor_celery_app, realparts.broker_url()) as app:
        # 1. The check, held at its first step (claiming the job) by a lock on the job's row.
        with held(f"SELECT 1 FROM evidence_importjob WHERE id = {job.pk} FOR UPDATE") as holder:
            jobs.start_check(job)  # queues evidence.check_import, as the upload does
            wait_until(lambda: waiting_on(holder), timeout=60, what="a worker to start the check and wait on the lock")
            before = finished_sweeps()
            app.send_task("monitor.sweep")  # what beat sends
            wait_until(lambda: finished_sweeps() > before, timeout=30,
                       what="the sweep sent after the check to finish while the check runs")
            [received] = smtp.wait_for(1, timeout=30)
            assert received.subject == f"[Compliance monitor] Missed: Talks begin ({agreement.title})"
            assert waiting_on(holder) and state() == ev.UPLOADED  # the check was running all along
        wait_until(lambda: state() == ev.CHECKED, timeout=60, what="the check to finish once let go")

        # 2. The import, held when it first writes a report by a share lock on the reports table (which
        #    lets the sweep read reports).
        with held("LOCK TABLE evidence_report IN SHARE MODE") as holder:
            assert jobs.start_import(ev.ImportJob.objects.get(pk=job.pk), skip_invalid=False)
            wait_until(lambda: waiting_on(holder), timeout=60, what="a worker to start the import and wait on the lock")
            before = finished_sweeps()
            app.send_task("monitor.sweep")
            wait_until(lambda: finished_sweeps() > before, timeout=30,
                       what="the sweep sent after the import to finish while the import runs")
            assert waiting_on(holder) and state() == ev.IMPORTING and not ev.Report.objects.exists()
        wait_until(lambda: state() == ev.DONE, timeout=60, what="the import to finish once let go")

    assert ev.Report.objects.count() == 6
    assert len(smtp.messages) == 1  # the second sweep found nothing new to send
    # Each worker ran only its own queue's tasks (as its log says, "Task NAME[id] received"); the default
    # one, perhaps also the re-evaluation the import queued when it committed.
    default, imports = workers_as_documented
    assert {"monitor.sweep", "monitor.send_alerts"} <= ran(default) <= set(OTHER_TASKS)
    assert ran(imports) == {"evidence.check_import", "evidence.run_import"}


def ran(worker):
    return set(re.findall(r"Task ([\w.]+)\[[^\]]+\] received", worker.log()))
