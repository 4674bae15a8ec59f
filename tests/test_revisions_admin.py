"""The admin asks for a revision reason where the loader asks for --revise, and lists revisions read-only."""

import json
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from monitor.verdicts.models import StatusChange
from terms.models import Commitment, Revision
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory
from tests.test_roles import admin_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    user = get_user_model().objects.create_superuser("amira", "amira@example.org", "x")
    client.force_login(user)
    return user


@pytest.fixture
def troops():
    agreement = AgreementFactory(slug="doha", signed_on=date(2020, 2, 29), time_zone="Asia/Kabul")
    us = PartyFactory(name="United States", slug="us")
    agreement.parties.set([us])
    return CommitmentFactory(agreement=agreement, key="troops", title="Troops down to 8,600", kind="target",
                             owed_by=[us], due_offset=135,
                             rule={"categories": ["troop_level"], "attribution": "any", "target": 8600})


def cited(commitment):
    StatusChange.objects.create(commitment=commitment, new_status="not_yet_due",
                                effective_at=datetime(2020, 3, 1, tzinfo=UTC), reason_code="target.pending")


def post_commitment(client, commitment, **changes):
    url = reverse("admin:terms_commitment_change", args=[commitment.pk])
    data = admin_form_data(client.get(url))
    data.update(changes)
    return client.post(url, data)


def raised_target():
    return json.dumps({"categories": ["troop_level"], "attribution": "any", "target": 9000})


def test_changing_the_rule_of_a_cited_commitment_asks_for_a_revision_reason(client, editor, troops):
    cited(troops)
    response = post_commitment(client, troops, rule=raised_target())
    assert response.status_code == 200  # the form again, with the error
    assert "Give a reason for this revision of the terms" in response.content.decode()
    troops.refresh_from_db()
    assert troops.rule["target"] == 8600
    assert list(troops.agreement.revisions.values_list("number", flat=True)) == [1]


def test_with_a_reason_the_change_is_saved_as_a_revision_by_the_user(client, editor, troops):
    cited(troops)
    response = post_commitment(client, troops, rule=raised_target(), revision_reason="Annex 2 says 9,000")
    assert response.status_code == 302
    revision = troops.agreement.revisions.get(number=2)
    assert (revision.made_by, revision.reason) == ("amira", "Annex 2 says 9,000")
    assert revision.changes == [{
        "commitment": "troops", "field": "rule",
        "old": {"categories": ["troop_level"], "attribution": "any", "target": 8600},
        "new": {"categories": ["troop_level"], "attribution": "any", "target": 9000},
    }]


def test_rewording_a_cited_commitment_needs_no_reason_and_makes_no_revision(client, editor, troops):
    cited(troops)
    response = post_commitment(client, troops, title="US forces down to 8,600")
    assert response.status_code == 302
    assert Commitment.objects.get(pk=troops.pk).title == "US forces down to 8,600"
    assert troops.agreement.revisions.count() == 1


def test_a_judged_edit_in_the_agreements_commitment_rows_asks_for_the_reason_too(client, editor, troops):
    cited(troops)
    url = reverse("admin:terms_agreement_change", args=[troops.agreement.pk])
    data = admin_form_data(client.get(url))
    row = next(k for k, v in data.items() if k.startswith("commitments-") and k.endswith("-key") and v == "troops")
    data[row.replace("-key", "-kind")] = "deadline"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Commitment troops already has published verdicts" in response.content.decode()
    assert Commitment.objects.get(pk=troops.pk).kind == "target"
    data["revision_reason"] = "It is an act, not a figure"
    assert client.post(url, data).status_code == 302
    revision = troops.agreement.revisions.get(number=2)
    assert revision.made_by == "amira"
    assert revision.changes == [{"commitment": "troops", "field": "kind", "old": "target", "new": "deadline"}]


def test_the_agreement_page_lists_its_revisions_read_only(client, editor, troops):
    Revision.objects.create(agreement=troops.agreement, number=2, made_by="amira", reason="Annex 2 says 9,000")
    page = client.get(reverse("admin:terms_agreement_change", args=[troops.agreement.pk])).content.decode()
    assert "Revisions of the terms" in page and "Annex 2 says 9,000" in page and "r2" in page
    assert 'name="revisions-0-reason"' not in page  # shown, never edited


def test_an_agreement_created_in_the_admin_has_r1_by_its_author(client, editor):
    url = reverse("admin:terms_agreement_add")
    data = admin_form_data(client.get(url))
    data.update(title="Accord", slug="accord", time_zone="UTC", state="draft", escalate_after_hours="48",
                parties=[str(PartyFactory(slug="north").pk)])
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    revision = Revision.objects.get(agreement__slug="accord")
    assert (revision.label, revision.made_by) == ("r1", "amira")


def test_a_milestones_rule_cannot_be_edited_in_the_admin_only_revised_by_loading_the_file(client):
    from django.urls import reverse

    from terms.models import Milestone
    from tests.factories import AgreementFactory, UserFactory

    milestone = Milestone.objects.create(agreement=AgreementFactory(), key="elections", title="Elections held",
                                         rule={"categories": ["elections_held"]})
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:terms_milestone_change", args=[milestone.pk])
    client.post(url, {"title": "Local elections held", "text": "", "position": 0,
                      "rule": '{"categories": ["anything"]}'})
    milestone.refresh_from_db()
    assert milestone.title == "Local elections held" and milestone.rule == {"categories": ["elections_held"]}
