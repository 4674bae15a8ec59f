"""ACLED's coverage follows what was imported (issue 15): "zero events" only on days whose export we hold.

The quick start's ACLED source declares no coverage of its own; each ACLED file imported into it declares
the days from its first to its last event covered, as known from the import on. Any other day reads
"no data", not a quiet day with zero events.
"""

import importlib.util
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from monitor.evidence import models as ev
from tests.factories import AgreementFactory, CommitmentFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)


@pytest.fixture
def ceiling():
    """A ceiling on ACLED's event types from the signing (29 February 2020) on, never reached."""
    agreement = AgreementFactory(slug="calm", publish_computed_verdicts=True)
    return CommitmentFactory(agreement=agreement, key="calm", kind="ceiling", due_offset=None, ends_offset=None,
                             rule={"categories": sorted({t for t, _s in make_acled.TYPES}),
                                   "limit": 1000, "attribution": "any"})


def daily(client, ceiling, as_of, known_at=None):
    """{day: events that day, or None for a day no source covers} as the API's chart data gives them."""
    params = {"as_of": as_of, "known_at": known_at or as_of}
    answer = client.get(reverse("api:commitment-detail", kwargs={"agreement": "calm", "key": ceiling.key}), params)
    assert answer.status_code == 200, answer.content
    return {date.fromisoformat(day): count for day, count in answer.json()["verdict"]["details"]["daily"]}


def import_march_2020(tmp_path):
    """An export of one event a day from 1 to 31 March 2020, but none on 15 March."""
    path = tmp_path / "march-2020.csv"
    path.write_text(make_acled.csv_text(31, change={14: {"event_date": "2020-03-14"}}), encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul",
                 stdout=io.StringIO())


def test_before_any_import_a_2024_day_reads_no_data_not_zero_events(client, ceiling):
    call_command("add_acled_source", stdout=io.StringIO())
    acled = ev.Source.objects.get(name="ACLED")
    assert acled.coverage_from_imports and not acled.coverage.exists()
    assert daily(client, ceiling, "2024-06-30")[date(2024, 6, 15)] is None


def test_an_imported_month_is_covered_and_the_month_after_it_is_not(client, ceiling, tmp_path):
    call_command("add_acled_source", stdout=io.StringIO())
    before = timezone.now()
    import_march_2020(tmp_path)

    days = daily(client, ceiling, "2020-04-30", known_at=timezone.now().isoformat())
    assert days[date(2020, 3, 14)] >= 1
    assert days[date(2020, 3, 15)] == 0  # inside the export, no event: a quiet day
    assert days[date(2020, 4, 15)] is None  # after its last day: nothing is known
    [period] = ev.Coverage.objects.filter(source__name="ACLED")
    assert (period.starts_on, period.ends_on, period.country, period.admin1) == (
        date(2020, 3, 1), date(2020, 3, 31), "Afghanistan", "")

    # As known before the import, March was not covered: its quiet day was no data then.
    earlier = daily(client, ceiling, "2020-04-30", known_at=before.isoformat())
    assert earlier[date(2020, 3, 15)] is None


def test_a_second_export_adds_its_own_period_and_leaves_the_first_as_it_was(client, ceiling, tmp_path):
    call_command("add_acled_source", stdout=io.StringIO())
    import_march_2020(tmp_path)
    first = ev.Coverage.objects.get()
    path = tmp_path / "june-2020.csv"
    rows = make_acled.csv_text(1, change={0: {"event_id_cnty": "AFG9000001", "event_date": "2020-06-02"}})
    path.write_text(rows, encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", stdout=io.StringIO())

    periods = list(ev.Coverage.objects.order_by("recorded_at").values_list("starts_on", "ends_on"))
    assert periods == [(date(2020, 3, 1), date(2020, 3, 31)), (date(2020, 6, 2), date(2020, 6, 2))]
    assert ev.Coverage.objects.get(pk=first.pk).recorded_at == first.recorded_at
    days = daily(client, ceiling, "2020-06-30", known_at=timezone.now().isoformat())
    assert days[date(2020, 5, 15)] is None  # between the two exports: not held


def test_a_source_whose_coverage_is_declared_by_hand_gains_no_period_from_an_import(tmp_path):
    ev.Source.objects.create(name="ACLED", reliability="B", may_republish=False)
    import_march_2020(tmp_path)
    assert ev.Report.objects.count() == 31
    assert not ev.Coverage.objects.exists()
