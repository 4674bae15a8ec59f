"""Celery tasks. Each is idempotent: running one twice, or two at once, does no harm.

Celery delivers at least once and beat may fire twice; the guarantees come from
the sweep's locks, the next checks and the outbox's unique keys, not from how often a task runs.
"""

from datetime import timedelta

from celery import group, shared_task
from django.conf import settings
from django.utils import timezone

from monitor.alerts import delivery
from monitor.alerts import models as am
from monitor.alerts.sweep import (
    absorb_pending, earliest_next_checks, in_force, incremental, owed_sweeps, run_sweep, schedule_timed_sweeps, sharing,
)


@shared_task(name="monitor.sweep", ignore_result=True)
def sweep():
    """Beat's periodic sweep: one task per group of agreements in force that have something to do (`_owed`).

    The groups' sweeps run on whichever workers are free, each agreement under its own lock
    (monitor/alerts/sweep.py), so several machines judge several agreements at once. The tick
    first absorbs the pending changes (their marks make commitments due), then chooses; each sweep
    absorbs too (a timed sweep or a re-evaluation runs without a tick).
    """
    now = timezone.now()
    agreements = in_force()
    swept = _fan_out(_owed(agreements, now))
    # What passes before the next tick gets a sweep of its own at that instant (`schedule_timed_sweeps`):
    # a deadline's email then waits for no tick. One query, whatever the number of agreements.
    horizon = timezone.now() + timedelta(seconds=2 * settings.MONITOR_SWEEP_INTERVAL_SECONDS)
    schedule_timed_sweeps(earliest_next_checks(agreements, horizon))
    # The tick itself, recorded once whatever the number of agreements (their quiet minutes leave no
    # row): the heartbeat the health endpoint and the admin read. It counts what it swept in place
    # (one agreement); fanned out, each agreement's run counts its own.
    counts = {k: getattr(swept, k) for k in ("commitments_evaluated", "transitions", "alerts_queued")} if swept else {}
    am.SweepRun.objects.create(trigger=am.BEAT, as_of=now, started_at=now, finished_at=timezone.now(), **counts)


@shared_task(name="monitor.sweep_agreement", ignore_result=True)
def sweep_agreement(agreement_id, trigger=am.BEAT, changes=None, timed=False):
    """One agreement's sweep. `timed`: sent to run at a next check's instant (`schedule_timed_sweeps`).

    A timed sweep sends what it queued itself, once committed: the `monitor.send_alerts` its commit
    queues waits in line behind whatever the queue holds (the nightly check's hundred sweeps), and
    the point of timing it was that the email should not wait. The outbox's claims keep the two
    senders from sending anything twice.
    """
    # Beat's tick skips an agreement another sweep holds (`run_sweep`); a timed sweep, a re-evaluation
    # and the check wait for it.
    wait = timed or trigger != am.BEAT
    run = run_sweep(now=timezone.now(), trigger=trigger, changes=changes, agreements=[agreement_id], wait=wait)
    if timed and run.alerts_queued:
        delivery.send_due(timezone.now())  # a batch; the queued monitor.send_alerts sends any more
    return run


# The nightly check and its sweeps go to the `checks` queue (CELERY_TASK_ROUTES): judging every commitment
# against every report takes minutes at scale, and in the default queue the timed sweeps, the report
# re-evaluations and the sender would wait behind it. A worker of its own takes it (docs/operations.md).


@shared_task(name="monitor.check", ignore_result=True)
def check():
    """The nightly check: every commitment of every agreement judged again and compared (drift), one task per
    group of agreements sharing parties (in the `checks` queue, as routed), each group on one read."""
    _fan_out(in_force(), task=sweep_agreements, trigger=am.CHECK)


@shared_task(name="monitor.sweep_agreements", ignore_result=True)
def sweep_agreements(agreement_ids, trigger=am.CHECK):
    """Judge every commitment of these agreements (the nightly check's share), each under its lock, on one read."""
    return run_sweep(now=timezone.now(), trigger=trigger, agreements=agreement_ids)


@shared_task(name="monitor.reevaluate_reports", ignore_result=True)
def reevaluate_reports(changes):
    """Judge at once what these reports can affect (`triggers.describe`; a list of ids too).

    On PostgreSQL the pending changes the database wrote with the reports say the same: they are
    marked here, and a sweep is sent to each group of agreements with something marked or due (the
    description is not read); on SQLite each agreement's sweep reads the description. Messages
    queued before descriptions existed carry a bare list of ids, read as such.
    """
    _fan_out(_owed(in_force(), timezone.now()), trigger=am.REPORTS, changes=changes)


def _owed(agreement_ids, now):
    """The agreements whose sweep has something to do now: on PostgreSQL, the pending changes marked once for all
    (`absorb_pending`), then those with a commitment due, a digest owed or a webhook to pause (`owed_sweeps`, a
    few queries whatever their number), so a quiet minute, or a report no commitment counts, sends no task and
    costs no agreement a dozen queries. On SQLite (no triggers) every one: each sweep judges all or reads the
    description of the changes."""
    if not incremental():
        return agreement_ids
    absorb_pending(now)
    return owed_sweeps(agreement_ids, now)


def _fan_out(agreement_ids, task=None, **kwargs):
    """These agreements' sweeps, one `task` (by default `sweep_group`) per group sharing parties, each group on
    one read of its reports; one group is swept here (its run is returned)."""
    task = task or sweep_group
    groups = sharing(agreement_ids)
    if len(groups) == 1:
        # One agreement, or a few of one conflict (the common case, and the quick start): no message needed.
        return task(groups[0], **kwargs)
    if groups:
        group(task.s(ids, **kwargs) for ids in groups).apply_async()
    return None


@shared_task(name="monitor.sweep_group", ignore_result=True)
def sweep_group(agreement_ids, trigger=am.BEAT, changes=None):
    """The sweeps of agreements that share parties (`sweep.sharing`), each under its lock, on one read of what
    is due in them. Beat's tick skips an agreement another sweep holds; a re-evaluation waits for it."""
    return run_sweep(now=timezone.now(), trigger=trigger, changes=changes, agreements=agreement_ids,
                     wait=trigger != am.BEAT)


@shared_task(name="monitor.send_alerts", ignore_result=True)
def send_alerts():
    while delivery.send_due(timezone.now()):
        pass
