"""Strict comparisons and equalities: "fewer than ten attacks a day", "below 8,600 troops", "exactly 5,000".

A target's `comparison` is one of < <= == >= >; a ceiling's is <= (at most, the default) or <
(fewer than). The sentence says which, in words; a rule that states none reads as before.
"""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Commitment
from terms.rules import Rule, RuleError
from tests.engine_factories import at, coverage, measurement, report, term
from tests.test_agreement_file import MINIMAL, line_of, row_counts, write

ALWAYS = coverage(date(2020, 1, 1))


def troops(comparison=None, target=8600, **rule):
    values = {"target": target, "unit": "troops", **rule}
    if comparison:
        values["comparison"] = comparison
    return term("target", rule=values, window={"due": 30})  # due by the end of 30 March 2020


def attacks(day, n):
    return [report(at(day.year, day.month, day.day, 8 + i)) for i in range(n)]


# --- targets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comparison", "value", "status"),
    [
        ("<", 8600, S.MISSED),  # "below 8,600": reaching it is not enough
        ("<", 8599, S.MET),
        ("<=", 8600, S.MET),
        ("<=", 8601, S.MISSED),
        ("==", 8600, S.MET),
        ("==", 8599, S.MISSED),  # "exactly": under is as wrong as over
        ("==", 8601, S.MISSED),
        (">=", 8600, S.MET),
        (">=", 8599, S.MISSED),
        (">", 8600, S.MISSED),
        (">", 8601, S.MET),
    ],
)
def test_a_target_is_met_only_when_its_comparison_holds_at_the_due_date(comparison, value, status):
    v = evaluate(troops(comparison), [measurement(date(2020, 3, 20), value, id=7)], as_of=at(2020, 4, 5, 12))

    assert v.status == status


@pytest.mark.parametrize(
    ("comparison", "words"),
    [
        ("<", "below 8600 troops"),
        ("<=", "at most 8600 troops"),
        ("==", "exactly 8600 troops"),
        (">=", "at least 8600 troops"),
        (">", "above 8600 troops"),
    ],
)
def test_a_targets_sentence_says_its_comparison_in_words(comparison, words):
    v = evaluate(troops(comparison), [measurement(date(2020, 3, 20), 9000, id=7)], as_of=at(2020, 3, 22, 12))

    assert v.reason.params["comparison"] == comparison
    assert v.sentence.startswith(f"Target {words} by the end of 30 March 2020; latest 9000 troops")


def test_a_target_without_a_comparison_reads_as_before():
    v = evaluate(troops(), [measurement(date(2020, 3, 20), 8000, id=7)], as_of=at(2020, 4, 5, 12))

    assert v.status == S.MET
    assert "comparison" not in v.reason.params
    assert "against a target of 8600 troops due" in v.sentence


def test_a_met_exact_target_turns_missed_when_the_figure_moves_off_it_before_the_due_date():
    reports = [measurement(date(2020, 3, 10), 8600, id=1), measurement(date(2020, 3, 25), 8500, id=2)]

    v = evaluate(troops("=="), reports, as_of=at(2020, 4, 5, 12))

    assert v.status == S.MISSED
    assert v.sentence.startswith("Missed: 8500 troops at the due date 30 March 2020 against a target of exactly 8600")


# --- ceilings -----------------------------------------------------------------------------


def test_under_fewer_than_a_day_at_the_limit_is_a_breach_since_the_event_that_reached_it():
    rule = {"limit": 3, "comparison": "<"}
    reports = attacks(date(2020, 3, 3), 3)

    v = evaluate(term("ceiling", rule=rule), reports, as_of=at(2020, 3, 4, 12), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == reports[2].occurred_at  # the third event made it three: not fewer than three
    assert v.sentence.startswith(
        "Breached: 3 events on 3 March 2020 against a limit of fewer than 3 a day (1 day at or over the limit;"
    )


def test_under_at_most_a_day_at_the_limit_is_in_compliance():
    rule = {"limit": 3, "comparison": "<="}

    v = evaluate(term("ceiling", rule=rule), attacks(date(2020, 3, 3), 3), as_of=at(2020, 3, 4, 12), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.sentence.startswith("No day over the limit of 3;")


def test_under_fewer_than_a_day_below_the_limit_is_clean_and_the_sentence_says_at_or_over():
    rule = {"limit": 3, "comparison": "<"}

    v = evaluate(term("ceiling", rule=rule), attacks(date(2020, 3, 3), 2), as_of=at(2020, 3, 4, 12), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.sentence.startswith("No day at or over the limit of 3;")


def test_a_whole_window_limit_of_fewer_than_is_passed_by_the_event_that_reaches_it():
    rule = {"limit": 2, "comparison": "<", "period": "window"}
    reports = attacks(date(2020, 3, 3), 1) + attacks(date(2020, 3, 5), 1)

    v = evaluate(term("ceiling", rule=rule), reports, as_of=at(2020, 3, 6, 12), coverage=[ALWAYS])

    assert v.status == S.BREACHED
    assert v.since == reports[1].occurred_at
    assert "against a limit of fewer than 2 for the whole window" in v.sentence


# --- what the rule accepts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "rule", "message"),
    [
        ("deadline", {"comparison": "<"}, "a deadline compares nothing, not <"),
        ("prohibition", {"comparison": "=="}, "a prohibition compares nothing, not =="),
        ("ceiling", {"limit": 3, "comparison": ">="}, "a ceiling takes < or <=, not >="),
        ("ceiling", {"limit": 3, "comparison": "=="}, "a ceiling takes < or <=, not =="),
        ("ceiling", {"limit": 0, "comparison": "<"}, "fewer than 0 events can never hold"),
        ("target", {"target": 5, "comparison": "=<"}, "must be one of <, <=, ==, >=, >"),
        ("target", {"target": 5, "comparison": ">", "direction": "at_most"}, "> contradicts direction at_most"),
    ],
)
def test_a_comparison_the_kind_does_not_take_is_refused(kind, rule, message):
    with pytest.raises(RuleError) as raised:
        Rule.from_dict(kind, rule)

    assert raised.value.field == "rule.comparison"
    assert message in raised.value.message


def test_a_comparison_sets_the_direction_a_reader_of_direction_sees():
    assert Rule.from_dict("target", {"target": 5, "comparison": ">"}).direction == "at_least"
    assert Rule.from_dict("target", {"target": 5, "comparison": "<"}).direction == "at_most"


@pytest.mark.django_db
def test_the_loader_refuses_a_comparison_the_kind_does_not_take_naming_file_line_and_field(tmp_path):
    text = MINIMAL.replace("limit: 5}", "limit: 5, comparison: '>'}")
    path = write(tmp_path, text)
    counts = row_counts()

    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)

    [problem] = raised.value.errors
    assert (problem.field, problem.line) == ("commitments[1].rule.comparison", line_of(text, "comparison: '>'"))
    assert "a ceiling takes < or <=, not >" in problem.message
    assert row_counts() == counts


# --- end to end -----------------------------------------------------------------------------

FEWER_THAN = """\
format: 1
agreement:
  slug: calm-accord
  title: Calm accord
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
parties:
  - slug: north
    name: Northern Front
commitments:
  - key: calm
    title: Fewer than three attacks a day
    owed_by: [north]
    basis: {kind: official_text}
    kind: ceiling
    rule: {categories: [Battles], limit: 3, comparison: "<"}
    window: {from: signing, starts: 0}
"""


@pytest.mark.django_db
def test_a_fewer_than_ceiling_loaded_from_a_file_is_breached_by_reaching_its_limit(tmp_path):
    from monitor.evidence.models import Coverage
    from tests.factories import ReportFactory, SourceFactory

    call_command("load_agreement", str(write(tmp_path, FEWER_THAN)), stdout=StringIO())
    calm = Commitment.objects.get(key="calm")
    assert calm.rule["comparison"] == "<"
    source = SourceFactory(name="UNAMA", reliability="A")
    Coverage.objects.create(source=source, starts_on=date(2020, 1, 1), recorded_at=at(2020, 1, 1, 0))
    for hour in (8, 9, 10):
        ReportFactory(source=source, category="Battles", actor1="Northern Front", credibility=2,
                      occurred_at=at(2020, 3, 3, hour), recorded_at=at(2020, 3, 3, 20))
    out = StringIO()

    call_command("compliance", "--json", "--as-of", "2020-03-04", stdout=out)

    [agreement] = json.loads(out.getvalue())["agreements"]
    [c] = agreement["commitments"]
    assert c["computed"]["status"] == "breached"
    assert c["computed"]["reason"]["params"]["comparison"] == "<"
    assert "against a limit of fewer than 3 a day" in c["computed"]["sentence"]
