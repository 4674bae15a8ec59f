"""Importing ACLED's standard export with `manage.py import_reports --format acled`."""

import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from monitor.alerts import triggers
from monitor.evidence import models as ev
from monitor.evidence.importing import staging
from terms.models import PartyName
from tests.factories import PartyFactory, SourceFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "import"
_spec = importlib.util.spec_from_file_location("make_acled", DATA / "make_acled.py")
make_acled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_acled)


@pytest.fixture
def acled():
    return SourceFactory(name="ACLED", kind=ev.EVENT_DATASET, reliability="B", may_republish=False)


@pytest.fixture
def reevaluated(monkeypatch):
    """The report ids handed to re-evaluation, and whether that happened inside the import's transaction."""
    calls = []
    monkeypatch.setattr(triggers, "reports_changed",
                        lambda ids: calls.append((sorted(ids), connection.in_atomic_block)))
    return calls


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_reports", str(path), "--format", "acled", "--time-zone", "Asia/Kabul", *args,
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text, name="events.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_an_acled_export_with_a_bom_and_multiline_quoted_notes_imports_every_row(acled, reevaluated):
    out, _err = run(DATA / "acled-6-rows-bom.csv")
    assert "imported. 6 rows: 6 new, 0 updated, 0 unchanged, 0 with problems." in out
    first = ev.Report.objects.get(source_ref="AFG0000001")
    # "1 March 2020", time_precision 2, and notes with a comma, doubled quotes and a line break.
    assert first.occurred_at == datetime(2020, 2, 29, 19, 30, tzinfo=UTC)  # midnight in Kabul
    assert first.precision == ev.PRECISION_WEEK
    assert first.summary.startswith('On 1 March 2020, an "incident" in Jalalabad, Nangarhar:')
    assert first.summary.endswith("\nA second paragraph, with a comma, follows.")
    assert (first.category, first.sub_category, first.fatalities) == (
        "Explosions/Remote violence", "Remote explosive/landmine/IED", 5)
    second = ev.Report.objects.get(source_ref="AFG0000002")  # written "2020-03-02"
    assert second.occurred_at == datetime(2020, 3, 1, 19, 30, tzinfo=UTC)
    assert (first.arrived_via, first.import_file, first.import_line) == (ev.ARRIVED_IMPORT, "acled-6-rows-bom.csv", 2)
    assert second.import_line == 4  # the first row's notes took two lines
    # No history row: the import job is the audit of what it wrote (who, when, the kept file, the line).
    assert not ev.Report.history.exists()
    assert first.import_job == ev.ImportJob.objects.get(file_name="acled-6-rows-bom.csv")
    # Re-evaluation of what these rows can affect is queued from inside the import's transaction.
    assert reevaluated == [(sorted(ev.Report.objects.values_list("pk", flat=True)), True)]


def test_rows_are_attributed_to_parties_through_their_known_names_and_places_through_their_variants(
    acled, tmp_path
):
    taliban = PartyFactory(name="Taliban", slug="taliban")
    PartyName.objects.create(party=taliban, name="Islamic Emirate of Afghanistan")
    ev.PlaceName.objects.get_or_create(name="Mazar-e Sharif", defaults={"place": "Mazar-i-Sharif"})  # also shipped
    text = make_acled.csv_text(3, change={
        0: {"actor1": "Taliban", "location": "Kabul"},
        1: {"actor1": "ISLAMIC EMIRATE of Afghanistan", "location": "Mazar-e-Sharif"},
        2: {"actor1": "Unidentified Armed Group (Afghanistan)", "location": "Herat"},
    })
    out, _err = run(write(tmp_path, text))
    assert "Rows by party: taliban: 2; not attributed to a party: 1." in out
    assert "Place names respelled through known variants: 1." in out
    assert ev.Report.objects.get(source_ref="AFG0000002").location == "Mazar-i-Sharif"


def test_the_preview_attributes_a_row_to_every_party_it_names_as_either_actor_as_rules_read_them(acled, tmp_path):
    PartyFactory(name="Taliban", slug="taliban")
    PartyFactory(name="United States", slug="united-states")
    text = make_acled.csv_text(3, change={
        0: {"actor1": "Military Forces of Afghanistan", "actor2": "Taliban"},  # the party as actor 2
        1: {"actor1": "Taliban", "actor2": "United States"},  # a battle between the two parties: once for each
        2: {"actor1": "Unidentified Armed Group (Afghanistan)", "actor2": ""},
    })
    out, _err = run(write(tmp_path, text))
    assert "Rows by party: taliban: 2, united-states: 1; not attributed to a party: 1." in out


def test_reimporting_a_file_updates_rows_by_event_id_and_never_duplicates_them(acled, tmp_path, reevaluated):
    run(write(tmp_path, make_acled.csv_text(4)))
    original = ev.Report.objects.get(source_ref="AFG0000003")
    original.set_verification(ev.VERIFIED, reason="Checked.")
    revised = make_acled.csv_text(5, change={2: {"fatalities": "7", "notes": "Revised: seven killed."}})
    out, _err = run(write(tmp_path, revised, name="events-revised.csv"))
    assert "5 rows: 1 new, 1 updated, 3 unchanged, 0 with problems." in out
    assert ev.Report.objects.count() == 5
    report = ev.Report.objects.get(source_ref="AFG0000003")
    assert (report.pk, report.fatalities, report.summary) == (original.pk, 7, "Revised: seven killed.")
    # Four eyes: what was verified is not what the report says any more (tests/test_four_eyes.py).
    assert report.verification == ev.CLAIMED
    assert (report.import_file, report.recorded_at) == ("events-revised.csv", original.recorded_at)
    assert [h.history_type for h in report.history.order_by("history_date")] == ["+", "~"]
    # Only rows that are new or changed are handed to re-evaluation.
    assert reevaluated[-1] == (sorted([report.pk, ev.Report.objects.get(source_ref="AFG0000005").pk]), True)


def test_bad_rows_can_be_skipped_and_each_is_still_reported(acled, tmp_path):
    text = make_acled.csv_text(4, change={1: {"event_date": "31 February 2020"}, 3: {"fatalities": "-2"}})
    out, err = run(write(tmp_path, text), "--skip-invalid")
    assert "4 rows: 2 new, 0 updated, 0 unchanged, 2 with problems." in out
    assert "events.csv: Line 4, column event_date: there is no such day as “31 February 2020”" in err
    assert "events.csv: Line 6, column fatalities: must be 0 or more, got -2" in err
    assert sorted(ev.Report.objects.values_list("source_ref", flat=True)) == ["AFG0000001", "AFG0000003"]


def one_line_rows(n, change=None):
    """An export whose row i is on line i + 2 (no notes over two lines), with `change` applied."""
    change = change or {}
    return make_acled.csv_text(n, change={i: {"notes": f"Event {i + 1}.", **change.get(i, {})} for i in range(n)})


def test_an_id_repeated_batches_later_is_reported_with_its_first_line_and_not_written(acled, tmp_path, settings):
    settings.MONITOR_IMPORT_BATCH_SIZE = 2
    text = one_line_rows(5, change={4: {"event_id_cnty": "AFG0000001", "fatalities": "99"}})
    out, err = run(write(tmp_path, text), "--skip-invalid")
    assert "5 rows: 4 new, 0 updated, 0 unchanged, 1 with problems." in out
    assert "Line 6, column event_id_cnty: the id “AFG0000001” appears twice in this file (first on line 2)" in err
    assert ev.Report.objects.get(source_ref="AFG0000001").fatalities != 99


def test_on_reimport_an_id_repeated_batches_later_is_a_duplicate_whether_its_report_changed_or_not(
    acled, tmp_path, settings
):
    settings.MONITOR_IMPORT_BATCH_SIZE = 2
    run(write(tmp_path, one_line_rows(3)))
    # Rows: 1 unchanged, 2 changed, 3 unchanged, 4 new; then 1, 2 and 4 again, each in a later batch.
    revised = one_line_rows(7, change={
        1: {"notes": "Event 2, revised."},
        4: {"event_id_cnty": "AFG0000001", "notes": "Again."},
        5: {"event_id_cnty": "AFG0000002", "notes": "Again."},
        6: {"event_id_cnty": "AFG0000004", "notes": "Again."},
    })
    out, err = run(write(tmp_path, revised, name="revised.csv"), "--skip-invalid")
    assert "7 rows: 1 new, 1 updated, 2 unchanged, 3 with problems." in out
    for line, ref, first in ((6, "AFG0000001", 2), (7, "AFG0000002", 3), (8, "AFG0000004", 5)):
        assert f"Line {line}, column event_id_cnty: the id “{ref}” appears twice in this file (first on line {first})" \
            in err
    assert not ev.Report.objects.filter(summary="Again.").exists()
    assert ev.Report.objects.get(source_ref="AFG0000002").summary == "Event 2, revised."


def test_a_file_that_breaks_after_batches_were_written_imports_nothing(acled, tmp_path, settings):
    settings.MONITOR_IMPORT_BATCH_SIZE = 2
    threads = threading.active_count()
    text = one_line_rows(7) + 'AFG0000099,"2020-03-09,2020\n'  # an unclosed quote on line 9
    with pytest.raises(CommandError, match="nothing imported"):
        run(write(tmp_path, text))
    assert not ev.Report.objects.exists() and not ev.Report.history.exists()
    assert threading.active_count() == threads  # the writing thread is gone


def test_an_error_while_writing_a_batch_stops_the_import_and_writes_nothing(acled, tmp_path, settings, monkeypatch):
    settings.MONITOR_IMPORT_BATCH_SIZE = 2
    threads = threading.active_count()
    write_batch = staging.StagingWriter._write
    batches = []

    def failing_second_batch(writer, rows):
        batches.append(rows)
        if len(batches) == 2:
            raise DatabaseError("could not extend file: No space left on device")
        write_batch(writer, rows)

    monkeypatch.setattr(staging.StagingWriter, "_write", failing_second_batch)
    with pytest.raises(DatabaseError, match="No space left"):
        run(write(tmp_path, one_line_rows(9)))
    assert not ev.Report.objects.exists() and not ev.ImportJob.objects.exists()
    assert threading.active_count() == threads
    assert len(batches) == 2  # the batches after the failing one were not written


def test_after_an_import_foreign_keys_are_checked_at_commit_again(acled, tmp_path):
    # The importer checks them batch by batch while it writes; the rest of the transaction is as before.
    run(write(tmp_path, one_line_rows(2)))
    report = ev.Report.objects.first()
    with transaction.atomic():
        ev.Report.objects.filter(pk=report.pk).update(source_id=report.source_id + 1000)  # no such source, yet
        ev.Source.objects.create(pk=report.source_id + 1000, name="Added later in the transaction")


def test_a_dry_run_counts_what_it_would_do_and_writes_nothing(acled, tmp_path):
    out, _err = run(write(tmp_path, make_acled.csv_text(3)), "--dry-run")
    assert "checked, nothing written (dry run). 3 rows: 3 new" in out
    assert not ev.Report.objects.exists() and not ev.ImportJob.objects.exists()


def test_the_import_records_who_ran_it(acled, tmp_path, django_user_model):
    user = django_user_model.objects.create(username="amina")
    run(write(tmp_path, make_acled.csv_text(2)), "--user", "amina")
    assert set(ev.Report.objects.values_list("entered_by__username", flat=True)) == {"amina"}
    assert ev.ImportJob.objects.get().created_by == user
    assert set(ev.Report.objects.values_list("import_job__created_by__username", flat=True)) == {"amina"}


def test_queries_grow_with_batches_not_with_rows(acled, tmp_path, settings):
    settings.MONITOR_IMPORT_BATCH_SIZE = 50
    few, many = write(tmp_path, make_acled.csv_text(5), "few.csv"), write(tmp_path, make_acled.csv_text(45), "many.csv")
    with CaptureQueriesContext(connection) as small:
        run(few)
    ev.Report.objects.all().delete()
    with CaptureQueriesContext(connection) as large:
        run(many)
    assert len(large) == len(small)


def test_memory_stays_flat_whatever_the_number_of_rows():
    # In a process of its own, after a warm-up import, the peak of an import of 2,500 rows and of 25,000
    # (in batches of 200, so both are several batches). Nothing is committed: the child rolls back.
    # At least 2,000 rows in the smaller: CPython keeps up to 2,000 freed tuples of each length up to 20 for
    # reuse (a row's values are one; `gc.collect()` before each import empties that store), so an import of
    # fewer rows than that never fills it, and a larger one does: bounded, but not flat between the two.
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "MONITOR_IMPORT_BATCH_SIZE": "200",
    }
    small = 2500
    probe = subprocess.run([sys.executable, str(DATA / "import_memory.py"), str(small)], env=env,
                           capture_output=True, text=True, timeout=240)
    assert probe.returncode == 0, probe.stderr
    peaks = json.loads(probe.stdout.splitlines()[-1])
    # Ten times the rows may add the ids kept for re-evaluation (8 bytes a row, 176 KB here), and the batches in
    # flight (at most three, 200 rows each) weigh more or less at the peak as the writing thread keeps up or not:
    # 256 KB, about 11 bytes for each of the 22,500 rows more. Keeping the rows would add some 15 MB, keeping
    # a Python int per row some 850 KB.
    assert peaks["large"] < peaks["small"] + 8 * 9 * small + 256 * 1024, peaks
