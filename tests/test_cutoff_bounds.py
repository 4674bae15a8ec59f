""""As of" and "as known at" are bounded, and so is the work one anonymous request can cause (issue 11, finding 1).

`GET /agreements/<a>/commitments/<ceiling>/?as_of=9999-01-01&known_at=9999-01-01` took 158 s of CPU:
the ceiling's chart walked every day from 2020 to the year 9999. Now:

- `as_of` is accepted from the agreement's signing, less its longest window, to five years from today;
  `known_at` from the same day to now (a `known_at` in the future is a 400). Every public URL (pages,
  feeds, the calendar, badges, the API) answers a value outside that, or one that overflows date
  arithmetic, with a 400 that says the accepted range, never a 500, and before any verdict is worked
  out (the pages that take cutoffs show the status now beside the message, as for a value that is
  not a date: bounded work, the same as any page).
- A chart draws at most `charts.MAX_BARS` bars whatever the span.
- Uncached renders are rate-limited per client (`MONITOR_RENDER_RATE`); pages served from the
  cache never are.

The URL walk takes every pattern from Django's URL resolver under the public namespaces, so a new
public URL is covered without touching this file.
"""

import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from monitor.evidence.models import Report
from monitor.pages import cache, charts, instants
from monitor.verdicts import inputs
from terms.models import Agreement
from tests.factories import UserFactory

SLUG = "us-taliban-2020"
CEILING = "violence-major-cities"
KABUL = ZoneInfo("Asia/Kabul")
# A fixed "now", so that the accepted range is known to the day.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TODAY = date(2026, 6, 15)
LAST_AS_OF = TODAY + relativedelta(years=5)  # 2031-06-15
# The demo is signed 29 February 2020; its longest window runs 10 days (the ceiling starts on day 10).
EARLIEST = date(2020, 2, 19)
# Days a ceiling can walk at most: from the earliest accepted day to the last.
MAX_DAYS = (LAST_AS_OF - EARLIEST).days + 1
# The pages' own ceiling on queries (tests/test_pages_queries.py: a cited view reads the history and
# judges once more for its banner); a request refused before any work reads at most the agreement and
# the data version.
MAX_QUERIES = 34
REFUSED_QUERIES = 3

PUBLIC_NAMESPACES = {"pages", "api"}


# --- the public URLs, from the resolver ----------------------------------------------------------


def public_patterns():
    """(namespaced name, [path parameters]) of every URL pattern under the public namespaces."""
    found = []

    def walk(patterns, namespaces):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, namespaces + ([p.namespace] if p.namespace else []))
            elif isinstance(p, URLPattern) and namespaces and namespaces[0] in PUBLIC_NAMESPACES and p.name:
                found.append((":".join(namespaces + [p.name]), list(p.pattern.regex.groupindex)))

    walk(get_resolver().url_patterns, [])
    return found


def public_urls(*, agreement, keys, pk, attachment=(1, "capture.pdf")):
    """Every public URL, its path parameters filled in: one per commitment key where a pattern takes one.

    `pk`: a report's; `attachment`: (id, name) of a file kept with that report. The default names none that
    exists, which is enough where cutoffs are refused before the file is looked up.
    """
    values = {"agreement": [agreement], "key": list(keys), "pk": [pk], "report": [pk], "attachment": [attachment[0]],
              "name": [attachment[1]]}
    urls = []
    for name, params in public_patterns():
        unknown = [p for p in params if p not in values]
        assert not unknown, f"{name} takes {unknown}: say in public_urls() how to fill them"
        combos = [{}]
        for param in params:
            combos = [{**c, param: v} for c in combos for v in values[param]]
        urls += [reverse(name, kwargs=c) for c in combos]
    return urls


def test_the_walk_finds_every_kind_of_public_url():
    names = {name for name, _params in public_patterns()}
    assert {
        "pages:home", "pages:method", "pages:agreement", "pages:commitment", "pages:agreement-feed",
        "pages:commitment-feed", "pages:deadlines", "pages:badge", "api:root", "api:schema",
        "api:agreement-list", "api:agreement-detail", "api:commitment-list", "api:commitment-detail",
        "api:commitment-reports", "api:report-list", "api:report-detail", "api:statuschange-list",
    } <= names
    assert not any(name.startswith(("admin:", "alerts:", "accounts:")) for name in names)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def demo(clock):
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    agreement = Agreement.objects.get(slug=SLUG)
    agreement.publish_computed_verdicts = True
    agreement.save()
    return agreement


class Work:
    """What the verdict engine was asked for during a request: refuses to start unbounded work.

    On the code before the bounds, the 9999 request would walk three million days; this stops it
    at once with a failure instead of letting it run for minutes.
    """

    def __init__(self, real):
        self.real = real
        self.calls = []
        self.days = 0

    def __call__(self, agreements, *, as_of, known_at=None, **options):  # options: `recorded`
        known_at = as_of if known_at is None else known_at
        self.calls.append((as_of, known_at))
        latest = datetime.combine(LAST_AS_OF + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
        earliest = datetime.combine(EARLIEST - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        assert earliest <= as_of <= latest, f"unbounded work: verdicts asked for as of {as_of!r}"
        assert earliest <= known_at <= NOW + timedelta(minutes=1), f"unbounded: known at {known_at!r}"
        standings = self.real(agreements, as_of=as_of, known_at=known_at, **options)
        for s in standings:
            self.days = max(self.days, len(s.computed.details.get("daily") or ()))
        return standings


@pytest.fixture
def work(monkeypatch):
    """Watches `inputs.standings`, and `standings_and_evidence`, which the commitment page asks for: the same work."""
    real = inputs.standings_and_evidence
    kept = {}

    def judged(agreements, **options):
        found, kept["evidence"] = real(agreements, **options)
        return found

    spy = Work(judged)
    monkeypatch.setattr(inputs, "standings", lambda agreements, **options: spy(agreements, **options))
    monkeypatch.setattr(inputs, "standings_and_evidence",
                        lambda agreements, **options: (spy(agreements, **options), kept["evidence"]))
    return spy


def bars(response):
    return len(re.findall(rb'<rect [^>]*class="(?:bar|bar over|nodata)"', response.content))


# --- every public URL refuses what it cannot accept ---------------------------------------------

TOMORROW = (TODAY + timedelta(days=2)).isoformat()  # tomorrow in every zone
PAST_FIVE_YEARS = (LAST_AS_OF + timedelta(days=2)).isoformat()
REFUSED = {
    "as_of overflows": {"as_of": "9999-12-31T23:59:59"},
    "as_of overflows in its zone": {"as_of": "0001-01-01T00:00+14:00"},
    "known_at overflows": {"known_at": "9999-12-31T23:59:59"},
    "known_at overflows in its zone": {"known_at": "0001-01-01T00:00+14:00"},
    "both overflow": {"as_of": "9999-12-31T23:59:59", "known_at": "0001-01-01T00:00+14:00"},
    "the last day python holds": {"as_of": "9999-12-31", "known_at": "9999-12-31"},
    "the 158 s request": {"as_of": "9999-01-01", "known_at": "9999-01-01"},
    "as of 2500": {"as_of": "2500-01-01", "known_at": "2020-06-01"},
    "as of past five years from today": {"as_of": PAST_FIVE_YEARS, "known_at": "2020-06-01"},
    "as of past five years, alone": {"as_of": PAST_FIVE_YEARS},
    "known at in the future": {"as_of": "2020-06-01", "known_at": TOMORROW},
    "known at in the future, a minute": {"as_of": "2020-06-01", "known_at": "2026-06-15T12:02Z"},
    "before 1900": {"as_of": "1800-01-01", "known_at": "1800-01-01"},
}


def _urls():
    # Patterns are read at collection; parameters are filled in the test, from the fixtures.
    return [name for name, _params in public_patterns()]


@pytest.mark.django_db
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", _urls())
def test_every_public_url_refuses_out_of_range_and_overflowing_cutoffs_with_a_400_and_bounded_work(
    client, demo, work, name
):
    report = Report.objects.filter(visibility="public", source__may_republish=True).first()
    urls = public_urls(agreement=SLUG, keys=[CEILING], pk=report.pk)
    pattern_urls = [u for u in urls if _name_of(u) == name]
    assert pattern_urls, name
    for url in pattern_urls:
        for case, params in REFUSED.items():
            before = len(work.calls)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, params)
            assert response.status_code == 400, (url, case, response.status_code, response.content[:300])
            worked = len(work.calls) > before
            assert len(queries) <= (MAX_QUERIES if worked else REFUSED_QUERIES), (url, case, len(queries))
            # A page that takes cutoffs shows the status now beside the message: the work of any page.
            assert all(call == (NOW, NOW) for call in work.calls[before:]), (url, case, work.calls[before:])
            assert work.days <= MAX_DAYS
            assert bars(response) <= charts.MAX_BARS
            assert len(response.content) < 300_000, (url, case, len(response.content))
            # The answer says what was wrong: the field, and the accepted range or what is not a date.
            body = response.content.decode()
            assert "as_of" in body or "known_at" in body or "“as of”" in body or "“as known at”" in body, (url, case)


def _name_of(url):
    from django.urls import resolve

    match = resolve(url)
    return f"{':'.join(match.namespaces)}:{match.url_name}"


# --- the accepted range, at its edges -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.timeout(120)
def test_as_of_five_years_ahead_is_accepted_and_walks_a_bounded_number_of_days(client, demo, work):
    url = reverse("pages:commitment", kwargs={"agreement": SLUG, "key": CEILING})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"as_of": LAST_AS_OF.isoformat(), "known_at": TODAY.isoformat()})
    assert response.status_code == 200
    assert len(queries) <= MAX_QUERIES
    assert 0 < work.days <= MAX_DAYS
    assert 0 < bars(response) <= charts.MAX_BARS
    api = client.get(reverse("api:commitment-detail", kwargs={"agreement": SLUG, "key": CEILING}),
                     {"as_of": LAST_AS_OF.isoformat(), "known_at": TODAY.isoformat()})
    assert api.status_code == 200
    assert len(api.json()["verdict"]["details"]["daily"]) <= MAX_DAYS
    assert len(api.content) < 1_000_000


@pytest.mark.django_db
def test_the_first_accepted_day_is_the_signing_less_the_longest_window(client, demo, work):
    url = reverse("api:commitment-list", kwargs={"agreement": SLUG})
    assert client.get(url, {"as_of": EARLIEST.isoformat()}).status_code == 200
    response = client.get(url, {"as_of": (EARLIEST - timedelta(days=1)).isoformat()})
    assert response.status_code == 400
    message = response.json()["as_of"][0]
    assert "2020-02-19" in message and LAST_AS_OF.isoformat() in message
    response = client.get(url, {"as_of": "2020-03-01", "known_at": (EARLIEST - timedelta(days=1)).isoformat()})
    assert response.status_code == 400 and "2020-02-19" in response.json()["known_at"][0]


@pytest.mark.django_db
def test_known_at_in_the_future_is_a_400_that_says_so_and_today_is_now(client, demo, work):
    url = reverse("api:commitment-detail", kwargs={"agreement": SLUG, "key": "talks-begin"})
    response = client.get(url, {"as_of": "2020-06-01", "known_at": TOMORROW})
    assert response.status_code == 400
    assert "future" in response.json()["known_at"][0]
    today = client.get(url, {"as_of": "2020-06-01", "known_at": TODAY.isoformat()})
    assert today.status_code == 200
    # Today's date, whose end is still to come, means as known now.
    assert work.calls[-1] == (datetime(2020, 6, 1, 19, 29, 59, 999999, tzinfo=UTC), NOW)


@pytest.mark.django_db
def test_the_page_explains_the_accepted_range_and_shows_now(client, demo, work):
    url = reverse("pages:commitment", kwargs={"agreement": SLUG, "key": CEILING})
    response = client.get(url, {"as_of": "9999-01-01", "known_at": "9999-01-01"})
    assert response.status_code == 400
    text = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    assert "“as of” must be from 2020-02-19 to 2031-06-15" in text
    assert "Showing the status now instead." in text
    assert work.calls == [(NOW, NOW)]


@pytest.mark.django_db
def test_as_of_alone_in_the_future_redirects_to_the_view_as_known_now(client, demo, work):
    url = reverse("pages:agreement", kwargs={"agreement": SLUG})
    response = client.get(url, {"as_of": "2028-01-01"})
    assert response.status_code == 302
    assert "as_of=2028-01-01" in response["Location"] and "known_at=2026-06-15T12%3A00Z" in response["Location"]
    assert client.get(response["Location"]).status_code == 200
    # In the past, alone, it still means "as known then".
    response = client.get(url, {"as_of": "2020-03-01"})
    assert "known_at=2020-03-01" in response["Location"]


# --- the cutoffs alone -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "9999-12-31T23:59:59", "0001-01-01T00:00+14:00", "9999-12-31", "0001-01-01", "9999-12-31T23:59-14:00",
    "0001-01-01T00:00:00.000001+23:59",
])
@pytest.mark.parametrize("field", [instants.AS_OF, instants.KNOWN_AT])
def test_a_value_that_overflows_date_arithmetic_is_refused_with_the_accepted_range(value, field):
    with pytest.raises(instants.BadInstant) as raised:
        instants.cutoffs({field: value}, KABUL, now=NOW, earliest=EARLIEST)
    assert raised.value.field == field
    assert "2020-02-19" in raised.value.message


def test_a_value_that_is_not_a_date_still_says_so():
    with pytest.raises(instants.BadInstant) as raised:
        instants.cutoffs({"as_of": "yesterday"}, KABUL, now=NOW, earliest=EARLIEST)
    assert "is not a date" in raised.value.message


def test_without_an_agreement_the_range_runs_from_1900():
    assert instants.cutoffs({"as_of": "1900-01-01"}, UTC, now=NOW).as_of.year == 1900
    with pytest.raises(instants.BadInstant):
        instants.cutoffs({"as_of": "1899-12-31"}, UTC, now=NOW)


# --- uncached renders are rate-limited per client ----------------------------------------------------


@pytest.fixture
def fresh_cache():
    from django.core.cache import cache as redis

    redis.clear()
    cache.recent.clear()
    yield
    redis.clear()
    cache.recent.clear()


CLIENT = "203.0.113.7"
OTHER_CLIENT = "198.51.100.4"


@pytest.mark.django_db(transaction=True)
def test_the_render_past_the_rate_from_one_client_is_a_429_while_cached_pages_are_still_served(
    client, demo, settings, fresh_cache
):
    settings.MONITOR_RENDER_RATE = "3/m"
    page = reverse("pages:commitment", kwargs={"agreement": SLUG, "key": "talks-begin"})

    def get(as_of, address=CLIENT):
        return client.get(page, {"as_of": as_of, "known_at": as_of}, REMOTE_ADDR=address)

    first = get("2020-04-01")
    assert first.status_code == 200  # render 1
    assert get("2020-04-01").content == first.content  # from the cache: not counted
    assert get("2020-04-02").status_code == 200  # render 2
    assert get("2020-04-03").status_code == 200  # render 3
    refused = get("2020-04-04")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # What is cached is still served to that client, and other clients are not held back.
    assert get("2020-04-01").content == first.content
    assert get("2020-04-02").status_code == 200
    assert get("2020-04-05", address=OTHER_CLIENT).status_code == 200
    # The API's verdicts are uncached renders too.
    api = client.get(reverse("api:commitment-list", kwargs={"agreement": SLUG}), {"as_of": "2020-04-06"},
                     REMOTE_ADDR=CLIENT)
    assert api.status_code == 429 and int(api["Retry-After"]) > 0
    assert "throttled" in api.json()["detail"]
    # The rate runs per window: a minute later the client may render again.
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        assert get("2020-04-07").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_rate_limit_can_be_turned_off_and_never_holds_back_staff(client, demo, settings, fresh_cache):
    page = reverse("pages:agreement", kwargs={"agreement": SLUG})
    settings.MONITOR_RENDER_RATE = ""
    for day in range(1, 6):
        assert client.get(page, {"as_of": f"2020-04-0{day}", "known_at": "2020-06-01"},
                          REMOTE_ADDR=CLIENT).status_code == 200
    settings.MONITOR_RENDER_RATE = "1/m"
    client.force_login(UserFactory(username="analyst"))
    for day in range(1, 4):
        assert client.get(page, {"as_of": f"2020-05-0{day}", "known_at": "2020-06-01"},
                          REMOTE_ADDR=CLIENT).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_behind_a_proxy_the_client_is_the_address_the_proxy_adds(client, demo, settings, fresh_cache):
    settings.MONITOR_RENDER_RATE = "1/m"
    settings.BEHIND_PROXY, settings.TRUSTED_PROXY_HOPS = True, 1
    page = reverse("pages:agreement", kwargs={"agreement": SLUG})

    def get(day, forwarded):
        # The proxy on this machine connects from 127.0.0.1 and appends the client's address.
        return client.get(page, {"as_of": f"2020-04-0{day}", "known_at": "2020-06-01"}, REMOTE_ADDR="127.0.0.1",
                          HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert get(1, f"10.0.0.1, {CLIENT}") == 200
    # A client cannot get a fresh allowance by sending an address of its choosing first.
    assert get(2, f"10.0.0.2, {CLIENT}") == 429
    assert get(3, OTHER_CLIENT) == 200
