"""Duties without a date: "restore federal services", "lift the designation", no day given.

A deadline with no due offset is tracked, not refused: open until done, met on the day it is
done, and with a reasonable time (`window.reasonable_days`, counted from the window's opening) it
is overdue once that time has passed without the act: a status of its own, never "missed".

The default agreement is signed on 29 February 2020 in Asia/Kabul (UTC+4:30). A reasonable time
of 30 days from the signing day ends at the end of 30 March 2020: overdue from Kabul midnight
starting 31 March.
"""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate, evaluate_agreement
from terms.rules import RuleError, Window, validate_terms
from tests.engine_factories import LOCAL_PRESS, at, midnight, report, term, utc
from tests.hypothesis_budget import examples

OPENS_AT = utc(2020, 2, 28, 19, 30)
OVERDUE_AT = midnight(date(2020, 3, 31))


def duty(id=1, **window):
    return term("deadline", id=id, key="lift-designation", window=window)


# --- open ---------------------------------------------------------------------------------------


def test_a_duty_without_a_date_is_open_and_never_missed():
    for as_of in (at(2020, 3, 1, 12), at(2021, 3, 1), at(2030, 1, 1)):
        v = evaluate(duty(), [], as_of=as_of)

        assert v.status == S.NOT_YET_DUE
        assert v.reason.code == "duty.open"
        assert v.due_at is None
        assert v.days_left is None and v.days_overdue is None
        assert v.since == OPENS_AT

    assert evaluate(duty(), [], as_of=at(2020, 6, 1, 12)).sentence == "Open: no date was set; not done as of 1 June 2020."


def test_an_open_duty_with_a_reasonable_time_counts_down_to_its_end():
    v = evaluate(duty(reasonable_days=30), [], as_of=at(2020, 3, 10, 12))

    assert v.status == S.NOT_YET_DUE
    assert v.days_left == 20
    assert v.due_at is None
    assert v.reason.code == "duty.open_reasonable"
    assert v.sentence == (
        "Open: no date was set; not done as of 10 March 2020; a reasonable time of 30 days from "
        "29 February 2020 ends 30 March 2020."
    )


def test_an_open_duty_is_due_soon_in_the_last_week_of_its_reasonable_time():
    v = evaluate(duty(reasonable_days=30), [], as_of=at(2020, 3, 30, 23, 59))

    assert v.status == S.DUE_SOON
    assert v.days_left == 0
    assert v.since == midnight(date(2020, 3, 23))


def test_before_its_window_opens_a_duty_does_not_apply_yet_and_earlier_acts_do_not_count():
    t = duty(starts=5)  # applies from 5 March

    before = evaluate(t, [], as_of=at(2020, 3, 2))
    after = evaluate(t, [report(date(2020, 3, 3))], as_of=at(2020, 3, 20))

    assert before.status == S.NOT_YET_DUE
    assert before.reason.code == "window.not_open"
    assert before.since is None
    assert after.status == S.NOT_YET_DUE
    assert after.reason.code == "duty.open"


# --- overdue ------------------------------------------------------------------------------------


def test_a_duty_not_done_within_its_reasonable_time_is_overdue_from_the_end_of_that_time():
    v = evaluate(duty(reasonable_days=30), [], as_of=at(2020, 4, 5, 12))

    assert v.status == S.OVERDUE
    assert v.status != S.MISSED
    assert v.since == OVERDUE_AT
    assert v.days_overdue == 6
    assert v.due_at is None
    assert v.reason.code == "duty.overdue"
    assert v.reason.params == {"reasonable_days": 30, "opens": "2020-02-29", "reasonable_ends": "2020-03-30"}
    assert v.sentence == (
        "Overdue, with no fixed deadline: a reasonable time of 30 days from 29 February 2020 ended "
        "30 March 2020, and no credible report shows it was done."
    )
    assert str(S.LABELS[v.status]) == "Overdue (no fixed deadline)"


def test_overdue_begins_at_local_midnight_after_the_last_day_of_the_reasonable_time():
    t = duty(reasonable_days=30)

    assert evaluate(t, [], as_of=OVERDUE_AT - timedelta(microseconds=1)).status == S.DUE_SOON
    assert evaluate(t, [], as_of=OVERDUE_AT).status == S.OVERDUE


# --- done ---------------------------------------------------------------------------------------


def test_a_duty_is_met_on_the_day_it_is_done():
    act = report(date(2020, 3, 15))

    v = evaluate(duty(reasonable_days=30), [act], as_of=at(2020, 4, 5))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 15))
    assert v.evidence == (act.id,)
    assert v.reason.code == "duty.met"
    assert v.sentence == "Met on 15 March 2020 (no date was set), per UNAMA (B2)."


def test_without_a_reasonable_time_a_duty_done_years_later_is_met_never_late():
    act = report(date(2023, 5, 1))

    v = evaluate(duty(), [act], as_of=at(2023, 6, 1))

    assert v.status == S.MET
    assert v.since == midnight(date(2023, 5, 1))


def test_done_on_the_last_day_of_its_reasonable_time_is_met():
    v = evaluate(duty(reasonable_days=30), [report(date(2020, 3, 30))], as_of=at(2020, 4, 5))

    assert v.status == S.MET


def test_done_after_its_reasonable_time_a_duty_is_met_late_from_the_day_it_was_done():
    t = duty(reasonable_days=30)
    act = report(date(2020, 4, 10))

    before = evaluate(t, [act], as_of=at(2020, 4, 9))
    after = evaluate(t, [act], as_of=at(2020, 4, 11))

    assert before.status == S.OVERDUE  # the act had not happened yet as of 9 April
    assert after.status == S.MET_LATE
    assert after.since == midnight(date(2020, 4, 10))
    assert after.reason.code == "duty.met_late"
    assert after.reason.params["days_late"] == 11
    assert after.sentence == (
        "Met late on 10 April 2020, 11 days after a reasonable time of 30 days ended (no fixed deadline), "
        "per UNAMA (B2)."
    )


def test_an_act_known_only_to_a_week_straddling_the_end_of_the_reasonable_time_is_late_by_its_last_day():
    t = duty(reasonable_days=30)
    # Some day from 28 March to 3 April, reported on 5 April.
    act = report(date(2020, 3, 28), precision="week", recorded_at=at(2020, 4, 5))

    during = evaluate(t, [act], as_of=at(2020, 3, 30, 12), known_at=at(2020, 4, 10))
    after = evaluate(t, [act], as_of=at(2020, 4, 10))

    assert during.status == S.DUE_SOON
    assert during.reason.code == "duty.open_reasonable"
    assert after.status == S.MET_LATE
    assert after.since == OVERDUE_AT
    assert after.reason.params["days_late"] == 4


# --- weighing -----------------------------------------------------------------------------------


def test_a_weak_claim_does_not_meet_a_duty_but_leaves_it_unconfirmed_rather_than_overdue():
    claim = report(date(2020, 3, 15), source=LOCAL_PRESS, credibility=4)

    v = evaluate(duty(reasonable_days=30), [claim], as_of=at(2020, 4, 5))

    assert v.status == S.UNCONFIRMED
    assert v.reason.params["without"] == S.OVERDUE


def test_a_credible_denial_after_the_act_disputes_a_duty():
    act = report(date(2020, 3, 15))
    denial = report(date(2020, 3, 20), stance="denies")

    v = evaluate(duty(reasonable_days=30), [act, denial], as_of=at(2020, 4, 5))

    assert v.status == S.DISPUTED
    assert v.reason.code == "disputed.denied"
    assert v.since == midnight(date(2020, 3, 20))


def test_a_disputed_act_on_an_overdue_duty_makes_it_disputed_between_overdue_and_met():
    act = report(date(2020, 3, 15), verification=((utc(2020, 3, 16), "disputed"),))

    v = evaluate(duty(reasonable_days=30), [act], as_of=at(2020, 4, 5))

    assert v.status == S.DISPUTED
    assert v.reason.params["without"] == S.OVERDUE
    assert v.reason.params["with"] == S.MET
    assert v.sentence == (
        "Disputed: overdue (no fixed deadline) on the undisputed reports, met if the 1 disputed ones hold."
    )


# --- anchored on it -----------------------------------------------------------------------------


LIFT = duty(id=1, reasonable_days=30)
INTERIM = term(
    "deadline", id=2, key="interim-administration",
    window={"anchor": "commitment", "anchor_commitment_id": 1, "due": 7},
)


def test_a_commitment_anchored_on_a_duty_awaits_it_then_counts_from_the_day_it_was_met():
    lifted = report(date(2020, 4, 10), commitment_id=1)

    waiting = evaluate_agreement([LIFT, INTERIM], [], as_of=at(2020, 4, 5))
    counting = evaluate_agreement([LIFT, INTERIM], [lifted], as_of=at(2020, 4, 12))
    missed = evaluate_agreement([LIFT, INTERIM], [lifted], as_of=at(2020, 4, 20))

    assert waiting[1].status == S.OVERDUE
    assert waiting[2].status == S.AWAITING_ANCHOR
    assert counting[1].status == S.MET_LATE
    assert counting[2].status == S.DUE_SOON
    assert counting[2].due_at == midnight(date(2020, 4, 18))  # 10 April is day 0, due the end of day 7
    assert missed[2].status == S.MISSED


def test_a_commitment_anchored_on_a_duty_met_in_time_counts_from_that_day():
    lifted = report(date(2020, 3, 15), commitment_id=1)

    v = evaluate_agreement([LIFT, INTERIM], [lifted], as_of=at(2020, 3, 16))

    assert v[1].status == S.MET
    assert v[2].opens_at == midnight(date(2020, 3, 15))
    assert v[2].reason.params == {"due": "2020-03-22", "days_left": 6}


# --- a property ---------------------------------------------------------------------------------


@settings(max_examples=examples(200), deadline=None)
@given(
    reasonable=st.none() | st.integers(1, 60),
    act_day=st.none() | st.integers(-5, 120),
    as_of_day=st.integers(-5, 150),
)
def test_a_duty_without_a_date_is_never_missed_and_late_only_after_a_reasonable_time(reasonable, act_day, as_of_day):
    signed = date(2020, 2, 29)
    t = duty(reasonable_days=reasonable)
    evidence = [] if act_day is None else [report(signed + timedelta(days=act_day))]

    v = evaluate(t, evidence, as_of=midnight(signed + timedelta(days=as_of_day)) + timedelta(hours=12))

    assert v.status != S.MISSED
    assert v.due_at is None
    if reasonable is None:
        assert v.status not in (S.OVERDUE, S.MET_LATE, S.DUE_SOON)
    elif v.status in (S.OVERDUE, S.MET_LATE):
        assert v.since >= midnight(signed + timedelta(days=reasonable + 1))


# --- the rule's checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "window", "field", "message"),
    [
        ("deadline", Window(due=10, reasonable_days=30), "window.reasonable_days", "a duty with a due date has no reasonable time"),
        ("deadline", Window(reasonable_days=-1), "window.reasonable_days", "must be 1 or more"),
        ("deadline", Window(reasonable_days=0), "window.reasonable_days", "window.due: 0"),
        ("deadline", Window(grace_days=3), "window.grace_days", "has no grace period"),
        ("target", Window(due=30, reasonable_days=30), "window.reasonable_days", "only a deadline"),
        ("target", Window(), "window.due", "a target needs a due offset"),
    ],
)
def test_the_rules_refuse_a_reasonable_time_that_does_not_fit(kind, window, field, message):
    rule = {"target": 1} if kind == "target" else {}
    with pytest.raises(RuleError) as raised:
        validate_terms(kind, rule, window)

    assert raised.value.field == field
    assert message in raised.value.message


def test_a_deadline_without_a_due_date_is_valid_with_or_without_a_reasonable_time():
    validate_terms("deadline", {}, Window())
    validate_terms("deadline", {}, Window(reasonable_days=30))
