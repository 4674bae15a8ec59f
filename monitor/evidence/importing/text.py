"""From bytes to records, streamed, with the line number of every record.

A file in another encoding is reported at the first line that is not UTF-8,
rather than as a decoding error somewhere in a buffer.

Nothing is read whole that the file can make arbitrarily long: a line, a CSV row
whose quoted values span lines, and a JSON value are each held to a `Limit`
(MONITOR_IMPORT_MAX_LINE_BYTES), checked as they are read, so that a file of one
huge line stops after the limit's worth of it, not after all of it.
"""

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time

from terms.rules import day_start

from .problems import FileProblem, Problem

CHUNK = 1 << 16
# The default of MONITOR_IMPORT_MAX_LINE_BYTES: far more than any report takes (ACLED's longest notes run to a
# few thousand characters), far less than a worker's memory.
MAX_LINE = 1 << 20

NOT_UTF8 = (
    "the file is not UTF-8 text (byte 0x{byte:02X} cannot be read). Save it as UTF-8 "
    "(in Excel: Save As → “CSV UTF-8”) and upload it again."
)


@dataclass(frozen=True)
class Limit:
    """The most bytes a line, a CSV row or a JSON value may take, and the file's name to say so with.

    Rows and JSON values are counted in characters, which a UTF-8 file spends at least a byte on each:
    a row refused for more characters than the limit has more bytes than it too.
    """

    bytes: int = MAX_LINE
    name: str = ""

    def exceeded(self, what, line):
        of = f" of “{self.name}”" if self.name else ""
        return FileProblem(
            f"{what}{of} is longer than {self.bytes:,} bytes, the limit (MONITOR_IMPORT_MAX_LINE_BYTES): the "
            "file was read no further. No report is that long; check that this is the file you meant.",
            line,
        )


class LineReader:
    """A binary file in chunks that end at a line break, counting the bytes read (for progress).

    No line is held longer than the limit: as soon as the bytes since the last line break pass it, reading
    stops with a FileProblem naming the file, the line and the limit, the rest of the line unread. With
    `split` (JSON, which may put a whole file on one line and is held to the limit value by value instead),
    a long line is handed on in pieces that end between characters.
    """

    def __init__(self, binary, limit=None):
        self.binary = binary
        self.limit = limit or Limit()
        self.bytes_read = 0
        self.lines = 0  # line breaks handed on so far

    def chunks(self, split=False):
        longest = self.limit.bytes
        # Reads of at most the limit: a line that lies within one read is within the limit, so only the line
        # carried over from the reads before needs measuring.
        size = CHUNK if split else max(1, min(CHUNK, longest))
        pending = b""
        first = True
        while True:
            chunk = self.binary.read(size)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            if first:
                sniff(chunk)
                first = False
            pending += chunk
            end = pending.rfind(b"\n") + 1
            if not split:
                # `pending` starts a line: its length up to the first break (or all of it, if none yet).
                first_line = pending.find(b"\n") if end else len(pending)
                if first_line > longest:
                    raise self.limit.exceeded("this line", self.lines + 1)
            if end:
                self.lines += pending.count(b"\n", 0, end)
                yield pending[:end]
                pending = pending[end:]
            elif split and len(pending) >= CHUNK:
                cut = _whole_characters(pending)
                yield pending[:cut]
                pending = pending[cut:]
        if pending:
            yield pending


def _whole_characters(data):
    """Where to cut UTF-8 `data` so that no character is split: before its last one if that may be incomplete."""
    i = len(data) - 1
    while i > 0 and len(data) - i < 4 and 0x80 <= data[i] < 0xC0:  # continuation bytes
        i -= 1
    return i if data[i] >= 0xC0 else len(data)


def sniff(head):
    """Name the usual wrong files before trying to read them as text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("the file is UTF-16 text. Save it as UTF-8 (in Excel: “CSV UTF-8”) and upload it again.", 1)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("this is a spreadsheet workbook, not a CSV file. Save it as “CSV UTF-8” first.", 1)


def text_lines(reader, split=False):
    """The file's lines as text, split at line feeds only (so line numbers are the file's).

    A UTF-8 byte-order mark is dropped; anything not UTF-8 stops the file at the line it is on, after
    the lines before it. With `split`, a line longer than a chunk comes in pieces (LineReader.chunks).

    Decoded a chunk at a time rather than a line at a time: a line costs no call of its own, and UTF-8
    never puts a newline byte inside a character, so a chunk that ends at one decodes on its own.
    """
    line = 1  # the number of the chunk's first line
    first = True
    for chunk in reader.chunks(split):
        if first and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8):]
        first = False
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


def csv_records(lines, limit=None):
    """(line the record starts on, its values) for each non-blank record; quoted values may span lines.

    With a `limit`, a record is refused as soon as the lines it has taken pass it (LineReader holds one line
    to it; this holds a row whose quoted values run over many short lines).
    """
    consumed = 0
    taken = 0  # characters of the record being read

    def measured(lines):
        nonlocal taken
        for text in lines:
            taken += len(text)
            if taken - 1 > limit.bytes:  # its length up to its final line break, as for a line
                raise limit.exceeded("the row starting on this line", consumed + 1)
            yield text

    # csv.reader asks for the next line only when the record needs it: `taken` is this record's alone.
    reader = csv.reader(lines if limit is None else measured(lines), strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise FileProblem(f"the CSV is malformed ({e}); check the quotes on this line.", consumed + 1) from None
        start, consumed, taken = consumed + 1, reader.line_num, 0
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


def json_objects(lines, list_key="reports", limit=None):
    """(line the object starts on, the object) for each element of a JSON list, streamed.

    The list is the whole document, or the `list_key` member of a top-level
    object (as the export writes it: {"format": 1, …, "reports": […]}). A value
    longer than `limit` stops the file; lines may be of any length (text_lines with
    `split`): a whole list on one line is read a value at a time.
    """
    return _JsonStream(lines, limit or Limit()).objects(list_key)


SPACE = re.compile(r"[ \t\r\n]*")
# How a decoder's error reads when the value is only cut short by the end of the buffer, not malformed: an
# open string (reported where it starts), or any other error within a token's length of the end.
CUT_SHORT = "Unterminated string"
TOKEN = 8


class _JsonStream:
    """A JSON document read some lines at a time; only one element of the list is ever held whole."""

    def __init__(self, lines, limit):
        self.lines = iter(lines)
        self.limit = limit
        self.decoder = json.JSONDecoder()
        self.buffer, self.pos, self.line, self.eof = "", 0, 1, False

    def more(self):
        """What is left of the buffer and a chunk's worth of the next lines (so a value is tried again rarely)."""
        parts, added = [self.buffer[self.pos:]], 0
        for text in self.lines:
            parts.append(text)
            added += len(text)
            if added >= CHUNK:
                break
        else:
            self.eof = True
        self.buffer, self.pos = "".join(parts), 0

    def peek(self):
        """The next character that is not white space ("" at the end), counting lines on the way."""
        while True:
            end = SPACE.match(self.buffer, self.pos).end()
            self.line += self.buffer.count("\n", self.pos, end)
            self.pos = end
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
                too_long = len(self.buffer) - self.pos > self.limit.bytes
                if too_long and (e.msg.startswith(CUT_SHORT) or e.pos >= len(self.buffer) - TOKEN):
                    # Cut short by the end of the buffer: the value is longer than the buffer, and that than the limit.
                    raise self.limit.exceeded("the JSON value starting on this line", start) from None
                if self.eof or too_long:
                    line = start + self.buffer.count("\n", self.pos, e.pos)
                    raise FileProblem(f"the JSON is malformed: {e.msg}.", line) from None
                self.more()
        if end - self.pos > self.limit.bytes:
            raise self.limit.exceeded("the JSON value starting on this line", start)
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
