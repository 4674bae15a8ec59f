"""Files kept with a report (issue 14): stored with the SHA-256 of their bytes, shown with it and their capture
time on the public page and in the admin, served to the public only with a public, republishable report, and
refused (the field named, nothing written) when too large or not of an allowed type by their content."""

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import TestCase
from django.urls import reverse

from monitor.accounts.roles import MONITOR, grant_role
from monitor.evidence import attachments
from monitor.evidence import models as ev
from tests.factories import (
    AgreementFactory,
    CommitmentFactory,
    PartyFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)
from tests.test_pages import text

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
ADD = reverse("admin:evidence_attachment_add")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = None
    return tmp_path / "media"


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def talks():
    taliban = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory(slug="accord", title="Accord", publish_computed_verdicts=True)
    agreement.parties.set([taliban])
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", owed_by=[taliban],
                             rule={"categories": ["talks_started"], "attribution": "any"}, due_offset=10)


@pytest.fixture
def report(talks):
    return ReportFactory(summary="Talks opened in Doha.", source=SourceFactory(name="Wire", reliability="B"))


@pytest.fixture
def monitor(client):
    user = grant_role(UserFactory(username="mina"), MONITOR)
    client.force_login(user)
    return user


def page(client, **params):
    # A page shown "now" is as known at the start of the current minute (docs/public-pages.md): what is stored
    # during a minute shows from the next one, so the reader comes a minute later.
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        response = client.get(reverse("pages:commitment", kwargs={"agreement": "accord", "key": "talks"}), params,
                              follow=True)
    assert response.status_code == 200
    return response.content.decode()


def committed():
    # Each test runs inside a transaction that is never committed; an attachment's bytes are written when its
    # row is committed, so the helpers below run the commit callbacks as a committed save would.
    return TestCase.captureOnCommitCallbacks(execute=True)


def upload(client, report, name, content, **fields):
    # The upload is closed when the request ends, so its bytes are written only where the admin's transaction
    # really commits during the request: a test that reads them back is a transaction=True test.
    return client.post(ADD, {
        "report": report.pk, "file": SimpleUploadedFile(name, content, content_type="application/octet-stream"),
        "kind": ev.SCREENSHOT, "captured_at_0": "2020-03-05", "captured_at_1": "09:30:00", "captured_url": "",
        "description": "", **fields,
    })


def attach(report, name, content, **fields):
    a = ev.Attachment(report=report, file=ContentFile(content, name=name), **fields)
    with committed():
        a.save()
    return a


def download(client, a):
    return client.get(reverse("pages:attachment", kwargs={"report": a.report_id, "attachment": a.pk,
                                                           "name": a.original_name}))


def body(response):
    return b"".join(response.streaming_content)


# --- stored and shown ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_screenshot_is_kept_with_the_sha256_of_its_bytes_and_shown_on_the_public_page(
        client, report, monitor, media):
    response = upload(client, report, "doha-talks.png", PNG, captured_url="https://example.org/doha")
    assert response.status_code == 302, response.context["adminform"].form.errors
    kept = ev.Attachment.objects.get()
    digest = hashlib.sha256(PNG).hexdigest()
    assert (kept.sha256, kept.size, kept.content_type, kept.original_name) == (digest, len(PNG), "image/png",
                                                                                "doha-talks.png")
    # 09:30 as entered, in the admin's zone (the agreement's: Kabul, UTC+4:30)
    assert kept.added_by == monitor and kept.captured_at == datetime(2020, 3, 5, 5, 0, tzinfo=UTC)
    stored, = files_in(media)
    assert hashlib.sha256((media / stored).read_bytes()).hexdigest() == digest

    client.logout()
    shown = text(page(client))
    assert f"doha-talks.png (screenshot, {len(PNG)} bytes) of https://example.org/doha" in shown
    # The page is in the agreement's zone (Kabul, UTC+4:30), as the admin is: 09:30 as entered.
    assert f"captured 5 March 2020, 09:30 · SHA-256 {digest}" in shown
    served = download(client, kept)
    assert served.status_code == 200 and body(served) == PNG
    assert served["Content-Type"] == "image/png"
    assert served["Repr-Digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(PNG).digest()).decode() + ":"


def test_the_admin_shows_the_sha256_and_capture_time_and_never_lets_them_be_edited(client, report, monitor):
    kept = attach(report, "letter.pdf", PDF, kind=ev.DOCUMENT, captured_at=datetime(2020, 3, 5, 7, tzinfo=UTC))
    report_page = client.get(reverse("admin:evidence_report_change", args=[report.pk])).content.decode()
    assert kept.sha256 in report_page and "captured 2020-03-05 07:00 UTC" in report_page
    assert f"{ADD}?report={report.pk}" in report_page
    own_page = client.get(reverse("admin:evidence_attachment_change", args=[kept.pk]))
    assert own_page.status_code == 200 and kept.sha256 in own_page.content.decode()
    form = own_page.context["adminform"].form
    assert "sha256" not in form.fields and "file" not in form.fields  # shown read-only, nothing to post
    client.post(reverse("admin:evidence_attachment_change", args=[kept.pk]), {"description": "edited"})
    kept.refresh_from_db()
    assert kept.description == ""
    assert client.post(reverse("admin:evidence_attachment_delete", args=[kept.pk]), {"post": "yes"}).status_code == 403
    assert ev.Attachment.objects.filter(pk=kept.pk).exists()


def test_a_second_file_of_the_same_name_never_overwrites_the_first(report, media):
    first = attach(report, "capture.txt", b"first words\n")
    second = attach(report, "capture.txt", b"second words\n")
    assert first.file.name != second.file.name
    assert (media / first.file.name).read_bytes() == b"first words\n"
    same_bytes = attach(report, "capture.txt", b"first words\n")  # the same digest, so the same folder
    assert same_bytes.file.name != first.file.name and (media / first.file.name).read_bytes() == b"first words\n"
    first.file = ContentFile(b"replaced", name="capture.txt")
    with pytest.raises(ValidationError, match="never replaced"):
        first.save()
    assert (media / ev.Attachment.objects.get(pk=first.pk).file.name).read_bytes() == b"first words\n"


def test_an_attachment_whose_row_is_rolled_back_leaves_no_file_behind(report, media):
    with committed(), pytest.raises(RuntimeError):
        with transaction.atomic():
            a = ev.Attachment(report=report, file=ContentFile(PDF, name="letter.pdf"))
            a.save()
            raise RuntimeError("a later step of the same save fails")
    assert not ev.Attachment.objects.exists() and files_in(media) == []
    kept = attach(report, "letter.pdf", PDF)  # the same save, committed: the file is there, under its row's name
    assert files_in(media) == [kept.file.name] and (media / kept.file.name).read_bytes() == PDF


@pytest.mark.django_db(transaction=True)
def test_an_admin_upload_whose_transaction_fails_after_the_row_is_saved_stores_no_file(
        client, report, monitor, media, monkeypatch):
    # Real commits here: the admin's own transaction is rolled back by an error after the row's INSERT.
    from monitor.evidence.admin import AttachmentAdmin

    def fails(*args, **kwargs):
        raise RuntimeError("the change log could not be written")

    monkeypatch.setattr(AttachmentAdmin, "log_addition", fails)
    client.raise_request_exception = False
    response = upload(client, report, "doha.png", PNG)
    assert response.status_code == 500
    assert not ev.Attachment.objects.exists() and files_in(media) == []
    monkeypatch.undo()
    assert upload(client, report, "doha.png", PNG).status_code == 302
    assert len(files_in(media)) == 1 and ev.Attachment.objects.count() == 1


def test_an_attachment_stored_after_the_known_at_cutoff_is_not_shown_as_known_then(client, report):
    kept = attach(report, "letter.pdf", PDF)
    before = page(client, known_at=(kept.stored_at - timedelta(minutes=1)).isoformat())
    assert "Talks opened in Doha." in before and kept.sha256 not in before
    assert kept.sha256 in page(client)


# --- who may download ----------------------------------------------------------------------------


def test_a_non_public_reports_attachment_is_not_served_to_the_public_but_is_to_staff(client, report):
    kept = attach(report, "letter.pdf", PDF)
    assert download(client, kept).status_code == 200
    ev.Report.objects.filter(pk=report.pk).update(visibility=ev.INTERNAL)
    refused = download(client, kept)
    assert refused.status_code == 404
    assert kept.sha256 not in page(client)
    client.force_login(grant_role(UserFactory(username="viewer"), MONITOR))
    served = download(client, kept)
    assert served.status_code == 200 and body(served) == PDF
    assert "no-store" in served["Cache-Control"]


def test_an_attachment_of_a_source_that_may_not_be_republished_is_not_served_to_the_public(client, talks):
    acled = SourceFactory(name="ACLED", reliability="B", may_republish=False)
    kept = attach(ReportFactory(source=acled), "event.txt", b"an event row\n")
    assert download(client, kept).status_code == 404


def test_a_link_naming_another_file_of_the_report_is_not_served(client, report):
    kept = attach(report, "letter.pdf", PDF)
    wrong = reverse("pages:attachment", kwargs={"report": report.pk + 1, "attachment": kept.pk,
                                                "name": "letter.pdf"})
    assert client.get(wrong).status_code == 404
    renamed = reverse("pages:attachment", kwargs={"report": report.pk, "attachment": kept.pk, "name": "other.pdf"})
    assert client.get(renamed).status_code == 404


def test_a_captured_web_page_is_downloaded_never_run_in_the_monitors_pages(client, report):
    kept = attach(report, "page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", kind=ev.WEB_CAPTURE)
    served = download(client, kept)
    assert served.status_code == 200
    assert served["Content-Disposition"].startswith("attachment;")
    assert served["Content-Security-Policy"].startswith("sandbox")
    assert served["X-Content-Type-Options"] == "nosniff"


# --- refused -------------------------------------------------------------------------------------


def test_an_upload_over_the_size_limit_is_refused_with_the_field_named_and_nothing_written(
        client, report, monitor, media, settings):
    settings.MONITOR_ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = PNG + bytes(1024 * 1024)
    response = upload(client, report, "huge.png", big)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"file": ["huge.png is larger than the limit of 1 MB for an attachment."]}
    assert not ev.Attachment.objects.exists() and files_in(media) == []


@pytest.mark.parametrize("name, content, reason", [
    ("setup.png", b"MZ\x90\x00\x03" + bytes(100), "is not of a type allowed for an attachment"),
    ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "is plain text by its content, but its name “drawing.svg” does not end in .txt"),
    ("letter.pdf", PNG, "is a PNG image by its content, but its name “letter.pdf” does not end in .png"),
    ("archive.zip", b"PK\x03\x04" + bytes(50), "is not of a type allowed for an attachment"),
    ("empty.txt", b"", "is empty"),
])
def test_a_file_not_of_an_allowed_type_by_its_content_is_refused_with_the_field_named_and_nothing_written(
        client, report, monitor, media, name, content, reason):
    response = upload(client, report, name, content)
    assert response.status_code == 200
    (message,) = response.context["adminform"].form.errors["file"]
    assert reason in message and message.startswith(name if content else "")
    assert not ev.Attachment.objects.exists() and files_in(media) == []


def test_a_script_saving_an_attachment_is_held_to_the_same_checks(report, media):
    with pytest.raises(ValidationError) as refused:
        attach(report, "photo.jpg", b"GIF89a" + bytes(20))
    assert "file" in refused.value.message_dict
    assert not ev.Attachment.objects.exists() and files_in(media) == []


@pytest.mark.parametrize("name, content, kind", [
    ("a.pdf", PDF, attachments.PDF),
    ("a.png", PNG, attachments.PNG),
    ("a.jpg", b"\xff\xd8\xff\xe0" + bytes(20), attachments.JPEG),
    ("a.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20), attachments.WEBP),
    ("a.warc", b"WARC/1.1\r\nWARC-Type: response\r\n", attachments.WARC),
    ("a.mhtml", b"From: <Saved by Blink>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related;\r\n\ttype=\"text/html\"\r\n\r\n",
     attachments.MHTML),
    ("a.html", b"\xef\xbb\xbf  <!-- saved --><!doctype html><html lang=ps>", attachments.HTML),
    ("a.txt", "د سولې خبرې\n".encode(), attachments.TEXT),
])
def test_each_allowed_type_is_told_by_its_bytes(name, content, kind):
    import gzip
    import io

    checked = attachments.check(io.BytesIO(content), name)
    assert (checked.content_type, checked.sha256) == (kind, hashlib.sha256(content).hexdigest())
    if kind == attachments.WARC:
        zipped = gzip.compress(content)
        assert attachments.check(io.BytesIO(zipped), "a.warc.gz").content_type == attachments.WARC


def test_text_that_is_not_utf8_is_not_taken_as_plain_text():
    import io

    with pytest.raises(attachments.Refused, match="not of a type allowed"):
        attachments.check(io.BytesIO("سوله".encode("cp1256") + b"\xff\xfe"), "a.txt")


def test_the_page_lists_attachments_in_a_fixed_number_of_queries(client, report):
    for i in range(3):
        attach(report, f"note-{i}.txt", f"note {i}\n".encode())
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as three:
        assert len(re.findall(r'class="attachment"', page(client))) == 3
    for i in range(3, 10):
        attach(report, f"note-{i}.txt", f"note {i}\n".encode())
    with CaptureQueriesContext(connection) as ten:
        assert len(re.findall(r'class="attachment"', page(client))) == 10
    assert len(three) == len(ten)


def test_a_file_over_the_limit_is_dropped_as_it_arrives_never_spooled_to_disk(
        client, report, monitor, media, settings, tmp_path, monkeypatch):
    spool = tmp_path / "upload-tmp"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload the handlers keep goes to a temporary file in `spool`
    settings.MONITOR_ATTACHMENT_MAX_BYTES = 100 * 1024
    checked = []
    monkeypatch.setattr(attachments, "check", lambda *a: checked.append(a))
    response = upload(client, report, "capture.warc", b"WARC/1.1\r\n" + bytes(300 * 1024))
    assert response.context["adminform"].form.errors == {
        "file": ["capture.warc is larger than the limit of 0.1 MB for an attachment."]}
    assert checked == []  # refused by the upload handler, before the model's check
    assert files_in(spool) == [] and files_in(media) == [] and not ev.Attachment.objects.exists()


def test_the_api_lists_a_reports_attachments_with_their_digest_and_where_to_download_them(client, report):
    kept = attach(report, "letter.pdf", PDF, kind=ev.DOCUMENT, captured_at=datetime(2020, 3, 5, 7, tzinfo=UTC))
    (shown,) = client.get(reverse("api:report-detail", kwargs={"pk": report.pk})).json()["attachments"]
    assert shown["sha256"] == hashlib.sha256(PDF).hexdigest() == kept.sha256
    assert (shown["name"], shown["kind"], shown["content_type"], shown["size"]) == (
        "letter.pdf", "document", "application/pdf", len(PDF))
    assert shown["captured_at"] == "2020-03-05T07:00:00Z"
    assert body(client.get(shown["url"])) == PDF
    listed = client.get(reverse("api:report-list")).json()["results"]
    assert [a["sha256"] for r in listed for a in r["attachments"]] == [kept.sha256]
