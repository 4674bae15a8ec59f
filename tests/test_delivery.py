"""Sending the outbox, in process, against a scripted mail server: what each SMTP answer does to an alert.

The real SMTP server is in test_alerts_real.py (marked slow); these say, for every answer a server
can give, what the subscriber and the staff looking at the outbox see: the email and its headers,
the alert's state, when it is tried again, the attempts recorded, and a suspended subscription.
"""

import smtplib
from urllib.parse import urlsplit
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from monitor.alerts import delivery
from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2020, 3, 11, 8, 0, tzinfo=UTC)
BACKEND = "tests.test_delivery.ScriptedBackend"


class ScriptedBackend(BaseEmailBackend):
    """A mail server that answers each message with the next scripted answer (None: accepted)."""

    answers = []
    accepted = []
    connections = []
    fail_on_close = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.connection = "open"
        self.closed = False
        ScriptedBackend.connections.append(self)

    def send_messages(self, messages):
        for message in messages:
            answer = ScriptedBackend.answers.pop(0) if ScriptedBackend.answers else None
            if callable(answer):
                answer = answer(message)
            if answer is not None:
                raise answer
            ScriptedBackend.accepted.append(message)
        return len(messages)

    def close(self):
        self.closed = True
        if ScriptedBackend.fail_on_close:
            raise smtplib.SMTPServerDisconnected("gone")


@pytest.fixture(autouse=True)
def scripted(settings):
    settings.EMAIL_BACKEND = BACKEND
    settings.DEFAULT_FROM_EMAIL = "alerts@monitor.example"
    settings.MONITOR_RETRY_BASE_SECONDS = 30
    settings.MONITOR_MAX_ATTEMPTS = 12
    settings.MONITOR_SEND_LEASE_SECONDS = 300
    ScriptedBackend.answers, ScriptedBackend.accepted, ScriptedBackend.connections = [], [], []
    ScriptedBackend.fail_on_close = False
    return ScriptedBackend


@pytest.fixture
def agreement():
    return AgreementFactory(slug="deal", title="The deal")


def subscription(agreement, email="press@example.org"):
    return am.Subscription.objects.create(
        email=email, agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC)
    )


def alert(key="a1", *, sub=None, event=am.MISSED, to="press@example.org", due=NOW, html="", **kwargs):
    return am.Alert.objects.create(
        key=key, event=event, subscription=sub, to_email=to, subject=f"Subject {key}", body_text=f"Text {key}",
        body_html=html, next_attempt_at=due, **kwargs,
    )


def attempts(row):
    return list(row.delivery_attempts.values_list("outcome", "smtp_code", "detail"))


# --- accepted -----------------------------------------------------------------------------------------


def test_an_accepted_alert_reaches_the_subscriber_once_with_its_headers_html_and_sender(agreement, settings, client):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sub = subscription(agreement)
    row = alert(sub=sub, html="<p>Text a1</p>")

    assert send_due(NOW) == 1
    assert send_due(NOW + timedelta(hours=1)) == 0  # sent is sent: never again

    [email] = mail.outbox
    assert email.to == ["press@example.org"]
    assert email.from_email == "alerts@monitor.example"
    assert (email.subject, email.body) == ("Subject a1", "Text a1")
    assert email.alternatives == [("<p>Text a1</p>", "text/html")]
    assert email.extra_headers["Message-ID"] == row.message_id
    message = email.message()
    assert message["From"] == "alerts@monitor.example"
    # One-click unsubscribe (RFC 8058) as mail clients offer it: they POST this body to this link.
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"]
    assert link.startswith(f"<{settings.SITE_ROOT}/") and link.endswith(">")
    assert client.post(urlsplit(link[1:-1]).path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    sub.refresh_from_db()
    assert sub.unsubscribed_at is not None

    row.refresh_from_db()
    assert row.state == am.SENT
    assert row.sent_at is not None and row.claimed_until is None and row.last_error == ""
    assert attempts(row) == [(am.ACCEPTED, None, "")]


def test_a_plain_alert_has_no_html_part_and_a_confirmation_has_no_unsubscribe_link(agreement, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sub = subscription(agreement)
    alert("plain", sub=sub)
    alert("confirm", sub=sub, event=am.CONFIRM_SUBSCRIPTION)
    alert("no-subscription", to="staff@example.org")

    assert send_due(NOW) == 3

    by_subject = {email.subject: email for email in mail.outbox}
    assert by_subject["Subject plain"].alternatives == []
    assert "List-Unsubscribe" in by_subject["Subject plain"].extra_headers
    # Nobody is subscribed until they confirm, and an alert to no subscription has nothing to leave.
    for subject in ("Subject confirm", "Subject no-subscription"):
        assert "List-Unsubscribe" not in by_subject[subject].extra_headers
        assert "List-Unsubscribe-Post" not in by_subject[subject].extra_headers
        assert by_subject[subject].extra_headers["Message-ID"]


# --- refused for good ---------------------------------------------------------------------------------


def test_a_recipient_the_server_refuses_for_good_fails_and_suspends_the_subscription(agreement, scripted):
    sub = subscription(agreement)
    row = alert(sub=sub)
    scripted.answers = [smtplib.SMTPRecipientsRefused({"press@example.org": (550, b"5.1.1 no such user \xff")})]

    assert send_due(NOW) == 0

    row.refresh_from_db()
    assert row.state == am.FAILED
    assert row.last_error == "5.1.1 no such user \ufffd"  # undecodable bytes replaced, not an error
    assert row.claimed_until is None
    assert attempts(row) == [(am.PERMANENT, 550, "5.1.1 no such user \ufffd")]
    sub.refresh_from_db()
    assert sub.suspended_at is not None
    assert sub.suspended_reason == "550 5.1.1 no such user \ufffd"
    # Failed is final: no later send tries it again.
    assert send_due(NOW + timedelta(days=1)) == 0
    assert len(attempts(row)) == 1


def test_a_suspended_subscription_keeps_the_reason_it_was_first_suspended_for(agreement, scripted):
    sub = subscription(agreement)
    first = datetime(2020, 2, 1, tzinfo=UTC)
    am.Subscription.objects.filter(pk=sub.pk).update(suspended_at=first, suspended_reason="550 mailbox gone")
    alert(sub=sub)
    scripted.answers = [smtplib.SMTPRecipientsRefused({"press@example.org": (550, b"still gone")})]

    send_due(NOW)

    sub.refresh_from_db()
    assert (sub.suspended_at, sub.suspended_reason) == (first, "550 mailbox gone")


def test_a_message_the_server_rejects_for_good_fails_without_retrying(agreement, scripted):
    sub = subscription(agreement)
    row = alert(sub=sub)
    scripted.answers = [smtplib.SMTPDataError(554, b"5.7.1 message rejected as spam")]

    assert send_due(NOW) == 0

    row.refresh_from_db()
    assert row.state == am.FAILED
    assert row.last_error == "5.7.1 message rejected as spam"
    assert attempts(row) == [(am.PERMANENT, 554, "5.7.1 message rejected as spam")]
    sub.refresh_from_db()
    assert sub.suspended_reason == "554 5.7.1 message rejected as spam"


def test_a_hard_bounce_of_an_alert_to_no_subscription_suspends_nothing(agreement, scripted):
    other = subscription(agreement)
    row = alert(to="staff@example.org")
    scripted.answers = [smtplib.SMTPRecipientsRefused({"staff@example.org": (550, "no such user")})]

    send_due(NOW)

    row.refresh_from_db()
    assert (row.state, row.last_error) == (am.FAILED, "no such user")
    other.refresh_from_db()
    assert other.suspended_at is None


@pytest.mark.parametrize("refusal", [
    smtplib.SMTPRecipientsRefused({"press@example.org": (500, b"5.5.2 syntax error")}),
    smtplib.SMTPDataError(500, b"5.5.2 syntax error"),
], ids=["recipient", "message"])
def test_the_lowest_permanent_code_500_is_final(agreement, scripted, refusal):
    row = alert(sub=subscription(agreement))
    scripted.answers = [refusal]

    send_due(NOW)

    row.refresh_from_db()
    assert row.state == am.FAILED
    assert attempts(row) == [(am.PERMANENT, 500, "5.5.2 syntax error")]


# --- refused for now ----------------------------------------------------------------------------------


def test_a_temporary_refusal_is_retried_later_with_a_doubling_delay(agreement, scripted):
    sub = subscription(agreement)
    row = alert(sub=sub)
    busy = smtplib.SMTPRecipientsRefused({"press@example.org": (451, b"4.7.1 greylisted, try again later")})
    scripted.answers = [busy, busy, None]

    assert send_due(NOW) == 0
    row.refresh_from_db()
    first = row.delivery_attempts.get()
    assert row.state == am.PENDING
    assert row.claimed_until is None
    assert row.last_error == "4.7.1 greylisted, try again later"
    assert row.next_attempt_at == first.finished_at + timedelta(seconds=30)
    assert attempts(row) == [(am.TEMPORARY, 451, "4.7.1 greylisted, try again later")]
    sub.refresh_from_db()
    assert sub.suspended_at is None  # a full mailbox is not a wrong address

    assert send_due(row.next_attempt_at - timedelta(seconds=1)) == 0  # not due yet: not even tried
    assert row.delivery_attempts.count() == 1

    assert send_due(row.next_attempt_at) == 0
    row.refresh_from_db()
    second = row.delivery_attempts.latest("id")
    assert row.next_attempt_at == second.finished_at + timedelta(seconds=60)

    assert send_due(row.next_attempt_at) == 1
    row.refresh_from_db()
    assert (row.state, row.last_error) == (am.SENT, "")
    assert [a[0] for a in attempts(row)] == [am.TEMPORARY, am.TEMPORARY, am.ACCEPTED]


def test_a_busy_server_answer_is_temporary_and_keeps_the_servers_words(agreement, scripted):
    row = alert(sub=subscription(agreement))
    scripted.answers = [smtplib.SMTPSenderRefused(421, b"4.3.2 service shutting down", "alerts@monitor.example")]

    send_due(NOW)

    row.refresh_from_db()
    assert row.state == am.PENDING
    assert attempts(row) == [(am.TEMPORARY, 421, "4.3.2 service shutting down")]


def test_the_delay_between_retries_never_exceeds_an_hour(agreement, scripted, settings):
    settings.MONITOR_RETRY_BASE_SECONDS = 1000
    row = alert(sub=subscription(agreement))
    scripted.answers = [smtplib.SMTPServerDisconnected("lost")] * 3
    delays = []
    due = NOW
    for _ in range(3):
        send_due(due)
        row.refresh_from_db()
        delays.append(row.next_attempt_at - row.delivery_attempts.latest("id").finished_at)
        due = row.next_attempt_at
    assert delays == [timedelta(seconds=1000), timedelta(seconds=2000), timedelta(seconds=3600)]


def test_after_the_last_allowed_attempt_a_temporary_failure_is_final(agreement, scripted, settings):
    settings.MONITOR_MAX_ATTEMPTS = 2
    sub = subscription(agreement)
    row = alert(sub=sub)
    scripted.answers = [smtplib.SMTPRecipientsRefused({"press@example.org": (452, b"mailbox full")})] * 3

    send_due(NOW)
    row.refresh_from_db()
    assert row.state == am.PENDING  # one attempt of two: tried again later
    send_due(row.next_attempt_at)
    row.refresh_from_db()
    assert row.state == am.FAILED
    assert row.last_error == "mailbox full"
    assert row.attempts == 2
    assert send_due(NOW + timedelta(days=1)) == 0
    assert row.delivery_attempts.count() == 2
    sub.refresh_from_db()
    assert sub.suspended_at is None  # given up on this alert, not on the address


def test_a_dropped_connection_is_retried_and_the_rest_of_the_batch_still_goes_out(agreement, scripted):
    sub = subscription(agreement)
    first, second = alert("a1", sub=sub), alert("a2", sub=sub)
    scripted.answers = [ConnectionResetError(104, "Connection reset by peer"), None]

    assert send_due(NOW) == 1

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == am.PENDING and second.state == am.SENT
    [(outcome, code, detail)] = attempts(first)
    assert (outcome, code) == (am.TEMPORARY, None)
    assert detail == "ConnectionResetError: [Errno 104] Connection reset by peer"
    assert first.last_error == detail
    [connection] = scripted.connections
    assert connection.connection is None  # dropped, so the next message opens a new one
    assert connection.closed


def test_a_server_gone_by_the_time_the_connection_is_closed_loses_nothing(agreement, scripted):
    row = alert(sub=subscription(agreement))
    scripted.fail_on_close = True

    assert send_due(NOW) == 1
    row.refresh_from_db()
    assert row.state == am.SENT


# --- who sends what, and when -------------------------------------------------------------------------


def test_only_due_unclaimed_alerts_are_sent_the_earliest_first_and_no_more_than_the_limit(agreement, scripted):
    sub = subscription(agreement)
    later = alert("later", sub=sub, due=NOW + timedelta(minutes=1))
    claimed = alert("claimed", sub=sub, due=NOW - timedelta(hours=2), claimed_until=NOW + timedelta(minutes=1))
    expired = alert("expired", sub=sub, due=NOW - timedelta(hours=1), claimed_until=NOW - timedelta(seconds=1))
    oldest = alert("oldest", sub=sub, due=NOW - timedelta(hours=3))
    now_due = alert("now", sub=sub, due=NOW)
    sent = alert("sent", sub=sub, due=NOW - timedelta(hours=4), state=am.SENT)

    assert send_due(NOW, limit=2) == 2
    assert sorted(m.subject for m in scripted.accepted) == ["Subject expired", "Subject oldest"]

    assert send_due(NOW, limit=2) == 1
    assert [m.subject for m in scripted.accepted][2:] == ["Subject now"]
    for row in (later, claimed, sent):
        assert not row.delivery_attempts.exists()


def test_claiming_takes_a_lease_another_sender_respects_until_it_runs_out(agreement):
    row = alert(sub=subscription(agreement))

    token, ids = delivery.claim(NOW, 10)
    assert ids == [row.id]
    row.refresh_from_db()
    assert (row.claim_token, row.claimed_until, row.attempts) == (token, NOW + timedelta(seconds=300), 1)

    # Another sender during the lease gets nothing; after it, the row is its to send.
    assert delivery.claim(NOW + timedelta(seconds=299), 10)[1] == []
    assert delivery.claim(NOW + timedelta(seconds=300), 10)[1] == []
    other, ids = delivery.claim(NOW + timedelta(seconds=301), 10)
    assert ids == [row.id] and other != token
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_sender_whose_lease_was_taken_over_does_not_overwrite_the_new_senders_record(agreement, scripted):
    row = alert(sub=subscription(agreement))

    def lease_taken_over(message):
        # This sender stalled past its lease; another claimed the row meanwhile.
        am.Alert.objects.filter(pk=row.pk).update(claim_token="another-sender", claimed_until=NOW + timedelta(hours=1))
        return None

    scripted.answers = [lease_taken_over]
    assert send_due(NOW) == 1  # the server took the message (the at-least-once window)

    row.refresh_from_db()
    assert row.state == am.PENDING and row.claim_token == "another-sender"
    assert row.sent_at is None


def test_with_the_broker_down_the_sweep_says_so_and_the_alert_waits_for_the_periodic_send(
    agreement, scripted, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from monitor.alerts import tasks
    from monitor.alerts.sweep import run_sweep
    from tests.factories import CommitmentFactory

    def broker_down():
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks.send_alerts, "delay", broker_down)
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")
    subscription(agreement)
    missed = datetime(2020, 3, 10, 19, 31, tzinfo=UTC)  # talks due within 10 days of 29 February, Kabul
    agreement.publish_computed_verdicts = True
    agreement.save()

    with caplog.at_level("WARNING", logger="monitor.alerts.sweep"), django_capture_on_commit_callbacks(execute=True):
        run = run_sweep(now=missed)

    assert run.alerts_queued == 1
    assert [r.getMessage() for r in caplog.records] == [
        "Could not queue monitor.send_alerts; the periodic task will."
    ]
    assert send_due(missed + timedelta(seconds=15)) == 1  # what beat's periodic send does
    assert [m.to for m in scripted.accepted] == [["press@example.org"]]


def test_nothing_due_opens_no_connection(scripted):
    assert send_due(timezone.now()) == 0
    assert scripted.connections == []


def test_the_delivery_guarantee_in_the_operations_docs_says_when_a_duplicate_can_happen():
    """docs/operations.md states the guarantee in one paragraph; this holds it to what the code does.

    The behaviour itself is proved against the real parts in tests/test_alerts_real.py (a relay slower
    than the lease with two workers; one message slower than its lease; a worker killed mid-send).
    """
    from pathlib import Path

    from django.conf import settings as django_settings

    text = (Path(django_settings.BASE_DIR) / "docs" / "operations.md").read_text()
    [paragraph] = [p for p in text.split("\n\n") if p.startswith("**The delivery guarantee.**")]
    paragraph = " ".join(paragraph.split())
    for claim in (
        "delivered once on a healthy system, whatever the relay's speed",
        "renews a row's lease just before sending it",
        "holds the row's lock while that one message is sent",
        "claims skip locked rows",
        "A duplicate is possible only after a crash between the relay's acceptance and the record of it",
        "same deterministic `Message-ID`",
    ):
        assert claim in paragraph, claim
