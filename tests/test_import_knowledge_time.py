"""Knowledge time of imported data (issue 13, point 8): ACLED's `timestamp` is when a row could be known.

An imported ACLED row is known from the instant ACLED's export says it entered the dataset, not from
the import's: a replay "as known at" a date in 2020 of events imported years later shows what the
dataset held then. The import's instant is kept beside it as `entered_at`. Both writers (COPY through
a staging table on PostgreSQL, and the portable batch writer) give the same knowledge times.
"""

import csv
import importlib.util
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from monitor.accounts.roles import ANALYST, MONITOR, grant_role
from monitor.alerts import triggers
from monitor.alerts.sweep import run_sweep
from monitor.evidence import models as ev
from monitor.evidence.importing import staging
from monitor.verdicts.models import StatusChange
from terms.models import IN_FORCE, Agreement
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
SEED = Path(__file__).resolve().parent.parent / "agreements" / "us-taliban-2020.yaml"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)

# Kabul is UTC+4:30: 11 March 2020 there begins at 19:30 UTC on 10 March.
KNOWN = datetime(2020, 3, 11, 18, tzinfo=UTC)
PUBLISHED_LATER = datetime(2020, 3, 20, tzinfo=UTC)


def stamp(instant):
    return str(int(instant.timestamp()))


@pytest.fixture
def acled():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


@pytest.fixture(params=["copy", "batch"])
def writer(request, monkeypatch):
    """Each test runs through both writers: COPY into a staging table, and the portable batches."""
    if request.param == "copy":
        assert connection.vendor == "postgresql", "the COPY writer needs PostgreSQL (bin/test)"
    else:
        monkeypatch.setattr(staging, "supported", lambda reader: False)
    return request.param


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", *args,
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text, name="events.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def times():
    return {r.source_ref: (r.recorded_at, r.entered_at) for r in ev.Report.objects.all()}


def test_an_acled_rows_timestamp_is_when_its_report_was_known_and_the_import_when_it_was_entered(
        acled, tmp_path, writer):
    path = write(tmp_path, make_acled.csv_text(4, change={
        0: {"event_date": "2020-03-11", "timestamp": stamp(KNOWN)},
        1: {"event_date": "2020-03-11", "timestamp": ""},  # no timestamp: known from the import
        # Before the event's day began in Kabul: raised to the start of that day (not known before it happened).
        2: {"event_date": "2020-03-15", "timestamp": stamp(datetime(2020, 3, 1, tzinfo=UTC))},
        # Before 11 March in UTC, but already 11 March in Kabul: kept as it is.
        3: {"event_date": "2020-03-11", "timestamp": stamp(datetime(2020, 3, 10, 20, tzinfo=UTC))},
    }))
    before = timezone.now()
    out, err = run(path)
    assert "imported. 4 rows: 4 new" in out, (out, err)
    found = times()
    entered = {e for _r, e in found.values()}
    assert len(entered) == 1 and before <= entered.pop() <= timezone.now()  # one instant: the batch's
    assert found["AFG0000001"][0] == KNOWN
    assert found["AFG0000002"][0] == found["AFG0000002"][1]  # known when entered
    assert found["AFG0000003"][0] == datetime(2020, 3, 14, 19, 30, tzinfo=UTC)
    assert found["AFG0000004"][0] == datetime(2020, 3, 10, 20, tzinfo=UTC)


def test_without_the_timestamp_column_reports_are_known_from_the_import(acled, tmp_path, writer):
    before = timezone.now()
    out, err = run(write(tmp_path, make_acled.csv_text(3, drop=("timestamp",))))
    assert "imported. 3 rows: 3 new" in out, (out, err)
    assert all(before <= recorded == entered for recorded, entered in times().values())


def test_the_copy_writer_and_the_batch_writer_give_the_same_knowledge_times(tmp_path, monkeypatch):
    first = datetime(2020, 3, 1, tzinfo=UTC)
    change = {i: {"timestamp": stamp(first.replace(hour=i % 24, day=1 + i // 24)) if i % 7 else ""}
              for i in range(60)}
    path = write(tmp_path, make_acled.csv_text(60, change=change))
    SourceFactory(name="ACLED by COPY", kind=ev.EVENT_DATASET)
    SourceFactory(name="ACLED in batches", kind=ev.EVENT_DATASET)
    run(path, "--source", "ACLED by COPY")
    monkeypatch.setattr(staging, "supported", lambda reader: False)
    run(path, "--source", "ACLED in batches")

    def known(source):
        return {
            r.source_ref: "the import" if r.recorded_at == r.entered_at else r.recorded_at
            for r in ev.Report.objects.filter(source__name=source)
        }

    by_copy = known("ACLED by COPY")
    assert len(by_copy) == 60 and list(by_copy.values()).count("the import") == 9
    assert by_copy == known("ACLED in batches")


def test_a_reimport_keeps_the_first_knowledge_time_and_entry(acled, tmp_path, writer):
    run(write(tmp_path, make_acled.csv_text(2, change={0: {"timestamp": stamp(KNOWN), "event_date": "2020-03-11"}})))
    first = times()
    revised = make_acled.csv_text(2, change={0: {"timestamp": stamp(PUBLISHED_LATER), "event_date": "2020-03-11",
                                                 "notes": "Revised by ACLED."}})
    out, err = run(write(tmp_path, revised, name="events-revised.csv"))
    assert "2 rows: 0 new, 1 updated, 1 unchanged" in out, (out, err)
    assert ev.Report.objects.get(source_ref="AFG0000001").summary == "Revised by ACLED."
    assert times() == first  # what was known when does not change with a re-import


def test_a_monitor_imports_acleds_timestamps_without_back_dating_rights(acled, tmp_path, client, settings, writer):
    """The timestamp is the dataset's own record, not the importer's claim: no back-dating permission needed."""
    monitor = grant_role(UserFactory(username="farida"), MONITOR)
    assert not monitor.has_perm("evidence.backdate_report")
    text = make_acled.csv_text(2, change={0: {"timestamp": stamp(KNOWN), "event_date": "2020-03-11"}})
    out, err = run(write(tmp_path, text), "--user", monitor.username)
    assert "imported. 2 rows: 2 new" in out, (out, err)
    report = ev.Report.objects.get(source_ref="AFG0000001")
    assert (report.recorded_at, report.entered_by) == (KNOWN, monitor)
    assert (report.import_job.file_name, report.import_job.created_by) == ("events.csv", monitor)

    # Through the admin's upload too.
    ev.Report.objects.all().delete()
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(monitor)
    client.post(reverse("admin:evidence_importjob_upload"), {
        "format": "acled", "source": acled.pk, "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile("upload.csv", text.encode(), "text/csv"),
    })
    job = ev.ImportJob.objects.get(file_name="upload.csv")
    assert job.problems == [] and job.state == ev.CHECKED
    client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]))
    assert ev.Report.objects.get(source_ref="AFG0000001").recorded_at == KNOWN


def test_staff_see_when_a_report_was_entered_beside_when_it_was_known(acled, tmp_path, client):
    run(write(tmp_path, make_acled.csv_text(1, change={0: {"timestamp": stamp(KNOWN), "event_date": "2020-03-11"}})))
    report = ev.Report.objects.get()
    client.force_login(grant_role(UserFactory(), ANALYST))
    page = client.get(reverse("admin:evidence_report_change", args=[report.pk])).content.decode()
    assert "Recorded at" in page and "Entered at" in page

    api = APIClient()
    api.force_authenticate(UserFactory(username="viewer", is_staff=True))
    acled.may_republish = True
    acled.save()
    body = api.get(reverse("api:report-detail", kwargs={"pk": report.pk})).json()
    assert body["recorded_at"] == "2020-03-11T18:00:00Z"
    assert timezone.datetime.fromisoformat(body["entered_at"]) == report.entered_at


def test_an_export_carries_entered_at_and_imports_again_unchanged(acled, tmp_path, client):
    acled.may_republish = True
    acled.save()
    run(write(tmp_path, make_acled.csv_text(1, change={0: {"timestamp": stamp(KNOWN), "event_date": "2020-03-11"}})))
    report = ev.Report.objects.get()
    client.force_login(grant_role(UserFactory(), ANALYST))
    response = client.post(reverse("admin:evidence_report_changelist"),
                           {"action": "export_csv", "_selected_action": [report.pk]})
    text = b"".join(response.streaming_content).decode()
    [row] = csv.DictReader(io.StringIO(text))
    assert row["recorded_at"].startswith("2020-03-11T18:00") and row["entered_at"] != row["recorded_at"]
    path = write(tmp_path, text, name="export.csv")
    out = io.StringIO()
    call_command("import_reports", str(path), "--format", "native", stdout=out, stderr=io.StringIO())
    assert "1 rows: 0 new, 0 updated, 1 unchanged" in out.getvalue()


# End to end: the first agreement, an ACLED export with 2020 timestamps, and replays as known at past dates.

def attacks(n, *, on="2020-03-11", known=KNOWN, last_known=None):
    """n Taliban attacks in Kabul on one day (the ceiling's limit is ten a day), each known at `known`."""
    attack = {"event_date": on, "time_precision": "1", "event_type": "Battles", "actor1": "Taliban",
              "admin1": "Kabul", "location": "Kabul", "timestamp": stamp(known)}
    change = {i: dict(attack) for i in range(n)}
    if last_known is not None:
        change[n - 1]["timestamp"] = stamp(last_known)
    return make_acled.csv_text(n, change=change)


@pytest.fixture
def agreement():
    call_command("load_agreement", str(SEED), stdout=io.StringIO())
    Agreement.objects.filter(slug="us-taliban-2020").update(signed_on=date(2020, 2, 29), state=IN_FORCE)


def ceiling(as_of, known_at):
    out = io.StringIO()
    call_command("compliance", "--json", "--agreement", "us-taliban-2020", "--as-of", as_of, "--known-at", known_at,
                 stdout=out)
    [agreement] = json.loads(out.getvalue())["agreements"]
    [verdict] = [c for c in agreement["commitments"] if c["key"] == "violence-major-cities"]
    return verdict["computed"]


def test_a_replay_as_known_at_a_past_date_counts_the_rows_the_dataset_held_then(
        agreement, acled, tmp_path, monkeypatch, writer):
    handed = []
    monkeypatch.setattr(triggers, "reports_changed", lambda ids: handed.extend(ids))
    # Eleven attacks on 11 March: ten published that evening, the eleventh only on 20 March.
    out, err = run(write(tmp_path, attacks(11, last_known=PUBLISHED_LATER)))
    assert "imported. 11 rows: 11 new" in out, (out, err)
    assert sorted(handed) == sorted(ev.Report.objects.values_list("id", flat=True))  # re-evaluated all the same

    as_known_then = ceiling("2020-03-12", "2020-03-12")
    # Ten attacks, under the limit, on the one day with data of three: too little to say "in compliance".
    assert as_known_then["status"] == "no_data"
    assert as_known_then["reason"] == {"code": "coverage.insufficient", "params": {
        "days_with_data": 1, "days": 3, "share": 33, "needed": 80, "opens": "2020-03-10"}}
    assert as_known_then["known_at"] == "2020-03-12T19:29:59.999999+00:00"

    once_published = ceiling("2020-03-12", "2020-03-21")
    assert once_published["status"] == "breached"
    assert once_published["reason"]["params"]["breached_days"] == 1


def test_without_timestamps_the_same_replay_knows_nothing_of_2020(agreement, acled, tmp_path):
    """What the import used to do for every row: known from the import (now), so unknown in 2020."""
    run(write(tmp_path, attacks(11).replace(f",{stamp(KNOWN)}\n", ",\n")))
    assert ev.Report.objects.filter(recorded_at__gt=datetime(2026, 1, 1, tzinfo=UTC)).count() == 11
    assert ceiling("2020-03-12", "2020-03-21")["status"] == "no_data"


def test_the_sweep_dates_a_breach_from_the_dataset_not_from_the_import(agreement, acled, tmp_path, monkeypatch):
    monkeypatch.setattr(triggers, "reports_changed", lambda ids: None)
    run(write(tmp_path, attacks(11, last_known=PUBLISHED_LATER)))
    run_sweep(now=datetime(2020, 3, 12, 12, tzinfo=UTC))  # the eleventh attack was not yet known
    ceiling_changes = StatusChange.objects.filter(commitment__key="violence-major-cities").order_by("detected_at")
    assert [c.new_status for c in ceiling_changes] == ["no_data"]  # one day of three with data
    swept_at = datetime(2020, 3, 21, 12, tzinfo=UTC)
    run_sweep(now=swept_at)
    breach = ceiling_changes.last()
    assert breach.new_status == "breached"
    # In effect from the day of the breach (11 March in Kabul), detected when the sweep ran.
    assert (breach.effective_at, breach.detected_at) == (datetime(2020, 3, 10, 19, 30, tzinfo=UTC), swept_at)
