"""The monitor's own report format, as CSV or as a JSON list (docs/report-format.md).

A CSV file's columns and a JSON object's keys have the same names. In CSV every
column in the header is the truth for every row, so an empty cell clears an
optional field; in JSON a key that is absent leaves the field as it is, and
null clears it. `source` + `source_ref` identify a report: importing a row with
the same pair again updates that report.
"""

from django.core.exceptions import ValidationError
from django.utils import timezone

from monitor.evidence import models as ev

from . import fields
from .exports import FORMULA_STARTS
from .lookups import folded
from .problems import FileProblem, Problem
from .text import csv_header, csv_records, csv_rows, json_objects, parse_instant, require_columns, text_lines

REQUIRED = ("source_ref", "category", "summary", "occurred_at")
OPTIONAL = (
    "source", "sub_category", "stance", "occurred_until", "precision", "recorded_at", "value",
    "country", "admin1", "location", "actor1", "actor2", "fatalities", "url", "credibility", "visibility",
    "commitment",
    # The source's own words when `summary` translates them, their language, and who translated (issue 14).
    "original_text", "original_language", "translation",
    # Whether the credibility is someone's grade or a dataset's default, and what an event dataset says of its
    # own row (ACLED's codebook): written by the export, so that an exported file imports back unchanged.
    "credibility_graded", "interaction", "original_source", "source_scale", "latitude", "longitude",
    "geo_precision",
)
# Columns the export adds that describe the monitor's own state; an exported file imports without them.
IGNORED = ("id", "entered_at", "verification", "grade")
COLUMNS = REQUIRED + OPTIONAL
# Set when a report is first recorded, never by a re-import: knowledge of the past does not change. Only
# those who may back-date set it (a new report's row with it is refused otherwise: importing.writer).
CREATE_ONLY = ("recorded_at",)


class NativeReader:
    def __init__(self, *, lookups, source_id, tz, attribution, json=False):
        self.lookups = lookups
        self.source_id = source_id
        self.tz = tz
        self.attribution = attribution
        self.json = json
        self.create_defaults = {}
        self.now = timezone.now()

    def rows(self, lines):
        """Like AcledReader.rows; a JSON file may put many reports on a line, and is held to the limit per report."""
        if self.json:
            return self._json_rows(text_lines(lines, split=True), lines.limit)
        return self._csv_rows(text_lines(lines), lines.limit)

    def _csv_rows(self, text, limit):
        records = csv_records(text, limit)
        header_line, header = csv_header(records, known=set(COLUMNS) | set(IGNORED))
        require_columns(header, REQUIRED + (() if self.source_id else ("source",)), header_line)
        yield from csv_rows(
            records, header, header_line,
            lambda line, record: self.row(
                line, {h: _unneutralised(v) for h, v in zip(header, record) if h not in IGNORED}
            ),
        )

    def _json_rows(self, text, limit):
        any_row = False
        for line, obj in json_objects(text, limit=limit):
            any_row = True
            if not isinstance(obj, dict):
                yield line, None, [Problem(line, "", "each element of the list must be a report object")]
                continue
            unknown = [k for k in obj if k not in COLUMNS and k not in IGNORED]
            if unknown:
                yield line, None, [Problem(line, k, "unknown key") for k in unknown]
                continue
            missing = [k for k in REQUIRED if k not in obj]
            if missing:
                yield line, None, [Problem(line, k, "is required") for k in missing]
                continue
            cells = {}
            for k, v in obj.items():
                if k in IGNORED:
                    continue
                if v is not None and not isinstance(v, (str, int, float)):
                    yield line, None, [Problem(line, k, "must be text or a number")]
                    break
                cells[k] = v
            else:
                yield self.row(line, cells)
        if not any_row:
            raise FileProblem("the list holds no reports.")

    def row(self, line, cells):
        problems = []
        values = {}

        def take(column, parse):
            if column not in cells:
                return None
            raw = cells[column]
            try:
                values[column] = parse("" if raw is None else raw)
            except ValueError as e:
                problems.append(Problem(line, column, str(e)))
            return values.get(column)

        take("source_ref", lambda v: fields.text(str(v), 100, required=True))
        take("category", lambda v: fields.text(str(v), 100, required=True))
        take("summary", lambda v: fields.text(str(v), required=True))
        take("sub_category", lambda v: fields.text(str(v), 100))
        take("stance", lambda v: fields.choice(str(v), ev.STANCES, default=ev.AFFIRMS))
        occurred = take("occurred_at", self._required_instant)
        take("occurred_until", self._optional_instant)
        take("recorded_at", self._optional_instant)
        take("precision", lambda v: fields.choice(str(v), ev.PRECISIONS, default="-"))
        take("value", fields.number)
        take("country", lambda v: fields.text(str(v), 100))
        take("admin1", lambda v: fields.text(str(v), 200))
        take("location", lambda v: fields.text(str(v), 200))
        take("actor1", lambda v: fields.text(str(v), 300))
        take("actor2", lambda v: fields.text(str(v), 300))
        take("fatalities", fields.whole_number)
        take("url", lambda v: fields.url(str(v)))
        take("credibility", lambda v: _credibility(v))
        take("visibility", lambda v: fields.choice(str(v), ev.VISIBILITIES, default=ev.PUBLIC))
        take("commitment", self._commitment)
        take("original_text", lambda v: fields.text(str(v)))
        take("original_language", _language)
        take("translation", lambda v: fields.choice(str(v), ev.TRANSLATIONS, default=""))
        take("credibility_graded", _yes_no)
        take("interaction", lambda v: fields.text(str(v), 100))
        take("original_source", lambda v: fields.text(str(v)))
        take("source_scale", lambda v: fields.text(str(v), 100))
        take("latitude", lambda v: _coordinate(v, 90))
        take("longitude", lambda v: _coordinate(v, 180))
        take("geo_precision", _geo_precision)
        source_id = take("source", self._source) or self.source_id
        if source_id is None and "source" not in [p.column for p in problems]:
            problems.append(Problem(line, "source", "is required (no source was chosen for the whole file)"))
        values["source_id"] = source_id
        values.pop("source", None)

        if occurred is not None:
            instant, date_only = occurred
            values["occurred_at"] = instant
            if values.get("precision") in (None, "-"):
                values["precision"] = ev.PRECISION_DAY if date_only else ev.PRECISION_MINUTE
        # One rule for a report's dates, whichever way it arrives (the admin and the API apply it too).
        dated = {f: values[f] for f in ev.DATE_FIELDS if values.get(f) is not None}
        for column, reason in ev.report_date_problems(now=self.now, **dated).items():
            problems.append(Problem(line, column, reason))
        until, since = values.get("occurred_until"), values.get("occurred_at")
        if until and since and until < since:
            problems.append(Problem(line, "occurred_until", "is before occurred_at"))
        # In the row itself: a translation, or an original text, names the language it is from.
        if (values.get("translation") or values.get("original_text")) and not values.get("original_language"):
            problems.append(Problem(line, "original_language", "is required with translation or original_text: "
                                                                  "the language the source wrote in"))
        if values.get("recorded_at", False) is None:
            del values["recorded_at"]  # empty: recorded when it is written, as without the column
        if "commitment" in values:
            values["commitment_id"] = values.pop("commitment")
        if problems:
            return line, None, problems
        if "actor1" in values or "actor2" in values:
            self.attribution.actor(values.get("actor1", ""), values.get("actor2", ""))
        for place in ("admin1", "location"):
            if place in values:
                values[place] = self.attribution.place(values[place])
        return line, values, []

    def _required_instant(self, value):
        value = str(value).strip()
        if not value:
            raise ValueError("is required")
        return parse_instant(value, self.tz)

    def _optional_instant(self, value):
        value = str(value).strip()
        return parse_instant(value, self.tz)[0] if value else None

    def _source(self, value):
        value = str(value).strip()
        if not value:
            return None
        source_id = self.lookups.sources.get(folded(value))
        if source_id is None:
            raise ValueError(f"no source named “{value}”: add it in the admin first")
        return source_id

    def _commitment(self, value):
        value = str(value).strip()
        if not value:
            return None
        commitment_id = self.lookups.commitments.get(value)
        if commitment_id is None:
            raise ValueError(f"no commitment “{value}” (write agreement-slug/commitment-key)")
        return commitment_id


def _unneutralised(cell):
    """Undo the apostrophe our CSV export puts before a would-be formula, so an export imports unchanged."""
    if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _language(value):
    value = str(value).strip()
    try:
        ev.validate_language_tag(value)
    except ValidationError:
        raise ValueError(f"“{value}” is not a BCP 47 language tag (such as ps, prs, fa-AF, ar, en)") from None
    return value


def _yes_no(value):
    """`true`/`false` (JSON's booleans, or the words the CSV export writes; also yes/no, 1/0); empty: true."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("", "true", "yes", "1"):
        return True
    if word in ("false", "no", "0"):
        return False
    raise ValueError(f"must be true or false, got “{value}”")


def _coordinate(value, bound):
    number = fields.number(value)
    if number is not None and not -bound <= number <= bound:
        raise ValueError(f"must be between -{bound} and {bound}, got “{value}”")
    return number


def _geo_precision(value):
    return fields.whole_number(value, minimum=1, maximum=3)  # 1 the place itself … 3 a region's capital


def _credibility(value):
    number = fields.whole_number(value, minimum=1, maximum=6)
    return 6 if number is None else number
