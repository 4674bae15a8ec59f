"""The public sign-up form cannot flood someone else's inbox, and no link scanner can subscribe anyone.

Issue 12, cases 4 and 5: the same address from a thousand client addresses got a thousand confirmation
emails; a GET on the confirmation link confirmed, so mail scanners subscribed people, and an old link
opened after a one-click unsubscribe subscribed the address again.
"""

import re
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail, signing
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from monitor.alerts import messages, sweep
from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, CommitmentFactory

SUBSCRIBE = "/alerts/subscribe/deal/"
DEAL = "The deal"
CONFIRM_SUBJECT = f"[Compliance monitor] Confirm your alerts for {DEAL}"
MISSED_SUBJECT = f"[Compliance monitor] Missed: Talks begin ({DEAL})"


@pytest.fixture(autouse=True)
def _locmem_email_and_fresh_limits(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY = 3
    settings.MONITOR_SIGNUPS_PER_HOUR = "10"
    settings.MONITOR_HISTORY_DAYS = 30  # the deadline below was missed a day or two ago: an alert of its own
    cache.clear()  # the per-client sign-up counts
    yield
    cache.clear()


@pytest.fixture
def deal():
    """An agreement whose talks were due yesterday or the day before, and that publishes computed verdicts.

    So a confirmed outside subscriber is told "Missed" at the next sweep, and an unconfirmed one is not.
    """
    today = timezone.now().astimezone(ZoneInfo("Asia/Kabul")).date()
    agreement = AgreementFactory(slug="deal", title=DEAL, signed_on=today - timedelta(days=12),
                                 publish_computed_verdicts=True)
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", due_offset=10)
    return agreement


def sign_up(client, email, client_address="192.0.2.1", **fields):
    return client.post(SUBSCRIBE, {"email": email, **fields}, REMOTE_ADDR=client_address)


def delivered():
    """Sends what the outbox owes now; the messages that arrived, as (recipient, subject)."""
    send_due(timezone.now())
    return [(m.to[0], m.subject) for m in mail.outbox]


def confirmation_links(to):
    send_due(timezone.now())
    return [
        next(line.strip() for line in m.body.splitlines() if "/alerts/confirm/" in line).split("localhost:8000", 1)[1]
        for m in mail.outbox if m.to == [to] and m.subject == CONFIRM_SUBJECT
    ]


def alerts_after_a_sweep(to):
    """What a subscriber is told of the missed deadline by the next sweep."""
    now = timezone.now()
    run_sweep(now=now)
    send_due(now)
    return [m for m in mail.outbox if m.to == [to] and m.subject == MISSED_SUBJECT]


def press_confirm(path):
    """What a person does: open the link in a browser, then press the button (with its CSRF token)."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    return browser.post(path, {"csrfmiddlewaretoken": token})


# --- case 4: sign-up limits per recipient ---------------------------------------------------------


@pytest.mark.django_db
def test_one_address_signed_up_from_many_clients_gets_three_confirmations_and_the_same_page(client, deal):
    pages = [sign_up(client, "target@example.org", f"198.51.100.{i}") for i in range(1, 41)]
    assert delivered() == [("target@example.org", CONFIRM_SUBJECT)] * 3
    # Every client was answered alike: whoever sent the form cannot tell the fourth sign-up from the first.
    assert {p.status_code for p in pages} == {200}
    assert len({p.content for p in pages}) == 1
    assert b"Check your inbox" in pages[0].content


@pytest.mark.django_db
def test_the_limit_covers_every_agreement_and_commitment_an_address_is_signed_up_for(client, deal):
    other = AgreementFactory(slug="other", title="Another deal")
    CommitmentFactory(agreement=deal, key="prisoners", title="Prisoners released")
    for i, (url, fields) in enumerate([
        (SUBSCRIBE, {}), (SUBSCRIBE, {"commitment": "talks"}), (SUBSCRIBE, {"commitment": "prisoners"}),
        ("/alerts/subscribe/other/", {}), (SUBSCRIBE, {"digest": "on"}),
    ]):
        answer = client.post(url, {"email": "target@example.org", **fields}, REMOTE_ADDR=f"198.51.100.{i}")
        assert answer.status_code == 200
    assert len(delivered()) == 3
    assert other.subscriptions.count() == 1  # signed up; only the confirmation email was held back


@pytest.mark.django_db
def test_sub_addresses_of_one_inbox_share_its_limit(client, deal):
    for i in range(10):
        sign_up(client, f"Target+{i}@Example.org", f"198.51.100.{i}")
    sign_up(client, "target@example.org", "198.51.100.99")
    assert len(delivered()) == 3
    # Another inbox at the same domain has a limit of its own.
    sign_up(client, "targeted@example.org", "198.51.100.100")
    assert delivered()[-1] == ("targeted@example.org", CONFIRM_SUBJECT)


@pytest.mark.django_db
def test_the_limit_is_per_day_a_new_sign_up_gets_a_confirmation_a_day_later(client, deal):
    for i in range(4):
        sign_up(client, "target@example.org", f"198.51.100.{i}")
    assert len(delivered()) == 3
    a_day_ago = timezone.now() - timedelta(hours=24, seconds=1)
    am.Alert.objects.filter(event=am.CONFIRM_SUBSCRIPTION).update(created_at=a_day_ago)
    sign_up(client, "target@example.org", "198.51.100.9")
    assert len(delivered()) == 4


@pytest.mark.django_db
def test_the_answer_is_identical_for_a_new_a_pending_a_confirmed_and_an_over_the_limit_address(client, deal, settings):
    settings.MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY = 1
    new = sign_up(client, "new@example.org", "198.51.100.1")
    pending = sign_up(client, "new@example.org", "198.51.100.2")  # second sign-up: over its limit of one a day
    am.Subscription.objects.create(email="follower@example.org", agreement=deal, confirmed_at=timezone.now())
    confirmed = sign_up(client, "follower@example.org", "198.51.100.3")
    answers = [(r.status_code, r.content, r["Content-Type"]) for r in (new, pending, confirmed)]
    assert answers[0] == answers[1] == answers[2]
    assert delivered() == [("new@example.org", CONFIRM_SUBJECT)]


@pytest.mark.django_db(transaction=True)
def test_sign_ups_for_one_address_arriving_all_at_once_do_not_overshoot_the_limit(deal, monkeypatch):
    monkeypatch.setattr(sweep, "_enqueue", lambda task: None)  # the test sends; no broker needed
    start = threading.Barrier(12)
    codes = []

    def one(i):
        try:
            start.wait()
            codes.append(sign_up(Client(), "target@example.org", f"198.51.100.{i}").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [200] * 12
    assert len(delivered()) == 3


# --- case 5: confirmation by POST -----------------------------------------------------------------


@pytest.mark.django_db
def test_opening_the_confirmation_link_confirms_nothing_and_shows_one_button(client, deal):
    sign_up(client, "reader@example.org")
    [link] = confirmation_links("reader@example.org")
    page = client.get(link)  # what a mail system's link scanner does
    assert page.status_code == 200
    html = page.content.decode()
    assert "Confirm your subscription?" in html and "The deal" in html
    assert html.count("<form") == 1 and '<form method="post">' in html and "csrfmiddlewaretoken" in html
    assert html.count("<button") == 1
    # The CSP allows neither inline script nor inline style; the site's own stylesheet is a link.
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert alerts_after_a_sweep("reader@example.org") == []


@pytest.mark.django_db
def test_pressing_the_button_confirms_and_the_subscriber_hears_of_the_missed_deadline(client, deal):
    sign_up(client, "reader@example.org")
    [link] = confirmation_links("reader@example.org")
    page = press_confirm(link)
    assert page.status_code == 200 and b"Subscribed" in page.content
    assert len(alerts_after_a_sweep("reader@example.org")) == 1


@pytest.mark.django_db
def test_a_post_without_the_csrf_token_confirms_nothing(client, deal):
    sign_up(client, "reader@example.org")
    [link] = confirmation_links("reader@example.org")
    assert Client(enforce_csrf_checks=True).post(link).status_code == 403
    assert alerts_after_a_sweep("reader@example.org") == []


@pytest.mark.django_db
def test_a_confirmation_link_used_twice_neither_confirms_again_nor_errs(client, deal):
    sign_up(client, "reader@example.org")
    [link] = confirmation_links("reader@example.org")
    assert b"Subscribed" in press_confirm(link).content
    first = am.Subscription.objects.get().confirmed_at

    again = client.post(link)
    assert again.status_code == 200 and b"Already confirmed" in again.content
    reopened = client.get(link)
    assert reopened.status_code == 200 and b"Already confirmed" in reopened.content and b"<form" not in reopened.content
    assert am.Subscription.objects.get().confirmed_at == first
    assert len(alerts_after_a_sweep("reader@example.org")) == 1


@pytest.mark.django_db
def test_an_old_confirmation_link_opened_after_a_one_click_unsubscribe_subscribes_no_one(client, deal):
    sign_up(client, "reader@example.org")
    [link] = confirmation_links("reader@example.org")
    press_confirm(link)
    [missed] = alerts_after_a_sweep("reader@example.org")
    # RFC 8058: the mail client POSTs to the List-Unsubscribe URL, without a CSRF token.
    unsubscribe = missed.extra_headers["List-Unsubscribe"].strip("<>").split("localhost:8000", 1)[1]
    assert missed.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = Client(enforce_csrf_checks=True).post(unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and b"Unsubscribed" in one_click.content

    for opened in (client.get(link), client.post(link), press_confirm_if_offered(link)):
        assert opened.status_code == 410
        assert b"This link is no longer valid" in opened.content and b"sign up again" in opened.content
        assert b'href="/agreements/deal/"' in opened.content
    sub = am.Subscription.objects.get()
    assert sub.unsubscribed_at is not None and not sub.active


def press_confirm_if_offered(path):
    """A person opening the old link: a page without a button cannot be pressed, so the page is what they get."""
    page = Client(enforce_csrf_checks=True).get(path)
    return page if b"csrfmiddlewaretoken" not in page.content else press_confirm(path)


@pytest.mark.django_db
def test_stopping_a_sign_up_before_confirming_voids_its_confirmation_link(client, deal):
    # Someone signed up an address that is not theirs; its owner follows "Stop these emails" in the confirmation.
    sign_up(client, "victim@example.org")
    send_due(timezone.now())
    [confirmation] = mail.outbox
    stop = confirmation.body.split("Stop these emails: ", 1)[1].split()[0].split("localhost:8000", 1)[1]
    assert b"Unsubscribed" in client.post(stop).content
    [link] = confirmation_links("victim@example.org")
    assert client.post(link).status_code == 410
    assert alerts_after_a_sweep("victim@example.org") == []


@pytest.mark.django_db
def test_signing_up_again_after_unsubscribing_sends_a_link_that_works_while_the_old_one_stays_void(client, deal):
    sign_up(client, "reader@example.org", "198.51.100.1")
    [old] = confirmation_links("reader@example.org")
    press_confirm(old)
    sub = am.Subscription.objects.get()
    client.post(messages.unsubscribe_url(sub).split("localhost:8000", 1)[1])
    sign_up(client, "reader@example.org", "198.51.100.2")
    old_again, new = confirmation_links("reader@example.org")
    assert old_again == old and new != old
    assert client.post(old).status_code == 410
    assert b"Subscribed" in press_confirm(new).content
    assert len(alerts_after_a_sweep("reader@example.org")) == 1


@pytest.mark.django_db
def test_a_link_sent_before_links_carried_a_state_works_only_for_a_sign_up_still_pending(client, deal):
    sign_up(client, "reader@example.org")
    sub = am.Subscription.objects.get()
    legacy = f"/alerts/confirm/{signing.dumps(sub.pk, salt=messages.CONFIRM_SALT)}/"
    assert b"csrfmiddlewaretoken" in client.get(legacy).content
    client.post(messages.unsubscribe_url(sub).split("localhost:8000", 1)[1])
    assert client.get(legacy).status_code == 410
    assert client.post(legacy).status_code == 410
    assert alerts_after_a_sweep("reader@example.org") == []


@pytest.mark.django_db
def test_a_tampered_confirmation_link_is_not_found(client, deal):
    sign_up(client, "reader@example.org")
    [link] = confirmation_links("reader@example.org")
    assert client.get(link[:-3] + "xx/").status_code == 404
    assert client.post(link[:-3] + "xx/").status_code == 404
