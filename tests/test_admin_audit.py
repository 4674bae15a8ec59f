"""The audit trail can be read, never written through, and shows no one what their role may not see."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from monitor.accounts.roles import ADMINISTRATOR, ANALYST, MONITOR, VIEWER, grant_role
from monitor.evidence import models as ev
from monitor.verdicts.models import StatusChange
from tests.factories import CommitmentFactory, ReportFactory, SourceFactory, UserFactory
from tests.test_roles import act, admin_form_data

pytestmark = pytest.mark.django_db


def staff(role):
    return grant_role(UserFactory(username=f"{role.lower()}-user"), role)


@pytest.fixture
def report():
    return ReportFactory(summary="Clash reported", entered_by=UserFactory(username="someone-else"),
                         source=SourceFactory(name="Wire"))


@pytest.mark.parametrize("role", [VIEWER, MONITOR, ANALYST, ADMINISTRATOR])
def test_no_role_can_rewrite_a_report_through_its_history_form(client, report, role):
    client.force_login(staff(role))
    version = report.history.get()
    url = reverse("admin:evidence_report_simple_history", args=[report.pk, version.history_id])
    page = client.get(url)
    assert page.status_code == 200 and "Clash reported" in page.content.decode()
    assert b'name="_save"' not in page.content  # nothing offered to save

    data = admin_form_data(page) | {"summary": "Rewritten through the history form", "visibility": ev.PUBLIC}
    assert client.post(url, data).status_code == 403
    report.refresh_from_db()
    assert report.summary == "Clash reported"
    assert report.history.count() == 1


def test_a_viewer_cannot_switch_on_republishing_of_a_licensed_source_through_its_history(client):
    source = SourceFactory(name="ACLED", may_republish=False)
    client.force_login(staff(VIEWER))
    url = reverse("admin:evidence_source_simple_history", args=[source.pk, source.history.get().history_id])
    data = admin_form_data(client.get(url)) | {"may_republish": "on"}
    assert client.post(url, data).status_code == 403
    source.refresh_from_db()
    assert source.may_republish is False


@pytest.mark.parametrize("role", [VIEWER, MONITOR])
def test_the_history_of_a_restricted_report_is_hidden_from_those_who_may_not_read_it(client, role):
    secret = ReportFactory(summary="Informant says", visibility=ev.RESTRICTED, entered_by=UserFactory(username="x"))
    client.force_login(staff(role))
    assert client.get(reverse("admin:evidence_report_history", args=[secret.pk])).status_code == 404
    version = secret.history.get().history_id
    assert client.get(reverse("admin:evidence_report_simple_history", args=[secret.pk, version])).status_code == 404


def test_an_analyst_reads_the_history_of_a_restricted_report(client):
    secret = ReportFactory(summary="Informant says", visibility=ev.RESTRICTED, entered_by=UserFactory(username="x"))
    client.force_login(staff(ANALYST))
    page = client.get(reverse("admin:evidence_report_history", args=[secret.pk]))
    assert page.status_code == 200 and "Informant says" in page.content.decode()


def test_editing_what_a_verified_report_says_makes_it_claimed_again(client, report):
    report.set_verification(ev.VERIFIED, by=staff(ANALYST))
    monitor = staff(MONITOR)
    client.force_login(monitor)
    url = reverse("admin:evidence_report_change", args=[report.pk])
    data = admin_form_data(client.get(url)) | {"summary": "Clash reported; 40 dead"}
    response = client.post(url, data, follow=True)
    assert "it is claimed again" in response.content.decode()
    report.refresh_from_db()
    assert (report.summary, report.verification) == ("Clash reported; 40 dead", ev.CLAIMED)
    last = report.verification_changes.last()
    assert (last.old_state, last.new_state, last.changed_by) == (ev.VERIFIED, ev.CLAIMED, monitor)
    assert "summary" in last.reason


def test_changing_only_its_visibility_keeps_a_report_verified(client, report):
    report.set_verification(ev.VERIFIED, by=staff(ANALYST))
    client.force_login(staff(MONITOR))
    url = reverse("admin:evidence_report_change", args=[report.pk])
    assert client.post(url, admin_form_data(client.get(url)) | {"visibility": ev.INTERNAL}).status_code == 302
    report.refresh_from_db()
    assert (report.visibility, report.verification) == (ev.INTERNAL, ev.VERIFIED)


def test_when_a_report_was_recorded_cannot_be_back_dated_in_the_admin(client, report):
    client.force_login(staff(ANALYST))
    url = reverse("admin:evidence_report_change", args=[report.pk])
    data = admin_form_data(client.get(url)) | {"recorded_at_0": "2019-01-01", "recorded_at_1": "00:00:00"}
    assert client.post(url, data).status_code == 302
    report.refresh_from_db()
    assert report.recorded_at == datetime(2020, 3, 6, 8, tzinfo=UTC)


def test_a_status_change_lists_only_the_evidence_the_user_may_read(client):
    commitment = CommitmentFactory()
    public = ReportFactory(summary="Wire story")
    secret = ReportFactory(summary="Informant says", visibility=ev.RESTRICTED)
    change = StatusChange.objects.create(
        commitment=commitment, new_status="met", effective_at=datetime(2020, 3, 5, tzinfo=UTC), reason_code="act",
        reason_params={"source": "Informant network", "grade": "B2"},
    )
    change.evidence.set([public, secret])
    url = reverse("admin:verdicts_statuschange_change", args=[change.pk])

    client.force_login(staff(VIEWER))
    page = client.get(url).content.decode()
    assert "Wire story" in page
    assert "Informant says" not in page and "Informant network" not in page
    assert "1 more report is restricted to analysts" in page

    client.force_login(staff(ANALYST))
    page = client.get(url).content.decode()
    assert "Wire story" in page and "Informant says" in page and "Informant network" in page


def test_an_event_is_not_labelled_with_a_restricted_reports_words(client):
    secret = ReportFactory(summary="Informant says", visibility=ev.RESTRICTED,
                           occurred_at=datetime(2020, 3, 1, tzinfo=UTC))
    wire = ReportFactory(summary="Wire story", occurred_at=datetime(2020, 3, 2, tzinfo=UTC))
    client.force_login(staff(ANALYST))
    act(client, "group_as_event", [secret, wire])
    event = ev.Report.objects.get(pk=wire.pk).event
    assert event.label == "Wire story"
    client.force_login(staff(VIEWER))
    listing = client.get(reverse("admin:evidence_eventgroup_changelist")).content.decode()
    assert "Wire story" in listing and "Informant says" not in listing
