"""What a report's attachment may be, decided from its bytes (issue 14): the allowed types and the size limit.

An attachment is evidence a reader may download and check against its SHA-256, so what is kept must be
what it claims to be. The type is read from the file's first bytes (its "magic" signature), never taken
from the browser's Content-Type or the name alone: a script named `capture.png` is refused. The name's
ending must then agree with what the bytes are, so that a reader who downloads `letter.pdf` gets a PDF.

The allowed types (docs/architecture.md, *Attachments*), and the endings each may carry:

- PDF (`%PDF-`): .pdf
- PNG (`\\x89PNG\\r\\n\\x1a\\n`): .png
- JPEG (`\\xff\\xd8\\xff`): .jpg, .jpeg
- WebP (`RIFF....WEBP`): .webp
- WARC, a web archive (`WARC/1.`, or gzip whose first member starts so): .warc, .warc.gz
- MHTML, a browser's single-file page (MIME headers naming multipart/related): .mhtml, .mht
- HTML (a document starting with `<!DOCTYPE html` or `<html`, after a byte-order mark, spaces or comments): .html, .htm
- plain text (the whole file valid UTF-8, no NUL bytes, no other signature): .txt

Anything else (Word files, archives, executables, SVG, which can carry scripts) is refused. Nothing here
touches the database or the storage: `check` reads the upload and says what it is, or why not.
"""

import codecs
import gzip
import hashlib
import io
import re
from dataclasses import dataclass

from django.conf import settings

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
WARC = "application/warc"
MHTML = "multipart/related"
HTML = "text/html"
TEXT = "text/plain"

# The types allowed, with the name endings each may carry and a label for messages.
ALLOWED = {
    PDF: ((".pdf",), "a PDF document"),
    PNG: ((".png",), "a PNG image"),
    JPEG: ((".jpg", ".jpeg"), "a JPEG image"),
    WEBP: ((".webp",), "a WebP image"),
    WARC: ((".warc", ".warc.gz"), "a WARC web archive"),
    MHTML: ((".mhtml", ".mht"), "an MHTML web page"),
    HTML: ((".html", ".htm"), "an HTML page"),
    TEXT: ((".txt",), "plain text"),
}
# Served inline to a browser; every other type is downloaded (an HTML capture of someone else's page must
# never run in the monitor's origin: see monitor.pages.views.attachment).
INLINE = frozenset({PDF, PNG, JPEG, WEBP, TEXT})

HEAD = 8192  # bytes read to decide the type
CHUNK = 64 * 1024

_HTML_START = re.compile(rb"^(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)
_MHTML_HEADER = re.compile(rb"^content-type:\s*multipart/related", re.IGNORECASE | re.MULTILINE)
_MIME_VERSION = re.compile(rb"^mime-version:", re.IGNORECASE | re.MULTILINE)


def max_bytes():
    """The largest attachment taken: MONITOR_ATTACHMENT_MAX_BYTES (docs/operations.md)."""
    return settings.MONITOR_ATTACHMENT_MAX_BYTES


class Refused(ValueError):
    """An upload that is not kept: `reason` says why, in words that follow the field's name."""


@dataclass(frozen=True)
class Checked:
    content_type: str
    size: int
    sha256: str


def sniff(head, upload=None):
    """The allowed type these first bytes are, or None. `upload` (seekable) is read whole for plain text."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"WARC/1."):
        return WARC
    if head.startswith(b"\x1f\x8b"):
        try:
            inner = gzip.GzipFile(fileobj=io.BytesIO(head)).read(16)
        except (OSError, EOFError):
            inner = b""
        return WARC if inner.startswith(b"WARC/1.") else None
    if b"\x00" in head:
        return None
    text = head.removeprefix(b"\xef\xbb\xbf")
    headers = text.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if _MIME_VERSION.search(headers) and _MHTML_HEADER.search(headers):
        return MHTML
    if _HTML_START.match(text):
        return HTML
    if upload is not None and _all_utf8(upload):
        return TEXT
    return None


def _all_utf8(upload):
    utf8 = codecs.getincrementaldecoder("utf-8")()  # incremental: a character may straddle two chunks
    upload.seek(0)
    try:
        for chunk in iter(lambda: upload.read(CHUNK), b""):
            if b"\x00" in chunk:
                return False
            utf8.decode(chunk)
        utf8.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


def check(upload, name):
    """What `upload` (a file object, read in chunks) is: Checked(type, size, sha256), or Refused with the reason.

    Reads the file once for its size and digest (stopping as soon as it passes the limit) and its head
    for its type; leaves it at its start, and writes nothing anywhere.
    """
    limit = max_bytes()
    digest, size = hashlib.sha256(), 0
    upload.seek(0)
    for chunk in iter(lambda: upload.read(CHUNK), b""):
        size += len(chunk)
        if size > limit:
            upload.seek(0)
            raise Refused(f"is larger than the limit of {_megabytes(limit)} MB for an attachment")
        digest.update(chunk)
    if size == 0:
        upload.seek(0)
        raise Refused("is empty")
    upload.seek(0)
    head = upload.read(HEAD)
    content_type = sniff(head, upload)
    upload.seek(0)
    allowed = ", ".join(label for _endings, label in ALLOWED.values())
    if content_type is None:
        raise Refused(f"is not of a type allowed for an attachment ({allowed}): its content is none of them")
    endings, label = ALLOWED[content_type]
    if not (name or "").lower().endswith(endings):
        raise Refused(f"is {label} by its content, but its name “{name}” does not end in {' or '.join(endings)}")
    return Checked(content_type=content_type, size=size, sha256=digest.hexdigest())


def _megabytes(n):
    return f"{round(n / (1024 * 1024), 1):g}"
