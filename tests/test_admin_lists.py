"""The admin's list pages: what they show, their filters, and a query count that does not grow with the rows."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitor.evidence import models as ev
from monitor.verdicts.models import StatusChange
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


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return user


def add_rows(model, n, start=0):
    """n rows of a list page's model, each with its own related rows, as a busy database would have them."""
    for i in range(start, start + n):
        party = PartyFactory()
        if model == "report":
            ReportFactory(source=SourceFactory(), entered_by=UserFactory(), commitment=CommitmentFactory(),
                          event=ev.EventGroup.objects.create(label=f"event {i}"))
        elif model == "commitment":
            commitment = CommitmentFactory(agreement=AgreementFactory(), owed_by=[party])
            ReportFactory(commitment=commitment)
            AssessmentFactory(commitment=commitment, computed_status="missed")
        elif model == "agreement":
            CommitmentFactory(agreement=AgreementFactory(), owed_by=[party])
        elif model == "source":
            ev.Coverage.objects.create(source=SourceFactory(), starts_on=date(2020, 3, 1))
        elif model == "assessment":
            AssessmentFactory(commitment=CommitmentFactory(), author=UserFactory())
        elif model == "statuschange":
            StatusChange.objects.create(commitment=CommitmentFactory(), new_status="missed",
                                        effective_at=datetime(2020, 3, 10, tzinfo=UTC), reason_code="deadline.missed")
        elif model == "importjob":
            ev.ImportJob.objects.create(file_name=f"f{i}.csv", format=ev.ACLED, source=SourceFactory(),
                                        created_by=UserFactory())
        elif model == "party":
            party.names.create(name=f"Alias {i}")
        elif model == "eventgroup":
            ReportFactory(event=ev.EventGroup.objects.create(label=f"event {i}"))
        elif model == "placename":
            if i == 0:
                ev.PlaceName.objects.all().delete()  # the spellings shipped with the monitor (migration)
            ev.PlaceName.objects.create(name=f"Spelling {i}", place=f"Place {i}")


LISTS = {
    "report": "evidence", "source": "evidence", "importjob": "evidence", "eventgroup": "evidence",
    "placename": "evidence", "commitment": "terms", "agreement": "terms", "party": "terms",
    "assessment": "verdicts", "statuschange": "verdicts",
}


@pytest.mark.parametrize("model", LISTS)
def test_a_list_page_costs_the_same_queries_for_two_rows_as_for_twelve(client, root, model):
    url = reverse(f"admin:{LISTS[model]}_{model}_changelist")
    add_rows(model, 2)
    client.get(url)  # warm: content types, sessions
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_rows(model, 10, start=2)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.context["cl"].result_count == 12
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- the commitment list -------------------------------------------------------------


def row_of(page, title):
    return next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if title in r)


def test_the_commitment_list_shows_each_live_verdict_its_due_date_countdown_and_evidence(client, root):
    agreement = AgreementFactory(signed_on=date(2020, 2, 29), time_zone="Asia/Kabul")
    met = CommitmentFactory(agreement=agreement, title="Talks begin", rule={"categories": ["talks"],
                                                                         "attribution": "any"})
    ReportFactory(category="talks", occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC))
    ReportFactory(category="talks", occurred_at=datetime(2020, 3, 6, 8, tzinfo=UTC))
    AssessmentFactory(commitment=met, computed_status="met")
    today = datetime.now(ZoneInfo(agreement.time_zone)).date()  # the agreement's day, not the server's
    due_in_three_days = (today - agreement.signed_on).days + 3
    CommitmentFactory(agreement=agreement, title="Prisoners released", due_offset=due_in_three_days)
    page = client.get(reverse("admin:terms_commitment_changelist")).content.decode()
    first = row_of(page, "Talks begin")
    assert "Met</strong> <small>(assessed)" in first and "10 Mar 2020" in first
    assert 'field-evidence_count">1<' in first  # the verdict rests on the earlier of the two reports
    second = row_of(page, "Prisoners released")
    assert "Due soon</strong> <small>(provisional)" in second and "3 days left" in second
    assert (today + timedelta(days=3)).strftime("%-d %b %Y") in second


def test_the_commitment_list_filters_by_live_verdict_agreement_kind_and_owing_party(client, root):
    taliban = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory(signed_on=date(2020, 2, 29))
    CommitmentFactory(agreement=agreement, title="Talks begin", owed_by=[taliban],
                      rule={"categories": ["talks"], "attribution": "any"})
    ReportFactory(category="talks")
    CommitmentFactory(agreement=agreement, title="Withdrawal begins", rule={"categories": ["withdrawal"]})
    CommitmentFactory(agreement=AgreementFactory(signed_on=None), title="Unsigned deal's term")
    url = reverse("admin:terms_commitment_changelist")

    def titles(query):
        return sorted(c.title for c in client.get(url, query).context["cl"].result_list)

    assert titles({"verdict": "met"}) == ["Talks begin"]
    assert titles({"verdict": "missed"}) == ["Withdrawal begins"]
    assert titles({"verdict": "awaiting_signature"}) == ["Unsigned deal's term"]
    assert titles({"verdict": "missed", "agreement__id__exact": agreement.pk}) == ["Withdrawal begins"]
    assert titles({"owed_by__id__exact": taliban.pk}) == ["Talks begin"]
    assert titles({"kind__exact": "deadline", "q": "withdrawal"}) == ["Withdrawal begins"]


# --- the report list -----------------------------------------------------------------


def test_the_report_list_filters_by_grade_state_visibility_and_agreement_and_searches_text_source_and_place(
    client, root
):
    wire, party_source = SourceFactory(name="Wire", reliability="B"), SourceFactory(name="Spokesman",
                                                                                   reliability="D")
    agreement = AgreementFactory()
    CommitmentFactory(agreement=agreement, rule={"categories": ["talks"]})
    ReportFactory(summary="Talks open in Doha", category="talks", source=wire, location="Doha")
    ReportFactory(summary="Spokesman claims talks began", category="talks", source=party_source,
                  visibility=ev.INTERNAL)
    ReportFactory(summary="Attack in Kunduz", category="Battles", source=wire, admin1="Kunduz")
    url = reverse("admin:evidence_report_changelist")

    def summaries(query):
        return sorted(r.summary for r in client.get(url, query).context["cl"].result_list)

    assert summaries({"source__reliability__exact": "D"}) == ["Spokesman claims talks began"]
    assert summaries({"visibility__exact": "internal"}) == ["Spokesman claims talks began"]
    assert summaries({"agreement": agreement.pk}) == ["Spokesman claims talks began", "Talks open in Doha"]
    assert summaries({"category": "Battles"}) == ["Attack in Kunduz"]
    assert summaries({"q": "kunduz"}) == ["Attack in Kunduz"]
    assert summaries({"q": "spokesman"}) == ["Spokesman claims talks began"]
    assert summaries({"q": "doha"}) == ["Talks open in Doha"]
    assert summaries({"occurred_at__year": "2020", "occurred_at__month": "3"}) == [
        "Attack in Kunduz", "Spokesman claims talks began", "Talks open in Doha"]
    # The date hierarchy offers the months of 2020 once the year is chosen.
    page = client.get(url, {"occurred_at__year": "2020"}).content.decode()
    assert '<nav class="toplinks">' in page and "occurred_at__month=3" in page
