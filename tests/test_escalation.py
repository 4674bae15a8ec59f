"""A missed deadline or a breach no analyst assesses in time goes to the Analysts, once, never to the public."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from monitor.accounts.roles import ANALYST
from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, AssessmentFactory, CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)
DETECTED = MISSED_AT + timedelta(minutes=1)
DEAL = "The deal"
ESCALATED = f"[Compliance monitor] Not assessed after 48 hours: Talks begin is missed ({DEAL})"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def talks():
    agreement = AgreementFactory(slug="deal", title=DEAL)  # verdicts published once assessed
    am.Subscription.objects.create(email="reader@example.org", agreement=agreement, reminder_days=[],
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")


@pytest.fixture
def analysts():
    group, _ = Group.objects.get_or_create(name=ANALYST)
    people = [UserFactory(username=name, email=f"{name}@mission.example.org") for name in ("amina", "ben")]
    for user in people:
        user.groups.add(group)
    UserFactory(username="monitor", email="monitor@mission.example.org")  # not an Analyst
    return people


def sweep_and_send(now):
    run_sweep(now=now)
    send_due(now)


def sent(subject):
    return sorted(to for m in mail.outbox if m.subject == subject for to in m.to)


def test_a_miss_nobody_assesses_for_48_hours_is_sent_to_every_analyst_once(talks, analysts):
    sweep_and_send(DETECTED)
    sweep_and_send(DETECTED + timedelta(hours=47, minutes=59))
    assert sent(ESCALATED) == []

    sweep_and_send(DETECTED + timedelta(hours=48))
    sweep_and_send(DETECTED + timedelta(hours=49))
    sweep_and_send(DETECTED + timedelta(days=5))

    assert sent(ESCALATED) == ["amina@mission.example.org", "ben@mission.example.org"]
    # The outside subscriber waits for an assessment, and is never told of the escalation.
    assert [m.subject for m in mail.outbox if "reader@example.org" in m.to] == []
    body = next(m for m in mail.outbox if m.subject == ESCALATED).body
    assert "no analyst has assessed it" in body and "Talks begin" in body
    assert am.Alert.objects.filter(event=am.ESCALATION).count() == 2


def test_an_assessment_made_after_the_miss_acknowledges_it_and_nothing_is_escalated(talks, analysts):
    sweep_and_send(DETECTED)
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=DETECTED + timedelta(hours=3), author=analysts[0])
    sweep_and_send(DETECTED + timedelta(hours=50))
    assert sent(ESCALATED) == []


def test_an_assessment_of_an_earlier_episode_does_not_acknowledge_a_new_one(talks, analysts):
    AssessmentFactory(commitment=talks, action="confirm", computed_status="missed",
                      assessed_at=DETECTED - timedelta(hours=1), author=analysts[0])
    sweep_and_send(DETECTED)
    sweep_and_send(DETECTED + timedelta(hours=48))
    assert sent(ESCALATED) == ["amina@mission.example.org", "ben@mission.example.org"]


def test_each_agreement_sets_its_own_delay_and_zero_turns_escalation_off(talks, analysts):
    agreement = talks.agreement
    agreement.escalate_after_hours = 6
    agreement.save()
    sweep_and_send(DETECTED)
    sweep_and_send(DETECTED + timedelta(hours=6))
    assert sent(f"[Compliance monitor] Not assessed after 6 hours: Talks begin is missed ({agreement.title})") == [
        "amina@mission.example.org", "ben@mission.example.org"]

    quiet = CommitmentFactory(agreement=AgreementFactory(slug="quiet", escalate_after_hours=0), key="talks",
                              title="Quiet talks")
    sweep_and_send(DETECTED + timedelta(days=10))
    assert quiet.status_changes.latest("id").new_status == "missed"  # missed, unassessed, and yet:
    assert not am.Alert.objects.filter(event=am.ESCALATION, commitment=quiet).exists()
