from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from monitor.evidence.models import REJECTED, VERIFIED, Report
from monitor.verdicts.models import StatusChange
from terms.models import PartyName
from tests.factories import CommitmentFactory, PartyFactory, ReportFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_verification_change_records_who_when_and_why():
    analyst = UserFactory(username="amina")
    report = ReportFactory()
    report.set_verification(VERIFIED, by=analyst, at=datetime(2020, 3, 9, tzinfo=UTC), reason="Second source.")
    report.set_verification(REJECTED, by=analyst, at=datetime(2020, 3, 12, tzinfo=UTC), reason="Misdated.")
    report.refresh_from_db()
    assert report.verification == REJECTED
    history = list(report.verification_changes.values_list("old_state", "new_state", "changed_by__username", "reason"))
    assert history == [
        ("claimed", "verified", "amina", "Second source."),
        ("verified", "rejected", "amina", "Misdated."),
    ]


def test_status_changes_are_append_only():
    commitment = CommitmentFactory()
    change = StatusChange.objects.create(
        commitment=commitment, old_status="due_soon", new_status="missed",
        effective_at=datetime(2020, 3, 10, 19, 30, tzinfo=UTC), reason_code="deadline.missed",
    )
    change.new_status = "met"
    with pytest.raises(TypeError, match="append-only"):
        change.save()
    with pytest.raises(TypeError, match="append-only"):
        change.delete()
    with pytest.raises(TypeError, match="append-only"):
        StatusChange.objects.filter(pk=change.pk).update(new_status="met")
    with pytest.raises(TypeError, match="append-only"):
        StatusChange.objects.all().delete()
    assert StatusChange.objects.get().new_status == "missed"


def test_a_source_cannot_give_the_same_event_id_twice():
    source = SourceFactory(name="ACLED")
    ReportFactory(source=source, source_ref="AFG123")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportFactory(source=source, source_ref="AFG123")
    # Reports without a source id are not constrained.
    ReportFactory(source=source, source_ref="")
    ReportFactory(source=source, source_ref="")
    assert Report.objects.filter(source=source).count() == 3


def test_a_name_used_by_sources_belongs_to_one_party_whatever_its_spelling():
    taliban, other = PartyFactory(name="Taliban", slug="taliban"), PartyFactory(name="Other", slug="other")
    PartyName.objects.create(party=taliban, name="Islamic Emirate of Afghanistan")
    with pytest.raises(IntegrityError), transaction.atomic():
        PartyName.objects.create(party=other, name="  islamic emirate of  AFGHANISTAN ")


@pytest.mark.parametrize("model", ["agreement", "commitment", "party", "report", "source", "assessment", "statuschange"])
def test_admin_pages_open_for_a_superuser(client, model):
    admin = UserFactory(username="root", is_superuser=True)
    client.force_login(admin)
    ReportFactory(commitment=CommitmentFactory())
    app = {"agreement": "terms", "commitment": "terms", "party": "terms", "report": "evidence", "source": "evidence",
           "assessment": "verdicts", "statuschange": "verdicts"}[model]
    response = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert response.status_code == 200
    assert b"Select" in response.content
