"""Ceilings: "no more than 2 attacks a day", "no more than 5 in the first month".

Signed 29 February 2020 in Kabul; the window opens at Kabul midnight starting
29 February (2020-02-28 19:30 UTC) and runs on. Days are Kabul calendar days.
A day has data when a source's coverage period covers it or a report falls on
it; a covered day without reports is a day with zero events.
"""

from datetime import date

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate
from tests.engine_factories import ACLED, LOCAL_PRESS, at, coverage, midnight, report, term, utc

OPENS_AT = utc(2020, 2, 28, 19, 30)
ALWAYS = coverage(date(2020, 1, 1))


def ceiling(limit=2, window=None, **rule):
    return term("ceiling", rule={"limit": limit, **rule}, window=window or {})


def attacks(day, n, *, hour=8, **kwargs):
    """n exact-time events on a Kabul day, an hour apart."""
    return [report(at(day.year, day.month, day.day, hour + i), **kwargs) for i in range(n)]


# --- days with and without data -----------------------------------------------------


def test_a_covered_day_without_reports_is_a_day_with_zero_events():
    v = evaluate(ceiling(), [], as_of=at(2020, 3, 3, 12), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.since == OPENS_AT
    assert v.evidence == ()
    assert v.details["daily"] == [("2020-02-29", 0), ("2020-03-01", 0), ("2020-03-02", 0), ("2020-03-03", 0)]
    assert v.reason.code == "ceiling.ok"
    assert v.reason.params == {"limit": 2, "days_with_data": 4, "days": 4, "breached_days": 0}
    assert v.sentence == "No day over the limit of 2; 4 of 4 days had data."


def test_days_no_source_covers_are_no_data_not_zero():
    v = evaluate(ceiling(), [], as_of=at(2020, 3, 3, 12))

    assert v.status == S.NO_DATA
    assert v.since == OPENS_AT
    assert v.details["daily"] == [
        ("2020-02-29", None),
        ("2020-03-01", None),
        ("2020-03-02", None),
        ("2020-03-03", None),
    ]
    assert v.reason.code == "ceiling.no_data"
    assert v.reason.params["days_with_data"] == 0
    assert v.reason.params["days"] == 4
    assert v.sentence == "No source covers these 4 days, so compliance cannot be judged."


def test_days_with_data_counts_covered_days_and_days_with_reports():
    one = report(date(2020, 2, 29))
    partly = coverage(date(2020, 3, 1), date(2020, 3, 2))

    v = evaluate(ceiling(), [one], as_of=at(2020, 3, 3, 12), coverage=[partly])

    assert v.status == S.IN_COMPLIANCE
    assert v.details["daily"] == [("2020-02-29", 1), ("2020-03-01", 0), ("2020-03-02", 0), ("2020-03-03", None)]
    assert v.reason.params["days_with_data"] == 3
    assert v.reason.params["days"] == 4
    assert v.sentence == "No day over the limit of 2; 3 of 4 days had data."


def test_coverage_of_the_rules_province_covers_it_and_another_provinces_does_not():
    t = ceiling(admin1=["Kandahar"])
    as_of = at(2020, 3, 1, 12)

    assert evaluate(t, [], as_of=as_of, coverage=[coverage(date(2020, 1, 1), admin1="KANDAHAR ")]).status == (
        S.IN_COMPLIANCE
    )
    assert evaluate(t, [], as_of=as_of, coverage=[coverage(date(2020, 1, 1), admin1="Herat")]).status == S.NO_DATA
    assert evaluate(t, [], as_of=as_of, coverage=[ALWAYS]).status == S.IN_COMPLIANCE  # the whole country


# --- breaches -----------------------------------------------------------------------------------


def test_a_day_over_the_limit_is_a_breach_since_the_event_that_passed_it():
    # Ids deliberately out of time order: the third event *in time* passes a limit of 2.
    e1 = report(at(2020, 3, 3, 8), id=203)
    e2 = report(at(2020, 3, 3, 11), id=201)
    e3 = report(at(2020, 3, 3, 15), id=202)

    v = evaluate(ceiling(), [e3, e1, e2], as_of=at(2020, 3, 4, 12), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 3, 15)
    assert v.evidence == (203, 201, 202)
    assert v.details["breached_days"] == ["2020-03-03"]
    assert ("2020-03-03", 3) in v.details["daily"]
    assert v.reason.code == "ceiling.breached"
    assert v.reason.params == {
        "limit": 2,
        "days_with_data": 5,
        "days": 5,
        "breached_days": 1,
        "date": "2020-03-03",
        "count": 3,
        "worst": 3,
    }
    assert v.sentence == (
        "Breached: 3 events on 3 March 2020 against a limit of 2 a day (1 day over the limit; 5 of 5 days had data)."
    )


def test_a_day_at_the_limit_is_in_compliance():
    v = evaluate(ceiling(), attacks(date(2020, 3, 3), 2), as_of=at(2020, 3, 4, 12), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert ("2020-03-03", 2) in v.details["daily"]


def test_a_breach_is_a_breach_the_moment_it_happens_on_the_current_day():
    events = attacks(date(2020, 3, 3), 3)

    v = evaluate(ceiling(), events, as_of=at(2020, 3, 3, 10, 30), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 3, 10)


def test_with_a_limit_of_zero_the_first_event_is_the_breach():
    v = evaluate(ceiling(limit=0), attacks(date(2020, 3, 3), 1, hour=14), as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 3, 14)


def test_the_count_is_per_kabul_day_not_per_utc_day():
    # 22:00 and 23:00 Kabul on 2 March are 17:30 and 18:30 UTC on 2 March; 01:00
    # Kabul on 3 March is 20:30 UTC on 2 March. Three on one UTC day, but two
    # on 2 March and one on 3 March in Kabul.
    events = [report(at(2020, 3, 2, 22)), report(at(2020, 3, 2, 23)), report(at(2020, 3, 3, 1))]

    v = evaluate(ceiling(), events, as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert ("2020-03-02", 2) in v.details["daily"]
    assert ("2020-03-03", 1) in v.details["daily"]


def test_a_breach_over_several_days_counts_from_its_first_day_and_relies_on_all_its_events():
    day1 = attacks(date(2020, 3, 3), 3)
    day2 = attacks(date(2020, 3, 4), 4)

    v = evaluate(ceiling(), day1 + day2, as_of=at(2020, 3, 5, 12), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == day1[2].occurred_at
    assert v.evidence == tuple(e.id for e in day1 + day2)
    assert v.reason.params["breached_days"] == 2
    assert v.reason.params["date"] == "2020-03-04"
    assert v.reason.params["count"] == 4
    assert v.reason.params["worst"] == 4


# --- recovery -------------------------------------------------------------------------------------


def test_recovery_after_recovery_days_clean_days_with_data():
    breach = attacks(date(2020, 3, 3), 3)

    v = evaluate(ceiling(), breach, as_of=at(2020, 3, 7), coverage=[ALWAYS])  # 4, 5, 6 March clean

    assert v.status == S.IN_COMPLIANCE
    assert v.since == midnight(date(2020, 3, 7))
    assert v.evidence == ()
    assert v.reason.code == "ceiling.recovered"
    assert v.reason.params == {
        "limit": 2,
        "days_with_data": 7,
        "days": 7,
        "breached_days": 1,
        "last_breach": "2020-03-03",
    }
    assert v.sentence == (
        "In compliance again since the breach on 3 March 2020 (1 day over the limit of 2; 7 of 7 days had data)."
    )


def test_the_partial_current_day_does_not_count_as_clean():
    breach = attacks(date(2020, 3, 3), 3)

    v = evaluate(ceiling(), breach, as_of=at(2020, 3, 6, 23, 59), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == breach[2].occurred_at


def test_recovery_days_is_the_rules():
    breach = attacks(date(2020, 3, 3), 3)
    t = ceiling(recovery_days=1)

    assert evaluate(t, breach, as_of=at(2020, 3, 4, 23), coverage=[ALWAYS]).status == S.BREACHED
    v = evaluate(t, breach, as_of=at(2020, 3, 5), coverage=[ALWAYS])
    assert v.status == S.IN_COMPLIANCE
    assert v.since == midnight(date(2020, 3, 5))


def test_a_day_under_the_limit_but_not_empty_is_clean():
    breach = attacks(date(2020, 3, 3), 3)
    quiet = [*attacks(date(2020, 3, 4), 2), *attacks(date(2020, 3, 5), 1)]

    v = evaluate(ceiling(), breach + quiet, as_of=at(2020, 3, 7), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.since == midnight(date(2020, 3, 7))


def test_days_without_data_do_not_count_towards_recovery():
    breach = attacks(date(2020, 3, 3), 3)
    until_4_march = coverage(date(2020, 1, 1), date(2020, 3, 4))
    later_report_7 = report(date(2020, 3, 7))
    later_report_8 = report(date(2020, 3, 8))

    # Only 4 March is a clean day with data: still breached on 10 March.
    v = evaluate(ceiling(), breach, as_of=at(2020, 3, 10), coverage=[until_4_march])
    assert v.status == S.BREACHED
    assert v.details["daily"][-1] == ("2020-03-09", None)

    # A report on 7 March makes it a day with data (1 event, under the limit): two clean days.
    v = evaluate(ceiling(), breach + [later_report_7], as_of=at(2020, 3, 10), coverage=[until_4_march])
    assert v.status == S.BREACHED

    # One more on 8 March: the third clean day with data ends the breach at the end of 8 March.
    v = evaluate(ceiling(), breach + [later_report_7, later_report_8], as_of=at(2020, 3, 10), coverage=[until_4_march])
    assert v.status == S.IN_COMPLIANCE
    assert v.since == midnight(date(2020, 3, 9))
    assert v.reason.params["days_with_data"] == 7  # 29 Feb to 4 March, 7 and 8 March
    assert v.reason.params["days"] == 10


def test_a_new_breach_after_recovery_is_a_new_episode():
    first = attacks(date(2020, 3, 3), 3)
    second = attacks(date(2020, 3, 9), 3, hour=12)

    v = evaluate(ceiling(), first + second, as_of=at(2020, 3, 10), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 9, 14)
    assert v.evidence == tuple(e.id for e in second)
    assert v.reason.params["breached_days"] == 2
    assert v.reason.params["date"] == "2020-03-09"


def test_a_breach_before_recovery_extends_the_same_episode():
    first = attacks(date(2020, 3, 3), 3)
    again = attacks(date(2020, 3, 5), 3)

    v = evaluate(ceiling(), first + again, as_of=at(2020, 3, 8, 12), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == first[2].occurred_at
    assert v.evidence == tuple(e.id for e in first + again)


# --- a limit for the whole window ------------------------------------------------------------------


def first_month(limit=5):
    return ceiling(limit=limit, period="window", window={"ends": 29})  # 29 February to 29 March


def daily_events(first_day, n):
    return [report(date(2020, 3, first_day + i)) for i in range(n)]


def test_a_window_limit_is_breached_by_the_event_that_passes_it():
    events = daily_events(1, 6)

    v = evaluate(first_month(), events, as_of=at(2020, 3, 10, 12), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == midnight(date(2020, 3, 6))
    assert v.evidence == tuple(e.id for e in events)
    assert v.reason.code == "ceiling.window_breached"
    assert v.reason.params == {"count": 6, "limit": 5, "days_with_data": 11, "days": 11, "date": "2020-03-06"}
    assert v.sentence == (
        "Breached: 6 events against a limit of 5 for the whole window, the limit passed on 6 March 2020."
    )


def test_a_window_limit_not_passed_is_in_compliance():
    events = daily_events(1, 5)

    v = evaluate(first_month(), events, as_of=at(2020, 3, 10, 12), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.since == OPENS_AT
    assert v.reason.code == "ceiling.window_ok"
    assert v.reason.params == {"count": 5, "limit": 5, "days_with_data": 11, "days": 11}
    assert v.sentence == "5 events against a limit of 5 for the whole window; 11 of 11 days had data."


def test_events_after_the_window_closes_do_not_count():
    inside = daily_events(1, 5)
    after = [report(date(2020, 3, 30)), report(date(2020, 4, 1))]

    v = evaluate(first_month(), inside + after, as_of=at(2020, 4, 10), coverage=[ALWAYS])

    assert v.closes_at == utc(2020, 3, 29, 19, 30)
    assert v.status == S.IN_COMPLIANCE
    assert v.reason.params["count"] == 5
    assert v.reason.params["days"] == 30


def test_a_window_limit_with_no_data_at_all_is_no_data():
    v = evaluate(first_month(), [], as_of=at(2020, 3, 10, 12))

    assert v.status == S.NO_DATA


def test_a_window_limit_counts_events_known_only_to_the_week():
    events = [report(date(2020, 3, 2), precision="week") for _ in range(6)]

    v = evaluate(first_month(), events, as_of=at(2020, 3, 20), coverage=[ALWAYS])

    assert v.status == S.BREACHED


# --- events, not reports ---------------------------------------------------------------------------


def test_two_reports_of_the_same_event_count_once():
    unama = report(at(2020, 3, 3, 9), id=301, event_id=9)
    acled = report(at(2020, 3, 3, 9), id=302, event_id=9, source=ACLED, credibility=1)
    other = report(at(2020, 3, 3, 12), id=303)

    v = evaluate(ceiling(), [unama, acled, other], as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert ("2020-03-03", 2) in v.details["daily"]


def test_an_event_group_counts_once_on_its_earliest_report():
    x_acled = report(at(2020, 3, 3, 7), id=311, event_id=5, source=ACLED)
    x_unama = report(at(2020, 3, 3, 9), id=312, event_id=5)
    y = report(at(2020, 3, 3, 10), id=313)
    z = report(at(2020, 3, 3, 12), id=314)

    v = evaluate(ceiling(), [x_unama, z, y, x_acled], as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 3, 12)  # the third event, not the second report
    assert v.evidence == (311, 313, 314)
    assert v.reason.params["count"] == 3


def test_events_known_only_to_the_week_are_not_counted_per_day():
    vague = [report(date(2020, 3, 3), precision="week") for _ in range(3)]
    monthly = [report(date(2020, 3, 3), precision="month")]

    v = evaluate(ceiling(), vague + monthly, as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert ("2020-03-03", 0) in v.details["daily"]
    assert v.details["imprecise"] == 4


# --- whose events, which events ----------------------------------------------------------------------


def test_events_by_an_unidentified_group_do_not_count_against_the_owing_party():
    events = attacks(date(2020, 3, 3), 3, actor1="Unidentified Armed Group (Afghanistan)")

    v = evaluate(ceiling(), events, as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert ("2020-03-03", 0) in v.details["daily"]


def test_events_by_an_unidentified_group_count_when_the_rule_says_so():
    events = attacks(date(2020, 3, 3), 3, actor1="Unidentified Armed Group (Afghanistan)")

    v = evaluate(ceiling(attribution="owing_or_unidentified"), events, as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.BREACHED


def test_events_outside_the_rules_province_do_not_count():
    t = ceiling(admin1=["Kandahar"])
    elsewhere = attacks(date(2020, 3, 3), 3, admin1="Herat")
    there = attacks(date(2020, 3, 3), 3, admin1="kandahar")

    assert evaluate(t, elsewhere, as_of=at(2020, 3, 4), coverage=[ALWAYS]).status == S.IN_COMPLIANCE
    assert evaluate(t, there, as_of=at(2020, 3, 4), coverage=[ALWAYS]).status == S.BREACHED


def test_weak_reports_are_not_counted():
    weak = attacks(date(2020, 3, 3), 3, source=LOCAL_PRESS, credibility=3)

    v = evaluate(ceiling(), weak, as_of=at(2020, 3, 4), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert ("2020-03-03", 0) in v.details["daily"]


def test_a_disputed_event_that_would_pass_the_limit_makes_it_disputed():
    credible = attacks(date(2020, 3, 3), 2)
    disputed = report(at(2020, 3, 3, 18), verification=((at(2020, 3, 4), "disputed"),))

    v = evaluate(ceiling(), credible + [disputed], as_of=at(2020, 3, 5), coverage=[ALWAYS])

    assert v.status == S.DISPUTED
    assert v.reason.params == {
        "without": S.IN_COMPLIANCE, "with": S.BREACHED, "disputed": 1, "with_reports": [disputed.id],
        "without_reports": [],
    }
    assert v.since == at(2020, 3, 3, 18)
    assert v.evidence == tuple(e.id for e in credible) + (disputed.id,)


def test_a_disputed_event_on_a_day_already_over_the_limit_changes_nothing():
    credible = attacks(date(2020, 3, 3), 3)
    disputed = report(at(2020, 3, 3, 18), verification=((at(2020, 3, 4), "disputed"),))

    v = evaluate(ceiling(), credible + [disputed], as_of=at(2020, 3, 5), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == credible[2].occurred_at
    assert v.evidence == tuple(e.id for e in credible)


def test_before_the_window_opens_it_applies_from_the_opening_day():
    v = evaluate(ceiling(window={"starts": 5}), attacks(date(2020, 3, 1), 5), as_of=at(2020, 3, 2), coverage=[ALWAYS])

    assert v.status == S.NOT_YET_DUE
    assert v.since is None
    assert v.days_left == 3
    assert v.reason.code == "window.not_open"
    assert v.reason.params == {"opens": "2020-03-05"}
    assert v.sentence == "Applies from 5 March 2020."


def test_events_before_the_window_opens_do_not_count_once_it_is_open():
    early = attacks(date(2020, 3, 4), 5)

    v = evaluate(ceiling(window={"starts": 5}), early, as_of=at(2020, 3, 7, 12), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.details["daily"] == [("2020-03-05", 0), ("2020-03-06", 0), ("2020-03-07", 0)]
