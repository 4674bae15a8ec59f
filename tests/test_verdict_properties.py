"""Properties of the verdict engine that must hold for any evidence, checked with hypothesis.

1. Anything recorded, verification-changed or declared after `known_at` never
   changes the verdict.
2. Before a commitment's window opens nothing is breached, missed or met, and no
   status "began" after the instant we look from.
3. A report duplicated into the same event group never changes a ceiling's
   daily counts or its verdict.
4. The verdict does not depend on the order the evidence is listed in.
"""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate, evaluate_agreement
from tests.engine_factories import (
    ACLED,
    KABUL,
    LOCAL_PRESS,
    NEW_YORK,
    PARTY_STATEMENT,
    SIGNED,
    UNAMA,
    coverage,
    midnight,
    term,
    utc,
    zone,
)
from tests.engine_factories import report as make_report
from tests.hypothesis_budget import examples

FAST = settings(max_examples=examples(100), deadline=None)

# Instants we look from, between 20 February and 20 April 2020 (commitments open from
# 24 February to 10 March), spread evenly: sampled_from draws uniformly, where
# integers() would crowd at the start of the range.
START = utc(2020, 2, 10)
instants = st.builds(
    lambda day, minute: START + timedelta(days=day, minutes=minute),
    st.sampled_from(range(10, 70)),
    st.sampled_from(range(0, 24 * 60, 5)),
)
# When things happen: crowded into fewer days and times, so that several events fall on a
# day (ceilings) and reports tie on the same instant (ordering).
happenings = st.builds(
    lambda day, minute: START + timedelta(days=day, minutes=minute),
    st.sampled_from(range(14, 44)),
    st.sampled_from([0, 150, 300, 600, 1000, 1170, 1430]),
)
# How long after something we learn of it, or change our mind about it.
lags = st.sampled_from([0, 0, 1, 5, 24, 30, 72, 200, 500]).map(lambda h: timedelta(hours=h))

KINDS = ("deadline", "target", "ceiling", "prohibition")
ATTRIBUTIONS = ("owing", "owing_or_unidentified", "any")


@st.composite
def terms(draw, kinds=KINDS):
    kind = draw(st.sampled_from(kinds))
    tz = draw(st.sampled_from([KABUL, NEW_YORK, "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Santiago", "Asia/Kathmandu"]))
    starts = draw(st.integers(-5, 10))
    rule = {"attribution": draw(st.sampled_from(ATTRIBUTIONS))}
    window = {"starts": starts}
    if kind in ("deadline", "target"):
        window["due"] = starts + draw(st.integers(0, 30))
        window["grace_days"] = draw(st.integers(0, 3))
    else:
        ends = draw(st.none() | st.integers(0, 40))
        window["ends"] = None if ends is None else starts + ends
    if kind == "target":
        rule.update(
            target=draw(st.integers(10, 60)),
            direction=draw(st.sampled_from(["at_most", "at_least"])),
            baseline=draw(st.none() | st.integers(0, 100)),
        )
    elif kind == "ceiling":
        rule.update(
            limit=draw(st.integers(0, 3)),
            period=draw(st.sampled_from(["day", "day", "window"])),
            recovery_days=draw(st.integers(1, 4)),
        )
    elif kind == "prohibition":
        rule["recovery_days"] = draw(st.none() | st.integers(1, 5))
    return term(kind, rule=rule, window=window, time_zone=tz)


STATES = ("verified", "disputed", "rejected", "claimed")
ACTORS = ("Taliban", "islamic emirate of afghanistan", "Unidentified Armed Group", "ISKP", "")

# Each report is drawn from a few combined choices (every draw costs hypothesis time).
GRADES = [(source, c) for source in (UNAMA, ACLED, LOCAL_PRESS, PARTY_STATEMENT) for c in range(1, 7)]
CREDIBLE_GRADES = [(source, c) for source in (UNAMA, ACLED) for c in (1, 2)]
# (stance, actor, event group, hand-made link)
ROLES = [
    (stance, actor, event_id, commitment_id)
    for stance in ("affirms", "affirms", "denies")
    for actor in ACTORS
    for event_id in (None, None, 1, 2, 3)
    for commitment_id in (None, None, None, 1, 99)
]
CREDIBLE_ROLES = [role for role in ROLES if role[1] == "Taliban"]
# Verification histories: (hours after recording, new state), in time order.
HISTORIES = [
    (),
    (),
    *(((h, state),) for h in (0, 30, 500) for state in STATES),
    *(((5, first), (200, second)) for first in STATES for second in STATES),
]
PRECISIONS = ("minute", "day", "day", "week")
VALUES = [None, None, 0.0, 5.0, 10.0, 20.0, 35.0, 50.0, 60.0, 80.0, 100.0]


@st.composite
def reports(draw, tz, credible=False):
    """One report, as varied as real ones: any grade, state history, stance, actor, precision.

    `credible`: a claim graded B2 or better about the owing party, never re-verified, so
    that counting reports (and conflicts between them) are common.
    """
    occurred_at, precision, lag = draw(st.tuples(happenings, st.sampled_from(PRECISIONS), lags))
    if precision != "minute":
        occurred_at = midnight(occurred_at.astimezone(zone(tz)).date(), tz)
    recorded_at = occurred_at + lag
    source, credibility = draw(st.sampled_from(CREDIBLE_GRADES if credible else GRADES))
    stance, actor1, event_id, commitment_id = draw(st.sampled_from(CREDIBLE_ROLES if credible else ROLES))
    history = () if credible else draw(st.sampled_from(HISTORIES))
    return make_report(
        occurred_at,
        id=0,  # numbered once the list is drawn
        precision=precision,
        recorded_at=recorded_at,
        source=source,
        credibility=credibility,
        verification=tuple((recorded_at + timedelta(hours=h), state) for h, state in history),
        stance=stance,
        actor1=actor1,
        value=draw(st.sampled_from(VALUES)),
        event_id=event_id,
        commitment_id=commitment_id,
    )


@st.composite
def bursts(draw, tz):
    """Several credible reports of acts on one day: the stuff of ceiling breaches."""
    day = draw(happenings).astimezone(zone(tz)).date()
    minutes = draw(st.lists(st.sampled_from(range(0, 24 * 60, 30)), max_size=5))
    return [
        make_report(midnight(day, tz) + timedelta(minutes=m), id=0, source=ACLED, credibility=2) for m in minutes
    ]


@st.composite
def conflicts(draw, tz):
    """A credible report of an act and credible reports, later, that it did not happen."""
    act = make_report(draw(happenings), id=0, source=UNAMA, credibility=2)
    denials = [
        make_report(act.occurred_at + lag, id=0, source=ACLED, credibility=1, stance="denies")
        for lag in draw(st.lists(lags, max_size=3))
    ]
    return [act, *denials]


def numbered(evidence, first=1):
    return [replace(e, id=first + i) for i, e in enumerate(evidence)]


def evidence_lists(tz, max_size=6):
    """Reports of every kind, some credible ones for and against, and a burst of acts on one day."""
    return st.builds(
        lambda mixed, credible, burst: numbered(mixed + credible + burst),
        st.lists(reports(tz), max_size=max_size),
        st.lists(reports(tz, credible=True), max_size=max_size),
        bursts(tz),
    )


@st.composite
def coverage_periods(draw):
    periods = []
    for _ in range(draw(st.integers(0, 2))):
        starts_on = date(2020, 2, 10) + timedelta(days=draw(st.integers(0, 60)))
        length = draw(st.none() | st.integers(0, 30))
        periods.append(
            coverage(
                starts_on,
                None if length is None else starts_on + timedelta(days=length),
                recorded_at=draw(st.just(utc(2020, 1, 1)) | instants),
            )
        )
    return periods


@st.composite
def cases(draw, kinds=KINDS):
    """(term, evidence, coverage, as_of, known_at); known_at is as_of, later, or now and then earlier."""
    t = draw(terms(kinds))
    as_of = draw(instants)
    known_at = draw(st.sampled_from([as_of, as_of]) | lags.map(lambda d: as_of + d) | lags.map(lambda d: as_of - d))
    return t, draw(evidence_lists(t.time_zone)), draw(coverage_periods()), as_of, known_at


# --- 1. the knowledge cutoff -------------------------------------------------------------------------


@st.composite
def cases_with_later_knowledge(draw):
    """A case, and the same case with more recorded, changed and declared after its cutoff."""
    t, evidence, periods, as_of, known_at = draw(cases())
    after = st.sampled_from([1, 60, 60 * 24, 60 * 24 * 30]).map(lambda m: timedelta(minutes=m))

    # Reports recorded after the cutoff, whenever they say things happened.
    later_reports = [
        replace(e, recorded_at=max(known_at, e.occurred_at) + draw(after), verification=())
        for e in draw(evidence_lists(t.time_zone, max_size=4))
    ]
    later_reports = numbered(later_reports, first=len(evidence) + 1)

    # Verification changes made after the cutoff, appended to existing histories in time order.
    changed = []
    for e in evidence:
        extra = draw(st.sampled_from([(), (), ("rejected",), ("verified",), ("disputed",), ("verified", "disputed")]))
        last = max([known_at, e.recorded_at, *(c for c, _ in e.verification)])
        history = list(e.verification)
        for state in extra:
            last += draw(after)
            history.append((last, state))
        changed.append(replace(e, verification=tuple(history)))

    later_periods = [replace(p, recorded_at=known_at + draw(after)) for p in draw(coverage_periods())]
    return t, evidence, periods, as_of, known_at, changed + later_reports, periods + later_periods


@FAST
@given(cases_with_later_knowledge())
def test_nothing_recorded_or_changed_after_the_cutoff_changes_any_verdict(case):
    # The commitment's own verdict, and that of one counted from it (when it was met).
    t, evidence, periods, as_of, known_at, more_evidence, more_periods = case
    anchored = term("deadline", id=2, window={"anchor": "commitment", "anchor_commitment_id": t.id, "due": 5})

    before = evaluate_agreement([t, anchored], evidence, as_of=as_of, known_at=known_at, coverage=periods)
    after = evaluate_agreement([t, anchored], more_evidence, as_of=as_of, known_at=known_at, coverage=more_periods)

    assert after == before
    assert before[t.id] == evaluate(t, evidence, as_of=as_of, known_at=known_at, coverage=periods)


# --- 2. before the window opens --------------------------------------------------------------------------


@FAST
@given(st.data())
def test_before_the_window_opens_nothing_is_breached_missed_or_met(data):
    t, evidence, periods, _, known_at = data.draw(cases())
    opens_at = midnight(SIGNED + timedelta(days=t.window.starts), t.time_zone)
    as_of = opens_at - timedelta(minutes=data.draw(st.integers(1, 20 * 24 * 60)))

    v = evaluate(t, evidence, as_of=as_of, known_at=known_at, coverage=periods)

    assert v.opens_at == opens_at
    assert v.status in (S.NOT_YET_DUE, S.DUE_SOON)
    if t.kind != "target":  # a target shows its latest measurement, even one taken before
        assert v.evidence == ()
    assert v.since is None or v.since <= as_of


@FAST
@given(cases())
def test_no_status_began_after_the_instant_we_look_from(case):
    t, evidence, periods, as_of, known_at = case

    v = evaluate(t, evidence, as_of=as_of, known_at=known_at, coverage=periods)

    assert v.since is None or v.since <= as_of


# --- 3. events, not reports ---------------------------------------------------------------------------------


@FAST
@given(cases(kinds=("ceiling",)), st.data())
def test_a_report_duplicated_into_its_event_group_never_changes_a_ceiling(case, data):
    t, evidence, periods, as_of, known_at = case
    if not evidence:
        evidence = numbered([data.draw(reports(t.time_zone))])
    i = data.draw(st.integers(0, len(evidence) - 1))
    original = evidence[i]
    group = original.event_id if original.event_id is not None else 1000 + i
    grouped = [*evidence[:i], replace(original, event_id=group), *evidence[i + 1 :]]
    copy = replace(original, id=len(evidence) + 1, event_id=group)

    v1 = evaluate(t, grouped, as_of=as_of, known_at=known_at, coverage=periods)
    v2 = evaluate(t, grouped + [copy], as_of=as_of, known_at=known_at, coverage=periods)

    assert v2.status == v1.status
    assert v2.since == v1.since
    # A copied denial is one more report on its side of a dispute: named beside its original, nothing else new.
    assert tuple(i for i in v2.evidence if i != copy.id) == v1.evidence
    assert v2.reason.code == v1.reason.code
    sides = ("with_reports", "without_reports")
    for side in sides:
        assert set(v2.reason.params.get(side, ())) - {copy.id} == set(v1.reason.params.get(side, ()))
    if v1.reason.code == "disputed.evidence":
        # params.disputed counts disputed *reports*, and a disputed report copied is one more of them.
        assert (v2.reason.params["without"], v2.reason.params["with"]) == (
            v1.reason.params["without"],
            v1.reason.params["with"],
        )
    else:
        assert {k: v for k, v in v2.reason.params.items() if k not in sides} == {
            k: v for k, v in v1.reason.params.items() if k not in sides
        }
    assert v2.details.get("daily") == v1.details.get("daily")
    assert v2.details.get("count") == v1.details.get("count")
    assert v2.details.get("breached_days") == v1.details.get("breached_days")


@FAST
@given(cases(kinds=("ceiling",)))
def test_grouping_a_report_with_nothing_else_changes_nothing(case):
    # A report alone in its event group is one event, as it was without a group.
    t, evidence, periods, as_of, known_at = case
    alone = [replace(e, event_id=None) for e in evidence]
    each_in_own_group = [replace(e, event_id=1000 + e.id) for e in evidence]

    v1 = evaluate(t, alone, as_of=as_of, known_at=known_at, coverage=periods)
    v2 = evaluate(t, each_in_own_group, as_of=as_of, known_at=known_at, coverage=periods)

    assert v2 == v1


# --- 4. order does not matter -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(data=st.data())
def test_the_verdict_does_not_depend_on_evidence_order(kind, data):
    t, evidence, periods, as_of, known_at = data.draw(cases(kinds=(kind,)))
    evidence = numbered(evidence + data.draw(conflicts(t.time_zone)))
    shuffled = data.draw(st.permutations(evidence))

    assert evaluate(t, shuffled, as_of=as_of, known_at=known_at, coverage=periods) == evaluate(
        t, evidence, as_of=as_of, known_at=known_at, coverage=periods
    )


# --- 5. the sweep's index sifts evidence exactly as evaluate() does ---------------------------------


@FAST
@given(cases())
def test_evaluating_through_the_index_gives_the_same_verdict_as_sifting_every_report(case):
    t, evidence, periods, as_of, known_at = case
    alone = evaluate(t, evidence, as_of=as_of, known_at=known_at, coverage=periods)
    indexed = evaluate_agreement([t], evidence, as_of=as_of, known_at=known_at, coverage=periods)[t.id]
    assert indexed == alone
