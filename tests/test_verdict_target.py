"""Targets: "reduce checkpoints to at most 10 within 30 days", "release at least 100 prisoners".

Signed 29 February 2020 in Kabul; due 30 days after, by the end of 30 March 2020
(2020-03-30 19:30 UTC). The latest credible measurement at the due date decides.
"""

from datetime import date

import pytest

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate
from tests.engine_factories import LOCAL_PRESS, at, measurement, midnight, term, utc

DUE_AT = utc(2020, 3, 30, 19, 30)


def checkpoints(baseline=50, grace_days=0, **rule):
    return term(
        "target",
        rule={"target": 10, "direction": "at_most", "baseline": baseline, "unit": "checkpoints", **rule},
        window={"due": 30, "grace_days": grace_days},
    )


def prisoners(baseline=0, grace_days=0):
    return term(
        "target",
        rule={"target": 100, "direction": "at_least", "baseline": baseline, "unit": "prisoners"},
        window={"due": 30, "grace_days": grace_days},
    )


# --- before the due date ----------------------------------------------------------------


def test_before_due_the_latest_measurement_shows_progress_towards_an_at_most_target():
    m = measurement(date(2020, 3, 10), 30.0, id=101)

    v = evaluate(checkpoints(), [m], as_of=at(2020, 3, 15, 12))

    assert v.status == S.NOT_YET_DUE
    assert v.days_left == 15
    assert v.due_at == DUE_AT
    assert v.evidence == (101,)
    assert v.details["latest"] == 30.0
    assert v.details["baseline"] == 50
    assert v.details["progress"] == pytest.approx(0.5)  # from 50 towards 10, now at 30
    assert v.reason.code == "target.pending"
    assert v.reason.params == {
        "due": "2020-03-30",
        "days_left": 15,
        "target": 10,
        "unit": "checkpoints",
        "value": 30.0,
        "measured": "2020-03-10",
        "source": "UNAMA",
        "grade": "B2",
        "report": 101,
    }
    assert v.sentence == (
        "Target 10 checkpoints by the end of 30 March 2020; latest 30 checkpoints on 10 March 2020, per UNAMA (B2)."
    )


def test_before_due_progress_towards_an_at_least_target():
    m = measurement(date(2020, 3, 10), 40.0)

    v = evaluate(prisoners(), [m], as_of=at(2020, 3, 25))

    assert v.status == S.DUE_SOON
    assert v.days_left == 5
    assert v.details["progress"] == pytest.approx(0.4)
    assert v.details["direction"] == "at_least"


def test_without_a_baseline_progress_counts_from_the_first_measurement():
    first = measurement(date(2020, 3, 2), 40.0)
    latest = measurement(date(2020, 3, 12), 25.0)

    v = evaluate(checkpoints(baseline=None), [latest, first], as_of=at(2020, 3, 15))

    assert v.details["baseline"] == 40.0
    assert v.details["latest"] == 25.0
    assert v.details["progress"] == pytest.approx(0.5)  # from 40 towards 10, now at 25
    assert v.evidence == (latest.id,)


def test_progress_is_clamped_between_none_and_all():
    worse = measurement(date(2020, 3, 10), 70.0)
    beyond = measurement(date(2020, 3, 10), 4.0)

    assert evaluate(checkpoints(), [worse], as_of=at(2020, 3, 15)).details["progress"] == 0.0
    assert evaluate(checkpoints(), [beyond], as_of=at(2020, 3, 15)).details["progress"] == 1.0


def test_reaching_the_target_before_the_due_date_is_not_yet_met():
    # The level at the due date decides: it could still go back up.
    m = measurement(date(2020, 3, 10), 8.0)

    v = evaluate(checkpoints(), [m], as_of=at(2020, 3, 15))

    assert v.status == S.NOT_YET_DUE
    assert v.reason.code == "target.pending"


def test_never_measured_before_due_says_so():
    v = evaluate(checkpoints(), [], as_of=at(2020, 3, 25))

    assert v.status == S.DUE_SOON
    assert v.evidence == ()
    assert v.reason.code == "target.unmeasured.pending"
    assert v.sentence == "Target 10 checkpoints by the end of 30 March 2020; not measured yet."


# --- at the due date ---------------------------------------------------------------------


def test_the_latest_measurement_at_the_due_date_meets_the_target():
    m = measurement(date(2020, 3, 20), 8.0, id=111)

    v = evaluate(checkpoints(), [m], as_of=at(2020, 4, 2))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 20))
    assert v.evidence == (111,)
    assert v.reason.code == "target.met"
    assert v.reason.params == {
        "value": 8.0,
        "target": 10,
        "unit": "checkpoints",
        "date": "2020-03-20",
        "due": "2020-03-30",
        "source": "UNAMA",
        "grade": "B2",
        "report": 111,
    }
    assert v.sentence == (
        "Met: 8 checkpoints on 20 March 2020 against a target of 10 checkpoints due 30 March 2020, per UNAMA (B2)."
    )


def test_exactly_at_the_target_is_met():
    at_most = evaluate(checkpoints(), [measurement(date(2020, 3, 20), 10.0)], as_of=at(2020, 4, 2))
    at_least = evaluate(prisoners(), [measurement(date(2020, 3, 20), 100.0)], as_of=at(2020, 4, 2))

    assert at_most.status == S.MET
    assert at_least.status == S.MET


def test_going_back_above_the_target_after_the_due_date_stays_met():
    on_target = measurement(date(2020, 3, 20), 8.0, id=112)
    back_up = measurement(date(2020, 4, 5), 25.0, id=113)

    v = evaluate(checkpoints(), [on_target, back_up], as_of=at(2020, 4, 10))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 20))
    assert v.evidence == (112,)
    assert v.reason.params["value"] == 8.0
    assert v.details["latest"] == 25.0  # shown, but it does not decide


def test_an_earlier_on_target_level_that_slipped_back_before_due_does_not_meet_it():
    on_target = measurement(date(2020, 3, 10), 8.0)
    slipped = measurement(date(2020, 3, 25), 15.0, id=114)

    v = evaluate(checkpoints(), [on_target, slipped], as_of=at(2020, 4, 2))

    assert v.status == S.MISSED
    assert v.evidence == (114,)
    assert v.reason.params["value"] == 15.0


def test_met_since_the_start_of_the_last_unbroken_run_on_target():
    series = [
        measurement(date(2020, 3, 5), 9.0),
        measurement(date(2020, 3, 12), 12.0),
        measurement(date(2020, 3, 20), 8.0),
        measurement(date(2020, 3, 27), 7.0, id=115),
    ]

    v = evaluate(checkpoints(), series, as_of=at(2020, 4, 2))

    assert v.status == S.MET
    assert v.since == midnight(date(2020, 3, 20))
    assert v.evidence == (115,)
    assert v.reason.params["date"] == "2020-03-27"


def test_a_measurement_on_the_due_day_counts_as_at_the_due_date():
    m = measurement(date(2020, 3, 30), 9.0)

    v = evaluate(checkpoints(), [m], as_of=at(2020, 4, 2))

    assert v.status == S.MET


def test_reaching_the_target_after_the_due_date_is_met_late():
    at_due = measurement(date(2020, 3, 28), 15.0)
    late = measurement(date(2020, 4, 2), 9.0, id=121)

    v = evaluate(checkpoints(), [at_due, late], as_of=at(2020, 4, 10))

    assert v.status == S.MET_LATE
    assert v.since == midnight(date(2020, 4, 2))
    assert v.evidence == (121,)
    assert v.reason.code == "target.met_late"
    assert v.reason.params["days_late"] == 3
    assert v.sentence == (
        "Met late: 9 checkpoints on 2 April 2020, 3 days after the due date 30 March 2020, per UNAMA (B2)."
    )


def test_an_at_least_target_reached_after_the_due_date_is_met_late():
    late = measurement(date(2020, 4, 1), 120.0)

    v = evaluate(prisoners(), [measurement(date(2020, 3, 15), 60.0), late], as_of=at(2020, 4, 10))

    assert v.status == S.MET_LATE
    assert v.reason.params["days_late"] == 2


def test_off_target_at_the_due_date_is_missed_from_the_missed_instant():
    m = measurement(date(2020, 3, 28), 15.0, id=131)

    v = evaluate(checkpoints(), [m], as_of=at(2020, 4, 5, 12))

    assert v.status == S.MISSED
    assert v.since == DUE_AT
    assert v.days_overdue == 6
    assert v.evidence == (131,)
    assert v.reason.code == "target.missed"
    assert v.reason.params == {
        "value": 15.0,
        "target": 10,
        "unit": "checkpoints",
        "due": "2020-03-30",
        "date": "2020-03-28",
        "source": "UNAMA",
        "grade": "B2",
        "report": 131,
    }
    assert v.sentence == (
        "Missed: 15 checkpoints at the due date 30 March 2020 against a target of 10 checkpoints, per UNAMA (B2)."
    )


def test_an_at_least_target_short_at_the_due_date_is_missed():
    v = evaluate(prisoners(), [measurement(date(2020, 3, 28), 80.0)], as_of=at(2020, 4, 5))

    assert v.status == S.MISSED


def test_off_target_inside_the_grace_period_is_due_soon():
    m = measurement(date(2020, 3, 28), 15.0)

    v = evaluate(checkpoints(grace_days=5), [m], as_of=at(2020, 4, 1))

    assert v.status == S.DUE_SOON
    assert v.since == DUE_AT
    assert v.days_overdue == 2
    assert v.reason.code == "target.in_grace"
    assert v.reason.params["grace_ends"] == "2020-04-04"


def test_off_target_is_missed_once_the_grace_period_ends():
    m = measurement(date(2020, 3, 28), 15.0)
    missed_at = utc(2020, 4, 4, 19, 30)

    v = evaluate(checkpoints(grace_days=5), [m], as_of=at(2020, 4, 6))

    assert v.status == S.MISSED
    assert v.since == missed_at


def test_never_measured_by_the_due_date_is_no_data():
    v = evaluate(checkpoints(), [], as_of=at(2020, 4, 5))

    assert v.status == S.NO_DATA
    assert v.since == DUE_AT
    assert v.evidence == ()
    assert v.reason.code == "target.no_data"
    assert v.reason.params == {"due": "2020-03-30", "target": 10, "unit": "checkpoints"}
    assert v.sentence == "No measurement of the quantity was reported by the due date 30 March 2020."


def test_never_measured_inside_the_grace_period_says_not_measured_yet():
    v = evaluate(checkpoints(grace_days=5), [], as_of=at(2020, 4, 1))

    assert v.status == S.DUE_SOON
    assert v.reason.code == "target.unmeasured.in_grace"
    assert v.sentence == (
        "Target 10 checkpoints was due by the end of 30 March 2020; not measured yet; grace ends 4 April 2020."
    )


def test_a_weak_measurement_decides_nothing():
    weak = measurement(date(2020, 3, 20), 5.0, source=LOCAL_PRESS, credibility=3)

    v = evaluate(checkpoints(), [weak], as_of=at(2020, 4, 5))

    assert v.status == S.UNCONFIRMED  # a figure only a weak source gives: not met, and not "never measured"
    assert v.reason.params["without"] == S.NO_DATA


def test_a_disputed_measurement_that_would_meet_the_target_makes_it_disputed():
    credible = measurement(date(2020, 3, 20), 15.0)
    disputed = measurement(date(2020, 3, 28), 8.0, verification=((at(2020, 3, 29), "disputed"),))

    v = evaluate(checkpoints(), [credible, disputed], as_of=at(2020, 4, 5))

    assert v.status == S.DISPUTED
    assert v.reason.params == {
        "without": S.MISSED, "with": S.MET, "disputed": 1, "with_reports": [disputed.id], "without_reports": [credible.id],
    }
