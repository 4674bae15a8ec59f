"""Importing through the admin: upload → preview with counts and the first problems → confirm."""

import importlib.util
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitor.accounts.roles import MONITOR, VIEWER, grant_role
from monitor.evidence import models as ev
from monitor.evidence.importing import jobs, tasks
from tests.factories import PartyFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)

UPLOAD = reverse("admin:evidence_importjob_upload")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def acled():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


@pytest.fixture
def monitor(client):
    user = grant_role(UserFactory(username="farida"), MONITOR)
    client.force_login(user)
    return user


def upload(client, source, content, name="events.csv", **fields):
    return client.post(UPLOAD, {
        "format": "acled", "source": source.pk, "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content, "text/csv"),
        **fields,
    }, follow=True)


def counts(page):
    return {name: int(page.split(f'id="count-{name}">')[1].split("<")[0])
            for name in ("rows", "new", "updated", "unchanged", "invalid")}


def test_an_upload_is_previewed_with_its_counts_and_written_only_once_confirmed(client, acled, monitor):
    PartyFactory(name="Taliban", slug="taliban")
    response = upload(client, acled, (DATA / "acled-6-rows-bom.csv").read_bytes(), name="acled-6-rows-bom.csv")
    page = response.content.decode()
    assert "Checked: waiting for confirmation" in page
    assert counts(page) == {"rows": 6, "new": 6, "updated": 0, "unchanged": 0, "invalid": 0}
    # The last row names the Taliban as actor 2: counted for them, as rules read both actors by default.
    assert "taliban: 2" in page and "not attributed to a party: 4" in page
    assert not ev.Report.objects.exists()  # the check was a dry run

    job = ev.ImportJob.objects.get()
    done = client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]), follow=True)
    assert "Imported" in done.content.decode() and counts(done.content.decode())["new"] == 6
    assert ev.Report.objects.count() == 6
    assert set(ev.Report.objects.values_list("entered_by", "import_file")) == {(monitor.pk, "acled-6-rows-bom.csv")}
    # A second click finds nothing waiting for confirmation.
    again = client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]), follow=True)
    assert "This import is not waiting for confirmation." in again.content.decode()
    assert ev.Report.objects.count() == 6


def test_uploading_the_same_file_again_would_update_nothing(client, acled, monitor):
    content = make_acled.csv_text(4)
    upload(client, acled, content)
    client.post(reverse("admin:evidence_importjob_confirm", args=[ev.ImportJob.objects.get().pk]))
    page = upload(client, acled, content).content.decode()
    assert counts(page) == {"rows": 4, "new": 0, "updated": 0, "unchanged": 4, "invalid": 0}


def test_bad_rows_block_the_import_until_the_user_chooses_to_skip_them(client, acled, monitor):
    content = make_acled.csv_text(5, change={1: {"fatalities": "-1"}, 3: {"event_type": "Skirmish"}})
    page = upload(client, acled, content).content.decode()
    assert counts(page)["invalid"] == 2
    assert "must be 0 or more, got -1" in page and "unknown event type “Skirmish”" in page
    job = ev.ImportJob.objects.get()
    refused = client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]), follow=True)
    assert "Some rows have problems: fix the file, or choose to skip bad rows." in refused.content.decode()
    assert not ev.Report.objects.exists()

    client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]), {"skip_invalid": "on"})
    assert ev.Report.objects.count() == 3
    listing = client.get(reverse("admin:evidence_importjob_problems", args=[job.pk]))
    rows = b"".join(listing.streaming_content).decode().splitlines()
    assert rows[0] == "line,column,problem" and len(rows) == 3
    assert rows[1].startswith("4,fatalities,")


def test_a_large_upload_is_checked_and_imported_in_the_background_with_its_progress_shown(
    client, acled, monitor, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.MONITOR_IMPORT_INLINE_MAX_BYTES = 1000
    queued = []
    monkeypatch.setattr(tasks.check_import, "delay", lambda job_id: queued.append(("check", job_id)))
    monkeypatch.setattr(tasks.run_import, "delay", lambda job_id: queued.append(("import", job_id)))
    with django_capture_on_commit_callbacks(execute=True):
        page = upload(client, acled, make_acled.csv_text(20)).content.decode()
    job = ev.ImportJob.objects.get()
    assert queued == [("check", job.pk)]
    assert "Waiting for a worker to start the check" in page and 'http-equiv="refresh"' in page

    tasks.check_import(job.pk)  # what the worker runs
    assert counts(client.get(reverse("admin:evidence_importjob_change", args=[job.pk])).content.decode())["new"] == 20

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]))
    assert queued[-1] == ("import", job.pk)
    jobs._reporter(job)(10, job.file_size // 2)  # as the worker reports after a batch
    page = client.get(reverse("admin:evidence_importjob_change", args=[job.pk])).content.decode()
    assert "Importing" in page and re.search(r"10 rows read \((49|50)%\)", page) and 'http-equiv="refresh"' in page

    tasks.run_import(job.pk)
    page = client.get(reverse("admin:evidence_importjob_change", args=[job.pk])).content.decode()
    assert "Imported" in page and 'http-equiv="refresh"' not in page
    assert ev.Report.objects.count() == 20


def test_a_viewer_sees_an_import_but_cannot_start_or_confirm_one(client, acled, monitor):
    upload(client, acled, make_acled.csv_text(2))
    job = ev.ImportJob.objects.get()
    client.force_login(grant_role(UserFactory(username="viewer"), VIEWER))
    page = client.get(reverse("admin:evidence_importjob_change", args=[job.pk]))
    assert page.status_code == 200 and 'value="Import"' not in page.content.decode()
    assert client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk])).status_code == 403
    assert client.get(UPLOAD).status_code == 403
    assert not ev.Report.objects.exists()


def test_the_upload_form_asks_for_the_source_of_acled_rows(client, monitor):
    response = client.post(UPLOAD, {"format": "acled", "time_zone": "UTC",
                                    "file": SimpleUploadedFile("events.csv", b"x", "text/csv")})
    assert "Choose the source these ACLED rows come from." in response.content.decode()
    assert not ev.ImportJob.objects.exists()
