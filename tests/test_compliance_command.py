import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.evidence.models import DISPUTED, REJECTED, Coverage
from monitor.verdicts import inputs
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    PartyFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("compliance", *args, stdout=out)
    return out.getvalue()


def run_json(*args):
    return json.loads(run("--json", *args))


@pytest.fixture
def talks():
    """Talks must begin within 10 days of signing on 29 February 2020: due by the end of 10 March, Kabul time."""
    agreement = AgreementFactory(slug="deal", title="The deal")
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")


def test_json_output_has_the_documented_shape(talks):
    data = run_json("--as-of", "2020-03-05")
    assert data["format"] == 2
    [agreement] = data["agreements"]
    assert agreement["slug"] == "deal"
    assert agreement["signed_on"] == "2020-02-29"
    assert agreement["time_zone"] == "Asia/Kabul"
    [c] = agreement["commitments"]
    assert set(c) == {
        "key", "title", "kind", "owed_by", "tracked", "needs_review", "main_reading", "status", "since", "provisional",
        "computed", "assessment",
    }
    assert set(c["computed"]) == {
        "status", "since", "reason", "sentence", "opens_at", "due_at", "closes_at", "days_left", "days_overdue",
        "evidence", "as_of", "known_at", "weighed", "set_aside", "context", "readings", "parties",
    }
    assert (c["main_reading"], c["computed"]["readings"]) == ("the official text", [])
    assert c["status"] == "due_soon"
    assert c["computed"]["days_left"] == 5
    # The deadline is Kabul midnight at the end of 10 March: 19:30 UTC.
    assert c["computed"]["due_at"] == "2020-03-10T19:30:00+00:00"
    assert c["provisional"] is True and c["assessment"] is None


def test_as_of_a_date_means_the_end_of_that_day_in_the_agreements_zone(talks):
    data = run_json("--as-of", "2020-03-10")
    assert data["agreements"][0]["as_of"] == "2020-03-10T19:29:59.999999+00:00"
    assert data["agreements"][0]["commitments"][0]["status"] == "due_soon"
    data = run_json("--as-of", "2020-03-11")
    assert data["agreements"][0]["commitments"][0]["status"] == "missed"
    # Missed at the deadline, not when we looked.
    assert data["agreements"][0]["commitments"][0]["computed"]["since"] == "2020-03-10T19:30:00+00:00"


def test_met_report_is_cited_with_source_and_grade(talks):
    report = ReportFactory(source=SourceFactory(name="UNAMA", reliability="A"), occurred_at=datetime(2020, 3, 8, 6, tzinfo=UTC))
    [c] = run_json("--as-of", "2020-04-01")["agreements"][0]["commitments"]
    assert c["status"] == "met"
    assert c["computed"]["evidence"] == [report.id]
    assert c["computed"]["sentence"] == "Met on 8 March 2020, 2 days before the deadline, per UNAMA (A2)."


def test_knowledge_cutoff_hides_a_later_rejection(talks):
    report = ReportFactory(occurred_at=datetime(2020, 3, 8, tzinfo=UTC), recorded_at=datetime(2020, 3, 8, 12, tzinfo=UTC))
    report.set_verification(REJECTED, at=datetime(2020, 3, 20, tzinfo=UTC), reason="Fabricated.")
    as_known_then = run_json("--as-of", "2020-03-15")["agreements"][0]["commitments"][0]
    knowing_now = run_json("--as-of", "2020-03-15", "--known-at", "2020-04-01")["agreements"][0]["commitments"][0]
    assert as_known_then["status"] == "met"
    assert knowing_now["status"] == "missed"


def test_report_recorded_after_the_cutoff_does_not_exist(talks):
    ReportFactory(occurred_at=datetime(2020, 3, 8, tzinfo=UTC), recorded_at=datetime(2020, 3, 25, tzinfo=UTC))
    assert run_json("--as-of", "2020-03-15")["agreements"][0]["commitments"][0]["status"] == "missed"
    late_knowledge = run_json("--as-of", "2020-03-15", "--known-at", "2020-03-30")
    assert late_knowledge["agreements"][0]["commitments"][0]["status"] == "met"


def test_assessment_makes_the_verdict_assessed_while_it_covers_the_computed_status(talks):
    ReportFactory(occurred_at=datetime(2020, 3, 8, tzinfo=UTC))
    AssessmentFactory(commitment=talks, computed_status="met", status="met", pam_grade=3,
                      author=UserFactory(username="farida"), assessed_at=datetime(2020, 3, 20, tzinfo=UTC))
    [c] = run_json("--as-of", "2020-04-01")["agreements"][0]["commitments"]
    assert c["provisional"] is False
    assert c["assessment"]["author"] == "farida"
    assert c["assessment"]["pam_grade"] == 3
    assert c["assessment"]["covers_computed"] is True
    # Before the assessment was made, the same verdict was provisional.
    [before] = run_json("--as-of", "2020-03-15")["agreements"][0]["commitments"]
    assert before["provisional"] is True


def test_override_shows_the_assessed_status_and_keeps_the_computed_one(talks):
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met_late",
                      pam_grade=2, reason="Talks began informally on 12 March.", assessed_at=datetime(2020, 3, 20, tzinfo=UTC))
    [c] = run_json("--as-of", "2020-04-01")["agreements"][0]["commitments"]
    assert c["status"] == "met_late"
    assert c["computed"]["status"] == "missed"
    assert c["provisional"] is False
    text = run("--as-of", "2020-04-01")
    assert "Met late" in text and "computed: Missed" in text and "[assessed]" in text


def test_assessment_of_an_older_computed_status_no_longer_covers_it(talks):
    AssessmentFactory(commitment=talks, computed_status="missed", status="missed", assessed_at=datetime(2020, 3, 12, tzinfo=UTC))
    ReportFactory(occurred_at=datetime(2020, 3, 14, tzinfo=UTC), recorded_at=datetime(2020, 3, 15, tzinfo=UTC))
    [c] = run_json("--as-of", "2020-04-01")["agreements"][0]["commitments"]
    assert c["computed"]["status"] == "met_late"
    assert c["status"] == "met_late"
    assert c["provisional"] is True
    assert c["assessment"]["covers_computed"] is False


def test_text_output_names_every_commitment_and_its_reason(talks):
    CommitmentFactory(agreement=talks.agreement, key="ceasefire", title="Ceasefire", kind="prohibition",
                      rule={}, due_offset=None, tracked=False)
    text = run("--as-of", "2020-03-05")
    assert "The deal (deal), 2020-02-29, Asia/Kabul" in text
    assert "talks" in text and "Due soon" in text and "Due by the end of 10 March 2020." in text
    assert "ceasefire" in text and "Not tracked" in text


def test_unsigned_agreement_is_awaiting_signature():
    agreement = AgreementFactory(slug="unsigned", signed_on=None)
    CommitmentFactory(agreement=agreement, key="talks")
    [c] = run_json("--agreement", "unsigned")["agreements"][0]["commitments"]
    assert c["status"] == "awaiting_signature"
    assert "signing, which has not happened yet" in c["computed"]["sentence"]


def test_unknown_agreement_and_bad_date_are_clear_errors(talks):
    with pytest.raises(CommandError, match="No agreement with slug 'nope'"):
        run("--agreement", "nope")
    with pytest.raises(CommandError, match="--as-of 'March 1st'"):
        run("--as-of", "March 1st")


def test_disputed_report_that_would_decide_makes_the_commitment_disputed(talks):
    report = ReportFactory(occurred_at=datetime(2020, 3, 8, tzinfo=UTC))
    report.set_verification(DISPUTED, at=datetime(2020, 3, 9, tzinfo=UTC), reason="Government denies it.")
    [c] = run_json("--as-of", "2020-04-01")["agreements"][0]["commitments"]
    assert c["status"] == "disputed"
    assert c["computed"]["reason"]["params"] == {
        "without": "missed", "with": "met", "disputed": 1, "with_reports": [report.id], "without_reports": [],
    }


def _agreement_with(n, party):
    agreement = AgreementFactory()
    source = SourceFactory(name="Dataset", reliability="B")
    Coverage.objects.create(source=source, starts_on=datetime(2020, 1, 1).date(), recorded_at=datetime(2020, 1, 1, tzinfo=UTC))
    for i in range(n):
        kind = ("deadline", "target", "ceiling", "prohibition")[i % 4]
        rule = {"categories": [f"cat{i % 4}"]}
        if kind == "ceiling":
            rule["limit"] = 3
        if kind == "target":
            rule["target"] = 100
        commitment = CommitmentFactory(agreement=agreement, kind=kind, rule=rule, due_offset=10, owed_by=[party])
        ReportFactory(category=f"cat{i % 4}", value=50, actor1=party.name, source=source, commitment=commitment)
    return agreement


def test_standings_take_the_same_number_of_queries_for_4_and_40_commitments():
    party = PartyFactory(name="Taliban", slug="taliban")
    small, large = _agreement_with(4, party), _agreement_with(40, party)
    AssessmentFactory(commitment=large.commitments.first())
    as_of = datetime(2020, 4, 1, tzinfo=UTC)
    counts = []
    for agreement in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            result = inputs.standings([agreement], as_of=as_of)
        counts.append(len(ctx.captured_queries))
        assert len(result) == agreement.commitments.count()
    assert counts[0] == counts[1]
    assert counts[1] <= 11  # docs/architecture.md: eleven, the names reports carry and the categories included
