"""Pages read a fixed number of queries, however much evidence there is: 5 reports or 500, the same count."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitor.evidence.models import INTERNAL, VERIFIED, Coverage, Report, VerificationChange
from monitor.verdicts import inputs
from monitor.verdicts.models import StatusChange
from terms.models import Provision
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    PartyFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

# What matters is that the count does not grow with the evidence (the equalities below). The ceiling
# catches a page that starts reading per row. These tests name both cutoffs, so every page here is a cited
# view: it reads what was recorded then from the history and judges once more with today's terms for the
# banner (docs/public-pages.md gives the parts). Measured: agreement page 34, commitment page 31–33, API 32,
# text page 25, a cited commitment page after revisions and corrections 38. Of these, the page cache reads 1
# (the data version; a test writes in its own transaction, so the version is refused and the page rendered).
MAX_QUERIES = 40
KINDS = {
    "talks": dict(kind="deadline", rule={"categories": ["talks_started"], "attribution": "any"}, due_offset=10),
    "troops": dict(kind="target", rule={"categories": ["troop_level"], "attribution": "any", "target": 100},
                   due_offset=30),
    "attacks": dict(kind="ceiling", rule={"categories": ["attack"], "limit": 3}, starts_offset=1, due_offset=None),
    "ties": dict(kind="prohibition", rule={"categories": ["ties"]}, starts_offset=1, due_offset=None),
}


def own(slug, category):
    return f"{slug}.{category}"


def build(slug, reports):
    """An agreement with one commitment of each kind and `reports` reports of its own spread over them.

    A report belongs to no agreement: a commitment counts every report in the categories its rule names. So
    each agreement's rules name categories of its own ("small.attack", "large.attack"): with shared ones,
    the small agreement's pages would read the large one's 500 reports too, and "5 reports or 500" would be
    the same 505 on both sides.
    """
    party = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory(slug=slug, publish_computed_verdicts=True)
    agreement.parties.set([party])
    commitments = {}
    for key, fields in KINDS.items():
        rule = {**fields["rule"], "categories": [own(slug, c) for c in fields["rule"]["categories"]]}
        commitments[key] = CommitmentFactory(agreement=agreement, key=key, owed_by=[party], **{**fields, "rule": rule})
    wire = SourceFactory(name="Wire", reliability="B")
    dataset = SourceFactory(name="Dataset", reliability="B", may_republish=False)
    Coverage.objects.get_or_create(source=dataset, starts_on=date(2020, 2, 1), defaults={
        "ends_on": date(2020, 6, 30), "recorded_at": datetime(2020, 2, 1, tzinfo=UTC)})
    categories = [own(slug, c) for c in ("talks_started", "troop_level", "attack", "ties")]
    rows = []
    for i in range(reports):
        category = categories[i % 4]
        day = datetime(2020, 3, 1, 8, tzinfo=UTC) + timedelta(days=i % 90)
        rows.append(Report(
            summary=f"{slug} report {i}", category=category, actor1="Taliban", occurred_at=day,
            recorded_at=day + timedelta(hours=2), source=dataset if category == own(slug, "attack") else wire,
            source_ref=f"{slug}-{i}", credibility=2, value=1000 - i if category == own(slug, "troop_level") else None,
            visibility=INTERNAL if i % 7 == 0 else "public",
        ))
    Report.objects.bulk_create(rows)
    VerificationChange.objects.bulk_create(
        VerificationChange(report=r, old_state="claimed", new_state=VERIFIED, changed_at=r.recorded_at)
        for r in rows[::3]
    )
    for commitment in commitments.values():
        first = StatusChange.objects.create(
            commitment=commitment, new_status="not_yet_due", effective_at=datetime(2020, 3, 1, tzinfo=UTC),
            detected_at=datetime(2020, 3, 1, tzinfo=UTC), reason_code="deadline.pending",
        )
        second = StatusChange.objects.create(
            commitment=commitment, previous=first, old_status="not_yet_due", new_status="breached",
            effective_at=datetime(2020, 3, 20, tzinfo=UTC), detected_at=datetime(2020, 3, 21, tzinfo=UTC),
            reason_code="prohibition.breached", reason_params={"report": rows[0].id, "source": "Wire", "grade": "B2"},
        )
        second.evidence.set(rows[:3])
        AssessmentFactory(commitment=commitment, computed_status="breached", action="confirm",
                          assessed_at=datetime(2020, 3, 25, tzinfo=UTC))
    return agreement


def count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"as_of": "2020-06-30", "known_at": "2020-07-31"})
    assert response.status_code == 200
    return len(queries)


def evidence_read(agreement):
    """How many reports the pages of this agreement read: what `inputs.standings` hands the engine."""
    return len(inputs.evidence_for([inputs.term_for(c) for c in inputs.commitments_for([agreement])]))


@pytest.fixture
def small_and_large():
    small, large = build("small", 5), build("large", 500)
    # What makes the comparisons below mean something: each agreement's pages read its own reports only.
    assert (evidence_read(small), evidence_read(large)) == (5, 500)
    return small, large


def test_agreement_page_takes_the_same_queries_for_5_reports_as_for_500(client, small_and_large):
    counts = [count(client, reverse("pages:agreement", kwargs={"agreement": a.slug})) for a in small_and_large]
    assert counts[0] == counts[1] <= MAX_QUERIES, counts


@pytest.mark.parametrize("key", list(KINDS))
def test_commitment_page_takes_the_same_queries_for_5_reports_as_for_500(client, small_and_large, key):
    counts = [
        count(client, reverse("pages:commitment", kwargs={"agreement": a.slug, "key": key})) for a in small_and_large
    ]
    assert counts[0] == counts[1] <= MAX_QUERIES, counts


def test_the_api_list_of_verdicts_takes_the_same_queries_for_5_reports_as_for_500(client, small_and_large):
    counts = [
        count(client, reverse("api:commitment-list", kwargs={"agreement": a.slug})) for a in small_and_large
    ]
    assert counts[0] == counts[1] <= MAX_QUERIES, counts


def test_the_large_agreement_really_paginates_its_evidence(client, small_and_large):
    _small, large = small_and_large
    response = client.get(
        reverse("pages:commitment", kwargs={"agreement": large.slug, "key": "talks"}),
        {"as_of": "2020-06-30", "known_at": "2020-07-31"},
    )
    assert b"Page 1 of" in response.content
    assert response.content.count(b'class="report"') == 25


def give_text(agreement, provisions):
    """`provisions` provisions, each cited by every commitment of the agreement when monitored (every other one)."""
    rows = Provision.objects.bulk_create(
        Provision(agreement=agreement, ref=f"article-{i}", number=f"Article {i}", position=i, summary="…",
                  source="test", status="monitored" if i % 2 == 0 else "not_yet_modelled")
        for i in range(provisions)
    )
    through = Provision.commitments.through
    through.objects.bulk_create(
        through(provision=p, commitment=c) for p in rows if p.status == "monitored" for c in agreement.commitments.all()
    )


def test_the_text_page_takes_the_same_queries_for_5_reports_and_2_provisions_as_for_500_and_40(
    client, small_and_large
):
    small, large = small_and_large
    give_text(small, 2)
    give_text(large, 40)
    counts = [count(client, reverse("pages:text", kwargs={"agreement": a.slug})) for a in small_and_large]
    assert counts[0] == counts[1] <= MAX_QUERIES, counts
    # The agreement page counts the provisions in a fixed number of queries too.
    counts = [count(client, reverse("pages:agreement", kwargs={"agreement": a.slug})) for a in small_and_large]
    assert counts[0] == counts[1] <= MAX_QUERIES, counts


def test_a_cited_page_takes_the_same_queries_after_revisions_and_corrections_for_5_reports_as_for_500(
    client, small_and_large
):
    """Every report with its history (as imports write it), then the terms revised and reports corrected after
    the cutoff: the cited pages read the history, show the banner, and still read a fixed number of queries."""
    from monitor.evidence.importing.bulk import record_history
    from terms.models import Revision

    counts = []
    for agreement in small_and_large:
        ids = list(Report.objects.filter(category__startswith=agreement.slug).values_list("id", flat=True))
        record_history(Report, ids, history_type="+")
        troops = agreement.commitments.get(key="troops")
        troops.rule = {**troops.rule, "target": 2000}
        troops.save()
        Revision.objects.create(agreement=agreement, number=2, made_by="analyst", reason="A higher target")
        for report in Report.objects.filter(id__in=ids[:3]):
            report.summary += " (corrected)"
            report.save()
        url = reverse("pages:commitment", kwargs={"agreement": agreement.slug, "key": "troops"})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"as_of": "2020-06-30", "known_at": "2020-07-31"})
        assert b"Revision r2 of the terms changes this." in response.content
        counts.append(len(queries))
    assert counts[0] == counts[1] <= MAX_QUERIES, counts
