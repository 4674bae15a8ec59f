"""A commitment's admin page: its verdict now, why, its assessments, its public page; recording an assessment."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from monitor.accounts.roles import ANALYST, grant_role
from monitor.verdicts.models import Assessment
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    PartyFactory,
    ReportFactory,
    UserFactory,
)
from tests.test_roles import admin_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def talks():
    agreement = AgreementFactory(slug="doha", signed_on=date(2020, 2, 29), time_zone="Asia/Kabul")
    return CommitmentFactory(agreement=agreement, key="talks-begin", title="Talks begin",
                             owed_by=[PartyFactory(name="Taliban", slug="taliban")],
                             rule={"categories": ["talks"], "attribution": "any"})


@pytest.fixture
def analyst(client):
    user = grant_role(UserFactory(username="amina"), ANALYST)
    client.force_login(user)
    return user


def page_of(client, commitment):
    return client.get(reverse("admin:terms_commitment_change", args=[commitment.pk]))


def assess(client, commitment, **fields):
    url = reverse("admin:terms_commitment_change", args=[commitment.pk])
    data = admin_form_data(client.get(url))
    data.update({f"assessments-0-{k}": v for k, v in fields.items()})
    return client.post(url, data)


def test_the_page_shows_the_verdict_its_reason_the_assessments_and_the_public_page(client, analyst, talks):
    ReportFactory(category="talks", occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC))
    AssessmentFactory(commitment=talks, computed_status="met", reason="Two wires agree.", author=analyst)
    page = page_of(client, talks).content.decode()
    assert "Met</strong> <small>(assessed)" in page and "10 Mar 2020" in page
    assert "Met on 5 March 2020" in page  # the reason, as a sentence
    assert "Two wires agree." in page and "amina" in page


def test_the_page_links_to_the_public_page_when_there_is_one(client, analyst, talks, monkeypatch):
    from django.urls import NoReverseMatch

    from monitor.verdicts import admin as verdicts_admin

    asked = []

    def reverse_public(name, kwargs):
        asked.append((name, kwargs))
        return "/agreements/doha/commitments/talks-begin/"

    monkeypatch.setattr(verdicts_admin, "reverse", reverse_public)
    page = page_of(client, talks).content.decode()
    assert '<a href="/agreements/doha/commitments/talks-begin/">' in page
    assert asked == [("pages:commitment", {"agreement": "doha", "key": "talks-begin"})]

    def no_public_pages(name, kwargs):
        raise NoReverseMatch(name)

    monkeypatch.setattr(verdicts_admin, "reverse", no_public_pages)
    assert "not published yet" in page_of(client, talks).content.decode()


def test_an_assessment_of_an_earlier_computed_status_leaves_the_verdict_provisional_and_says_so(
    client, analyst, talks
):
    AssessmentFactory(commitment=talks, computed_status="due_soon", reason="Looked early.")
    page = page_of(client, talks).content.decode()
    assert "Missed</strong> <small>(provisional)" in page
    assert "the latest assessment was of another computed status" in page


def test_an_analyst_overrides_a_verdict_with_the_status_they_assert(client, analyst, talks):
    response = assess(client, talks, action="override", status="met_late", pam_grade="2", confidence="low",
                      reason="The talks began informally on day 12.")
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert (assessment.computed_status, assessment.status, assessment.pam_grade, assessment.author) == (
        "missed", "met_late", 2, analyst)
    assert "Met late</strong> <small>(assessed)" in page_of(client, talks).content.decode()
    assert assessment.history.get().history_user == analyst


@pytest.mark.parametrize("fields, error", [
    ({"action": "override"}, "An override needs the status you assert."),
    ({"action": "override", "status": "missed"}, "That is the computed status: confirm it instead."),
    ({"action": "confirm", "seen_status": "due_soon"},
     "The computed verdict changed from Due soon to Missed while you were assessing it; look again."),
])
def test_an_assessment_that_does_not_fit_the_verdict_is_refused_with_the_reason(client, analyst, talks, fields,
                                                                                 error):
    response = assess(client, talks, reason="Checked.", **fields)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Assessment.objects.exists()


def test_assessments_are_not_edited_afterwards(client, analyst, talks):
    assessment = AssessmentFactory(commitment=talks, computed_status="missed")
    response = client.get(reverse("admin:verdicts_assessment_change", args=[assessment.pk]))
    assert response.status_code == 200 and b'name="_save"' not in response.content
    assert client.get(reverse("admin:verdicts_assessment_add")).status_code == 403
