"""Report entry that fits a monitor's work (issue 15): ACLED as a ready source, shipped place names,
the report form's category list, grades and local dates, source grades, import preview, save message."""

import importlib.util
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitor.accounts.roles import ADMINISTRATOR, MONITOR, grant_role
from monitor.evidence import models as ev
from terms.models import Milestone
from tests.factories import AgreementFactory, CommitmentFactory, ReportFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)


def test_after_the_quick_starts_source_command_an_acled_file_imports_without_naming_a_source(tmp_path):
    out = io.StringIO()
    call_command("add_acled_source", stdout=out)
    assert "Created the source “ACLED”" in out.getvalue()
    path = tmp_path / "events.csv"
    path.write_text(make_acled.csv_text(2), encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", stdout=io.StringIO())
    acled = ev.Source.objects.get(name="ACLED")
    assert acled.reports.count() == 2
    assert (acled.reliability, acled.may_republish, acled.kind) == ("B", False, ev.EVENT_DATASET)
    assert "Battles" in acled.categories and "Strategic developments" in acled.categories
    assert acled.licence
    # Its coverage is the days of the file imported (1 and 2 March 2020), not ACLED's own since 2017.
    [period] = acled.coverage.all()
    assert (period.country, period.starts_on, period.ends_on) == ("Afghanistan", date(2020, 3, 1), date(2020, 3, 2))


def test_the_acled_source_command_leaves_an_existing_acled_source_as_its_administrator_set_it():
    ev.Source.objects.create(name="acled", reliability="C", may_republish=False)
    out = io.StringIO()
    call_command("add_acled_source", stdout=out)
    call_command("add_acled_source", stdout=io.StringIO())
    assert "exists; left as it is" in out.getvalue()
    assert list(ev.Source.objects.values_list("name", "reliability")) == [("acled", "C")]
    assert not ev.Coverage.objects.exists()


def test_the_agreements_cities_ship_with_their_spelling_variants_and_an_import_respells_them(tmp_path):
    call_command("add_acled_source", stdout=io.StringIO())
    places = dict(ev.PlaceName.objects.values_list("name", "place"))
    assert places["Mazar-e Sharif"] == "Mazar-i-Sharif"
    assert places["Lashkargah"] == "Lashkar Gah"
    assert places["Qandahar"] == "Kandahar"
    assert places["Hirat"] == "Herat"
    assert places["Jalal Abad"] == "Jalalabad"
    assert places["Kondoz"] == "Kunduz"
    path = tmp_path / "events.csv"
    path.write_text(make_acled.csv_text(2, change={0: {"location": "Lashkargah"}, 1: {"location": "Qandahar"}}),
                    encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", stdout=io.StringIO())
    assert set(ev.Report.objects.values_list("location", flat=True)) == {"Lashkar Gah", "Kandahar"}


# --- the report form ---------------------------------------------------------------------------------------

ADD = reverse("admin:evidence_report_add")


@pytest.fixture
def monitor(client):
    user = grant_role(UserFactory(username="farida"), MONITOR)
    client.force_login(user)
    return user


@pytest.fixture
def agreement():
    agreement = AgreementFactory(time_zone="Asia/Kabul")
    CommitmentFactory(agreement=agreement, key="ceiling", title="Violence in cities stays low",
                      rule={"categories": ["Battles", "Violence against civilians"], "attribution": "any"})
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin",
                      rule={"categories": ["talks_started"], "attribution": "any"})
    Milestone.objects.create(agreement=agreement, key="elections", title="Elections held",
                             rule={"categories": ["Battles"]})
    return agreement


def new_report(source, **fields):
    return {
        "summary": "Talks open in Doha.", "category": "talks_started", "stance": "affirms",
        "occurred_at_0": "05/03/2020", "occurred_at_1": "08:00", "precision": "day",
        "source": source.pk, "credibility": "2", "visibility": "public",
        "verification_changes-TOTAL_FORMS": "0", "verification_changes-INITIAL_FORMS": "0", **fields,
    }


def test_the_category_box_suggests_each_category_the_rules_use_with_the_rules_that_use_it(client, monitor, agreement):
    page = client.get(ADD).content.decode()
    assert 'list="rule-categories"' in page
    datalist = page.split('<datalist id="rule-categories">')[1].split("</datalist>")[0]
    assert re.findall(r'value="([^"]+)"', datalist) == ["Battles", "talks_started", "Violence against civilians"]
    assert 'label="Battles: used by Elections held; Violence in cities stays low"' in datalist
    assert 'label="talks_started: used by Talks begin"' in datalist


def test_the_category_list_costs_the_same_queries_for_one_commitment_as_for_ten(client, monitor, agreement):
    client.get(ADD)
    with CaptureQueriesContext(connection) as few:
        client.get(ADD)
    for i in range(9):
        CommitmentFactory(agreement=agreement, key=f"more-{i}", rule={"categories": [f"cat-{i}"]})
    with CaptureQueriesContext(connection) as many:
        page = client.get(ADD).content.decode()
    assert "cat-8" in page
    assert len(many) == len(few)


def test_a_category_no_rule_uses_can_still_be_typed(client, monitor, agreement):
    response = client.post(ADD, new_report(SourceFactory(name="Wire"), category="ceasefire_violation"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ev.Report.objects.get().category == "ceasefire_violation"


def test_each_source_is_offered_with_its_grade(client, monitor):
    SourceFactory(name="Wire", reliability="B")
    SourceFactory(name="Blog", reliability="F")
    page = client.get(ADD).content.decode()
    assert ">Wire (B: usually reliable)</option>" in page
    assert ">Blog (F: reliability cannot be judged)</option>" in page


def test_dates_are_entered_day_first_in_the_agreements_zone_which_the_form_names(client, monitor, agreement):
    page = client.get(ADD).content.decode()
    assert "In Asia/Kabul (the agreement's time zone), day first" in page
    assert "Times are in Asia/Kabul, day first" in page
    response = client.post(ADD, new_report(SourceFactory(name="Wire")))
    assert response.status_code == 302, response.context["adminform"].form.errors
    # 08:00 in Kabul (UTC+4:30) on 5 March, not 3 May and not UTC
    assert ev.Report.objects.get().occurred_at == datetime(2020, 3, 5, 3, 30, tzinfo=UTC)
    change = client.get(reverse("admin:evidence_report_change", args=[ev.Report.objects.get().pk])).content.decode()
    assert 'value="05/03/2020"' in change and 'value="08:00"' in change


def test_without_one_agreement_zone_the_admin_uses_the_setting_and_names_it(client, monitor, settings):
    AgreementFactory(time_zone="Asia/Kabul")
    AgreementFactory(time_zone="Europe/Paris")
    settings.ADMIN_TIME_ZONE = "Asia/Dubai"
    page = client.get(ADD).content.decode()
    assert "Times are in Asia/Dubai, day first" in page and "In Asia/Dubai" in page


def test_the_report_list_shows_local_times_day_first_with_the_zone(client, monitor, agreement):
    ReportFactory(summary="Clash in Kunduz", occurred_at=datetime(2020, 3, 5, 3, 30, tzinfo=UTC))
    page = client.get(reverse("admin:evidence_report_changelist")).content.decode()
    assert "5 Mar 2020, 08:00 +0430" in page


def test_after_saving_a_public_report_the_admin_says_the_public_pages_show_it_within_a_minute(
    client, monitor, agreement
):
    response = client.post(ADD, new_report(SourceFactory(name="Wire")), follow=True)
    assert "The public pages show it within a minute." in response.content.decode()
    response = client.post(ADD, new_report(SourceFactory(name="Wire"), visibility=ev.INTERNAL), follow=True)
    assert "It is not public (internal: staff only), so the public pages do not show it." in response.content.decode()


# --- sources -----------------------------------------------------------------------------------------------


@pytest.fixture
def administrator(client):
    user = grant_role(UserFactory(username="admin-user"), ADMINISTRATOR)
    client.force_login(user)
    return user


def source_form(**fields):
    return {"name": "Local radio", "kind": ev.MEDIA, "reliability": "F", "categories": "[]", "licence": "",
            "coverage-TOTAL_FORMS": "0", "coverage-INITIAL_FORMS": "0", **fields}


def test_creating_a_source_asks_its_reliability_first_and_says_what_a_grade_counts_for(client, administrator):
    page = client.get(reverse("admin:evidence_source_add")).content.decode()
    assert page.index('name="reliability"') < page.index('name="kind"')
    assert "counts only from a source graded A or B with a credibility of 1 or 2" in page


def test_a_source_left_at_f_warns_that_its_unverified_reports_decide_nothing(client, administrator):
    response = client.post(reverse("admin:evidence_source_add"), source_form(), follow=True)
    assert "those not verified by an analyst will decide nothing" in response.content.decode()
    response = client.post(reverse("admin:evidence_source_add"), source_form(name="Wire", reliability="B"),
                           follow=True)
    assert response.status_code == 200 and "will decide nothing" not in response.content.decode()
    assert set(ev.Source.objects.values_list("name", flat=True)) == {"Local radio", "Wire"}


# --- the import preview ------------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_preview_with_bad_rows_shows_a_banner_and_its_import_button_needs_the_skip_box(client, monitor, media):
    acled = SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)
    content = make_acled.csv_text(4, change={1: {"fatalities": "-1"}})
    page = client.post(reverse("admin:evidence_importjob_upload"), {
        "format": "acled", "source": acled.pk, "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile("events.csv", content.encode(), "text/csv"),
    }, follow=True).content.decode()
    assert 'id="bad-rows" role="alert"' in page and "1 of the 4 rows has a problem" in page
    form = page.split('class="import-confirm needs-skip"')[1].split("</form>")[0]
    # The box is required, and the stylesheet shows the button only once it is ticked (no script).
    assert re.search(r'<input type="checkbox" name="skip_invalid" required', form)
    css = (Path(__file__).parents[1] / "monitor/evidence/static/evidence/import.css").read_text()
    assert ".import-confirm.needs-skip .submit-row { display: none; }" in css
    assert ':has(input[name="skip_invalid"]:checked) .submit-row { display: flex; }' in css


def test_a_preview_without_bad_rows_shows_no_banner_and_its_import_button_at_once(client, monitor, media):
    acled = SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)
    page = client.post(reverse("admin:evidence_importjob_upload"), {
        "format": "acled", "source": acled.pk, "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile("events.csv", make_acled.csv_text(3).encode(), "text/csv"),
    }, follow=True).content.decode()
    assert 'id="bad-rows"' not in page and "needs-skip" not in page and 'value="Import"' in page


def test_progress_shows_the_rows_read_and_their_problems_from_the_first_batch(client, monitor, media, settings):
    from monitor.evidence.importing import jobs, run
    from monitor.evidence.importing.problems import ProblemLog

    settings.MONITOR_IMPORT_BATCH_SIZE = 2
    acled = SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)
    job = ev.ImportJob.objects.create(file_name="events.csv", file_size=1, format=ev.ACLED, source=acled,
                                      time_zone="UTC", state=ev.CHECKING, created_by=monitor)
    seen = []
    content = make_acled.csv_text(5, change={0: {"fatalities": "-1"}})
    run.import_file(job, io.BytesIO(content.encode()), commit=False, log=ProblemLog(keep=10),
                    progress=lambda rows, _bytes, invalid: seen.append((rows, invalid)))
    assert seen[0] == (2, 1)  # after the first batch of two rows, one of them bad
    jobs._reporter(job)(2, 1, 1)  # as the worker reports it
    page = client.get(reverse("admin:evidence_importjob_change", args=[job.pk])).content.decode()
    assert "2 rows read" in page and "1 with a problem so far" in page


def test_the_command_counts_rows_and_problems_as_it_goes_when_asked(tmp_path, capsys, settings):
    settings.MONITOR_IMPORT_BATCH_SIZE = 2
    call_command("add_acled_source", stdout=io.StringIO())
    path = tmp_path / "events.csv"
    path.write_text(make_acled.csv_text(3, change={0: {"fatalities": "-1"}}), encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", "--dry-run",
                 "--skip-invalid", "--verbosity", "2", stdout=io.StringIO())
    assert "2 rows, 0 MB read, 1 with problems" in capsys.readouterr().err
