"""The audit of an imported report is its import job (issue 16, point 5): an import writes no history row,
the first later change writes the version as imported first, and a job is never deleted.

Both writers are read: ACLED files go through the staging table (importing/staging.py), the report format
through the portable batches (importing/writer.py).
"""

import importlib.util
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from monitor.accounts.roles import ANALYST, MONITOR, grant_role
from monitor.evidence import models as ev
from monitor.verdicts import inputs, recorded
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def acled():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


@pytest.fixture
def wire():
    return SourceFactory(name="Wire", reliability="B")


def import_acled(tmp_path, text, name="events.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_reports", str(path), "--format", "acled", "--source", "ACLED", "--time-zone", "UTC",
                 stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_reports(tmp_path, rows, name="troops.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows), encoding="utf-8")
    out = io.StringIO()
    call_command("import_reports", str(path), "--format", "native", "--time-zone", "UTC", stdout=out,
                 stderr=io.StringIO())
    return out.getvalue()


def troop_rows(later_value=8700):
    return [
        {"source": "Wire", "source_ref": "w1", "category": "troop_level", "summary": "8,800 troops remain.",
         "occurred_at": "2020-07-10T08:00:00Z", "value": 8800, "credibility": 2},
        {"source": "Wire", "source_ref": "w2", "category": "troop_level", "summary": "Troops remain.",
         "occurred_at": "2020-07-16T08:00:00Z", "value": later_value, "credibility": 2},
    ]


def history_of(report):
    return list(report.history.order_by("history_date", "history_id").values_list("history_type", "value", "summary"))


# --- an import writes no history row ---------------------------------------------------------------------------


def test_importing_rows_writes_no_history_and_each_report_names_its_job_file_and_line(acled, wire, tmp_path):
    assert "5 rows: 5 new" in import_acled(tmp_path, make_acled.csv_text(5))
    assert "2 rows: 2 new" in import_reports(tmp_path, troop_rows())

    assert ev.Report.objects.count() == 7
    assert not ev.Report.history.exists()
    acled_job, native_job = ev.ImportJob.objects.order_by("pk")
    assert set(ev.Report.objects.filter(source=acled).values_list("import_job", "import_file")) == {
        (acled_job.pk, "events.csv")}
    assert sorted(ev.Report.objects.filter(source=wire).values_list("import_job", "import_file")) == [
        (native_job.pk, "troops.json")] * 2
    assert not ev.Report.objects.filter(import_line__isnull=True).exists()


# --- the first later change keeps the version as imported -----------------------------------------------------

TROOPS_RULE = {"categories": ["troop_level"], "attribution": "any", "target": 8600, "direction": "at_most"}


@pytest.fixture
def troops(wire, tmp_path):
    """8,800 troops at the due date of 13 July 2020 (missed), 8,700 six days later: both imported, not edited."""
    agreement = AgreementFactory(slug="deal", publish_computed_verdicts=True, time_zone="UTC")
    party = PartyFactory(name="United States", slug="united-states")
    agreement.parties.set([party])
    CommitmentFactory(agreement=agreement, key="troops", kind="target", rule=TROOPS_RULE, due_offset=135,
                      owed_by=[party])
    import_reports(tmp_path, troop_rows())
    return agreement, ev.Report.objects.get(source_ref="w2")


def standing(agreement, known_at, recorded_view=True):
    return [s.status for s in inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=known_at,
                                               recorded=recorded_view)]


def test_an_imported_report_edited_after_a_citation_is_read_as_imported_in_the_cited_view(client, troops):
    agreement, later = troops
    cited = timezone.now()
    assert standing(agreement, cited) == ["missed"]

    later.value = 8500  # a correction after the citation: met six days late
    later.save()

    assert standing(agreement, cited) == ["missed"]  # the cited view reads what was imported
    assert standing(agreement, cited, recorded_view=False) == ["met_late"]
    html = client.get(reverse("pages:commitment", kwargs={"agreement": "deal", "key": "troops"}),
                      {"as_of": "2020-07-20", "known_at": cited.isoformat()}).content.decode()
    assert re.search(r'class="verdict"[^>]*data-status="missed"', html)
    assert "Corrections made since change this." in html
    # The version as imported, dated when the import wrote it, then the edit.
    assert history_of(later) == [("+", 8700, "Troops remain."), ("~", 8500, "Troops remain.")]
    assert later.history.earliest("history_date").history_date == later.entered_at


def test_an_imported_report_edited_in_the_admin_keeps_its_imported_version(client, troops):
    agreement, later = troops
    cited = timezone.now()
    client.force_login(grant_role(UserFactory(username="farida"), MONITOR))
    url = reverse("admin:evidence_report_change", args=[later.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    value = data.pop("occurred_at")
    data["occurred_at_0"], data["occurred_at_1"] = value.date().isoformat(), value.time().isoformat()
    data.update({"value": "8500", "verification_changes-TOTAL_FORMS": "0", "verification_changes-INITIAL_FORMS": "0"})
    assert client.post(url, data).status_code == 302

    assert standing(agreement, cited) == ["missed"]
    assert [(h.history_type, h.value, getattr(h.history_user, "username", None))
            for h in later.history.order_by("history_date")] == [("+", 8700, None), ("~", 8500, "farida")]


def test_grouping_imported_reports_keeps_their_imported_versions(client, troops):
    _agreement, later = troops
    client.force_login(grant_role(UserFactory(), ANALYST))
    earlier = ev.Report.objects.get(source_ref="w1")
    client.post(reverse("admin:evidence_report_changelist"),
                {"action": "group_as_event", "_selected_action": [earlier.pk, later.pk], "index": 0})

    for report in (earlier, later):
        assert [(h.history_type, h.event_id is None) for h in report.history.order_by("history_date")] == [
            ("+", True), ("~", False)]


def test_a_reimport_that_changes_a_row_keeps_its_old_contents_recoverable(acled, tmp_path):
    import_acled(tmp_path, make_acled.csv_text(3))
    between = timezone.now()
    revised = make_acled.csv_text(3, change={1: {"fatalities": "7", "notes": "Revised: seven killed."}})
    assert "3 rows: 0 new, 1 updated, 2 unchanged" in import_acled(tmp_path, revised, "events-revised.csv")

    report = ev.Report.objects.get(source_ref="AFG0000002")
    first, second = report.history.order_by("history_date")
    assert (first.history_type, first.history_date, first.import_file) == ("+", report.entered_at, "events.csv")
    assert (second.history_type, second.fatalities, second.import_file) == ("~", 7, "events-revised.csv")
    assert first.summary != "Revised: seven killed." and first.fatalities != 7
    # As recorded before the re-import: the version the first file wrote.
    (then,) = recorded.versions(ev.Report, between, id=report.pk)
    assert (then.summary, then.fatalities) == (first.summary, first.fatalities)
    # The unchanged rows still have no history.
    assert ev.Report.history.values_list("id", flat=True).distinct().count() == 1


def test_a_reimport_of_the_report_format_keeps_the_old_value_and_an_edited_report_gets_no_second_first_version(
    wire, tmp_path
):
    import_reports(tmp_path, troop_rows())
    edited = ev.Report.objects.get(source_ref="w1")
    edited.summary = "8,800 troops remain, says the ministry."
    edited.save()
    between = timezone.now()

    assert "2 rows: 0 new, 2 updated" in import_reports(tmp_path, [
        {**troop_rows(8400)[0], "value": 8900}, troop_rows(8400)[1]], "revised.json")

    later = ev.Report.objects.get(source_ref="w2")
    assert history_of(later) == [("+", 8700, "Troops remain."), ("~", 8400, "Troops remain.")]
    assert [h for h, _v, _s in history_of(edited)] == ["+", "~", "~"]
    versions = {v.id: v.value for v in recorded.versions(ev.Report, between)}
    assert versions == {edited.pk: 8800, later.pk: 8700}


# --- the job is never deleted ----------------------------------------------------------------------------------


def test_an_import_job_cannot_be_deleted_in_the_model_or_the_admin(client, wire, tmp_path):
    import_reports(tmp_path, troop_rows())
    job = ev.ImportJob.objects.get()
    with pytest.raises(ProtectedError):
        job.delete()
    with pytest.raises(ProtectedError):
        ev.ImportJob.objects.all().delete()
    unused = ev.ImportJob.objects.create(file_name="checked-only.csv", format=ev.ACLED, state=ev.CHECKED)
    with pytest.raises(ProtectedError):
        unused.delete()  # every attempt is a record too

    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.post(reverse("admin:evidence_importjob_delete", args=[job.pk]), {"post": "yes"}).status_code == 403
    listing = client.get(reverse("admin:evidence_importjob_changelist")).content.decode()
    assert "delete_selected" not in listing
    assert ev.ImportJob.objects.count() == 2


def test_the_history_page_of_an_imported_report_names_its_job_file_and_line(client, acled, tmp_path):
    import_acled(tmp_path, make_acled.csv_text(3))
    report = ev.Report.objects.get(source_ref="AFG0000002")
    job = ev.ImportJob.objects.get()
    client.force_login(grant_role(UserFactory(), ANALYST))
    said = f"Imported by job {job.pk} from file events.csv, line {report.import_line}"

    page = client.get(reverse("admin:evidence_report_history", args=[report.pk])).content.decode()
    assert said in page
    assert reverse("admin:evidence_importjob_change", args=[job.pk]) in page
    assert "Not changed since: the import is its record." in page
    change_form = client.get(reverse("admin:evidence_report_change", args=[report.pk])).content.decode()
    assert said in change_form
