"""Charts never raise on any stored value, and draw a bounded number of shapes whatever they are given.

Issue 11, finding 3: a Monitor posted a report dated 0001-01-01 and the timeline chart overflowed, so
the commitment page answered 500 for everyone. Validation now refuses such dates on the way in
(monitor/evidence), but the database can still hold them (an old import, a psql session, a bulk
update), so the pages must draw whatever is stored. The reports here are written directly to the
database, past any validation.
"""

import math
import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from monitor.evidence.models import DENIES, VERIFIED, Attachment, Report, Source, VerificationChange
from monitor.pages import charts
from terms.models import Agreement
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, UserFactory
from tests.test_cutoff_bounds import public_urls

KABUL = ZoneInfo("Asia/Kabul")
# West of UTC: the first instant Python can hold, 0001-01-01T00:00Z, has no local day there.
BOGOTA = ZoneInfo("America/Bogota")
# East of UTC as far as zones go: the last instant Python can hold has no local day there.
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")

FIRST = datetime.min.replace(tzinfo=UTC)  # 0001-01-01T00:00Z
LAST = datetime.max.replace(tzinfo=UTC)  # 9999-12-31T23:59:59.999999Z
EXTREMES = [FIRST, FIRST + timedelta(hours=1), datetime(9999, 12, 31, tzinfo=UTC), LAST]


# --- the charts alone ------------------------------------------------------------------------------


def test_a_timeline_with_reports_on_the_first_and_last_days_python_can_hold_is_drawn():
    chart = charts.timeline(
        kind="deadline", opens_day=date(2020, 2, 29), due_day=date(2020, 3, 10), last_day=None,
        as_of_day=date(2020, 6, 1), markers=[(date.min, 1, 0), (date(2020, 3, 9), 1, 0), (date.max, 0, 1)],
    )
    assert chart.rows[0][0] == "1 Jan 0001" and chart.rows[-1][0] == "31 Dec 9999"
    xs = [float(c["cx"]) for c in chart.circles]
    assert all(math.isfinite(x) for x in xs)


@pytest.mark.parametrize("opens, due, last, as_of", [
    (date.min, date.min, date.min, date.min),
    (date.max, date.max, date.max, date.max),
    (date.min, None, date.max, date(2020, 1, 1)),
    (None, date.max, None, date.min),
])
def test_a_timeline_whose_window_or_as_of_sits_at_either_end_of_the_calendar_is_drawn(opens, due, last, as_of):
    chart = charts.timeline(kind="prohibition", opens_day=opens, due_day=due, last_day=last, as_of_day=as_of,
                            markers=[(date.min, 2, 1), (date.max, 1, 2)])
    assert chart is not None and chart.rows


@pytest.mark.parametrize("tz", [KABUL, BOGOTA, KIRITIMATI], ids=str)
def test_a_target_chart_with_measurements_at_either_end_of_time_is_drawn(tz):
    details = {
        "target": 100, "direction": "at_most", "unit": "troops", "baseline": None,
        "series": [(instant.isoformat(), 50.0, None) for instant in EXTREMES]
        + [(datetime(2020, 3, 1, tzinfo=UTC).isoformat(), 120.0, 1)],
    }
    for due in (date(2020, 3, 7), date.min, date.max, None):
        chart = charts.target(details, due, tz)
        assert chart is not None and len(chart.rows) == len(details["series"])


def test_a_target_chart_draws_values_no_axis_can_hold_without_raising():
    details = {
        "target": 100, "direction": "at_least", "unit": "", "baseline": -1e308,
        "series": [
            (datetime(2020, 3, d, tzinfo=UTC).isoformat(), v, None)
            for d, v in enumerate([float("nan"), float("inf"), -float("inf"), 1e308, -5.0, 0.0], start=1)
        ],
    }
    chart = charts.target(details, date(2020, 3, 10), KABUL)
    assert len(chart.rows) == 6  # the table says what was measured, even what cannot be drawn
    for circle in chart.circles:
        assert math.isfinite(float(circle["cx"])) and math.isfinite(float(circle["cy"]))


def test_a_target_chart_with_a_target_no_axis_can_hold_is_drawn():
    for goal in (float("nan"), float("inf"), 1e308, -1e308, None):
        details = {"target": goal, "series": [(datetime(2020, 3, 1, tzinfo=UTC).isoformat(), 5.0, None)]}
        assert charts.target(details, date(2020, 3, 10), KABUL) is not None


@pytest.mark.parametrize("start", [date.min, date.max - timedelta(days=9)], ids=["first-days", "last-days"])
def test_a_ceiling_chart_at_either_end_of_the_calendar_is_drawn(start):
    daily = [((start + timedelta(days=i)).isoformat(), n) for i, n in enumerate([1, None, 5, 0, 2, 2, 9, 0, 0, 1])]
    chart = charts.ceiling({"limit": 3, "period": "day", "daily": daily})
    assert len(chart.rows) == 10


def test_a_ceiling_chart_with_huge_or_negative_counts_is_drawn():
    daily = [(date(2020, 3, 1 + i).isoformat(), n) for i, n in enumerate([10**18, -4, 0, None])]
    chart = charts.ceiling({"limit": 10**19, "period": "day", "daily": daily})
    assert len(chart.rows) == 4
    chart = charts.ceiling({"limit": -1, "period": "window", "daily": daily})
    assert len(chart.rows) == 4


@pytest.mark.timeout(60)
@pytest.mark.parametrize("days", [93, 365 * 3, 365 * 12, 365 * 200, 1_000_000])
def test_a_ceiling_chart_draws_at_most_max_bars_however_many_days_it_is_given(days):
    # Points computed and drawn are bounded: a bar and a table row per bin, never one per day.
    start = date(2020, 3, 10)
    daily = [((start + timedelta(days=i)).isoformat(), i % 5 if i % 11 else None) for i in range(days)]
    chart = charts.ceiling({"limit": 3, "period": "day", "daily": daily})
    assert len(chart.rects) <= charts.MAX_BARS
    assert len(chart.rows) == len(chart.rects)
    # Every day is in some bin: the bins' days add up to the whole window.
    assert sum(int(r[3].split(" / ")[1]) for r in chart.rows) == len(daily)


def test_a_ceiling_over_twelve_years_still_reads_as_weeks_grouped():
    start = date(2020, 3, 10)
    daily = [((start + timedelta(days=i)).isoformat(), 1) for i in range(365 * 12)]
    daily[400] = (daily[400][0], 9)
    chart = charts.ceiling({"limit": 3, "period": "day", "daily": daily})
    assert "worst day of each" in chart.title
    assert sum(r[2] for r in chart.rows) == 1  # the one day over the limit is still counted


# --- every page, with such reports in the database -------------------------------------------------


@pytest.fixture
def extreme_reports():
    """The demo agreement, published, and reports at the ends of time for every commitment's categories."""
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    demo = Agreement.objects.get(slug="us-taliban-2020")
    demo.publish_computed_verdicts = True
    demo.save()
    # The same commitments in zones either side of UTC, where the ends of time have no local day.
    for slug, zone in (("west", "America/Bogota"), ("east", "Pacific/Kiritimati")):
        party = PartyFactory(name="Taliban", slug="taliban")
        other = AgreementFactory(slug=slug, time_zone=zone, publish_computed_verdicts=True)
        other.parties.set([party])
        for c in demo.commitments.all():
            CommitmentFactory(
                agreement=other, key=c.key, kind=c.kind, rule=c.rule, starts_offset=c.starts_offset,
                due_offset=c.due_offset, ends_offset=c.ends_offset, owed_by=[party],
            )
    source = Source.objects.create(name="Far wire", reliability="A")
    categories = {cat for c in demo.commitments.all() for cat in (c.rule or {}).get("categories", [])}
    rows = []
    for category in sorted(categories):
        for i, instant in enumerate(EXTREMES):
            for stance in ("affirms", DENIES):
                for precision in ("minute", "day", "week", "month"):
                    rows.append(Report(
                        summary=f"{category} at {instant.isoformat()}", category=category, actor1="Taliban",
                        stance=stance, occurred_at=instant, precision=precision,
                        occurred_until=LAST if i == 0 and precision == "day" else None,
                        # Known at every cutoff: recorded before the agreement's start, or at the first instant.
                        recorded_at=FIRST if instant < datetime(2000, 1, 1, tzinfo=UTC)
                        else datetime(2020, 3, 1, tzinfo=UTC),
                        value=50.0 if stance == "affirms" else 1e308, source=source,
                        source_ref=f"far-{category}-{i}-{stance}-{precision}", credibility=1,
                    ))
    Report.objects.bulk_create(rows)
    VerificationChange.objects.bulk_create(
        VerificationChange(report=r, old_state="claimed", new_state=VERIFIED, changed_at=FIRST) for r in rows[::5]
    )
    return demo


CUTOFFS = [{}, {"as_of": "2020-06-01", "known_at": "2020-06-01"}]


@pytest.mark.django_db
@pytest.mark.timeout(300)
@pytest.mark.parametrize("staff", [False, True], ids=["public", "staff"])
def test_every_page_feed_badge_and_api_answers_200_with_reports_at_the_ends_of_time(client, extreme_reports, staff):
    if staff:
        client.force_login(UserFactory(username="analyst", is_superuser=True))
    report = Report.objects.filter(occurred_at=FIRST).first()
    kept = Attachment(report=report, file=ContentFile(b"%PDF-1.7\n%%EOF\n", name="capture.pdf"))
    with TestCase.captureOnCommitCallbacks(execute=True):  # its bytes are written when its row is committed
        kept.save()
    failures = []
    for agreement in ("us-taliban-2020", "west", "east"):
        keys = list(Agreement.objects.get(slug=agreement).commitments.values_list("key", flat=True))
        for url in public_urls(agreement=agreement, keys=keys, pk=report.pk,
                               attachment=(kept.pk, kept.original_name)):
            for params in CUTOFFS:
                response = client.get(url, params)
                if response.status_code != 200:
                    failures.append((url, params, response.status_code))
    assert not failures


@pytest.mark.django_db
@pytest.mark.timeout(300)
def test_the_commitment_pages_draw_their_charts_with_reports_at_the_ends_of_time(client, extreme_reports):
    for key in extreme_reports.commitments.filter(tracked=True).values_list("key", flat=True):
        url = reverse("pages:commitment", kwargs={"agreement": "us-taliban-2020", "key": key})
        response = client.get(url, {"as_of": "2020-06-01", "known_at": "2020-06-01"})
        assert response.status_code == 200, key
        assert re.search(r'<figure class="chart chart-\w+"', response.content.decode()), key
