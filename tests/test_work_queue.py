"""The analysts' work queue in the admin: what awaits a judgement, in order, each row linking to where it is done."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitor.accounts.roles import ANALYST, MONITOR, grant_role
from monitor.evidence.models import VERIFIED
from monitor.verdicts.models import StatusChange
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

QUEUE = "/admin/queue/"
T0 = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)


def stored(commitment, status, detected, effective=None):
    """What a sweep stores: the commitment's latest change."""
    return StatusChange.objects.create(commitment=commitment, new_status=status, effective_at=effective or detected,
                                       detected_at=detected, reason_code="test")


@pytest.fixture
def analyst(client):
    user = grant_role(UserFactory(username="amina"), ANALYST)
    client.force_login(user)
    return user


def rows(html, section):
    """(link, title) of each row of one section, in order."""
    part = html.split(f'id="queue-{section}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<tr class="queue-row[^"]*">\s*<td><a href="([^"]+)">([^<]+)</a>', part)


def test_the_queue_lists_missed_and_breached_verdicts_first_then_the_longest_waiting(client, analyst):
    agreement = AgreementFactory(title="The deal")
    old_met = CommitmentFactory(agreement=agreement, title="Prisoners released")
    new_missed = CommitmentFactory(agreement=agreement, title="Talks begin")
    older_breached = CommitmentFactory(agreement=agreement, title="No attacks on cities", kind="prohibition")
    assessed = CommitmentFactory(agreement=agreement, title="Troops withdrawn")
    stored(old_met, "met", T0 - timedelta(days=30))
    stored(new_missed, "missed", T0)
    stored(older_breached, "breached", T0 - timedelta(days=5))
    stored(assessed, "missed", T0 - timedelta(days=60))
    AssessmentFactory(commitment=assessed, computed_status="missed", assessed_at=T0)

    html = client.get(QUEUE).content.decode()

    assert [title for _url, title in rows(html, "provisional")] == [
        "No attacks on cities", "Talks begin", "Prisoners released"]
    # Each links to the commitment's admin page, where its assessment form is.
    url, _title = rows(html, "provisional")[0]
    assert url == reverse("admin:terms_commitment_change", args=[older_breached.pk]) + "#assess"


def test_only_findings_await_an_assessment_not_a_commitment_not_yet_due(client, analyst):
    agreement = AgreementFactory(title="The deal")
    stored(CommitmentFactory(agreement=agreement, title="Elections held"), "not_yet_due", T0)
    stored(CommitmentFactory(agreement=agreement, title="Prisoners exchanged"), "due_soon", T0)
    stored(CommitmentFactory(agreement=agreement, title="Talks continue"), "awaiting_anchor", T0)
    stored(CommitmentFactory(agreement=agreement, title="Talks begin"), "missed", T0)
    stored(CommitmentFactory(agreement=agreement, title="Casualties fall"), "no_data", T0 - timedelta(days=1))

    html = client.get(QUEUE).content.decode()

    assert [t for _u, t in rows(html, "provisional")] == ["Talks begin", "Casualties fall"]
    index = client.get(reverse("admin:index")).content.decode()
    box = index.split('id="work-queue-counts"', 1)[1].split("</table>", 1)[0]
    assert [int(n) for n in re.findall(r"<td>(\d+)</td>", box)][0] == 2


def test_an_assessment_of_another_computed_status_leaves_the_verdict_in_the_queue(client, analyst):
    talks = CommitmentFactory(title="Talks begin")
    stored(talks, "missed", T0)
    AssessmentFactory(commitment=talks, computed_status="met", assessed_at=T0 - timedelta(days=1))

    html = client.get(QUEUE).content.decode()

    assert [t for _u, t in rows(html, "provisional")] == ["Talks begin"]
    assert "of another status (Met)" in html


def test_reports_awaiting_verification_are_the_weak_claims_best_graded_first_then_oldest(client, analyst):
    b, d = SourceFactory(name="Wire", reliability="B"), SourceFactory(name="Blog", reliability="D")
    ReportFactory(summary="Counts already (B2)", source=b, credibility=2)
    ReportFactory(summary="Verified already", source=d, credibility=3).set_verification(VERIFIED)
    ReportFactory(summary="D3 older", source=d, credibility=3, recorded_at=T0 - timedelta(days=9))
    ReportFactory(summary="B3 newer", source=b, credibility=3, recorded_at=T0)
    ReportFactory(summary="B3 older", source=b, credibility=3, recorded_at=T0 - timedelta(days=2))
    weak = ReportFactory(summary="D6", source=d, credibility=6)

    listed = rows(client.get(QUEUE).content.decode(), "reports")

    assert [t for _u, t in listed] == ["B3 older", "B3 newer", "D3 older", "D6"]
    assert listed[-1][0] == reverse("admin:evidence_report_change", args=[weak.pk])


def test_commitments_marked_for_review_are_listed_with_their_note(client, analyst):
    ties = CommitmentFactory(title="No ties with Al-Qaeda", needs_review=True,
                             review_note="The rule counts statements, not acts: check the text.")
    CommitmentFactory(title="Talks begin")

    html = client.get(QUEUE).content.decode()

    assert rows(html, "review") == [(reverse("admin:terms_commitment_change", args=[ties.pk]), "No ties with Al-Qaeda")]
    assert "The rule counts statements, not acts: check the text." in html


def test_a_miss_left_unassessed_past_the_agreements_delay_is_an_escalation(client, analyst):
    now = datetime.now(UTC)
    late = CommitmentFactory(title="Talks begin")
    recent = CommitmentFactory(title="Prisoners released")
    acknowledged = CommitmentFactory(title="Troops withdrawn")
    stored(late, "missed", now - timedelta(hours=49))
    stored(recent, "missed", now - timedelta(hours=2))
    stored(acknowledged, "breached", now - timedelta(hours=72))
    AssessmentFactory(commitment=acknowledged, computed_status="breached", assessed_at=now - timedelta(hours=1))

    listed = rows(client.get(QUEUE).content.decode(), "escalations")

    assert listed == [(reverse("admin:terms_commitment_change", args=[late.pk]) + "#assess", "Talks begin")]


def test_a_monitor_cannot_see_the_queue_nor_its_counts(client):
    client.force_login(grant_role(UserFactory(username="mo"), MONITOR))
    stored(CommitmentFactory(title="Talks begin"), "missed", T0)

    assert client.get(QUEUE).status_code == 403
    assert "Work queue" not in client.get(reverse("admin:index")).content.decode()


def test_someone_not_logged_in_is_sent_to_the_admin_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_the_admin_index_shows_the_counts_and_links_to_the_queue(client, analyst):
    stored(CommitmentFactory(title="Talks begin"), "missed", T0)
    stored(CommitmentFactory(title="Prisoners released"), "met", T0)
    CommitmentFactory(title="Ties", needs_review=True)
    ReportFactory(source=SourceFactory(name="Blog", reliability="D"), credibility=4)

    html = client.get(reverse("admin:index")).content.decode()
    box = html.split('id="work-queue-counts"', 1)[1].split("</table>", 1)[0]

    assert 'href="/admin/queue/"' in box
    counts = [int(n) for n in re.findall(r"<td>(\d+)</td>", box)]
    assert counts == [2, 1, 1, 1]  # provisional, reports, needs review, escalations (the miss of 2020)


def _fill(n):
    agreement = AgreementFactory()
    source = SourceFactory(name=f"Blog {n}", reliability="D")
    now = datetime.now(UTC)
    for i in range(n):
        c = CommitmentFactory(agreement=agreement, needs_review=i % 2 == 0)
        stored(c, "missed" if i % 3 else "met", now - timedelta(days=i + 3))
        if i % 4 == 0:
            AssessmentFactory(commitment=c, computed_status="met", assessed_at=now - timedelta(days=1))
        ReportFactory(source=source, credibility=4)


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", [QUEUE, "/admin/"])
def test_the_queue_and_the_index_read_a_fixed_number_of_queries_whatever_the_size(client, analyst, url):
    _fill(3)
    small = _queries(client, url)
    _fill(30)
    assert _queries(client, url) == small


# --- assessing from the commitment's admin page: one form at the top, beside the verdict and its evidence ---


def test_the_assessment_form_is_at_the_top_beside_the_verdict_and_the_reports_it_rests_on(client, analyst):
    agreement = AgreementFactory()
    talks = CommitmentFactory(agreement=agreement, title="Talks begin", rule={"categories": ["talks"],
                                                                             "attribution": "any"})
    report = ReportFactory(summary="Delegations met in Doha", category="talks",
                           occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC))

    html = client.get(reverse("admin:terms_commitment_change", args=[talks.pk])).content.decode()
    top = html.split('id="assess"', 1)[1].split("Basis", 1)[0]

    # The verdict, the report it rests on (linked to its page) and every field of the form, before the rest.
    assert "Met</strong> <small>(provisional)" in top
    assert f'href="{reverse("admin:evidence_report_change", args=[report.pk])}">Delegations met in Doha</a>' in top
    assert "(5 Mar 2020, B2, Claimed)" in top
    for field in ("action", "status", "pam_grade", "confidence", "reason"):
        assert f'name="assessments-0-{field}"' in top
    assert '<option value="2">2: intermediate</option>' in top  # the Peace Accords Matrix grade


def test_a_viewer_sees_that_a_restricted_report_is_relied_on_but_not_what_it_says(client):
    from monitor.accounts.roles import VIEWER
    from monitor.evidence.models import RESTRICTED

    client.force_login(grant_role(UserFactory(username="vi"), VIEWER))
    talks = CommitmentFactory(title="Talks begin", rule={"categories": ["talks"], "attribution": "any"})
    ReportFactory(summary="What the informant said", category="talks", visibility=RESTRICTED)

    html = client.get(reverse("admin:terms_commitment_change", args=[talks.pk])).content.decode()

    assert "a restricted report" in html and "What the informant said" not in html
    assert 'name="assessments-0-reason"' not in html  # a Viewer does not assess
