"""Charts that read at a glance, the evidence a row shows, and one "since" date everywhere (issue 15).

- A ceiling's axis spans its data and its window: a 2020 ceiling looked at years later is not drawn up to
  today, crushed into the first 2 % of the chart; its ticks are calendar dates; a link shows the last 90
  days instead, and keeps the cutoffs.
- "Latest evidence" on the agreement page is the report the verdict rests on, not a weaker one made later.
- The verdict box, the status history, the feed and the alert email give the same instant a status began.
"""

import json
import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import DENIES, Coverage, Report, Source
from monitor.pages import charts
from monitor.verdicts.models import StatusChange
from terms.models import Agreement
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, ReportFactory, SourceFactory
from tests.test_pages import SLUG, row, text

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
CEILING = "violence-major-cities"
MONTH = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)( \d{4})?$")
DAY = re.compile(r"^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)( \d{4})?$")


def daily(first, last, counts_until):
    """A day for each day from `first` to `last`: three events a day up to `counts_until`, no data after."""
    days = (last - first).days + 1
    return [((first + timedelta(days=i)).isoformat(), 3 if first + timedelta(days=i) <= counts_until else None)
            for i in range(days)]


# --- the charts alone ------------------------------------------------------------------------------


def test_a_2020_ceiling_viewed_years_later_spans_its_data_and_window_not_the_years_since():
    chart = charts.ceiling({"limit": 10, "period": "day",
                            "daily": daily(date(2020, 3, 10), date(2026, 6, 15), date(2020, 4, 30))})
    assert chart.span == (date(2020, 3, 10), date(2020, 4, 30))
    assert chart.rows[-1][0] == "30 Apr 2020"  # daily bars again: 52 days, not six years of weeks
    assert all(day.year == 2020 for day, _label in chart.ticks)
    assert "No source covered any day from 1 May 2020 to 15 Jun 2026 (2237 days): not drawn." in chart.note
    # The bars fill the plot: the last one ends at its right edge, not 2 % of the way along.
    last = chart.rects[-1]
    assert float(last["x"]) + float(last["w"]) > charts.LEFT + charts.PLOT_W - 5


def test_a_ceiling_with_data_up_to_the_as_of_day_is_drawn_up_to_it():
    chart = charts.ceiling({"limit": 10, "period": "day",
                            "daily": daily(date(2026, 5, 1), date(2026, 6, 15), date(2026, 6, 10))})
    # Five days without data at the end are news (sources lag), not a gap to hide.
    assert chart.span == (date(2026, 5, 1), date(2026, 6, 15))
    assert "not drawn" not in chart.note


@pytest.mark.parametrize("first, last, pattern", [
    (date(2020, 3, 10), date(2020, 3, 25), DAY),
    (date(2020, 3, 10), date(2020, 6, 15), DAY),
    (date(2020, 3, 10), date(2021, 3, 1), MONTH),
    (date(2020, 3, 10), date(2026, 6, 15), re.compile(r"^\d{4}$")),
])
def test_time_axes_are_ticked_with_calendar_dates_and_never_crowded(first, last, pattern):
    ticks = charts.date_ticks(first, last)
    assert 2 <= len(ticks) <= charts.MAX_TICKS
    assert all(first <= day <= last for day, _label in ticks)
    assert all(pattern.match(label) for _day, label in ticks), ticks
    # The year is said once, then only where it changes.
    years = [label for _day, label in ticks if re.search(r"\d{4}", label)]
    assert len(years) == len({day.year for day, _label in ticks})


def test_a_year_of_weeks_is_ticked_at_month_starts_and_the_chart_draws_those_ticks():
    chart = charts.ceiling({"limit": 10, "period": "day",
                            "daily": daily(date(2020, 3, 10), date(2021, 3, 1), date(2021, 3, 1))})
    assert [day.day for day, _label in chart.ticks] == [1] * len(chart.ticks)
    labels = [t["text"] for t in chart.texts if t["cls"] == "tick" and not t["text"].isdigit()]
    assert labels == [label for _day, label in chart.ticks]
    assert labels[0] == "May 2020" and "Jan 2021" in labels


def test_the_last_90_days_view_draws_only_those_days_and_keeps_the_running_total():
    details = {"limit": 500, "period": "window",
               "daily": daily(date(2020, 3, 10), date(2020, 12, 31), date(2020, 12, 31))}
    whole = charts.ceiling(details)
    recent = charts.ceiling(details, recent=True)
    assert whole.span == (date(2020, 3, 10), date(2020, 12, 31)) and not whole.recent
    assert recent.span == (date(2020, 10, 3), date(2020, 12, 31)) and recent.recent
    assert len(recent.rows) == 90 and recent.headers[0] == "Day"
    assert recent.rows[-1][1] == 3 * 297  # the running total counts from the window's opening
    assert recent.note.startswith("The last 90 days are shown; the whole period runs from 10 Mar 2020 to 31 Dec 2020.")
    # A window shorter than that has nothing to switch to.
    short = charts.ceiling({"limit": 5, "period": "day", "daily": daily(date(2020, 3, 10), date(2020, 3, 20),
                                                                      date(2020, 3, 20))}, recent=True)
    assert not short.recent and len(short.rows) == 11


# --- the pages ---------------------------------------------------------------------------------------


@pytest.fixture
def published():
    with time_machine.travel(NOW, tick=False):
        call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
        call_command("load_demo", stdout=StringIO())
        agreement = Agreement.objects.get(slug=SLUG)
        agreement.publish_computed_verdicts = True
        agreement.save()
        yield agreement


def chart_of(markup):
    figure = re.search(r'<figure class="chart.*?</figure>', markup, flags=re.DOTALL).group(0)
    # The time axis's labels (the y axis's are numbers).
    ticks = [t for t in re.findall(r'<text [^>]*class="tick"[^>]*>([^<]+)</text>', figure) if not t.isdigit()]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>", figure)
    return figure, ticks, rows


def ceiling_page(client, **params):
    response = client.get(reverse("pages:commitment", kwargs={"agreement": SLUG, "key": CEILING}), params)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


@pytest.mark.django_db
def test_the_demo_ceiling_seen_today_is_drawn_over_2020_with_month_ticks(client, published):
    figure, ticks, rows = chart_of(ceiling_page(client))
    # The demo's dataset covers February to April 2020; the window opened on 10 March 2020.
    assert rows[0] == "10 Mar 2020" and rows[-1] == "30 Apr 2020"
    assert ticks and all(DAY.match(t) for t in ticks)
    assert not any(t.startswith("2026") or t.endswith("2026") for t in ticks)
    assert "No source covered any day from 1 May 2020 to 15 Jun 2026" in text(figure)


@pytest.mark.django_db
def test_the_90_day_link_changes_the_span_and_keeps_the_cutoffs(client, published):
    # 52 days with data: nothing to switch between.
    assert '<nav class="chart-span"' not in ceiling_page(client, as_of="2020-04-30", known_at="2020-06-01")
    # The dataset declares it covers May to December too: 144 days to 31 July, drawn as weeks.
    dataset = Source.objects.get(name__startswith="Demo event dataset")
    Coverage.objects.create(source=dataset, starts_on=date(2020, 5, 1), ends_on=date(2020, 12, 31),
                            country="Afghanistan", recorded_at=datetime(2020, 5, 5, tzinfo=UTC))
    cut = {"as_of": "2020-07-31", "known_at": "2020-08-01"}
    page = ceiling_page(client, **cut)
    _figure, _ticks, rows = chart_of(page)
    assert "Week from" in page and rows[0] == "10 Mar 2020"
    link = re.search(r'<nav class="chart-span".*?</nav>', page, flags=re.DOTALL).group(0)
    assert text(link) == "Whole period · Last 90 days"
    # Without JavaScript: the link is an address, naming the cutoffs as the page's own address does.
    href = re.search(r'href="([^"]+)"', link).group(1).replace("&amp;", "&")
    assert "span=90" in href and "as_of=2020-07-31" in href and "known_at=2020-08-01" in href
    assert href.startswith("?")  # the same page, at another address
    recent = client.get(reverse("pages:commitment", kwargs={"agreement": SLUG, "key": CEILING}) + href)
    assert recent.status_code == 200
    page = recent.content.decode()
    _figure, ticks, rows = chart_of(page)
    assert rows[0] == "3 May 2020" and rows[-1] == "31 Jul 2020" and len(rows) == 90
    assert ticks and all(DAY.match(t) for t in ticks)
    assert "The last 90 days are shown; the whole period runs from 10 Mar 2020 to 31 Jul 2020." in text(page)
    back = re.search(r'<nav class="chart-span".*?</nav>', page, flags=re.DOTALL).group(0)
    assert "span=" not in back and "as_of=2020-07-31" in back
    # An unknown value is the whole period: no value asks for more work than the page's own.
    assert "Week from" in ceiling_page(client, **cut, span="99999")


@pytest.mark.django_db
def test_the_90_day_link_still_refuses_cutoffs_out_of_range(client, published):
    url = reverse("pages:commitment", kwargs={"agreement": SLUG, "key": CEILING})
    response = client.get(url, {"as_of": "9999-01-01", "known_at": "9999-01-01", "span": "90"})
    assert response.status_code == 400
    assert "“as of” must be from" in text(response.content.decode())


@pytest.mark.django_db
def test_latest_evidence_is_the_report_the_verdict_rests_on_not_a_later_weaker_one(client, published):
    page = client.get(reverse("pages:agreement", kwargs={"agreement": SLUG}),
                      {"as_of": "2020-06-10", "known_at": "2020-06-10"}).content.decode()
    al_qaeda = row(page, "cut-ties-al-qaeda")
    assert "Breached" in al_qaeda
    # Breached on the UN mission's report of 27 May; the Taliban's own denial of 2 June (D5) decides nothing.
    assert "27 May 2020 : A UN monitoring report finds the Taliban consulted al-Qaeda" in al_qaeda
    assert "denies any ties" not in al_qaeda


# --- one "since" -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_verdict_box_history_feed_and_email_agree_on_when_a_breach_began(client, published, settings):
    """A breach recorded when it was first seen keeps that instant on every output, after a report learned
    later dates it earlier (the engine alone would now say it began then; the box says so, apart)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    al_qaeda = published.commitments.get(key="cut-ties-al-qaeda")
    am.Subscription.objects.create(agreement=published, email="reader@example.org",
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    for day in (datetime(2020, 5, 20, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)):
        run_sweep(now=day)
        send_due(day)
    change = StatusChange.objects.filter(commitment=al_qaeda, party__isnull=True).order_by("-detected_at").first()
    assert change.new_status == "breached"
    began = change.effective_at  # 27 May 2020, the UN mission's report
    local = began.astimezone(ZoneInfo("Asia/Kabul"))
    # Learned in September: a meeting on 10 March, which the engine now dates the breach from.
    wire = Source.objects.get(name="Wire service (demo)")
    Report.objects.create(source=wire, source_ref="aq-march", category="al_qaeda_ties", actor1="Taliban",
                          summary="Taliban and al-Qaeda figures met on 10 March.", credibility=2,
                          occurred_at=datetime(2020, 3, 10, 6, tzinfo=UTC),
                          recorded_at=datetime(2020, 9, 20, tzinfo=UTC))
    run_sweep(now=datetime(2020, 9, 25, tzinfo=UTC))
    latest = StatusChange.objects.filter(commitment=al_qaeda, party__isnull=True).order_by("-detected_at").first()
    assert latest == change  # still breached: nothing new recorded

    cut = {"as_of": "2020-09-30", "known_at": "2020-09-30"}
    api = client.get(reverse("api:commitment-detail", kwargs={"agreement": SLUG, "key": al_qaeda.key}), cut).json()
    assert api["verdict"]["status"] == "breached"
    assert parse_datetime(api["verdict"]["since"]) == began  # the recorded instant, not the engine's 10 March
    listed = client.get(reverse("api:commitment-list", kwargs={"agreement": SLUG}), cut).json()["commitments"]
    assert parse_datetime(next(c for c in listed if c["key"] == al_qaeda.key)["verdict"]["since"]) == began
    out = StringIO()
    call_command("compliance", "--json", "--agreement", SLUG, "--as-of", "2020-09-30", stdout=out)
    compliance = next(c for c in json.loads(out.getvalue())["agreements"][0]["commitments"] if c["key"] == al_qaeda.key)
    assert compliance["status"] == "breached"
    assert datetime.fromisoformat(compliance["since"]) == began
    assert compliance["computed"]["since"].startswith("2020-03-10")  # the engine's own, said apart
    page = text(client.get(reverse("pages:commitment", kwargs={"agreement": SLUG, "key": al_qaeda.key}),
                           cut).content.decode())
    box = page.split("Verdict", 1)[1].split("Chart", 1)[0]
    assert f"In this status since {local.day} {local:%B %Y}, {local:%H:%M}." in box
    assert "Reports learned after this change was recorded date its start to 10 March 2020, 10:30" in box
    history = page.split("Status history", 1)[1]
    assert f"{local.day} {local:%b %Y}, {local:%H:%M} No data → Breached" in history
    feed = client.get(reverse("pages:commitment-feed", kwargs={"agreement": SLUG, "key": al_qaeda.key})).content
    assert f"Effective {began.isoformat()}".encode() in feed
    # Found days after it took effect, the alert was folded into a summary of past changes: the same day.
    sent = [m.body for m in mail.outbox if "Breached" in m.body]
    assert sent and f"Breached on {local.day} {local:%B %Y}: The Taliban cut their ties with al-Qaeda" in sent[0]


@pytest.mark.django_db
def test_an_owing_partys_since_in_the_api_is_its_recorded_change_not_a_later_reports_date(client):
    """Several parties owe it `each`: a party's `since` is its own history's instant, as its alert gave it."""
    agreement = AgreementFactory(slug="minsk", publish_computed_verdicts=True)
    ukraine, dpr = PartyFactory(name="Ukraine", slug="ukraine"), PartyFactory(name="DPR", slug="dpr")
    talks = CommitmentFactory(agreement=agreement, key="talks", due_offset=10, owed_by=(ukraine, dpr), share="each",
                              rule={"categories": ["withdrawal"]})
    osce = SourceFactory(name="OSCE SMM", reliability="A")

    def withdrawal(actor, day, recorded):
        ReportFactory(category="withdrawal", actor1=actor, source=osce,
                      occurred_at=datetime(2020, 3, day, 8, tzinfo=UTC), recorded_at=recorded)

    withdrawal("Ukraine", 5, datetime(2020, 3, 5, 9, tzinfo=UTC))
    withdrawal("DPR", 14, datetime(2020, 3, 14, 9, tzinfo=UTC))  # late: due by the end of 10 March
    run_sweep(now=datetime(2020, 3, 15, tzinfo=UTC))
    recorded = StatusChange.objects.filter(commitment=talks, party=dpr).latest("id")
    assert recorded.new_status == "met_late"
    # Learned later: DPR withdrew on 12 March already. Still late, so nothing new is recorded for it.
    withdrawal("DPR", 12, datetime(2020, 3, 20, tzinfo=UTC))
    run_sweep(now=datetime(2020, 3, 21, tzinfo=UTC))
    assert StatusChange.objects.filter(commitment=talks, party=dpr).latest("id") == recorded

    cut = {"as_of": "2020-03-25", "known_at": "2020-03-25"}
    api = client.get(reverse("api:commitment-detail", kwargs={"agreement": "minsk", "key": "talks"}), cut).json()
    party = next(p for p in api["verdict"]["parties"] if p["party"] == "dpr")
    assert party["status"] == "met_late"
    assert parse_datetime(party["since"]) == recorded.effective_at
    out = StringIO()
    call_command("compliance", "--json", "--agreement", "minsk", "--as-of", "2020-03-25", stdout=out)
    [commitment] = json.loads(out.getvalue())["agreements"][0]["commitments"]
    engine = next(p for p in commitment["computed"]["parties"] if p["party"] == "dpr")
    assert datetime.fromisoformat(engine["since"]) != recorded.effective_at  # the engine's own moved to 12 March
