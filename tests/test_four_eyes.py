"""Four eyes: whatever can change what a verified report decides makes it claimed again, however it is changed.

Issue 11, finding 2: a Monitor changed only the linked commitment (or the event) of a report an
analyst had verified, and the report stayed verified while it now decided another commitment.
The fields that reset a verification are derived from what the verdict engine reads
(`monitor.verdicts.inputs.EVIDENCE_FIELDS`), and the admin, the importers and the API apply them.
"""

import dataclasses
import io
import json
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from monitor.accounts.roles import ANALYST, MONITOR, grant_role
from monitor.evidence import models as ev
from monitor.evidence.importing import staging
from monitor.evidence.importing.zones import admin_time_zone
from monitor.evidence.judged import JUDGED_FIELDS
from monitor.verdicts import engine, inputs
from tests.factories import AgreementFactory, CommitmentFactory, ReportFactory, SourceFactory, UserFactory
from tests.test_roles import act, admin_form_data

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"


def staff(role):
    return grant_role(UserFactory(username=f"{role.lower()}-user"), role)


@pytest.fixture
def analyst():
    return staff(ANALYST)


@pytest.fixture
def monitor():
    return staff(MONITOR)


@pytest.fixture
def verified(analyst):
    """A report someone else entered, verified by an analyst, linked to a commitment."""
    agreement = AgreementFactory(slug="us-taliban-2020")
    report = ReportFactory(
        summary="Talks open in Doha.", source=SourceFactory(name="Wire service"), source_ref="wire-1",
        commitment=CommitmentFactory(agreement=agreement, key="talks-begin"),
        entered_by=UserFactory(username="someone-else"),
    )
    report.set_verification(ev.VERIFIED, by=analyst, reason="Second source.")
    return report


def assert_claimed_again(report, by, *fields):
    report.refresh_from_db()
    assert report.verification == ev.CLAIMED
    last = report.verification_changes.order_by("changed_at", "id").last()
    assert (last.old_state, last.new_state, last.changed_by) == (ev.VERIFIED, ev.CLAIMED, by)
    for field in fields:
        assert field in last.reason, last.reason
    return last


# --- the set of judged fields -------------------------------------------------------------------


def report_field_name(attname):
    return next(f.name for f in ev.Report._meta.concrete_fields if f.attname == attname or f.name == attname)


def test_every_report_field_the_engine_reads_resets_a_verification():
    """Fails when a field the engine judges by is added without making it reset a verified report."""
    judged = JUDGED_FIELDS
    # Not what a report says: its identity, and when the monitor learned of it (set once, never edited);
    # the verification itself is what is being reset.
    not_content = {"id", "recorded_at", "verification"}
    engine_reads = {report_field_name(f.name) for f in dataclasses.fields(engine.Evidence)
                    if f.name not in not_content}
    database_reads = {report_field_name(name) for name in (*inputs.EVIDENCE_FIELDS, *inputs.CHANGE_FIELDS)
                      if name not in not_content}
    assert engine_reads | database_reads <= judged, sorted((engine_reads | database_reads) - judged)
    assert {"commitment", "event", "source", "occurred_at", "category", "credibility"} <= judged
    # What a report is shown with and to whom does not change what it decides.
    assert not {"visibility", "recorded_at", "verification", "entered_by", "arrived_via"} & judged


# --- the admin ----------------------------------------------------------------------------------


def other_value(report, name):
    """A valid value of `name` different from the report's, as the admin's form posts it."""
    field = ev.Report._meta.get_field(name)
    current = getattr(report, name)
    if name == "commitment":
        return {name: CommitmentFactory(agreement=report.commitment.agreement, key="other").pk}
    if name == "event":
        return {name: ev.EventGroup.objects.create(label="Another event").pk}
    if name == "source":
        return {name: SourceFactory(name="Another source").pk}
    if name == "original_text":  # an original text names its language
        return {name: "متن اصلی", "original_language": "ps"}
    if field.choices:
        return {name: next(str(c) for c, _label in field.choices if c != current)}
    if isinstance(field, ev.models.DateTimeField):
        moved = (current or report.occurred_at) + timedelta(hours=3)
        moved = timezone.localtime(moved, ZoneInfo(admin_time_zone()))  # as the admin reads it: in its zone
        return {f"{name}_0": moved.date().isoformat(), f"{name}_1": moved.time().isoformat()}
    if isinstance(field, ev.models.URLField):
        return {name: "https://example.org/another"}
    if isinstance(field, (ev.models.FloatField, ev.models.IntegerField)):
        return {name: str((current or 0) + 1)}
    return {name: f"{current or ''} (changed)".strip()}


@pytest.mark.parametrize("name", sorted(JUDGED_FIELDS))
def test_changing_any_judged_field_alone_in_the_admin_makes_a_verified_report_claimed(client, verified, monitor,
                                                                                        name):
    client.force_login(monitor)
    url = reverse("admin:evidence_report_change", args=[verified.pk])
    data = admin_form_data(client.get(url)) | other_value(verified, name)
    response = client.post(url, data, follow=True)
    assert response.redirect_chain, response.context["adminform"].form.errors  # saved
    assert "it is claimed again" in response.content.decode()
    assert_claimed_again(verified, monitor, name)


def test_a_monitor_who_moves_a_verified_report_to_another_commitment_leaves_it_claimed(client, verified, monitor):
    """The finding as reported: only the commitment changes, and the report decided another commitment."""
    other = CommitmentFactory(agreement=verified.commitment.agreement, key="prisoners-released")
    client.force_login(monitor)
    url = reverse("admin:evidence_report_change", args=[verified.pk])
    client.post(url, admin_form_data(client.get(url)) | {"commitment": other.pk})
    verified.refresh_from_db()
    assert verified.commitment == other
    assert_claimed_again(verified, monitor, "commitment")


def test_grouping_a_verified_report_with_others_as_one_event_makes_it_claimed(client, verified, monitor):
    other = ReportFactory(summary="Talks open (TV).", entered_by=UserFactory(username="third"))
    client.force_login(monitor)
    act(client, "group_as_event", [verified, other])
    verified.refresh_from_db()
    assert verified.event is not None and verified.event == ev.Report.objects.get(pk=other.pk).event
    assert_claimed_again(verified, monitor, "event")
    assert ev.Report.objects.get(pk=other.pk).verification == ev.CLAIMED  # claimed before: nothing recorded
    assert not ev.VerificationChange.objects.filter(report=other).exists()


def test_a_change_that_decides_nothing_keeps_the_verification(client, verified, monitor):
    client.force_login(monitor)
    url = reverse("admin:evidence_report_change", args=[verified.pk])
    client.post(url, admin_form_data(client.get(url)) | {"visibility": ev.INTERNAL})
    verified.refresh_from_db()
    assert (verified.visibility, verified.verification) == (ev.INTERNAL, ev.VERIFIED)


# --- imports ------------------------------------------------------------------------------------


def import_native(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_reports", str(path), "--format", "native", "--time-zone", "Asia/Kabul", *args,
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_native_import_that_relinks_a_verified_report_makes_it_claimed_and_says_why(verified, monitor, tmp_path):
    CommitmentFactory(agreement=verified.commitment.agreement, key="prisoners-released")
    path = tmp_path / "relink.csv"
    path.write_text(
        "source,source_ref,category,summary,occurred_at,commitment\n"
        f"Wire service,wire-1,{verified.category},Talks open in Doha.,{verified.occurred_at.isoformat()},"
        "us-taliban-2020/prisoners-released\n",
        encoding="utf-8",
    )
    out, err = import_native(path, "--user", monitor.username)
    assert "1 updated" in out, err
    verified.refresh_from_db()
    assert verified.commitment.key == "prisoners-released"
    assert_claimed_again(verified, monitor, "commitment", "relink.csv", "line 2")
    # The history of the report shows it claimed from that import on.
    assert verified.history.order_by("history_date", "history_id").last().verification == ev.CLAIMED


def test_a_native_import_that_changes_nothing_judged_keeps_the_verification(verified, monitor, tmp_path):
    path = tmp_path / "same.json"
    path.write_text(json.dumps([{
        "source": "Wire service", "source_ref": "wire-1", "category": verified.category,
        "summary": "Talks open in Doha.", "occurred_at": verified.occurred_at.isoformat(), "precision": "day",
        "visibility": "internal",
    }]), encoding="utf-8")
    out, err = import_native(path, "--user", monitor.username)
    assert "1 updated" in out, err
    verified.refresh_from_db()
    assert (verified.visibility, verified.verification) == (ev.INTERNAL, ev.VERIFIED)


@pytest.fixture
def acled_source():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


def acled_row(ref, date, notes, fatalities="0"):
    header = ("event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,"
              "assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,"
              "admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,"
              "tags,timestamp\n")
    row = (f"{ref},{date},2020,1,Political violence,Battles,Armed clash,Taliban,,2,Military Forces of Afghanistan,"
           f",1,12,,4,Southern Asia,Afghanistan,Kunduz,,,Kunduz,36.7,68.8,1,Wire,National,{notes},{fatalities},,0\n")
    return header + row


@pytest.mark.parametrize("writer", ["staging", "portable"])
def test_an_acled_reimport_that_redates_a_verified_event_makes_it_claimed(acled_source, analyst, monitor, tmp_path,
                                                                           monkeypatch, writer):
    if writer == "portable":
        monkeypatch.setattr(staging, "supported", lambda reader: False)
    first = tmp_path / "events.csv"
    first.write_text(acled_row("AFG1", "2020-03-05", "Clash in Kunduz."), encoding="utf-8")
    call_command("import_reports", str(first), "--format", "acled", "--user", UserFactory(username="importer").username,
                 stdout=io.StringIO(), stderr=io.StringIO())
    report = ev.Report.objects.get(source_ref="AFG1")
    untouched = ReportFactory(source=acled_source, source_ref="AFG2", entered_by=report.entered_by)
    report.set_verification(ev.VERIFIED, by=analyst)
    untouched.set_verification(ev.VERIFIED, by=analyst)

    revised = tmp_path / "events-revised.csv"
    revised.write_text(acled_row("AFG1", "2020-03-09", "Clash in Kunduz."), encoding="utf-8")
    out = io.StringIO()
    call_command("import_reports", str(revised), "--format", "acled", "--user", monitor.username, stdout=out,
                 stderr=io.StringIO())
    assert "1 updated" in out.getvalue()
    assert_claimed_again(report, monitor, "occurred_at", "events-revised.csv", "line 2")
    assert report.history.order_by("history_date", "history_id").last().verification == ev.CLAIMED
    untouched.refresh_from_db()
    assert untouched.verification == ev.VERIFIED  # not in the file

    # Importing the same file again changes nothing, and records nothing more.
    changes = ev.VerificationChange.objects.count()
    call_command("import_reports", str(revised), "--format", "acled", "--user", monitor.username,
                 stdout=io.StringIO(), stderr=io.StringIO())
    assert ev.VerificationChange.objects.count() == changes


def test_an_acled_dry_run_records_no_verification_change(acled_source, analyst, monitor, tmp_path):
    first = tmp_path / "events.csv"
    first.write_text(acled_row("AFG1", "2020-03-05", "Clash in Kunduz."), encoding="utf-8")
    call_command("import_reports", str(first), "--format", "acled", stdout=io.StringIO(), stderr=io.StringIO())
    report = ev.Report.objects.get(source_ref="AFG1")
    report.set_verification(ev.VERIFIED, by=analyst)
    first.write_text(acled_row("AFG1", "2020-03-05", "Clash in Kunduz.", fatalities="4"), encoding="utf-8")
    call_command("import_reports", str(first), "--format", "acled", "--dry-run", stdout=io.StringIO(),
                 stderr=io.StringIO())
    report.refresh_from_db()
    assert (report.verification, report.fatalities) == (ev.VERIFIED, 0)
    assert report.verification_changes.count() == 1


# --- the API ------------------------------------------------------------------------------------


def test_the_api_cannot_change_a_report_it_can_only_add_one(verified, monitor):
    """The API has no PUT or PATCH: a posted report is new (its id is refused if known), never an edit."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=monitor).key}")
    url = reverse("api:report-detail", args=[verified.pk])
    assert client.patch(url, {"commitment": None}, format="json").status_code == 405
    assert client.put(url, {"commitment": None}, format="json").status_code == 405
    again = client.post(reverse("api:report-list"), {
        "summary": "Talks open in Doha.", "category": verified.category, "occurred_at": "2020-03-05T08:00:00Z",
        "source": "Wire service", "source_ref": "wire-1",
    }, format="json")
    assert again.status_code == 400 and "source_ref" in again.json()
    verified.refresh_from_db()
    assert (verified.commitment.key, verified.verification) == ("talks-begin", ev.VERIFIED)
