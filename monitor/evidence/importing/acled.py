"""ACLED's standard CSV export: one event per row, 31 columns (the importer reads 12 of them).

Both layouts ACLED has published have 31 columns (the current one starts
event_id_cnty, event_date, year, time_precision, disorder_type, …; the older
one data_id, iso, event_id_cnty, …); the columns read here are in both, and the
others are ignored. `event_id_cnty` is the event's stable id: re-importing a
file updates the rows with the same id from the same source.
"""

from monitor.evidence import models as ev
from terms.rules import day_start

from . import fields
from .problems import FileProblem, Problem
from .text import csv_header, csv_records, parse_date, require_columns, text_lines

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
CREATE_DEFAULTS = {"credibility": 2, "stance": ev.AFFIRMS, "visibility": ev.PUBLIC}


class AcledReader:
    def __init__(self, *, source_id, tz, attribution):
        self.source_id = source_id
        self.tz = tz
        self.attribution = attribution
        self.create_defaults = CREATE_DEFAULTS

    def rows(self, lines):
        """(line, values or None, problems) for each row of a file's raw lines (a text.LineReader)."""
        records = csv_records(text_lines(lines))
        header_line, header = csv_header(records)
        require_columns(header, REQUIRED, header_line)
        at = {name: header.index(name) for name in REQUIRED}
        width = len(header)
        any_row = False
        for line, record in records:
            any_row = True
            if len(record) != width:
                yield line, None, [Problem(line, "", f"{len(record)} values, but the header has {width} columns")]
                continue
            yield self.row(line, {name: record[i] for name, i in at.items()})
        if not any_row:
            raise FileProblem("the file has a header but no rows.", header_line)

    def row(self, line, cells):
        problems = []
        values = {"source_id": self.source_id}

        def take(column, parse):
            try:
                return parse(cells[column])
            except ValueError as e:
                problems.append(Problem(line, column, str(e)))
                return None

        values["source_ref"] = take("event_id_cnty", lambda v: fields.text(v, 100, required=True))
        day = take("event_date", parse_date)
        if day is not None:
            values["occurred_at"] = day_start(day, self.tz)
        values["precision"] = take("time_precision", _precision)
        values["category"] = take("event_type", _event_type)
        values["sub_category"] = take("sub_event_type", lambda v: fields.text(v, 100))
        values["actor1"] = take("actor1", lambda v: fields.text(v, 300))
        values["actor2"] = take("actor2", lambda v: fields.text(v, 300))
        values["country"] = take("country", lambda v: fields.text(v, 100))
        values["admin1"] = take("admin1", lambda v: fields.text(v, 200))
        values["location"] = take("location", lambda v: fields.text(v, 200))
        values["fatalities"] = take("fatalities", fields.whole_number)
        notes = take("notes", fields.text)
        if problems:
            return line, None, problems
        values["summary"] = notes or _fallback_summary(values)
        self.attribution.actor(values["actor1"])
        values["admin1"] = self.attribution.place(values["admin1"])
        values["location"] = self.attribution.place(values["location"])
        return line, values, []


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


def _fallback_summary(values):
    what = values["sub_category"] or values["category"]
    where = values["location"] or values["admin1"] or values["country"]
    return f"{what} in {where}" if where else what

