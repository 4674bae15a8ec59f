"""The import upload's size limit holds both ways, and no upload leaves a file behind.

MONITOR_IMPORT_MAX_UPLOAD_BYTES is enforced by `SizeLimitHandler` (monitor/evidence/importing/uploads.py)
in two ways: by the length the request declares, when it is over the limit plus the form's overhead
(refused before a byte of the file is written anywhere), and by the bytes of the file that actually arrive
(a declared length says nothing exact about the file inside a multipart body). The tests at and one byte
over the limit fail without the second check, the one declared far over the limit without the first.
A chunked request declares no length at all: Django reads no body without one, so it is refused too.

Every upload here goes through a temporary file on disk (FILE_UPLOAD_MAX_MEMORY_SIZE = 0), in a folder of
the test's own (FILE_UPLOAD_TEMP_DIR, and Python's temporary folder for what the check writes), so "nothing
left behind" can be checked by listing it.
"""

import importlib.util
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.files import uploadhandler
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart
from django.urls import reverse

from monitor.accounts.roles import MONITOR, grant_role
from monitor.evidence import models as ev
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)

UPLOAD = reverse("admin:evidence_importjob_upload")
# 100 KiB, shown to the user as "0.1 MB". Larger than one 64 KiB chunk of the upload, so a file at the
# limit arrives in two chunks and the first one is already on disk when the second one goes over.
LIMIT = 100 * 1024
TOO_LARGE = (
    "This file is larger than the limit of 0.1 MB; split it, or ask an administrator to import it with "
    "manage.py import_reports."
)


@pytest.fixture(autouse=True)
def disk(settings, tmp_path, monkeypatch):
    media, temp = tmp_path / "media", tmp_path / "upload-tmp"
    temp.mkdir()
    settings.MEDIA_ROOT = media
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # and the check's own scratch files, if any had a name
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload is spooled to a temporary file in `temp`
    settings.MONITOR_IMPORT_MAX_UPLOAD_BYTES = LIMIT
    return SimpleNamespace(media=media, temp=temp)


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def acled():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


@pytest.fixture
def monitor(client):
    user = grant_role(UserFactory(username="farida"), MONITOR)
    client.force_login(user)
    return user


def acled_file(size):
    """A valid ACLED export of exactly `size` bytes (its last row's notes padded)."""
    rows = max(1, size // 600)
    last = rows - 1
    base = len(make_acled.csv_text(rows, change={last: {"notes": "x"}}).encode())
    assert base <= size, "ask for a larger file"
    content = make_acled.csv_text(rows, change={last: {"notes": "x" * (1 + size - base)}}).encode()
    assert len(content) == size
    return content


def fields(source, content):
    return {
        "format": "acled", "source": source.pk, "time_zone": "Asia/Kabul",
        "file": SimpleUploadedFile("events.csv", content, "text/csv"),
    }


def assert_refused_as_too_large(response):
    assert response.status_code == 200  # the form again, not a redirect to a job
    assert TOO_LARGE in response.context["form"].errors["file"]
    assert TOO_LARGE in response.content.decode()
    assert not ev.ImportJob.objects.exists()


# --- at the limit, and one byte over ---------------------------------------------------------------


def test_a_file_exactly_at_the_limit_is_accepted_and_kept_once_with_no_temporary_file_left(
    client, acled, monitor, disk
):
    content = acled_file(LIMIT)
    response = client.post(UPLOAD, fields(acled, content))
    job = ev.ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:evidence_importjob_change", args=[job.pk]
    )
    assert job.state == ev.CHECKED and job.file_size == LIMIT and job.rows_invalid == 0
    # Kept: the upload itself, byte for byte, in the storage the worker reads; nothing else anywhere.
    assert files_in(disk.media) == [job.file.name]
    assert (disk.media / job.file.name).read_bytes() == content
    assert files_in(disk.temp) == []


def test_a_file_one_byte_over_the_limit_is_refused_with_the_limit_named_and_nothing_kept(
    client, acled, monitor, disk
):
    # Its declared length is within the limit plus the form's overhead: only the bytes received catch it,
    # after the first 64 KiB of it has been written to a temporary file.
    response = client.post(UPLOAD, fields(acled, acled_file(LIMIT + 1)))
    assert_refused_as_too_large(response)
    assert files_in(disk.media) == [] and files_in(disk.temp) == []


def test_a_file_over_the_limit_is_only_said_to_be_too_large(client, acled, monitor):
    # The user did choose a file; "This field is required." above the limit's message contradicts it.
    response = client.post(UPLOAD, fields(acled, acled_file(LIMIT + 1)))
    assert response.context["form"].errors["file"] == [TOO_LARGE]


# --- a declared length over the limit ----------------------------------------------------------------


@pytest.fixture
def temporary_files(monkeypatch):
    """Every temporary file Django's upload handlers open, in order."""
    opened = []

    class Recorded(uploadhandler.TemporaryUploadedFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self.temporary_file_path())

    monkeypatch.setattr(uploadhandler, "TemporaryUploadedFile", Recorded)
    return opened


def test_a_file_declared_far_over_the_limit_is_refused_before_any_of_it_is_written(
    client, acled, monitor, disk, temporary_files
):
    response = client.post(UPLOAD, fields(acled, acled_file(2 * LIMIT)))
    assert_refused_as_too_large(response)
    # Not even a temporary file was opened for it: "refused while it streams in, before anything is stored".
    assert temporary_files == []
    assert files_in(disk.media) == [] and files_in(disk.temp) == []


def test_the_temporary_file_spy_sees_an_accepted_upload(client, acled, monitor, disk, temporary_files):
    # The control for the test above: an upload that is stored does go through a recorded temporary file.
    client.post(UPLOAD, fields(acled, acled_file(LIMIT // 2)))
    assert ev.ImportJob.objects.count() == 1 and len(temporary_files) == 1
    assert files_in(disk.temp) == []


# --- chunked: no declared length at all ----------------------------------------------------------------


def post_chunked(client, data):
    """A POST as a WSGI server hands over a `Transfer-Encoding: chunked` request: the body decoded in
    wsgi.input, and no CONTENT_LENGTH (gunicorn sets it only from a Content-Length header)."""
    body = encode_multipart(BOUNDARY, data)
    return client.generic(
        "POST", UPLOAD, b"",
        CONTENT_TYPE=MULTIPART_CONTENT, HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": FakePayload(body)},
    ), len(body)


def test_a_chunked_upload_over_the_limit_is_refused_and_leaves_nothing(client, acled, monitor, disk):
    response, sent = post_chunked(client, fields(acled, acled_file(LIMIT + 1)))
    assert sent > LIMIT
    # Refused: the form again, no job, nothing stored. (Django reads no body without a Content-Length, so the
    # file never arrives; the page says the file is missing, not that it is too large.)
    assert response.status_code == 200
    assert "file" in response.context["form"].errors
    assert not ev.ImportJob.objects.exists()
    assert files_in(disk.media) == [] and files_in(disk.temp) == []


# --- what is kept stays with its job: a job is a record, never deleted ------------------------------------------


def test_an_import_cannot_be_deleted_and_its_stored_upload_stays(client, acled, monitor, disk):
    client.post(UPLOAD, fields(acled, acled_file(LIMIT // 2)))
    job = ev.ImportJob.objects.get()
    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.post(reverse("admin:evidence_importjob_delete", args=[job.pk]), {"post": "yes"})
    assert response.status_code == 403 and ev.ImportJob.objects.filter(pk=job.pk).exists()
    assert files_in(disk.media) == [job.file.name]
