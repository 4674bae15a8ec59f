"""`Verdict.next_check`: when a verdict must be judged again, though nothing new is reported (issue 16).

A verdict's status (and each party's) can change with no new evidence: a window opens, a deadline
becomes due soon, passes, is missed; a recovery run completes; a day is added to the share covered;
an anchor's moment comes; a report known now but dated later starts to count. `next_check` is the
earliest instant after `as_of` at which that can happen, or None: never. It may come early (judging
again then finds the same status); it must never come late, or the sweep, judging again only then,
would record a change late. The properties below hold it to that on the reference tests' worlds.
"""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import CoverageIndex, EvidenceIndex, Milestone, evaluate, evaluate_agreement
from terms.rules import Rule
from tests.engine_factories import GOVERNMENT, LOCAL_PRESS, TALIBAN, at, coverage, midnight, report, term
from tests.hypothesis_budget import examples
from tests.test_verdict_reference import worlds

KINDS = ["deadline", "target", "ceiling", "prohibition"]
MICROSECOND = timedelta(microseconds=1)


def statuses(verdicts):
    """What the sweep records of each verdict: its status and its parties' statuses."""
    return {k: (v.status, tuple(p.status for p in v.parties)) for k, v in verdicts.items()}


class Judge:
    """The agreement judged at any instant with the same evidence, as known at the world's one cutoff."""

    def __init__(self, world):
        self.terms, evidence, periods, self.as_of, self.known_at = world
        self.evidence = EvidenceIndex(evidence, self.known_at)
        self.coverage = CoverageIndex(periods, self.known_at)

    def __call__(self, when):
        return evaluate_agreement(self.terms, self.evidence, as_of=when, known_at=self.known_at,
                                  coverage=self.coverage, details=False)


def _between(data, start, end, n):
    """n instants drawn strictly between start and end (none if there is no room)."""
    room = (end - start) // MICROSECOND
    if room < 2:
        return []
    return [start + MICROSECOND * data.draw(st.integers(1, room - 1)) for _ in range(n)]


FAR = [timedelta(days=1), timedelta(days=45), timedelta(days=400), timedelta(days=365 * 30)]


def judged(terms, evidence=(), *, as_of, known_at=None, periods=(), id=1):
    return evaluate_agreement(terms, list(evidence), as_of=as_of, known_at=known_at, coverage=periods)[id]


def _changes_then(terms, evidence, verdict, periods=()):
    """The status just before next_check is the verdict's, and at next_check it is another."""
    nc, known_at = verdict.next_check, verdict.known_at
    k = verdict.commitment_id
    before = judged(terms, evidence, as_of=nc - MICROSECOND, known_at=known_at, periods=periods, id=k)
    then = judged(terms, evidence, as_of=nc, known_at=known_at, periods=periods, id=k)
    assert before.status == verdict.status
    return then.status


# --- Deadlines: a window's instants ------------------------------------------------------------------

DEADLINE = term("deadline", window={"due": 10, "grace_days": 3})  # due 10 March 2020 (Kabul), missed from the 14th


def test_a_deadline_not_yet_due_is_judged_again_when_it_becomes_due_soon():
    v = judged([DEADLINE], as_of=at(2020, 3, 1, 12))

    assert v.status == S.NOT_YET_DUE
    assert v.next_check == midnight(date(2020, 3, 3))  # seven days before the due day
    assert _changes_then([DEADLINE], (), v) == S.DUE_SOON


def test_a_deadline_due_soon_is_judged_again_when_its_due_date_passes():
    v = judged([DEADLINE], as_of=at(2020, 3, 5, 12))

    assert (v.status, v.next_check) == (S.DUE_SOON, midnight(date(2020, 3, 11)))


def test_a_due_deadline_with_no_act_is_judged_again_at_its_missed_instant():
    v = judged([DEADLINE], as_of=at(2020, 3, 12, 9))  # in its grace period

    assert v.status == S.DUE_SOON
    assert v.next_check == midnight(date(2020, 3, 14))
    assert _changes_then([DEADLINE], (), v) == S.MISSED


def test_a_met_deadline_is_never_judged_again_without_new_evidence():
    v = judged([DEADLINE], [report(date(2020, 3, 5))], as_of=at(2020, 3, 6))

    assert (v.status, v.next_check) == (S.MET, None)


def test_a_missed_deadline_is_never_judged_again_without_new_evidence():
    assert judged([DEADLINE], as_of=at(2020, 4, 1)).next_check is None


def test_a_report_known_now_but_dated_later_is_judged_when_its_time_comes():
    # Announced in the morning for the evening: known at as_of, it counts only from 18:00.
    act = report(at(2020, 3, 2, 18), recorded_at=at(2020, 3, 2, 8))
    v = judged([DEADLINE], [act], as_of=at(2020, 3, 2, 12))

    assert v.status == S.NOT_YET_DUE
    assert v.next_check == at(2020, 3, 2, 18)
    assert _changes_then([DEADLINE], [act], v) == S.MET


def test_a_duty_without_a_date_is_judged_again_when_due_soon_and_when_overdue():
    duty = term("deadline", window={"reasonable_days": 10})  # opens 29 Feb, overdue from 11 March
    open_ = judged([duty], as_of=at(2020, 3, 1, 12))
    soon = judged([duty], as_of=at(2020, 3, 5, 12))

    assert open_.next_check == midnight(date(2020, 3, 3))
    assert (soon.status, soon.next_check) == (S.DUE_SOON, midnight(date(2020, 3, 11)))
    assert _changes_then([duty], (), soon) == S.OVERDUE


# --- Targets ---------------------------------------------------------------------------------------


def test_a_target_is_judged_again_when_its_due_date_passes_and_never_once_decided():
    target = term("target", rule={"target": 10, "direction": "at_most"})  # due 30 March
    figure = report(date(2020, 3, 20), value=8.0)
    pending = judged([target], [figure], as_of=at(2020, 3, 25))
    met = judged([target], [figure], as_of=at(2020, 4, 2))

    assert (pending.status, pending.next_check) == (S.DUE_SOON, midnight(date(2020, 3, 31)))
    assert _changes_then([target], [figure], pending) == S.MET
    assert (met.status, met.next_check) == (S.MET, None)


# --- Prohibitions and ceilings: recovery runs and day edges ----------------------------------------


def test_a_breached_prohibition_is_judged_again_when_its_recovery_run_ends():
    ban = term("prohibition", rule={"recovery_days": 3})
    attack = report(at(2020, 3, 5, 10))
    v = judged([ban], [attack], as_of=at(2020, 3, 6, 12))

    assert v.status == S.BREACHED
    assert v.next_check == midnight(date(2020, 3, 9))  # three clean days after the 5th
    assert _changes_then([ban], [attack], v) == S.IN_COMPLIANCE


def test_a_breached_prohibition_without_recovery_is_never_judged_again():
    v = judged([term("prohibition")], [report(at(2020, 3, 5, 10))], as_of=at(2020, 3, 6))

    assert (v.status, v.next_check) == (S.BREACHED, None)


def test_a_prohibition_asking_a_share_of_days_covered_is_judged_again_at_the_next_day_boundary():
    ban = replace(term("prohibition"), coverage_share=80)
    periods = [coverage(date(2020, 2, 29), date(2020, 3, 3))]  # covered for five days, then not
    v = judged([ban], as_of=at(2020, 3, 4, 12), periods=periods)

    assert v.status == S.IN_COMPLIANCE  # 5 of 6 days covered
    # A microsecond into the 5th: at midnight the window has run the days to the 4th; then the 5th counts too.
    assert v.next_check == midnight(date(2020, 3, 5)) + MICROSECOND
    assert judged([ban], as_of=at(2020, 3, 5, 1), periods=periods).status == S.NO_DATA  # 5 of 7
    assert judged([term("prohibition")], as_of=at(2020, 3, 4, 12)).next_check is None  # no share asked


def test_an_open_ceiling_is_judged_again_at_the_next_day_boundary():
    ceiling = term("ceiling", rule={"limit": 0, "recovery_days": 2})
    attack = report(at(2020, 3, 5, 10))
    v = judged([ceiling], [attack], as_of=at(2020, 3, 6, 15), periods=[coverage(date(2020, 1, 1))])

    assert (v.status, v.next_check) == (S.BREACHED, midnight(date(2020, 3, 7)))
    # Breached, it waits for clean days to be complete: from a day's first instant, the next day's.
    at_midnight = judged([ceiling], [attack], as_of=midnight(date(2020, 3, 7)), periods=[coverage(date(2020, 1, 1))])
    assert at_midnight.next_check == midnight(date(2020, 3, 8))


def test_a_ceiling_judged_at_midnight_is_judged_again_a_microsecond_later_when_that_day_begins_to_count():
    ceiling = replace(term("ceiling", rule={"limit": 1}), coverage_share=90)
    periods = [coverage(date(2020, 2, 29), date(2020, 3, 4))]  # covered for five days, then not
    v = judged([ceiling], as_of=midnight(date(2020, 3, 5)), periods=periods)

    assert v.status == S.IN_COMPLIANCE  # the days to the 4th: all five covered
    assert v.next_check == midnight(date(2020, 3, 5)) + MICROSECOND
    assert _changes_then([ceiling], (), v, periods) == S.NO_DATA  # the 5th counts: 5 of 6 covered, short of 90%


def test_a_ceiling_not_open_yet_is_judged_again_when_it_opens_and_never_once_closed():
    ceiling = term("ceiling", rule={"limit": 1}, window={"starts": 5, "ends": 9})  # 5 to 9 March
    before = judged([ceiling], as_of=at(2020, 3, 1))
    closed = judged([ceiling], as_of=at(2020, 3, 20))

    assert (before.status, before.next_check) == (S.NOT_YET_DUE, midnight(date(2020, 3, 5)))
    assert closed.next_check is None


def test_a_ceiling_breached_over_its_whole_window_is_never_judged_again():
    ceiling = term("ceiling", rule={"limit": 0, "period": "window"})
    v = judged([ceiling], [report(at(2020, 3, 5, 10))], as_of=at(2020, 3, 6))

    assert (v.status, v.next_check) == (S.BREACHED, None)


# --- Anchors, parties, what never changes -----------------------------------------------------------


def _anchored(moment, id=2, **window):
    return term("deadline", id=id, window={"anchor": "commitment", "anchor_commitment_id": 1,
                                           "anchor_moment": moment, "due": 5, **window})


def test_a_commitment_awaiting_its_anchor_is_judged_again_when_its_anchor_is():
    dependent = _anchored("met")
    v = evaluate_agreement([DEADLINE, dependent], [], as_of=at(2020, 3, 1, 12))

    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].next_check == v[1].next_check == midnight(date(2020, 3, 3))


def test_a_commitment_counted_from_its_anchors_missed_instant_is_judged_again_then():
    dependent = _anchored("missed", due=20)
    v = evaluate_agreement([DEADLINE, dependent], [], as_of=at(2020, 3, 12))

    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].next_check == midnight(date(2020, 3, 14))
    assert _changes_then([DEADLINE, dependent], (), v[2]) == S.NOT_YET_DUE


def test_a_commitment_counted_from_its_anchor_is_judged_again_by_its_own_window_too():
    ban = term("prohibition")  # opened on 29 February; nothing but a report can move it now
    dependent = _anchored("opens", due=20)  # due 20 March, due soon from the 13th
    v = evaluate_agreement([ban, dependent], [], as_of=at(2020, 3, 1, 12))

    assert (v[1].next_check, v[2].status) == (None, S.NOT_YET_DUE)
    assert v[2].next_check == midnight(date(2020, 3, 13))


def test_a_commitment_counted_from_a_milestone_not_reached_is_judged_when_a_report_known_now_happens():
    milestone = Milestone(id=1, key="m", title="Elections held",
                          rule=Rule(categories=("elections",), attribution="any"))
    window = {"anchor": "milestone", "anchor_milestone_id": 1, "anchor_moment": "reached", "due": 5}
    dependent = replace(term("deadline", {"categories": ["talks_began"]}, id=3, window=window),
                        anchor_milestone=milestone)
    held = report(at(2020, 3, 8, 9), category="elections", recorded_at=at(2020, 3, 1))
    v = judged([dependent], [held], as_of=at(2020, 3, 2), id=3)

    assert (v.status, v.next_check) == (S.AWAITING_ANCHOR, at(2020, 3, 8, 9))
    assert _changes_then([dependent], [held], v) == S.DUE_SOON


def test_a_commitment_shared_each_is_judged_again_when_any_partys_status_can_change():
    shared = term("deadline", window={"due": 10}, owing=(TALIBAN, GOVERNMENT), share="each")
    v = judged([shared], [report(date(2020, 3, 2), actor1="Taliban")], as_of=at(2020, 3, 8))

    assert [p.status for p in v.parties] == [S.MET, S.DUE_SOON]
    assert v.next_check == midnight(date(2020, 3, 11))  # the government's deadline passing


def test_commitments_that_nothing_but_evidence_can_move_are_never_judged_again():
    unsigned = term("deadline", id=1, signed_on=None)
    untracked = term("deadline", id=2, tracked=False)
    v = evaluate_agreement([unsigned, untracked], [report(date(2020, 3, 2))], as_of=at(2020, 3, 1))

    assert (v[1].status, v[1].next_check) == (S.AWAITING_SIGNATURE, None)
    assert (v[2].status, v[2].next_check) == (S.NOT_TRACKED, None)


def test_a_weak_claim_dated_later_is_judged_when_its_time_comes():
    # A claim below the counting grade can make a missed deadline unconfirmed: it counts from its time too.
    claim = report(at(2020, 4, 2, 9), source=LOCAL_PRESS, credibility=3, recorded_at=at(2020, 3, 20))
    v = judged([DEADLINE], [claim], as_of=at(2020, 4, 1))

    assert (v.status, v.next_check) == (S.MISSED, at(2020, 4, 2, 9))


# --- The shortcut is sound: properties on the reference tests' worlds --------------------------------


def check_no_change_before_next_check(world, data):
    terms, evidence, periods, as_of, known_at = world
    judge = Judge(world)
    now = evaluate_agreement(terms, evidence, as_of=as_of, known_at=known_at, coverage=periods)
    assert statuses(now) == statuses(judge(as_of))
    expected = statuses(now)
    for k, v in now.items():
        nc = v.next_check
        assert nc is None or nc > as_of, f"next_check {nc} is not after as_of {as_of}"
        event(f"{v.status}: next_check {'None' if nc is None else 'set'}")
        if nc is None:
            probes = [as_of + MICROSECOND, *(as_of + d for d in FAR)]
            probes += _between(data, as_of, as_of + FAR[-1], 2)
        else:
            probes = [as_of + MICROSECOND, nc - MICROSECOND, *_between(data, as_of, nc, 3)]
        for t in probes:
            if nc is not None and t >= nc:
                continue
            assert statuses(judge(t))[k] == expected[k], (
                f"commitment {k}: {expected[k]} as of {as_of}, next_check {nc}, but {statuses(judge(t))[k]} at {t}\n"
                + _describe(world)
            )
        if nc is not None:
            # At next_check itself nothing is required: it may change, or (judged early) not.
            event("changes at next_check" if statuses(judge(nc))[k] != expected[k] else "same at next_check")
    # `evaluate` alone, sifting the evidence itself, keeps its status until its own next_check too.
    main = terms[0]
    if main.window.anchor == "signing":
        alone = evaluate(main, evidence, as_of=as_of, known_at=known_at, coverage=periods)
        nc = alone.next_check
        for t in [as_of + MICROSECOND, *([nc - MICROSECOND] if nc else [as_of + d for d in FAR])]:
            if nc is None or as_of < t < nc:
                later = evaluate(main, evidence, as_of=t, known_at=known_at, coverage=periods)
                assert (later.status, [p.status for p in later.parties]) == (
                    alone.status, [p.status for p in alone.parties]), f"alone at {t}\n" + _describe(world)


def check_incremental_walk(world, days=40, step=timedelta(hours=6)):
    """Judging each commitment again only at its next_check records what judging at every instant would.

    The incremental path judges at as_of, then each commitment again at its `next_check` (and keeps its
    status in between); the full path judges at every instant of a 6-hour grid and at every instant the
    incremental path judged at. At every one of those instants the two must hold the same statuses, so
    the transitions they record are the same.
    """
    as_of = world[3]
    judge = Judge(world)
    horizon = as_of + timedelta(days=days)
    first = judge(as_of)
    held = {k: (s, first[k].next_check) for k, s in statuses(first).items()}
    checked = [as_of]
    incremental = {k: [(as_of, s)] for k, (s, _) in held.items()}
    grid = [as_of + step * i for i in range(1, int((horizon - as_of) / step) + 1)]
    full_at = {}
    while True:
        due = [nc for _, nc in held.values() if nc is not None and nc <= horizon]
        t = min(due, default=None)
        if t is None:
            break
        verdicts = judge(t)
        now = statuses(verdicts)
        full_at[t] = now
        checked.append(t)
        for k, (s, nc) in held.items():
            if nc is not None and nc <= t:  # only those due are judged again
                held[k] = (now[k], verdicts[k].next_check)
                if now[k] != incremental[k][-1][1]:
                    incremental[k].append((t, now[k]))
    for g in grid:
        full_at.setdefault(g, statuses(judge(g)))
    event(f"walk: {len(checked)} judgements instead of {len(full_at)}")
    full = {k: [(as_of, s)] for k, s in statuses(first).items()}
    for t in sorted(full_at):
        for k, s in full_at[t].items():
            recorded = [rs for when, rs in incremental[k] if when <= t][-1]
            assert recorded == s, (
                f"commitment {k} at {t}: judged there {s}, the incremental path holds {recorded}"
                f" (judged at {[c for c in checked if c <= t][-3:]})\n" + _describe(world)
            )
            if s != full[k][-1][1]:
                full[k].append((t, s))
    # The same transitions at the same instants (the full path judges at every instant the incremental one does).
    assert full == incremental


def _describe(world):
    terms, evidence, periods, as_of, known_at = world
    lines = [f"as_of {as_of} known_at {known_at}", *(f"term {t}" for t in terms)]
    lines += [f"coverage {p}" for p in periods] + [f"report {e}" for e in evidence]
    return "\n".join(lines)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=examples(150), **SETTINGS)
@given(data=st.data())
def test_no_status_changes_before_its_next_check(kind, data):
    check_no_change_before_next_check(data.draw(worlds(kind)), data)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=examples(40), **SETTINGS)
@given(data=st.data())
def test_judging_only_at_next_check_records_the_transitions_of_judging_every_six_hours(kind, data):
    check_incremental_walk(data.draw(worlds(kind)))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=examples(20), **SETTINGS)
@given(data=st.data())
def test_with_hundreds_of_reports_no_status_changes_before_its_next_check(kind, data):
    check_no_change_before_next_check(data.draw(worlds(kind, bulk=True)), data)
