"""Reports' dates are bounded when they are checked, by one rule, whichever way a report arrives.

Issue 11, finding 3: a Monitor posted a report dated 0001-01-01 and a public page's timeline
overflowed. No report may be dated before 1 January 1900, and none may have happened (or end)
more than a day after now (`monitor.evidence.models.report_date_problems`): the importers, the
API and the admin all apply it and name the field (and, in a file, the line).
"""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from monitor.accounts.roles import MONITOR, grant_role
from monitor.evidence import models as ev
from tests.factories import ReportFactory, SourceFactory, UserFactory
from tests.test_four_eyes import acled_row
from tests.test_roles import admin_form_data

pytestmark = pytest.mark.django_db

TOO_EARLY = "is before 1 January 1900"
TOO_LATE = "is in the future"


def sentence(reason):
    """A reason as the admin and the API show it, after a field's name rather than in a line of a file."""
    return reason[:1].upper() + reason[1:]


@pytest.fixture
def wire():
    return SourceFactory(name="Wire service", reliability="B")


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_reports", str(path), "--time-zone", "Asia/Kabul", *args, stdout=out, stderr=err)
    except CommandError as e:
        return f"{out.getvalue()}{e}", err.getvalue()
    return out.getvalue(), err.getvalue()


# --- the rule -----------------------------------------------------------------------------------


def test_the_rule_bounds_every_date_of_a_report_and_says_which():
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    problems = ev.report_date_problems(
        occurred_at=datetime(1, 1, 1, tzinfo=UTC), occurred_until=datetime(9999, 12, 31, tzinfo=UTC),
        recorded_at=now + timedelta(minutes=1), now=now,
    )
    assert set(problems) == {"occurred_at", "occurred_until", "recorded_at"}
    assert problems["occurred_at"].startswith(TOO_EARLY)
    assert problems["occurred_until"].startswith(TOO_LATE)
    assert problems["recorded_at"].startswith(TOO_LATE)
    # 1 January 1900 anywhere on Earth is in; what happened up to a day from now is in (a source's day may
    # start before ours, a clock may be fast), when the monitor learned of it is never in the future.
    assert ev.report_date_problems(
        occurred_at=datetime(1899, 12, 31, 10, tzinfo=UTC), occurred_until=now + timedelta(hours=23),
        recorded_at=now, now=now,
    ) == {}
    assert "occurred_at" in ev.report_date_problems(occurred_at=now + timedelta(days=1, minutes=1), now=now)


# --- imports ------------------------------------------------------------------------------------


def test_a_native_file_with_dates_out_of_bounds_is_refused_line_by_line(wire, tmp_path):
    soon = (timezone.now() + timedelta(hours=2)).isoformat()
    path = tmp_path / "reports.csv"
    path.write_text(
        "source,source_ref,category,summary,occurred_at,occurred_until,recorded_at\n"
        "Wire service,w1,talks,Year one.,0001-01-01,,\n"
        "Wire service,w2,talks,Ends never.,2020-03-05,9999-12-31,\n"
        "Wire service,w3,talks,Far future.,2999-01-01,,\n"
        "Wire service,w4,talks,Known in 1066.,2020-03-05,,1066-10-14\n"
        "Wire service,w5,talks,Just before.,31 December 1899,,\n"
        "Wire service,w6,talks,The first day.,1900-01-01,,\n"
        f"Wire service,w7,talks,In two hours.,{soon},,\n",
        encoding="utf-8",
    )
    out, err = run(path, "--format", "native")
    assert "nothing imported. 7 rows: 2 new, 0 updated, 0 unchanged, 5 with problems." in out, (out, err)
    for problem in (
        f"Line 2, column occurred_at: {TOO_EARLY}",
        f"Line 3, column occurred_until: {TOO_LATE}",
        f"Line 4, column occurred_at: {TOO_LATE}",
        f"Line 5, column recorded_at: {TOO_EARLY}",
        f"Line 6, column occurred_at: {TOO_EARLY}",
    ):
        assert f"reports.csv: {problem}" in err, err
    assert "Line 7" not in err and "Line 8" not in err
    assert not ev.Report.objects.exists()

    out, err = run(path, "--format", "native", "--skip-invalid")
    assert set(ev.Report.objects.values_list("source_ref", flat=True)) == {"w6", "w7"}


def test_an_acled_row_dated_out_of_bounds_is_refused_on_its_line(tmp_path):
    SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)
    early, late = acled_row("AFG1", "0001-01-01", "Year one."), acled_row("AFG2", "2999-01-01", "Far future.")
    path = tmp_path / "events.csv"
    path.write_text(early + late.split("\n", 1)[1], encoding="utf-8")
    out, err = run(path, "--format", "acled")
    assert "nothing imported. 2 rows: 0 new, 0 updated, 0 unchanged, 2 with problems." in out, (out, err)
    assert f"events.csv: Line 2, column event_date: {TOO_EARLY}" in err
    assert f"events.csv: Line 3, column event_date: {TOO_LATE}" in err
    assert not ev.Report.objects.exists()


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture
def api(wire):
    user = UserFactory(username="field-monitor", is_staff=False)
    user.user_permissions.add(Permission.objects.get(codename="add_report", content_type__app_label="evidence"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def post(api, **fields):
    body = {"summary": "Talks open.", "category": "talks", "occurred_at": "2020-09-12T08:00:00Z",
            "source": "Wire service", "source_ref": "w-1", **fields}
    return api.post(reverse("api:report-list"), body, format="json")


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at", TOO_EARLY),
    ({"occurred_at": "0001-01-01"}, "occurred_at", TOO_EARLY),
    ({"occurred_until": "9999-12-31"}, "occurred_until", TOO_LATE),
    ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at", TOO_LATE),
], ids=["year-one", "year-one-date", "until-9999", "far-future"])
def test_a_posted_report_dated_out_of_bounds_is_a_400_naming_the_field(api, fields, field, message):
    response = post(api, **fields)
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors and sentence(message) in " ".join(errors[field]), errors
    assert not ev.Report.objects.exists()


def test_a_posted_report_may_be_dated_a_few_hours_ahead_as_a_file_may(api):
    response = post(api, occurred_at=(timezone.now() + timedelta(hours=2)).isoformat())
    assert response.status_code == 201, response.content


# --- the admin ----------------------------------------------------------------------------------


def test_the_admin_refuses_a_report_dated_out_of_bounds_on_its_field(client, wire):
    client.force_login(grant_role(UserFactory(username="monitor"), MONITOR))
    response = client.post(reverse("admin:evidence_report_add"), {
        "summary": "Year one.", "category": "talks", "stance": "affirms",
        "occurred_at_0": "0001-01-01", "occurred_at_1": "00:00:00", "precision": "day",
        "source": wire.pk, "credibility": "2", "visibility": "public",
        "verification_changes-TOTAL_FORMS": "0", "verification_changes-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert sentence(TOO_EARLY) in " ".join(errors["occurred_at"]), errors
    assert not ev.Report.objects.exists()

    report = ReportFactory(source=wire)
    url = reverse("admin:evidence_report_change", args=[report.pk])
    data = admin_form_data(client.get(url)) | {"occurred_until_0": "2999-01-01", "occurred_until_1": "00:00:00"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert sentence(TOO_LATE) in " ".join(response.context["adminform"].form.errors["occurred_until"])
    report.refresh_from_db()
    assert report.occurred_until is None
