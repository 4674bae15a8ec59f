"""Webhooks, in process, against a real HTTP receiver on 127.0.0.1: what a receiver gets, and what staff see.

The sweep and the sender run in this process (the worker process is in test_webhooks_real.py); the
receiver is a real server in a thread (tests/webhook_receiver.py). Each test asserts what a receiver,
a webhook's owner or an analyst in the admin would notice.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitor.accounts.roles import ADMINISTRATOR, ANALYST, grant_role
from monitor.alerts import models as am
from monitor.alerts import webhooks
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import REJECTED
from terms.models import TERMINATED
from tests.factories import AgreementFactory, AssessmentFactory, CommitmentFactory, ReportFactory, UserFactory
from tests.isolation import free_port
from tests.webhook_receiver import Hang, Receiver, receiver  # noqa: F401 (receiver: a fixture)

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)
DETECTED = MISSED_AT + timedelta(minutes=1)
REGISTERED = datetime(2020, 1, 1, tzinfo=UTC)
PAUSED_SUBJECT = "[Compliance monitor] Webhook paused: "


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MONITOR_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.MONITOR_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.SITE_ROOT = "https://monitor.example.org"


@pytest.fixture
def owner():
    return grant_role(UserFactory(username="olga", email="olga@mission.example.org"), ADMINISTRATOR)


@pytest.fixture
def talks():
    agreement = AgreementFactory(slug="deal", title="The deal")  # verdicts published once assessed
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")


def register(url, agreement, owner, commitment=None, **kwargs):
    kwargs.setdefault("created_at", REGISTERED)
    return am.Webhook.objects.create(agreement=agreement, commitment=commitment, url=url, owner=owner, **kwargs)


def sweep_and_send(now):
    run = run_sweep(now=now)
    send_due(now)
    return run


def deliveries(hook):
    return list(am.Alert.objects.filter(webhook=hook).order_by("id"))


def attempts(alert):
    return list(alert.delivery_attempts.values_list("outcome", "http_status"))


def retry(alert):
    """Send again once the alert is due again, as the periodic send would."""
    alert.refresh_from_db()
    send_due(alert.next_attempt_at)
    alert.refresh_from_db()
    return alert


# --- What a receiver gets -----------------------------------------------------------------------------------


def test_a_missed_deadline_reaches_the_receiver_once_signed_with_its_key_in_body_and_header(talks, owner, receiver):
    hook = register(receiver.url(), talks.agreement, owner)
    # An outside subscriber waits for an analyst; the webhook, registered by staff, hears at once.
    am.Subscription.objects.create(email="press@example.org", agreement=talks.agreement, reminder_days=[],
                                   confirmed_at=REGISTERED)

    sweep_and_send(DETECTED)
    sweep_and_send(DETECTED + timedelta(minutes=1))
    sweep_and_send(DETECTED + timedelta(hours=1))

    [request] = receiver.received
    [alert] = deliveries(hook)
    assert request.path == "/hook"
    assert request.signed_by(hook.secret)
    assert not request.signed_by("another secret")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == alert.key
    assert request.headers["x-monitor-event"] == "missed"
    assert request.headers["user-agent"].startswith("compliance-monitor-webhooks/")
    assert request.json == {
        "key": alert.key,
        "event": "missed",
        "agreement": {"slug": "deal", "title": "The deal"},
        "commitment": {"key": "talks", "title": "Talks begin",
                       "url": "https://monitor.example.org/agreements/deal/commitments/talks/"},
        "old_status": None,  # the first sweep of the agreement: nothing recorded before
        "new_status": "missed",
        "effective_at": "2020-03-10T19:30:00+00:00",
        "detected_at": "2020-03-10T19:31:00+00:00",
        "kind": "computed",
        "assessed": False,
        "corrects": None,
    }
    assert (alert.state, alert.attempts, alert.to_email) == (am.SENT, 1, "")
    assert attempts(alert) == [(am.ACCEPTED, 200)]
    assert mail.outbox == []  # the outside subscriber still waits for an analyst


def test_a_webhook_hears_of_its_commitment_or_its_agreement_never_of_another(talks, owner, receiver):
    other = CommitmentFactory(agreement=talks.agreement, key="prisoners", title="Prisoners released")
    elsewhere = CommitmentFactory(agreement=AgreementFactory(slug="other"), key="talks", title="Other talks")
    whole = register(receiver.url("/whole"), talks.agreement, owner)
    one = register(receiver.url("/one"), talks.agreement, owner, commitment=talks)
    late = register(receiver.url("/late"), talks.agreement, owner, created_at=DETECTED + timedelta(seconds=1))

    sweep_and_send(DETECTED)

    got = sorted((r.path, r.json["commitment"]["key"]) for r in receiver.received)
    assert got == [("/one", "talks"), ("/whole", "prisoners"), ("/whole", "talks")]
    assert other.status_changes.latest("id").new_status == elsewhere.status_changes.latest("id").new_status == "missed"
    assert deliveries(late) == []  # registered after the deadline was missed: not news to it
    assert len({r.key for r in receiver.received}) == 3
    assert [len(deliveries(whole)), len(deliveries(one))] == [2, 1]


def test_a_paused_webhook_gets_no_new_delivery(talks, owner, receiver):
    hook = register(receiver.url(), talks.agreement, owner, paused_at=REGISTERED, paused_reason="By hand.")
    sweep_and_send(DETECTED)
    assert receiver.received == []
    assert deliveries(hook) == []


# --- Retries, timeouts, outcomes ----------------------------------------------------------------------------


def test_a_receiver_answering_500_twice_then_200_gets_one_acknowledged_delivery_after_three_attempts(
    talks, owner, receiver
):
    hook = register(receiver.url(), talks.agreement, owner)
    receiver.answers = [500, 500, 200]

    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    assert alert.state == am.PENDING and "HTTP 500" in alert.last_error
    first = alert.delivery_attempts.get()
    assert alert.next_attempt_at == first.finished_at + timedelta(seconds=30)  # the outbox's backoff
    hook.refresh_from_db()
    assert hook.failing_since == first.started_at

    assert retry(alert).state == am.PENDING
    assert retry(alert).state == am.SENT
    send_due(alert.next_attempt_at + timedelta(hours=1))

    assert attempts(alert) == [(am.TEMPORARY, 500), (am.TEMPORARY, 500), (am.ACCEPTED, 200)]
    requests = receiver.received
    assert len(requests) == 3
    assert {r.key for r in requests} == {alert.key}
    assert {r.body for r in requests} == {alert.body_text.encode()}  # the same bytes each time...
    assert all(r.signed_by(hook.secret) for r in requests)  # ...signed anew each time
    assert receiver.processed == [alert.key]
    hook.refresh_from_db()
    assert hook.failing_since is None  # a success ends the failing spell


def test_a_receiver_that_hangs_past_the_timeout_is_retried_and_can_drop_the_repeat_by_its_key(
    talks, owner, receiver, settings
):
    settings.MONITOR_WEBHOOK_TIMEOUT_SECONDS = 0.3
    hook = register(receiver.url(), talks.agreement, owner)
    receiver.answers = [Hang(1.5)]  # it processes the request, and answers too late

    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    [timed_out] = alert.delivery_attempts.all()
    assert (timed_out.outcome, timed_out.http_status) == (am.TEMPORARY, None)
    assert timed_out.detail == "Timed out: no answer within 0.3 s."
    assert (timed_out.finished_at - timed_out.started_at) < timedelta(seconds=1.2)

    assert retry(alert).state == am.SENT
    assert attempts(alert) == [(am.TEMPORARY, None), (am.ACCEPTED, 200)]
    first, second = receiver.received
    assert first.key == second.key == alert.key
    assert receiver.processed == [alert.key]  # the receiver dropped the repeat


def test_the_timeout_is_at_most_half_the_send_lease(settings):
    settings.MONITOR_WEBHOOK_TIMEOUT_SECONDS = 10
    settings.MONITOR_SEND_LEASE_SECONDS = 6
    assert webhooks.timeout() == 3


@pytest.mark.parametrize(
    "status, outcome, state",
    [
        (200, am.ACCEPTED, am.SENT),
        (202, am.ACCEPTED, am.SENT),
        (204, am.ACCEPTED, am.SENT),
        (500, am.TEMPORARY, am.PENDING),
        (503, am.TEMPORARY, am.PENDING),
        (408, am.TEMPORARY, am.PENDING),
        (429, am.TEMPORARY, am.PENDING),
        (400, am.PERMANENT, am.FAILED),
        (401, am.PERMANENT, am.FAILED),
        (404, am.PERMANENT, am.FAILED),
        (410, am.PERMANENT, am.FAILED),
    ],
)
def test_each_answer_of_the_receiver_is_accepted_retried_or_final(talks, owner, receiver, status, outcome, state):
    hook = register(receiver.url(), talks.agreement, owner)
    receiver.answers = [status]
    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    [attempt] = alert.delivery_attempts.all()
    assert (alert.state, attempt.outcome, attempt.http_status) == (state, outcome, status)
    assert attempt.detail.startswith(f"HTTP {status} ")
    retry(alert)
    assert len(receiver.received) == (2 if outcome == am.TEMPORARY else 1)


def test_a_redirect_is_not_followed_and_says_where_it_pointed(talks, owner, receiver):
    elsewhere = Receiver().start()
    try:
        hook = register(receiver.url(), talks.agreement, owner)
        receiver.answers, receiver.location = [301], elsewhere.url("/moved")
        sweep_and_send(DETECTED)
        retry(deliveries(hook)[0])
        assert elsewhere.received == []
    finally:
        elsewhere.stop()
    [alert] = deliveries(hook)
    [attempt] = alert.delivery_attempts.all()
    assert (alert.state, attempt.outcome, attempt.http_status) == (am.FAILED, am.PERMANENT, 301)
    assert "redirects are not followed" in attempt.detail and elsewhere.url("/moved") in attempt.detail


def test_a_receiver_that_is_down_is_retried(talks, owner):
    hook = register(f"http://127.0.0.1:{free_port()}/hook", talks.agreement, owner)
    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    [attempt] = alert.delivery_attempts.all()
    assert (alert.state, attempt.outcome) == (am.PENDING, am.TEMPORARY)
    assert "ConnectionRefusedError" in attempt.detail


# --- Corrections --------------------------------------------------------------------------------------------


def test_a_miss_taken_back_and_then_restored_reaches_the_receiver_as_three_deliveries_each_naming_what_it_corrects(
    talks, owner, receiver
):
    hook = register(receiver.url(), talks.agreement, owner)
    sweep_and_send(DETECTED)
    # A report that talks began on 5 March reaches the monitor on 11 March: not missed after all...
    report = ReportFactory(occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC),
                           recorded_at=datetime(2020, 3, 11, 10, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 11, 12, tzinfo=UTC))
    # ...then the report is rejected: missed again, from the deadline.
    report.set_verification(REJECTED, at=datetime(2020, 3, 12, tzinfo=UTC), reason="Fabricated.")
    sweep_and_send(datetime(2020, 3, 12, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 12, 2, tzinfo=UTC))

    missed, withdrawn, again = [r.json for r in receiver.received]
    assert (missed["event"], missed["new_status"], missed["corrects"]) == ("missed", "missed", None)
    assert withdrawn == {
        **withdrawn,
        "event": "correction", "kind": "correction", "corrects": missed["key"],
        "old_status": "missed", "new_status": "met",
        "effective_at": "2020-03-10T19:30:00+00:00", "detected_at": "2020-03-11T12:00:00+00:00",
    }
    assert again == {
        **again,
        "event": "missed", "kind": "computed", "corrects": withdrawn["key"], "new_status": "missed",
        "effective_at": "2020-03-10T19:30:00+00:00", "detected_at": "2020-03-12T01:00:00+00:00",
    }
    assert len({missed["key"], withdrawn["key"], again["key"]}) == 3
    assert am.Alert.objects.filter(webhook=hook, state=am.SENT).count() == 3
    # The emails' corrections are the subscribers' business: none was made for the webhook's rows.
    assert not am.Alert.objects.filter(webhook__isnull=True).exists()


def test_an_analyst_overriding_a_delivered_miss_sends_the_receiver_a_correction_that_says_it_was_assessed(
    talks, owner, receiver
):
    hook = register(receiver.url(), talks.agreement, owner)
    sweep_and_send(DETECTED)
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(MISSED_AT + timedelta(hours=3))
    sweep_and_send(MISSED_AT + timedelta(hours=4))

    missed, correction = [r.json for r in receiver.received]
    assert correction["event"] == "correction" and correction["corrects"] == missed["key"]
    assert (correction["old_status"], correction["new_status"], correction["assessed"]) == ("missed", "met", True)
    assert [a.event for a in deliveries(hook)] == [am.MISSED, am.CORRECTION]
    # The outbox lists the rows as the emails would say them, agreement included.
    assert [a.subject for a in deliveries(hook)] == [
        f"Missed: Talks begin ({talks.agreement.title})",
        f"Correction: Talks begin is not missed ({talks.agreement.title})",
    ]


def test_a_delivery_still_unsent_when_its_miss_is_overridden_is_cancelled_and_never_corrected(
    talks, owner, receiver
):
    hook = register(receiver.url(), talks.agreement, owner)
    run_sweep(now=DETECTED)  # queued, not sent
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(MISSED_AT + timedelta(hours=3))
    sweep_and_send(MISSED_AT + timedelta(hours=4))

    assert receiver.received == []
    assert [(a.event, a.state) for a in deliveries(hook)] == [(am.MISSED, am.CANCELLED)]


# --- Pausing ------------------------------------------------------------------------------------------------


def test_a_receiver_failing_for_a_day_is_paused_its_owner_told_once_and_resuming_sends_what_failed(
    talks, owner, receiver, client
):
    hook = register(receiver.url(), talks.agreement, owner)
    receiver.default = 503
    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    hook.refresh_from_db()
    since = hook.failing_since
    assert since is not None

    sweep_and_send(since + timedelta(hours=23, minutes=59))
    hook.refresh_from_db()
    assert hook.paused_at is None
    day = since + timedelta(hours=24)
    sweep_and_send(day)
    sweep_and_send(day + timedelta(hours=1))

    hook.refresh_from_db()
    assert hook.paused_at == day and "24 hours" in hook.paused_reason
    [told] = [m for m in mail.outbox if m.subject.startswith(PAUSED_SUBJECT)]
    assert told.to == ["olga@mission.example.org"]
    assert told.subject == PAUSED_SUBJECT + hook.url
    assert "Resume" in told.body and f"/admin/alerts/webhook/{hook.pk}/change/" in told.body
    # The delivery still queued is not sent to a paused webhook: it fails, saying why.
    alert.refresh_from_db()
    assert alert.state == am.FAILED and alert.last_error.startswith("Not sent: the webhook is paused")
    tried = len(receiver.received)
    # A miss found while it is paused: no delivery at all.
    prisoners = CommitmentFactory(agreement=talks.agreement, key="prisoners", title="Prisoners released")
    sweep_and_send(day + timedelta(hours=2))
    assert prisoners.status_changes.latest("id").new_status == "missed"
    assert deliveries(hook) == [alert]
    assert len(receiver.received) == tried

    # The owner fixes the receiver and resumes the webhook in the admin.
    receiver.default = 200
    client.force_login(owner)
    response = client.post(reverse("admin:alerts_webhook_changelist"),
                           {"action": "resume", "_selected_action": [hook.pk]}, follow=True)
    assert "1 webhooks resumed; 1 failed deliveries queued to be sent again." in response.content.decode()
    hook.refresh_from_db()
    assert (hook.paused_at, hook.failing_since) == (None, None)
    send_due(day + timedelta(hours=3))
    alert.refresh_from_db()
    assert alert.state == am.SENT
    assert receiver.received[-1].key == alert.key
    # The next sweep tells it the latest change it missed meanwhile; the owner was told once in all.
    sweep_and_send(day + timedelta(hours=4))
    assert receiver.received[-1].json["commitment"]["key"] == "prisoners"
    assert len(receiver.received) == tried + 2
    assert len([m for m in mail.outbox if m.subject.startswith(PAUSED_SUBJECT)]) == 1


def test_zero_hours_never_pauses(talks, owner, receiver, settings):
    settings.MONITOR_WEBHOOK_PAUSE_AFTER_HOURS = 0
    hook = register(receiver.url(), talks.agreement, owner)
    receiver.default = 500
    sweep_and_send(DETECTED)
    hook.refresh_from_db()
    sweep_and_send(hook.failing_since + timedelta(days=30))
    hook.refresh_from_db()
    assert hook.paused_at is None
    assert not [m for m in mail.outbox if m.subject.startswith(PAUSED_SUBJECT)]


# --- The SSRF guard -----------------------------------------------------------------------------------------


def admin_add(client, agreement, url):
    return client.post(reverse("admin:alerts_webhook_add"),
                       {"agreement": agreement.pk, "commitment": "", "url": url}, follow=True)


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://192.168.1.20/hook", "192.168.1.20 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://[::ffff:10.0.0.1]/hook", "10.0.0.1 is a private address"),
        ("http://0.0.0.0/hook", "0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
        ("http://100.64.0.1/hook", "100.64.0.1 is not a public address"),
        ("file:///etc/passwd", "Only http and https URLs are allowed, not file: URLs."),
        ("ftp://files.example.org/hook", "Only http and https URLs are allowed, not ftp: URLs."),
        ("https://user:secret@hooks.example.org/", "Put no user name or password in the URL"),
        ("hooks.example.org/hook", "Only http and https URLs are allowed, not a URL without a scheme."),
    ],
)
def test_a_url_that_is_not_public_http_is_refused_at_registration_saying_why(
    client, talks, owner, settings, monkeypatch, url, reason
):
    settings.MONITOR_WEBHOOK_ALLOWED_NETWORKS = []
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: {"hooks.example.org": ["93.184.216.34"]}.get(
        host) or pytest.fail(f"{host} should not have been looked up"))
    client.force_login(owner)
    page = admin_add(client, talks.agreement, url).content.decode()
    assert reason in page.replace("&#x27;", "'")
    assert not am.Webhook.objects.exists()


def test_a_host_any_of_whose_addresses_is_private_is_refused_naming_it(client, talks, owner, monkeypatch):
    addresses = {"hooks.example.org": ["93.184.216.34", "10.1.2.3"]}
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: addresses[host])
    client.force_login(owner)
    page = admin_add(client, talks.agreement, "https://hooks.example.org/hook").content.decode()
    assert "10.1.2.3 (an address of hooks.example.org) is a private address" in page
    assert not am.Webhook.objects.exists()

    addresses["hooks.example.org"] = ["93.184.216.34"]
    admin_add(client, talks.agreement, "https://hooks.example.org/hook")
    assert am.Webhook.objects.get().url == "https://hooks.example.org/hook"


def test_the_allowed_networks_setting_lets_a_private_address_through_and_no_other(client, talks, owner):
    client.force_login(owner)  # the tests allow 127.0.0.1/32 only
    admin_add(client, talks.agreement, "http://127.0.0.1:9/hook")
    page = admin_add(client, talks.agreement, "http://127.0.0.2:9/hook").content.decode()
    assert "127.0.0.2 is a loopback address" in page
    assert list(am.Webhook.objects.values_list("url", flat=True)) == ["http://127.0.0.1:9/hook"]


def test_a_host_that_resolves_to_a_private_address_by_the_time_of_sending_is_refused_for_good(
    talks, owner, receiver, monkeypatch
):
    answers = {"hooks.example.org": ["93.184.216.34"]}
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: answers[host])
    hook = am.Webhook(agreement=talks.agreement, url=f"http://hooks.example.org:{receiver.port}/hook", owner=owner,
                      created_at=REGISTERED)
    hook.full_clean()  # public when registered
    hook.save()
    answers["hooks.example.org"] = ["10.0.0.7"]  # DNS changed since

    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    retry(alert)

    [attempt] = alert.delivery_attempts.all()
    assert (alert.state, attempt.outcome, attempt.http_status) == (am.FAILED, am.PERMANENT, None)
    assert attempt.detail == (
        "Refused: 10.0.0.7 (an address of hooks.example.org) is a private address: webhooks go to public "
        "addresses only, unless MONITOR_WEBHOOK_ALLOWED_NETWORKS allows it."
    )
    assert receiver.received == []


def test_the_connection_goes_to_the_address_checked_and_the_host_name_only_in_the_host_header(
    talks, owner, receiver, monkeypatch
):
    # A name no DNS knows: were it looked up a second time, the connection would fail.
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: {"hooks.invalid": ["127.0.0.1"]}[host])
    hook = register(f"http://hooks.invalid:{receiver.port}/hook?team=7", talks.agreement, owner)
    sweep_and_send(DETECTED)
    [request] = receiver.received
    assert request.path == "/hook?team=7"
    assert request.headers["host"] == f"hooks.invalid:{receiver.port}"
    assert deliveries(hook)[0].state == am.SENT


# --- In the admin -------------------------------------------------------------------------------------------


def test_an_analyst_registers_a_webhook_and_sees_its_secret_once(client, talks):
    analyst = grant_role(UserFactory(username="amina", email="amina@mission.example.org"), ANALYST)
    client.force_login(analyst)
    response = client.post(reverse("admin:alerts_webhook_add"),
                           {"agreement": talks.agreement.pk, "commitment": talks.pk, "url": "http://127.0.0.1:9/h"},
                           follow=True)
    hook = am.Webhook.objects.get()
    page = response.content.decode()
    assert response.status_code == 200
    assert f"<code>{hook.secret}</code>" in page and "shown only this once" in page
    assert (hook.owner, hook.commitment, len(hook.secret) >= 40) == (analyst, talks, True)

    change = client.get(reverse("admin:alerts_webhook_change", args=[hook.pk])).content.decode()
    listing = client.get(reverse("admin:alerts_webhook_changelist")).content.decode()
    for shown in (change, listing):
        assert hook.secret not in shown
    assert f"ends in …{hook.secret[-4:]}" in change
    assert "amina" in change and "None yet." in change


def test_a_commitment_of_another_agreement_is_refused(client, talks, owner):
    other = CommitmentFactory(agreement=AgreementFactory(slug="other"), key="x", title="Elsewhere")
    client.force_login(owner)
    page = client.post(reverse("admin:alerts_webhook_add"),
                       {"agreement": talks.agreement.pk, "commitment": other.pk, "url": "http://127.0.0.1:9/h"},
                       follow=True).content.decode()
    assert "This commitment belongs to another agreement." in page
    assert not am.Webhook.objects.exists()


def test_deliveries_and_their_attempts_are_on_the_webhooks_page_and_in_the_outbox(client, talks, owner, receiver):
    analyst = grant_role(UserFactory(username="amina"), ANALYST)
    hook = register(receiver.url(), talks.agreement, owner)
    receiver.answers = [500, 200]
    sweep_and_send(DETECTED)
    [alert] = deliveries(hook)
    retry(alert)

    client.force_login(analyst)
    page = client.get(reverse("admin:alerts_webhook_change", args=[hook.pk])).content.decode()
    assert "1 of 1 deliveries, the latest first." in page
    assert alert.key in page and "Deadline missed" in page and "Talks begin" in page
    assert "Temporary failure: will retry (HTTP 500) HTTP 500 Internal Server Error" in page
    assert "Accepted by the server (HTTP 200) HTTP 200 OK" in page
    # The subscribers' outbox stays the Administrators'.
    assert client.get(reverse("admin:alerts_alert_changelist")).status_code == 403

    client.force_login(owner)
    outbox = client.get(reverse("admin:alerts_alert_changelist") + "?channel=webhook").content.decode()
    assert receiver.url() in outbox and f"Missed: Talks begin ({talks.agreement.title})" in outbox
    row = client.get(reverse("admin:alerts_alert_change", args=[alert.pk])).content.decode()
    assert "HTTP status" in row and "Internal Server Error" in row


# --- Bounded work -------------------------------------------------------------------------------------------


def test_the_sweep_makes_as_many_queries_for_many_webhooks_and_commitments_as_for_one(owner, receiver):
    def first_sweep(n_commitments, n_hooks, slug):
        agreement = AgreementFactory(slug=slug)
        commitments = [CommitmentFactory(agreement=agreement, key=f"c{i}") for i in range(n_commitments)]
        for i in range(n_hooks):
            register(receiver.url(f"/{slug}/{i}"), agreement, owner, commitment=commitments[0] if i % 2 else None)
        with CaptureQueriesContext(connection) as queries:
            run = run_sweep(now=DETECTED)
        agreement.state = TERMINATED  # out of the next sweep
        agreement.save()
        return len(queries), run

    small, small_run = first_sweep(1, 1, "small")
    large, large_run = first_sweep(12, 7, "large")
    assert (small_run.alerts_queued, large_run.alerts_queued) == (1, 12 * 4 + 3)
    assert small == large


# --- The documentation --------------------------------------------------------------------------------------


def test_the_verification_code_in_the_operations_docs_accepts_a_real_delivery_and_nothing_else(
    talks, owner, receiver
):
    docs = (Path(django_settings.BASE_DIR) / "docs" / "operations.md").read_text()
    section = docs[docs.index("### Webhooks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    hook = register(receiver.url(), talks.agreement, owner)
    sweep_and_send(DETECTED)
    [r] = receiver.received
    headers = (r.headers["x-monitor-timestamp"], r.body, r.headers["x-monitor-signature"])
    assert verify(hook.secret, *headers)
    assert not verify("not the secret", *headers)
    assert not verify(hook.secret, headers[0], r.body.replace(b"missed", b"met"), headers[2])
    assert json.loads(r.body)["key"] == r.headers["idempotency-key"]
    example = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    assert sorted(example) == sorted(r.json)  # the example shows every field a receiver gets
