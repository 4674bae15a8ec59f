"""Judging everything, agreements that owe by the same parties are judged on one read of the reports
(monitor/alerts/sweep.py, `sharing`), each under its own lock, and record what their own sweeps would."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.alerts import models as am
from monitor.alerts.sweep import MAX_SHARING, run_sweep, sharing
from monitor.verdicts import inputs
from monitor.verdicts.models import StatusChange
from tests.factories import CoverageFactory, ReportFactory, SourceFactory
from tests.test_reading_one_agreement import load

pytestmark = pytest.mark.django_db

NOW = datetime(2020, 6, 1, tzinfo=UTC)
NORTH = dict(party="taliban", name="Taliban", alias="Islamic Emirate", country="Afghanistan",
             neighbour="Neighbour Forces", capital="Kabul")


@pytest.fixture
def agreements(tmp_path):
    first = load(tmp_path, slug="north-accord", title="North accord", **NORTH)
    second = load(tmp_path, slug="north-ceasefire", title="North ceasefire", **NORTH)
    south = load(tmp_path, slug="south-accord", title="South accord", party="eln", name="ELN",
                 alias="National Liberation Army", country="Colombia", neighbour="Border Army", capital="Bogota")
    source = SourceFactory(name="Dataset", reliability="A")
    CoverageFactory(source=source)
    for day, actor in ((3, "Taliban"), (3, "TALIBAN"), (4, "ELN"), (4, "ELN"), (5, "Unidentified Armed Group")):
        ReportFactory(category="Battles", actor1=actor, source=source, occurred_at=datetime(2020, 3, day, 8, tzinfo=UTC),
                      recorded_at=datetime(2020, 3, day, 9, tzinfo=UTC))
    ReportFactory(category="Ambush", actor1="", source=source, occurred_at=datetime(2020, 3, 7, 8, tzinfo=UTC),
                  recorded_at=datetime(2020, 3, 7, 9, tzinfo=UTC))
    return first, second, south


def test_agreements_owing_by_the_same_parties_are_grouped_and_others_stand_alone(agreements):
    first, second, south = agreements
    assert sharing([first.id, south.id, second.id]) == [[first.id, second.id], [south.id]]
    assert sharing([south.id]) == [[south.id]]


def test_a_group_never_grows_past_its_bound(tmp_path):
    ids = [load(tmp_path, slug=f"north-{i}", title=f"North {i}", **NORTH).id for i in range(MAX_SHARING + 2)]
    assert [len(g) for g in sharing(ids)] == [MAX_SHARING, 2]


def test_a_full_sweep_reads_reports_once_per_group_and_records_what_each_agreements_own_sweep_would(agreements):
    first, second, south = agreements
    expected = {s.commitment.id: s.computed.status for s in inputs.standings([first, second, south], as_of=NOW)}

    with CaptureQueriesContext(connection) as ctx:
        run = run_sweep(now=NOW, trigger=am.MANUAL)
    report_reads = [q for q in ctx.captured_queries
                    if 'FROM "evidence_report"' in q["sql"] and '"evidence_report"."occurred_until"' in q["sql"]]

    assert len(report_reads) == 2  # the north's two agreements on one read, the south on its own
    assert run.commitments_evaluated == 12
    recorded = {c.commitment_id: c.new_status for c in StatusChange.objects.filter(party=None)}
    assert recorded == expected
    # An ambush with no actor named: an unidentified one, which both northern agreements count.
    for agreement in (first, second):
        assert recorded[agreement.commitments.get(key="no-ambushes").id] == "breached"


def test_new_reports_are_judged_on_one_read_per_group_and_record_what_each_agreements_own_sweep_would(agreements):
    first, second, south = agreements
    run_sweep(now=NOW, trigger=am.MANUAL)
    source = SourceFactory(name="Dataset")
    later = datetime(2020, 6, 1, 0, 1, tzinfo=UTC)
    for actor in ("Taliban", "ELN"):
        ReportFactory(category="Battles", actor1=actor, source=source, occurred_at=datetime(2020, 5, 30, 8, tzinfo=UTC),
                      recorded_at=datetime(2020, 5, 31, 9, tzinfo=UTC))
    ReportFactory(category="Ambush", actor1="", source=source, occurred_at=datetime(2020, 5, 30, 9, tzinfo=UTC),
                  recorded_at=datetime(2020, 5, 31, 9, tzinfo=UTC))

    with CaptureQueriesContext(connection) as ctx:
        run = run_sweep(now=later, trigger=am.BEAT)  # what the new reports marked, as beat's tick judges it
    report_reads = [q for q in ctx.captured_queries
                    if 'FROM "evidence_report"' in q["sql"] and '"evidence_report"."occurred_until"' in q["sql"]]

    assert run.commitments_evaluated > 0
    assert len(report_reads) == 2  # the north's two agreements on one read, the south on its own
    expected = {s.commitment.id: s.computed.status for s in inputs.standings([first, second, south], as_of=later)}
    latest = {}
    for change in StatusChange.objects.filter(party=None).order_by("id"):
        latest[change.commitment_id] = change.new_status
    assert latest == expected
