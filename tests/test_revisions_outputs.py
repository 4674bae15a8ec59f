"""Every page, API answer, feed and export names the method version and the revision of the terms it used."""

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import icalendar
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitor.evidence.importing import exports
from monitor.verdicts.method import METHOD_VERSION
from monitor.verdicts.models import StatusChange
from terms import revisions
from terms.models import Commitment, Revision
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
AGREEMENT = {"agreement": "doha"}
TALKS = {"agreement": "doha", "key": "talks"}


@pytest.fixture
def doha():
    """Recorded on 1 March 2020 (r1), revised on 1 July 2020 (r2); its one verdict change detected on 11 March."""
    agreement = AgreementFactory(slug="doha", title="Doha agreement", signed_on=date(2020, 2, 29),
                                 publish_computed_verdicts=True)
    Revision.objects.filter(agreement=agreement).update(made_at=datetime(2020, 3, 1, tzinfo=UTC))
    party = PartyFactory(name="Taliban", slug="taliban")
    agreement.parties.set([party])
    talks = CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", owed_by=[party])
    StatusChange.objects.create(commitment=talks, new_status="missed", effective_at=datetime(2020, 3, 10, tzinfo=UTC),
                                detected_at=datetime(2020, 3, 11, tzinfo=UTC), reason_code="deadline.missed",
                                reason_params={"due": "2020-03-10", "grace_days": 0})
    revisions.record(agreement, made_by="amira", reason="Talks within 14 days, as the text says",
                     changes=[{"commitment": "talks", "field": "due_offset", "old": 10, "new": 14}],
                     made_at=datetime(2020, 7, 1, tzinfo=UTC))
    return agreement


def footer(response):
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index('<footer class="site">'):]


def test_every_agreement_has_r1_from_the_moment_it_exists():
    agreement = AgreementFactory()
    assert [r.label for r in agreement.revisions.all()] == ["r1"]


def test_the_agreement_and_commitment_pages_name_the_method_version_and_the_current_revision(client, doha):
    for url in (reverse("pages:agreement", kwargs=AGREEMENT), reverse("pages:commitment", kwargs=TALKS)):
        text = footer(client.get(url))
        assert f"Judged by method version {METHOD_VERSION}." in text
        assert "Terms of Doha agreement: revision r2." in text


def test_a_view_as_known_before_a_revision_names_the_revision_then_in_force(client, doha):
    url = reverse("pages:commitment", kwargs=TALKS)
    text = footer(client.get(url, {"as_of": "2020-03-20", "known_at": "2020-03-20"}))
    assert "revision r1." in text and "r2" not in text


def test_every_other_page_names_the_method_version_and_the_front_page_each_agreements_revision(client, doha):
    method = client.get(reverse("pages:method")).content.decode()
    assert f"method version {METHOD_VERSION}" in footer(client.get(reverse("pages:method")))
    assert f"The rules have a version (now {METHOD_VERSION})" in method
    front = client.get(reverse("pages:home")).content.decode()
    assert "Terms: revision r2." in front and f"method version {METHOD_VERSION}" in front


def test_the_api_names_the_revision_and_method_in_agreements_and_commitments(client, doha):
    listed = client.get(reverse("api:agreement-list")).json()["results"][0]
    detail = client.get(reverse("api:agreement-detail", kwargs=AGREEMENT)).json()
    for body in (listed, detail):
        assert (body["terms_revision"], body["method_version"]) == ("r2", METHOD_VERSION)
    answer = client.get(reverse("api:commitment-list", kwargs=AGREEMENT)).json()
    assert (answer["terms_revision"], answer["method_version"]) == ("r2", METHOD_VERSION)
    assert (answer["commitments"][0]["terms_revision"], answer["commitments"][0]["method_version"]) == (
        "r2", METHOD_VERSION)
    one = client.get(reverse("api:commitment-detail", kwargs=TALKS), {"as_of": "2020-03-20", "known_at": "2020-03-20"})
    assert (one.json()["terms_revision"], one.json()["method_version"]) == ("r1", METHOD_VERSION)


def test_the_api_names_the_revision_and_method_in_status_changes_and_reports(client, doha):
    from tests.factories import ReportFactory

    (change,) = client.get(reverse("api:statuschange-list")).json()["results"]
    # Detected on 11 March 2020, under r1: r2 came in July.
    assert (change["terms_revision"], change["method_version"]) == ("r1", METHOD_VERSION)
    linked = ReportFactory(summary="Talks opened.", commitment=Commitment.objects.get(key="talks"))
    loose = ReportFactory(summary="Shelling in Kunduz.")
    listed = {r["id"]: r for r in client.get(reverse("api:report-list")).json()["results"]}
    assert (listed[linked.id]["terms_revision"], listed[linked.id]["method_version"]) == ("r2", METHOD_VERSION)
    assert (listed[loose.id]["terms_revision"], listed[loose.id]["method_version"]) == (None, METHOD_VERSION)
    one = client.get(reverse("api:report-detail", kwargs={"pk": linked.id})).json()
    assert (one["terms_revision"], one["method_version"]) == ("r2", METHOD_VERSION)
    cited = client.get(reverse("api:commitment-reports", kwargs=TALKS),
                       {"as_of": "2020-03-20", "known_at": "2020-03-20"}).json()
    assert all(r["terms_revision"] == "r1" for r in cited["results"])


def test_naming_the_revision_in_lists_costs_no_query_per_item(client, doha, django_assert_num_queries):
    from tests.factories import ReportFactory

    talks = Commitment.objects.get(key="talks")
    ReportFactory(summary="Talks opened.", commitment=talks)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("api:report-list"))
    with CaptureQueriesContext(connection) as one_change:
        client.get(reverse("api:statuschange-list"))
    other = AgreementFactory(slug="other", publish_computed_verdicts=True)
    for i in range(4):
        commitment = CommitmentFactory(agreement=other, key=f"k{i}")
        ReportFactory(summary=f"Report {i}", commitment=commitment)
        StatusChange.objects.create(commitment=commitment, new_status="met", reason_code="deadline.met",
                                    effective_at=datetime(2020, 3, 12, tzinfo=UTC),
                                    detected_at=datetime(2020, 3, 12 + i, tzinfo=UTC), reason_params={})
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(reverse("api:report-list")).json()["results"]) == 5
    with django_assert_num_queries(len(one_change.captured_queries)):
        assert len(client.get(reverse("api:statuschange-list")).json()["results"]) == 5


def test_the_feed_names_the_method_and_each_entry_the_revision_it_was_detected_under(client, doha):
    feed = ET.fromstring(client.get(reverse("pages:agreement-feed", kwargs=AGREEMENT)).content)
    assert f"method version {METHOD_VERSION}" in feed.find(f"{ATOM}subtitle").text
    assert "Terms now: revision r2." in feed.find(f"{ATOM}subtitle").text
    (entry,) = feed.findall(f"{ATOM}entry")
    assert f"Terms: revision r1; method version {METHOD_VERSION}." in entry.find(f"{ATOM}summary").text



def test_a_change_keeps_naming_the_method_that_detected_it_after_the_method_moves_on(client, doha):
    first = StatusChange.objects.get()
    # One detected under an earlier version, one recorded before versions had names (the migration leaves those empty).
    older = StatusChange.objects.create(
        commitment=first.commitment, previous=first, old_status=first.new_status, new_status="met",
        reason_code="deadline.met", method_version="2026.11", effective_at=datetime(2020, 3, 12, tzinfo=UTC),
        detected_at=datetime(2020, 3, 12, tzinfo=UTC), reason_params={},
    )
    unnamed = StatusChange.objects.create(
        commitment=first.commitment, previous=older, old_status="met", new_status="missed",
        reason_code="deadline.missed", method_version="", effective_at=datetime(2020, 3, 13, tzinfo=UTC),
        detected_at=datetime(2020, 3, 13, tzinfo=UTC), reason_params={},
    )

    changes = {c["id"]: c for c in client.get(reverse("api:statuschange-list")).json()["results"]}
    feed = ET.fromstring(client.get(reverse("pages:agreement-feed", kwargs=AGREEMENT)).content)
    summaries = [e.find(f"{ATOM}summary").text for e in feed.findall(f"{ATOM}entry")]

    assert changes[older.id]["method_version"] == "2026.11"
    assert changes[unnamed.id]["method_version"] == f"before {METHOD_VERSION}"
    assert any("method version 2026.11." in text for text in summaries)
    assert any(f"method version before {METHOD_VERSION}." in text for text in summaries)
    # A change recorded now names today's version.
    assert first.method_version == METHOD_VERSION

def test_the_compliance_json_names_the_method_version_and_each_agreements_revision(doha):
    out = StringIO()
    call_command("compliance", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["method_version"] == METHOD_VERSION
    assert document["agreements"][0]["terms_revision"] == "r2"
    out = StringIO()
    call_command("compliance", "--json", "--as-of", "2020-03-20", "--known-at", "2020-03-20", stdout=out)
    assert json.loads(out.getvalue())["agreements"][0]["terms_revision"] == "r1"


def test_the_calendar_and_the_verdict_exports_name_them_too(client, doha):
    calendar = icalendar.Calendar.from_ical(client.get(reverse("pages:deadlines", kwargs=AGREEMENT)).content)
    said = f"Terms: revision r2; method version {METHOD_VERSION}."
    assert said in str(calendar["x-wr-caldesc"])
    assert all(said in str(e["description"]) for e in calendar.walk("VEVENT"))
    response = exports.verdicts_csv(list(Commitment.objects.select_related("agreement")))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert (row["terms_revision"], row["method_version"]) == ("r2", METHOD_VERSION)


def test_a_revision_made_now_shows_on_the_next_visit(client, doha):
    url = reverse("pages:agreement", kwargs=AGREEMENT)
    assert "revision r2." in footer(client.get(url))
    # Made two minutes ago: a page "now" is shown as of the current minute, and as known then.
    revisions.record(doha, made_by="amira", reason="Grace of 2 days", made_at=timezone.now() - timedelta(minutes=2))
    assert "revision r3." in footer(client.get(url))
