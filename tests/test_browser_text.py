"""The signed Doha text's page in a real headless Chromium: every provision, its anchor, and a screenshot.

Screenshots are kept in $MONITOR_SCREENSHOTS when set (tests/browser/__init__.py), as in tests/test_browser.py;
docs/screenshot-text.png is this test's "text" screenshot.
"""

from io import StringIO

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command

from terms.models import Agreement
from tests.browser import screenshot, serious_violations
from tests.test_browser import browser, page, plain_http  # noqa: F401 (fixtures: the same Chromium set-up)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TEXT = "/agreements/us-taliban-2020-signed/text/"


@pytest.fixture
def signed_site(plain_http, live_server):  # noqa: F811
    call_command("load_agreement", "agreements/us-taliban-2020-signed.yaml", stdout=StringIO())
    Agreement.objects.filter(slug="us-taliban-2020-signed").update(publish_computed_verdicts=True)
    return live_server.url


def test_the_signed_text_page_shows_every_provision_and_a_link_lands_on_its_anchor(signed_site, page):  # noqa: F811
    page.goto(f"{signed_site}{TEXT}?as_of=2020-03-20&known_at=2020-03-20#part-one-a-1")
    assert page.locator("h1").inner_text() == "The text, provision by provision"
    assert page.locator("ol.provisions > li").count() == 24
    target = page.locator("#part-one-a-1")
    # The anchor is the one the browser went to: it is the :target, shown tinted, and in view.
    assert page.evaluate("document.querySelector(':target').id") == "part-one-a-1"
    assert target.is_visible() and target.locator("h2").inner_text() == "Part One, A.1"
    assert target.get_attribute("data-status") == "monitored"
    assert "Monitored" in target.inner_text() and "Security" in target.inner_text()
    # Its commitment with its status, in words; the target is not due until 13 July.
    commitment = target.locator("[data-commitment='forces-to-8600']")
    assert commitment.get_attribute("data-status") == "not_yet_due"
    assert "Not yet due" in commitment.inner_text()
    assert "Aspirational" in page.locator("#part-three-2").inner_text()
    assert "Missed" in page.locator("#preamble-point-3 [data-commitment='negotiations-start']").inner_text()
    screenshot(page, "text", full_page=False)  # the provision linked to, in view
    # The citation on a commitment page leads back to the provision.
    page.goto(f"{signed_site}/agreements/us-taliban-2020-signed/commitments/forces-to-8600/")
    page.click("p.citations a")
    page.wait_for_url("**#part-one-a-1")
    assert page.evaluate("document.querySelector(':target').id") == "part-one-a-1"
    assert serious_violations(Axe().run(page)) == []
