"""Commitments several parties owe: `share: each | any | jointly` (engine/shares.py).

The default agreement is signed on 29 February 2020 in Asia/Kabul; a 10-day deadline is due by
the end of 10 March 2020. Two owing parties: the Taliban and the Government of Afghanistan.
"""

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import EvidenceIndex, evaluate, evaluate_agreement
from monitor.verdicts.engine.shares import ROLL_UP
from tests.engine_factories import GOVERNMENT, TALIBAN, at, coverage, measurement, report, term
from tests.hypothesis_budget import examples

BOTH = (TALIBAN, GOVERNMENT)
GOV = "Government of Afghanistan"
AS_OF = at(2020, 3, 20)  # after the deadline


def both(kind="deadline", share="each", **kwargs):
    return term(kind, owing=BOTH, share=share, **kwargs)


def by_party(verdict):
    return {p.name: p.status for p in verdict.parties}


# --- deadlines ------------------------------------------------------------------------


def test_under_each_a_deadline_met_by_one_party_only_is_missed():
    v = evaluate(both(), [report(date(2020, 3, 2), actor1="Taliban")], as_of=AS_OF)

    assert v.status == S.MISSED
    assert by_party(v) == {"Taliban": S.MET, GOV: S.MISSED}
    assert v.reason.code == "shares.each"
    assert v.sentence == "Taliban: met on 2 March 2020; Government of Afghanistan: missed."


def test_under_each_before_the_deadline_one_party_having_acted_is_still_pending():
    v = evaluate(both(), [report(date(2020, 3, 2), actor1="Taliban")], as_of=at(2020, 3, 5))

    assert v.status == S.DUE_SOON
    assert by_party(v) == {"Taliban": S.MET, GOV: S.DUE_SOON}


def test_under_each_met_by_both_is_met_since_the_last_party_acted():
    reports = [report(date(2020, 3, 2), actor1="Taliban"), report(date(2020, 3, 6), actor1=GOV)]

    v = evaluate(both(), reports, as_of=AS_OF)

    assert v.status == S.MET
    assert v.since == reports[1].occurred_at
    assert set(v.evidence) == {reports[0].id, reports[1].id}


def test_under_each_one_party_late_makes_the_commitment_met_late():
    reports = [report(date(2020, 3, 2), actor1="Taliban"), report(date(2020, 3, 14), actor1=GOV)]

    v = evaluate(both(), reports, as_of=AS_OF)

    assert v.status == S.MET_LATE
    assert by_party(v) == {"Taliban": S.MET, GOV: S.MET_LATE}
    assert v.sentence == "Taliban: met on 2 March 2020; Government of Afghanistan: met late on 14 March 2020."


def test_a_joint_act_counts_for_each_party_it_names():
    v = evaluate(both(), [report(date(2020, 3, 2), actor1="Taliban; Government of Afghanistan")], as_of=AS_OF)

    assert v.status == S.MET
    assert by_party(v) == {"Taliban": S.MET, GOV: S.MET}


def test_under_any_a_deadline_met_by_one_party_is_met():
    v = evaluate(both(share="any"), [report(date(2020, 3, 2), actor1="Taliban")], as_of=AS_OF)

    assert v.status == S.MET
    assert v.parties == ()
    assert v.reason.code == "deadline.met"


def test_under_jointly_a_sole_act_does_not_meet_the_deadline():
    v = evaluate(both(share="jointly"), [report(date(2020, 3, 2), actor1="Taliban")], as_of=AS_OF)

    assert v.status == S.MISSED
    assert v.parties == ()


def test_under_jointly_an_act_naming_them_together_meets_the_deadline():
    joint = report(date(2020, 3, 2), actor1="Islamic Emirate of Afghanistan; Government of Afghanistan")

    v = evaluate(both(share="jointly"), [joint], as_of=AS_OF)

    assert v.status == S.MET
    assert v.evidence == (joint.id,)


def test_each_with_attribution_any_is_judged_once_on_everyones_acts():
    v = evaluate(both(rule={"attribution": "any"}), [report(date(2020, 3, 2), actor1="Someone")], as_of=AS_OF)

    assert v.status == S.MET
    assert v.parties == ()


def test_a_single_party_commitment_has_no_party_verdicts():
    v = evaluate(term(), [report(date(2020, 3, 2))], as_of=AS_OF)

    assert v.status == S.MET
    assert v.parties == ()


def test_one_party_disputed_and_the_other_missed_is_missed():
    reports = [
        report(date(2020, 3, 2), actor1="Taliban"),
        report(date(2020, 3, 3), actor1="Taliban", stance="denies"),
    ]

    v = evaluate(both(), reports, as_of=AS_OF)

    assert by_party(v) == {"Taliban": S.DISPUTED, GOV: S.MISSED}
    assert v.status == S.MISSED


def test_a_report_linked_by_hand_naming_no_owing_party_counts_for_every_party():
    linked = report(date(2020, 3, 2), actor1="", commitment_id=1)

    v = evaluate(both(), [linked], as_of=AS_OF)

    assert by_party(v) == {"Taliban": S.MET, GOV: S.MET}


def test_a_report_linked_by_hand_naming_one_party_counts_for_it_only():
    linked = report(date(2020, 3, 2), actor1="Taliban", commitment_id=1)

    v = evaluate(both(), [linked], as_of=AS_OF)

    assert by_party(v) == {"Taliban": S.MET, GOV: S.MISSED}


# --- targets ----------------------------------------------------------------------------


def test_under_each_a_reduction_target_is_met_only_when_each_partys_figure_is():
    reports = [measurement(date(2020, 3, 20), 4, actor1="Taliban"), measurement(date(2020, 3, 20), 12, actor1=GOV)]

    v = evaluate(both("target"), reports, as_of=at(2020, 4, 5))

    assert by_party(v) == {"Taliban": S.MET, GOV: S.MISSED}
    assert v.status == S.MISSED


# --- ceilings and prohibitions ----------------------------------------------------------


def ceiling(share="each", limit=1):
    return both("ceiling", share=share, rule={"limit": limit})


def test_under_each_a_ceiling_limits_each_partys_acts():
    reports = [report(date(2020, 3, 5), actor1="Taliban"), report(date(2020, 3, 5), actor1=GOV)]

    v = evaluate(ceiling(), reports, as_of=at(2020, 3, 6), coverage=[coverage(date(2020, 1, 1))])

    assert v.status == S.IN_COMPLIANCE
    assert by_party(v) == {"Taliban": S.IN_COMPLIANCE, GOV: S.IN_COMPLIANCE}


def test_under_any_a_ceiling_limits_their_acts_together():
    reports = [report(date(2020, 3, 5), actor1="Taliban"), report(date(2020, 3, 5), actor1=GOV)]

    v = evaluate(ceiling("any"), reports, as_of=at(2020, 3, 6), coverage=[coverage(date(2020, 1, 1))])

    assert v.status == S.BREACHED
    assert v.parties == ()


def test_under_jointly_a_ceiling_counts_every_act_by_any_of_them():
    reports = [report(date(2020, 3, 5), actor1="Taliban"), report(date(2020, 3, 5), actor1=GOV)]

    v = evaluate(ceiling("jointly"), reports, as_of=at(2020, 3, 6), coverage=[coverage(date(2020, 1, 1))])

    assert v.status == S.BREACHED


def test_a_ceiling_breach_under_each_names_who_breached():
    reports = [report(date(2020, 3, 5), actor1=GOV), report(date(2020, 3, 5), actor1=GOV)]

    v = evaluate(ceiling(), reports, as_of=at(2020, 3, 6), coverage=[coverage(date(2020, 1, 1))])

    assert v.status == S.BREACHED
    assert by_party(v) == {"Taliban": S.IN_COMPLIANCE, GOV: S.BREACHED}
    assert "Government of Afghanistan: breached on 5 March 2020" in v.sentence
    assert v.since == reports[0].occurred_at


def test_a_prohibition_under_each_is_breached_since_the_earliest_partys_breach():
    early, late = report(date(2020, 3, 3), actor1=GOV), report(date(2020, 3, 8), actor1="Taliban")

    v = evaluate(both("prohibition"), [late, early], as_of=at(2020, 3, 9))

    assert by_party(v) == {"Taliban": S.BREACHED, GOV: S.BREACHED}
    assert v.status == S.BREACHED
    assert v.since == early.occurred_at


# --- the evidence index gives the same verdicts -----------------------------------------


def test_evaluate_agreement_judges_per_party_from_the_index():
    reports = [
        report(date(2020, 3, 2), actor1="Taliban", category="withdrawal"),
        report(date(2020, 3, 14), actor1="Taliban; Government of Afghanistan", category="withdrawal"),
        report(date(2020, 3, 3), actor1=GOV, category="other"),
    ]
    t = both(rule={"categories": ["withdrawal"]})

    v = evaluate_agreement([t], EvidenceIndex(reports, AS_OF), as_of=AS_OF)[t.id]

    assert v == evaluate(t, reports, as_of=AS_OF)
    assert by_party(v) == {"Taliban": S.MET, GOV: S.MET_LATE}


# --- the roll-up is the roll-up of judging each party alone -----------------------------

ACTORS = ("Taliban", GOV, "Taliban; Government of Afghanistan", "Someone else", "")
KINDS = ("deadline", "target", "ceiling", "prohibition")


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(KINDS))
    rule = {"limit": draw(st.integers(0, 2))} if kind == "ceiling" else {}
    reports = [
        report(
            date(2020, 3, draw(st.integers(1, 25))),
            actor1=draw(st.sampled_from(ACTORS)),
            value=draw(st.integers(0, 20)) if kind == "target" else None,
            stance=draw(st.sampled_from(("affirms", "affirms", "denies"))) if kind == "deadline" else "affirms",
            verification=draw(st.sampled_from(((), ((at(2020, 3, 1), "disputed"),)))),
            id=i + 1,
        )
        for i in range(draw(st.integers(0, 6)))
    ]
    return both(kind, rule=rule), reports, at(2020, 3, draw(st.integers(2, 30)), 12)


@settings(max_examples=examples(150), deadline=None)
@given(cases())
def test_under_each_the_status_is_the_roll_up_of_judging_each_party_alone(case):
    t, reports, as_of = case
    cover = [coverage(date(2020, 1, 1))]

    v = evaluate(t, reports, as_of=as_of, coverage=cover)

    alone = [evaluate(replace(t, owing=(p,)), reports, as_of=as_of, coverage=cover) for p in t.owing]
    assert [p.status for p in v.parties] == [a.status for a in alone]
    assert v.status == min((a.status for a in alone), key=ROLL_UP.index)
    if v.status == S.MET:
        assert all(a.status == S.MET for a in alone)
    if any(a.status == S.MISSED for a in alone):
        assert v.status == S.MISSED
