"""Two sweeps at once, on real PostgreSQL: the second records nothing twice; a loser leaves nothing half-written.

These tests commit (`transaction=True`) and run the second sweep in a thread of its own, on a
connection of its own, as a second worker would.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction

from monitor.alerts import models as am
from monitor.alerts import sweep
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.verdicts.models import StatusChange
from tests.factories import AgreementFactory, CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Signed 29 February 2020 in Kabul: talks due by 9 and 10 March are missed by 11 March, disarmament is not due yet.
NOW = datetime(2020, 3, 11, tzinfo=UTC)
MISSED = "[Compliance monitor] Missed"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # A committed sweep queues the sender through Celery; here the tests send themselves.
    monkeypatch.setattr(sweep, "_enqueue", lambda task: None)


@pytest.fixture
def deal():
    agreement = AgreementFactory(slug="deal", title="The deal")
    for key, days in (("prisoners", 9), ("talks", 10), ("disarmament", 60)):
        CommitmentFactory(agreement=agreement, key=key, title=key.capitalize(), due_offset=days)
    user = UserFactory(username="watcher", email="watcher@example.org")
    am.Subscription.objects.create(user=user, agreement=agreement, reminder_days=[],
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    return agreement


def in_thread(fn):
    """Run `fn` in a thread with its own database connection; returns the thread and a dict of its outcome."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            outcome["error"] = e
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def lock_waited_on(thread, timeout=30):
    """The kind of lock another backend of this database waits on, once one does (None if the thread finished first)."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT l.locktype FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.datname = current_database() AND a.pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
        if row:
            return row[0]
        time.sleep(0.02)
    return None


def first_changes_and_their_alerts():
    """(commitment key, new status, alert events) for every status change recorded."""
    return sorted(
        (c.commitment.key, c.new_status, tuple(sorted(c.alerts.values_list("event", flat=True))))
        for c in StatusChange.objects.select_related("commitment")
    )


RECORDED_ONCE = [
    ("disarmament", "not_yet_due", ()),
    ("prisoners", "missed", (am.MISSED,)),
    ("talks", "missed", (am.MISSED,)),
]


def sent():
    return sorted(m.subject.split(":")[0] for m in mail.outbox)


def test_a_sweep_started_while_another_runs_waits_and_then_records_nothing_twice(deal):
    with transaction.atomic():
        first = run_sweep(now=NOW)
        thread, second = in_thread(lambda: run_sweep(now=NOW))
        waited_on = lock_waited_on(thread)
    thread.join(30)

    assert waited_on == "advisory"  # it queued behind the first sweep's lock...
    assert "error" not in second, second.get("error")
    # ...and, reading the state once it had the lock, found every transition recorded.
    assert (first.transitions, first.alerts_queued) == (3, 2)
    later = second["value"]
    assert (later.transitions, later.alerts_queued, later.finished_at is not None) == (0, 0, True)
    assert first_changes_and_their_alerts() == RECORDED_ONCE
    send_due(NOW)
    assert sent() == [MISSED, MISSED]


def test_a_sweep_that_loses_the_race_past_the_lock_rolls_back_whole(deal, monkeypatch):
    # Should the lock ever be bypassed (a misconfigured worker, a second database role), the
    # constraints decide: a status change can follow a given one only once.
    monkeypatch.setattr(sweep, "_lock", lambda agreement_id: None)
    with transaction.atomic():
        first = run_sweep(now=NOW)
        thread, second = in_thread(lambda: run_sweep(now=NOW))
        waited_on = lock_waited_on(thread)  # the loser waits on the winner's uncommitted rows
    thread.join(30)

    assert waited_on == "transactionid"
    assert isinstance(second.get("error"), IntegrityError), second
    # The loser recorded nothing, and its SweepRun says so: unfinished, no transitions, no alerts.
    loser = am.SweepRun.objects.exclude(pk=first.pk).get()
    assert (loser.finished_at, loser.transitions, loser.alerts_queued) == (None, 0, 0)
    assert first_changes_and_their_alerts() == RECORDED_ONCE
    # The next sweep starts afresh and finds nothing left to do.
    again = run_sweep(now=NOW + timedelta(minutes=1))
    assert (again.transitions, again.alerts_queued) == (0, 0)
    send_due(NOW + timedelta(minutes=1))
    assert sent() == [MISSED, MISSED]


def test_a_sweep_that_fails_after_recording_transitions_leaves_none_of_them_behind(deal, monkeypatch):
    # The sweep writes transitions, their evidence, then their alerts; it fails on the last write
    # (as one that lost a race there would). A transition kept without its alert would never be sent:
    # the next sweep would find the status already recorded.
    real_insert = sweep._insert_missing

    def lose_the_race(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint (simulated)")

    monkeypatch.setattr(sweep, "_insert_missing", lose_the_race)
    with pytest.raises(IntegrityError):
        run_sweep(now=NOW)
    assert StatusChange.objects.count() == 0
    assert not am.Alert.objects.exists()
    [failed] = am.SweepRun.objects.all()
    assert (failed.finished_at, failed.transitions, failed.alerts_queued) == (None, 0, 0)

    monkeypatch.setattr(sweep, "_insert_missing", real_insert)
    retry = run_sweep(now=NOW + timedelta(minutes=1))
    assert (retry.transitions, retry.alerts_queued) == (3, 2)
    assert first_changes_and_their_alerts() == RECORDED_ONCE
    send_due(NOW + timedelta(minutes=1))
    assert sent() == [MISSED, MISSED]
