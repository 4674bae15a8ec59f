"""An analyst's day in a real browser: open the work queue, assess its top item, see it leave the queue."""

from datetime import UTC, datetime

import pytest
from axe_playwright_python.sync_playwright import Axe

from monitor.accounts.roles import ANALYST, grant_role
from monitor.alerts.sweep import run_sweep
from tests.browser import screenshot, serious_violations
from tests.factories import UserFactory
from tests.test_browser import browser, page, plain_http, site  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOP = "#queue-provisional tbody tr:first-child td:first-child a"


def log_in(page, site):
    user = grant_role(UserFactory(username="amina"), ANALYST)
    user.set_password("a long enough password")
    user.save()
    page.goto(f"{site}/admin/login/?next=/admin/")
    page.fill("#id_username", "amina")
    page.fill("#id_password", "a long enough password")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def test_an_analyst_clears_the_top_item_of_the_queue_and_it_leaves_the_queue(site, page):
    run_sweep(now=datetime.now(UTC))  # the stored verdicts the queue reads
    log_in(page, site)

    page.get_by_role("link", name="Work queue").click()
    page.wait_for_url("**/admin/queue/")
    assert serious_violations(Axe().run(page)) == []
    screenshot(page, "analyst-work-queue")
    top = page.locator(TOP)
    title = top.inner_text()
    listed = page.locator("#queue-provisional tbody tr").count()

    top.click()
    page.wait_for_url("**/admin/terms/commitment/**")
    form = page.locator("#assess")
    assert form.get_by_text("Evidence relied on").count() == 1
    form.locator("select[name='assessments-0-pam_grade']").select_option("1")
    form.locator("select[name='assessments-0-confidence']").select_option("high")
    form.locator("textarea[name='assessments-0-reason']").fill("Checked against the mission's own log.")
    screenshot(page, "analyst-assesses-a-verdict", full_page=False)
    page.locator("input[name='_continue']").click()
    page.wait_for_selector(".messagelist .success")

    page.goto(f"{site}/admin/queue/")
    titles = page.locator("#queue-provisional tbody tr td:first-child a").all_inner_texts()
    assert title not in titles and len(titles) == listed - 1
