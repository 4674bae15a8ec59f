"""The public pages' cache: a repeat visit is served from it, and no change is ever served stale.

These tests commit what they write (`transaction=True`), as production does: a page rendered inside a
transaction that has written is never cached (it might be rolled back), so a test wrapped in one
transaction would never see the cache at work.
"""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import INTERNAL, REJECTED, VERIFIED, Report
from monitor.pages import cache
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    PartyFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Signed 29 February 2020 in Kabul; talks are due by 10 March, that is by local midnight, 19:30 UTC.
SIGNED = datetime(2020, 2, 29, tzinfo=UTC)
BEFORE_DUE = datetime(2020, 3, 8, 12, 0, tzinfo=UTC)
LAST_MINUTE = datetime(2020, 3, 10, 19, 29, tzinfo=UTC)
DEADLINE = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    # On the minute: a "now" page is the page as of the start of its minute, the view its citation link
    # gives, so what is recorded during a minute shows from the next one, cache or no cache.
    with time_machine.travel(BEFORE_DUE, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Pages are cached under the database's own epoch, so no other test's pages can be served here;
    # clearing the caches just keeps them small.
    from django.core.cache import cache as redis

    redis.clear()
    cache.recent.clear()


@pytest.fixture
def talks():
    taliban = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory(slug="accord", title="Accord", publish_computed_verdicts=True)
    agreement.parties.set([taliban])
    return CommitmentFactory(
        agreement=agreement, key="talks", title="Talks begin", owed_by=[taliban],
        rule={"categories": ["talks_started"], "attribution": "any"}, due_offset=10,
    )


@pytest.fixture
def wire():
    return SourceFactory(name="Wire", reliability="B")


def page_url():
    return reverse("pages:commitment", kwargs={"agreement": "accord", "key": "talks"})


def fetch(client, url=None, **params):
    """(page text, queries it took)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url or page_url(), params)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode(), len(queries)


def status(markup):
    return re.search(r'<section class="verdict"[^>]*data-status="(\w+)"', markup).group(1)


def report(source, summary="Talks open in Doha", **fields):
    fields = {"credibility": 2, **fields}
    return ReportFactory(
        summary=summary, category="talks_started", occurred_at=datetime(2020, 3, 7, 8, tzinfo=UTC),
        recorded_at=timezone.now(), source=source, **fields,
    )


# --- served from the cache -------------------------------------------------------------------------


def test_a_second_visit_is_served_from_the_cache_in_one_query(client, talks, wire):
    report(wire)
    first, rendering = fetch(client)
    again, cached = fetch(client)
    assert again == first
    assert status(again) == "met"
    # The one query reads the data version; nothing else is read.
    assert cached == 1 < rendering


@pytest.mark.parametrize(
    "url",
    [
        reverse("pages:home"),
        reverse("pages:agreement", kwargs={"agreement": "accord"}),
        reverse("pages:badge", kwargs={"agreement": "accord", "key": "talks"}),
        reverse("pages:deadlines", kwargs={"agreement": "accord"}),
        reverse("pages:commitment-feed", kwargs={"agreement": "accord", "key": "talks"}),
        reverse("pages:agreement-feed", kwargs={"agreement": "accord"}),
    ],
)
def test_the_other_public_pages_are_cached_too(client, talks, url):
    first, rendering = fetch(client, url)
    again, cached = fetch(client, url)
    assert (again, cached) == (first, 1)
    assert rendering > 1


def test_other_processes_are_served_a_page_once_it_has_been_asked_for_twice(client, talks, wire):
    report(wire)
    url = page_url() + "?as_of=2020-03-11&known_at=2020-03-08T12:00Z"
    first, rendering = fetch(client, url)
    # Each gunicorn process keeps its own last pages; forgetting them is what another process sees.
    cache.recent.clear()
    # Asked for once, a page is not kept in Redis: a crawler asking for every date once fills no memory.
    assert fetch(client, url)[1] == rendering
    cache.recent.clear()
    assert fetch(client, url) == (first, 1)


def test_each_as_of_date_and_evidence_page_is_its_own_page(client, talks, wire):
    report(wire)
    before, _ = fetch(client, as_of="2020-03-05", known_at="2020-03-08T12:00Z")
    after, _ = fetch(client, as_of="2020-03-11", known_at="2020-03-08T12:00Z")
    assert (status(before), status(after)) == ("due_soon", "met")
    assert fetch(client, as_of="2020-03-05", known_at="2020-03-08T12:00Z") == (before, 1)


# --- never stale -------------------------------------------------------------------------------------


def test_a_report_saved_shows_on_the_next_visit_and_on_the_badge(client, talks, wire):
    badge_url = reverse("pages:badge", kwargs={"agreement": "accord", "key": "talks"})
    assert status(fetch(client)[0]) == "due_soon"
    assert "due soon" in fetch(client, badge_url)[0].lower()
    report(wire, summary="Delegations meet in Doha")
    page, _ = fetch(client)
    assert status(page) == "met" and "Delegations meet in Doha" in page
    assert ">met<" in fetch(client, badge_url)[0].lower().replace(" (provisional)", "")


def test_a_report_verified_shows_on_the_next_visit(client, talks):
    # A C3 claim decides nothing until someone verifies it.
    weak = report(SourceFactory(name="Blog", reliability="C"), credibility=3)
    assert status(fetch(client)[0]) == "due_soon"
    weak.set_verification(VERIFIED, by=UserFactory())
    page, _ = fetch(client)
    assert status(page) == "met" and "Verified" in page


def test_reports_rejected_in_bulk_show_on_the_next_visit(client, talks, wire):
    report(wire)
    assert status(fetch(client)[0]) == "met"
    Report.objects.filter(category="talks_started").set_verification(REJECTED, by=UserFactory())
    page, _ = fetch(client)
    assert status(page) == "due_soon" and "Rejected" in page


def test_reports_imported_from_a_file_show_on_the_next_visit(client, talks, wire, tmp_path):
    assert status(fetch(client)[0]) == "due_soon"
    upload = tmp_path / "reports.csv"
    upload.write_text(
        "source,source_ref,category,summary,occurred_at,precision,actor1,credibility,visibility\n"
        "Wire,w-1,talks_started,Imported: talks open in Doha,2020-03-07,day,Taliban,2,public\n",
        encoding="utf-8",
    )
    call_command("import_reports", str(upload), "--format", "native", "--time-zone", "Asia/Kabul",
                 stdout=io.StringIO(), stderr=io.StringIO())
    page, _ = fetch(client)
    assert status(page) == "met" and "Imported: talks open in Doha" in page


def test_a_report_hidden_by_a_bulk_update_disappears_on_the_next_visit(client, talks, wire):
    shown = report(wire, summary="Seen by all")
    assert "Seen by all" in fetch(client)[0]
    # What an admin bulk action does: one UPDATE, no model signals.
    Report.objects.filter(pk=shown.pk).update(visibility=INTERNAL)
    assert "Seen by all" not in fetch(client)[0]


def test_an_assessment_shows_on_the_next_visit(client, talks, wire):
    report(wire)
    assert "No analyst has assessed this commitment yet." in fetch(client)[0]
    AssessmentFactory(commitment=talks, computed_status="met", reason="Confirmed with both delegations.",
                      assessed_at=timezone.now())
    page, _ = fetch(client)
    assert "Confirmed with both delegations." in page and "Assessed by an analyst" in page


def test_a_sweep_transition_shows_on_the_next_visit(client, talks):
    assert "No change of status has been published yet." in fetch(client)[0]
    run_sweep(now=timezone.now())
    page, _ = fetch(client)
    assert 'class="kind-computed"' in page and "No change of status has been published yet." not in page


def test_a_deadline_passing_shows_from_the_minute_it_passes(client, talks, clock):
    clock.move_to(LAST_MINUTE)
    assert status(fetch(client)[0]) == "due_soon"
    clock.move_to(LAST_MINUTE.replace(second=59))
    last_second, queries = fetch(client)
    assert (status(last_second), queries) == ("due_soon", 1)  # the same minute: the same page, rightly
    clock.move_to(DEADLINE)
    page, _ = fetch(client)
    assert status(page) == "missed"


def test_the_agreement_changing_shows_on_the_next_visit(client, talks, wire):
    report(wire)
    agreement_url = reverse("pages:agreement", kwargs={"agreement": "accord"})
    assert "Provisional — awaiting" not in fetch(client, agreement_url)[0]
    talks.agreement.publish_computed_verdicts = False
    talks.agreement.save()
    assert "Provisional — awaiting" in fetch(client, agreement_url)[0]


def test_a_page_seen_inside_a_transaction_that_is_rolled_back_is_not_kept(client, talks, wire):
    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        report(wire, summary="Never committed")
        assert "Never committed" in fetch(client)[0]
        raise RolledBack
    # The same write, committed this time, brings the data to the version the rolled-back one had.
    report(wire, summary="Committed")
    page, _ = fetch(client)
    assert "Committed" in page and "Never committed" not in page


# --- audiences -------------------------------------------------------------------------------------


@pytest.fixture
def internal(talks, wire):
    report(wire, summary="Public account of the talks")
    return report(wire, summary="Internal note on the talks", visibility=INTERNAL)


def test_staff_never_see_the_cached_public_page(client, internal):
    public, _ = fetch(client)
    assert "Internal note" not in public and "Staff view." not in public
    client.force_login(UserFactory(is_superuser=True))
    staff, queries = fetch(client)
    assert "Internal note on the talks" in staff and "Staff view." in staff
    assert queries > 1


def test_the_public_never_sees_a_page_rendered_for_staff(client, internal):
    staff_user = UserFactory(is_superuser=True)
    client.force_login(staff_user)
    fetch(client)
    _again, queries = fetch(client)
    assert queries > 1  # staff pages are never kept
    client.logout()
    public, _ = fetch(client)
    assert "Internal note" not in public and "Staff view." not in public


# --- a cache outage ----------------------------------------------------------------------------------


def test_pages_are_rendered_when_the_cache_is_down(client, talks, wire, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    assert status(fetch(client)[0]) == "due_soon"
    report(wire)
    assert status(fetch(client)[0]) == "met"


# --- what the data version watches --------------------------------------------------------------

# Read by a public page but never shown on one: no person appears on a public page (publication.py).
NOT_SHOWN = {"auth_user"}


def test_every_table_a_public_page_reads_moves_the_data_version(client, talks, wire):
    report(wire)
    AssessmentFactory(commitment=talks, computed_status="met", assessed_at=timezone.now())
    run_sweep(now=timezone.now())
    urls = [
        page_url(),
        reverse("pages:home"),
        reverse("pages:agreement", kwargs={"agreement": "accord"}),
        reverse("pages:badge", kwargs={"agreement": "accord", "key": "talks"}),
        reverse("pages:deadlines", kwargs={"agreement": "accord"}),
        reverse("pages:commitment-feed", kwargs={"agreement": "accord", "key": "talks"}),
        reverse("pages:agreement-feed", kwargs={"agreement": "accord"}),
        reverse("pages:text", kwargs={"agreement": "accord"}),
    ]
    read = set()
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        read |= {t for q in queries for t in re.findall(r'(?:FROM|JOIN)\s+"(\w+)"', q["sql"])}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = %s",
            ["pages_data_changed"],
        )
        watched = {name for (name,) in cursor.fetchall()}
    assert {"evidence_report", "verdicts_statuschange", "terms_commitment", "terms_provision"} <= read
    assert read - watched - NOT_SHOWN == set()


# --- cited views: a past "as of" and "as known at" -----------------------------------------------------


CITED = {"as_of": "2020-03-11", "known_at": "2020-03-08T12:00Z"}


def test_a_cited_view_is_kept_whatever_order_and_extra_parameters_its_address_has(client, talks, wire, clock):
    report(wire)
    first, rendering = fetch(client, **CITED)
    assert status(first) == "met" and rendering > 1
    # The same view asked for with its parameters the other way round, tracking tags, an empty span, a page
    # number that is no number (the first page): one page, read from the cache in one query.
    reordered = page_url() + "?known_at=2020-03-08T12:00Z&utm_source=feed&as_of=%202020-03-11&span=&page=first"
    assert fetch(client, reordered) == (first, 1)
    # A later minute of the clock does not move it, as it moves a page of "now": it depends on the data alone.
    clock.shift(timedelta(minutes=7))
    assert fetch(client, **CITED) == (first, 1)


def test_a_correction_after_a_cited_view_shows_its_banner_on_the_next_visit_and_keeps_its_verdict(
        client, talks, wire, clock):
    talks_open = report(wire)
    first, _ = fetch(client, **CITED)
    assert fetch(client, **CITED) == (first, 1)
    assert "Corrections made since change this" not in first
    # Two days later the report is found to be about something else: the view cited as known on 8 March
    # still says what was known then, and now says that a correction since changes it.
    clock.move_to(datetime(2020, 3, 10, 9, 0, tzinfo=UTC))
    talks_open.category = "ceasefire_declared"
    talks_open.save()
    corrected, rendering = fetch(client, **CITED)
    assert rendering > 1
    assert status(corrected) == "met"
    assert "Corrections made since change this" in corrected
