"""Public status pages, through the Django test client: what a reader sees, and what they don't."""

import html
import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from monitor.evidence.models import INTERNAL, RESTRICTED, Report, Source
from monitor.verdicts.models import CORRECTION, StatusChange
from terms.models import Agreement
from tests.factories import AssessmentFactory, ReportFactory, UserFactory

pytestmark = pytest.mark.django_db

SLUG = "us-taliban-2020"


@pytest.fixture
def demo():
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    # The reports alone: these tests are about what an unassessed verdict shows, and add the assessments they need.
    call_command("load_demo", "--without-assessments", stdout=StringIO())
    return Agreement.objects.get(slug=SLUG)


@pytest.fixture
def published(demo):
    demo.publish_computed_verdicts = True
    demo.save()
    return demo


def text(markup):
    """What a reader sees of some HTML: tags dropped, entities decoded, spaces collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def get(client, path, expect=200, **params):
    response = client.get(path, params)
    assert response.status_code == expect, response.content[:500]
    return response.content.decode()


def agreement_page(client, expect=200, **params):
    return get(client, reverse("pages:agreement", kwargs={"agreement": SLUG}), expect, **params)


def commitment_page(client, key, expect=200, **params):
    return get(client, reverse("pages:commitment", kwargs={"agreement": SLUG, "key": key}), expect, **params)


def row(markup, key):
    """The agreement page's row for one commitment, as text."""
    match = re.search(rf'<tr id="c-{key}".*?</tr>', markup, flags=re.DOTALL)
    assert match, f"no row for {key}"
    return text(match.group(0))


def headline(markup):
    return dict(re.findall(r'<div class="hl hl-(\w+)"><dt>[^<]*</dt><dd>(\d+)</dd>', markup))


def record_change(commitment, old, new, effective, detected, kind="computed", code="", params=None, evidence=()):
    previous = StatusChange.objects.filter(commitment=commitment).order_by("-id").first()
    change = StatusChange.objects.create(
        commitment=commitment, previous=previous, kind=kind, old_status=old, new_status=new,
        effective_at=effective, detected_at=detected, reason_code=code, reason_params=params or {},
    )
    change.evidence.set(evidence)
    return change


# --- the front page ------------------------------------------------------------------------------


def test_front_page_lists_each_agreement_with_its_headline(client, published):
    page = get(client, reverse("pages:home"))
    assert f'href="{reverse("pages:agreement", kwargs={"agreement": SLUG})}"' in page
    assert "US–Taliban agreement (Doha, 2020)" in text(page)
    # Three commitments are under review (the seed file marks them): counted as awaiting, never as a zero.
    assert headline(page)["awaiting"] == "3"
    assert "0" not in headline(page).values()


# --- the agreement page ----------------------------------------------------------------------------


def test_agreement_headline_counts_commitments_by_their_published_status(client, published):
    page = agreement_page(client, as_of="2020-06-01", known_at="2020-06-01")
    # Published verdicts only: the three commitments under review are awaiting an analyst; the violence
    # ceiling, whose dataset covers February to April, has too few days with data to be in compliance.
    assert headline(page) == {"missed": "1", "breached": "1", "no_data": "1", "awaiting": "3"}


def test_every_commitment_row_shows_status_owing_party_due_date_countdown_and_latest_evidence(client, published):
    page = agreement_page(client, as_of="2020-03-12", known_at="2020-03-12")
    talks = row(page, "talks-begin")
    assert "Talks between the Taliban and the Afghan government begin" in talks
    assert "✗ Missed" in talks  # a word and a symbol, not a colour alone
    assert "Taliban" in talks
    assert "10 Mar 2020" in talks and "2 days overdue" in talks
    assert "Intra-Afghan talks did not open on 10 March as planned" in talks  # the latest evidence
    assert "Provisional: computed, not yet assessed" in talks
    assert "8 days left" in row(agreement_page(client, as_of="2020-03-02", known_at="2020-03-02"), "talks-begin")


def test_the_ceiling_row_counts_what_a_licence_forbids_listing_instead_of_showing_it(client, published):
    ceiling = row(agreement_page(client, as_of="2020-03-25", known_at="2020-06-01"), "violence-major-cities")
    assert re.search(r"\d+ reports counted; their sources' licences forbid listing them", ceiling)
    assert "Synthetic" not in ceiling  # the demo dataset's rows, which may not be republished


def test_unpublished_provisional_verdicts_are_shown_only_as_awaiting_an_analyst(client, demo):
    assert demo.publish_computed_verdicts is False  # as the seed file has it
    page = agreement_page(client, as_of="2020-06-01", known_at="2020-06-01")
    al_qaeda = row(page, "cut-ties-al-qaeda")
    assert "Provisional — awaiting an analyst's assessment" in al_qaeda
    assert "Breached" not in al_qaeda
    assert "Breached on 27 May 2020" not in page  # the engine's reason is part of the verdict
    # The evidence itself is public: the UN report is listed as the latest.
    assert "A UN monitoring report finds the Taliban consulted al-Qaeda" in al_qaeda
    assert headline(page)["awaiting"] == "6"
    assert "Missed" not in text(page).split("Commitments", 1)[1]
    # Neutral facts stay: the due date and where the calendar stands.
    assert "10 Mar 2020" in row(page, "talks-begin") and "due date passed 83 days ago" in row(page, "talks-begin")


def test_an_assessment_covering_the_computed_verdict_publishes_it_as_assessed(client, demo):
    AssessmentFactory(
        commitment=demo.commitments.get(key="cut-ties-al-qaeda"), computed_status="breached", action="confirm",
        assessed_at=datetime(2020, 5, 30, tzinfo=UTC), author=UserFactory(username="amina.k"),
    )
    page = agreement_page(client, as_of="2020-06-01", known_at="2020-06-01")
    al_qaeda = row(page, "cut-ties-al-qaeda")
    assert "✗ Breached" in al_qaeda and "Assessed by an analyst" in al_qaeda
    assert "Provisional" not in al_qaeda
    assert "amina.k" not in page
    # Known before the assessment was made, the same verdict was still unpublished.
    earlier = row(agreement_page(client, as_of="2020-06-01", known_at="2020-05-29"), "cut-ties-al-qaeda")
    assert "awaiting an analyst's assessment" in earlier


def test_an_assessment_of_a_status_the_evidence_has_since_left_does_not_publish_the_new_one(client, demo):
    AssessmentFactory(
        commitment=demo.commitments.get(key="cut-ties-al-qaeda"), computed_status="in_compliance",
        assessed_at=datetime(2020, 5, 1, tzinfo=UTC),
    )
    al_qaeda = row(agreement_page(client, as_of="2020-06-01", known_at="2020-06-01"), "cut-ties-al-qaeda")
    assert "awaiting an analyst's assessment" in al_qaeda
    assert "Breached" not in al_qaeda and "In compliance" not in al_qaeda


def test_the_address_alone_reproduces_a_past_view_as_of_and_as_known_at(client, published):
    assert "Missed" in row(agreement_page(client, as_of="2020-03-11", known_at="2020-03-11"), "talks-begin")
    assert "Met late" in row(agreement_page(client, as_of="2020-10-01", known_at="2020-10-01"), "talks-begin")
    # The same day, as known then and as known later: the dataset published the bad week late.
    as_known_then = agreement_page(client, as_of="2020-03-18", known_at="2020-03-18")
    as_known_later = agreement_page(client, as_of="2020-03-18", known_at="2020-06-01")
    # As known then, the dataset had declared no coverage yet: too few days with data to say anything.
    assert "Insufficient data" in row(as_known_then, "violence-major-cities")
    assert "Breached" in row(as_known_later, "violence-major-cities")
    assert "Status as of 18 March 2020, 23:59, as known at 1 June 2020, 23:59." in text(as_known_later)


def test_one_date_alone_redirects_to_an_address_naming_both(client, demo):
    url = reverse("pages:agreement", kwargs={"agreement": SLUG})
    response = client.get(url, {"as_of": "2020-03-11"})
    assert response.status_code == 302
    assert response["Location"] == f"{url}?as_of=2020-03-11&known_at=2020-03-11"
    response = client.get(url, {"known_at": "2020-06-01", "as_of": ""})
    assert response["Location"] == f"{url}?as_of=2020-06-01&known_at=2020-06-01"


def test_the_present_view_offers_a_link_that_cites_it_to_the_minute(client, demo):
    page = agreement_page(client)
    link = re.search(r'href="([^"]+)" rel="bookmark"', page).group(1)
    assert re.search(r"\?as_of=\d{4}-\d\d-\d\dT\d\d%3A\d\dZ&amp;known_at=\d{4}-\d\d-\d\dT\d\d%3A\d\dZ$", link)


def test_a_date_that_is_not_a_date_is_explained_and_the_page_shows_now(client, demo):
    page = agreement_page(client, expect=400, as_of="yesterday", known_at="2020-03-01")
    assert "“yesterday” is not a date (2020-03-01)" in text(page)
    assert "Status now" in text(page)


def test_an_unknown_agreement_or_commitment_is_not_found(client, demo):
    assert client.get(reverse("pages:agreement", kwargs={"agreement": "no-such-deal"})).status_code == 404
    assert client.get(reverse("pages:commitment", kwargs={"agreement": SLUG, "key": "no-such"})).status_code == 404


# --- the commitment page ---------------------------------------------------------------------------


def test_commitment_page_gives_the_words_the_basis_competing_accounts_and_the_rule_in_plain_language(client, demo):
    page = text(commitment_page(client, "violence-major-cities", as_of="2020-03-25", known_at="2020-06-01"))
    assert "it would reduce violence in major cities in seven to 10 days" in page
    assert "Reported : Sediq Sediqqi, spokesman for President Ghani (on Twitter)." in page
    assert "within seven days — The article's \"seven to 10 days\", read at its lower bound" in page
    assert "Owed by Taliban" in page
    # Which event types, places and parties count, and why.
    assert "“Battles”, “Explosions/Remote violence” or “Violence against civilians”" in page
    assert "Only events in Kabul, Kandahar, Herat" in page
    assert "Only acts a report attributes to Taliban count." in page
    assert "so no party is charged with others' acts" in page
    assert "At most 10 qualifying events on any one local day." in page
    assert "Counted from the signing on 29 February 2020 (day 0). Applies from day 10." in page


def test_commitment_page_shows_the_verdict_its_reason_and_a_countdown(client, published):
    page = text(commitment_page(client, "cut-ties-al-qaeda", as_of="2020-06-01", known_at="2020-06-01"))
    assert "✗ Breached" in page
    assert "Breached on 27 May 2020 per UN monitoring mission (demo) (A2); violations reported: 1." in page
    talks = text(commitment_page(client, "talks-begin", as_of="2020-03-05", known_at="2020-03-05"))
    assert "Due 10 March 2020 (by local midnight)" in talks
    assert "Countdown 5 days left" in talks
    overdue = text(commitment_page(client, "talks-begin", as_of="2020-03-20", known_at="2020-03-20"))
    assert "Countdown 10 days overdue" in overdue


def test_commitment_page_lists_assessments_without_naming_the_analyst(client, demo):
    AssessmentFactory(
        commitment=demo.commitments.get(key="cut-ties-al-qaeda"), computed_status="breached", action="confirm",
        pam_grade=0, reason="The UN team's finding is corroborated by two member states.",
        assessed_at=datetime(2020, 5, 30, tzinfo=UTC), author=UserFactory(username="amina.k"),
    )
    page = text(commitment_page(client, "cut-ties-al-qaeda", as_of="2020-06-01", known_at="2020-06-01"))
    assert "Confirms the computed verdict: Breached" in page
    assert "The UN team's finding is corroborated by two member states." in page
    assert "By an analyst, 30 May 2020" in page
    assert "amina.k" not in page


def test_evidence_shows_date_source_grade_verification_and_whether_it_counts(client, published):
    page = text(commitment_page(client, "talks-begin", as_of="2020-10-01", known_at="2020-10-01"))
    assert "3 reports listed, newest first." in page
    assert (
        "12 September 2020 Intra-Afghan negotiations open in Doha between the Taliban and the Afghan government's "
        "team. Wire service (demo) · grade B1 · verification: Verified (two independent sources) on 15 September 2020 "
        "· Counts"
    ) in page
    assert "Taliban spokesman (demo) · grade D4 · verification: Claimed · Weaker than B2 and unverified" in page
    assert "says it did not happen" in page
    # As known on 11 March the wire service's denial was not yet verified: it was a claim then.
    early = text(commitment_page(client, "talks-begin", as_of="2020-03-11", known_at="2020-03-11"))
    assert "Wire service (demo) · grade B2 · verification: Claimed · Counts" in early
    assert "2 reports listed" in early


def test_evidence_is_paginated_newest_first(client, published):
    wire = Source.objects.get(name="Wire service (demo)")
    commitment = published.commitments.get(key="cut-ties-al-qaeda")
    for day in range(1, 31):
        ReportFactory(
            source=wire, summary=f"Linked report number {day}.", category="other", commitment=commitment,
            occurred_at=datetime(2020, 4, day, 8, tzinfo=UTC), recorded_at=datetime(2020, 4, day, 9, tzinfo=UTC),
            credibility=4,
        )
    first = text(commitment_page(client, "cut-ties-al-qaeda", as_of="2020-07-01", known_at="2020-07-01"))
    assert "32 reports listed, newest first." in first
    assert "Page 1 of 2" in first and "Older" in first
    assert first.index("Taliban spokesman denies any ties") < first.index("Linked report number 30.")
    # 25 a page: the two newest reports, then 30 April down to 8 April; the rest on page 2.
    assert "Linked report number 8." in first and "Linked report number 7." not in first
    second = text(commitment_page(client, "cut-ties-al-qaeda", as_of="2020-07-01", known_at="2020-07-01", page=2))
    assert "Page 2 of 2" in second and "Newer" in second
    assert "Linked report number 7." in second and "Linked report number 1." in second
    assert "Linked report number 8." not in second


def test_report_text_with_html_or_script_is_shown_as_text(client, published):
    hostile = '<script>alert("x")</script><b onmouseover="steal()">bold</b>'
    ReportFactory(
        source=Source.objects.get(name="Wire service (demo)"), summary=hostile,
        category="intra_afghan_talks_started", occurred_at=datetime(2020, 3, 8, tzinfo=UTC),
        recorded_at=datetime(2020, 3, 8, 1, tzinfo=UTC), url="javascript:steal()",
    )
    for page in (
        commitment_page(client, "talks-begin", as_of="2020-03-09", known_at="2020-03-09"),
        agreement_page(client, as_of="2020-03-09", known_at="2020-03-09"),
    ):
        assert "<script>alert" not in page and "<b onmouseover" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert "javascript:" not in page


def test_status_history_shows_changes_and_corrections_as_known_at_the_cutoff(client, published):
    talks = published.commitments.get(key="talks-begin")
    denial = Report.objects.get(source_ref="talks-stalled")
    record_change(talks, "", "due_soon", datetime(2020, 3, 2, 19, 30, tzinfo=UTC), datetime(2020, 3, 3, tzinfo=UTC),
                  code="deadline.pending", params={"due": "2020-03-10", "days_left": 7})
    record_change(talks, "due_soon", "missed", datetime(2020, 3, 10, 19, 30, tzinfo=UTC),
                  datetime(2020, 3, 11, tzinfo=UTC), code="deadline.missed",
                  params={"due": "2020-03-10", "grace_days": 0}, evidence=[denial])
    record_change(talks, "missed", "met_late", datetime(2020, 9, 11, 19, 30, tzinfo=UTC),
                  datetime(2020, 9, 14, tzinfo=UTC), kind=CORRECTION, code="deadline.met_late",
                  params={"date": "2020-09-12", "due": "2020-03-10", "days_late": 186, "source": "Wire service (demo)",
                          "grade": "B1"})
    page = text(commitment_page(client, "talks-begin", as_of="2020-10-01", known_at="2020-10-01"))
    history = page.split("Status history", 1)[1]
    assert "Due soon → Missed (Computed from evidence)" in history
    assert "Missed: due by the end of 10 March 2020, and no credible report shows it happened." in history
    assert "Evidence: Intra-Afghan talks did not open" in history
    assert "Correction: Missed → Met late (Correction of an earlier verdict)" in history
    assert "Met late on 12 September 2020, 186 days after the deadline, per Wire service (demo) (B1)." in history
    as_known_in_march = text(commitment_page(client, "talks-begin", as_of="2020-10-01", known_at="2020-03-20"))
    assert "Correction" not in as_known_in_march.split("Status history", 1)[1]


def test_unpublished_status_changes_appear_once_an_analyst_assessed_them(client, demo):
    al_qaeda = demo.commitments.get(key="cut-ties-al-qaeda")
    record_change(al_qaeda, "", "in_compliance", datetime(2020, 2, 29, 19, 30, tzinfo=UTC),
                  datetime(2020, 3, 1, tzinfo=UTC), code="prohibition.ok", params={"opens": "2020-03-01"})
    record_change(al_qaeda, "in_compliance", "breached", datetime(2020, 5, 26, 19, 30, tzinfo=UTC),
                  datetime(2020, 5, 28, tzinfo=UTC), code="prohibition.breached")
    history = text(commitment_page(client, "cut-ties-al-qaeda", as_of="2020-07-01", known_at="2020-07-01"))
    assert "No change of status has been published yet." in history
    AssessmentFactory(commitment=al_qaeda, computed_status="breached", assessed_at=datetime(2020, 6, 5, tzinfo=UTC))
    history = text(commitment_page(client, "cut-ties-al-qaeda", as_of="2020-07-01", known_at="2020-07-01"))
    history = history.split("Status history", 1)[1]
    assert "In compliance → Breached (Computed from evidence) Assessed by an analyst" in history
    assert "→ In compliance" not in history  # never assessed: stays internal


# --- staff -------------------------------------------------------------------------------------


def test_staff_see_unpublished_verdicts_and_internal_reports_marked_as_such(client, demo):
    ReportFactory(
        source=Source.objects.get(name="Wire service (demo)"), summary="Internal: the envoy's readout of 9 March.",
        category="intra_afghan_talks_started", visibility=INTERNAL, occurred_at=datetime(2020, 3, 9, tzinfo=UTC),
        recorded_at=datetime(2020, 3, 9, 12, tzinfo=UTC), credibility=5,
    )
    public = commitment_page(client, "talks-begin", as_of="2020-03-11", known_at="2020-03-11")
    assert "envoy's readout" not in html.unescape(public) and "Staff view" not in public
    client.force_login(UserFactory(username="viewer", is_staff=True))
    response = client.get(
        reverse("pages:commitment", kwargs={"agreement": SLUG, "key": "talks-begin"}),
        {"as_of": "2020-03-11", "known_at": "2020-03-11"},
    )
    staff = text(response.content.decode())
    assert "Staff view." in staff
    assert "✗ Missed" in staff
    assert "Internal: the envoy's readout of 9 March." in staff and "Internal: staff only" in staff
    assert "Staff: computed verdict “Missed”." in staff
    assert "no-store" in response["Cache-Control"]


def test_restricted_reports_are_for_analysts_only_even_among_staff(client, demo):
    ReportFactory(
        source=Source.objects.get(name="Wire service (demo)"), summary="Restricted: a named informant's account.",
        category="intra_afghan_talks_started", visibility=RESTRICTED, occurred_at=datetime(2020, 3, 9, tzinfo=UTC),
        recorded_at=datetime(2020, 3, 9, 12, tzinfo=UTC), credibility=5,
    )
    viewer = UserFactory(username="viewer", is_staff=True)
    client.force_login(viewer)
    assert "named informant" not in commitment_page(client, "talks-begin", as_of="2020-03-11", known_at="2020-03-11")
    analyst = UserFactory(username="analyst", is_staff=True, is_superuser=True)
    client.force_login(analyst)
    page = commitment_page(client, "talks-begin", as_of="2020-03-11", known_at="2020-03-11")
    assert "Restricted: a named informant&#x27;s account." in page


# --- the method page and static files ----------------------------------------------------------------


def test_method_page_explains_statuses_weighing_and_grades(client, db):
    page = text(get(client, reverse("pages:method")))
    assert "Claimed reports count when graded B2 or better" in page
    assert "B: usually reliable" in page and "2: probably true" in page
    assert "Breached A ceiling: a day (or the window) over the limit" in page


def test_static_files_are_served_by_the_app_itself_with_hashed_names(client, demo, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    # Production compresses as well (CompressedManifestStaticFilesStorage); the manifest alone is what
    # gives hashed names, and skipping compression of every admin file keeps this test quick.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    page = agreement_page(client, as_of="2020-03-11", known_at="2020-03-11")
    stylesheet = re.search(r'href="(/static/pages/site\.[0-9a-f]{12}\.css)"', page).group(1)
    # A new client builds a new middleware stack, so whitenoise indexes the files just collected.
    from django.test import Client

    response = Client().get(stylesheet)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "max-age=315360000" in response["Cache-Control"]  # hashed names may be cached for ever
    assert b"--ink" in b"".join(response.streaming_content)


def test_pages_link_no_third_party_host(client, published):
    pages = [
        get(client, reverse("pages:home")),
        agreement_page(client, as_of="2020-06-01", known_at="2020-06-01"),
        commitment_page(client, "violence-major-cities", as_of="2020-03-25", known_at="2020-06-01"),
        get(client, reverse("pages:method")),
    ]
    for page in pages:
        for attribute in re.findall(r'(?:src|href)="([^"]+)"', page):
            assert not attribute.startswith(("http://", "https://", "//")) or attribute.startswith(
                "http://testserver/"
            ), attribute
