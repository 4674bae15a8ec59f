"""The monitor's own report format, as CSV and as JSON (docs/report-format.md)."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor.evidence import models as ev
from tests.factories import AgreementFactory, CommitmentFactory, SourceFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"


@pytest.fixture
def sources():
    return SourceFactory(name="Wire service", reliability="B"), SourceFactory(name="UN monitoring mission",
                                                                              reliability="A")


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_reports", str(path), "--format", "native", "--time-zone", "Asia/Kabul", *args,
                     stdout=out, stderr=err)
    except CommandError as e:
        return f"{out.getvalue()}{e}", err.getvalue()
    return out.getvalue(), err.getvalue()


def write(tmp_path, text, name="reports.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_in_the_report_format_imports_with_links_sources_and_quoted_multiline_text(sources):
    talks = CommitmentFactory(agreement=AgreementFactory(slug="us-taliban-2020"), key="talks-begin")
    out, err = run(DATA / "native-reports.csv")
    assert "imported. 3 rows: 3 new" in out, err
    talks_open = ev.Report.objects.get(source_ref="wire-001")
    assert talks_open.summary == 'Talks open in Doha, as planned; the "first round" lasts a week.'
    assert (talks_open.commitment, talks_open.credibility, talks_open.precision) == (talks, 1, ev.PRECISION_DAY)
    assert talks_open.occurred_at == datetime(2020, 9, 11, 19, 30, tzinfo=UTC)
    finding = ev.Report.objects.get(source_ref="un-001")
    assert finding.source == sources[1] and finding.visibility == ev.RESTRICTED
    assert finding.summary.endswith("\nSecond paragraph of the finding.")
    assert (finding.occurred_at, finding.precision) == (datetime(2020, 5, 27, 5, 0, tzinfo=UTC), ev.PRECISION_MINUTE)
    assert ev.Report.objects.get(source_ref="wire-002").occurred_at == datetime(2020, 3, 9, 19, 30, tzinfo=UTC)


def test_a_json_list_in_the_report_format_imports_and_a_reimport_leaves_absent_keys_alone(sources, tmp_path):
    out, _ = run(DATA / "native-reports.json")
    assert "imported. 2 rows: 2 new" in out
    level = ev.Report.objects.get(source_ref="wire-101")
    assert (level.value, level.category, level.credibility) == (8600.0, "us_troop_level", 1)
    denial = ev.Report.objects.get(source_ref="wire-102")
    assert (denial.stance, denial.visibility) == (ev.DENIES, ev.INTERNAL)
    revised = json.dumps([{"source": "Wire service", "source_ref": "wire-101", "category": "us_troop_level",
                           "summary": "US troop level reported at 8,500.", "occurred_at": "2020-07-14",
                           "value": 8500}])
    out, _ = run(write(tmp_path, revised, "revised.json"))
    assert "1 rows: 0 new, 1 updated" in out
    level.refresh_from_db()
    assert (level.value, level.summary, level.credibility) == (8500.0, "US troop level reported at 8,500.", 1)


def test_each_bad_row_is_named_with_its_line_and_column(sources, tmp_path):
    text = (
        "source,source_ref,category,summary,occurred_at,credibility,visibility,commitment,recorded_at\n"
        "Wire service,w1,talks,Fine.,2020-03-05,2,public,,\n"
        "Nobody,w2,talks,Unknown source.,2020-03-05,2,public,,\n"
        "Wire service,w3,talks,Too credible.,2020-03-05,9,public,,\n"
        "Wire service,w4,talks,Secret.,2020-03-05,2,secret,,\n"
        "Wire service,w5,talks,Linked to nothing.,2020-03-05,2,public,nowhere/nothing,\n"
        f"Wire service,w6,talks,From the future.,2020-03-05,2,public,,{(timezone.now() + timedelta(days=2)).date()}\n"
        "Wire service,,talks,No id.,2020-03-05,2,public,,\n"
    )
    out, err = run(write(tmp_path, text))
    assert "nothing imported. 7 rows: 1 new, 0 updated, 0 unchanged, 6 with problems." in out
    for problem in (
        "Line 3, column source: no source named “Nobody”: add it in the admin first",
        "Line 4, column credibility: must be 6 or less, got 9",
        "Line 5, column visibility: must be one of public, internal, restricted, got “secret”",
        "Line 6, column commitment: no commitment “nowhere/nothing” (write agreement-slug/commitment-key)",
        "Line 7, column recorded_at: is in the future: a report cannot be known before it is recorded",
        "Line 8, column source_ref: is required",
    ):
        assert f"reports.csv: {problem}" in err
    assert not ev.Report.objects.exists()


def test_an_unknown_column_stops_the_file_before_any_row(sources, tmp_path):
    out, err = run(write(tmp_path, "source,source_ref,category,summary,occurred_at,fatalaties\n"))
    assert "reports.csv: Line 1, column fatalaties: unknown column “fatalaties” (known columns:" in err
    assert not ev.Report.objects.exists()


def test_a_malformed_json_file_is_reported_at_the_line_where_it_breaks(sources, tmp_path):
    text = '[\n  {"source": "Wire service", "source_ref": "a", "category": "c", "summary": "s",\n' \
           '   "occurred_at": "2020-03-05"},\n  {"source": "Wire service", "source_ref": "b" "category": "c"}\n]\n'
    out, err = run(write(tmp_path, text, "broken.json"))
    assert "broken.json: Line 4: the JSON is malformed: Expecting ',' delimiter." in err
    assert "nothing imported" in out and not ev.Report.objects.exists()


def test_json_objects_with_unknown_or_missing_keys_are_bad_rows(sources, tmp_path):
    text = json.dumps([
        {"source": "Wire service", "source_ref": "a", "category": "c", "summary": "s", "occurred_at": "2020-03-05",
         "colour": "red"},
        {"source": "Wire service", "source_ref": "b", "category": "c", "occurred_at": "2020-03-05"},
        "not an object",
    ], indent=1)
    out, err = run(write(tmp_path, text, "odd.json"))
    assert "odd.json: Line 2, column colour: unknown key" in err
    assert "column summary: is required" in err
    assert "each element of the list must be a report object" in err
    assert not ev.Report.objects.exists()


@pytest.mark.parametrize("text, message", [
    ("[]", "odd.json: The list holds no reports."),
    ('{"format": 1, "items": []}', "odd.json: The JSON object has no “reports” list."),
    ('{"format": 1, "reports": [\n{"source_ref": "a"}\n]} trailing', "odd.json: Line 3: there is text after"),
    ("   \n", "odd.json: The file is empty."),
])
def test_json_files_that_hold_no_report_list_say_so(sources, tmp_path, text, message):
    out, err = run(write(tmp_path, text, "odd.json"))
    assert message in err and "nothing imported" in out
    assert not ev.Report.objects.exists()
