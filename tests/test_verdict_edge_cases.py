"""Edge cases of the engine's rules: imprecise dates, partial coverage, disputes near a deadline."""

from datetime import date

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate
from tests.engine_factories import at, coverage, measurement, midnight, report, term, utc

TALKS = {"categories": ["talks_started"]}
DUE_AT = midnight(date(2020, 3, 11))  # signed 29 February, due within 10 days: end of 10 March, Kabul


def test_act_dated_to_a_week_straddling_the_due_date_is_met_if_reported_before_the_deadline():
    week = report(date(2020, 3, 7), precision="week", category="talks_started", recorded_at=at(2020, 3, 9, 12))
    v = evaluate(term(rule=TALKS), [week], as_of=at(2020, 3, 9, 13))
    assert v.status == S.MET
    assert v.reason.params["date"] == "2020-03-07"


def test_act_dated_to_a_week_straddling_the_due_date_is_met_late_by_its_last_possible_day():
    week = report(date(2020, 3, 7), precision="week", category="talks_started", recorded_at=at(2020, 3, 12, 9))
    v = evaluate(term(rule=TALKS), [week], as_of=at(2020, 3, 20))
    assert v.status == S.MET_LATE
    assert v.reason.params["days_late"] == 2  # known by 12 March: at most two days late
    assert v.since == DUE_AT  # a "met late" status cannot begin before the deadline passed
    assert v.sentence == "Met late on 7 March 2020, 2 days after the deadline, per UNAMA (B2)."


def test_disputed_verdict_keeps_the_countdown():
    disputed = report(date(2020, 3, 5), category="talks_started", verification=((at(2020, 3, 5, 12), "disputed"),))
    v = evaluate(term(rule=TALKS), [disputed], as_of=at(2020, 3, 6))
    assert v.status == S.DISPUTED
    assert v.days_left == 4


def test_coverage_of_one_province_does_not_cover_a_rule_watching_two():
    rule = {"categories": ["attack"], "admin1": ["Kabul", "Kandahar"], "limit": 10}
    only_kabul = [coverage(date(2020, 1, 1), admin1="Kabul")]
    both = only_kabul + [coverage(date(2020, 1, 1), admin1="Kandahar")]
    ceiling = term("ceiling", rule)
    assert evaluate(ceiling, [], as_of=at(2020, 3, 5), coverage=only_kabul).status == S.NO_DATA
    v = evaluate(ceiling, [], as_of=at(2020, 3, 5), coverage=both)
    assert v.status == S.IN_COMPLIANCE
    assert v.reason.params["days_with_data"] == 5


def test_target_never_measured_before_the_due_date_says_the_figure_shown_came_later():
    target = term("target", {"categories": ["troops"], "target": 100, "unit": "troops"})
    later = measurement(date(2020, 4, 5), 500, category="troops")
    v = evaluate(target, [later], as_of=at(2020, 4, 10))
    assert v.status == S.MISSED
    assert v.reason.code == "target.missed_unmeasured_at_due"
    assert v.sentence.startswith("Missed: nothing was measured by the due date 30 March 2020; the first figure")
    assert "500 troops on 5 April 2020" in v.sentence


def test_event_exactly_at_as_of_local_midnight_counts_on_its_own_day():
    ceiling = term("ceiling", {"categories": ["attack"], "limit": 0})
    attack = report(midnight(date(2020, 3, 5)), category="attack")
    v = evaluate(ceiling, [attack], as_of=midnight(date(2020, 3, 5)))
    assert v.status == S.BREACHED
    assert v.details["daily"][-1] == ("2020-03-05", 1)
    assert utc(2020, 3, 4, 19, 30) == attack.occurred_at
