"""ACLED's standard CSV export: one event per row, 31 columns (the importer needs 12 of them, and reads 7 more if present).

Both layouts ACLED has published have 31 columns (the current one starts
event_id_cnty, event_date, year, time_precision, disorder_type, …; the older
one data_id, iso, event_id_cnty, …); the columns read here are in both, and the
others are ignored. `event_id_cnty` is the event's stable id: re-importing a
file updates the rows with the same id from the same source.

Knowledge time: ACLED's `timestamp` (Unix seconds) says when the row entered
ACLED's dataset, so it is when the row could be known, and becomes the new
report's `recorded_at`; the import's instant is kept beside it as `entered_at`.
It is the dataset's own record of its past, not an importer's claim, so it takes
no back-dating permission (docs/importing.md, *Knowledge time*). Without the
column, or with the cell empty, the report is known from the import's instant,
as before. A timestamp after the import began is refused (nothing is known
before it is recorded, and lowering it would claim knowledge the data does not
give); one before the event's day is raised to the start of that day (a row
cannot be known before it happened; raising it only ever makes it known later,
and the event itself is not in doubt); one that is not whole seconds is refused.

Kept as well, when the file has them (docs/importing.md, *What is kept*): `interaction` (the
types of both actors, which a rule may read: `rule.interactions`), `source` (the outlets ACLED
drew on, kept as `original_source`: the report's own `source` is ACLED), `source_scale`,
`latitude`, `longitude` and `geo_precision`.

Grades: a new row takes the source's reliability and a credibility of 2, the dataset's default,
marked as such (`credibility_graded` off) until an analyst grades it in the admin.
"""

from datetime import UTC, datetime
from functools import lru_cache

from django.utils import timezone

from monitor.evidence import models as ev

from . import fields
from .problems import Problem
from .text import csv_header, csv_records, csv_rows, parse_date, require_columns, start_of_day, text_lines

ALL_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude", "geo_precision",
    "source", "source_scale", "notes", "fatalities", "tags", "timestamp",
)
REQUIRED = (
    "event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type", "actor1", "actor2",
    "country", "admin1", "location", "notes", "fatalities",
)
EVENT_TYPES = (
    "Battles",
    "Explosions/Remote violence",
    "Violence against civilians",
    "Protests",
    "Riots",
    "Strategic developments",
)
PRECISIONS = {"1": ev.PRECISION_DAY, "2": ev.PRECISION_WEEK, "3": ev.PRECISION_MONTH}

# A row sets only what ACLED says (what, when, where, who, fatalities), so a re-import updates those and
# leaves credibility, visibility, verification and links, which are the analysts', as they are.
# A claimed ACLED row is "probably true" (2): with ACLED's usual B it counts until someone disputes it.
# Not graded by anyone: the admin and the public pages say "dataset default" until an analyst grades it.
CREATE_DEFAULTS = {"credibility": 2, "credibility_graded": False, "stance": ev.AFFIRMS, "visibility": ev.PUBLIC}


# The column that says when a row entered ACLED's dataset (Unix seconds, UTC): the report's knowledge time.
TIMESTAMP = "timestamp"

# What a checked row holds, in this order: one tuple per row, no dict, so that a million rows cost little.
# `recorded_at` is None when the row has no timestamp: the writer gives it the import's instant.
FIELDS = (
    "source_id", "source_ref", "occurred_at", "precision", "category", "sub_category", "actor1", "actor2",
    "country", "admin1", "location", "fatalities", "summary", "recorded_at",
    "interaction", "original_source", "source_scale", "latitude", "longitude", "geo_precision",
)
# Columns kept when present (older exports may lack some): (column, the report's field, the longest it holds).
KEPT = (("interaction", "interaction", 100), ("source", "original_source", 10000), ("source_scale", "source_scale", 100))
GEO_PRECISIONS = {"1": 1, "2": 2, "3": 3}
# Text columns checked for length only: (column, the longest value the report's field holds).
TEXTS = (
    ("sub_event_type", 100), ("actor1", 300), ("actor2", 300), ("country", 100), ("admin1", 200),
    ("location", 200),
)
KNOWN_EVENT_TYPES = frozenset(EVENT_TYPES)
# A year of daily events has a few hundred distinct dates: each is parsed and placed in the zone once.
DISTINCT_DATES = 1 << 14


class AcledReader:
    fields = FIELDS
    # Its `recorded_at` is the dataset's timestamp, not a hand-made back-date (importing.writer, run.writer_for).
    dataset_knowledge_time = True

    def __init__(self, *, source_id, tz, attribution):
        self.source_id = source_id
        self.tz = tz
        self.attribution = attribution
        self.create_defaults = CREATE_DEFAULTS
        self.now = timezone.now()
        self.start_of_day = lru_cache(maxsize=DISTINCT_DATES)(self._start_of_day)

    def _start_of_day(self, text):
        """An event_date cell as the start of that day in the import's zone, within a report's bounds."""
        instant = start_of_day(parse_date(text), self.tz)
        problem = ev.report_date_problems(occurred_at=instant, now=self.now).get("occurred_at")
        if problem:
            raise ValueError(problem)
        return instant

    def rows(self, lines):
        """(line, values or None, problems) for each row of a file's raw lines (a text.LineReader).

        `values` is a tuple of FIELDS. A line or a row longer than `lines.limit` stops the file.
        """
        records = csv_records(text_lines(lines), lines.limit)
        header_line, header = csv_header(records)
        require_columns(header, REQUIRED, header_line)
        at = {name: header.index(name) for name in REQUIRED}
        self.at_ref, self.at_date, self.at_precision, self.at_type, self.at_notes, self.at_fatalities = (
            at[c] for c in ("event_id_cnty", "event_date", "time_precision", "event_type", "notes", "fatalities")
        )
        self.at_texts = tuple((column, at[column], longest) for column, longest in TEXTS)
        self.at_timestamp = header.index(TIMESTAMP) if TIMESTAMP in header else None
        self.at_kept = tuple((column, header.index(column), longest) for column, _f, longest in KEPT if column in header)
        self.at_coordinates = tuple(
            (column, header.index(column), bound) for column, bound in (("latitude", 90), ("longitude", 180))
            if column in header
        )
        self.at_geo_precision = header.index("geo_precision") if "geo_precision" in header else None
        yield from csv_rows(records, header, header_line, self.row)

    def row(self, line, record):
        """Every check of every cell, with a fast path for the usual values and the full parsers for the rest."""
        problems = []
        ref = record[self.at_ref].strip()
        if not ref:
            problems.append(Problem(line, "event_id_cnty", "is required"))
        elif len(ref) > 100:
            problems.append(Problem(line, "event_id_cnty", f"is {len(ref)} characters long; the most is 100"))
        try:
            occurred_at = self.start_of_day(record[self.at_date])
        except ValueError as e:
            problems.append(Problem(line, "event_date", str(e)))
        cell = record[self.at_precision]
        precision = PRECISIONS.get(cell)
        if precision is None:
            try:
                precision = _precision(cell)
            except ValueError as e:
                problems.append(Problem(line, "time_precision", str(e)))
        category = record[self.at_type]
        if category not in KNOWN_EVENT_TYPES:
            try:
                category = _event_type(category)
            except ValueError as e:
                problems.append(Problem(line, "event_type", str(e)))
        texts = []
        for column, at, longest in self.at_texts:
            value = record[at].strip()
            if len(value) > longest:
                problems.append(Problem(line, column, f"is {len(value)} characters long; the most is {longest}"))
            texts.append(value)
        cell = record[self.at_fatalities]
        if cell.isascii() and cell.isdigit():
            fatalities = int(cell)
        else:
            try:
                fatalities = fields.whole_number(cell)
            except ValueError as e:
                problems.append(Problem(line, "fatalities", str(e)))
        recorded_at = None
        if self.at_timestamp is not None:
            cell = record[self.at_timestamp].strip()
            if cell:
                try:
                    recorded_at = self._known_at(cell)
                except ValueError as e:
                    problems.append(Problem(line, TIMESTAMP, str(e)))
        kept = {"interaction": "", "source": "", "source_scale": ""}
        for column, at, longest in self.at_kept:
            value = record[at].strip()
            if len(value) > longest:
                problems.append(Problem(line, column, f"is {len(value)} characters long; the most is {longest}"))
            kept[column] = value
        place = {"latitude": None, "longitude": None}
        for column, at, bound in self.at_coordinates:
            try:
                value = fields.number(record[at])
            except ValueError as e:
                problems.append(Problem(line, column, str(e)))
                continue
            if value is not None and not -bound <= value <= bound:
                problems.append(Problem(line, column, f"must be between -{bound} and {bound}, got {value:g}"))
            place[column] = value
        geo_precision = None
        if self.at_geo_precision is not None:
            cell = record[self.at_geo_precision].strip()
            if cell:
                geo_precision = GEO_PRECISIONS.get(cell)
                if geo_precision is None:
                    problems.append(Problem(line, "geo_precision", f"must be 1, 2 or 3, got “{cell}”"))
        if problems:
            return line, None, problems
        if recorded_at is not None:
            # Not known before the event's day began (nor, for an event dated up to a day ahead, after now).
            recorded_at = max(recorded_at, min(occurred_at, self.now))
        sub_category, actor1, actor2, country, admin1, location = texts
        summary = record[self.at_notes].strip() or _fallback_summary(sub_category, category, location, admin1, country)
        self.attribution.actor(actor1, actor2)
        admin1 = self.attribution.place(admin1)
        location = self.attribution.place(location)
        return line, (
            self.source_id, ref, occurred_at, precision, category, sub_category, actor1, actor2, country, admin1,
            location, fatalities, summary, recorded_at, kept["interaction"], kept["source"], kept["source_scale"],
            place["latitude"], place["longitude"], geo_precision,
        ), []

    def _known_at(self, cell):
        """A timestamp cell as an instant: whole seconds since 1970 (UTC), not after the import began."""
        try:
            seconds = int(cell) if cell.isascii() and cell.isdigit() else fields.whole_number(cell)
            instant = datetime.fromtimestamp(seconds, UTC)
        except (ValueError, OverflowError, OSError):
            raise ValueError(
                f"must be a Unix time, whole seconds since 1 January 1970 UTC (such as 1583020800), got “{cell}”"
            ) from None
        if instant > self.now:
            began = self.now.astimezone(UTC)
            raise ValueError(
                f"is {instant:%Y-%m-%d %H:%M} UTC, after this import began ({began:%Y-%m-%d %H:%M} UTC): "
                "a row cannot be known before it is recorded"
            )
        return instant


def _precision(value):
    value = (value or "").strip()
    if not value:
        return ev.PRECISION_DAY
    if value not in PRECISIONS:
        raise ValueError(f"must be 1 (day), 2 (week) or 3 (month), got “{value}”")
    return PRECISIONS[value]


def _event_type(value):
    value = (value or "").strip()
    if value not in EVENT_TYPES:
        raise ValueError(f"unknown event type “{value}” (ACLED's are: {', '.join(EVENT_TYPES)})")
    return value


def _fallback_summary(sub_category, category, location, admin1, country):
    what = sub_category or category
    where = location or admin1 or country
    return f"{what} in {where}" if where else what

