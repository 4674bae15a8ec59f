"""The commitment page's status history links the first reports each change rests on and counts the rest,
so that a breach resting on thousands of reports makes a page of the same size as one resting on three.
Its pager links keep the page's own parameters only."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from monitor.evidence.models import INTERNAL, Report
from monitor.pages.data import HISTORY_EVIDENCE
from monitor.verdicts.models import StatusChange
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, SourceFactory

pytestmark = pytest.mark.django_db

CITED = {"as_of": "2020-06-30", "known_at": "2020-07-31"}


@pytest.fixture
def breach():
    """A ceiling breached on a day of 40 attacks, 5 of them internal: the change rests on all 40."""
    taliban = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory(slug="accord", publish_computed_verdicts=True)
    agreement.parties.set([taliban])
    commitment = CommitmentFactory(agreement=agreement, key="attacks", kind="ceiling", owed_by=[taliban],
                                   rule={"categories": ["attack"], "limit": 3}, starts_offset=1, due_offset=None)
    wire = SourceFactory(name="Wire", reliability="B")
    day = datetime(2020, 4, 2, 8, tzinfo=UTC)
    reports = Report.objects.bulk_create(
        Report(summary=f"Attack number {i}", category="attack", actor1="Taliban", source=wire, source_ref=f"a{i}",
               credibility=2, occurred_at=day + timedelta(minutes=i), recorded_at=day + timedelta(hours=2),
               visibility=INTERNAL if i >= 35 else "public")
        for i in range(40)
    )
    change = StatusChange.objects.create(
        commitment=commitment, old_status="in_compliance", new_status="breached", effective_at=day,
        detected_at=day + timedelta(hours=3), reason_code="ceiling.breached",
        reason_params={"limit": 3, "date": "2020-04-02", "count": 40},
    )
    change.evidence.set(reports)
    return commitment


def history(client, **params):
    url = reverse("pages:commitment", kwargs={"agreement": "accord", "key": "attacks"})
    response = client.get(url, params)
    assert response.status_code == 200
    page = response.content.decode()
    return page, page.split('id="history-title"', 1)[1].split("</table>", 1)[0]


def test_a_change_resting_on_many_reports_links_the_first_ones_and_counts_the_others_the_reader_may_see(
        client, breach):
    _page, rows = history(client, **CITED)
    linked = re.findall(r'<a href="#report-\d+">Attack number (\d+)</a>', rows)
    # In the order they happened; the five internal ones neither linked nor counted for the public.
    assert linked == [str(i) for i in range(HISTORY_EVIDENCE)]
    assert f"and {35 - HISTORY_EVIDENCE} more reports." in rows


def test_the_pager_keeps_the_cutoffs_and_drops_parameters_the_page_does_not_read(client, breach):
    page, _rows = history(client, **CITED, utm_source="newsletter")
    older = re.search(r'<a href="\?([^"#]+)#evidence" rel="next">', page).group(1).replace("&amp;", "&")
    assert sorted(older.split("&")) == ["as_of=2020-06-30", "known_at=2020-07-31", "page=2"]
    second, _rows = history(client, **dict(p.split("=") for p in older.split("&")))
    assert "Page 2 of 2" in second
