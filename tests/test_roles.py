"""The four roles, each through the admin as its users would meet it (docs: monitor/accounts/roles.py)."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from monitor.accounts.roles import ADMINISTRATOR, ANALYST, MONITOR, ROLES, VIEWER, grant_role
from monitor.evidence import models as ev
from monitor.verdicts.models import Assessment
from tests.factories import CommitmentFactory, PartyFactory, ReportFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:evidence_report_changelist")


def staff(role, username=None):
    return grant_role(UserFactory(username=username or role.lower()), role)


def act(client, action, reports, **extra):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [r.pk for r in reports], "index": 0, **extra}, follow=True
    )


def admin_form_data(response):
    """The POST data a browser would send back, unchanged, from an admin change form (with its inlines)."""
    data = {}
    zone = getattr(response.wsgi_request, "admin_time_zone", "UTC")

    def put(form):
        for name in form.fields:
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None or value is False:
                continue
            widget = form.fields[name].widget
            if hasattr(widget, "decompress"):  # a split date and time: one key per part, as a browser sends
                # in the zone the page showed it in (the admin's, monitor/evidence/admin_time.py)
                with timezone.override(zone):
                    parts = widget.decompress(value)
                for i, part in enumerate(parts):
                    data[f"{key}_{i}"] = part.isoformat() if hasattr(part, "isoformat") else part
                continue
            data[key] = "on" if value is True else [str(v) for v in value] if isinstance(value, list) else value

    put(response.context["adminform"].form)
    # The history form has no inlines.
    inlines = response.context["inline_admin_formsets"] if "inline_admin_formsets" in response.context else []
    for inline in inlines:
        put(inline.formset.management_form)
        for form in inline.formset.forms:
            put(form)
    return data


@pytest.fixture
def others_report():
    return ReportFactory(entered_by=UserFactory(username="someone-else"), source=SourceFactory(name="Wire"))


def test_the_roles_exist_as_groups_after_migrating():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


# --- Viewer --------------------------------------------------------------------


def test_a_viewer_reads_reports_and_commitments_but_cannot_change_them(client, others_report):
    client.force_login(staff(VIEWER))
    commitment = CommitmentFactory()
    assert client.get(CHANGELIST).status_code == 200
    page = client.get(reverse("admin:evidence_report_change", args=[others_report.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.get(reverse("admin:terms_commitment_change", args=[commitment.pk])).status_code == 200
    assert client.get(reverse("admin:evidence_report_history", args=[others_report.pk])).status_code == 200
    assert client.get(reverse("admin:evidence_report_add")).status_code == 403
    assert client.get(reverse("admin:evidence_importjob_upload")).status_code == 403
    assert "Import reports from a file" not in client.get(CHANGELIST).content.decode()


def test_a_viewer_is_offered_no_verification_and_a_forged_one_changes_nothing(client, others_report):
    client.force_login(staff(VIEWER))
    offered = [value for value, _label in client.get(CHANGELIST).context["action_form"].fields["action"].choices]
    assert "verify_reports" not in offered and "reject_reports" not in offered and "group_as_event" not in offered
    assert "export_csv" in offered
    response = act(client, "verify_reports", [others_report], confirm="yes", method=ev.TWO_SOURCES)
    assert "No action selected" in response.content.decode()
    others_report.refresh_from_db()
    assert others_report.verification == ev.CLAIMED


# --- Monitor -------------------------------------------------------------------


def test_a_monitor_enters_a_report_which_records_who_and_how(client):
    monitor = staff(MONITOR)
    client.force_login(monitor)
    source = SourceFactory(name="Wire")
    response = client.post(reverse("admin:evidence_report_add"), {
        "summary": "Talks open in Doha.", "category": "talks_started", "stance": "affirms",
        "occurred_at_0": "2020-03-05", "occurred_at_1": "08:00:00", "precision": "day",
        "recorded_at_0": "2020-03-06", "recorded_at_1": "08:00:00", "source": source.pk, "credibility": "2",
        "visibility": "public",
        "verification_changes-TOTAL_FORMS": "0", "verification_changes-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    report = ev.Report.objects.get()
    assert (report.entered_by, report.arrived_via) == (monitor, ev.ARRIVED_ADMIN)
    assert report.history.get().history_user == monitor


def test_a_monitor_cannot_verify_even_by_forging_the_action(client, others_report):
    client.force_login(staff(MONITOR))
    offered = [value for value, _label in client.get(CHANGELIST).context["action_form"].fields["action"].choices]
    assert "verify_reports" not in offered and "group_as_event" in offered
    act(client, "verify_reports", [others_report], confirm="yes", method=ev.TWO_SOURCES)
    act(client, "reject_reports", [others_report], confirm="yes", reason="Forged.")
    others_report.refresh_from_db()
    assert others_report.verification == ev.CLAIMED and not others_report.verification_changes.exists()


def test_a_monitor_may_upload_a_file_but_not_see_restricted_reports_of_others(client, others_report):
    client.force_login(staff(MONITOR))
    secret = ReportFactory(summary="Restricted finding", visibility=ev.RESTRICTED, entered_by=others_report.entered_by)
    assert client.get(reverse("admin:evidence_importjob_upload")).status_code == 200
    listing = client.get(CHANGELIST).content.decode()
    assert "Import reports from a file" in listing
    assert others_report.summary in listing and secret.summary not in listing
    assert client.get(reverse("admin:evidence_report_change", args=[secret.pk])).status_code == 302


# --- Analyst -------------------------------------------------------------------


def test_an_analyst_verifies_a_report_someone_else_entered(client, others_report):
    analyst = staff(ANALYST)
    client.force_login(analyst)
    response = act(client, "verify_reports", [others_report], confirm="yes", method=ev.TWO_SOURCES)
    assert "1 report marked verified." in response.content.decode()
    others_report.refresh_from_db()
    assert others_report.verification == ev.VERIFIED
    assert others_report.verification_changes.get().changed_by == analyst


def test_no_one_verifies_a_report_they_entered_themselves_not_even_in_bulk(client, others_report):
    analyst = staff(ANALYST)
    own = ReportFactory(entered_by=analyst, source=others_report.source)
    client.force_login(analyst)
    response = act(client, "verify_reports", [own, others_report], confirm="yes", method=ev.TWO_SOURCES)
    text = response.content.decode()
    assert "1 report marked verified." in text
    assert "1 report was not verified: you entered it, so someone else must verify it." in text
    own.refresh_from_db()
    assert own.verification == ev.CLAIMED and not own.verification_changes.exists()


def test_rejecting_asks_for_a_reason_and_records_it(client, others_report):
    client.force_login(staff(ANALYST))
    page = act(client, "reject_reports", [others_report])
    assert "Why are these reports rejected?" in page.content.decode()
    without_reason = act(client, "reject_reports", [others_report], confirm="yes", reason="  ")
    assert "This field is required." in without_reason.content.decode()
    others_report.refresh_from_db()
    assert others_report.verification == ev.CLAIMED
    act(client, "reject_reports", [others_report], confirm="yes", reason="Misdated: it happened in 2019.")
    others_report.refresh_from_db()
    assert others_report.verification == ev.REJECTED
    assert others_report.verification_changes.get().reason == "Misdated: it happened in 2019."


def test_an_analyst_disputes_reports_in_bulk(client, others_report):
    second = ReportFactory(entered_by=others_report.entered_by, source=others_report.source)
    client.force_login(staff(ANALYST))
    assert "2 reports marked disputed." in act(client, "dispute_reports", [others_report, second]).content.decode()
    assert set(ev.Report.objects.values_list("verification", flat=True)) == {ev.DISPUTED}


def test_an_analyst_edits_a_commitment_and_records_an_assessment(client):
    analyst = staff(ANALYST)
    commitment = CommitmentFactory(title="Talks begin", owed_by=[PartyFactory(name="Taliban", slug="taliban")])
    client.force_login(analyst)
    url = reverse("admin:terms_commitment_change", args=[commitment.pk])
    data = admin_form_data(client.get(url))
    data.update({"title": "Talks between the parties begin", "assessments-0-action": "confirm",
                 "assessments-0-reason": "Matches the mission's account.", "assessments-0-confidence": "high"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    commitment.refresh_from_db()
    assert commitment.title == "Talks between the parties begin"
    assessment = Assessment.objects.get()
    assert (assessment.author, assessment.action, assessment.reason) == (
        analyst, "confirm", "Matches the mission's account.")
    assert assessment.status == assessment.computed_status


def test_a_monitor_sees_a_commitment_but_may_neither_edit_it_nor_assess_it(client):
    client.force_login(staff(MONITOR))
    commitment = CommitmentFactory(title="Talks begin")
    page = client.get(reverse("admin:terms_commitment_change", args=[commitment.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content and b"record an assessment" not in page.content.lower()
    client.post(reverse("admin:terms_commitment_change", args=[commitment.pk]), {"title": "Changed"})
    commitment.refresh_from_db()
    assert commitment.title == "Talks begin" and not Assessment.objects.exists()


def test_an_analyst_cannot_manage_sources_or_delete_reports(client, others_report):
    client.force_login(staff(ANALYST))
    assert client.get(reverse("admin:evidence_source_add")).status_code == 403
    assert client.get(reverse("admin:evidence_report_delete", args=[others_report.pk])).status_code == 403


# --- Administrator -------------------------------------------------------------


def test_an_administrator_manages_sources_but_neither_deletes_reports_nor_verifies_their_own(client):
    admin_user = staff(ADMINISTRATOR)
    client.force_login(admin_user)
    response = client.post(reverse("admin:evidence_source_add"), {
        "name": "UN mission", "kind": "monitoring_mission", "reliability": "A",
        "coverage-TOTAL_FORMS": "0", "coverage-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    source = ev.Source.objects.get(name="UN mission")
    assert source.history.get().history_user == admin_user
    own = ReportFactory(entered_by=admin_user, source=source)
    act(client, "verify_reports", [own], confirm="yes", method=ev.TWO_SOURCES)
    own.refresh_from_db()
    assert own.verification == ev.CLAIMED
    # A report is a record: rejected or hidden, never deleted (tests/test_records_kept.py).
    assert client.post(reverse("admin:evidence_report_delete", args=[own.pk]), {"post": "yes"}).status_code == 403
    assert ev.Report.objects.filter(pk=own.pk).exists()


def test_a_superuser_cannot_verify_a_report_they_entered_either(client):
    root = UserFactory(username="root", is_superuser=True)
    own = ReportFactory(entered_by=root)
    client.force_login(root)
    act(client, "verify_reports", [own], confirm="yes", method=ev.TWO_SOURCES)
    own.refresh_from_db()
    assert own.verification == ev.CLAIMED


def test_the_model_refuses_self_verification_whatever_calls_it():
    analyst = UserFactory()
    report = ReportFactory(entered_by=analyst)
    with pytest.raises(ev.SelfVerification):
        report.set_verification(ev.VERIFIED, by=analyst, at=datetime(2020, 3, 9, tzinfo=UTC))
    report.set_verification(ev.REJECTED, by=analyst, reason="Entered by mistake.")
    assert report.verification == ev.REJECTED


# --- logins --------------------------------------------------------------------


def test_failed_logins_are_throttled_even_for_the_right_password_afterwards(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security, here
    user = UserFactory(username="amina")
    user.set_password("correct horse battery staple")
    user.save()
    login = reverse("admin:login")
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(login, {"username": "amina", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    assert client.post(login, {"username": "amina", "password": "wrong"}).status_code == 429  # the limit
    response = client.post(login, {"username": "amina", "password": "correct horse battery staple"})
    assert response.status_code == 429
    assert "too many login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_analyst_classifies_a_provision_and_a_monitor_cannot(client):
    from terms.models import Provision

    commitment = CommitmentFactory(title="Talks begin")
    provision = Provision.objects.create(
        agreement=commitment.agreement, ref="part-three-1", number="Part Three, 1", position=1,
        summary="The parties seek positive relations.", source="test", status="not_yet_modelled",
    )
    url = reverse("admin:terms_provision_change", args=[provision.pk])
    client.force_login(staff(MONITOR))
    assert b'name="_save"' not in client.get(url).content

    client.force_login(staff(ANALYST))
    data = admin_form_data(client.get(url))
    data.update({"status": "not_monitorable", "reason": "aspirational"})
    response = client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    provision.refresh_from_db()
    assert (provision.status, provision.reason) == ("not_monitorable", "aspirational")
