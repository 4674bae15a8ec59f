"""A cited link in a real browser: it keeps its verdict after a revision, says so, and links to the current view.

Issue 14, point 2: cited as of 1 October 2020, the talks that opened in September were "met late" against
the ten days the article gives. A revision then gives them 200 days (as if the text said so): the link
still shows "met late" with the revision named, and its link to the current view shows "met".
"""

import pytest
from axe_playwright_python.sync_playwright import Axe

from terms.models import Commitment, Revision
from tests.browser import screenshot, serious_violations
from tests.test_browser import AGREEMENT, browser, page, plain_http, site, status_of  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CITED = f"{AGREEMENT}?as_of=2020-10-01&known_at=2020-10-01"


def test_a_link_cited_before_a_revision_keeps_its_verdict_and_points_to_the_current_view(site, page):
    page.goto(f"{site}{CITED}")
    assert status_of(page, "talks-begin") == "met_late"
    assert page.locator(".later-change").count() == 0

    talks = Commitment.objects.get(key="talks-begin")
    talks.due_offset = 200  # as a revision of the file would, through save()
    talks.save()
    Revision.objects.create(agreement=talks.agreement, number=2, made_by="analyst", reason="200 days, per the text")

    page.goto(f"{site}{CITED}")
    assert status_of(page, "talks-begin") == "met_late"
    banner = page.locator(".later-change")
    assert banner.inner_text().startswith("Revision r2 of the terms changes this.")
    assert serious_violations(Axe().run(page)) == []
    screenshot(page, "cited-view-with-later-revision")

    banner.get_by_role("link", name="See the current view").click()
    page.wait_for_url("**as_of=2020-10-01**")
    assert status_of(page, "talks-begin") == "met"
    assert page.locator(".later-change").count() == 0
