"""The sweep's edges, each as a subscriber or a monitor would notice it: who is told, when, and what is kept.

Written from the mutants `bin/mutation` found alive in monitor/alerts/sweep.py (docs/testing.md):
each test here fails if one of those one-line faults is put back.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from monitor.alerts import models as am
from monitor.alerts import triggers
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, AssessmentFactory, CommitmentFactory, ReportFactory, UserFactory

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: due (and, with no grace, missed) at Kabul
# midnight, 19:30 UTC on 10 March.
DUE_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)
JOINED = datetime(2020, 1, 1, tzinfo=UTC)
DEAL = "The deal"
MISSED = f"[Compliance monitor] Missed: Talks begin ({DEAL})"
DUE = f"[Compliance monitor] Due 10 March 2020: Talks begin ({DEAL})"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def talks():
    return CommitmentFactory(agreement=AgreementFactory(slug="deal", title=DEAL), key="talks", title="Talks begin")


def staff(agreement, name="watcher", email=None, confirmed_at=JOINED, **kwargs):
    kwargs.setdefault("reminder_days", [])
    user = UserFactory(username=name, email=f"{name}@example.org" if email is None else email)
    return am.Subscription.objects.create(user=user, agreement=agreement, confirmed_at=confirmed_at, **kwargs)


def outside(agreement, email="press@example.org", **kwargs):
    kwargs.setdefault("reminder_days", [])
    return am.Subscription.objects.create(email=email, agreement=agreement, confirmed_at=JOINED, **kwargs)


def sweep_and_send(now, **kwargs):
    run = run_sweep(now=now, **kwargs)
    send_due(now)
    return run


def told(address):
    return [m.subject for m in mail.outbox if address in m.to]


# --- what a sweep records ---------------------------------------------------------------------------------


def test_a_sweep_run_records_what_started_it_the_instant_it_judged_and_each_changes_reason(talks):
    run = run_sweep(now=DUE_AT + timedelta(minutes=1), trigger=am.MANUAL)

    assert (run.trigger, run.as_of) == (am.MANUAL, DUE_AT + timedelta(minutes=1))
    assert run.finished_at is not None and run.transitions == 1
    change = talks.status_changes.get()
    assert (change.new_status, change.reason_code) == ("missed", "deadline.missed")


def test_the_due_soon_window_follows_the_setting(talks, settings):
    settings.MONITOR_DUE_SOON_DAYS = 3
    run_sweep(now=datetime(2020, 3, 5, tzinfo=UTC))  # five days before the due date
    assert talks.status_changes.latest("id").new_status == "not_yet_due"
    run_sweep(now=datetime(2020, 3, 8, tzinfo=UTC))  # two days before
    assert talks.status_changes.latest("id").new_status == "due_soon"


# --- who is told ------------------------------------------------------------------------------------------


def test_an_assessment_dated_after_the_sweeps_instant_does_not_count_yet(talks):
    outside(talks.agreement)
    AssessmentFactory(commitment=talks, computed_status="missed", assessed_at=datetime(2020, 3, 20, tzinfo=UTC))

    sweep_and_send(DUE_AT + timedelta(minutes=1))
    assert told("press@example.org") == []  # as of 10 March, no analyst had assessed it
    sweep_and_send(datetime(2020, 3, 20, 12, tzinfo=UTC))
    assert told("press@example.org") == [MISSED]


def test_a_suspended_subscription_is_told_nothing_and_the_others_are_told(talks):
    bounced = staff(talks.agreement, "bounced")
    am.Subscription.objects.filter(pk=bounced.pk).update(suspended_at=JOINED, suspended_reason="550 no such user")
    staff(talks.agreement, "watcher")

    sweep_and_send(DUE_AT + timedelta(minutes=1))

    assert told("bounced@example.org") == []
    assert told("watcher@example.org") == [MISSED]


def test_a_staff_subscriber_without_an_email_address_is_skipped_and_nobody_else_is(talks):
    staff(talks.agreement, "nomail", email="")
    staff(talks.agreement, "watcher")

    sweep_and_send(DUE_AT + timedelta(minutes=1))

    assert told("watcher@example.org") == [MISSED]
    assert not am.Alert.objects.filter(to_email="").exists()


def test_a_subscription_to_another_commitment_does_not_stop_those_to_the_agreement(talks):
    other = CommitmentFactory(agreement=talks.agreement, key="other", title="Other", due_offset=40)
    staff(talks.agreement, "narrow", commitment=other)  # first in line, about another commitment
    staff(talks.agreement, "watcher")

    sweep_and_send(DUE_AT + timedelta(minutes=1))

    assert told("narrow@example.org") == []
    assert told("watcher@example.org") == [MISSED]


def test_a_subscription_to_the_commitment_wins_over_one_to_its_agreement_for_the_same_person(talks):
    wide = staff(talks.agreement, "watcher", reminder_days=[])
    am.Subscription.objects.create(user=wide.user, agreement=talks.agreement, commitment=talks,
                                   confirmed_at=JOINED, reminder_days=[7])

    sweep_and_send(datetime(2020, 3, 4, tzinfo=UTC))  # six days before the due date

    assert told("watcher@example.org") == [DUE]
    reminder = am.Alert.objects.get(event=am.REMINDER)
    assert reminder.subscription.commitment_id == talks.id
    assert "Due in 7 days or less" in reminder.body_text


def test_a_subscriber_confirmed_at_the_very_instant_of_the_sweep_is_told(talks):
    staff(talks.agreement, "watcher", confirmed_at=DUE_AT + timedelta(minutes=1))
    sweep_and_send(DUE_AT + timedelta(minutes=1))
    assert told("watcher@example.org") == [MISSED]


def test_one_subscriber_who_joined_after_the_change_does_not_stop_the_others_being_told(talks):
    run_sweep(now=DUE_AT + timedelta(minutes=1))  # the miss is recorded before anyone subscribes
    staff(talks.agreement, "late", confirmed_at=DUE_AT + timedelta(hours=1))
    staff(talks.agreement, "watcher")  # subscribed long before
    sweep_and_send(DUE_AT + timedelta(hours=2))

    assert told("late@example.org") == []
    assert told("watcher@example.org") == [MISSED]


def test_a_change_detected_exactly_the_history_limit_after_it_took_effect_is_still_sent_on_its_own(talks, settings):
    settings.MONITOR_HISTORY_DAYS = 2
    staff(talks.agreement)
    sweep_and_send(DUE_AT + timedelta(days=2))
    assert told("watcher@example.org") == [MISSED]


def test_a_change_detected_longer_after_it_took_effect_is_folded_into_a_summary(talks, settings):
    settings.MONITOR_HISTORY_DAYS = 2
    staff(talks.agreement)
    sweep_and_send(DUE_AT + timedelta(days=2, seconds=1))
    assert told("watcher@example.org") == ["[Compliance monitor] 1 past status changes recorded"]


# --- reminders --------------------------------------------------------------------------------------------


def test_the_seven_day_reminder_goes_out_at_the_very_instant_seven_days_before_the_due_date(talks):
    staff(talks.agreement, reminder_days=[7])
    sweep_and_send(DUE_AT - timedelta(days=7, microseconds=1))
    assert told("watcher@example.org") == []
    sweep_and_send(DUE_AT - timedelta(days=7))
    assert told("watcher@example.org") == [DUE]


def test_a_deadline_already_met_gets_no_reminder(talks):
    staff(talks.agreement, reminder_days=[7, 1])
    ReportFactory(occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC), recorded_at=datetime(2020, 3, 5, 9, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 6, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 10, tzinfo=UTC))
    assert told("watcher@example.org") == []


def test_no_reminder_once_the_due_date_has_passed_even_in_the_grace_period():
    talks = CommitmentFactory(agreement=AgreementFactory(slug="deal"), key="talks", title="Talks begin",
                              grace_days=3)
    staff(talks.agreement, reminder_days=[1])
    sweep_and_send(DUE_AT)  # the due date has just passed: three days of grace, still "due soon"
    sweep_and_send(DUE_AT + timedelta(days=1))
    assert talks.status_changes.latest("id").new_status == "due_soon"
    assert told("watcher@example.org") == []


# --- digests ----------------------------------------------------------------------------------------------


def test_the_days_digest_goes_out_once_whichever_sweep_comes_first_past_the_hour(talks, settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 6
    talks.agreement.publish_computed_verdicts = True
    talks.agreement.save()
    outside(talks.agreement, delivery=am.EACH_AND_DIGEST)
    # A weak claim that talks began: the re-evaluation it queues is the first sweep past the hour.
    report = ReportFactory(occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC), credibility=5)
    at_digest_hour = datetime(2020, 3, 6, 7, tzinfo=UTC)  # talks due in four days

    sweep_and_send(at_digest_hour, trigger=am.REPORTS, changes=triggers.describe([report.id]))
    sweep_and_send(at_digest_hour + timedelta(minutes=1))
    [digest] = [m for m in mail.outbox if "press@example.org" in m.to]
    assert digest.subject.startswith("[Compliance monitor] Daily digest")
    assert "Talks begin" in digest.body
