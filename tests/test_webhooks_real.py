"""Webhooks against the real parts: a `celery worker` process, Redis, PostgreSQL, a real HTTP receiver.

The worker sweeps and sends as in production; the receiver is a real HTTP server on 127.0.0.1 in this
process (tests/webhook_receiver.py), the owner's email goes to a real SMTP server (tests/realparts.py).
The worker reaches 127.0.0.1 because its environment says so (MONITOR_WEBHOOK_ALLOWED_NETWORKS, read by
monitor/settings.py). Each test asserts what the receiver, or the webhook's owner, would notice.
"""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from monitor.alerts import models as am
from tests.factories import AgreementFactory, CommitmentFactory, UserFactory
from tests.realparts import _empty_broker_afterwards, celery_app, smtp, wait_until, workers  # noqa: F401 (fixtures)
from tests.webhook_receiver import Hang, receiver  # noqa: F401 (receiver: a fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120, method="signal"),  # signal: fixtures still tear down, so no process outlives a test
    pytest.mark.django_db(transaction=True),  # the worker sees committed rows only
]

PAUSED = "[Compliance monitor] Webhook paused: "


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _allow_this_machine(settings):
    settings.MONITOR_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # registration, in this process


# The workers may reach the receiver on 127.0.0.1, and give up on it after 1 s.
WORKER_ENV = {"MONITOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "MONITOR_WEBHOOK_TIMEOUT_SECONDS": "1"}


# --- helpers --------------------------------------------------------------------------------------------


def recently_missed():
    """A deadline that passed at the start of today (UTC): missed, recently enough to be news."""
    today = timezone.now().astimezone(UTC).date()
    agreement = AgreementFactory(slug="deal", title="The deal", time_zone="UTC", signed_on=today - timedelta(days=2))
    talks = CommitmentFactory(agreement=agreement, key="talks", title="Talks begin", due_offset=1)
    return agreement, talks, datetime.combine(today, time(0), tzinfo=UTC)


def register(url, agreement, email="owner@mission.example.org"):
    """As the admin does: checked (full_clean), owned by whoever registered it."""
    hook = am.Webhook(agreement=agreement, url=url, owner=UserFactory(username="owner", email=email))
    hook.full_clean()
    hook.save()
    return hook


def finished_sweeps():
    return am.SweepRun.objects.filter(finished_at__isnull=False).count()


def drain(app):
    """Wait until the solo worker has done every task sent to it so far (a sweep sent now finishes last)."""
    before = finished_sweeps()
    app.send_task("monitor.sweep")
    wait_until(lambda: finished_sweeps() > before, timeout=30, what="the worker to finish the tasks sent to it")


def tick(app, *names):
    """What beat does on its schedule."""
    return lambda: [app.send_task(name) for name in names]


def attempts(alert):
    return list(alert.delivery_attempts.values_list("outcome", "http_status"))


# --- tests ----------------------------------------------------------------------------------------------


def test_a_missed_deadline_reaches_the_receiver_from_the_worker_once_signed_and_keyed(receiver, workers, celery_app):
    agreement, talks, due = recently_missed()
    hook = register(receiver.url(), agreement)
    workers()

    celery_app.send_task("monitor.sweep")  # the worker sweeps, then queues and runs monitor.send_alerts
    receiver.wait_for(1)
    celery_app.send_task("monitor.send_alerts")
    drain(celery_app)  # another sweep and another send: nothing new is owed, nothing is sent again

    [request] = receiver.received
    alert = am.Alert.objects.get(webhook=hook)
    assert request.signed_by(hook.secret)
    assert request.key == request.json["key"] == alert.key
    body = request.json
    assert (body["event"], body["new_status"], body["kind"]) == ("missed", "missed", "computed")
    assert body["assessed"] is False and body["corrects"] is None
    assert body["commitment"]["key"] == "talks" and body["agreement"] == {"slug": "deal", "title": "The deal"}
    assert body["effective_at"] == due.isoformat()
    assert (alert.state, alert.attempts) == (am.SENT, 1)
    assert attempts(alert) == [(am.ACCEPTED, 200)]


def test_a_receiver_answering_500_twice_then_200_gets_one_accepted_delivery_after_three_attempts(
    receiver, workers, celery_app
):
    agreement, talks, due = recently_missed()
    hook = register(receiver.url(), agreement)
    receiver.answers = [500, 500]  # then 200
    workers()

    celery_app.send_task("monitor.sweep")
    receiver.wait_for(3, tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.3)
    wait_until(lambda: am.Alert.objects.filter(webhook=hook, state=am.SENT).exists(), timeout=15,
               what="the delivery to be recorded as accepted")
    drain(celery_app)

    alert = am.Alert.objects.get(webhook=hook)
    assert len(receiver.received) == 3
    assert {r.key for r in receiver.received} == {alert.key}
    assert all(r.signed_by(hook.secret) for r in receiver.received)
    assert (alert.state, alert.attempts) == (am.SENT, 3)
    assert attempts(alert) == [(am.TEMPORARY, 500), (am.TEMPORARY, 500), (am.ACCEPTED, 200)]
    assert receiver.processed == [alert.key]


def test_a_receiver_that_hangs_past_the_timeout_is_retried_and_drops_the_repeat_by_its_idempotency_key(
    receiver, workers, celery_app
):
    agreement, talks, due = recently_missed()
    hook = register(receiver.url(), agreement)
    receiver.answers = [Hang(3)]  # takes the first request, answers after the worker's 1 s timeout; then 200
    workers()

    celery_app.send_task("monitor.sweep")
    wait_until(lambda: am.Alert.objects.filter(webhook=hook, state=am.SENT).exists(), timeout=20,
               what="the delivery to be accepted", tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.3)
    drain(celery_app)

    alert = am.Alert.objects.get(webhook=hook)
    first, second = receiver.received  # the receiver processed the hung request too...
    assert first.key == second.key == alert.key  # ...and can tell the retry is the same delivery
    assert receiver.processed == [alert.key]
    assert attempts(alert) == [(am.TEMPORARY, None), (am.ACCEPTED, 200)]
    timed_out = alert.delivery_attempts.first()
    assert timed_out.detail == "Timed out: no answer within 1 s."
    assert alert.state == am.SENT and am.Alert.objects.filter(webhook=hook).count() == 1


def test_a_receiver_failing_longer_than_the_pause_delay_is_paused_and_its_owner_gets_one_email(
    receiver, smtp, workers, celery_app
):
    agreement, talks, due = recently_missed()
    hook = register(receiver.url(), agreement)
    receiver.default = 503
    workers(MONITOR_WEBHOOK_PAUSE_AFTER_HOURS=str(2 / 3600))  # two seconds

    celery_app.send_task("monitor.sweep")
    smtp.wait_for(1, timeout=20, tick=tick(celery_app, "monitor.sweep", "monitor.send_alerts"), tick_every=0.5)
    alert = am.Alert.objects.get(webhook=hook)
    wait_until(lambda: am.Alert.objects.filter(pk=alert.pk, state=am.FAILED).exists(), timeout=15,
               what="the queued delivery to fail", tick=tick(celery_app, "monitor.sweep", "monitor.send_alerts"),
               tick_every=0.5)
    tried = len(receiver.received)
    for _ in range(3):  # more sweeps and sends, as beat goes on
        tick(celery_app, "monitor.sweep", "monitor.send_alerts")()
    drain(celery_app)

    hook.refresh_from_db()
    [told] = smtp.messages
    assert told.rcpt_tos == ["owner@mission.example.org"]
    assert told.subject == PAUSED + hook.url
    assert "paused" in told.text and "Resume" in told.text
    assert hook.paused_at is not None and hook.failing_since is not None
    assert hook.paused_at - hook.failing_since >= timedelta(seconds=2)
    alert.refresh_from_db()
    assert alert.last_error.startswith("Not sent: the webhook is paused")
    assert tried >= 2 and len(receiver.received) == tried  # nothing more reaches a paused webhook
    assert {r.key for r in receiver.received} == {alert.key}


def test_a_host_that_resolves_to_a_loopback_address_is_refused_by_the_worker_when_sending(
    receiver, workers, celery_app
):
    agreement, talks, due = recently_missed()
    # Registered while this machine was allowed; the worker's deployment allows no private network.
    hook = am.Webhook.objects.create(agreement=agreement, url=f"http://localhost:{receiver.port}/hook",
                                     owner=UserFactory(username="owner"))
    workers(MONITOR_WEBHOOK_ALLOWED_NETWORKS="")

    celery_app.send_task("monitor.sweep")
    wait_until(lambda: am.Alert.objects.filter(webhook=hook, state=am.FAILED).exists(), timeout=15,
               what="the delivery to be refused", tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.3)
    drain(celery_app)

    alert = am.Alert.objects.get(webhook=hook)
    [attempt] = alert.delivery_attempts.all()
    assert (attempt.outcome, attempt.http_status) == (am.PERMANENT, None)
    assert attempt.detail.startswith("Refused: ")
    assert "an address of localhost) is a loopback address" in attempt.detail
    assert receiver.received == []
