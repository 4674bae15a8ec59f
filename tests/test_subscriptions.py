from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.messages import unsubscribe_url
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def agreement():
    agreement = AgreementFactory(slug="deal", title="The deal")
    CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")
    return agreement


def path_of(url):
    return url.split("localhost:8000", 1)[1]


def test_signup_sends_only_a_confirmation_until_the_link_is_opened(client, agreement):
    response = client.post("/alerts/subscribe/deal/", {"email": "Reporter@Example.org"})
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    sub = am.Subscription.objects.get()
    assert sub.email == "reporter@example.org" and sub.confirmed_at is None
    send_due()
    [confirmation] = mail.outbox
    assert confirmation.to == ["reporter@example.org"]
    assert "Confirm your alerts for The deal" in confirmation.subject
    assert "List-Unsubscribe" not in confirmation.extra_headers

    # Unconfirmed: a missed deadline is not sent to this address.
    run_sweep(now=datetime(2020, 3, 12, tzinfo=UTC))
    assert not am.Alert.objects.filter(event=am.MISSED).exists()

    link = next(line for line in confirmation.body.splitlines() if "/alerts/confirm/" in line)
    # Opening the link asks (a mail system's link scanner opens it too); pressing the button confirms.
    response = client.get(path_of(link.strip()))
    assert response.status_code == 200 and b"Confirm" in response.content
    sub.refresh_from_db()
    assert sub.confirmed_at is None
    response = client.post(path_of(link.strip()))
    assert response.status_code == 200 and b"Subscribed" in response.content
    sub.refresh_from_db()
    assert sub.confirmed_at is not None


def test_a_tampered_confirmation_link_is_refused(client, agreement):
    assert client.get("/alerts/confirm/not-a-token/").status_code == 404


def test_signing_up_twice_does_not_reveal_or_duplicate_the_subscription(client, agreement):
    first = client.post("/alerts/subscribe/deal/", {"email": "a@example.org"})
    second = client.post("/alerts/subscribe/deal/", {"email": "a@example.org"})
    assert first.content == second.content
    assert am.Subscription.objects.count() == 1


def test_signups_are_rate_limited_per_address(client, agreement, settings):
    cache.clear()
    settings.MONITOR_SIGNUPS_PER_HOUR = "3"
    codes = [client.post("/alerts/subscribe/deal/", {"email": f"p{i}@example.org"}).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert am.Subscription.objects.count() == 3
    cache.clear()


# Talks are due by 10 March (Kabul midnight, 19:30 UTC): missed by 12 March, reminded of on 9 March.
BEFORE_THE_DEADLINE = datetime(2020, 3, 9, 12, tzinfo=UTC)
AFTER_THE_MISS = datetime(2020, 3, 12, tzinfo=UTC)


def watcher_before_the_deadline(client, agreement):
    """A subscriber confirmed long before the deadline, whose mail system's link scanner opens the unsubscribe link."""
    user = UserFactory(email="watcher@example.org")
    sub = am.Subscription.objects.create(user=user, agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    path = path_of(unsubscribe_url(sub))
    assert client.get(path).status_code == 200
    sub.refresh_from_db()
    assert sub.unsubscribed_at is None
    # Still subscribed after the scanner's visit: the reminder before the deadline arrives.
    run_sweep(now=BEFORE_THE_DEADLINE)
    send_due(BEFORE_THE_DEADLINE)
    assert [m.subject for m in mail.outbox] == [
        f"[Compliance monitor] Due 10 March 2020: Talks begin ({agreement.title})"
    ]
    mail.outbox.clear()
    return sub, path


def test_one_click_unsubscribe_stops_alerts_but_a_link_scanner_opening_it_does_not(client, agreement):
    sub, path = watcher_before_the_deadline(client, agreement)
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and b"Unsubscribed" in response.content
    sub.refresh_from_db()
    assert sub.unsubscribed_at is not None

    run_sweep(now=AFTER_THE_MISS)
    send_due(AFTER_THE_MISS)
    assert mail.outbox == []
    assert not am.Alert.objects.filter(event=am.MISSED).exists()


def test_a_subscriber_who_does_not_unsubscribe_is_told_of_the_missed_deadline(client, agreement):
    # The control for the test above: the same subscriber, the same sweep, no one-click POST.
    watcher_before_the_deadline(client, agreement)
    run_sweep(now=AFTER_THE_MISS)
    send_due(AFTER_THE_MISS)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["watcher@example.org"], f"[Compliance monitor] Missed: Talks begin ({agreement.title})")
    ]


def test_health_is_stale_before_any_sweep_and_ok_right_after_one(client, agreement):
    response = client.get("/alerts/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "stale"
    run_sweep(now=timezone.now())
    response = client.get("/alerts/health/")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["last_sweep"]["commitments_evaluated"] == 1
    assert data["sweep_interval_seconds"] == 60


def test_health_turns_stale_after_three_missed_intervals_and_the_admin_says_so(client, agreement):
    run_sweep(now=timezone.now())
    am.SweepRun.objects.update(started_at=timezone.now() - timedelta(seconds=181))
    assert client.get("/alerts/health/").status_code == 503
    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.get("/admin/alerts/sweeprun/")
    assert b"more than three intervals ago" in response.content
    assert b"Outbox backlog: 0 alerts due." in response.content


def test_daily_digest_lists_coming_deadlines_once_a_day(agreement, settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 6
    user = UserFactory(email="editor@example.org")
    am.Subscription.objects.create(user=user, agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC),
                                   reminder_days=[], delivery=am.EACH_AND_DIGEST)
    run_sweep(now=datetime(2020, 3, 5, 5, tzinfo=UTC))  # before the digest hour
    send_due(datetime(2020, 3, 5, 5, tzinfo=UTC))
    assert mail.outbox == []
    run_sweep(now=datetime(2020, 3, 5, 7, tzinfo=UTC))
    run_sweep(now=datetime(2020, 3, 5, 8, tzinfo=UTC))
    send_due(datetime(2020, 3, 5, 8, tzinfo=UTC))
    [digest] = mail.outbox
    assert digest.subject == "[Compliance monitor] Daily digest: 1 open breaches and coming deadlines"
    assert "Talks begin" in digest.body and "(provisional)" in digest.body


def test_the_daily_digest_goes_out_at_the_digest_hour_and_not_a_second_before(agreement, settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 14
    user = UserFactory(email="editor@example.org")
    am.Subscription.objects.create(user=user, agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC),
                                   reminder_days=[], delivery=am.EACH_AND_DIGEST)

    def digests_after_a_sweep_at(now):
        run_sweep(now=now)
        send_due(now)
        return [m.subject for m in mail.outbox if "Daily digest" in m.subject]

    assert digests_after_a_sweep_at(datetime(2020, 3, 4, 13, 59, 59, 999999, tzinfo=UTC)) == []
    assert not am.Alert.objects.filter(event=am.DIGEST).exists()
    assert len(digests_after_a_sweep_at(datetime(2020, 3, 4, 14, tzinfo=UTC))) == 1
    assert len(digests_after_a_sweep_at(datetime(2020, 3, 4, 23, 59, tzinfo=UTC))) == 1  # once a day
    # The next day's digest waits for the hour too.
    assert len(digests_after_a_sweep_at(datetime(2020, 3, 5, 13, 59, 59, 999999, tzinfo=UTC))) == 1
    assert len(digests_after_a_sweep_at(datetime(2020, 3, 5, 14, tzinfo=UTC))) == 2
