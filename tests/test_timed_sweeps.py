"""Timed sweeps: a deadline passing before beat's next tick gets a sweep of its agreement at that instant.

`schedule_timed_sweeps` (monitor/alerts/sweep.py) sends `monitor.sweep_agreement` with the instant as its
ETA. Here the broker is replaced by a list of what would have been sent; tests/test_alerts_real.py has
the real worker and SMTP server (the email arrives seconds after the deadline, with no beat running).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from bench.alerts import fixed_offset_zone, zones_in
from monitor.alerts import models as am
from monitor.alerts import tasks
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, CommitmentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # sent on commit


@pytest.fixture
def sent(monkeypatch):
    """What would have gone to the broker: (agreement id, kwargs, eta) per timed sweep."""
    out = []

    def apply_async(args=None, kwargs=None, eta=None, **options):
        if eta is not None:  # the tick's fan-out (a group, no ETA) is dropped: no worker here
            out.append((args[0], kwargs, eta))

    monkeypatch.setattr(tasks.sweep_agreement, "apply_async", apply_async)
    cache.clear()
    return out


@pytest.fixture
def zones(tmp_path):
    with zones_in(tmp_path):
        yield tmp_path


def passing_at(due, zones, slug):
    """An agreement whose one deadline passes at `due` (its zone's midnight; bench/alerts.py does the same)."""
    second = int(due.timestamp())
    offset = -(second % 86400)
    if offset < -43200:
        offset += 86400
    name = f"Timed/At-{second}-{slug}"
    (zones / "Timed").mkdir(exist_ok=True)
    (zones / name).write_bytes(fixed_offset_zone(offset))
    last_day = (due + timedelta(seconds=offset)).date() - timedelta(days=1)
    agreement = AgreementFactory(slug=slug, time_zone=name, signed_on=last_day - timedelta(days=10))
    CommitmentFactory(agreement=agreement, due_offset=10)
    return agreement


def whole_second(seconds_ahead):
    return datetime.fromtimestamp(int(timezone.now().timestamp()) + seconds_ahead, tz=UTC)


def test_a_deadline_before_the_next_tick_gets_one_sweep_at_its_instant_however_often_it_is_swept(sent, zones):
    due = whole_second(30)
    agreement = passing_at(due, zones, "soon")

    run_sweep(now=timezone.now(), trigger=am.BEAT, agreements=[agreement.id])
    run_sweep(now=timezone.now(), trigger=am.MANUAL, agreements=[agreement.id])  # judged again: nothing more sent
    tasks.sweep()  # beat's tick looks ahead too: already sent

    assert sent == [(agreement.id, {"timed": True}, due)]


def test_beats_tick_sends_the_sweep_for_a_deadline_stored_long_before(sent, zones):
    due = whole_second(90)
    agreement = passing_at(due, zones, "stored")
    other = passing_at(whole_second(40 * 60), zones, "later")  # beyond two intervals: a later tick's
    run_sweep(now=timezone.now(), trigger=am.BEAT)
    sent.clear()
    cache.clear()  # as if the sweep that stored it had not sent it (the broker was down then)

    tasks.sweep()

    assert sent == [(agreement.id, {"timed": True}, due)]
    assert other.id not in [a for a, _, _ in sent]


def test_a_sweep_as_of_long_ago_sends_nothing_for_an_instant_already_past(sent, zones):
    due = whole_second(30)
    agreement = passing_at(due, zones, "past")

    # As of a month before (a benchmark's sweep, a test's): its next check (the signing, days before the
    # deadline) is long past on the real clock.
    run_sweep(now=due - timedelta(days=30), trigger=am.MANUAL, agreements=[agreement.id])

    assert am.NextCheck.objects.get().due_at < timezone.now() - timedelta(days=1)
    assert sent == []


def test_beats_tick_skips_an_agreement_another_sweep_holds_and_the_next_tick_judges_it(sent, zones):
    import psycopg

    from monitor.alerts.sweep import SWEEP_LOCK
    from monitor.verdicts.models import StatusChange
    from tests import realparts

    agreement = passing_at(whole_second(30), zones, "held")
    with psycopg.connect(realparts.database_url()) as other:  # the nightly check, judging this agreement
        other.execute("SELECT pg_advisory_lock(%s, %s)", [SWEEP_LOCK, agreement.id])
        started = timezone.now()
        tasks.sweep_group([agreement.id])  # the tick's sweep of it: does not wait
        assert (timezone.now() - started).total_seconds() < 5
        assert not StatusChange.objects.exists()
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [SWEEP_LOCK, agreement.id])

    tasks.sweep_group([agreement.id])  # the next tick

    assert StatusChange.objects.get().new_status == "due_soon"
