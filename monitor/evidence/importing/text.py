"""From bytes to records, streamed, with the line number of every record.

A file in another encoding is reported at the first line that is not UTF-8,
rather than as a decoding error somewhere in a buffer.
"""

import codecs
import csv
import io
import json
import re
from datetime import date, datetime, time

from terms.rules import day_start

from .problems import FileProblem, Problem

CHUNK = 1 << 16
MAX_JSON_OBJECT = 1 << 20  # a report object larger than this is a broken file, not a report

NOT_UTF8 = (
    "the file is not UTF-8 text (byte 0x{byte:02X} cannot be read). Save it as UTF-8 "
    "(in Excel: Save As → “CSV UTF-8”) and upload it again."
)


class LineReader:
    """A binary file in chunks that end at a line break, counting the bytes read (for progress)."""

    def __init__(self, binary):
        self.binary = binary
        self.bytes_read = 0

    def chunks(self):
        pending = b""
        first = True
        while True:
            chunk = self.binary.read(CHUNK)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            if first:
                sniff(chunk)
                first = False
            pending += chunk
            end = pending.rfind(b"\n") + 1
            if end:
                yield pending[:end]
                pending = pending[end:]
        if pending:
            yield pending


def sniff(head):
    """Name the usual wrong files before trying to read them as text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("the file is UTF-16 text. Save it as UTF-8 (in Excel: “CSV UTF-8”) and upload it again.", 1)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("this is a spreadsheet workbook, not a CSV file. Save it as “CSV UTF-8” first.", 1)


def text_lines(reader):
    """The file's lines as text, split at line feeds only (so line numbers are the file's).

    A UTF-8 byte-order mark is dropped; anything not UTF-8 stops the file at the line it is on, after
    the lines before it.

    Decoded a chunk at a time rather than a line at a time: a line costs no call of its own, and UTF-8
    never puts a newline byte inside a character, so a chunk that ends at one decodes on its own.
    """
    line = 1  # the number of the chunk's first line
    for chunk in reader.chunks():
        if line == 1 and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8):]
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as e:
            good = chunk.rfind(b"\n", 0, e.start) + 1
            yield from _lines(chunk[:good].decode("utf-8"))
            raise FileProblem(NOT_UTF8.format(byte=chunk[e.start]), line + chunk.count(b"\n", 0, good)) from None
        nul = text.find("\x00")
        if nul >= 0:
            good = text.rfind("\n", 0, nul) + 1
            yield from _lines(text[:good])
            raise FileProblem("the file contains NUL bytes: it is not a text file.", line + text.count("\n", 0, good))
        yield from _lines(text)
        line += text.count("\n")


def _lines(text):
    # Iterating a StringIO splits in C; newline="\n" keeps "\r\n" and a lone "\r" inside the line.
    return io.StringIO(text, newline="\n")


def csv_records(lines):
    """(line the record starts on, its values) for each non-blank record; quoted values may span lines."""
    reader = csv.reader(lines, strict=True)
    consumed = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise FileProblem(f"the CSV is malformed ({e}); check the quotes on this line.", consumed + 1) from None
        start, consumed = consumed + 1, reader.line_num
        if record and any(v.strip() for v in record):
            yield start, record


def csv_header(records, known=None):
    """The header (lower-cased, trimmed column names) of a CSV file, or why it cannot be used."""
    try:
        line, header = next(records)
    except StopIteration:
        raise FileProblem("the file is empty.") from None
    header = [h.strip().lower() for h in header]
    seen = set()
    for h in header:
        if h in seen:
            raise FileProblem(f"the column “{h}” appears twice in the header.", line, h)
        seen.add(h)
    if known is not None:
        unknown = [h for h in header if h not in known]
        if unknown:
            raise FileProblem(
                f"unknown column “{unknown[0]}” (known columns: {', '.join(sorted(known))}).", line, unknown[0]
            )
    return line, header


def require_columns(header, required, line):
    missing = [c for c in required if c not in header]
    if missing:
        names = ", ".join(missing)
        raise FileProblem(f"the header lacks the column{'s' if len(missing) > 1 else ''} {names}.", line, missing[0])


def csv_rows(records, header, header_line, row):
    """`row(line, record)` for each record as wide as the header; a problem for any other; an error for none.

    Both formats' readers yield what this yields: (line, values or None, problems).
    """
    width = len(header)
    any_row = False
    for line, record in records:
        any_row = True
        if len(record) != width:
            yield line, None, [Problem(line, "", f"{len(record)} values, but the header has {width} columns")]
            continue
        yield row(line, record)
    if not any_row:
        raise FileProblem("the file has a header but no rows.", header_line)


def json_objects(lines, list_key="reports"):
    """(line the object starts on, the object) for each element of a JSON list, streamed.

    The list is the whole document, or the `list_key` member of a top-level
    object (as the export writes it: {"format": 1, …, "reports": […]}).
    """
    return _JsonStream(lines).objects(list_key)


class _JsonStream:
    """A JSON document read a line at a time; only one element of the list is ever held whole."""

    def __init__(self, lines):
        self.lines = iter(lines)
        self.decoder = json.JSONDecoder()
        self.buffer, self.pos, self.line, self.eof = "", 0, 1, False

    def more(self):
        self.buffer, self.pos = self.buffer[self.pos:], 0
        try:
            self.buffer += next(self.lines)
        except StopIteration:
            self.eof = True

    def peek(self):
        """The next character that is not white space ("" at the end), counting lines on the way."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.line += self.buffer[self.pos] == "\n"
                self.pos += 1
            if self.pos < len(self.buffer) or self.eof:
                return self.buffer[self.pos : self.pos + 1]
            self.more()

    def expect(self, chars, what):
        char = self.peek()
        if not char or char not in chars:
            raise FileProblem(f"expected {what} in the JSON.", self.line)
        self.pos += 1
        return char

    def value(self):
        start = self.line
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
                break
            except json.JSONDecodeError as e:
                if self.eof or len(self.buffer) - self.pos > MAX_JSON_OBJECT:
                    line = start + self.buffer.count("\n", self.pos, e.pos)
                    raise FileProblem(f"the JSON is malformed: {e.msg}.", line) from None
                self.more()
        self.line += self.buffer.count("\n", self.pos, end)
        self.pos = end
        return start, value

    def elements(self):
        self.expect("[", "“[”")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            self.peek()
            yield self.value()
            if self.expect(",]", "“,” or “]” between report objects") == "]":
                return

    def objects(self, list_key):
        first = self.peek()
        if not first:
            raise FileProblem("the file is empty.")
        if first == "[":
            yield from self.elements()
        elif first == "{":
            self.pos += 1
            found = False
            while self.peek() != "}":
                if self.peek() == '"':
                    _line, key = self.value()
                else:
                    raise FileProblem("expected a key in the JSON object.", self.line)
                self.expect(":", "“:”")
                self.peek()
                if key == list_key:
                    found = True
                    yield from self.elements()
                else:
                    self.value()
                if self.expect(",}", "“,” or “}”") == "}":
                    break
            else:
                self.pos += 1
            if not found:
                raise FileProblem(f"the JSON object has no “{list_key}” list.")
        else:
            raise FileProblem("a JSON report file is a list of report objects: it must start with “[”.", self.line)
        if self.peek():
            raise FileProblem("there is text after the end of the JSON.", self.line)


# --- values ------------------------------------------------------------------

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ),
        1,
    )
    for name in names
}
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
WORDS_DATE = re.compile(r"^(\d{1,2})[ -]([A-Za-z]+)[ -](\d{4})$")
DATE_FORMS = "a date such as 2020-02-29 or 29 February 2020"


def parse_date(text):
    """A calendar date written 2020-02-29 or 29 February 2020 (ACLED writes both); ValueError says why not."""
    text = text.strip()
    m = ISO_DATE.match(text)
    if m:
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    else:
        m = WORDS_DATE.match(text)
        if not m or m[2].lower() not in MONTHS:
            raise ValueError(f"expected {DATE_FORMS}, got “{text}”")
        year, month, day = int(m[3]), MONTHS[m[2].lower()], int(m[1])
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"there is no such day as “{text}”") from None


def start_of_day(day, tz):
    """The first instant of a local day, in UTC; in `tz` itself if UTC cannot hold it (1 January of year 1, east
    of Greenwich), so that the reader's bounds on dates (monitor.evidence.models.report_date_problems) refuse it
    rather than the import failing on an OverflowError."""
    try:
        return day_start(day, tz)
    except OverflowError:
        return datetime.combine(day, time.min, tzinfo=tz)


def parse_instant(text, tz):
    """(instant, is_date_only): a date is the start of that day in `tz`; a time without offset is in `tz`."""
    text = text.strip()
    try:
        return start_of_day(parse_date(text), tz), True
    except ValueError as e:
        date_error = e
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        if ":" not in text:
            raise date_error from None
        raise ValueError(
            f"expected {DATE_FORMS}, or a date and time such as 2020-02-29T14:30:00+04:30, got “{text}”"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=tz)
    return instant, False
