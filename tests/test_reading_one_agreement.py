"""A sweep of one agreement reads its own parties' reports, not every conflict's (docs/architecture.md,
"Reading one agreement's reports"), and judges exactly as if it had read them all."""

from datetime import UTC, datetime

import pytest

from monitor.evidence.models import ReportName
from monitor.verdicts import inputs
from terms.agreement_file import load_agreement_file
from terms.models import Agreement
from tests.factories import CoverageFactory, ReportFactory, SourceFactory

pytestmark = pytest.mark.django_db

ACCORD = """\
format: 1
agreement:
  slug: {slug}
  title: {title}
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
  state: in_force
parties:
  - slug: {party}
    name: {name}
    names: [{alias}]
  - slug: {party}-government
    name: Government of {country}
non_party_actors:
  - slug: {party}-neighbour
    name: {neighbour}
    description: A neighbour's forces.
commitments:
  - key: few-battles
    title: No more than one battle a day
    owed_by: [{party}]
    basis: {{kind: official_text}}
    kind: ceiling
    rule: {{categories: [Battles], limit: 1}}
  - key: no-shelling-in-the-capital
    title: No shelling of the capital by anyone
    owed_by: [{party}]
    basis: {{kind: official_text}}
    kind: prohibition
    rule: {{categories: [Shelling], admin1: [{capital}], attribution: any}}
  - key: no-ambushes
    title: No ambushes by the party or unidentified groups
    owed_by: [{party}]
    basis: {{kind: official_text}}
    kind: prohibition
    rule: {{categories: [Ambush], attribution: owing_or_unidentified{ambush_where}}}
  - key: no-riots
    title: No riots
    owed_by: [{party}]
    basis: {{kind: official_text}}
    kind: prohibition
    rule: {{categories: [Riots]}}
"""

AS_OF = datetime(2020, 6, 1, tzinfo=UTC)


def load(tmp_path, **names):
    path = tmp_path / f"{names['slug']}.yaml"
    path.write_text(ACCORD.format(**{"ambush_where": "", **names}), encoding="utf-8")
    load_agreement_file(path)
    return Agreement.objects.get(slug=names["slug"])


@pytest.fixture
def two_conflicts(tmp_path):
    north = load(tmp_path, slug="north-accord", title="North accord", party="taliban", name="Taliban",
                 alias="Islamic Emirate", country="Afghanistan", neighbour="Neighbour Forces", capital="Kabul")
    south = load(tmp_path, slug="south-accord", title="South accord", party="eln", name="ELN",
                 alias="National Liberation Army", country="Colombia", neighbour="Border Army", capital="Bogota")
    source = SourceFactory(name="Dataset", reliability="A")
    CoverageFactory(source=source)

    def reported(category, actor1, day, actor2="", admin1=""):
        return ReportFactory(category=category, actor1=actor1, actor2=actor2, admin1=admin1, source=source,
                             occurred_at=datetime(2020, 3, day, 8, tzinfo=UTC),
                             recorded_at=datetime(2020, 3, day, 9, tzinfo=UTC)).id

    ids = {
        # The north's party, spelt as sources spell it: another case and accents, its alias, a joint side.
        "north": [
            reported("Battles", "TALIBAN", 3), reported("Battles", "Islamic  Emirate", 3),
            reported("Battles", "Government of Afghanistan; Taliban", 4),
            reported("Battles", "Military Forces of Somewhere", 5, actor2="Talibán"),
            reported("Battles", "Neighbour Forces", 6),  # a non-party's act: context
            reported("Ambush", "Unidentified Armed Group (Afghanistan)", 7),
            reported("Ambush", "", 8),  # no actor1: an unidentified one
            reported("Shelling", "Anyone at all", 9, admin1="KABUL"),  # counted whoever acted: in the capital
        ],
        "south": [
            reported("Battles", "ELN", 3), reported("Battles", "National Liberation Army", 3),
            reported("Riots", "Rioters (Colombia)", 10),  # the only Riots report anywhere
            reported("Shelling", "Anyone at all", 9, admin1="Bogota"),
        ],
    }
    return north, south, ids


def _read(agreement):
    terms = inputs.terms_for(list(inputs.commitments_for([agreement])))
    return {e.id for e in inputs.evidence_for(terms, AS_OF)}


def test_a_sweep_of_one_agreement_reads_its_parties_reports_and_not_another_conflicts(two_conflicts):
    north, south, ids = two_conflicts

    assert _read(north) == set(ids["north"])
    # Nobody it names rioted; its ambush rule counts unidentified groups wherever (its rule names no place).
    assert _read(south) == (set(ids["south"]) - {ids["south"][2]}) | set(ids["north"][5:7])
    assert ReportName.objects.filter(kind=ReportName.ACTOR, name="TALIBAN").exists()  # kept by the database


def test_narrowed_reading_judges_exactly_as_reading_every_report(two_conflicts, monkeypatch):
    north, south, _ids = two_conflicts

    def judged():
        return {
            (s.commitment.agreement.slug, s.commitment.key): (s.computed.status, s.computed.since,
                                                             s.computed.evidence, s.computed.reason.code)
            for s in inputs.standings([north, south], as_of=AS_OF)
        }

    narrowed = judged()
    monkeypatch.setattr(inputs, "names_read", lambda terms: None)
    everything = judged()

    assert narrowed == everything
    # TALIBAN and Islamic Emirate on one day: a breach, over after the clean days since.
    assert narrowed[("north-accord", "few-battles")][3] == "ceiling.recovered"
    assert narrowed[("north-accord", "no-shelling-in-the-capital")][0] == "breached"
    assert narrowed[("north-accord", "no-ambushes")][0] == "breached"
    # Riots are reported (in the south): the north's silence is compliance, not "no data".
    assert narrowed[("north-accord", "no-riots")][0] == "in_compliance"
    assert narrowed[("south-accord", "no-riots")][0] == "in_compliance"


def test_unidentified_groups_are_read_only_where_the_rules_counting_them_look(tmp_path, monkeypatch):
    """ACLED names unidentified groups per country, so every conflict has them: a rule that counts them in one
    province reads those there, not every conflict's, and judges as though it had read them all."""
    accord = load(tmp_path, slug="kandahar-accord", title="Kandahar accord", party="taliban", name="Taliban",
                  alias="Islamic Emirate", country="Afghanistan", neighbour="Neighbour Forces", capital="Kabul",
                  ambush_where=", admin1: [Kandahar]")
    source = SourceFactory(name="Dataset", reliability="A")
    CoverageFactory(source=source)

    def ambush(actor1, day, admin1):
        return ReportFactory(category="Ambush", actor1=actor1, admin1=admin1, source=source,
                             occurred_at=datetime(2020, 3, day, 8, tzinfo=UTC),
                             recorded_at=datetime(2020, 3, day, 9, tzinfo=UTC)).id

    there = ambush("Unidentified Armed Group (Afghanistan)", 3, "KANDAHAR")
    unnamed_there = ambush("", 4, "Kandahar")
    by_the_party = ambush("Taliban", 5, "Herat")
    elsewhere = ambush("Unidentified Armed Group (Afghanistan)", 6, "Herat")
    another_conflict = ambush("Unidentified Armed Group (Colombia)", 7, "Antioquia")
    nowhere = ambush("Unidentified Armed Group (Yemen)", 8, "")

    read = _read(accord)
    assert {there, unnamed_there} <= read
    assert by_the_party in read  # the party's acts are read by its names, wherever (Kandahar's rule skips it)
    assert not read & {elsewhere, another_conflict, nowhere}

    def judged():
        standing = next(s for s in inputs.standings([accord], as_of=AS_OF) if s.commitment.key == "no-ambushes")
        return standing.computed.status, standing.computed.since, standing.computed.evidence

    narrowed = judged()
    monkeypatch.setattr(inputs, "names_read", lambda terms: None)
    assert narrowed == judged()
    assert narrowed[0] == "breached" and set(narrowed[2]) == {there, unnamed_there}


def test_reports_are_read_with_a_plan_for_every_row_not_the_first_tenth():
    """A sweep reads every report its cursor finds; planned for the first tenth (PostgreSQL's default for a cursor),
    the read walked every conflict's reports in time order (docs/architecture.md, "Reading one agreement's reports")."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW cursor_tuple_fraction")
        assert cursor.fetchone()[0] == "1"


def test_a_view_as_known_at_a_past_instant_reads_its_parties_reports_and_judges_as_reading_all(two_conflicts,
                                                                                            monkeypatch):
    """Read as recorded then (a cited view), an agreement still reads its own parties' reports, by the names each
    version carried: an act renamed to the party after the cutoff is read and does not count as of then; one
    renamed away from it is read and counts. Categories only other conflicts' reports carry are still reported."""
    north, south, ids = two_conflicts
    from monitor.evidence.models import Report

    known_at = datetime(2020, 4, 1, tzinfo=UTC)
    renamed_away = Report.objects.get(id=ids["north"][0])  # TALIBAN on 3 March: one of the day's two battles
    renamed_away.actor1 = "Forces of Nobody"
    renamed_away.save()
    renamed_to = Report.objects.get(id=ids["south"][0])  # ELN's battle, later said to be the Taliban's
    renamed_to.actor1 = "Taliban"
    renamed_to.save()
    Report.history.filter(history_date__gt=datetime(2020, 3, 31, tzinfo=UTC)).update(
        history_date=datetime(2020, 5, 1, tzinfo=UTC))  # both edits made after the cutoff

    terms = inputs.terms_for(list(inputs.commitments_for([north])))
    read = {e.id for e in inputs.evidence_for(terms, known_at, recorded=True)}
    assert set(ids["north"]) | {renamed_to.id} <= read
    assert not read & (set(ids["south"]) - {renamed_to.id})

    def judged():
        return {
            (s.commitment.agreement.slug, s.commitment.key): (s.computed.status, s.computed.since, s.computed.evidence)
            for s in inputs.standings([north, south], as_of=AS_OF, known_at=known_at, recorded=True)
        }

    narrowed = judged()
    monkeypatch.setattr(inputs, "names_read", lambda terms: None)
    assert narrowed == judged()
    # As recorded then, TALIBAN and Islamic Emirate fought on 3 March: two battles, a breach since recovered.
    battles = narrowed[("north-accord", "few-battles")]
    assert battles[0] == "in_compliance" and renamed_to.id not in battles[2]
    # Riots were reported, in the south only: the north's silence is compliance, not "no data"; so too when the
    # riot was imported (an imported report has no history until it is corrected: it is read as it is now).
    assert narrowed[("north-accord", "no-riots")][0] == "in_compliance"
    monkeypatch.undo()
    Report.history.filter(id=ids["south"][2]).delete()
    assert judged()[("north-accord", "no-riots")][0] == "in_compliance"
    Report.objects.filter(id=ids["south"][2]).update(recorded_at=datetime(2020, 4, 2, tzinfo=UTC))
    assert judged()[("north-accord", "no-riots")][0] == "no_data"  # known only after the cutoff
