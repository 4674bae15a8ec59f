"""A cited link keeps showing what it showed: as known at a cutoff, the terms, names, grades and report
contents are those recorded then, and a banner says when today's would judge otherwise (issue 14, point 2)."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from monitor.evidence.models import Report
from monitor.verdicts import inputs
from terms.models import PartyName, Revision
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, ReportFactory, SourceFactory

pytestmark = pytest.mark.django_db

TROOPS_RULE = {"categories": ["troop_level"], "attribution": "any", "target": 8600, "direction": "at_most"}


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def troops():
    """The troop commitment of the issue: 8,800 troops at the due date (missed), 8,700 six days later."""
    agreement = AgreementFactory(slug="deal", publish_computed_verdicts=True, time_zone="UTC")
    party = PartyFactory(name="United States", slug="united-states")
    agreement.parties.set([party])
    commitment = CommitmentFactory(agreement=agreement, key="troops", kind="target", rule=TROOPS_RULE,
                                   due_offset=135, owed_by=[party])  # due 13 July 2020
    wire = SourceFactory(name="Wire", reliability="B")
    ReportFactory(source=wire, category="troop_level", value=8800, occurred_at=at(2020, 7, 10, 8),
                  recorded_at=at(2020, 7, 10, 12), summary="8,800 troops remain.")
    later = ReportFactory(source=wire, category="troop_level", value=8700, occurred_at=at(2020, 7, 16, 8),
                          recorded_at=at(2020, 7, 16, 12), summary="8,700 troops remain.")
    assert agreement.revisions.get().number == 1  # r1, recorded with the agreement (terms.revisions)
    return agreement, commitment, later


def page(client, name, known_at="2020-07-20", as_of="2020-07-20", **kwargs):
    response = client.get(reverse(name, kwargs={"agreement": "deal", **kwargs}), {"as_of": as_of, "known_at": known_at})
    assert response.status_code == 200
    return response.content.decode()


def commitment_status(client, **cut):
    html = page(client, "pages:commitment", key="troops", **cut)
    return re.search(r'class="verdict"[^>]*data-status="([a-z_]+)"', html).group(1), html


def banner(html):
    found = re.search(r'<p class="later-change"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else None


def current_link(html):
    return re.search(r'<p class="later-change"[^>]*>.*?<a href="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")


def revise(commitment, number, **rule):
    """What the loader does with --revise: the rule saved (history kept), a Revision recorded."""
    commitment.rule = {**commitment.rule, **rule}
    commitment.save()
    Revision.objects.create(agreement=commitment.agreement, number=number, made_by="analyst",
                            reason="The text says 8,750", changes=[{"commitment": "troops", "field": "rule.target"}])


def test_raising_the_troop_target_after_a_citation_leaves_the_cited_view_missed_with_a_banner(client, troops):
    _agreement, commitment, _later = troops
    before, html = commitment_status(client)
    assert before == "missed"
    assert banner(html) is None

    revise(commitment, 2, target=8750)

    after, html = commitment_status(client)
    assert after == "missed"  # the cited link shows what it showed
    assert "8,600" in html or "8600" in html  # with the rule it was judged by
    assert banner(html) == "Revision r2 of the terms changes this. See the current view"
    current_html = client.get(current_link(html)).content.decode()
    assert re.search(r'class="verdict"[^>]*data-status="met_late"', current_html)
    assert banner(current_html) is None


def test_the_agreement_page_cited_before_a_revision_says_so_too(client, troops):
    _agreement, commitment, _later = troops
    revise(commitment, 2, target=8750)

    html = page(client, "pages:agreement")

    assert banner(html) == "Revision r2 of the terms changes this. See the current view"
    assert "as_of=2020-07-20" in current_link(html)


def test_a_report_corrected_after_a_citation_leaves_the_cited_view_unchanged_with_a_banner(client, troops):
    agreement, _commitment, later = troops
    cited = timezone.now().isoformat()  # a link cited today, after everything above was recorded
    assert commitment_status(client, known_at=cited)[0] == "missed"

    later.value = 8500  # a correction: the second count was 8,500, met six days late
    later.save()

    status, html = commitment_status(client, known_at=cited)
    assert status == "missed"
    assert banner(html) == "Corrections made since change this. See the current view"
    now = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=timezone.now())
    assert [s.status for s in now] == ["met_late"]


def test_a_view_cited_after_the_last_correction_is_judged_once_and_a_correction_since_brings_the_second(
    client, troops, monkeypatch
):
    """The banner compares with today's contents only when something was recorded after the cutoff: until then
    the versions the view read are today's, and judging again could only agree (`later.corrected_since`)."""
    _agreement, _commitment, later = troops
    judged = []
    standings = inputs.standings
    monkeypatch.setattr(inputs, "standings", lambda *args, **kwargs: judged.append(kwargs) or standings(*args, **kwargs))
    cited = timezone.now().isoformat()

    status, html = commitment_status(client, known_at=cited)
    assert (status, banner(html), judged) == ("missed", None, [])

    later.value = 8500
    later.save()
    status, html = commitment_status(client, known_at=cited)
    assert status == "missed" and banner(html) == "Corrections made since change this. See the current view"
    assert [kwargs["recorded"] for kwargs in judged] == [False]  # today's contents, judged once for the banner


def test_a_view_cited_before_the_agreement_was_loaded_names_no_revision_for_a_corrected_report(client, troops):
    _agreement, _commitment, later = troops  # r1, the first load, was made after 20 July 2020
    later.value = 8500
    later.save()

    status, html = commitment_status(client)

    assert status == "missed"
    assert banner(html) == "Corrections made since change this. See the current view"


def test_a_commitment_cited_before_a_revision_and_a_correction_is_read_from_history_by_standings(troops):
    agreement, commitment, later = troops
    cited = timezone.now()
    revise(commitment, 2, target=8750)
    later.value = 8500
    later.save()

    recorded = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=cited)
    today = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=cited, recorded=False)

    assert [s.status for s in recorded] == ["missed"]
    assert recorded[0].commitment.rule["target"] == 8600
    assert [s.status for s in today] == ["met_late"]


def test_a_report_deleted_after_a_citation_still_counts_in_the_cited_view(troops):
    agreement, _commitment, later = troops
    later.value = 8500  # met six days late
    later.save()
    cited = timezone.now()

    later.delete()

    recorded = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=cited)
    today = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=cited, recorded=False)
    assert [s.status for s in recorded] == ["met_late"]
    assert [s.status for s in today] == ["missed"]


@pytest.fixture
def prisoners():
    """A deadline the Taliban owe; a report names the act's side as "Haqqani network", a name not yet theirs."""
    agreement = AgreementFactory(slug="deal", publish_computed_verdicts=True, time_zone="UTC")
    taliban = PartyFactory(name="Taliban", slug="taliban")
    agreement.parties.set([taliban])
    CommitmentFactory(agreement=agreement, key="release", kind="deadline", due_offset=10, owed_by=[taliban],
                      rule={"categories": ["prisoners_released"]})
    return agreement, taliban


def test_a_party_name_added_after_a_citation_does_not_count_in_the_cited_view(prisoners):
    agreement, taliban = prisoners
    wire = SourceFactory(name="Wire", reliability="B")
    ReportFactory(source=wire, category="prisoners_released", actor1="Haqqani network", occurred_at=at(2020, 3, 5))
    cited = timezone.now()

    PartyName.objects.create(party=taliban, name="Haqqani network")

    recorded = inputs.standings([agreement], as_of=at(2020, 3, 20), known_at=cited)
    today = inputs.standings([agreement], as_of=at(2020, 3, 20), known_at=cited, recorded=False)
    assert [s.status for s in today] == ["met"]
    assert [s.status for s in recorded] == ["missed"]


def test_a_source_grade_raised_after_a_citation_does_not_count_in_the_cited_view(prisoners):
    agreement, _taliban = prisoners
    rumours = SourceFactory(name="Rumours", reliability="D")  # D2: weaker than B2, decides nothing unverified
    ReportFactory(source=rumours, category="prisoners_released", actor1="Taliban", occurred_at=at(2020, 3, 5))
    cited = timezone.now()

    rumours.reliability = "B"
    rumours.save()

    recorded = inputs.standings([agreement], as_of=at(2020, 3, 20), known_at=cited)
    today = inputs.standings([agreement], as_of=at(2020, 3, 20), known_at=cited, recorded=False)
    assert [s.status for s in today] == ["met"]
    assert [s.status for s in recorded] != ["met"]


def test_a_commitment_added_in_a_later_revision_is_not_in_a_view_cited_before_it(troops):
    agreement, _commitment, _later = troops
    cited = timezone.now()

    CommitmentFactory(agreement=agreement, key="talks", due_offset=10)

    recorded = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=cited)
    assert [s.commitment.key for s in recorded] == ["troops"]


def test_the_api_names_the_later_change_of_a_cited_answer(client, troops):
    _agreement, commitment, _later = troops
    revise(commitment, 2, target=8750)
    url = reverse("api:commitment-detail", kwargs={"agreement": "deal", "key": "troops"})

    body = client.get(url, {"as_of": "2020-07-20", "known_at": "2020-07-20"}).json()

    assert body["verdict"]["status"] == "missed"
    assert body["rule"]["target"] == 8600
    assert body["later_change"]["revision"] == "r2"
    assert body["later_change"]["changed"] == ["troops"]
    assert client.get(url).json()["later_change"] is None  # the present view has nothing to compare


def test_every_table_a_cited_view_reads_moves_the_page_caches_data_version(client, troops):
    """A cited page is cached until the data changes: the history and revisions it reads must move the version."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _agreement, commitment, _later = troops
    revise(commitment, 2, target=8750)  # so that the banner, and the revision it names, are read
    read = set()
    for name, kwargs in (("pages:agreement", {}), ("pages:commitment", {"key": "troops"}),
                         ("api:commitment-list", {})):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(name, kwargs={"agreement": "deal", **kwargs}),
                                  {"as_of": "2020-07-20", "known_at": "2020-07-20"})
        assert response.status_code == 200
        read |= {t for q in queries for t in re.findall(r'(?:FROM|JOIN)\s+"(\w+)"', q["sql"])}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = %s",
            ["pages_data_changed"],
        )
        watched = {name for (name,) in cursor.fetchall()}
    assert {"terms_historicalcommitment", "evidence_historicalreport", "terms_revision"} <= read
    assert read - watched - {"auth_user"} == set()


def test_a_milestone_rule_changed_after_a_citation_does_not_move_the_commitments_counted_from_it(troops):
    """Talks due ten days after elections, which a report of 1 March shows held; the milestone's rule is then
    changed to a category no report carries: the cited view still counts from 1 March, the present one waits."""
    from terms.models import Milestone

    agreement, _commitment, _later = troops
    elections = Milestone.objects.create(agreement=agreement, key="elections", title="Elections held",
                                         rule={"categories": ["elections_held"], "attribution": "any"})
    CommitmentFactory(agreement=agreement, key="talks", anchor="milestone", anchor_milestone=elections,
                      anchor_moment="reached", due_offset=10,
                      rule={"categories": ["talks_started"], "attribution": "any"})
    ReportFactory(source=SourceFactory(name="Wire"), category="elections_held", occurred_at=at(2020, 3, 1),
                  recorded_at=at(2020, 3, 1, 12))
    cited = timezone.now()

    elections.rule = {"categories": ["elections_certified"], "attribution": "any"}
    elections.save()

    def talks(**options):
        found = inputs.standings([agreement], as_of=at(2020, 3, 20), known_at=cited, **options)
        return next(s.status for s in found if s.commitment.key == "talks")

    assert talks() == "missed"  # due 11 March, ten days after the elections the cited view knew of
    assert talks(recorded=False) == "awaiting_anchor"


def test_a_commitment_marked_for_review_after_a_citation_is_marked_in_the_cited_view_too(troops):
    """A warning about the terms, not a term: the cited view reads the rule then, and the warning now."""
    agreement, commitment, _later = troops
    cited = timezone.now()
    commitment.needs_review, commitment.review_note = True, "The figure looks garbled."
    commitment.save()

    (standing,) = inputs.standings([agreement], as_of=at(2020, 7, 20), known_at=cited)

    assert standing.commitment.needs_review and standing.commitment.review_note == "The figure looks garbled."
    assert standing.commitment.rule["target"] == 8600
