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
from tests.engine_factories import (
    ACLED, GOVERNMENT, LOCAL_PRESS, TALIBAN, at, coverage, midnight, report, term, utc,
)
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
    # The same transitions, at the same instants (the full path sees every instant the incremental one judged at).
    assert {k: [s for _, s in seq] for k, seq in full.items()} == {k: [s for _, s in seq] for k, seq in incremental.items()}


def _describe(world):
    terms, evidence, periods, as_of, known_at = world
    lines = [f"as_of {as_of} known_at {known_at}", *(f"term {t}" for t in terms)]
    lines += [f"coverage {p}" for p in periods] + [f"report {e}" for e in evidence]
    return "\n".join(lines)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=examples(60), **SETTINGS)
@given(data=st.data())
def test_no_status_changes_before_its_next_check(kind, data):
    check_no_change_before_next_check(data.draw(worlds(kind)), data)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=examples(15), **SETTINGS)
@given(data=st.data())
def test_judging_only_at_next_check_records_the_transitions_of_judging_every_six_hours(kind, data):
    check_incremental_walk(data.draw(worlds(kind)))
