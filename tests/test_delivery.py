"""Sending the outbox, in process, to a real SMTP server scripted to give each answer: what it does to an alert.

Every test that sends goes through Django's SMTP backend to an aiosmtpd server of its own on a
free localhost port (tests/realparts.py, `SMTPServer`), which answers each command as the test
scripted it: a refusal for now or for good at MAIL, RCPT or the end of DATA, undecodable bytes,
a connection dropped instead of an answer, a server gone before or at QUIT. For each, these say
what the subscriber and the staff looking at the outbox see: the email the server received and
its headers, the alert's state, when it is tried again, the attempts recorded, and a suspended
subscription. test_alerts_real.py (marked slow) has the same server behind real worker processes.
"""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils import timezone

from monitor.alerts import delivery, messages
from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from tests.factories import AgreementFactory
from tests.realparts import SMTPServer

pytestmark = pytest.mark.django_db

NOW = datetime(2020, 3, 11, 8, 0, tzinfo=UTC)
DROP = SMTPServer.DROP


@pytest.fixture(autouse=True)
def delivery_settings(settings):
    settings.DEFAULT_FROM_EMAIL = "alerts@monitor.example"
    settings.MONITOR_RETRY_BASE_SECONDS = 30
    settings.MONITOR_MAX_ATTEMPTS = 12
    settings.MONITOR_SEND_LEASE_SECONDS = 300


@pytest.fixture
def smtp(settings, caplog):
    """This test's own SMTP server, reached through Django's SMTP backend; stopped at teardown, pass or fail."""
    caplog.set_level(logging.WARNING, logger="mail.log")  # aiosmtpd logs every command at INFO
    server = SMTPServer().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5  # a reply the script forgot fails the test in seconds, not never
        yield server
    finally:
        server.stop()
        print(server.describe())  # pytest shows it only if the test failed


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


def html_part(message):
    part = message.get_body(("html",))
    return part.get_content().strip() if part is not None else None


# --- accepted -----------------------------------------------------------------------------------------


def test_an_accepted_alert_reaches_the_subscriber_once_with_its_headers_html_and_sender(
    agreement, settings, client, smtp
):
    sub = subscription(agreement)
    row = alert(sub=sub, html="<p>Text a1</p>")

    assert send_due(NOW) == 1
    assert send_due(NOW + timedelta(hours=1)) == 0  # sent is sent: never again

    [received] = smtp.messages
    assert (received.mail_from, received.rcpt_tos) == ("alerts@monitor.example", ["press@example.org"])
    message = received.message
    assert (message["From"], message["To"]) == ("alerts@monitor.example", "press@example.org")
    assert (received.subject, received.text.strip()) == ("Subject a1", "Text a1")
    assert html_part(message) == "<p>Text a1</p>"
    assert received.message_id == row.message_id
    # One-click unsubscribe (RFC 8058) as mail clients offer it: they POST this body to this link.
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip()  # longer than a header line, it comes folded onto the next
    assert link.startswith(f"<{messages.absolute('/')}") and link.endswith(">")
    assert client.post(urlsplit(link[1:-1]).path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    sub.refresh_from_db()
    assert sub.unsubscribed_at is not None

    row.refresh_from_db()
    assert row.state == am.SENT
    assert row.sent_at is not None and row.claimed_until is None and row.last_error == ""
    assert attempts(row) == [(am.ACCEPTED, None, "")]


def test_a_plain_alert_has_no_html_part_and_a_confirmation_has_no_unsubscribe_link(agreement, smtp):
    sub = subscription(agreement)
    rows = [alert("plain", sub=sub), alert("confirm", sub=sub, event=am.CONFIRM_SUBSCRIPTION)]
    rows.append(alert("no-subscription", to="staff@example.org"))

    assert send_due(NOW) == 3

    by_subject = {received.subject: received.message for received in smtp.messages}
    plain = by_subject["Subject plain"]
    assert not plain.is_multipart() and html_part(plain) is None
    assert "List-Unsubscribe" in plain
    # Nobody is subscribed until they confirm, and an alert to no subscription has nothing to leave.
    for subject in ("Subject confirm", "Subject no-subscription"):
        assert "List-Unsubscribe" not in by_subject[subject]
        assert "List-Unsubscribe-Post" not in by_subject[subject]
    assert [by_subject[row.subject]["Message-ID"] for row in rows] == [row.message_id for row in rows]


# --- refused for good ---------------------------------------------------------------------------------


def test_a_recipient_the_server_refuses_for_good_fails_and_suspends_the_subscription(agreement, smtp):
    sub = subscription(agreement)
    row = alert(sub=sub)
    smtp.script("RCPT", b"550 5.1.1 no such user \xff")  # not UTF-8: some servers send Latin-1

    assert send_due(NOW) == 0

    assert smtp.messages == []
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


def test_a_suspended_subscription_keeps_the_reason_it_was_first_suspended_for(agreement, smtp):
    sub = subscription(agreement)
    first = datetime(2020, 2, 1, tzinfo=UTC)
    am.Subscription.objects.filter(pk=sub.pk).update(suspended_at=first, suspended_reason="550 mailbox gone")
    row = alert(sub=sub)
    smtp.script("RCPT", "550 5.1.1 still gone")

    send_due(NOW)

    assert attempts(row) == [(am.PERMANENT, 550, "5.1.1 still gone")]
    sub.refresh_from_db()
    assert (sub.suspended_at, sub.suspended_reason) == (first, "550 mailbox gone")


def test_a_message_the_server_rejects_for_good_fails_without_retrying(agreement, smtp):
    sub = subscription(agreement)
    row = alert(sub=sub)
    smtp.script("DATA", "554 5.7.1 message rejected as spam")

    assert send_due(NOW) == 0

    assert smtp.messages == []
    row.refresh_from_db()
    assert row.state == am.FAILED
    assert row.last_error == "5.7.1 message rejected as spam"
    assert attempts(row) == [(am.PERMANENT, 554, "5.7.1 message rejected as spam")]
    sub.refresh_from_db()
    assert sub.suspended_reason == "554 5.7.1 message rejected as spam"
    assert send_due(NOW + timedelta(days=1)) == 0
    assert len(attempts(row)) == 1


def test_a_hard_bounce_of_an_alert_to_no_subscription_suspends_nothing(agreement, smtp):
    other = subscription(agreement)
    row = alert(to="staff@example.org")
    smtp.script("RCPT", "550 5.1.1 no such user")

    send_due(NOW)

    row.refresh_from_db()
    assert (row.state, row.last_error) == (am.FAILED, "5.1.1 no such user")
    other.refresh_from_db()
    assert other.suspended_at is None


@pytest.mark.parametrize("command", ["RCPT", "DATA"], ids=["recipient", "message"])
def test_the_lowest_permanent_code_500_is_final(agreement, smtp, command):
    row = alert(sub=subscription(agreement))
    smtp.script(command, "500 5.5.2 syntax error")

    send_due(NOW)

    row.refresh_from_db()
    assert row.state == am.FAILED
    assert attempts(row) == [(am.PERMANENT, 500, "5.5.2 syntax error")]


# --- refused for now ----------------------------------------------------------------------------------


def test_a_temporary_refusal_is_retried_later_with_a_doubling_delay(agreement, smtp):
    sub = subscription(agreement)
    row = alert(sub=sub)
    smtp.script("RCPT", *["451 4.7.1 greylisted, try again later"] * 2)  # then the usual: accepted

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
    assert smtp.messages == []

    assert send_due(row.next_attempt_at) == 1
    row.refresh_from_db()
    assert (row.state, row.last_error) == (am.SENT, "")
    assert [a[0] for a in attempts(row)] == [am.TEMPORARY, am.TEMPORARY, am.ACCEPTED]
    assert [received.message_id for received in smtp.messages] == [row.message_id]


def test_a_busy_server_answer_is_temporary_and_keeps_the_servers_words(agreement, smtp):
    row = alert(sub=subscription(agreement))
    smtp.script("MAIL", "421 4.3.2 service shutting down", hang_up=True)  # 421: the server closes, too

    send_due(NOW)

    row.refresh_from_db()
    assert row.state == am.PENDING
    assert attempts(row) == [(am.TEMPORARY, 421, "4.3.2 service shutting down")]


def test_the_delay_between_retries_never_exceeds_an_hour(agreement, smtp, settings):
    settings.MONITOR_RETRY_BASE_SECONDS = 1000
    row = alert(sub=subscription(agreement))
    smtp.script("MAIL", DROP, DROP, DROP)  # the server hangs up on the sender each time
    delays = []
    due = NOW
    for _ in range(3):
        send_due(due)
        row.refresh_from_db()
        delays.append(row.next_attempt_at - row.delivery_attempts.latest("id").finished_at)
        due = row.next_attempt_at
    assert delays == [timedelta(seconds=1000), timedelta(seconds=2000), timedelta(seconds=3600)]
    assert {outcome for outcome, _, _ in attempts(row)} == {am.TEMPORARY}


def test_after_the_last_allowed_attempt_a_temporary_failure_is_final(agreement, smtp, settings):
    settings.MONITOR_MAX_ATTEMPTS = 2
    sub = subscription(agreement)
    row = alert(sub=sub)
    smtp.script("RCPT", *["452 4.2.2 mailbox full"] * 3)

    send_due(NOW)
    row.refresh_from_db()
    assert row.state == am.PENDING  # one attempt of two: tried again later
    send_due(row.next_attempt_at)
    row.refresh_from_db()
    assert row.state == am.FAILED
    assert row.last_error == "4.2.2 mailbox full"
    assert row.attempts == 2
    assert send_due(NOW + timedelta(days=1)) == 0
    assert row.delivery_attempts.count() == 2
    assert smtp.messages == []
    sub.refresh_from_db()
    assert sub.suspended_at is None  # given up on this alert, not on the address


def test_a_dropped_connection_is_retried_and_the_rest_of_the_batch_still_goes_out(agreement, smtp):
    sub = subscription(agreement)
    first, second = alert("a1", sub=sub), alert("a2", sub=sub)
    smtp.script("DATA", DROP)  # the whole message sent, and the connection gone instead of an answer

    assert send_due(NOW) == 1

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == am.PENDING and second.state == am.SENT
    [(outcome, code, detail)] = attempts(first)
    assert (outcome, code) == (am.TEMPORARY, None)
    assert detail == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert first.last_error == detail
    assert [received.subject for received in smtp.messages] == ["Subject a2"]  # a dropped message was not taken
    assert smtp.connections == 2  # the next message went out on a connection of its own


def test_a_server_gone_by_the_time_the_connection_is_closed_loses_nothing(agreement, smtp):
    sub = subscription(agreement)
    rows = [alert(f"a{i}", sub=sub) for i in (1, 2, 3)]
    # a1: the server takes the message, says so and hangs up before the sender's QUIT;
    # a2: it hangs up instead of answering QUIT; a3: it answers QUIT with an error.
    smtp.script("DATA", None, hang_up=True)
    smtp.script("QUIT", DROP, "421 4.3.2 service shutting down")

    assert send_due(NOW) == 3

    assert sorted(received.message_id for received in smtp.messages) == sorted(row.message_id for row in rows)
    for row in rows:
        row.refresh_from_db()
        assert (row.state, attempts(row)) == (am.SENT, [(am.ACCEPTED, None, "")])
    assert smtp.scripted == [
        ("DATA", (None, "hung up")), ("QUIT", DROP), ("QUIT", "421 4.3.2 service shutting down"),
    ]


# --- who sends what, and when -------------------------------------------------------------------------


def test_only_due_unclaimed_alerts_are_sent_the_earliest_first_and_no_more_than_the_limit(agreement, smtp):
    sub = subscription(agreement)
    later = alert("later", sub=sub, due=NOW + timedelta(minutes=1))
    claimed = alert("claimed", sub=sub, due=NOW - timedelta(hours=2), claimed_until=NOW + timedelta(minutes=1))
    alert("expired", sub=sub, due=NOW - timedelta(hours=1), claimed_until=NOW - timedelta(seconds=1))
    alert("oldest", sub=sub, due=NOW - timedelta(hours=3))
    alert("now", sub=sub, due=NOW)
    sent = alert("sent", sub=sub, due=NOW - timedelta(hours=4), state=am.SENT)

    assert send_due(NOW, limit=2) == 2
    assert sorted(m.subject for m in smtp.messages) == ["Subject expired", "Subject oldest"]

    assert send_due(NOW, limit=2) == 1
    assert [m.subject for m in smtp.messages][2:] == ["Subject now"]
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


class SMTPBackendOvertaken(SMTPBackend):
    """Django's SMTP backend, with another sender taking the row over while this one sends (see the test).

    The one stand-in of this file, and it stands in for a sender, not for the server: on PostgreSQL
    this sender holds the row's lock while it sends, and another sender's claim skips locked rows, so
    no real second sender can take the row over mid-send (SQLite, which ignores the lock, could). The
    takeover is therefore played in this sender's own transaction, once the real server has taken
    the message; `overtake` is set by the test.
    """

    overtake = None

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        type(self).overtake()
        return sent


def test_a_sender_whose_lease_was_taken_over_does_not_overwrite_the_new_senders_record(
    agreement, smtp, settings, monkeypatch
):
    row = alert(sub=subscription(agreement))

    def lease_taken_over():
        # This sender stalled past its lease; another claimed the row meanwhile.
        am.Alert.objects.filter(pk=row.pk).update(claim_token="another-sender", claimed_until=NOW + timedelta(hours=1))

    monkeypatch.setattr(SMTPBackendOvertaken, "overtake", staticmethod(lease_taken_over))
    settings.EMAIL_BACKEND = f"{__name__}.SMTPBackendOvertaken"
    assert send_due(NOW) == 1  # the server took the message (the at-least-once window)

    assert [received.message_id for received in smtp.messages] == [row.message_id]
    row.refresh_from_db()
    assert row.state == am.PENDING and row.claim_token == "another-sender"
    assert row.sent_at is None


def test_with_the_broker_down_the_sweep_says_so_and_the_alert_waits_for_the_periodic_send(
    agreement, smtp, monkeypatch, caplog, django_capture_on_commit_callbacks
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
    assert [m.rcpt_tos for m in smtp.messages] == [["press@example.org"]]


def test_nothing_due_opens_no_connection(smtp):
    assert send_due(timezone.now()) == 0
    assert smtp.connections == 0 and smtp.commands == []


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
