"""The sweep: judge commitments, record transitions, queue the alerts they owe.

Sweeps are per agreement. Each is one transaction holding that agreement's lock (on PostgreSQL,
a transaction-level advisory lock keyed on the agreement; a sweep of several agreements sharing
parties, judging everything or what is due, takes their locks in one transaction, in ascending
order, and reads their reports once: `sharing`), so the sweeps of several agreements
run at once on several workers (`monitor.sweep` fans out one task per group of agreements with
something to do: `owed_sweeps`), while
two sweeps of one agreement run one after another; each reads the state *after* taking the lock,
so the second finds the first's transitions already recorded and records nothing. Two database
constraints back this up should the lock ever be bypassed: a status change can follow a given
change only once, and an alert's idempotency key is unique. A sweep that lost such a race fails
with an IntegrityError and rolls back whole (its SweepRun stays unfinished); the next one starts
afresh.

What a sweep judges (its scope):

- DUE, the periodic sweep (PostgreSQL): only the commitments whose next check has come (the
  engine's `Verdict.next_check`, brought forward to the next reminder, escalation or digest:
  `NextCheck`), those a change marked due (`absorb_pending` turns the `PendingChange` rows
  database triggers write in every changing transaction into marks), and those never judged or
  judged by another method. Nothing due and nothing new: a few queries, whatever the size. A new
  act does not mark a commitment whose status it cannot move before its next check (`_standing`).
- CHANGED, a targeted sweep on SQLite (`changes`, from `monitor.alerts.triggers`, queued on
  commit): the commitments some changed reports can affect (`engine.affected`: by rule, link,
  event group, and anchored on an affected one), judged with the commitments they are counted
  from and the evidence those need; it sends no digest. On PostgreSQL the same message runs the
  DUE sweep at once: the pending changes already name those reports.
- EVERY: the nightly check (`CHECK`), `manage.py sweep`, and every periodic sweep on SQLite (the
  quick start has no triggers). The nightly check compares with the stored state: a transition on
  a commitment the incremental path held settled is drift, logged, counted on the run and shown
  on the health endpoint, and fixed by being recorded like any other.

The number of queries does not depend on the number of commitments: the inputs are read in a
fixed number of queries (monitor.verdicts.inputs), and transitions, evidence links, next checks and
alerts are written in bulk.
"""

import logging
from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta
from itertools import chain, islice

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from monitor.alerts import escalation, messages, webhooks
from monitor.alerts import models as am
from monitor.evidence.publication import under_review
from monitor.verdicts import engine, inputs
from monitor.verdicts import statuses as S
from monitor.verdicts.engine.kinds import stands
from monitor.verdicts.engine.shares import per_party
from monitor.verdicts.method import METHOD_VERSION
from monitor.verdicts.models import COMPUTED, CORRECTION, StatusChange
from terms.models import CEILING, IN_FORCE, PROHIBITION, Agreement, Commitment
from terms.rules import normalize_name

log = logging.getLogger(__name__)

SWEEP_LOCK = 0x5EED  # advisory lock class; the agreement's id is the key: one sweep of an agreement at a time

# What a sweep judges (the module's docstring)
EVERY = "every"
DUE = "due"
CHANGED = "changed"

# The alert a transition owes, by its new status (and, for recoveries, the old one).
ADVERSE_EVENTS = {S.MISSED: am.MISSED, S.BREACHED: am.BREACHED, S.DISPUTED: am.DISPUTED, S.OVERDUE: am.OVERDUE}
RECOVERY_EVENTS = {
    (S.MISSED, S.MET_LATE): am.MET_LATE,
    (S.OVERDUE, S.MET_LATE): am.MET_LATE,  # a duty without a date, done after its reasonable time
    (S.BREACHED, S.IN_COMPLIANCE): am.BREACH_OVER,
}


def _silent(terms, changed):
    """Ceilings and prohibitions with no data in a category a changed report carries: judged again too.

    "No source reports this" (`coverage.no_source`) ends with the first report of one of the rule's
    categories, wherever and by whomever it happened, which `engine.affected` (what the rule would
    count) does not see. One query, for the few terms in those categories whose status is no data.
    """
    categories = {normalize_name(c) for ch in changed for c in (ch.category, ch.sub_category) if c}
    candidates = [
        t.id for t in terms
        if t.kind in (CEILING, PROHIBITION) and categories & {normalize_name(c) for c in t.rule.categories}
    ]
    if not candidates:
        return set()
    return {pk for pk, change in latest_changes(candidates).items() if change.new_status == S.NO_DATA}


def _standing(terms, changed, now):
    """Commitments whose status new acts cannot move before their next check (`engine.affected` leaves them
    out for changes that only add acts).

    Their kind says so of their rule and their latest recorded status (`stands`: a ban's breach only
    grows longer with more violations; a ceiling's, over its window or without recovery days, stands for
    good; a deadline met stays met), every owing party's too when judged per party, and their next
    check, worked out under this method, has not come: until then the status stands whatever acts are
    added, and from then on they are judged with every report. Asked only when some change adds acts.

    Only for agreements no sweep holds: one holding it may be recording, from reports read before these
    changes, the end of the very status read here; so the lock is taken (never waited for: another worker
    may be in the middle of judging), and held until this transaction commits, so that a sweep starting
    after it reads these changes' reports. Where the lock is held, the commitments are judged as usual.
    """
    if not any(ch.adds_acts for ch in changed):
        return frozenset()
    terms = {t.id: t for t in terms}
    not_due = dict(  # commitment -> its agreement
        am.NextCheck.objects.filter(commitment__in=list(terms), method_version=fingerprint())
        .filter(Q(due_at__isnull=True) | Q(due_at__gt=now))
        .values_list("commitment_id", "commitment__agreement_id")
    )
    held = {pk for pk, change in latest_changes(list(not_due)).items() if stands(terms[pk], change.new_status)}
    parties = defaultdict(dict)
    for (pk, party_id), change in latest_party_changes(list(held)).items():
        parties[pk][party_id] = change.new_status
    standing = {
        pk for pk in held
        if not per_party(terms[pk]) or all(stands(terms[pk], parties[pk].get(p.id)) for p in terms[pk].owing)
    }
    free = _try_locks({not_due[pk] for pk in standing})
    return frozenset(pk for pk in standing if not_due[pk] in free)


def _try_locks(agreement_ids):
    """The agreements among these whose sweep lock was free, now held by this transaction (one query)."""
    if connection.vendor != "postgresql":
        return set(agreement_ids)  # SQLite: the sweep judging the changes holds its agreement already
    if not agreement_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT a FROM unnest(%s::int[]) AS a WHERE pg_try_advisory_xact_lock(%s, a)",
                       [sorted(agreement_ids), SWEEP_LOCK])
        return {row[0] for row in cursor.fetchall()}


def _lock(agreement_id):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Blocking, not try-lock: a sweep queued because a report just changed must see that
            # report, so it waits for the running sweep rather than trusting it to have seen it.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SWEEP_LOCK, agreement_id])
    # SQLite serialises writers itself; the quick start runs one worker (docs/operations.md).


def _take(agreement_id, wait):
    """The agreement's sweep lock: waited for, or (`wait` False) taken only if free; whether it is held."""
    if wait:
        _lock(agreement_id)
        return True
    return _try_lock(agreement_id)


def _try_lock(agreement_id):
    """The agreement's sweep lock if it is free (beat's tick: `run_sweep`'s `wait`); whether it was taken."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [SWEEP_LOCK, agreement_id])
        return cursor.fetchone()[0]


def incremental():
    """Can a periodic sweep judge only what is due? Only where triggers record every change (PostgreSQL)."""
    return connection.vendor == "postgresql"


def fingerprint():
    """What a stored next check was worked out under: a new method or new settings make every commitment due."""
    return f"{METHOD_VERSION}/{settings.MONITOR_DUE_SOON_DAYS}/{settings.MONITOR_DIGEST_HOUR_UTC}"


def in_force():
    return list(Agreement.objects.filter(state=IN_FORCE).order_by("id").values_list("id", flat=True))


def latest_changes(commitment_ids):
    """The most recent status change of each commitment (its own, not a party's), in one query."""
    latest_ids = (
        StatusChange.objects.filter(commitment__in=commitment_ids, party__isnull=True)
        .values("commitment")
        .annotate(last=Max("id"))
        .values("last")
    )
    return {c.commitment_id: c for c in StatusChange.objects.filter(id__in=latest_ids)}


def latest_party_changes(commitment_ids):
    """The most recent status change of each owing party of each commitment judged per party, in one query."""
    latest_ids = (
        StatusChange.objects.filter(commitment__in=commitment_ids, party__isnull=False)
        .values("commitment", "party")
        .annotate(last=Max("id"))
        .values("last")
    )
    return {(c.commitment_id, c.party_id): c for c in StatusChange.objects.filter(id__in=latest_ids)}


def run_sweep(*, now, trigger=am.BEAT, changes=None, agreements=None, wait=True):
    """Judge, record transitions and queue alerts as of `now`. Returns the SweepRun.

    `wait` False (beat's tick, fanned out): an agreement another sweep holds is skipped, not waited
    for. The nightly check holds an agreement for minutes at scale, and a worker waiting on it is a
    worker not running the sweep sent for a deadline passing meanwhile. Nothing is lost: what the
    running sweep leaves (a mark made after it began, a next check after its `now`) stays due for
    the next tick, and a deadline's own sweep (`schedule_timed_sweeps`) waits.

    `agreements`: the ids of the agreements to sweep (by default every one in force), each in a
    transaction of its own under its own lock, one after another; judging everything, agreements
    sharing parties share one transaction and one read of the reports (`sharing`). `changes`: a description of
    changed reports (`triggers.describe`); only the commitments they can affect are judged.
    The scope follows from the trigger (the module's docstring).
    """
    ids = in_force() if agreements is None else list(agreements)
    one = ids[0] if agreements is not None and len(ids) == 1 else None
    run = am.SweepRun.objects.create(trigger=trigger, as_of=now, agreement_id=one)
    if trigger in (am.BEAT, am.REPORTS) and incremental():
        # The pending changes name what changed (the triggers wrote them with the change), so a
        # re-evaluation queued for some reports is the periodic sweep, run at once.
        scope = DUE
        absorb_pending(now)
    elif changes is not None:
        scope = CHANGED
    else:
        scope = EVERY
        if incremental():
            # What changed up to now is marked first: the marks this sweep's judgement answers are
            # cleared with it, and for the nightly check only what the incremental path would have
            # left alone counts as drift.
            absorb_pending(now)
    totals, drifted = Counter(commitments_evaluated=0, transitions=0, alerts_queued=0), []
    # Agreements that share parties read the same reports: judging everything or what is due in several,
    # read once for them.
    for group in (sharing(ids) if scope in (EVERY, DUE) else [[agreement_id] for agreement_id in ids]):
        with transaction.atomic():
            # Locks taken in one order (ids ascending) by every sweep holding several: none waits on another.
            held = [a for a in sorted(group) if _take(a, wait)]
            if not held:
                continue
            since = watermark()
            shared = None
            if len(held) > 1:
                shared = _Shared.read(now, held) if scope == EVERY else _Shared.read_due(now, held)
            for agreement_id in held:
                result = _sweep(now, run, agreement_id, scope, changes, check=trigger == am.CHECK, since=since,
                                shared=shared)
                drifted += result.pop("drifted")
                totals.update(result)
    if drifted:
        log.warning("The nightly check found %d commitments whose stored state had drifted: %s",
                    len(drifted), drifted[:100])
    am.SweepRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(), drift=len(drifted), drifted=drifted[:100], **totals
    )
    run.refresh_from_db()
    if scope == DUE and agreements is not None and not any(totals.values()) and not drifted:
        # An agreement's quiet minute leaves no row: a hundred agreements would write 144,000 a day.
        # Beat's tick is recorded once, by the task that fans the sweeps out (monitor.alerts.tasks.sweep).
        am.SweepRun.objects.filter(pk=run.pk).delete()
    if totals["alerts_queued"]:
        from monitor.alerts.tasks import send_alerts

        transaction.on_commit(lambda: _enqueue(send_alerts))
    return run


def absorb_pending(now, batch=500):
    """Turn the pending changes the triggers wrote into due marks on the commitments they can affect.

    Each batch in one transaction: the rows are locked (SKIP LOCKED: two sweeps starting at once
    share the work, neither waits for the other), the commitments they can affect marked due as of
    `now`, the rows deleted. A crash in between rolls back both: nothing is marked twice or lost.
    """
    while True:
        with transaction.atomic():
            rows = list(am.PendingChange.objects.select_for_update(skip_locked=True).order_by("id")[:batch])
            if not rows:
                return
            _mark_due(_affected_by(rows, now))
            am.PendingChange.objects.filter(id__in=[r.id for r in rows]).delete()
        if len(rows) < batch:
            return


def _affected_by(rows, now):
    """The ids of the commitments in force some pending changes can affect (None: every one)."""
    if any(r.scope == am.PENDING_EVERYTHING for r in rows):
        return None
    chosen = {i for r in rows if r.scope == am.PENDING_COMMITMENTS for i in _ids_of(r)}
    reports = [r for r in rows if r.scope == am.PENDING_REPORTS]
    if reports:
        description = {"ids": [i for r in reports if r.ids is not None for i in r.ids],
                       "ranges": [[r.first_id, r.last_id] for r in reports if r.ids is None]}
        if not description["ranges"]:
            del description["ranges"]
        changed = inputs.changes_for(description)
        touched = _could_be_touched(changed) if changed else None
        if touched:
            agreements = Agreement.objects.filter(id__in=touched)
            terms = inputs.terms_for(list(inputs.commitments_for(agreements, parties=False)))
            standing = _standing(terms, changed, now)
            chosen |= engine.affected(terms, changed, as_of=now, standing=standing) | _silent(terms, changed)
    return chosen


def _could_be_touched(changed):
    """The agreements in force with a commitment some of these changed reports may touch (one query): a superset.

    One whose rule, or the rule of the milestone it counts from, takes any category, or one a changed report
    carries (before or after its change), or that a changed report is linked to by hand. Its Terms are then
    built and asked (`engine.affected`, `_silent`): building them for every commitment in force, to find that
    a report in a category no rule names touches none, was what such a re-evaluation cost, and it grew with
    the commitments (anchors are within an agreement, so its other commitments come along).
    """
    categories = {normalize_name(c) for ch in changed for c in (ch.category, ch.sub_category) if c}
    linked = {ch.commitment_id for ch in changed if ch.commitment_id is not None}
    chosen = set()
    rows = Commitment.objects.filter(agreement__state=IN_FORCE).values_list(
        "agreement_id", "id", "rule", "anchor_milestone_id", "anchor_milestone__rule")
    for agreement_id, pk, rule, milestone_id, milestone_rule in rows:
        if agreement_id in chosen:
            continue
        rules = [rule] if milestone_id is None else [rule, milestone_rule]
        named = [(r or {}).get("categories") or () for r in rules]
        if pk in linked or any(not names or categories & {normalize_name(c) for c in names} for names in named):
            chosen.add(agreement_id)
    return chosen


def _ids_of(row):
    return row.ids if row.ids is not None else range(row.first_id, row.last_id + 1)


# The due instant of a commitment a change marked: long past, so that it is due to any sweep, whatever
# its clock (marks and sweeps come from different processes, and their `now`s from different clocks).
MARKED = datetime(1970, 1, 1, tzinfo=UTC)


def _mark_due(ids):
    """Mark commitments due (None: every one in force), stamped with the database's clock.

    An upsert, not an update: a commitment being judged for the first time has no row yet, and the
    sweep judging it may have read its evidence before this change committed; the mark must outlive
    the row that sweep is about to insert (it waits on the mark's row, then keeps the mark:
    `_store_next_checks`). `marked_at` only moves forward.
    """
    if ids is not None and not ids:
        return
    table = connection.ops.quote_name(am.NextCheck._meta.db_table)
    commitments = connection.ops.quote_name(Commitment._meta.db_table)
    agreements = connection.ops.quote_name(Agreement._meta.db_table)
    if ids is None:
        chosen, params = f"c.agreement_id IN (SELECT id FROM {agreements} WHERE state = %s)", [IN_FORCE]
    else:
        chosen, params = "c.id = ANY(%s)", [sorted(ids)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS n (commitment_id, due_at, judged_at, marked_at, method_version) "
            f"SELECT c.id, %s, %s, clock_timestamp(), '' FROM {commitments} c WHERE {chosen} "
            "ON CONFLICT (commitment_id) DO UPDATE SET due_at = EXCLUDED.due_at, "
            "marked_at = GREATEST(n.marked_at, EXCLUDED.marked_at)",
            [MARKED, MARKED, *params],
        )


def watermark():
    """The database's clock as a sweep starts reading: a mark made from then on may be news to it."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def _due(agreement_ids, now):
    """{agreement id: the ids of its commitments a periodic sweep judges now}, in two indexed queries."""
    stale = Q(due_at__lte=now) | ~Q(method_version=fingerprint())
    due = {agreement_id: set() for agreement_id in agreement_ids}
    for pk, agreement_id in (am.NextCheck.objects.filter(stale, commitment__agreement__in=list(due))
                             .values_list("commitment_id", "commitment__agreement_id")):
        due[agreement_id].add(pk)
    for pk, agreement_id in (Commitment.objects.filter(agreement__in=list(due), next_check__isnull=True)
                             .values_list("id", "agreement_id")):
        due[agreement_id].add(pk)
    return due


def owed_sweeps(agreement_ids, now):
    """The agreements among these whose periodic sweep has something to do now, in four queries whatever their
    number (beat's tick sends sweeps to these only: `monitor.alerts.tasks.sweep`).

    What `_sweep` does when its scope is what is due: judge the commitments due or never judged (`_due`),
    send today's digest where it is owed (`_digests_owed`), and pause a webhook failing too long. The
    pending changes must have been absorbed first (`absorb_pending`): their marks are due commitments.
    """
    ids = list(agreement_ids)
    owed = {agreement_id for agreement_id, due in _due(ids, now).items() if due} | _digests_owed(ids, now)
    if settings.MONITOR_WEBHOOK_PAUSE_AFTER_HOURS:
        failing_since = now - timedelta(hours=settings.MONITOR_WEBHOOK_PAUSE_AFTER_HOURS)
        owed.update(am.Webhook.objects.filter(agreement__in=ids, paused_at__isnull=True,
                                              failing_since__lte=failing_since)
                    .values_list("agreement_id", flat=True).distinct())
    return [a for a in ids if a in owed]


def _digests_owed(agreement_ids, now):
    """The agreements among these whose digest for today is still owed (past the hour, someone wants it, none
    sent yet), in one query."""
    if now.hour < settings.MONITOR_DIGEST_HOUR_UTC:
        return frozenset()
    return frozenset(
        am.Subscription.objects.filter(
            agreement__in=list(agreement_ids), delivery__in=[am.DIGEST_INSTEAD, am.EACH_AND_DIGEST],
            confirmed_at__isnull=False, unsubscribed_at__isnull=True, suspended_at__isnull=True,
        ).exclude(agreement__in=am.DigestDay.objects.filter(day=now.date()).values("agreement"))
        .values_list("agreement_id", flat=True).distinct()
    )


def _enqueue(task):
    try:
        task.delay()
    except Exception:  # broker down: beat's periodic send picks the rows up
        log.warning("Could not queue %s; the periodic task will.", task.name)


# --- Timed sweeps -------------------------------------------------------------------------------------


def schedule_timed_sweeps(earliest):
    """Queue a sweep of each agreement at its earliest next check, when that comes before beat's next tick.

    `earliest`: {agreement id: the earliest instant one of its commitments must be judged again}. A
    deadline passing would otherwise wait for the periodic sweep (up to MONITOR_SWEEP_INTERVAL_SECONDS);
    a sweep of that one agreement, sent with that instant as its ETA, judges it as it passes. One task per
    agreement and instant: the periodic tick and every sweep of the agreement look ahead again, and a
    key in the shared cache (set once, atomically) lets only the first of them send it. The instant must
    be in the real future (a sweep "as of" long ago, the benchmarks' or the tests', stores instants
    already past: nothing is sent for them) and within two intervals of now (beyond, a later tick
    sends it; Redis redelivers a message not acknowledged within its visibility timeout, an hour, so
    no ETA may be far ahead).

    Nothing here is needed for correctness: a timed sweep is an ordinary periodic sweep of one
    agreement (its lock, its next checks, the outbox's keys), run early or twice it records nothing
    twice, and if it is never sent (the broker or the cache down) the periodic sweep still judges the
    commitment at the next tick. Sent when the transaction that stored the next checks commits.
    """
    real_now = timezone.now()
    horizon = real_now + timedelta(seconds=2 * settings.MONITOR_SWEEP_INTERVAL_SECONDS)
    due = {pk: at for pk, at in earliest.items() if at is not None and real_now < at <= horizon}
    if due:
        transaction.on_commit(lambda: _send_timed(due))


def _send_timed(due):
    from django.core.cache import cache

    from monitor.alerts.tasks import sweep_agreement

    for agreement_id, at in due.items():
        try:
            # Kept until the instant has passed and a little more: the task's own sweep, which may
            # store the same instant again (a verdict that changes only just after it), sends none.
            key = f"monitor:timed-sweep:a{agreement_id}:{at.timestamp()}"
            if not cache.add(key, 1, timeout=max(0, int((at - timezone.now()).total_seconds())) + 60):
                continue
            sweep_agreement.apply_async((agreement_id,), {"timed": True}, eta=at)
        except Exception:  # the cache or the broker down: the periodic sweep judges it at its next tick
            log.warning("Could not schedule the sweep of agreement %s at %s; the periodic sweep will.",
                        agreement_id, at)


def earliest_next_checks(agreement_ids, until):
    """{agreement id: its earliest next check before `until`}, in one query (beat's tick looks ahead with it)."""
    rows = (
        am.NextCheck.objects.filter(commitment__agreement__in=agreement_ids, due_at__gt=timezone.now(),
                                    due_at__lte=until)
        .values("commitment__agreement").annotate(earliest=Min("due_at")).values_list("commitment__agreement",
                                                                                      "earliest")
    )
    return dict(rows)


# At most this many agreements judged on one read of the reports: what one holds in memory is bounded
# by a group's reports, not by every conflict's.
MAX_SHARING = 25


def sharing(agreement_ids):
    """The agreements in groups that owe by the same parties (one query), in the order given within each.

    Agreements of one conflict name the same parties, so their rules read the same reports
    (`inputs.names_read`): judging them all, one read serves the group (`_Shared`). Agreements
    sharing no party are groups of their own; a group stops at MAX_SHARING agreements.
    """
    parties = defaultdict(set)
    for agreement_id, party_id in Agreement.parties.through.objects.filter(
        agreement_id__in=agreement_ids
    ).values_list("agreement_id", "party_id"):
        parties[agreement_id].add(party_id)
    groups, by_party = [], {}
    for agreement_id in agreement_ids:
        group = next((by_party[p] for p in parties[agreement_id] if p in by_party
                      and len(by_party[p]) < MAX_SHARING), None)
        if group is None:
            group = []
            groups.append(group)
        group.append(agreement_id)
        for p in parties[agreement_id]:
            if p not in by_party or len(by_party[p]) >= MAX_SHARING:
                by_party[p] = group
    return groups


class _Shared:
    """The reports some agreements' commitments can count, read, weighed and filed once for their sweeps.

    Read under all their locks, after the watermark, as each agreement's own read would be: the
    index holds a superset of what each agreement's rules read, and a superset judges the same.
    """

    def __init__(self, rows, index, coverage, due=None, digests=frozenset()):
        self.rows, self.index, self.coverage = rows, index, coverage
        # Judging what is due: each agreement's due commitments and those owing today's digest, as chosen
        # for this read (a mark made since is judged by the next sweep: it was made after the watermark).
        self.due, self.digests = due, digests

    @classmethod
    def read(cls, now, agreement_ids):
        agreements = Agreement.objects.filter(state=IN_FORCE, id__in=agreement_ids)
        terms = inputs.terms_for(list(inputs.commitments_for(agreements, parties=False)))
        rows = inputs.evidence_for(terms, now)
        return cls(rows, engine.EvidenceIndex(rows, now), engine.CoverageIndex(inputs.coverage_for(now), now))

    @classmethod
    def read_due(cls, now, agreement_ids):
        """What these agreements' periodic sweeps judge, read once: the commitments due (`_due`), every one of an
        agreement owing today's digest, and what they are counted from (no report read when nothing is)."""
        due, digests = _due(agreement_ids, now), _digests_owed(agreement_ids, now)
        if not digests and not any(due.values()):
            return cls(None, None, None, due, digests)
        agreements = Agreement.objects.filter(state=IN_FORCE, id__in=agreement_ids)
        commitments = list(inputs.commitments_for(agreements, parties=False))
        terms = inputs.terms_for(commitments)
        chosen = set().union(*due.values()) | {c.id for c in commitments if c.agreement_id in digests}
        needed = engine.anchors_of(terms, chosen)
        rows = inputs.evidence_for([t for t in terms if t.id in needed], now)
        return cls(rows, engine.EvidenceIndex(rows, now), engine.CoverageIndex(inputs.coverage_for(now), now),
                   due, digests)


def _sweep(now, run, agreement_id, scope, changes=None, check=False, since=None, shared=None):
    if shared is not None and shared.due is not None:
        digests = agreement_id in shared.digests
    else:
        digests = scope != CHANGED and agreement_id in _digests_owed([agreement_id], now)
    if digests:
        scope = EVERY  # the digest lists every commitment: judged all, once a day
    settled = set()
    if scope == DUE:
        chosen = (shared.due if shared is not None else _due([agreement_id], now))[agreement_id]
        if not chosen:
            # Nothing to judge, but what the clock owes that is no commitment's: a webhook failing
            # too long is paused and its owner told (two queries when the agreement has webhooks).
            agreements = {a.id: a for a in Agreement.objects.filter(state=IN_FORCE, id=agreement_id)}
            queued = _insert_missing(webhooks.owed(now, [], {}, {}, set(), agreements), run, now)
            return {"commitments_evaluated": 0, "transitions": 0, "alerts_queued": queued, "drifted": []}
    elif check and incremental():
        # Held settled: judged under this method, not due, and no change marked since.
        settled = set(
            am.NextCheck.objects.filter(commitment__agreement=agreement_id, method_version=fingerprint())
            .filter(Q(due_at__isnull=True) | Q(due_at__gt=now))
            .values_list("commitment_id", flat=True)
        )
    agreements = {a.id: a for a in Agreement.objects.filter(state=IN_FORCE, id=agreement_id)}
    commitments = list(inputs.commitments_for(agreements.values(), parties=False))
    terms = inputs.terms_for(commitments)
    if scope == CHANGED:
        # Read after taking the lock, like everything else: the reports as they are now.
        changed = inputs.changes_for(changes)
        standing = _standing(terms, changed, now)
        chosen = engine.affected(terms, changed, as_of=now, standing=standing) | _silent(terms, changed)
    if scope != EVERY:
        needed = engine.anchors_of(terms, chosen)  # an anchored commitment is judged from its anchor's verdict
        commitments = [c for c in commitments if c.id in chosen]
        terms = [t for t in terms if t.id in needed]
    # Weighed and filed once for this cutoff, whatever the number of instants judged below (and, sweeping
    # several agreements sharing parties, once for them).
    if shared is not None:
        rows, evidence, coverage = shared.rows, shared.index, shared.coverage
    else:
        rows = inputs.evidence_for(terms, now)
        evidence = engine.EvidenceIndex(rows, now)
        coverage = engine.CoverageIndex(inputs.coverage_for(now), now)
    # Which categories some source reports: "in compliance" on silence no source could break is "no data".
    terms = inputs.with_reported(terms, rows, inputs.declared_categories(), now)

    def evaluate(as_of, commitment_id=None):
        """Every commitment in scope, or one with what it is counted from."""
        if commitment_id is None:
            chosen = terms
        else:
            needed = engine.anchors_of(terms, [commitment_id])
            chosen = [t for t in terms if t.id in needed]
        # No details: transitions and alerts carry the status, its reason and evidence, not the charts' series.
        return engine.evaluate_agreement(
            chosen, evidence, as_of=as_of, known_at=now, coverage=coverage,
            due_soon_days=settings.MONITOR_DUE_SOON_DAYS, details=False,
        )

    verdicts = evaluate(now)
    ids = [c.id for c in commitments]
    assessments = inputs.latest_assessments(ids, now)
    latest = latest_changes(ids)

    new_changes = []
    for c in commitments:
        verdict, previous = verdicts[c.id], latest.get(c.id)
        if previous is not None and previous.new_status == verdict.status:
            continue
        # Dated at the instant the rule says, even when that is before the change it follows (a
        # rejected late act: missed again from the deadline, not from the act). The current status
        # is the last change detected, not the one latest in effect; what the status was as of a
        # past instant is the engine's answer, never a read of this history by effective instant.
        effective_at = verdict.since or now
        kind = COMPUTED
        if previous is not None and previous.new_status in S.ADVERSE:
            # Withdrawn, or recovered from? Judged again as of the instant it took effect, with what
            # we know now: if it would not have happened, the earlier verdict was wrong.
            if evaluate(previous.effective_at, c.id)[c.id].status != previous.new_status:
                kind = CORRECTION
        new_changes.append(
            StatusChange(
                commitment=c, previous=previous, kind=kind, old_status=previous.new_status if previous else "",
                new_status=verdict.status, effective_at=effective_at, detected_at=now,
                reason_code=verdict.reason.code, reason_params=verdict.reason.params,
            )
        )
    # Several parties owing `each`: each party's verdict has its own chain of changes, so one party's
    # miss and another's are two transitions (and two alerts), never one taken for a repeat of the other.
    latest_party = latest_party_changes(ids)
    party_changes, party_evidence = [], []
    for c in commitments:
        for pv in verdicts[c.id].parties:
            previous = latest_party.get((c.id, pv.party_id))
            if previous is not None and previous.new_status == pv.status:
                continue
            kind = COMPUTED
            if previous is not None and previous.new_status in S.ADVERSE:
                then = evaluate(previous.effective_at, c.id)[c.id]
                was = next((p.status for p in then.parties if p.party_id == pv.party_id), then.status)
                if was != previous.new_status:
                    kind = CORRECTION
            party_changes.append(
                StatusChange(
                    commitment=c, party_id=pv.party_id, previous=previous, kind=kind,
                    old_status=previous.new_status if previous else "", new_status=pv.status,
                    effective_at=pv.since or now, detected_at=now, reason_code=pv.reason.code,
                    reason_params=pv.reason.params,
                )
            )
            party_evidence.append(pv.evidence)
    StatusChange.objects.bulk_create(new_changes + party_changes)
    _link_evidence(chain(
        ((change.id, report_id) for change in new_changes for report_id in verdicts[change.commitment_id].evidence),
        ((change.id, report_id) for change, ids_ in zip(party_changes, party_evidence) for report_id in ids_),
    ))
    for change in new_changes:
        latest[change.commitment_id] = change
    for change in party_changes:
        latest_party[(change.commitment_id, change.party_id)] = change

    standings = {
        c.id: inputs.Standing(c, verdicts[c.id], assessments.get(c.id)) for c in commitments
    }
    withdrawn = {ch.previous_id for ch in [*latest.values(), *latest_party.values()] if ch.kind == CORRECTION}
    # An analyst overriding an adverse verdict withdraws it too, and its parties' adverse verdicts with it.
    overridden = set()
    for c in commitments:
        change, standing = latest[c.id], standings[c.id]
        if change.new_status in S.ADVERSE and standing.assessed and standing.status not in S.ADVERSE:
            withdrawn.add(change.id)
            overridden.add(c.id)
    withdrawn.update(
        ch.id for (cid, _), ch in latest_party.items() if cid in overridden and ch.new_status in S.ADVERSE
    )

    subscriptions = list(
        am.Subscription.objects.filter(agreement__in=agreements.keys())
        .filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True, suspended_at__isnull=True)
        .select_related("user")
    )
    # A commitment under review (needs_review, and no assessment covering its verdict) raises no alert
    # of any kind: its transitions are recorded, and the latest is owed (once, by its key) at the first
    # sweep after an analyst settles it (docs/architecture.md, "Verdicts that claim no more than the evidence").
    alerting = [c for c in commitments if not under_review(standings[c.id])]
    owed = _owed_alerts(now, alerting, standings, latest, withdrawn, subscriptions, agreements,
                        latest_party=latest_party)
    owed += _corrections(now, withdrawn, standings)
    owed += escalation.owed(now, alerting, standings, latest, agreements)
    owed += webhooks.owed(now, alerting, standings, latest, withdrawn, agreements)
    queued = _insert_missing(owed, run, now)
    if digests:
        # After the alerts above are stored: a digest lists the changes held for it, this sweep's too.
        queued += _insert_missing(_digests(now, alerting, standings, subscriptions, agreements), run, now)
        am.DigestDay.objects.create(agreement_id=agreement_id, day=now.date())
    _store_next_checks(now, commitments, standings, latest, agreements, subscriptions, since)
    drifted = sorted({ch.commitment_id for ch in new_changes + party_changes if ch.commitment_id in settled})
    return {"commitments_evaluated": len(commitments), "transitions": len(new_changes), "alerts_queued": queued,
            "drifted": drifted}


def next_check(now, commitment, standing, latest, agreement, reminder_days, digest_at):
    """When this commitment must be judged again though nothing changes: the engine's instant, or sooner.

    Sooner for what a sweep owes by the clock besides transitions: the next reminder before a due
    date (any subscriber's), the escalation of an adverse verdict left unassessed, the next digest.
    """
    verdict = standing.computed
    candidates = [verdict.next_check, digest_at]
    if verdict.status in (S.NOT_YET_DUE, S.DUE_SOON) and verdict.due_at is not None:
        candidates += [verdict.due_at - timedelta(days=d) for d in reminder_days]
    change = latest.get(commitment.id)
    if change is not None and change.new_status in escalation.ESCALATED and agreement.escalate_after_hours:
        candidates.append(change.detected_at + timedelta(hours=agreement.escalate_after_hours))
    later = [c for c in candidates if c is not None and c > now]
    return min(later, default=None)


def _store_next_checks(now, commitments, standings, latest, agreements, subscriptions, since):
    """Write each judged commitment's next check, in one statement.

    A commitment a change marked at or after `since` (the database's clock when this sweep began to
    read: another change came in while it judged, with evidence it may not have read) keeps its
    mark and is judged again. A mark made before `since` was of a change committed before this
    sweep read anything: answered, and cleared.
    """
    if not commitments:
        return
    reminder_days = defaultdict(set)
    digest_wanted = set()
    for sub in subscriptions:
        reminder_days[sub.agreement_id].update(sub.reminder_days or ())
        if sub.wants_digest:
            digest_wanted.add(sub.agreement_id)
    digest_hour = datetime.combine(now.date(), time(settings.MONITOR_DIGEST_HOUR_UTC), tzinfo=now.tzinfo)
    next_digest = digest_hour if digest_hour > now else digest_hour + timedelta(days=1)
    rows = []
    for c in commitments:
        agreement = agreements[c.agreement_id]
        digest_at = next_digest if c.agreement_id in digest_wanted else None
        rows.append((c.id, next_check(now, c, standings[c.id], latest, agreement,
                                      reminder_days[c.agreement_id], digest_at)))
    version = fingerprint()
    schedule_timed_sweeps({commitments[0].agreement_id: min((due for _, due in rows if due is not None), default=None)})
    if connection.vendor != "postgresql":
        am.NextCheck.objects.bulk_create(
            [am.NextCheck(commitment_id=cid, due_at=due, judged_at=now, method_version=version) for cid, due in rows],
            update_conflicts=True, unique_fields=["commitment"], update_fields=["due_at", "judged_at", "method_version"],
        )
        return
    table = connection.ops.quote_name(am.NextCheck._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS n (commitment_id, due_at, judged_at, method_version, marked_at) "
            "SELECT c, d, %s, %s, NULL FROM unnest(%s::bigint[], %s::timestamptz[]) AS t(c, d) "
            "ON CONFLICT (commitment_id) DO UPDATE SET "
            "due_at = CASE WHEN n.marked_at >= %s THEN n.due_at ELSE EXCLUDED.due_at END, "
            "marked_at = CASE WHEN n.marked_at >= %s THEN n.marked_at END, "
            "judged_at = EXCLUDED.judged_at, method_version = EXCLUDED.method_version",
            [now, version, [cid for cid, _ in rows], [due for _, due in rows], since, since],
        )


def _link_evidence(links, batch=100_000):
    """The reports each new status change relied on: (status change id, report id) pairs, an iterable.

    On PostgreSQL one INSERT of two arrays per `batch` pairs: a first sweep links hundreds of
    thousands of reports (every violation of a breach), and Django's bulk_create builds a model
    instance and a row of placeholders for each. In batches, so that the pairs and their arrays are
    never all in memory at once (docs/performance.md, "A full sweep's peak memory").
    """
    links = iter(links)
    through = StatusChange.evidence.through
    while chunk := list(islice(links, batch)):
        if connection.vendor != "postgresql":
            through.objects.bulk_create(
                [through(statuschange_id=change, report_id=report) for change, report in chunk], ignore_conflicts=True
            )
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(through._meta.db_table)} (statuschange_id, report_id) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                [[change for change, _ in chunk], [report for _, report in chunk]],
            )


def _recipients(commitment, subscriptions_by_agreement):
    """Active subscriptions covering a commitment, one per address (a commitment-level one wins)."""
    chosen = {}
    for sub in subscriptions_by_agreement.get(commitment.agreement_id, ()):
        if sub.commitment_id not in (None, commitment.id) or not sub.address:
            continue
        if sub.address not in chosen or sub.commitment_id == commitment.id:
            chosen[sub.address] = sub
    return chosen.values()


def _event_for(change):
    if change.new_status in ADVERSE_EVENTS:
        return ADVERSE_EVENTS[change.new_status]
    return RECOVERY_EVENTS.get((change.old_status, change.new_status))


def _owed_alerts(now, commitments, standings, latest, withdrawn, subscriptions, agreements, latest_party=None):
    """Every alert owed now, as (key, builder) pairs; builders render only the missing ones.

    A commitment judged per party (several parties owe it `each`) alerts per party: each party's
    latest change, naming the party, rather than the commitment's own, which would say again what
    the first party's alert said and nothing when a second party misses.

    Each subscriber gets the events they chose (Subscription.events); one who chose a daily digest
    instead of each alert gets the same alert, with the same key, held for their next digest.
    """
    by_agreement = defaultdict(list)
    for sub in subscriptions:
        by_agreement[sub.agreement_id].append(sub)
    history_cutoff = timedelta(days=settings.MONITOR_HISTORY_DAYS)
    by_commitment = defaultdict(list)
    for (commitment_id, _), change in (latest_party or {}).items():
        by_commitment[commitment_id].append(change)
    owed = []
    for c in commitments:
        standing = standings[c.id]
        agreement = agreements[c.agreement_id]
        recipients = list(_recipients(c, by_agreement))
        if standing.computed.parties:
            names = {p.party_id: p.name for p in standing.computed.parties}
            changes = [(ch, names.get(ch.party_id)) for ch in by_commitment[c.id] if ch.party_id in names]
        else:
            changes = [(latest[c.id], None)]
        for change, party in changes:
            event = _event_for(change)
            if change.kind == CORRECTION:
                event = None  # the adverse verdict was withdrawn: its recipients get a correction instead
            elif change.id in withdrawn:
                # An analyst overrode it before its alert was owed (often in this very sweep, which
                # records the change): an alert queued now would only be cancelled, or corrected, later.
                event = None
            if not event:
                continue
            historical = change.detected_at - change.effective_at > history_cutoff
            for sub in recipients:
                if sub.confirmed_at > change.detected_at:
                    continue  # subscribed after it happened: not news to them
                if not sub.wants(event):
                    continue  # a kind of event they did not ask for
                # Outside subscribers hear only of verdicts an analyst assessed, unless the agreement
                # publishes computed ones; staff hear of provisional ones at once. A party's verdict is
                # part of the commitment's: published with it.
                public_ok = agreement.publish_computed_verdicts or (
                    standing.assessed and (party is not None or standing.status == change.new_status)
                )
                if not (sub.is_staff or public_ok):
                    continue
                alert = messages.TransitionAlert(None, event, sub, c, change, standing, historical, party=party)
                alert.held = not sub.wants_each_alert
                owed.append((transition_key(c.id, event, change, sub.address), alert))
        owed += _reminders(now, c, standing, recipients)
    return owed


def transition_key(commitment_id, event, change, address):
    """One alert per (commitment, status change, recipient): per episode and what was said.

    Keyed on the change, not on the instant it took effect: a status withdrawn and then restored
    (missed, not missed after all, missed again) is dated at the same deadline each time, and each
    change must reach whoever was told the opposite. Two sweeps can never record the same change
    twice (StatusChange.previous is one-to-one), so its id is as stable as the instant was.
    """
    if change.party_id is not None:
        # One owing party's change (several owe it `each`): the party in the key, so its alert is never
        # taken for another party's; a commitment's own changes keep the keys they always had.
        return f"c{commitment_id}:p{change.party_id}:{event}:sc{change.id}:{address}"
    return f"c{commitment_id}:{event}:sc{change.id}:{address}"


def _reminders(now, commitment, standing, recipients):
    verdict = standing.computed
    if verdict.status not in (S.NOT_YET_DUE, S.DUE_SOON) or verdict.due_at is None or now >= verdict.due_at:
        return []
    owed = []
    # Reminders are emails of their own: a subscriber who chose a digest instead finds the coming
    # week's deadlines in it, and one who did not choose reminders gets none.
    for sub in (sub for sub in recipients if sub.wants(am.REMINDER) and sub.wants_each_alert):
        passed = [d for d in sub.reminder_days if verdict.due_at - timedelta(days=d) <= now]
        if passed:
            # Only the most urgent reminder that is due: someone subscribing two days before a
            # deadline gets the one-day reminder later, not a stale seven-day one now.
            days = min(passed)
            key = f"c{commitment.id}:reminder:{verdict.due_at.isoformat()}:{days}:{sub.address}"
            owed.append((key, messages.Reminder(key, sub, commitment, standing, days)))
    return owed


def _digests(now, commitments, standings, subscriptions, agreements):
    """Today's digest for each address that asked for one and has not had it, once the digest hour has come.

    It lists the breaches going on and the deadlines of the coming week, and, for a subscriber who
    chose it instead of each alert, the changes held for it (HELD), which it then folds: each is in
    exactly one digest. Three queries, whatever the number of subscribers.
    """
    if now.hour < settings.MONITOR_DIGEST_HOUR_UTC:
        return []
    by_address = {}
    for sub in subscriptions:
        if sub.wants_digest:
            by_address.setdefault(sub.address, []).append(sub)
    # Per agreement: each agreement's sweep owes its own digest (sweeps are per agreement).
    key_of = {address: f"digest:{now.date().isoformat()}:a{subs[0].agreement_id}:{address}"
              for address, subs in by_address.items()}
    sent = set(am.Alert.objects.filter(key__in=key_of.values()).values_list("key", flat=True))
    by_address = {address: subs for address, subs in by_address.items() if key_of[address] not in sent}
    held = defaultdict(list)
    for alert in (
        am.Alert.objects.filter(state=am.HELD, to_email__in=by_address.keys(), commitment__agreement__in=agreements)
        .select_related("commitment__agreement", "status_change__party")
        .order_by("status_change__detected_at", "id")
    ):
        held[alert.to_email].append(alert)
    week = now + timedelta(days=7)
    owed = []
    for address, subs in by_address.items():
        lines = []
        for c in commitments:
            if not any(sub.agreement_id == c.agreement_id and sub.commitment_id in (None, c.id) for sub in subs):
                continue
            standing = standings[c.id]
            published = subs[0].is_staff or agreements[c.agreement_id].publish_computed_verdicts or standing.assessed
            due = standing.computed.due_at
            if published and standing.status == S.BREACHED:
                lines.append(standing)
            elif standing.computed.status in (S.NOT_YET_DUE, S.DUE_SOON) and due and now <= due <= week:
                lines.append(standing)
        if lines or held[address]:
            owed.append((key_of[address], messages.Digest(key_of[address], subs[0], lines, held[address])))
    # Folded as their digest is written, in this transaction: listed once, and never in a later digest.
    am.Alert.objects.filter(id__in=[a.id for _key, d in owed for a in d.changes]).update(state=am.FOLDED)
    return owed


def _corrections(now, withdrawn, standings):
    if not withdrawn:
        return []
    # Alerts not yet sent (nor being sent), or held for a digest not yet sent, are simply cancelled: a
    # correction of an email nobody got would only confuse. The conditional update loses to a sender
    # that claimed the row first.
    am.Alert.objects.filter(status_change__in=withdrawn, state__in=[am.PENDING, am.HELD]).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ).update(state=am.CANCELLED)
    owed = []
    # Emails only: a webhook's deliveries are corrected by monitor.alerts.webhooks, as JSON.
    originals = am.Alert.objects.filter(
        status_change__in=withdrawn, corrects__isnull=True, webhook__isnull=True
    ).exclude(state=am.CANCELLED).exclude(event__in=[am.SUMMARY, am.CORRECTION])
    for original in originals.select_related("subscription__user", "commitment__agreement", "status_change"):
        key = f"{original.key}:correction"
        standing = standings.get(original.commitment_id)
        owed.append((key, messages.Correction(key, original, standing)))
    return owed


def _say_what_they_correct(builders):
    """Mark each new transition alert that contradicts what its recipient was last told.

    A recipient's last word on a commitment is the last alert they got (or will get) about it: a
    transition or a correction, sent, being sent or folded into a summary. A new transition dated at
    or before the change behind that word rewrites it (missed again after "not missed", missed after
    "met late" once the late act was rejected): it goes out as a correction of that alert. Two
    queries, for the new alerts only.
    """
    transitions = [b for b in builders if isinstance(b, messages.TransitionAlert)]
    if not transitions:
        return
    commitment_ids = {b.commitment.id for b in transitions}
    addresses = {b.to_email for b in transitions}
    said = am.Alert.objects.filter(
        commitment__in=commitment_ids, to_email__in=addresses, status_change__isnull=False,
        event__in=[*ADVERSE_EVENTS.values(), *RECOVERY_EVENTS.values(), am.CORRECTION],
        state__in=[am.PENDING, am.SENT, am.FOLDED, am.HELD],
    )
    # A party's word and the commitment's are apart: DPR's miss does not rewrite what Ukraine's said.
    last_ids = said.values("commitment", "to_email", "status_change__party").annotate(last=Max("id")).values("last")
    last_word = {
        (a.commitment_id, a.to_email, a.status_change.party_id): a
        for a in am.Alert.objects.filter(id__in=last_ids).select_related("status_change")
    }
    for builder in transitions:
        word = last_word.get((builder.commitment.id, builder.to_email, builder.change.party_id))
        if word is not None and builder.change.effective_at <= word.status_change.effective_at:
            builder.corrects = word
            # However old the instant, it contradicts what they were told: news, never folded away.
            builder.historical = False


def _insert_missing(owed, run, now):
    """Render and insert the alerts whose keys do not exist yet; returns how many were queued.

    Transitions detected long after they took effect are folded: recorded, never sent on their
    own, and listed in one summary per recipient for this run.
    """
    if not owed:
        return 0
    keys = [key for key, _ in owed]
    existing = set()
    for start in range(0, len(keys), 5000):
        existing.update(am.Alert.objects.filter(key__in=keys[start : start + 5000]).values_list("key", flat=True))
    missing = []
    for key, builder in owed:
        if key not in existing:
            builder.key = key
            missing.append(builder)
    _say_what_they_correct(missing)
    folded = defaultdict(list)
    for builder in missing:
        # Held for a digest, an old change is listed there, not in a summary of its own.
        if getattr(builder, "historical", False) and not getattr(builder, "held", False):
            folded[builder.subscription.address].append(builder)
    missing += [
        messages.Summary(f"summary:{run.id}:{address}", builders[0].subscription, builders)
        for address, builders in folded.items()
    ]
    # ignore_conflicts: an alert inserted since we read the keys (by a sweep that got past the lock,
    # which should not happen, or by a sign-up) stays as it is.
    alerts = [builder.build() for builder in missing]
    for alert in alerts:
        alert.next_attempt_at = now
    seen, unique = set(), []
    for alert in alerts:
        if alert.key not in seen:
            seen.add(alert.key)
            unique.append(alert)
    am.Alert.objects.bulk_create(unique, ignore_conflicts=True, batch_size=1000)
    return sum(1 for a in unique if a.state == am.PENDING)
