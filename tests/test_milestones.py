"""Anchors on moments and milestones in agreement files: what the loader refuses, and a Minsk-like package end to end.

The motivating agreement: a ceasefire; a weapons pullout that "must start no later than the second
day after the start of the ceasefire and finish within 14 days"; a hostage exchange "no later than
the fifth day after the pullout"; and local elections, which no commitment models.
"""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from terms.agreement_file import AgreementFileError, load_agreement_file
from terms.models import Commitment, Milestone
from tests.factories import ReportFactory, SourceFactory

pytestmark = pytest.mark.django_db

MINSK = """\
format: 1
agreement:
  slug: package
  title: Package of measures
  signed_on: 2020-03-01
  time_zone: Europe/Kyiv
parties:
  - slug: east
    name: Eastern forces
  - slug: west
    name: Western forces
milestones:
  - key: elections
    title: Local elections held
    rule: {categories: [elections_held]}
commitments:
  - key: ceasefire
    title: Ceasefire
    owed_by: [east, west]
    basis: {kind: official_text}
    kind: prohibition
    rule: {categories: [Battles]}
    window: {from: signing, starts: 2}
  - key: pullout
    title: Weapons pullout
    owed_by: [east, west]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [pullout_completed]}
    window: {from: ceasefire, moment: opens, starts: 2, due: 14}
  - key: exchange
    title: Hostage exchange
    owed_by: [east, west]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [exchange_done]}
    window: {from: pullout, moment: met, due: 5}
  - key: amnesty
    title: Amnesty law after the elections
    owed_by: [west]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [law_adopted]}
    window: {from: elections, due: 30}
"""


def write(tmp_path, text):
    path = tmp_path / "package.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def refused(tmp_path, text, field):
    path = write(tmp_path, text)
    with pytest.raises(AgreementFileError) as raised:
        load_agreement_file(path)
    assert Commitment.objects.count() == 0 and Milestone.objects.count() == 0  # nothing loaded
    problem = next(p for p in raised.value.errors if p.field == field)
    assert problem.path == str(path)
    return problem


def test_the_package_loads_with_its_moments_and_its_milestone(tmp_path):
    result = load_agreement_file(write(tmp_path, MINSK))

    pullout, exchange, amnesty = (Commitment.objects.get(key=k) for k in ("pullout", "exchange", "amnesty"))
    assert (pullout.anchor, pullout.anchor_commitment.key, pullout.anchor_moment) == ("commitment", "ceasefire", "opens")
    assert (exchange.anchor_commitment.key, exchange.anchor_moment) == ("pullout", "met")
    assert (amnesty.anchor, amnesty.anchor_milestone.key, amnesty.anchor_moment) == ("milestone", "elections", "reached")
    assert Milestone.objects.get().rule == {"categories": ["elections_held"], "attribution": "any"}
    assert result.created["milestone"] == 1
    assert not load_agreement_file(write(tmp_path, MINSK)).changed  # loading again changes nothing


def test_a_moment_the_anchors_kind_does_not_have_is_refused(tmp_path):
    text = MINSK.replace("{from: ceasefire, moment: opens,", "{from: ceasefire, moment: met,")

    problem = refused(tmp_path, text, "commitments[1].window.moment")

    assert problem.line == line_of(text, "moment: met,")
    assert problem.message == "a prohibition is never 'met': the moments of 'ceasefire' are opens, breached"


def test_an_anchor_on_a_prohibition_without_a_moment_is_refused_as_never_met(tmp_path):
    text = MINSK.replace("{from: ceasefire, moment: opens,", "{from: ceasefire,")

    problem = refused(tmp_path, text, "commitments[1].window.from")

    assert "'ceasefire' is a prohibition, which is never met" in problem.message


def test_closing_is_refused_for_an_anchor_whose_window_never_closes(tmp_path):
    text = MINSK.replace("{from: ceasefire, moment: opens,", "{from: ceasefire, moment: closes,")

    problem = refused(tmp_path, text, "commitments[1].window.moment")

    assert problem.message == "'ceasefire' has no window.ends, so its window never closes"


def test_an_unknown_moment_is_refused(tmp_path):
    text = MINSK.replace("moment: opens", "moment: begins")

    problem = refused(tmp_path, text, "commitments[1].window.moment")

    assert problem.message.startswith("must be one of opens, due, met")


def test_a_moment_of_a_milestone_other_than_reached_is_refused(tmp_path):
    text = MINSK.replace("{from: elections, due: 30}", "{from: elections, moment: met, due: 30}")

    problem = refused(tmp_path, text, "commitments[3].window.moment")

    assert problem.message == "'elections' is a milestone: its only moment is 'reached'"


def test_an_anchor_on_a_key_that_does_not_exist_is_refused(tmp_path):
    text = MINSK.replace("{from: elections, due: 30}", "{from: election, due: 30}")

    problem = refused(tmp_path, text, "commitments[3].window.from")

    assert problem.line == line_of(text, "from: election,")
    assert "'election' is neither 'signing' nor a commitment key in this file" in problem.message


def test_a_cycle_of_anchors_is_refused_with_the_chain_named(tmp_path):
    text = MINSK.replace("window: {from: signing, starts: 2}", "window: {from: exchange, moment: met, starts: 2}")

    problem = refused(tmp_path, text, "commitments[0].window.from")

    # Each counts from the next: the ceasefire from the exchange, the exchange from the pullout, ...
    assert problem.message == "commitments count from each other in a loop: ceasefire → exchange → pullout → ceasefire"


def test_a_milestone_needs_the_categories_of_its_reports(tmp_path):
    text = MINSK.replace("rule: {categories: [elections_held]}", "rule: {admin1: [Donetsk]}")

    problem = refused(tmp_path, text, "milestones[0].rule.categories")

    assert problem.message == "a milestone needs the categories of the reports that show it"


def test_a_milestone_rule_cannot_say_whose_acts_count(tmp_path):
    text = MINSK.replace("rule: {categories: [elections_held]}", "rule: {categories: [x], attribution: owing}")

    problem = refused(tmp_path, text, "milestones[0].rule.attribution")

    assert problem.message.startswith("unknown field for a milestone")


def test_a_milestone_key_shared_with_a_commitment_is_refused(tmp_path):
    text = MINSK.replace("  - key: elections\n", "  - key: exchange\n").replace("from: elections", "from: signing")

    problem = refused(tmp_path, text, "milestones[0].key")

    assert "'exchange' is already a commitment's key" in problem.message


def kyiv(day, hour=12):
    # Europe/Kyiv is UTC+2 in early March 2020.
    return datetime(2020, 3, day, hour - 2, tzinfo=UTC)


def compliance(as_of):
    out = StringIO()
    call_command("compliance", "--json", "--as-of", as_of, stdout=out)
    [agreement] = json.loads(out.getvalue())["agreements"]
    return {c["key"]: c["computed"] for c in agreement["commitments"]}


def test_the_package_chain_resolves_from_the_file_through_reports_to_compliance_json(tmp_path):
    call_command("load_agreement", str(write(tmp_path, MINSK)), stdout=StringIO())
    source = SourceFactory(name="OSCE SMM", reliability="A")

    # The ceasefire starts 3 March; the pullout must start by the 5th and is due by the end of the 17th.
    early = compliance("2020-03-02")
    assert early["pullout"]["status"] == "awaiting_anchor"
    assert early["pullout"]["reason"]["params"]["moment"] == "opens"
    assert early["exchange"]["sentence"] == (
        "Awaiting its anchor: counted from 'Weapons pullout' being met, which has not happened yet."
    )
    assert early["amnesty"]["sentence"] == "Awaiting its anchor: counted from 'Local elections held', not yet reported."

    # Both sides pulled out (the pullout is owed by each of them: one report names both).
    ReportFactory(source=source, category="pullout_completed", actor1="Eastern forces; Western forces",
                  occurred_at=kyiv(10), recorded_at=kyiv(10, 18))
    ReportFactory(source=source, category="elections_held", actor1="Central Election Commission",
                  occurred_at=kyiv(12), recorded_at=kyiv(12, 20))

    later = compliance("2020-03-13")
    assert later["pullout"]["status"] == "met"
    assert later["pullout"]["due_at"].startswith("2020-03-17T22:00")  # the end of 17 March, Kyiv time
    assert later["exchange"]["due_at"].startswith("2020-03-15T22:00")  # the fifth day after 10 March
    assert later["amnesty"]["due_at"].startswith("2020-04-11T21:00")  # 30 days after 12 March (summer time)


def test_a_report_of_a_milestone_re_judges_what_counts_from_it_in_a_targeted_sweep(tmp_path):
    from monitor.alerts import models as am
    from monitor.alerts import triggers
    from monitor.alerts.sweep import run_sweep
    from monitor.verdicts.models import StatusChange

    in_force = MINSK.replace("  time_zone: Europe/Kyiv\n", "  time_zone: Europe/Kyiv\n  state: in_force\n")
    call_command("load_agreement", str(write(tmp_path, in_force)), stdout=StringIO())
    osce = SourceFactory(name="OSCE SMM", reliability="A")  # a new source is news to every commitment
    run_sweep(now=kyiv(11))
    amnesty = Commitment.objects.get(key="amnesty")
    assert amnesty.status_changes.latest("id").new_status == "awaiting_anchor"
    run_sweep(now=kyiv(13))  # what the clock alone changes by the 13th, judged before the report comes

    held = ReportFactory(source=osce, category="elections_held",
                         actor1="Central Election Commission", occurred_at=kyiv(12), recorded_at=kyiv(12, 20))
    run = run_sweep(now=kyiv(13), trigger=am.REPORTS, changes=triggers.describe([held.id]))

    # Only the amnesty law counts from the elections; the report speaks to nothing else.
    assert run.commitments_evaluated == 1
    last = StatusChange.objects.filter(commitment=amnesty).latest("id")
    assert (last.old_status, last.new_status) == ("awaiting_anchor", "not_yet_due")


def test_the_admin_refuses_a_moment_the_anchor_does_not_have(tmp_path):
    from django.core.exceptions import ValidationError

    load_agreement_file(write(tmp_path, MINSK))
    pullout = Commitment.objects.get(key="pullout")
    pullout.anchor_moment = "met"  # the ceasefire is a prohibition: never met

    with pytest.raises(ValidationError) as raised:
        pullout.clean()

    assert "anchor_moment" in raised.value.message_dict
