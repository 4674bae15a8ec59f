"""Atom feeds of status changes, the iCalendar of deadlines, and the status badge."""

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from io import StringIO
from urllib.parse import parse_qs, urlparse

import icalendar
import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from monitor.evidence.models import Report
from monitor.verdicts.models import CORRECTION, StatusChange
from terms.models import Agreement
from tests.factories import AssessmentFactory

pytestmark = pytest.mark.django_db

SLUG = "us-taliban-2020"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def seed():
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    return Agreement.objects.get(slug=SLUG)


@pytest.fixture
def demo(seed):
    # The reports alone: these tests are about what an unassessed verdict shows, and add the assessments they need.
    call_command("load_demo", "--without-assessments", stdout=StringIO())
    seed.refresh_from_db()
    return seed


@pytest.fixture
def published(demo):
    demo.publish_computed_verdicts = True
    demo.save()
    return demo


def record_change(commitment, old, new, effective, detected, kind="computed", code="", params=None, evidence=()):
    previous = StatusChange.objects.filter(commitment=commitment).order_by("-id").first()
    change = StatusChange.objects.create(
        commitment=commitment, previous=previous, kind=kind, old_status=old, new_status=new,
        effective_at=effective, detected_at=detected, reason_code=code, reason_params=params or {},
    )
    change.evidence.set(evidence)
    return change


@pytest.fixture
def history(demo):
    talks = demo.commitments.get(key="talks-begin")
    al_qaeda = demo.commitments.get(key="cut-ties-al-qaeda")
    record_change(talks, "", "due_soon", datetime(2020, 3, 2, 19, 30, tzinfo=UTC), datetime(2020, 3, 3, tzinfo=UTC),
                  code="deadline.pending", params={"due": "2020-03-10", "days_left": 7})
    record_change(talks, "due_soon", "missed", datetime(2020, 3, 10, 19, 30, tzinfo=UTC),
                  datetime(2020, 3, 11, tzinfo=UTC), code="deadline.missed",
                  params={"due": "2020-03-10", "grace_days": 0})
    record_change(al_qaeda, "", "breached", datetime(2020, 5, 26, 19, 30, tzinfo=UTC),
                  datetime(2020, 5, 28, tzinfo=UTC), code="prohibition.breached",
                  params={"date": "2020-05-27", "count": 1, "source": "UN monitoring mission (demo)", "grade": "A2",
                          "report": Report.objects.get(source_ref="aq-ties").id})
    record_change(talks, "missed", "met_late", datetime(2020, 9, 11, 19, 30, tzinfo=UTC),
                  datetime(2020, 9, 14, tzinfo=UTC), kind=CORRECTION, code="deadline.met_late",
                  params={"date": "2020-09-12", "due": "2020-03-10", "days_late": 186,
                          "source": "Wire service (demo)", "grade": "B1"})
    return demo


def entries(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    return [
        {
            "title": e.findtext(f"{ATOM}title"),
            "summary": e.findtext(f"{ATOM}summary"),
            "link": e.find(f"{ATOM}link").get("href"),
            "id": e.findtext(f"{ATOM}id"),
        }
        for e in feed.findall(f"{ATOM}entry")
    ]


def agreement_feed(client):
    return entries(client, reverse("pages:agreement-feed", kwargs={"agreement": SLUG}))


def test_agreement_feed_lists_status_changes_and_corrections_newest_first(client, history):
    history.publish_computed_verdicts = True
    history.save()
    feed = agreement_feed(client)
    assert [e["title"] for e in feed] == [
        "Correction: Talks between the Taliban and the Afghan government begin: Missed → Met late",
        "The Taliban cut their ties with al-Qaeda: — → Breached",
        "Talks between the Taliban and the Afghan government begin: Due soon → Missed",
        "Talks between the Taliban and the Afghan government begin: — → Due soon",
    ]
    assert "Met late on 12 September 2020, 186 days after the deadline" in feed[0]["summary"]
    assert len({e["id"] for e in feed}) == 4


def test_a_feed_entry_links_to_the_commitment_page_as_it_stood_when_the_change_was_recorded(client, history):
    history.publish_computed_verdicts = True
    history.save()
    missed = agreement_feed(client)[2]
    link = urlparse(missed["link"])
    assert link.path == reverse("pages:commitment", kwargs={"agreement": SLUG, "key": "talks-begin"})
    query = parse_qs(link.query)
    assert query == {"as_of": ["2020-03-10T19:30:00+00:00"], "known_at": ["2020-03-11T00:00:00+00:00"]}
    page = client.get(link.path, query).content.decode()
    assert "Missed: due by the end of 10 March 2020, and no credible report shows it happened." in page


def test_commitment_feed_holds_only_that_commitments_changes(client, history):
    history.publish_computed_verdicts = True
    history.save()
    url = reverse("pages:commitment-feed", kwargs={"agreement": SLUG, "key": "cut-ties-al-qaeda"})
    feed = entries(client, url)
    assert [e["title"] for e in feed] == ["The Taliban cut their ties with al-Qaeda: — → Breached"]
    assert "per UN monitoring mission (demo) (A2)" in feed[0]["summary"]


def test_feeds_leave_out_unpublished_computed_changes_until_an_analyst_assessed_them(client, history):
    assert agreement_feed(client) == []
    AssessmentFactory(
        commitment=history.commitments.get(key="cut-ties-al-qaeda"), computed_status="breached",
        assessed_at=datetime(2020, 6, 1, tzinfo=UTC),
    )
    assert [e["title"] for e in agreement_feed(client)] == ["The Taliban cut their ties with al-Qaeda: — → Breached"]


def calendar(client):
    response = client.get(reverse("pages:deadlines", kwargs={"agreement": SLUG}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def test_calendar_gives_each_deadline_on_its_local_day_and_when_each_ceiling_starts(client, demo):
    events = {str(e["summary"]): e for e in calendar(client).walk("VEVENT")}
    days = {summary: e.decoded("dtstart") for summary, e in events.items()}
    assert days == {
        "Due: Talks between the Taliban and the Afghan government begin": date(2020, 3, 10),
        "Due: The United States begins withdrawing its troops from Afghanistan": date(2020, 3, 10),
        "Due: US troops in Afghanistan reduced to the agreed level": date(2020, 3, 7),
        "Starts to apply: The Taliban reduce violence in major cities to no more than ten attacks a day": date(
            2020, 3, 10
        ),
        "Starts to apply: The Taliban cut their ties with al-Qaeda": date(2020, 3, 1),
        "Starts to apply: The Taliban fight against ISIS (judged as no cooperation with ISIS)": date(2020, 3, 1),
    }  # the ceasefire was never agreed: no date
    talks = events["Due: Talks between the Taliban and the Afghan government begin"]
    assert "Status: provisional, awaiting an analyst's assessment." in str(talks["description"])
    assert str(talks["url"]).endswith("/agreements/us-taliban-2020/commitments/talks-begin/")


def test_calendar_events_keep_their_identity_from_one_fetch_to_the_next(client, demo):
    first = [str(e["uid"]) for e in calendar(client).walk("VEVENT")]
    second = [str(e["uid"]) for e in calendar(client).walk("VEVENT")]
    assert first == second and len(set(first)) == len(first)


def test_calendar_of_an_unsigned_agreement_has_no_dates_yet(client, seed):
    assert calendar(client).walk("VEVENT") == []


def badge(client, key):
    response = client.get(reverse("pages:badge", kwargs={"agreement": SLUG, "key": key}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    svg = ET.fromstring(response.content)
    return " ".join(t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")), svg


@time_machine.travel(datetime(2020, 6, 1, 12, tzinfo=UTC), tick=False)
def test_badge_says_the_published_status_in_words(client, published):
    words, svg = badge(client, "cut-ties-al-qaeda")
    assert words == "compliance Breached (provisional)"
    assert "The Taliban cut their ties with al-Qaeda: Breached (provisional)" in svg.findtext(
        "{http://www.w3.org/2000/svg}title"
    )
    AssessmentFactory(commitment=published.commitments.get(key="cut-ties-al-qaeda"), computed_status="breached",
                      assessed_at=datetime(2020, 5, 30, tzinfo=UTC))
    assert badge(client, "cut-ties-al-qaeda")[0] == "compliance Breached"


@time_machine.travel(datetime(2020, 6, 1, 12, tzinfo=UTC), tick=False)
def test_badge_of_an_unpublished_verdict_says_it_awaits_an_analyst(client, demo):
    assert badge(client, "cut-ties-al-qaeda")[0] == "compliance provisional: awaiting an analyst"


def test_badge_of_an_unknown_commitment_is_not_found(client, demo):
    assert client.get(reverse("pages:badge", kwargs={"agreement": SLUG, "key": "nope"})).status_code == 404
