"""Deadlines: "within 10 days of signing".

The default agreement is signed on 29 February 2020 in Asia/Kabul (UTC+4:30),
so a 10-day deadline is due by the end of 10 March 2020, which is
2020-03-10 19:30 UTC; the window opens at Kabul midnight starting 29 February,
2020-02-28 19:30 UTC.
"""

from datetime import date, timedelta

import pytest

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import SourceRef, evaluate
from tests.engine_factories import (
    ACLED,
    LOCAL_PRESS,
    NEW_YORK,
    PARTY_STATEMENT,
    UNAMA,
    at,
    midnight,
    report,
    term,
    utc,
)

OPENS_AT = utc(2020, 2, 28, 19, 30)
DUE_AT = utc(2020, 3, 10, 19, 30)


def deadline(**window):
    return term("deadline", window={"due": 10, **window})


# --- before the due date ------------------------------------------------------


def test_more_than_a_week_before_the_due_date_is_not_yet_due():
    v = evaluate(deadline(), [], as_of=at(2020, 3, 1, 12))

    assert v.status == S.NOT_YET_DUE
    assert v.days_left == 9
    assert v.days_overdue is None
    assert v.since == OPENS_AT
    assert v.opens_at == OPENS_AT
    assert v.due_at == DUE_AT
    assert v.evidence == ()
    assert v.reason.code == "deadline.pending"
    assert v.reason.params == {"due": "2020-03-10", "days_left": 9}
    assert v.sentence == "Due by the end of 10 March 2020."


def test_within_due_soon_days_is_due_soon_since_the_start_of_that_day():
    v = evaluate(deadline(), [], as_of=at(2020, 3, 3, 9))

    assert v.status == S.DUE_SOON
    assert v.days_left == 7
    assert v.since == midnight(date(2020, 3, 3))
    assert v.reason.code == "deadline.pending"
    assert v.reason.params == {"due": "2020-03-10", "days_left": 7}


def test_the_last_minute_of_the_day_before_due_soon_is_still_not_yet_due():
    v = evaluate(deadline(), [], as_of=at(2020, 3, 2, 23, 59))

    assert v.status == S.NOT_YET_DUE
    assert v.days_left == 8


def test_due_soon_days_is_a_parameter():
    as_of = at(2020, 3, 5, 12)

    assert evaluate(deadline(), [], as_of=as_of, due_soon_days=3).status == S.NOT_YET_DUE
    assert evaluate(deadline(), [], as_of=as_of, due_soon_days=5).status == S.DUE_SOON


def test_on_the_due_day_itself_it_is_due_soon_with_no_days_left():
    v = evaluate(deadline(), [], as_of=at(2020, 3, 10, 23, 0))

    assert v.status == S.DUE_SOON
    assert v.days_left == 0


# --- met, met late ------------------------------------------------------------------


def test_an_act_two_days_early_is_met_on_that_day():
    act = report(date(2020, 3, 8), id=11)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 12))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 8))
    assert v.evidence == (11,)
    assert v.days_left is None and v.days_overdue is None
    assert v.reason.code == "deadline.met"
    assert v.reason.params == {
        "date": "2020-03-08",
        "due": "2020-03-10",
        "days_early": 2,
        "source": "UNAMA",
        "grade": "B2",
        "report": 11,
    }
    assert v.sentence == "Met on 8 March 2020, 2 days before the deadline, per UNAMA (B2)."


def test_met_is_met_straight_away_not_only_at_the_due_date():
    act = report(at(2020, 3, 2, 10, 15), id=12)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 2, 11))

    assert v.status == S.MET
    assert v.since == at(2020, 3, 2, 10, 15)
    assert v.reason.params["days_early"] == 8


def test_a_met_deadline_stays_met_long_after():
    act = report(date(2020, 3, 8))

    v = evaluate(deadline(), [act], as_of=at(2021, 1, 1))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 8))


def test_the_first_act_decides_when_several_report_it():
    later = report(date(2020, 3, 9), id=21)
    earlier = report(date(2020, 3, 4), id=22)

    v = evaluate(deadline(), [later, earlier], as_of=at(2020, 3, 12))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 4))
    assert v.evidence == (22,)
    assert v.reason.params["days_early"] == 6


def test_an_act_two_days_after_the_due_date_is_met_late():
    act = report(date(2020, 3, 12), id=13)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 20))

    assert v.status == S.MET_LATE
    assert v.since == midnight(date(2020, 3, 12))
    assert v.evidence == (13,)
    assert v.reason.code == "deadline.met_late"
    assert v.reason.params == {
        "date": "2020-03-12",
        "due": "2020-03-10",
        "days_late": 2,
        "source": "UNAMA",
        "grade": "B2",
        "report": 13,
    }
    assert v.sentence == "Met late on 12 March 2020, 2 days after the deadline, per UNAMA (B2)."


def test_an_act_inside_the_grace_period_is_met_late():
    act = report(date(2020, 3, 12))

    v = evaluate(deadline(grace_days=3), [act], as_of=at(2020, 3, 12, 12))

    assert v.status == S.MET_LATE
    assert v.reason.params["days_late"] == 2


def test_an_act_after_the_deadline_was_missed_is_met_late():
    act = report(date(2020, 4, 1))

    v = evaluate(deadline(), [act], as_of=at(2020, 4, 2))

    assert v.status == S.MET_LATE
    assert v.since == midnight(date(2020, 4, 1))
    assert v.reason.params["days_late"] == 22


# --- grace and missed ---------------------------------------------------------------


def test_inside_the_grace_period_it_is_due_soon_with_reason_in_grace():
    v = evaluate(deadline(grace_days=3), [], as_of=at(2020, 3, 12, 10))

    assert v.status == S.DUE_SOON
    assert v.since == DUE_AT
    assert v.days_overdue == 2
    assert v.days_left is None
    assert v.reason.code == "deadline.in_grace"
    assert v.reason.params == {"due": "2020-03-10", "grace_ends": "2020-03-13"}
    assert v.sentence == "Was due by the end of 10 March 2020; the grace period ends 13 March 2020."


def test_missed_once_due_date_plus_grace_has_passed_since_the_missed_instant():
    missed_at = utc(2020, 3, 13, 19, 30)  # end of 13 March, Kabul

    v = evaluate(deadline(grace_days=3), [], as_of=at(2020, 3, 20, 8))

    assert v.status == S.MISSED
    assert v.since == missed_at  # when the rule says it was missed, not when we looked
    assert v.days_overdue == 10
    assert v.evidence == ()
    assert v.reason.code == "deadline.missed"
    assert v.reason.params == {"due": "2020-03-10", "grace_days": 3}
    assert v.sentence == "Missed: due by the end of 10 March 2020, and no credible report shows it happened."


def test_missed_exactly_at_the_end_of_the_grace_period_not_a_moment_before():
    missed_at = utc(2020, 3, 13, 19, 30)

    just_before = evaluate(deadline(grace_days=3), [], as_of=missed_at - timedelta(microseconds=1))
    at_the_instant = evaluate(deadline(grace_days=3), [], as_of=missed_at)

    assert just_before.status == S.DUE_SOON
    assert just_before.reason.code == "deadline.in_grace"
    assert at_the_instant.status == S.MISSED
    assert at_the_instant.since == missed_at


def test_acts_before_the_window_opens_do_not_count():
    # Opens on 5 March (day 5), due 10 March.
    too_early = report(date(2020, 3, 4), id=31)

    v = evaluate(deadline(starts=5), [too_early], as_of=at(2020, 3, 20))

    assert v.status == S.MISSED
    assert v.evidence == ()


def test_an_act_on_the_opening_day_counts():
    on_opening_day = report(date(2020, 3, 5), id=32)

    v = evaluate(deadline(starts=5), [on_opening_day], as_of=at(2020, 3, 20))

    assert v.status == S.MET
    assert v.evidence == (32,)
    assert v.opens_at == midnight(date(2020, 3, 5))


def test_a_report_that_it_did_not_happen_is_not_an_act():
    denial = report(date(2020, 3, 5), stance="denies", source=ACLED)

    v = evaluate(deadline(), [denial], as_of=at(2020, 3, 20))

    assert v.status == S.MISSED


def test_a_commitment_discussed_but_not_agreed_is_not_tracked():
    act = report(date(2020, 3, 5))

    v = evaluate(term("deadline", tracked=False), [act], as_of=at(2020, 3, 20))

    assert v.status == S.NOT_TRACKED
    assert v.reason.code == "not_tracked"
    assert v.since is None
    assert v.evidence == ()
    assert v.sentence == "Discussed but not agreed: recorded, not judged."


def test_a_ceiling_not_tracked_is_not_tracked_either():
    events = [report(date(2020, 3, 5)) for _ in range(3)]

    v = evaluate(term("ceiling", tracked=False), events, as_of=at(2020, 3, 20))

    assert v.status == S.NOT_TRACKED


# --- time zones -----------------------------------------------------------------------


def test_action_at_2359_kabul_on_due_day_is_met_on_time():
    act = report(at(2020, 3, 10, 23, 59), id=41)
    assert act.occurred_at == utc(2020, 3, 10, 19, 29)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 11, 12))

    assert v.status == S.MET
    assert v.since == utc(2020, 3, 10, 19, 29)
    assert v.reason.params["days_early"] == 0
    assert v.sentence == "Met on 10 March 2020, on the deadline, per UNAMA (B2)."


def test_action_at_0001_kabul_the_day_after_due_is_met_late():
    act = report(at(2020, 3, 11, 0, 1), id=42)
    assert act.occurred_at == utc(2020, 3, 10, 19, 31)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 11, 12))

    assert v.status == S.MET_LATE
    assert v.since == utc(2020, 3, 10, 19, 31)
    assert v.reason.params["days_late"] == 1
    assert v.reason.params["date"] == "2020-03-11"  # the Kabul date, though it was still 10 March in UTC


def test_a_day_precision_report_stored_at_local_midnight_of_the_due_day_is_on_time():
    act = report(date(2020, 3, 10), id=43)
    assert act.occurred_at == utc(2020, 3, 9, 19, 30)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 12))

    assert v.status == S.MET
    assert v.reason.params["date"] == "2020-03-10"
    assert v.reason.params["days_early"] == 0


def test_a_day_precision_report_of_the_day_after_due_is_late():
    act = report(date(2020, 3, 11))

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 12))

    assert v.status == S.MET_LATE
    assert v.reason.params["days_late"] == 1


def test_without_grace_the_deadline_is_missed_at_1930_utc_on_the_due_day():
    missed_at = utc(2020, 3, 10, 19, 30)

    before = evaluate(deadline(), [], as_of=utc(2020, 3, 10, 19, 29, 59))
    after = evaluate(deadline(), [], as_of=missed_at)

    assert before.status == S.DUE_SOON
    assert before.days_left == 0
    assert after.status == S.MISSED
    assert after.since == missed_at
    assert after.due_at == missed_at
    assert after.days_overdue == 1  # it is already 11 March in Kabul


def ny_deadline(signed_on, **window):
    return term("deadline", window={"due": 10, **window}, time_zone=NEW_YORK, signed_on=signed_on)


def test_a_deadline_on_the_spring_forward_day_ends_at_midnight_eastern_daylight_time():
    # Clocks in New York went from 02:00 EST to 03:00 EDT on 8 March 2020; the
    # end of that day is 00:00 EDT on 9 March, 04:00 UTC (not 05:00 as in winter).
    t = ny_deadline(date(2020, 2, 27))
    due_at = utc(2020, 3, 9, 4, 0)

    on_time = report(at(2020, 3, 8, 23, 59, tz=NEW_YORK), tz=NEW_YORK)
    assert on_time.occurred_at == utc(2020, 3, 9, 3, 59)
    late = report(at(2020, 3, 9, 0, 30, tz=NEW_YORK), tz=NEW_YORK)
    assert late.occurred_at == utc(2020, 3, 9, 4, 30)  # 04:30 UTC would be 23:30 on 8 March in EST

    assert evaluate(t, [], as_of=due_at).due_at == due_at
    assert evaluate(t, [on_time], as_of=utc(2020, 3, 10)).status == S.MET
    assert evaluate(t, [late], as_of=utc(2020, 3, 10)).status == S.MET_LATE
    assert evaluate(t, [], as_of=due_at - timedelta(seconds=1)).status == S.DUE_SOON
    missed = evaluate(t, [], as_of=due_at)
    assert missed.status == S.MISSED
    assert missed.since == due_at


def test_a_deadline_the_day_before_spring_forward_ends_at_midnight_eastern_standard_time():
    t = ny_deadline(date(2020, 2, 26))  # due 7 March

    v = evaluate(t, [], as_of=utc(2020, 3, 9))

    assert v.due_at == utc(2020, 3, 8, 5, 0)
    assert v.status == S.MISSED
    assert v.since == utc(2020, 3, 8, 5, 0)


def test_a_deadline_on_the_fall_back_day_ends_at_midnight_eastern_standard_time():
    # 1 November 2020: 02:00 EDT became 01:00 EST; that day lasted 25 hours.
    t = ny_deadline(date(2020, 10, 22))  # due 1 November

    v = evaluate(t, [], as_of=utc(2020, 11, 3))

    assert v.due_at == utc(2020, 11, 2, 5, 0)
    assert v.opens_at == utc(2020, 10, 22, 4, 0)
    assert v.since == utc(2020, 11, 2, 5, 0)


def test_grace_ending_the_day_clocks_spring_forward_names_that_day():
    # Due 7 March with one grace day: the grace period ends 8 March (the
    # 23-hour day), and the deadline is missed at 00:00 EDT on 9 March.
    t = ny_deadline(date(2020, 2, 26), grace_days=1)

    in_grace = evaluate(t, [], as_of=at(2020, 3, 8, 12, tz=NEW_YORK))
    missed = evaluate(t, [], as_of=utc(2020, 3, 9, 4, 0))

    assert in_grace.status == S.DUE_SOON
    assert in_grace.reason.code == "deadline.in_grace"
    assert in_grace.reason.params["grace_ends"] == "2020-03-08"
    assert in_grace.days_overdue == 1
    assert missed.status == S.MISSED
    assert missed.since == utc(2020, 3, 9, 4, 0)


# --- weighing the evidence ----------------------------------------------------------


@pytest.mark.parametrize("reliability, credibility", [("A", 1), ("A", 2), ("B", 1), ("B", 2)])
def test_a_claim_graded_b2_or_better_counts(reliability, credibility):
    source = SourceRef(id=9, name="Mission", reliability=reliability)
    act = report(date(2020, 3, 8), source=source, credibility=credibility, id=51)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 20))

    assert v.status == S.MET
    assert v.evidence == (51,)
    assert v.reason.params["grade"] == f"{reliability}{credibility}"


@pytest.mark.parametrize("reliability, credibility", [("A", 3), ("B", 3), ("C", 1), ("C", 2), ("D", 1), ("F", 6)])
def test_a_claim_weaker_than_b2_decides_nothing_and_leaves_the_deadline_unconfirmed(reliability, credibility):
    source = SourceRef(id=9, name="Mission", reliability=reliability)
    act = report(date(2020, 3, 8), id=77, source=source, credibility=credibility)

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 20))

    # Not met (the claim decides nothing), but not missed like a deadline nobody reported on either.
    assert v.status == S.UNCONFIRMED
    assert v.reason.params["without"] == S.MISSED
    assert v.evidence == (77,)
    assert v.sentence == (
        f"Unconfirmed: claimed by Mission on 8 March 2020 ({reliability}{credibility}), not confirmed by a "
        "credible report; missed on credible reports alone."
    )


def test_a_verified_report_counts_whatever_its_grade():
    act = report(
        date(2020, 3, 8),
        id=52,
        source=PARTY_STATEMENT,
        credibility=6,
        verification=((at(2020, 3, 9), "verified"),),
    )

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 20))

    assert v.status == S.MET
    assert v.evidence == (52,)
    assert v.reason.params["grade"] == "F6"


@pytest.mark.parametrize("credibility", [1, 6])
def test_a_rejected_report_never_counts(credibility):
    act = report(
        date(2020, 3, 8),
        source=ACLED,
        credibility=credibility,
        verification=((at(2020, 3, 9), "verified"), (at(2020, 3, 10), "rejected")),
    )

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 20))

    assert v.status == S.MISSED


def test_a_disputed_act_that_would_meet_a_missed_deadline_makes_it_disputed():
    act = report(date(2020, 3, 8), id=61, verification=((at(2020, 3, 9), "disputed"),))

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 20))

    assert v.status == S.DISPUTED
    assert v.reason.code == "disputed.evidence"
    assert v.reason.params == {
        "without": S.MISSED, "with": S.MET, "disputed": 1, "with_reports": [61], "without_reports": [],
    }
    assert v.evidence == (61,)
    assert v.since == DUE_AT  # disputed from when it would otherwise have been missed
    assert v.sentence.startswith("Disputed: missed on the undisputed reports, met if the 1 disputed")


def test_a_disputed_act_while_still_due_is_disputed_from_the_act():
    act = report(date(2020, 3, 5), id=62, verification=((at(2020, 3, 6), "disputed"),))

    v = evaluate(deadline(), [act], as_of=at(2020, 3, 7))

    assert v.status == S.DISPUTED
    assert v.reason.params == {
        "without": S.DUE_SOON, "with": S.MET, "disputed": 1, "with_reports": [62], "without_reports": [],
    }
    assert v.since == midnight(date(2020, 3, 5))


def test_a_disputed_report_that_would_not_change_the_outcome_changes_nothing():
    act = report(date(2020, 3, 5), id=63)
    disputed = report(date(2020, 3, 8), id=64, verification=((at(2020, 3, 9), "disputed"),))

    v = evaluate(deadline(), [act, disputed], as_of=at(2020, 3, 20))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 5))
    assert v.evidence == (63,)
    assert v.reason.code == "deadline.met"


def test_a_weak_claim_of_the_act_does_not_make_it_disputed_but_unconfirmed():
    weak = report(date(2020, 3, 8), source=LOCAL_PRESS, credibility=3)

    v = evaluate(deadline(), [weak], as_of=at(2020, 3, 20))

    assert v.status == S.UNCONFIRMED
    assert v.since == utc(2020, 3, 10, 19, 30)  # from when it would have been missed


def test_a_credible_denial_after_a_credible_act_makes_it_disputed():
    act = report(date(2020, 3, 5), id=71)
    denial = report(date(2020, 3, 7), id=72, stance="denies", source=ACLED, credibility=2)

    v = evaluate(deadline(), [act, denial], as_of=at(2020, 3, 20))

    assert v.status == S.DISPUTED
    assert v.reason.code == "disputed.denied"
    assert v.reason.params == {
        "act": 71, "denial": 72, "source": "ACLED", "grade": "A2", "report": 72,
        "without": S.MISSED, "with": S.MET, "with_reports": [71], "without_reports": [72],
    }
    assert v.evidence == (71, 72)
    assert v.since == midnight(date(2020, 3, 7))
    assert v.sentence == "Disputed: one credible report says it happened, another (ACLED, A2) denies it."


def test_a_weak_denial_does_not_dispute_a_credible_act():
    act = report(date(2020, 3, 5), id=73)
    denial = report(date(2020, 3, 7), stance="denies", source=PARTY_STATEMENT, credibility=5)

    v = evaluate(deadline(), [act, denial], as_of=at(2020, 3, 20))

    assert v.status == S.MET
    assert v.evidence == (73,)


def test_a_denial_from_before_the_act_does_not_dispute_it():
    denial = report(date(2020, 3, 3), stance="denies", source=ACLED, credibility=2)
    act = report(date(2020, 3, 5), id=74)

    v = evaluate(deadline(), [denial, act], as_of=at(2020, 3, 20))

    assert v.status == S.MET
    assert v.evidence == (74,)


def test_with_two_credible_denials_the_verdict_does_not_depend_on_their_order():
    act = report(date(2020, 3, 5), id=75)
    first = report(date(2020, 3, 6), id=77, stance="denies", source=ACLED, credibility=2)
    second = report(date(2020, 3, 8), id=76, stance="denies", source=UNAMA, credibility=1)

    one = evaluate(deadline(), [act, first, second], as_of=at(2020, 3, 20))
    other = evaluate(deadline(), [second, act, first], as_of=at(2020, 3, 20))

    assert one == other
    assert one.status == S.DISPUTED
    assert one.reason.params["denial"] == 77  # the earliest denial
