"""Readings: a commitment's competing accounts judged too, beside the main reading that decides its status."""

import json
from dataclasses import replace
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given, settings

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import Reading, evaluate, evaluate_agreement
from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Agreement, Commitment
from terms.rules import Rule, Window
from tests.engine_factories import KABUL, at, coverage, midnight, report
from tests.engine_factories import term as plain_term
from tests.factories import ReportFactory, SourceFactory
from tests.hypothesis_budget import examples
from tests.test_agreement_file import MINIMAL, row_counts, write
from tests.test_verdict_properties import cases

SEED = Path(__file__).resolve().parent.parent / "agreements" / "us-taliban-2020.yaml"

# MINIMAL's talks deadline, with a competing account judged as a reading.
TALKS_ACCOUNT = """\
    competing_accounts:
      - account: within twenty days, says the other side
        source: Southern Army spokesman
        key: twenty-days
        label: within twenty days
        window: {due: 20}
"""


def with_reading(account=TALKS_ACCOUNT, text=MINIMAL):
    old = "    basis: {kind: official_text}\n"
    assert old in text
    return text.replace(old, old + account, 1)


def refusal(tmp_path, text):
    path = write(tmp_path, text)
    counts = row_counts()
    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)
    assert row_counts() == counts, "nothing is loaded from a file with a problem"
    return path, raised.value.errors


def line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- the agreement file ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_competing_account_with_a_key_is_stored_as_a_reading_and_reloads_unchanged(tmp_path):
    path = write(tmp_path, with_reading())
    load_agreement_file(path)

    talks = Commitment.objects.get(key="talks")
    assert talks.readings == [
        {"key": "twenty-days", "label": "within twenty days", "source": "Southern Army spokesman",
         "window": {"due": 20}}
    ]
    # Still a competing account, in words, like those with no values.
    assert talks.competing_accounts[0]["account"] == "within twenty days, says the other side"
    assert not load_agreement_file(path).changed


@pytest.mark.django_db
def test_a_file_whose_accounts_have_no_keys_loads_as_before_with_no_readings(tmp_path):
    account = "    competing_accounts:\n      - {account: within a week, source: A mediator}\n"
    load_agreement_file(write(tmp_path, with_reading(account)))

    talks = Commitment.objects.get(key="talks")
    assert talks.readings == []
    assert talks.competing_accounts == [{"account": "within a week", "source": "A mediator", "note": ""}]


@pytest.mark.django_db
def test_the_seed_judges_the_seven_day_accounts_of_the_talks_and_the_violence_ceiling():
    load_agreement_file(SEED)

    talks = Commitment.objects.get(key="talks-begin")
    assert [(r["key"], r["label"], r["window"]) for r in talks.readings] == [
        ("within-seven-days", "within seven days", {"due": 7})
    ]
    ceiling = Commitment.objects.get(key="violence-major-cities")
    assert [(r["label"], r["window"]) for r in ceiling.readings] == [("within seven days", {"starts": 7})]
    # The officials' "ten days, highways and cities" account has no place list to judge by: words only.
    assert len(ceiling.competing_accounts) == 2


READING_REFUSALS = [
    (
        "changes_nothing",
        "        window: {due: 20}\n",
        "        window: {due: 10}\n",
        "commitments[0].competing_accounts[0]",
        "changes nothing",
        "- account:",
    ),
    (
        "unknown_window_field",
        "        window: {due: 20}\n",
        "        window: {due: 20, from: calm}\n",
        "commitments[0].competing_accounts[0].window.from",
        "unknown field (known: unit, starts, due, ends, grace_days)",
        "window: {due: 20, from",
    ),
    (
        "unknown_rule_field",
        "        window: {due: 20}\n",
        "        rule: {deadline: 20}\n",
        "commitments[0].competing_accounts[0].rule.deadline",
        "unknown field",
        "rule: {deadline",
    ),
    (
        "unknown_account_field",
        "        window: {due: 20}\n",
        "        window: {due: 20}\n        limit: 3\n",
        "commitments[0].competing_accounts[0].limit",
        "unknown field",
        "limit: 3",
    ),
    (
        "not_a_valid_commitment_once_merged",
        "        window: {due: 20}\n",
        "        window: {due: 20, starts: 25}\n",
        "commitments[0].competing_accounts[0].window.due",
        "is before the window opens",
        "window: {due: 20, starts: 25}",
    ),
    (
        "not_a_whole_number",
        "        window: {due: 20}\n",
        "        window: {due: twenty}\n",
        "commitments[0].competing_accounts[0].window.due",
        "must be a whole number",
        "due: twenty",
    ),
    (
        "values_without_a_key",
        "        key: twenty-days\n",
        "",
        "commitments[0].competing_accounts[0].label",
        "belongs to a reading: give the account a key",
        "label: within twenty days",
    ),
    (
        "key_not_a_slug",
        "        key: twenty-days\n",
        "        key: twenty days\n",
        "commitments[0].competing_accounts[0].key",
        "must be letters, digits, hyphens or underscores",
        "key: twenty days",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new", "field", "message", "needle"),
    [c[1:] for c in READING_REFUSALS],
    ids=[c[0] for c in READING_REFUSALS],
)
def test_a_bad_reading_is_refused_with_file_line_and_field_and_nothing_is_loaded(tmp_path, old, new, field, message,
                                                                                  needle):
    text = with_reading()
    assert old in text
    text = text.replace(old, new, 1)

    path, errors = refusal(tmp_path, text)

    problem = next(p for p in errors if p.field == field)
    assert message in problem.message
    assert (problem.path, problem.line) == (str(path), line_of(text, needle))


@pytest.mark.django_db
def test_two_readings_with_one_key_are_refused_at_the_second(tmp_path):
    account = TALKS_ACCOUNT + (
        "      - account: within thirty days\n"
        "        key: twenty-days\n"
        "        window: {due: 30}\n"
    )
    text = with_reading(account)

    path, errors = refusal(tmp_path, text)

    [problem] = errors
    assert problem.field == "commitments[0].competing_accounts[1].key"
    assert problem.message == f"'twenty-days' is already used at line {line_of(text, 'key: twenty-days')}"
    assert problem.line == line_of(text, "within thirty days") + 1


@pytest.mark.django_db
def test_a_reading_that_only_restates_the_ceilings_default_recovery_changes_nothing(tmp_path):
    # A ceiling recovers after 3 days unless told otherwise: saying 3 again is no other reading.
    account = "    competing_accounts:\n      - {account: same, key: same, rule: {recovery_days: 3}}\n"
    text = MINIMAL.replace("    basis: {kind: reported, by: A mediator}\n",
                           "    basis: {kind: reported, by: A mediator}\n" + account)

    _path, errors = refusal(tmp_path, text)

    [problem] = errors
    assert (problem.field, problem.line) == ("commitments[1].competing_accounts[0]", line_of(text, "key: same"))
    assert problem.message.startswith("changes nothing")


@pytest.mark.django_db
def test_the_admin_refuses_a_stored_reading_that_changes_nothing(tmp_path):
    load_agreement_file(write(tmp_path, with_reading()))
    talks = Commitment.objects.get(key="talks")

    talks.readings = [{"key": "same", "label": "same", "window": {"due": 10}}]
    with pytest.raises(ValidationError) as raised:
        talks.full_clean()
    assert "readings[0]: changes nothing" in str(raised.value.message_dict["readings"])

    talks.readings = [{"key": "later", "label": "later", "window": {"due": 12}}]
    talks.full_clean()


# --- the engine -----------------------------------------------------------------------------------


def term(kind, rule=None, window=None, *, readings=(), **kwargs):
    return replace(plain_term(kind, rule, window, **kwargs), readings=tuple(readings))


def talks_started(day, **kwargs):
    return report(day, category="talks_started", **kwargs)


def judged(t, evidence, as_of, periods=()):
    return evaluate_agreement([t], evidence, as_of=as_of, coverage=periods)[t.id]


def test_a_deadline_missed_under_the_main_reading_is_still_running_then_met_under_a_longer_one():
    later = Reading("ten-days", "within 10 days", Rule(categories=("talks_started",)), Window(due=10))
    t = term("deadline", {"categories": ["talks_started"]}, {"due": 7}, readings=(later,))
    evidence = [talks_started(date(2020, 3, 9))]  # signed 29 February: day 9

    on_8_march = judged(t, evidence, as_of=at(2020, 3, 8, 12))
    assert on_8_march.status == S.MISSED
    assert [(r.key, r.status) for r in on_8_march.readings] == [("ten-days", S.DUE_SOON)]

    on_10_march = judged(t, evidence, as_of=at(2020, 3, 10, 12))
    assert on_10_march.status == S.MET_LATE
    [reading] = on_10_march.readings
    assert (reading.label, reading.status, reading.since) == ("within 10 days", S.MET, midnight(date(2020, 3, 9)))
    assert "2020-03-10" in reading.reason.params["due"] and reading.sentence


def test_a_ceiling_under_another_limit_is_breached_where_the_main_one_holds():
    strict = Reading("none-at-all", "no attacks at all", Rule.from_dict("ceiling", {"limit": 0}), Window())
    t = term("ceiling", {"limit": 2}, readings=(strict,))
    day = date(2020, 3, 5)
    evidence = [report(day), report(day)]

    v = judged(t, evidence, as_of=at(2020, 3, 6, 12), periods=[coverage(date(2020, 2, 1))])

    assert v.status == S.IN_COMPLIANCE
    [reading] = v.readings
    assert reading.status == S.BREACHED
    assert reading.since == midnight(day)


def test_a_reading_with_other_categories_reads_other_reports():
    other = Reading("any-meeting", "any meeting", Rule(categories=("meeting",)), Window(due=10))
    t = term("deadline", {"categories": ["talks_started"]}, readings=(other,))
    evidence = [report(date(2020, 3, 3), category="meeting")]

    v = judged(t, evidence, as_of=at(2020, 3, 5))

    assert v.status == S.DUE_SOON  # the meeting is no talks under the main reading
    assert v.evidence == ()
    assert [r.status for r in v.readings] == [S.MET]


def test_a_commitment_counted_from_another_starts_when_the_main_reading_is_met_not_a_reading():
    sooner = Reading("talks-anywhere", "any meeting", Rule(categories=("meeting",)), Window(due=10))
    talks = term("deadline", {"categories": ["talks_started"]}, id=1, readings=(sooner,))
    calm = term("prohibition", {"categories": ["attack"]}, {"anchor": "commitment", "anchor_commitment_id": 1}, id=2)
    evidence = [report(date(2020, 3, 3), category="meeting")]

    verdicts = evaluate_agreement([talks, calm], evidence, as_of=at(2020, 3, 5))

    assert verdicts[1].readings[0].status == S.MET
    assert verdicts[2].status == S.AWAITING_ANCHOR


def other_reading(t):
    """A reading of `t` that surely differs: other numbers in its window, other limits in its rule."""
    window = replace(t.window, starts=t.window.starts - 1, grace_days=t.window.grace_days + 1)
    changes = {"limit": t.rule.limit + 1} if t.rule.limit is not None else {}
    if t.rule.target is not None:
        changes["target"] = t.rule.target + 5
    return Reading("other", "another reading", replace(t.rule, attribution="any", **changes), window)


@settings(max_examples=examples(60), deadline=None)
@given(cases())
def test_readings_never_change_the_main_status_since_reason_or_evidence(case):
    t, evidence, periods, as_of, known_at = case
    with_readings = replace(t, readings=(other_reading(t),))

    plain = evaluate_agreement([t], evidence, as_of=as_of, known_at=known_at, coverage=periods)[t.id]
    judged_too = evaluate_agreement([with_readings], evidence, as_of=as_of, known_at=known_at, coverage=periods)[t.id]

    assert replace(judged_too, readings=()) == plain
    [reading] = judged_too.readings
    alone = evaluate(
        replace(t, rule=with_readings.readings[0].rule, window=with_readings.readings[0].window),
        evidence, as_of=as_of, known_at=known_at, coverage=periods,
    )
    # The verdict under a reading is the one the reading's rule and window give on their own.
    assert (reading.status, reading.since, reading.reason) == (alone.status, alone.since, alone.reason)


# --- pages, the API and the compliance JSON, end to end ----------------------------------------------


@pytest.fixture
def demo():
    call_command("load_agreement", str(SEED), stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    agreement = Agreement.objects.get(slug="us-taliban-2020")
    agreement.publish_computed_verdicts = True
    agreement.save()
    return agreement


def page_text(client, name, **kwargs):
    import html
    import re

    params = kwargs.pop("params")
    response = client.get(reverse(name, kwargs=kwargs), params)
    assert response.status_code == 200
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.mark.django_db
def test_the_pages_say_missed_under_one_reading_and_due_soon_under_the_other_only_when_they_differ(client, demo):
    slug = {"agreement": "us-taliban-2020"}
    on_9_march = {"as_of": "2020-03-09T12:00", "known_at": "2020-03-09T12:00"}
    page = page_text(client, "pages:commitment", key="talks-begin", params=on_9_march, **slug)
    assert "Due soon under the reported terms; missed under the reading “within seven days”." in page
    assert "Under the reading “within seven days”: Missed. Missed: due by the end of 7 March 2020" in page
    assert "The status above, and every alert, follow the reported terms" in page
    overview = page_text(client, "pages:agreement", params=on_9_march, **slug)
    assert "Readings disagree: Due soon under the reported terms; missed under the reading" in overview

    # On 11 March both readings have the talks missed: nothing to compare.
    on_11_march = {"as_of": "2020-03-11T12:00", "known_at": "2020-03-11T12:00"}
    page = page_text(client, "pages:commitment", key="talks-begin", params=on_11_march, **slug)
    assert "under the reading" not in page
    assert "Readings disagree" not in page_text(client, "pages:agreement", params=on_11_march, **slug)


@pytest.mark.django_db
def test_the_readings_are_withheld_with_an_unpublished_verdict(client, demo):
    demo.publish_computed_verdicts = False
    demo.save()
    params = {"as_of": "2020-03-09T12:00", "known_at": "2020-03-09T12:00"}
    page = page_text(client, "pages:commitment", agreement="us-taliban-2020", key="talks-begin", params=params)
    assert "under the reading" not in page
    response = client.get(reverse("api:commitment-detail", kwargs={"agreement": "us-taliban-2020",
                                                                    "key": "talks-begin"}), params)
    assert response.json()["verdict"]["readings"] == []


@pytest.mark.django_db
def test_the_api_carries_each_readings_verdict(client, demo):
    response = client.get(
        reverse("api:commitment-detail", kwargs={"agreement": "us-taliban-2020", "key": "talks-begin"}),
        {"as_of": "2020-03-09T12:00", "known_at": "2020-03-09T12:00"},
    )
    verdict = response.json()["verdict"]
    assert (verdict["status"], verdict["main_reading"]) == ("due_soon", "the reported terms")
    [reading] = verdict["readings"]
    assert (reading["key"], reading["label"], reading["status"]) == ("within-seven-days", "within seven days", "missed")


@pytest.mark.django_db
def test_end_to_end_a_reading_in_the_file_is_judged_from_reports_and_shown_in_compliance_json(tmp_path):
    text = with_reading().replace("signed_on: null", "signed_on: 2020-02-29")
    call_command("load_agreement", str(write(tmp_path, text)), stdout=StringIO())
    ReportFactory(
        source=SourceFactory(name="Wire service", reliability="A"), summary="Talks open in Doha",
        category="talks_started", actor1="North", occurred_at=midnight(date(2020, 3, 15), KABUL),
        recorded_at=midnight(date(2020, 3, 15), KABUL), precision="day", credibility=1,
    )

    out = StringIO()
    call_command("compliance", "--json", "--agreement", "test-accord", "--as-of", "2020-03-16", stdout=out)
    talks = next(c for c in json.loads(out.getvalue())["agreements"][0]["commitments"] if c["key"] == "talks")

    assert talks["status"] == "met_late"
    assert talks["main_reading"] == "the official text"
    [reading] = talks["computed"]["readings"]
    assert (reading["key"], reading["label"], reading["status"]) == ("twenty-days", "within twenty days", "met")
    assert reading["since"] == "2020-03-14T19:30:00+00:00"
    assert reading["reason"]["code"] == "deadline.met"
    assert reading["sentence"].startswith("Met on 15 March 2020")


@pytest.mark.django_db
def test_the_reading_in_the_format_documentations_example_loads(tmp_path):
    doc = (SEED.parent.parent / "docs" / "agreement-format.md").read_text(encoding="utf-8")
    example = doc.split("## Example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    load_agreement_file(write(tmp_path, example))

    calm = Commitment.objects.get(key="calm-in-cities")
    assert calm.readings == [
        {"key": "none-at-all", "label": "no attacks at all", "source": "Southern Army spokesman", "rule": {"limit": 0}}
    ]


@pytest.mark.django_db
def test_the_readings_example_in_the_format_documentation_loads(tmp_path):
    doc = (SEED.parent.parent / "docs" / "agreement-format.md").read_text(encoding="utf-8")
    snippet = doc.split("#### Readings", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    text = MINIMAL.split("commitments:\n", 1)[0] + "commitments:\n" + snippet

    load_agreement_file(write(tmp_path, text))

    talks = Commitment.objects.get(key="talks-begin")
    assert [(r["label"], r["window"]) for r in talks.readings] == [("within 14 days", {"due": 14})]
    assert talks.due_offset == 10


# --- the admin --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_shows_the_verdict_under_each_reading_and_refuses_one_that_changes_nothing(client):
    from tests.factories import AgreementFactory, CommitmentFactory, UserFactory
    from tests.test_roles import admin_form_data

    agreement = AgreementFactory(slug="doha", signed_on=date(2020, 2, 29), time_zone="Asia/Kabul")
    later = {"key": "later", "label": "within 12 days", "window": {"due": 12}}
    talks = CommitmentFactory(agreement=agreement, key="talks", rule={"categories": ["talks"]}, readings=[later])
    ReportFactory(category="talks", occurred_at=midnight(date(2020, 3, 11), KABUL), credibility=1,
                  source=SourceFactory(name="Wire", reliability="A"), actor1="", commitment=talks)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:terms_commitment_change", args=[talks.pk])

    response = client.get(url)
    assert "“within 12 days”: <strong>Met</strong>" in response.content.decode()

    data = admin_form_data(response)
    data.update(readings=json.dumps([{"key": "same", "label": "same", "window": {"due": 10}}]),
                competing_accounts="[]", rule=json.dumps(talks.rule))
    response = client.post(url, data)
    assert response.status_code == 200
    assert "readings[0]: changes nothing" in response.content.decode()
    talks.refresh_from_db()
    assert talks.readings == [later]


@pytest.mark.django_db
def test_reports_only_a_reading_counts_are_read_from_the_database_for_it():
    from monitor.verdicts import inputs
    from tests.factories import AgreementFactory, CommitmentFactory

    agreement = AgreementFactory(slug="doha", signed_on=date(2020, 2, 29), time_zone="Asia/Kabul")
    meeting = {"key": "any-meeting", "label": "any meeting", "rule": {"categories": ["meeting"]}}
    CommitmentFactory(agreement=agreement, key="talks", rule={"categories": ["talks"], "attribution": "any"},
                      readings=[meeting])
    ReportFactory(category="meeting", occurred_at=midnight(date(2020, 3, 3), KABUL),
                  recorded_at=midnight(date(2020, 3, 3), KABUL), credibility=1,
                  source=SourceFactory(name="Wire", reliability="A"))

    [standing] = inputs.standings([agreement], as_of=midnight(date(2020, 3, 5), KABUL))

    assert standing.computed.status == S.DUE_SOON
    assert [(r.key, r.status) for r in standing.computed.readings] == [("any-meeting", S.MET)]
