"""Malformed files, through the command and through the admin: a clear message, and nothing written."""

import importlib.util
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from monitor.accounts.roles import MONITOR, grant_role
from monitor.evidence import models as ev
from monitor.evidence.importing.problems import Problem
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)



def far_into_the_file(bad, row=450):
    """A 600-row export (some 200 KB, read in several chunks) with `bad` bytes in row `row`, and that row's line."""
    text = make_acled.csv_text(600, change={row: {"event_id_cnty": "AFG-BAD-ID"}}).encode()
    at = text.index(b"AFG-BAD-ID")
    return text.replace(b"AFG-BAD-ID", b"AFG" + bad + b"1"), text.count(b"\n", 0, at) + 1


DEEP_CP1252, DEEP_CP1252_LINE = far_into_the_file(b"\x97")
DEEP_NUL, DEEP_NUL_LINE = far_into_the_file(b"\x00")

# Row 0 of a generated export has notes on two lines (2-3); rows 1 and 2 are on lines 4 and 5.
CASES = {
    "missing columns": (
        make_acled.csv_text(2, drop=("event_date", "fatalities")),
        "Line 1, column event_date: the header lacks the columns event_date, fatalities.",
    ),
    "a bad date": (
        make_acled.csv_text(3, change={1: {"event_date": "2020/03/02"}}),
        "Line 4, column event_date: expected a date such as 2020-02-29 or 29 February 2020, got “2020/03/02”",
    ),
    "a day that does not exist": (
        make_acled.csv_text(3, change={2: {"event_date": "2021-02-29"}}),
        "Line 5, column event_date: there is no such day as “2021-02-29”",
    ),
    "negative fatalities": (
        make_acled.csv_text(3, change={1: {"fatalities": "-3"}}),
        "Line 4, column fatalities: must be 0 or more, got -3",
    ),
    "an unknown event type": (
        make_acled.csv_text(3, change={2: {"event_type": "Skirmishes"}}),
        "Line 5, column event_type: unknown event type “Skirmishes” (ACLED's are: Battles,",
    ),
    "an id twice in one file": (
        make_acled.csv_text(3, change={2: {"event_id_cnty": "AFG0000001"}}),
        "Line 5, column event_id_cnty: the id “AFG0000001” appears twice in this file (first on line 2)",
    ),
    "a timestamp that is not a Unix time": (
        make_acled.csv_text(3, change={1: {"timestamp": "2020-03-02 10:00"}}),
        "Line 4, column timestamp: must be a Unix time, whole seconds since 1 January 1970 UTC (such as "
        "1583020800), got “2020-03-02 10:00”",
    ),
    "a timestamp after the import began": (
        make_acled.csv_text(3, change={2: {"timestamp": "4102444800"}}),  # 1 January 2100
        "Line 5, column timestamp: is 2100-01-01 00:00 UTC, after this import began (",
    ),
    "a row with too few values": (
        make_acled.csv_text(2) + "AFG0000009,2020-03-09,2020\n",
        "Line 5: 3 values, but the header has 31 columns",
    ),
    "an empty file": ("", "The file is empty."),
    "a header and no rows": (make_acled.csv_text(0), "Line 1: the file has a header but no rows."),
    "another encoding": (
        (DATA / "acled-windows-1252.csv").read_bytes(),
        "Line 4: the file is not UTF-8 text (byte 0x97 cannot be read). Save it as UTF-8",
    ),
    "another encoding far into the file": (
        DEEP_CP1252,
        f"Line {DEEP_CP1252_LINE}: the file is not UTF-8 text (byte 0x97 cannot be read).",
    ),
    "a NUL byte far into the file": (
        DEEP_NUL,
        f"Line {DEEP_NUL_LINE}: the file contains NUL bytes: it is not a text file.",
    ),
    "UTF-16": (
        make_acled.csv_text(2).encode("utf-16"),
        "Line 1: the file is UTF-16 text. Save it as UTF-8",
    ),
    "broken quoting": (
        make_acled.csv_text(2).replace('"On 2020-03-02', '"On "2020-03-02'),
        "Line 4: the CSV is malformed",
    ),
}


def as_bytes(content):
    return content if isinstance(content, bytes) else content.encode("utf-8")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def acled():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


def nothing_written():
    return not ev.Report.objects.exists() and not ev.Report.history.exists()


@pytest.mark.parametrize("case", CASES)
def test_the_command_names_the_problem_and_imports_nothing(case, acled, tmp_path):
    content, message = CASES[case]
    path = tmp_path / "events.csv"
    path.write_bytes(as_bytes(content))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_reports", str(path), "--format", "acled", stdout=io.StringIO(), stderr=err)
    assert f"events.csv: {message}" in err.getvalue()
    assert nothing_written() and not ev.ImportJob.objects.exists()


@pytest.mark.parametrize("case", CASES)
def test_the_admin_shows_the_problem_and_imports_nothing(case, acled, client):
    content, message = CASES[case]
    client.force_login(grant_role(UserFactory(), MONITOR))
    response = client.post(reverse("admin:evidence_importjob_upload"), {
        "format": "acled", "source": acled.pk, "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile("events.csv", as_bytes(content), "text/csv"),
    }, follow=True)
    page = response.content.decode()
    if not content:  # the upload form itself refuses an empty file
        assert "The submitted file is empty." in page
        assert not ev.ImportJob.objects.exists() and nothing_written()
        return
    job = ev.ImportJob.objects.get()
    problem = job.problems[0]
    assert str(Problem(**problem)).startswith(message)
    assert escape(problem["reason"]) in page
    if job.state == ev.CHECKED:  # row problems: the import waits for a fixed file, or a choice to skip
        assert "Skip the 1 bad rows and import the rest" in page
        client.post(reverse("admin:evidence_importjob_confirm", args=[job.pk]))
        assert "Some rows have problems" in client.get(response.request["PATH_INFO"]).content.decode()
    else:  # the file itself cannot be read
        assert "Nothing was imported" in page and 'value="Import"' not in page
    assert nothing_written()


def test_a_file_far_over_the_size_limit_is_refused_without_being_stored(acled, client, settings):
    settings.MONITOR_IMPORT_MAX_UPLOAD_BYTES = 100 * 1024
    client.force_login(grant_role(UserFactory(), MONITOR))
    big = make_acled.csv_text(3000).encode()  # about 1 MB: ten times the limit
    response = client.post(reverse("admin:evidence_importjob_upload"), {
        "format": "acled", "source": acled.pk, "time_zone": "UTC",
        "file": SimpleUploadedFile("events.csv", big, "text/csv"),
    })
    assert response.status_code == 200
    assert "This file is larger than the limit of 0.1 MB" in response.content.decode()
    assert not ev.ImportJob.objects.exists() and nothing_written()

