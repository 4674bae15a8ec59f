"""The sweep's shortcuts answer as the plain engine does: the evidence index, covered days, and what changes affect.

A sweep judges 10,000 commitments against a million reports through `EvidenceIndex` (reports
filed by category, split by province, place and party, read by time), `CoverageIndex` (covered
days worked out once per set of provinces) and, for a targeted sweep, `affected`. Each must agree
with the definitions they shortcut: `evaluate` sifting every report, `covered` day by day, and
re-judging every commitment.
"""

from dataclasses import replace
from datetime import date, timedelta
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.verdicts.engine import (
    COUNTS,
    Change,
    CoverageIndex,
    EvidenceIndex,
    Milestone,
    covered,
    evaluate,
    evaluate_agreement,
    affected,
    qualifies,
)
from terms.rules import Rule, normalize_name
from tests import reference_judge as ref
from tests.engine_factories import ACLED, GOVERNMENT, LOCAL_PRESS, TALIBAN, UNAMA, coverage, midnight, report, term, utc
from tests.hypothesis_budget import examples

FAST = settings(max_examples=examples(300), deadline=None)

# A small world, so that rules and reports often meet: categories that are event and sub-event
# types, provinces and places spelled two ways, and actors from both parties, unidentified and other.
CATEGORIES = [("Battles", "Armed clash"), ("battles", "Government regains territory"),
              ("Violence against civilians", "Attack"), ("Protests", "Peaceful protest"), ("talks_began", "")]
# () names no category: the rule counts any act of the owing parties where it looks (and no report
# linked by hand to another commitment).
RULE_CATEGORIES = [("Battles",), ("Armed clash",), ("Attack",), ("Battles", "Armed clash"), ("talks_began",),
                   ("Attack", "Peaceful protest"), (), ()]
PROVINCES = ["Kabul", "kabul ", "Kandahar", "Herat"]
PLACES = ["Kabul city", "Spin Boldak", "Herat"]
ACTORS = ["Taliban", "ISLAMIC EMIRATE of Afghanistan", "Government of Afghanistan", "Unidentified Armed Group",
          "", "Civilians", "Police"]
# The agreement's non-party actors, as the loader folds their names: none, actors no party owes
# for, and now and then one named like an owing party (the loader refuses that; the engine still
# answers one way, the non-party's way, through the index and by sifting alike).
NON_PARTIES = [frozenset(), frozenset(), frozenset({"police"}), frozenset({"civilians", "police"}),
               frozenset({"unidentified armed group"}), frozenset({"government of afghanistan"})]
DAYS = st.integers(0, 40)
# The days counted run from 26 February 2020 over the leap day, a month end and, in New York,
# Santiago and London, the spring's clock change; Kiritimati and Pago Pago are 25 hours apart.
ZONES = ["Asia/Kabul", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Santiago",
         "Europe/London", "Asia/Kathmandu"]


@st.composite
def terms(draw, id, kinds=("deadline", "target", "ceiling", "prohibition"), tz="Asia/Kabul"):
    kind = draw(st.sampled_from(kinds))
    rule = {
        "categories": list(draw(st.sampled_from(RULE_CATEGORIES))),
        "attribution": draw(st.sampled_from(["owing", "owing_or_unidentified", "any"])),
        "actors": draw(st.sampled_from(["either", "either", "actor1"])),
    }
    if draw(st.sampled_from([False, False, False, True])):
        rule["interactions"] = ["12"]
    where = draw(st.sampled_from(["", "admin1", "locations", "both"]))
    if where in ("admin1", "both"):
        rule["admin1"] = draw(st.lists(st.sampled_from(["Kabul", "Kandahar", "Herat"]), min_size=1, max_size=2))
    if where in ("locations", "both"):
        rule["locations"] = draw(st.lists(st.sampled_from(PLACES), min_size=1, max_size=2))
    if kind == "ceiling":
        rule.update(limit=draw(st.sampled_from([0, 0, 1, 4])), period=draw(st.sampled_from(["day", "day", "window"])),
                    recovery_days=draw(st.sampled_from([0, 1, 2, 5])))
    if kind == "prohibition":
        rule["recovery_days"] = draw(st.sampled_from([None, None, 0, 3, 10]))
    if kind == "target":
        rule.update(target=20, direction=draw(st.sampled_from(["at_most", "at_least"])))
    starts = draw(st.integers(-3, 5))
    window = {"starts": starts}
    if kind in ("deadline", "target"):
        window.update(due=starts + draw(st.integers(0, 20)), grace_days=draw(st.integers(0, 3)))
    else:
        window["ends"] = draw(st.none() | st.integers(starts, starts + 30))
    owing = draw(st.sampled_from([(TALIBAN,), (GOVERNMENT,), (TALIBAN, GOVERNMENT)]))
    return term(kind, rule=rule, window=window, id=id, owing=owing, time_zone=tz)


@st.composite
def reports(draw, id, tz="Asia/Kabul"):
    category, sub_category = draw(st.sampled_from(CATEGORIES))
    day = date(2020, 2, 26) + timedelta(days=draw(DAYS))
    when = midnight(day, tz) + timedelta(hours=draw(st.sampled_from([0, 0, 5, 23])))
    state = draw(st.sampled_from([(), (), (), ((0, "verified"),), ((2, "disputed"),), ((1, "rejected"),)]))
    recorded = when + timedelta(hours=draw(st.sampled_from([0, 3, 48])))
    return report(
        when, id=id, recorded_at=recorded, tz=tz,
        precision=draw(st.sampled_from(["minute", "day", "day", "week"])),
        source=draw(st.sampled_from([UNAMA, ACLED, ACLED, LOCAL_PRESS])),
        credibility=draw(st.sampled_from([1, 2, 2, 3])),
        category=category, sub_category=sub_category,
        admin1=draw(st.sampled_from(PROVINCES + [""])), location=draw(st.sampled_from(PLACES + [""])),
        actor1=draw(st.sampled_from(ACTORS)), actor2=draw(st.sampled_from(["", "", *ACTORS, "Taliban; Police"])),
        interaction=draw(st.sampled_from(["", "12", "17"])), stance=draw(st.sampled_from(["affirms", "affirms", "denies"])),
        value=draw(st.sampled_from([None, 10.0, 30.0])), event_id=draw(st.sampled_from([None, None, None, 1, 2])),
        commitment_id=draw(st.sampled_from([None] * 8 + [1, 2, 99])),
        verification=tuple((recorded + timedelta(hours=h), s) for h, s in state),
    )


@st.composite
def worlds(draw):
    # One zone for the agreement (as the loader has it), or, now and then, one per commitment.
    tz = draw(st.sampled_from(ZONES))
    zones = [tz, tz, tz] if draw(st.booleans()) else [draw(st.sampled_from(ZONES)) for _ in range(3)]
    ts = [draw(terms(id=1, kinds=("deadline", "deadline", "target"), tz=zones[0])), draw(terms(id=2, tz=zones[1])),
          draw(terms(id=3, tz=zones[2]))]
    # The third is counted from a moment of the first, which may never come.
    moment = draw(st.sampled_from(["met", "met", "opens", "due"]))
    ts[2] = replace(ts[2], window=replace(ts[2].window, anchor="commitment", anchor_commitment_id=1,
                                          anchor_moment=moment))
    # Now and then the second is counted from a milestone, reached by anyone's report in its categories.
    if draw(st.booleans()):
        categories = draw(st.sampled_from([c for c in RULE_CATEGORIES if c]))
        milestone = Milestone(id=5, key="m", title="Milestone", rule=Rule(categories=categories, attribution="any"))
        ts[1] = replace(ts[1], anchor_milestone=milestone, window=replace(
            ts[1].window, anchor="milestone", anchor_milestone_id=5, anchor_moment="reached"))
    non_party = draw(st.sampled_from(NON_PARTIES))
    ts = [replace(t, non_party_names=non_party) for t in ts]
    evidence = [draw(reports(id=i, tz=tz)) for i in range(1, draw(st.integers(0, 40)) + 1)]
    periods = [
        coverage(date(2020, 2, 20) + timedelta(days=start), date(2020, 2, 20) + timedelta(days=start + length),
                 admin1=draw(st.sampled_from(["", "Kabul", "kabul", "Kandahar", "Herat"])),
                 recorded_at=utc(2020, 1, 1) + timedelta(days=draw(st.sampled_from([0, 0, 60]))))
        for start, length in draw(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20)), max_size=4))
    ]
    as_of = utc(2020, 3, 1) + timedelta(hours=draw(st.integers(0, 24 * 45)))
    known_at = as_of + timedelta(hours=draw(st.sampled_from([0, 0, -30, 200])))
    return ts, evidence, periods, as_of, known_at


@FAST
@given(worlds())
def test_the_index_judges_every_commitment_as_sifting_every_report_does(world):
    ts, evidence, periods, as_of, known_at = world
    verdicts = evaluate_agreement(ts, evidence, as_of=as_of, known_at=known_at, coverage=periods)
    # Without the details (as the sweep asks), everything else is the same.
    lean = evaluate_agreement(ts, evidence, as_of=as_of, known_at=known_at, coverage=periods, details=False)
    assert {k: replace(v, details={}) for k, v in verdicts.items()} == lean
    first = verdicts[1]
    assert verdicts[1] == evaluate(ts[0], evidence, as_of=as_of, known_at=known_at, coverage=periods)
    assert verdicts[2] == waiting_named(verdicts[2], evaluate(
        ts[1], evidence, as_of=as_of, known_at=known_at, coverage=periods,
        anchor_day=reached_day(ts[1], evidence, as_of, known_at)))
    instant = {"met": first.since if first.status in ("met", "met_late") else None, "opens": first.opens_at,
               "due": first.due_at}[ts[2].window.anchor_moment]
    anchor_day = None
    if instant is not None and instant <= as_of:
        # The due moment is the end of the due day, which is day 0.
        end_of_day = ts[2].window.anchor_moment == "due"
        anchor_day = (instant - timedelta(microseconds=1 if end_of_day else 0)).astimezone(ts[2].tz).date()
    assert verdicts[3] == waiting_named(verdicts[3], evaluate(ts[2], evidence, as_of=as_of, known_at=known_at,
                                                              coverage=periods, anchor_day=anchor_day))


@FAST
@given(worlds())
def test_the_index_finds_every_report_that_speaks_to_a_commitment_as_testing_each_report_does(world):
    """The commitment page lists what speaks to a commitment from the index its verdict was judged on
    (`EvidenceIndex.speaking`), not by testing every report read again: the two must find the same reports."""
    ts, evidence, _periods, _as_of, known_at = world
    index = EvidenceIndex(evidence, known_at)
    for t in ts:
        found = [e.id for e, _standing in index.speaking(t)]
        assert len(found) == len(set(found))
        assert set(found) == {e.id for e in evidence if qualifies(t, e)}


def waiting_named(got, expected):
    """`evaluate` alone cannot name the anchor a commitment waits for: `evaluate_agreement` adds it.

    Nor can it know when the anchor's verdict can change: `evaluate_agreement` judges it again by then too,
    so no later than `evaluate` alone would.
    """
    assert expected.next_check is None or (got.next_check is not None and got.next_check <= expected.next_check)
    expected = replace(expected, next_check=got.next_check)
    if expected.status != "awaiting_anchor":
        return expected
    assert got.reason.code == "awaiting.anchor" and set(got.reason.params) == {"anchor", "anchor_key", "moment"}
    return replace(expected, reason=got.reason)


def reached_day(t, evidence, as_of, known_at):
    """A milestone's day, sifting every report: its first counting, affirming report in its categories."""
    if t.anchor_milestone is None:
        return None
    shows = sorted((e for e in evidence if e.occurred_at <= as_of and e.standing_at(known_at) == COUNTS
                    and e.stance == "affirms" and ref.shows_milestone(t.anchor_milestone, e)),
                   key=lambda e: (e.occurred_at, e.id))
    return shows[0].occurred_at.astimezone(t.tz).date() if shows else None


@FAST
@given(worlds(), st.sets(st.sampled_from(["Kabul", "Kandahar", "Herat"])))
def test_covered_days_worked_out_once_are_the_days_covered_answers_for(world, provinces):
    _ts, _evidence, periods, _as_of, known_at = world
    admin1s = frozenset(normalize_name(p) for p in provinces)
    first, last = date(2020, 2, 15), date(2020, 4, 30)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    expected = [d for d in days if covered(d, admin1s, periods, known_at)]
    index = CoverageIndex(periods, known_at)
    assert index.days(admin1s, first, last) == expected
    assert index.count(admin1s, first, last) == len(expected)
    assert [d for d in days if index.covers(admin1s, d)] == expected
    assert [index.nth_after(admin1s, first - timedelta(days=1), n) for n in range(1, len(expected) + 1)] == expected


def as_changes(evidence):
    """Changed reports grouped by shape, as `inputs.changes_for` reads them: one time span per shape."""
    spans = {}
    for e in evidence:
        shape = (e.category, e.sub_category, e.admin1, e.location, e.actor1, e.commitment_id, e.actor2, e.interaction)
        first, last = spans.get(shape, (e.occurred_at, e.occurred_at))
        spans[shape] = (min(first, e.occurred_at), max(last, e.occurred_at))
    return [
        Change(category=c, sub_category=sc, admin1=a, location=loc, actor1=actor, commitment_id=linked, first=first,
               last=last, actor2=actor2, interaction=interaction)
        for (c, sc, a, loc, actor, linked, actor2, interaction), (first, last) in spans.items()
    ]


@settings(max_examples=examples(400), deadline=None)
@given(worlds(), st.data())
def test_a_commitment_left_out_by_affected_is_judged_the_same_without_the_changed_reports(world, data):
    ts, evidence, periods, as_of, _known_at = world
    # The commitment counted from the first counts nothing reported here: only its anchor can move it.
    ts[2] = replace(ts[2], rule=replace(ts[2].rule, categories=("Chemical weapon",)))
    changed = data.draw(st.sets(st.sampled_from([e.id for e in evidence]))) if evidence else set()
    before = [e for e in evidence if e.id not in changed]
    hit = affected(ts, as_changes([e for e in evidence if e.id in changed]), as_of=as_of)
    # What the re-evaluation records (status, reason, since, evidence): not the details' account of every
    # report that speaks to it, which lists a changed report set aside even where it changes nothing.
    with_them = evaluate_agreement(ts, evidence, as_of=as_of, coverage=periods, details=False)
    without_them = evaluate_agreement(ts, before, as_of=as_of, coverage=periods, details=False)
    for t in ts:
        if t.id not in hit:
            assert with_them[t.id] == without_them[t.id]


@settings(max_examples=examples(400), deadline=None)
@given(worlds(), st.data())
def test_affected_names_only_commitments_a_changed_report_speaks_to_or_counted_from_one(world, data):
    """The other direction: a targeted sweep leaves alone what no change can move.

    A commitment is affected only when a changed report is linked to it, or its rule counts one (the
    reference judge's reading of the rule, not the engine's index) that happened by `as_of`, or it
    is counted from an affected one. Anything more re-judges (and re-writes) what did not change.
    """
    ts, evidence, _periods, as_of, _known_at = world
    changed = data.draw(st.sets(st.sampled_from([e.id for e in evidence]))) if evidence else set()
    changes = as_changes([e for e in evidence if e.id in changed])
    hit = affected(ts, changes, as_of=as_of)
    reachable = {
        t.id for t in ts
        if any(c.commitment_id == t.id or (c.first <= as_of and (ref.speaks_to(t, SimpleNamespace(**vars(c)))
                                                                 or ref.in_context(t, SimpleNamespace(**vars(c)))))
               or (c.first <= as_of and t.anchor_milestone is not None
                   and ref.shows_milestone(t.anchor_milestone, SimpleNamespace(**vars(c))))
               for c in changes)
    }
    grew = True
    while grew:
        grew = False
        for t in ts:
            if t.window.anchor == "commitment" and t.window.anchor_commitment_id in reachable and t.id not in reachable:
                reachable.add(t.id)
                grew = True
    assert hit <= reachable
    if not changes:
        assert hit == set()
