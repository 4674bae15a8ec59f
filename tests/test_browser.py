"""The public pages in a real headless Chromium: what a reader sees, on a desktop and on a phone.

Each test saves screenshots (kept in $MONITOR_SCREENSHOTS when set: tests/browser/__init__.py);
docs/screenshot-agreement.png in the README is one of them.
"""

import os
from datetime import UTC, datetime
from io import StringIO

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.test import override_settings
from playwright.sync_api import sync_playwright

from monitor.evidence.models import VERIFIED, Report, Source
from terms.models import Agreement
from tests.browser import CHROMIUM_ARGS, chromium_path, screenshot, serious_violations

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AGREEMENT = "/agreements/us-taliban-2020/"
HOSTILE = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2"> Talks "resumed"'


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an asyncio event loop in this thread, and Django then refuses
    # database calls from it ("async context"). The ones this module makes (loading the demo data,
    # flushing the database after each test) are plain synchronous calls, made while no page is
    # being driven, so they are safe: allowed here, for this module only, and restored afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def plain_http():
    # The live server is started once per session and builds its middleware then, before the per-test
    # settings in conftest.py apply: without this, SecurityMiddleware would send the browser to https://.
    # Requested before `live_server` (same scope, argument order), so it applies when the server starts.
    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture
def site(plain_http, live_server):
    """The seed agreement with the demo reports, publishing computed verdicts so they can be seen to change."""
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    Agreement.objects.filter(slug="us-taliban-2020").update(publish_computed_verdicts=True)
    return live_server.url


@pytest.fixture
def quick_start(plain_http, live_server):
    """The seed agreement with the demo as bin/start loads it: computed verdicts unpublished, the demo's assessed."""
    call_command("load_agreement", "agreements/us-taliban-2020.yaml", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    return live_server.url


@pytest.fixture
def page(browser):
    """A desktop-sized page; the test fails if the Content-Security-Policy blocked anything on it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()
    assert blocked == [], "the page broke its own Content-Security-Policy:\n" + "\n".join(blocked)


def status_of(page, key):
    return page.locator(f"#c-{key}").get_attribute("data-status")


def test_agreement_page_lists_every_commitment_with_a_headline_and_loads_its_own_stylesheet(quick_start, page):
    # The page bin/start prints a link to, as the README's screenshot shows it.
    page.goto(f"{quick_start}{AGREEMENT}?as_of=2020-06-01&known_at=2020-06-01")
    assert page.locator("h1").inner_text() == "US–Taliban agreement (Doha, 2020)"
    assert page.locator("table.commitments tbody tr").count() == 7
    headline = page.locator("dl.headline").inner_text()
    # Published verdicts only: the demo analyst's assessed ones, and two commitments awaiting an analyst.
    for word in ("Met", "Missed", "Breached", "Awaiting an analyst"):
        assert word in headline
    assert "2 commitments awaiting an analyst" in page.locator("p.awaiting-note").inner_text()
    assert status_of(page, "cut-ties-al-qaeda") == "breached"
    assert "Breached" in page.locator("#c-cut-ties-al-qaeda").inner_text()  # the word, not only a colour
    assert status_of(page, "violence-major-cities") == "provisional"
    # The stylesheet came from the app itself (whitenoise in production, the static handler here).
    header = page.evaluate("getComputedStyle(document.querySelector('header.site')).backgroundColor")
    assert header == "rgb(36, 41, 47)"
    screenshot(page, "agreement")


def test_agreement_page_reads_on_a_phone_without_sideways_scrolling(site, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.goto(f"{site}{AGREEMENT}?as_of=2020-06-01&known_at=2020-06-01")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # Each commitment becomes a card whose cells carry their column's name.
    assert page.locator("#c-talks-begin td[data-label='Status']").is_visible()
    screenshot(page, "agreement-phone")
    context.close()


def test_commitment_page_draws_its_chart_beside_the_same_data_as_a_table(site, page):
    page.goto(
        f"{site}{AGREEMENT}commitments/violence-major-cities/?as_of=2020-03-25&known_at=2020-06-01"
    )
    chart = page.locator("figure.chart svg[role=img]")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 400 and box["height"] > 100
    bars = page.locator("figure.chart svg[role=img] rect.bar")
    over = page.locator("figure.chart svg[role=img] rect.bar.over")
    assert bars.count() == 16  # 10 to 25 March
    assert over.count() >= 1
    assert page.locator(".chart-table tbody tr").count() == 16
    assert "yes" in page.locator(".chart-table").inner_text()  # days over the limit, in words
    screenshot(page, "commitment-ceiling")

    page.goto(f"{site}{AGREEMENT}commitments/troop-reduction/?as_of=2020-08-01&known_at=2020-08-01")
    assert page.locator("figure.chart svg[role=img] path.series").is_visible()
    assert page.locator("figure.chart svg[role=img] line.due").count() == 1
    screenshot(page, "commitment-target")

    page.goto(f"{site}{AGREEMENT}commitments/talks-begin/?as_of=2020-10-01&known_at=2020-10-01")
    timeline = page.locator("figure.chart svg[role=img]")
    assert timeline.is_visible()
    assert timeline.locator("circle.point").count() == 2  # 9 March (the claim) and 12 September
    assert timeline.locator("path.deny").count() == 1  # 10 March: "did not open as planned"
    assert timeline.locator("line.due").count() == 1 and timeline.locator("line.opens").count() == 1
    screenshot(page, "commitment-deadline")


def test_the_as_of_control_changes_the_verdicts_and_the_address_carries_both_dates(site, page):
    page.goto(f"{site}{AGREEMENT}?as_of=2020-03-09&known_at=2020-03-09")
    assert status_of(page, "talks-begin") == "due_soon"
    page.fill("#as_of", "2020-03-11")
    page.fill("#known_at", "2020-03-11")
    page.click("form.cutoffs button[type=submit]")
    page.wait_for_url("**as_of=2020-03-11**")
    assert "known_at=2020-03-11" in page.url
    assert status_of(page, "talks-begin") == "missed"
    assert "Missed" in page.locator("#c-talks-begin").inner_text()
    # Known later, the same day reads differently: the talks were reported open in September.
    page.fill("#known_at", "2020-10-01")
    page.fill("#as_of", "2020-10-01")
    page.click("form.cutoffs button[type=submit]")
    page.wait_for_url("**known_at=2020-10-01**")
    assert status_of(page, "talks-begin") == "met_late"
    screenshot(page, "agreement-as-of")


def test_a_report_written_as_html_and_script_is_shown_as_text_and_never_runs(site, page):
    wire = Source.objects.get(name="Wire service (demo)")
    report = Report.objects.create(
        source=wire,
        summary=HOSTILE,
        category="intra_afghan_talks_started",
        occurred_at=datetime(2020, 3, 8, 8, tzinfo=UTC),
        recorded_at=datetime(2020, 3, 8, 9, tzinfo=UTC),
        credibility=3,
        url="javascript:alert(1)",
    )
    report.set_verification(VERIFIED, at=datetime(2020, 3, 8, 10, tzinfo=UTC))
    page.goto(f"{site}{AGREEMENT}commitments/talks-begin/?as_of=2020-03-09&known_at=2020-03-09")
    item = page.locator(f"#report-{report.id}")
    assert HOSTILE in item.locator(".summary").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert item.locator("img, script").count() == 0
    assert item.locator("a[href^='javascript']").count() == 0
    page.goto(f"{site}{AGREEMENT}?as_of=2020-03-09&known_at=2020-03-09")
    assert HOSTILE in page.locator("#c-talks-begin").inner_text()
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "hostile-report")


A11Y_PAGES = {
    "home": "/",
    "agreement": f"{AGREEMENT}?as_of=2020-06-01&known_at=2020-06-01",
    "ceiling": f"{AGREEMENT}commitments/violence-major-cities/?as_of=2020-03-25&known_at=2020-06-01",
    "deadline": f"{AGREEMENT}commitments/talks-begin/?as_of=2020-10-01&known_at=2020-10-01",
    "method": "/method/",
}


def test_pages_have_no_serious_accessibility_violation(site, page):
    # One test for all pages: each browser test empties the database afterwards, which is the slow part.
    problems = {}
    for name, path in A11Y_PAGES.items():
        page.goto(f"{site}{path}")
        problems[name] = serious_violations(Axe().run(page))
    assert problems == {name: [] for name in A11Y_PAGES}
