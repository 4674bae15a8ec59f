"""Report entry that fits a monitor's work (issue 15): ACLED as a ready source, shipped place names,
the report form's category list, grades and local dates, source grades, import preview, save message."""

import io
import importlib.util
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from monitor.evidence import models as ev

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)


def test_after_the_quick_starts_source_command_an_acled_file_imports_without_naming_a_source(tmp_path):
    out = io.StringIO()
    call_command("add_acled_source", stdout=out)
    assert "Created the source “ACLED”" in out.getvalue()
    path = tmp_path / "events.csv"
    path.write_text(make_acled.csv_text(2), encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", stdout=io.StringIO())
    acled = ev.Source.objects.get(name="ACLED")
    assert acled.reports.count() == 2
    assert (acled.reliability, acled.may_republish, acled.kind) == ("B", False, ev.EVENT_DATASET)
    assert "Battles" in acled.categories and "Strategic developments" in acled.categories
    assert acled.licence
    [period] = acled.coverage.all()
    assert (period.country, period.starts_on, period.ends_on) == ("Afghanistan", date(2017, 1, 1), None)


def test_the_acled_source_command_leaves_an_existing_acled_source_as_its_administrator_set_it():
    ev.Source.objects.create(name="acled", reliability="C", may_republish=False)
    out = io.StringIO()
    call_command("add_acled_source", stdout=out)
    call_command("add_acled_source", stdout=io.StringIO())
    assert "exists; left as it is" in out.getvalue()
    assert list(ev.Source.objects.values_list("name", "reliability")) == [("acled", "C")]
    assert not ev.Coverage.objects.exists()


def test_the_agreements_cities_ship_with_their_spelling_variants_and_an_import_respells_them(tmp_path):
    call_command("add_acled_source", stdout=io.StringIO())
    places = dict(ev.PlaceName.objects.values_list("name", "place"))
    assert places["Mazar-e Sharif"] == "Mazar-i-Sharif"
    assert places["Lashkargah"] == "Lashkar Gah"
    assert places["Qandahar"] == "Kandahar"
    assert places["Hirat"] == "Herat"
    assert places["Jalal Abad"] == "Jalalabad"
    assert places["Kondoz"] == "Kunduz"
    path = tmp_path / "events.csv"
    path.write_text(make_acled.csv_text(2, change={0: {"location": "Lashkargah"}, 1: {"location": "Qandahar"}}),
                    encoding="utf-8")
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", stdout=io.StringIO())
    assert set(ev.Report.objects.values_list("location", flat=True)) == {"Lashkar Gah", "Kandahar"}
