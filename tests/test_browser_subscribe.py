"""A reader subscribes from the agreement page in a real browser and confirms by the link a real SMTP server received.

Issue 15: there was no form to subscribe (the sign-up URL answered GET with 405), and no choice of events nor
of a digest instead of each alert. The reader chooses both; the form on the page, the error beside the field,
"check your inbox", the confirmation page and "subscribed" all pass the axe check and say what was chosen.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from monitor.alerts import models as am
from monitor.alerts import sweep
from monitor.alerts.delivery import send_due
from tests.browser import screenshot, screenshots_dir, serious_violations
from tests.realparts import smtp  # noqa: F401  (fixture)
from tests.test_browser import AGREEMENT, browser, page, plain_http, site  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail_server(settings, smtp, site, monkeypatch):  # noqa: F811
    """Alerts go to a real SMTP server, with links to the live server; the test sends, as the worker would."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.SITE_ROOT = site
    monkeypatch.setattr(sweep, "_enqueue", lambda task: None)  # no worker here: the test calls send_due
    return smtp


def accessible(page):
    return serious_violations(Axe().run(page))


def test_a_reader_subscribes_from_the_agreement_page_and_confirms_by_the_emailed_link(site, page, mail_server):
    page.goto(f"{site}{AGREEMENT}?as_of=2020-06-01&known_at=2020-06-01")
    form = page.locator("form.subscribe")
    form.scroll_into_view_if_needed()
    assert form.get_by_label("Your email address").is_visible()
    events = form.get_by_role("group", name="Which events")
    assert all(box.is_checked() for box in events.get_by_role("checkbox").all())  # everything, at first
    assert events.get_by_label("Reminders 7 days and 1 day before each due date").is_checked()
    assert form.get_by_role("group", name="How to send them").get_by_label("Each alert as it happens",
                                                                           exact=True).is_checked()
    assert accessible(page) == []
    directory = screenshots_dir()
    directory.mkdir(parents=True, exist_ok=True)
    page.locator("section[aria-labelledby=subscribe-title]").screenshot(path=str(directory / "subscribe-form.png"))

    # A typo the browser lets through (no dot in the domain): the server says so beside the field.
    # Only bad news and disputes, in one daily digest; and a typo the browser lets through (no dot in the
    # domain): the server says so beside the field.
    form.get_by_label("Your email address").fill("reader@example")
    form.get_by_label("Good news", exact=False).uncheck()
    form.get_by_label("Reminders", exact=False).uncheck()
    form.get_by_label("One daily digest instead").check()
    form.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/alerts/subscribe/us-taliban-2020/")
    assert page.locator("#subscribe-email-error").inner_text().startswith("Enter a whole email address")
    assert page.get_by_label("Your email address").get_attribute("aria-invalid") == "true"
    # What was chosen is kept.
    assert page.get_by_label("One daily digest instead").is_checked()
    assert page.get_by_label("Bad news", exact=False).is_checked()
    assert page.get_by_label("Disputes", exact=False).is_checked()
    assert not page.get_by_label("Good news", exact=False).is_checked()
    assert not page.get_by_label("Reminders", exact=False).is_checked()
    assert accessible(page) == []
    screenshot(page, "subscribe-form-error")
    assert am.Subscription.objects.count() == 0

    page.get_by_label("Your email address").fill("reader@example.org")
    page.get_by_role("button", name="Subscribe").click()
    page.locator("h1", has_text="Check your inbox").wait_for()
    assert page.locator("header.site").is_visible()  # the site's layout
    assert accessible(page) == []
    screenshot(page, "subscribe-check-your-inbox")

    send_due(timezone.now())  # what the alerts worker does as soon as the sign-up is committed
    [received] = mail_server.wait_for(1)
    assert received.rcpt_tos == ["reader@example.org"]
    assert received.subject.endswith("Confirm your alerts for US–Taliban agreement (Doha, 2020)")
    # The text part labels each link: "Confirm your subscription: <address>".
    link = next(line.split(": ", 1)[-1].strip() for line in received.text.splitlines() if "/alerts/confirm/" in line)
    assert link.startswith(f"{site}/alerts/confirm/")
    assert am.Subscription.objects.get().confirmed_at is None

    page.goto(link)
    assert page.locator("h1").inner_text() == "Confirm your subscription?"
    chosen = page.locator("main").inner_text()
    assert "Sent as one daily digest instead of each alert" in chosen and "Bad news" in chosen
    assert "Good news" not in chosen and "Reminders" not in chosen
    assert accessible(page) == []
    screenshot(page, "subscribe-confirm")
    page.get_by_role("button", name="Confirm").click()
    page.locator("h1", has_text="Subscribed").wait_for()
    chosen = page.locator("main").inner_text()
    assert "Sent as one daily digest instead of each alert" in chosen and "Disputes" in chosen
    assert "Good news" not in chosen
    assert accessible(page) == []
    screenshot(page, "subscribe-subscribed")

    sub = am.Subscription.objects.get()
    assert sub.email == "reader@example.org" and sub.commitment is None
    assert sub.active and sub.delivery == am.DIGEST_INSTEAD and sub.events == [am.BAD_NEWS, am.DISPUTES]
