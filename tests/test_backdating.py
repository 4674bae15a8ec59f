"""Back-dating through the report format: only those who may back-date set `recorded_at`; the history says who.

Issue 11, finding 8: anyone who could import could give a new report a `recorded_at` in the past,
which rewrites what was "known at" a past date and every citation of it (the API already
decides it itself). Now a file's `recorded_at` is taken only from users with
`evidence.backdate_report` (Analysts and Administrators) and from the command run without --user
(an administrator's tool on the server); for anyone else the row is refused, with its line and
the column.
"""

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from monitor.accounts.roles import ADMINISTRATOR, ANALYST, MONITOR, VIEWER, grant_role
from monitor.evidence import models as ev
from tests.factories import ReportFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

BACK_THEN = datetime(2020, 3, 6, 8, tzinfo=UTC)
BACK_THEN_IN_A_FILE = BACK_THEN.isoformat()
REFUSED = "Line 2, column recorded_at: may be set only by those allowed to back-date reports"


@pytest.fixture
def wire():
    return SourceFactory(name="Wire service", reliability="B")


def staff(role):
    return grant_role(UserFactory(username=f"{role.lower()}-user"), role)


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_reports", str(path), "--format", "native", "--time-zone", "Asia/Kabul", *args,
                     stdout=out, stderr=err)
    except CommandError as e:
        return f"{out.getvalue()}{e}", err.getvalue()
    return out.getvalue(), err.getvalue()


def write(tmp_path, recorded_at=BACK_THEN_IN_A_FILE, summary="Talks open.", name="reports.csv"):
    path = tmp_path / name
    path.write_text(
        "source,source_ref,category,summary,occurred_at,recorded_at\n"
        f"Wire service,w1,talks,{summary},2020-03-05,{recorded_at}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(("role", "may"), [(VIEWER, False), (MONITOR, False), (ANALYST, True), (ADMINISTRATOR, True)])
def test_analysts_and_administrators_may_back_date(role, may):
    assert staff(role).has_perm("evidence.backdate_report") is may


def test_a_monitor_cannot_back_date_a_new_report_through_a_file(wire, tmp_path):
    monitor = staff(MONITOR)
    out, err = run(write(tmp_path), "--user", monitor.username)
    assert "nothing imported. 1 rows: 0 new, 0 updated, 0 unchanged, 1 with problems." in out, (out, err)
    assert f"reports.csv: {REFUSED}" in err
    assert not ev.Report.objects.exists()
    # Skipping bad rows skips it: it is never imported with a date its importer may not give.
    run(write(tmp_path), "--user", monitor.username, "--skip-invalid")
    assert not ev.Report.objects.exists()


def test_a_monitor_cannot_back_date_through_a_json_file_either(wire, tmp_path):
    monitor = staff(MONITOR)
    path = tmp_path / "reports.json"
    path.write_text(json.dumps([
        {"source": "Wire service", "source_ref": "w1", "category": "talks", "summary": "Back-dated.",
         "occurred_at": "2020-03-05", "recorded_at": "2020-03-06"},
        {"source": "Wire service", "source_ref": "w2", "category": "talks", "summary": "Now.",
         "occurred_at": "2020-03-05", "recorded_at": None},
    ], indent=1), encoding="utf-8")  # the first report starts on line 2
    out, err = run(path, "--user", monitor.username)
    assert "1 with problems" in out and f"reports.json: {REFUSED}" in err, (out, err)
    before = timezone.now()
    run(path, "--user", monitor.username, "--skip-invalid")
    assert list(ev.Report.objects.values_list("source_ref", flat=True)) == ["w2"]
    assert ev.Report.objects.get().recorded_at >= before


def test_a_monitor_uploading_through_the_admin_is_refused_with_the_line_and_column(client, wire, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(staff(MONITOR))
    page = client.post(reverse("admin:evidence_importjob_upload"), {
        "format": "native", "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile("reports.csv", write(tmp_path).read_bytes(), "text/csv"),
    }, follow=True).content.decode()
    assert "may be set only by those allowed to back-date reports" in page
    job = ev.ImportJob.objects.get()
    assert (job.rows, job.rows_invalid) == (1, 1)
    assert [(p["line"], p["column"]) for p in job.problems] == [(2, "recorded_at")]
    client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]), {"skip_invalid": "on"})
    assert not ev.Report.objects.exists()


def test_a_monitor_may_leave_recorded_at_empty_and_the_report_is_recorded_now(wire, tmp_path):
    before = timezone.now()
    out, err = run(write(tmp_path, recorded_at=""), "--user", staff(MONITOR).username)
    assert "imported. 1 rows: 1 new" in out, (out, err)
    assert ev.Report.objects.get().recorded_at >= before


def test_a_monitor_may_reimport_an_export_whose_recorded_at_changes_nothing(wire, tmp_path):
    """A re-import never changes `recorded_at`, so an exported file, which has it, imports again for anyone."""
    report = ReportFactory(source=wire, source_ref="w1", category="talks", summary="Talks open.",
                           recorded_at=BACK_THEN)
    out, err = run(write(tmp_path, recorded_at="2019-01-01", summary="Talks open in Doha."),
                   "--user", staff(MONITOR).username)
    assert "1 rows: 0 new, 1 updated" in out, (out, err)
    report.refresh_from_db()
    assert (report.summary, report.recorded_at) == ("Talks open in Doha.", BACK_THEN)


def test_an_analyst_may_back_date_and_the_history_records_who_did(wire, tmp_path):
    analyst = staff(ANALYST)
    out, err = run(write(tmp_path), "--user", analyst.username)
    assert "imported. 1 rows: 1 new" in out, (out, err)
    report = ev.Report.objects.get()
    assert (report.recorded_at, report.entered_by) == (BACK_THEN, analyst)
    created = report.history.get()
    assert created.history_user == analyst
    assert created.history_change_reason.startswith(f"Back-dated by {analyst.username}: recorded_at from reports.csv")


def test_the_command_without_a_user_is_an_administrators_tool_and_may_back_date(wire, tmp_path):
    out, err = run(write(tmp_path))
    assert "imported. 1 rows: 1 new" in out, (out, err)
    report = ev.Report.objects.get()
    assert report.recorded_at == BACK_THEN
    assert report.history.get().history_change_reason.startswith(
        "Back-dated by manage.py import_reports: recorded_at from reports.csv")
