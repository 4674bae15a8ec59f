"""Anchors on any moment of another commitment, and on milestones (issue 13): the engine's side.

Every commitment counted from an anchor waits until the anchor's moment has happened as of
`as_of` (as known at `known_at`), then counts from the local day of that moment (day 0).
"""

from dataclasses import replace
from datetime import date

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import Change, Milestone, affected, evaluate_agreement
from terms.rules import Rule
from tests.engine_factories import LOCAL_PRESS, PARTY_STATEMENT, at, midnight, report, term

ATTACK = {"categories": ["attack"]}


def anchored(kind="deadline", *, id, on, moment, title=None, **window):
    return term(kind, id=id, title=title, window={"anchor": "commitment", "anchor_commitment_id": on,
                                                  "anchor_moment": moment, **window})


def attack(day, **kwargs):
    return report(day, category="attack", **kwargs)


# --- opens ---------------------------------------------------------------------------------------

CEASEFIRE = term("prohibition", ATTACK, {"starts": 3}, id=1, title="Ceasefire")  # opens 3 March 2020
PULLOUT = anchored(id=2, on=1, moment="opens", starts=2, due=14, title="Weapons pullout")


def test_counted_from_an_anchors_opening_it_waits_until_that_window_has_opened():
    v = evaluate_agreement([CEASEFIRE, PULLOUT], [], as_of=at(2020, 3, 2, 23, 59))

    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].reason.params == {"anchor": "Ceasefire", "anchor_key": "c1", "moment": "opens"}
    assert v[2].sentence == "Awaiting its anchor: counted from the start of 'Ceasefire', which has not begun."


def test_once_the_anchor_has_opened_its_opening_day_is_day_zero():
    v = evaluate_agreement([CEASEFIRE, PULLOUT], [], as_of=at(2020, 3, 3))

    assert v[2].opens_at == midnight(date(2020, 3, 5))  # the second day after the ceasefire starts
    assert v[2].due_at == midnight(date(2020, 3, 18))  # due 17 March, the 14th day
    assert v[2].status == S.NOT_YET_DUE


# --- due -----------------------------------------------------------------------------------------

FIRST = term("deadline", id=1, window={"due": 10}, title="Withdrawal")  # due 10 March 2020
ON_DUE = anchored(id=2, on=1, moment="due", due=5)


def test_counted_from_an_anchors_due_date_it_waits_until_that_day_is_over():
    during = evaluate_agreement([FIRST, ON_DUE], [], as_of=at(2020, 3, 10, 23, 59))
    after = evaluate_agreement([FIRST, ON_DUE], [], as_of=at(2020, 3, 11))

    assert during[2].status == S.AWAITING_ANCHOR
    assert during[2].sentence == "Awaiting its anchor: counted from the due date of 'Withdrawal', which has not passed."
    assert after[2].due_at == midnight(date(2020, 3, 16))  # day 0 is the due day, 10 March: due 15 March


def test_the_due_moment_comes_whether_the_anchor_was_met_or_not():
    act = report(date(2020, 3, 4), commitment_id=1)

    v = evaluate_agreement([FIRST, ON_DUE], [act], as_of=at(2020, 3, 12))

    assert v[1].status == S.MET
    assert v[2].due_at == midnight(date(2020, 3, 16))


# --- met, and a chain ----------------------------------------------------------------------------

EXCHANGE = anchored(id=3, on=2, moment="met", due=5, title="Hostage exchange")


def test_a_chain_of_mixed_moments_resolves_in_order():
    pullout_done = report(date(2020, 3, 10), commitment_id=2)
    terms = [EXCHANGE, PULLOUT, CEASEFIRE]  # given out of order: anchors are judged first anyway

    before = evaluate_agreement(terms, [pullout_done], as_of=at(2020, 3, 9))
    after = evaluate_agreement(terms, [pullout_done], as_of=at(2020, 3, 10, 12))

    assert before[2].status == S.NOT_YET_DUE
    assert before[3].status == S.AWAITING_ANCHOR
    assert before[3].sentence == (
        "Awaiting its anchor: counted from 'Weapons pullout' being met, which has not happened yet."
    )
    assert after[2].status == S.MET
    assert after[3].due_at == midnight(date(2020, 3, 16))  # no later than the fifth day after the pullout


def test_an_anchor_met_but_not_yet_known_at_the_cutoff_leaves_the_dependent_waiting():
    late_news = report(date(2020, 3, 10), commitment_id=2, recorded_at=at(2020, 3, 12))
    terms = [CEASEFIRE, PULLOUT, EXCHANGE]

    then = evaluate_agreement(terms, [late_news], as_of=at(2020, 3, 11), known_at=at(2020, 3, 11))
    now = evaluate_agreement(terms, [late_news], as_of=at(2020, 3, 11), known_at=at(2020, 3, 13))

    assert then[3].status == S.AWAITING_ANCHOR
    assert now[3].due_at == midnight(date(2020, 3, 16))


# --- missed --------------------------------------------------------------------------------------

GRACED = term("deadline", id=1, window={"due": 10, "grace_days": 2}, title="Withdrawal")  # missed 13 March
ON_MISSED = anchored(id=2, on=1, moment="missed", due=5)


def test_counted_from_an_anchor_being_missed_it_starts_on_the_day_it_counted_as_missed():
    in_grace = evaluate_agreement([GRACED, ON_MISSED], [], as_of=at(2020, 3, 12, 23))
    missed = evaluate_agreement([GRACED, ON_MISSED], [], as_of=at(2020, 3, 13))

    assert in_grace[2].status == S.AWAITING_ANCHOR
    assert in_grace[2].reason.params["moment"] == "missed"
    assert missed[1].status == S.MISSED
    assert missed[2].due_at == midnight(date(2020, 3, 19))  # day 0 is 13 March: due 18 March


def test_an_anchor_met_late_after_its_grace_was_still_missed():
    act = report(date(2020, 3, 15), commitment_id=1)

    v = evaluate_agreement([GRACED, ON_MISSED], [act], as_of=at(2020, 3, 16))

    assert v[1].status == S.MET_LATE
    assert v[2].due_at == midnight(date(2020, 3, 19))


def test_an_anchor_met_within_its_grace_is_never_missed():
    act = report(date(2020, 3, 12), commitment_id=1)

    v = evaluate_agreement([GRACED, ON_MISSED], [act], as_of=at(2020, 4, 1))

    assert v[1].status == S.MET_LATE
    assert v[2].status == S.AWAITING_ANCHOR


def test_an_anchor_with_only_an_unconfirmed_claim_of_the_act_is_not_missed():
    claim = report(date(2020, 3, 9), commitment_id=1, source=PARTY_STATEMENT)

    v = evaluate_agreement([GRACED, ON_MISSED], [claim], as_of=at(2020, 3, 20))

    assert v[1].status == S.UNCONFIRMED
    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].reason.params["moment"] == "missed"


# --- breached ------------------------------------------------------------------------------------

BAN = term("prohibition", {**ATTACK, "recovery_days": 2}, id=1, title="Ceasefire")
ON_BREACH = anchored(id=2, on=1, moment="breached", due=10)


def test_counted_from_a_first_breach_it_waits_while_the_anchor_holds():
    v = evaluate_agreement([BAN, ON_BREACH], [], as_of=at(2020, 3, 20))

    assert v[1].status == S.IN_COMPLIANCE
    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].sentence == "Awaiting its anchor: counted from the first breach of 'Ceasefire', which has not happened."


def test_the_first_breach_stays_day_zero_after_recovery_and_later_breaches():
    violations = [attack(date(2020, 3, 5)), attack(date(2020, 3, 6)), attack(date(2020, 3, 18))]

    recovered = evaluate_agreement([BAN, ON_BREACH], violations[:2], as_of=at(2020, 3, 12))
    again = evaluate_agreement([BAN, ON_BREACH], violations, as_of=at(2020, 3, 19))

    assert recovered[1].status == S.IN_COMPLIANCE
    assert recovered[2].due_at == midnight(date(2020, 3, 16))  # from 5 March, due 15 March
    assert again[1].status == S.BREACHED and again[1].since == midnight(date(2020, 3, 18))
    assert again[2].due_at == midnight(date(2020, 3, 16))


def test_a_ceilings_first_breach_is_the_first_day_over_its_limit():
    ceiling = term("ceiling", {**ATTACK, "limit": 1}, id=1, title="Calm")
    events = [attack(at(2020, 3, 4, 9)), attack(at(2020, 3, 6, 8)), attack(at(2020, 3, 6, 9))]

    v = evaluate_agreement([ceiling, ON_BREACH], events, as_of=at(2020, 3, 7))

    assert v[1].status == S.BREACHED
    assert v[2].opens_at == midnight(date(2020, 3, 6))
    assert v[2].due_at == midnight(date(2020, 3, 17))


# --- closes --------------------------------------------------------------------------------------


def test_counted_from_the_end_of_an_anchors_window_day_zero_is_its_last_day():
    truce = term("prohibition", ATTACK, {"ends": 5}, id=1, title="Truce")  # last day 5 March
    after = anchored(id=2, on=1, moment="closes", due=3)

    during = evaluate_agreement([truce, after], [], as_of=at(2020, 3, 5, 23))
    closed = evaluate_agreement([truce, after], [], as_of=at(2020, 3, 6))

    assert during[2].sentence == "Awaiting its anchor: counted from the end of 'Truce', which has not come."
    assert closed[2].due_at == midnight(date(2020, 3, 9))


# --- milestones ----------------------------------------------------------------------------------

ELECTIONS = Milestone(id=7, key="elections", title="Elections held", rule=Rule(categories=("elections_held",)))
AFTER_ELECTIONS = replace(
    term("deadline", id=2, window={"anchor": "milestone", "anchor_milestone_id": 7, "anchor_moment": "reached",
                                   "due": 30}),
    anchor_milestone=ELECTIONS,
)


def test_counted_from_a_milestone_it_waits_until_a_counting_report_of_it():
    weak = report(date(2020, 3, 12), category="elections_held", source=LOCAL_PRESS, credibility=3)

    v = evaluate_agreement([AFTER_ELECTIONS], [weak], as_of=at(2020, 4, 1))

    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].reason.params == {"anchor": "Elections held", "anchor_key": "elections", "moment": "reached"}
    assert v[2].sentence == "Awaiting its anchor: counted from 'Elections held', not yet reported."


def test_a_milestone_is_reached_on_the_day_of_its_first_counting_report_by_anyone():
    held = report(date(2020, 3, 12), category="elections_held", actor1="Central Election Commission",
                  recorded_at=at(2020, 3, 13))

    not_known = evaluate_agreement([AFTER_ELECTIONS], [held], as_of=at(2020, 3, 12, 20))
    known = evaluate_agreement([AFTER_ELECTIONS], [held], as_of=at(2020, 3, 14))

    assert not_known[2].status == S.AWAITING_ANCHOR
    assert known[2].due_at == midnight(date(2020, 4, 12))  # 12 March + 30 days = 11 April


def test_a_report_of_a_milestone_affects_what_counts_from_it_and_what_counts_from_that():
    next_step = anchored(id=3, on=2, moment="met", due=5)
    change = Change(category="elections_held", sub_category="", admin1="", location="", actor1="",
                    commitment_id=None, first=at(2020, 3, 12), last=at(2020, 3, 12))
    unrelated = Change(category="talks", sub_category="", admin1="", location="", actor1="",
                       commitment_id=None, first=at(2020, 3, 12), last=at(2020, 3, 12))

    assert affected([AFTER_ELECTIONS, next_step], [change], as_of=at(2020, 4, 1)) == {2, 3}
    assert affected([AFTER_ELECTIONS, next_step], [unrelated], as_of=at(2020, 4, 1)) == set()
