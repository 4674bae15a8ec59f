"""Who hears of a transition: staff at once; outside subscribers once an analyst's assessment agrees with it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, AssessmentFactory, CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)
DEAL = "The deal"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def talks():
    # The agreement does not publish computed verdicts: outside subscribers wait for an analyst.
    agreement = AgreementFactory(slug="deal", title=DEAL, publish_computed_verdicts=False)
    staff = UserFactory(username="watcher", email="watcher@example.org")
    confirmed = datetime(2020, 1, 1, tzinfo=UTC)
    am.Subscription.objects.create(user=staff, agreement=agreement, reminder_days=[], confirmed_at=confirmed)
    am.Subscription.objects.create(email="press@example.org", agreement=agreement, reminder_days=[],
                                   confirmed_at=confirmed)
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")


def sweep_and_send(hours_after_the_miss):
    now = MISSED_AT + timedelta(hours=hours_after_the_miss)
    run_sweep(now=now)
    send_due(now)


def received():
    return sorted((m.to[0], m.subject) for m in mail.outbox)


MISSED = f"[Compliance monitor] Missed: Talks begin ({DEAL})"


def test_outside_subscribers_hear_of_a_miss_only_once_an_analyst_assesses_it_as_missed(talks):
    sweep_and_send(1)
    assert received() == [("watcher@example.org", MISSED)]  # staff: at once, provisional

    # The analyst says the outcome is disputed, not missed: the public still hears nothing of a miss.
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="disputed",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(3)
    assert received() == [("watcher@example.org", MISSED)]
    assert not am.Alert.objects.filter(to_email="press@example.org").exists()

    # On a second look the analyst confirms the miss: now it is news for everyone.
    AssessmentFactory(commitment=talks, action="confirm", computed_status="missed", status="missed",
                      assessed_at=MISSED_AT + timedelta(hours=4))
    sweep_and_send(5)
    assert received() == [("press@example.org", MISSED), ("watcher@example.org", MISSED)]
    press = next(m for m in mail.outbox if m.to == ["press@example.org"])
    assert "Assessed by an analyst: Missed." in press.body


def test_outside_subscribers_hear_nothing_of_a_miss_an_analyst_overrides_as_met(talks):
    sweep_and_send(1)
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(3)
    sweep_and_send(4)
    # Staff got the provisional miss and its correction; the press got neither.
    assert received() == [("watcher@example.org",
                           f"[Compliance monitor] Correction: Talks begin is not missed ({DEAL})"),
                          ("watcher@example.org", MISSED)]
