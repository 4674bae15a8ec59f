"""Boundaries of the engine that mutation testing (bin/mutation, docs/testing.md) found no test holding.

Each test says what a reader of a verdict would see change if the boundary moved.
"""

from datetime import date, timedelta

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import anchors_of, evaluate, evaluate_agreement
from tests.engine_factories import at, coverage, report, term

ATTACKS = {"categories": ["attack"], "limit": 2}


def test_coverage_declared_at_the_very_instant_of_the_cutoff_is_known_then():
    # Like a report, a coverage period exists from the instant it was recorded: judged as known at
    # that instant, the ceiling has days with data; a second earlier, it has none.
    ceiling = term("ceiling", ATTACKS)
    declared = at(2020, 3, 5, 9)
    periods = [coverage(date(2020, 2, 29), recorded_at=declared)]

    v = evaluate(ceiling, [], as_of=at(2020, 3, 6), known_at=declared, coverage=periods)
    assert v.status == S.IN_COMPLIANCE

    before = evaluate(ceiling, [], as_of=at(2020, 3, 6), known_at=declared - timedelta(seconds=1), coverage=periods)
    assert before.status == S.NO_DATA


# A withdrawal due 10 days after signing; talks due 5 days after it is done; a prisoner release due
# 5 days after the talks; a ceiling on attacks counted from signing, unrelated to the rest.
WITHDRAW = term("deadline", {"categories": ["withdrawal"]}, id=1, key="withdraw")
TALKS = term("deadline", {"categories": ["talks"]}, {"anchor": "commitment", "anchor_commitment_id": 1, "due": 5},
             id=2, key="talks")
RELEASE = term("deadline", {"categories": ["release"]}, {"anchor": "commitment", "anchor_commitment_id": 2, "due": 5},
               id=3, key="release")
CEILING = term("ceiling", ATTACKS, id=4, key="attacks")
AGREEMENT = [WITHDRAW, TALKS, RELEASE, CEILING]
EVIDENCE = [
    report(date(2020, 3, 4), category="withdrawal"),
    report(date(2020, 3, 7), category="talks"),
]
AS_OF = at(2020, 3, 10)


def test_judging_a_commitment_with_what_it_is_counted_from_gives_its_verdict_in_the_whole_agreement():
    # A targeted sweep re-judges the release alone, with the commitments it is counted from: its
    # due date (5 days after the talks, which are 5 days after the withdrawal) must be the one the
    # whole agreement gives.
    whole = evaluate_agreement(AGREEMENT, EVIDENCE, as_of=AS_OF)
    assert whole[RELEASE.id].status == S.NOT_YET_DUE or whole[RELEASE.id].status == S.DUE_SOON

    needed = anchors_of(AGREEMENT, [RELEASE.id])
    assert needed == {WITHDRAW.id, TALKS.id, RELEASE.id}  # not the unrelated ceiling
    alone = evaluate_agreement([t for t in AGREEMENT if t.id in needed], EVIDENCE, as_of=AS_OF)
    assert alone[RELEASE.id] == whole[RELEASE.id]
    assert alone[RELEASE.id].due_at == whole[RELEASE.id].due_at

    # Judged without the commitments it is counted from, it could not be dated at all.
    orphan = evaluate_agreement([RELEASE], EVIDENCE, as_of=AS_OF)
    assert orphan[RELEASE.id].status != whole[RELEASE.id].status


def test_what_judging_needs_is_every_commitment_asked_for_and_nothing_unknown():
    # Several at once, one of them counted from nothing, and an id no longer in the agreement.
    assert anchors_of(AGREEMENT, [TALKS.id, CEILING.id, 99]) == {WITHDRAW.id, TALKS.id, CEILING.id}
    assert anchors_of(AGREEMENT, [CEILING.id, RELEASE.id]) == {1, 2, 3, 4}
    assert anchors_of(AGREEMENT, []) == set()


def test_commitments_counted_from_each_other_are_each_needed_once():
    first = term("deadline", {"categories": ["a"]}, {"anchor": "commitment", "anchor_commitment_id": 2, "due": 5}, id=1)
    second = term("deadline", {"categories": ["b"]}, {"anchor": "commitment", "anchor_commitment_id": 1, "due": 5}, id=2)
    assert anchors_of([first, second], [1]) == {1, 2}


def test_an_anchor_of_another_kind_is_not_followed():
    # Counted from signing (no anchor commitment), even if an id is left in the window.
    signing = term("deadline", {"categories": ["a"]}, {"anchor": "signing", "anchor_commitment_id": 1, "due": 5}, id=2)
    assert anchors_of([WITHDRAW, signing], [2]) == {2}


# --- what a targeted sweep re-judges (engine.affected) ------------------------------------------------------


def changed(when, last=None, *, category="Battles", actor1="Taliban", commitment_id=None, admin1="Kabul"):
    from monitor.verdicts.engine import Change

    return Change(category=category, sub_category="", admin1=admin1, location="", actor1=actor1,
                  commitment_id=commitment_id, first=when, last=last or when)


def test_a_report_of_any_act_of_the_owing_party_affects_a_prohibition_that_names_no_category():
    from monitor.verdicts.engine import affected

    no_attacks = term("prohibition", {}, id=1)  # any act of the Taliban
    others_only = term("prohibition", {"attribution": "owing"}, id=2, owing=(), key="c2")
    hit = affected([no_attacks, others_only], [changed(at(2020, 3, 5, 10))], as_of=at(2020, 3, 6))
    assert hit == {1}
    # Someone else's act is not the Taliban's: nothing to re-judge.
    assert affected([no_attacks], [changed(at(2020, 3, 5, 10), actor1="ISKP")], as_of=at(2020, 3, 6)) == set()


def test_a_change_at_the_very_instant_judged_is_affecting_and_one_a_microsecond_later_is_not():
    from monitor.verdicts.engine import affected

    no_attacks = term("prohibition", {}, id=1)
    now = at(2020, 3, 6)
    assert affected([no_attacks], [changed(now)], as_of=now) == {1}
    assert affected([no_attacks], [changed(now + timedelta(microseconds=1))], as_of=now) == set()


def test_changes_touching_a_window_only_at_its_edges_affect_it_from_its_opening_and_not_from_its_closing():
    from monitor.verdicts.engine import affected

    # Open on 2 March (Kabul), closed from midnight starting 6 March.
    window = term("prohibition", {}, window={"starts": 2, "ends": 6}, id=1)
    opens, closes = at(2020, 3, 2), at(2020, 3, 7)
    later = at(2020, 4, 1)
    assert affected([window], [changed(opens - timedelta(days=3), opens)], as_of=later) == {1}
    assert affected([window], [changed(opens - timedelta(days=3), opens - timedelta(microseconds=1))],
                    as_of=later) == set()
    assert affected([window], [changed(closes - timedelta(microseconds=1))], as_of=later) == {1}
    assert affected([window], [changed(closes)], as_of=later) == set()


# --- days covered in every province a rule names (CoverageIndex) --------------------------------------------


def test_a_rule_naming_two_provinces_has_data_only_on_the_days_both_are_covered():
    from monitor.verdicts.engine import CoverageIndex, covered
    from terms.rules import normalize_name

    def span(first, last, province):
        return coverage(date(2020, 3, first), date(2020, 3, last), admin1=province)

    periods = [span(1, 5, "Kabul"), span(10, 15, "Kabul"), span(20, 20, "Kabul"),
               span(3, 12, "Kandahar"), span(14, 20, "Kandahar")]
    both = frozenset({normalize_name("Kabul"), normalize_name("Kandahar")})
    known = at(2021, 1, 1)
    index = CoverageIndex(periods, known)
    days = index.days(both, date(2020, 2, 25), date(2020, 3, 31))
    expected = [date(2020, 3, d) for d in (3, 4, 5, 10, 11, 12, 14, 15, 20)]
    assert days == expected
    assert days == [d for d in (date(2020, 2, 25) + timedelta(i) for i in range(36)) if covered(d, both, periods, known)]
    assert index.count(both, date(2020, 3, 1), date(2020, 3, 31)) == 9
    # The 5th is the one day the first spans share; the 20th is a single day in both.
    assert index.covers(both, date(2020, 3, 5)) and not index.covers(both, date(2020, 3, 6))
