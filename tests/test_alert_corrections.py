"""Withdrawn verdicts: unsent alerts are cancelled, sent ones corrected, by rejected evidence or an analyst."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.mail import get_connection

from monitor.alerts import delivery
from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import REJECTED
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    CoverageFactory,
    ReportFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)
# A violation of the prohibition on 20 March, reported an hour later, rejected as fabricated on 21 March.
VIOLATION = datetime(2020, 3, 20, tzinfo=UTC)
REJECTED_AT = datetime(2020, 3, 21, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def agreement():
    agreement = AgreementFactory(slug="deal", title="The deal")
    user = UserFactory(username="watcher", email="watcher@example.org")
    am.Subscription.objects.create(user=user, agreement=agreement, reminder_days=[],
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    return agreement


@pytest.fixture
def talks(agreement):
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")


@pytest.fixture
def prohibition(agreement):
    # A source covering every day: "in compliance" once the breach is withdrawn is then a finding, not silence.
    CoverageFactory()
    return CommitmentFactory(agreement=agreement, key="no_ties", title="No ties to al-Qaeda", kind="prohibition",
                             due_offset=None, rule={"categories": ["al_qaeda_ties"], "attribution": "any"})


def breach_report():
    return ReportFactory(category="al_qaeda_ties", occurred_at=VIOLATION, recorded_at=VIOLATION + timedelta(hours=1))


def subjects():
    return [m.subject for m in mail.outbox]


def test_a_breach_alert_still_unsent_when_its_report_is_rejected_is_cancelled_and_never_corrected(prohibition):
    report = breach_report()
    run_sweep(now=VIOLATION + timedelta(hours=2))  # the breach is recorded; its alert waits in the outbox
    [breached] = am.Alert.objects.filter(event=am.BREACHED)
    assert breached.state == am.PENDING

    report.set_verification(REJECTED, at=REJECTED_AT, reason="Fabricated.")
    run_sweep(now=REJECTED_AT + timedelta(hours=1))
    send_due(REJECTED_AT + timedelta(hours=1))
    run_sweep(now=REJECTED_AT + timedelta(hours=2))
    send_due(REJECTED_AT + timedelta(hours=2))

    breached.refresh_from_db()
    assert breached.state == am.CANCELLED
    assert mail.outbox == []  # neither "Breached" nor a correction of an email nobody got
    assert not am.Alert.objects.filter(event=am.CORRECTION).exists()
    latest = prohibition.status_changes.latest("id")
    assert (latest.old_status, latest.new_status, latest.kind) == ("breached", "in_compliance", "correction")


def test_a_breach_alert_being_sent_when_its_report_is_rejected_is_sent_and_then_corrected(prohibition):
    report = breach_report()
    run_sweep(now=VIOLATION + timedelta(hours=2))
    # A sender claims the alert (its lease runs five minutes) and is still talking to the mail server...
    sending_at = REJECTED_AT + timedelta(hours=1)
    token, [alert_id] = delivery.claim(sending_at, 100)
    # ...when the report is rejected and a sweep runs: it must not cancel a row that is on its way.
    report.set_verification(REJECTED, at=REJECTED_AT, reason="Fabricated.")
    run_sweep(now=sending_at)
    connection = get_connection()
    assert delivery._deliver(am.Alert.objects.get(pk=alert_id), token, connection) == 1
    send_due(sending_at + timedelta(minutes=1))

    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[Compliance monitor] Breached",
                                                               "[Compliance monitor] Correction"]
    assert {m.to[0] for m in mail.outbox} == {"watcher@example.org"}
    assert am.Alert.objects.get(pk=alert_id).state == am.SENT


def test_an_analyst_overriding_a_missed_deadline_that_was_emailed_sends_one_correction(talks):
    run_sweep(now=MISSED_AT + timedelta(hours=1))
    send_due(MISSED_AT + timedelta(hours=1))
    assert subjects() == [f"[Compliance monitor] Missed: Talks begin ({talks.agreement.title})"]
    mail.outbox.clear()

    # The analyst knows talks began on time (the report never reached the monitor): not missed.
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    for hours in (3, 4):
        run_sweep(now=MISSED_AT + timedelta(hours=hours))
        send_due(MISSED_AT + timedelta(hours=hours))

    [correction] = mail.outbox
    assert correction.to == ["watcher@example.org"]
    assert correction.subject == f"[Compliance monitor] Correction: Talks begin is not missed ({talks.agreement.title})"
    assert "withdrawn" in correction.body and "Current status: Met" in correction.body


def test_an_analyst_overriding_a_missed_deadline_before_its_alert_went_out_cancels_the_alert(talks):
    run_sweep(now=MISSED_AT + timedelta(hours=1))
    [missed] = am.Alert.objects.filter(event=am.MISSED)
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    run_sweep(now=MISSED_AT + timedelta(hours=3))
    send_due(MISSED_AT + timedelta(hours=3))

    missed.refresh_from_db()
    assert missed.state == am.CANCELLED
    assert mail.outbox == []


def test_an_analyst_confirming_a_missed_deadline_withdraws_nothing(talks):
    # The control for the two tests above: an assessment that agrees sends no correction and cancels nothing.
    run_sweep(now=MISSED_AT + timedelta(hours=1))
    AssessmentFactory(commitment=talks, action="confirm", computed_status="missed", status="missed",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    run_sweep(now=MISSED_AT + timedelta(hours=3))
    send_due(MISSED_AT + timedelta(hours=3))
    assert subjects() == [f"[Compliance monitor] Missed: Talks begin ({talks.agreement.title})"]


def test_a_miss_an_analyst_overrode_before_the_sweep_recorded_it_is_never_emailed(talks):
    # The commitment page computes verdicts live: the analyst can override the miss before a sweep records it.
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(minutes=1))
    for minutes in (2, 3):
        run_sweep(now=MISSED_AT + timedelta(minutes=minutes))
        send_due(MISSED_AT + timedelta(minutes=minutes))
    assert subjects() == []
