"""The reader's sign-up form: on the agreement's and each commitment's page, and at the sign-up URL itself.

Issue 15: there was no form (the sign-up URL answered GET with 405 and needed a hand-made POST). The form
posts to the existing double opt-in, with its limits; the pages it sits on stay cacheable for everyone.
"""

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from terms import models as tm
from tests.factories import AgreementFactory, CommitmentFactory

pytestmark = pytest.mark.django_db

AGREEMENT_PAGE = "/agreements/deal/"
COMMITMENT_PAGE = "/agreements/deal/commitments/talks/"
SIGN_UP = "/alerts/subscribe/deal/"


@pytest.fixture(autouse=True)
def _locmem_email_and_fresh_limits(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MONITOR_SIGNUPS_PER_HOUR = "10"
    settings.MONITOR_DEFAULT_REMINDER_DAYS = [7, 1]
    cache.clear()  # the per-client sign-up counts
    yield
    cache.clear()


@pytest.fixture
def deal():
    agreement = AgreementFactory(slug="deal", title="The deal", publish_computed_verdicts=True)
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", due_offset=10)
    CommitmentFactory(agreement=agreement, key="prisoners", title="Prisoners released", due_offset=20)
    return agreement


class _Form(HTMLParser):
    """The sign-up form of a page as a browser sees it: its action, and what it sends as it stands."""

    def __init__(self):
        super().__init__()
        self.action, self.inside, self.fields, self.select, self.radios = None, False, [], None, []
        self.offered = []  # the value each field would send if ticked or chosen, beside self.fields

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "subscribe" in (a.get("class") or "").split():
            self.inside, self.action = True, a["action"]
        elif not self.inside:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind == "radio":
                self.radios.append(a.get("value", ""))
            self.offered.append(a.get("value", ""))
            if kind in ("checkbox", "radio") and "checked" not in a:
                self.fields.append((a["name"], None, kind))  # known, but sends nothing
            else:
                self.fields.append((a["name"], a.get("value", ""), kind))
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a["value"], "select"))
            self.offered.append(a["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_on(html):
    parser = _Form()
    parser.feed(html)
    assert parser.action, "no sign-up form on the page"
    return parser


def submit(form, email, client=None, tick=(), untick=(), choose=None, deliver=None, address="192.0.2.1"):
    """What a browser sends when a reader types `email`, ticks and unticks boxes (by the value they send:
    "adverse", "reminders"...), picks the commitment (`choose`, a value the page offers) and how to be
    sent them (`deliver`), then presses Subscribe."""
    data = []
    for (name, value, kind), offered in zip(form.fields, form.offered, strict=True):
        if kind == "email":
            value = email
        elif kind == "checkbox" and offered in tick:
            value = offered
        elif kind == "checkbox" and offered in untick:
            value = None
        elif kind == "radio" and name == "delivery" and deliver is not None:
            value = deliver if offered == deliver else None
        elif kind == "radio" and name == "commitment" and choose is not None:
            assert choose in form.radios
            value = choose if not any(n == name for n, _v in data) else None
        if value is not None:
            data.append((name, value))
    # No CSRF token, as from the cached page: the CSRF check is on, and the sign-up does not need it.
    client = client or Client(enforce_csrf_checks=True)
    return client.post(form.action, urlencode(data), content_type="application/x-www-form-urlencoded",
                       REMOTE_ADDR=address)


def confirmation_sent_to(address):
    send_due(timezone.now())
    return [m for m in mail.outbox if m.to == [address] and "Confirm your alerts" in m.subject]


# --- the form on the pages -------------------------------------------------------------------------


def test_the_agreement_page_has_a_sign_up_form_for_the_whole_agreement(client, deal):
    page = client.get(AGREEMENT_PAGE)
    html = page.content.decode()
    form = form_on(html)
    assert form.action == SIGN_UP
    names = {name for name, _value, _kind in form.fields}
    assert names == {"email", "commitment", "events", "delivery"}
    assert ("commitment", "", "hidden") in form.fields
    # Every kind of event ticked, each alert as it happens: what every subscription got before the choice.
    assert {value for name, value, kind in form.fields if kind == "checkbox"} == {
        "adverse", "disputed", "good_news", "reminders"}
    assert [value for name, value, kind in form.fields if name == "delivery" and value] == ["each"]
    assert "Email alerts" in html and "Reminders 7 days and 1 day before each due date" in html
    assert "<legend>Which events</legend>" in html and "<legend>How to send them</legend>" in html
    assert "Good news: a deadline met late, a breach over" in html and "One daily digest instead" in html
    # Nothing of one reader in a page every reader is served from the cache.
    assert "csrfmiddlewaretoken" not in html and "csrftoken" not in page.cookies


def test_a_commitment_page_offers_this_commitment_or_the_whole_agreement(client, deal):
    page = client.get(COMMITMENT_PAGE)
    html = page.content.decode()
    form = form_on(html)
    assert form.action == SIGN_UP
    assert ("commitment", "talks", "radio") in form.fields and ("commitment", None, "radio") in form.fields
    assert "Only this commitment: Talks begin" in html and "Every commitment of The deal" in html
    assert "csrfmiddlewaretoken" not in html and "csrftoken" not in page.cookies


def test_an_agreement_that_has_ended_offers_no_sign_up(client, deal):
    tm.Agreement.objects.filter(pk=deal.pk).update(state=tm.TERMINATED)
    html = client.get(AGREEMENT_PAGE).content.decode()
    assert 'class="subscribe"' not in html
    assert "no alerts are sent for it" in html


# --- posting it ------------------------------------------------------------------------------------


def test_the_form_on_a_commitment_page_signs_up_for_that_commitment_and_sends_only_the_confirmation(client, deal):
    form = form_on(client.get(COMMITMENT_PAGE).content.decode())
    answer = submit(form, "Reader@Example.org", deliver="both")
    assert answer.status_code == 200 and b"Check your inbox" in answer.content
    sub = am.Subscription.objects.get()
    assert (sub.email, sub.commitment.key, sub.confirmed_at) == ("reader@example.org", "talks", None)
    assert sub.delivery == am.EACH_AND_DIGEST and sub.reminder_days == [7, 1]
    assert sub.events == ["adverse", "disputed", "good_news", "reminders"]
    [confirmation] = confirmation_sent_to("reader@example.org")
    assert confirmation.subject.endswith(f"Confirm your alerts for Talks begin ({deal.title})")
    assert len(mail.outbox) == 1


def test_the_form_on_the_agreement_page_signs_up_for_every_commitment_and_an_unticked_box_means_no(client, deal):
    form = form_on(client.get(AGREEMENT_PAGE).content.decode())
    answer = submit(form, "reader@example.org", untick={"reminders"})
    assert answer.status_code == 200
    sub = am.Subscription.objects.get()
    assert sub.commitment is None and sub.reminder_days == [] and sub.delivery == am.EACH_ALERT
    assert sub.events == ["adverse", "disputed", "good_news"] and not sub.wants(am.REMINDER)
    assert len(confirmation_sent_to("reader@example.org")) == 1


def test_choosing_the_whole_agreement_on_a_commitment_page_follows_every_commitment(client, deal):
    form = form_on(client.get(COMMITMENT_PAGE).content.decode())
    submit(form, "reader@example.org", choose="")
    assert am.Subscription.objects.get().commitment is None


def test_the_confirmation_page_says_what_was_chosen(client, deal):
    form = form_on(client.get(AGREEMENT_PAGE).content.decode())
    submit(form, "reader@example.org", deliver="digest", untick={"reminders", "good_news"})
    [confirmation] = confirmation_sent_to("reader@example.org")
    link = next(line.strip() for line in confirmation.body.splitlines() if "/alerts/confirm/" in line)
    path = link.split("localhost:8000", 1)[1]
    html = client.get(path).content.decode()
    assert "Sent as one daily digest instead of each alert" in html
    assert "Bad news: a deadline missed" in html and "Disputes:" in html
    assert "Reminders before each due date" not in html and "Good news" not in html
    assert '<header class="site">' in html  # the site's layout
    subscribed = Client().post(path).content.decode()  # pressing Confirm: a page that says it all again
    assert "<h1>Subscribed</h1>" in subscribed and "Sent as one daily digest instead of each alert" in subscribed
    assert "Bad news: a deadline missed" in subscribed and "Good news" not in subscribed


def test_the_form_goes_through_the_same_limits_as_every_sign_up(client, deal, settings):
    settings.MONITOR_SIGNUPS_PER_HOUR = "2"
    form = form_on(client.get(AGREEMENT_PAGE).content.decode())
    codes = [submit(form, f"p{i}@example.org").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    assert am.Subscription.objects.count() == 2


def test_a_bad_address_is_shown_next_to_its_field_and_nothing_is_signed_up(client, deal):
    form = form_on(client.get(COMMITMENT_PAGE).content.decode())
    answer = submit(form, "reader-at-example.org")
    assert answer.status_code == 400
    html = answer.content.decode()
    assert '<header class="site">' in html and "please correct what is marked below" in html
    again = form_on(html)  # the form again, as it was sent, on the sign-up page
    assert ("email", "reader-at-example.org", "email") in again.fields
    assert ("commitment", "talks", "select") in again.fields
    assert 'aria-invalid="true" aria-describedby="subscribe-email-error"' in html
    assert 'id="subscribe-email-error">Enter a whole email address' in html
    assert am.Subscription.objects.count() == 0 and mail.outbox == []


def test_an_unknown_commitment_is_said_next_to_its_field(client, deal):
    answer = client.post(SIGN_UP, {"email": "reader@example.org", "commitment": "nope"})
    assert answer.status_code == 400
    assert 'id="subscribe-commitment-error">The deal has no commitment “nope”' in answer.content.decode()
    assert am.Subscription.objects.count() == 0


def test_a_form_with_no_event_ticked_and_no_digest_is_refused_with_a_message(client, deal):
    form = form_on(client.get(AGREEMENT_PAGE).content.decode())
    answer = submit(form, "reader@example.org", untick={"adverse", "disputed", "good_news", "reminders"})
    assert answer.status_code == 400
    html = answer.content.decode()
    assert ('id="subscribe-events-error">Choose at least one kind of event, or a daily digest: otherwise nothing '
            "would ever be sent.") in html
    assert 'aria-describedby="subscribe-events-error"' in html
    again = form_on(html)  # sent back as it was: no box ticked, each alert chosen
    assert not [v for name, v, kind in again.fields if kind == "checkbox" and v]
    assert ("delivery", "each", "radio") in again.fields
    assert am.Subscription.objects.count() == 0 and mail.outbox == []


def test_no_event_ticked_but_the_daily_digest_is_a_subscription_to_the_digest_alone(client, deal):
    form = form_on(client.get(AGREEMENT_PAGE).content.decode())
    answer = submit(form, "reader@example.org", untick={"adverse", "disputed", "good_news", "reminders"},
                    deliver="digest")
    assert answer.status_code == 200
    sub = am.Subscription.objects.get()
    assert (sub.events, sub.delivery, sub.reminder_days) == ([], am.DIGEST_INSTEAD, [])


def test_an_unknown_kind_of_event_or_way_of_sending_is_refused_by_name(client, deal):
    answer = client.post(SIGN_UP, {"email": "reader@example.org", "events": ["", "adverse", "gossip"]})
    assert answer.status_code == 400
    assert "“gossip” is not a kind of event this form offers" in answer.content.decode()
    answer = client.post(SIGN_UP, {"email": "reader@example.org", "events": ["", "adverse"], "delivery": "weekly"})
    assert answer.status_code == 400
    assert ('id="subscribe-delivery-error">“weekly” is not a way of sending this form offers'
            in answer.content.decode())
    assert am.Subscription.objects.count() == 0


# --- the sign-up URL -------------------------------------------------------------------------------


def test_opening_the_sign_up_url_shows_the_form_with_every_commitment_to_choose_from(client, deal):
    page = client.get(SIGN_UP)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Email alerts: The deal</h1>" in html and '<header class="site">' in html
    form = form_on(html)
    assert form.action == SIGN_UP and ("commitment", "", "hidden") not in form.fields
    assert 'value="talks"' in html and 'value="prisoners"' in html
    # A link to it for one commitment chooses that commitment.
    assert ("commitment", "prisoners", "select") in form_on(client.get(SIGN_UP + "?commitment=prisoners")
                                                              .content.decode()).fields
    assert client.get("/alerts/subscribe/no-such-deal/").status_code == 404


def test_opening_the_form_does_not_count_as_a_sign_up(client, deal, settings):
    settings.MONITOR_SIGNUPS_PER_HOUR = "1"
    for _ in range(5):
        assert client.get(SIGN_UP).status_code == 200
    assert submit(form_on(client.get(SIGN_UP).content.decode()), "reader@example.org").status_code == 200


def test_the_hand_made_post_of_before_keeps_its_default_reminders(client, deal):
    assert client.post(SIGN_UP, {"email": "reader@example.org"}).status_code == 200
    assert am.Subscription.objects.get().reminder_days == [7, 1]


def test_signing_up_again_changes_the_choices_of_a_pending_subscription_but_never_of_one_in_use(client, deal):
    client.post(SIGN_UP, {"email": "pending@example.org", "reminders": "false"})
    client.post(SIGN_UP, {"email": "pending@example.org", "digest": "on"})
    assert am.Subscription.objects.get(email="pending@example.org").wants_digest
    am.Subscription.objects.create(email="follower@example.org", agreement=deal, confirmed_at=timezone.now())
    client.post(SIGN_UP, {"email": "follower@example.org", "reminders": "false", "digest": "on"})
    follower = am.Subscription.objects.get(email="follower@example.org")
    assert follower.reminder_days == [7, 1] and not follower.wants_digest
