"""The sweep and the outbox, in process (the real worker, Redis and SMTP are in test_alerts_real.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import REJECTED, Coverage
from monitor.verdicts.models import StatusChange
from tests.factories import (
    AgreementFactory,
    AssessmentFactory,
    CommitmentFactory,
    CoverageFactory,
    PartyFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def talks():
    return CommitmentFactory(agreement=AgreementFactory(slug="deal", title="The deal"), key="talks", title="Talks begin")


def staff_subscription(agreement, **kwargs):
    user = UserFactory(username=kwargs.pop("username", "watcher"), email=kwargs.pop("email", "watcher@example.org"))
    return am.Subscription.objects.create(
        user=user, agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC), **kwargs
    )


def outside_subscription(agreement, email="press@example.org", **kwargs):
    return am.Subscription.objects.create(
        email=email, agreement=agreement, confirmed_at=datetime(2020, 1, 1, tzinfo=UTC), **kwargs
    )


def sweep_and_send(now):
    run = run_sweep(now=now)
    send_due(now)
    return run


def test_missed_deadline_is_recorded_at_the_deadline_and_emailed_once(talks):
    staff_subscription(talks.agreement)
    sweep_and_send(datetime(2020, 3, 9, tzinfo=UTC))
    assert [m.subject for m in mail.outbox] == [
        f"[Compliance monitor] Due 10 March 2020: Talks begin ({talks.agreement.title})"
    ]
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    sweep_and_send(MISSED_AT + timedelta(minutes=2))
    missed = [m for m in mail.outbox if m.subject.startswith("[Compliance monitor] Missed")]
    assert len(missed) == 1
    change = StatusChange.objects.filter(commitment=talks).latest("id")
    assert (change.old_status, change.new_status) == ("due_soon", "missed")
    assert change.effective_at == MISSED_AT
    assert change.detected_at == MISSED_AT + timedelta(minutes=1)
    email = missed[0]
    assert email.to == ["watcher@example.org"]
    assert "The deal" in email.body and "Talks begin" in email.body and "Provisional" in email.body
    assert email.extra_headers["Message-ID"].startswith("<alert-")
    assert email.extra_headers["List-Unsubscribe"].startswith("<http")
    assert email.alternatives and "<h1" in email.alternatives[0][0]


def test_reminders_go_out_seven_days_and_one_day_before_the_due_date(talks):
    staff_subscription(talks.agreement)
    for day in range(1, 12):
        sweep_and_send(datetime(2020, 3, day, 12, tzinfo=UTC))
    reminders = [m.subject for m in mail.outbox if "Due 10 March 2020" in m.subject]
    assert len(reminders) == 2
    assert sum(1 for m in mail.outbox if "Missed" in m.subject) == 1


def test_outside_subscribers_wait_for_an_analysts_assessment(talks):
    outside_subscription(talks.agreement, reminder_days=[])
    staff_subscription(talks.agreement, reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(hours=1))
    assert [m.to for m in mail.outbox] == [["watcher@example.org"]]
    AssessmentFactory(commitment=talks, computed_status="missed", status="missed",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(MISSED_AT + timedelta(hours=3))
    assert sorted(m.to[0] for m in mail.outbox) == ["press@example.org", "watcher@example.org"]
    assert "Assessed by an analyst" in mail.outbox[-1].body


def test_agreement_publishing_computed_verdicts_tells_outside_subscribers_at_once(talks):
    talks.agreement.publish_computed_verdicts = True
    talks.agreement.save()
    outside_subscription(talks.agreement, reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(hours=1))
    assert [m.to for m in mail.outbox] == [["press@example.org"]]


def test_a_breach_alerts_once_per_episode_and_a_new_episode_alerts_again():
    party = PartyFactory(name="Taliban", slug="taliban")
    agreement = AgreementFactory()
    ceiling = CommitmentFactory(agreement=agreement, kind="ceiling", due_offset=None, owed_by=[party],
                                rule={"categories": ["attack"], "limit": 1, "recovery_days": 2})
    source = SourceFactory(name="Dataset", reliability="B")
    Coverage.objects.create(source=source, starts_on=datetime(2020, 1, 1).date(), recorded_at=datetime(2020, 1, 1, tzinfo=UTC))
    staff_subscription(agreement, reminder_days=[])

    def attacks(day, n):
        for i in range(n):
            when = datetime(2020, 3, day, 6 + i, tzinfo=UTC)
            ReportFactory(category="attack", actor1="Taliban", source=source, occurred_at=when, recorded_at=when)

    attacks(5, 2)
    sweep_and_send(datetime(2020, 3, 5, 12, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 6, 12, tzinfo=UTC))
    attacks(7, 2)  # the same episode: not two clean days yet
    sweep_and_send(datetime(2020, 3, 7, 12, tzinfo=UTC))
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[Compliance monitor] Breached"]
    sweep_and_send(datetime(2020, 3, 10, 12, tzinfo=UTC))  # two clean days: breach over
    attacks(12, 3)
    sweep_and_send(datetime(2020, 3, 12, 12, tzinfo=UTC))
    subjects = [m.subject.split(":")[0] for m in mail.outbox]
    assert subjects == ["[Compliance monitor] Breached", "[Compliance monitor] In compliance",
                        "[Compliance monitor] Breached"]
    assert ceiling.status_changes.filter(new_status="breached").count() == 2


def test_each_recorded_change_names_the_reports_it_rests_on_and_no_others(talks):
    # The history's "Evidence:" links and the API's status changes list these reports.
    met_on = ReportFactory(occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC), recorded_at=datetime(2020, 3, 5, 9, tzinfo=UTC))
    ReportFactory(category="unrelated", occurred_at=datetime(2020, 3, 5, 8, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 6, tzinfo=UTC))

    first, met = talks.status_changes.order_by("id")
    assert list(first.evidence.all()) == []  # not yet due: it rests on no report
    assert (met.new_status, list(met.evidence.all())) == ("met", [met_on])


def test_rejecting_the_report_behind_a_breach_sends_one_correction_to_each_recipient(talks):
    prohibition = CommitmentFactory(agreement=talks.agreement, kind="prohibition", due_offset=None,
                                    rule={"categories": ["al_qaeda_ties"], "attribution": "any"})
    CoverageFactory()  # a source covering every day: "in compliance" is a finding once the breach is withdrawn
    staff_subscription(talks.agreement, reminder_days=[])
    staff_subscription(talks.agreement, username="second", email="second@example.org", reminder_days=[])
    report = ReportFactory(category="al_qaeda_ties", occurred_at=datetime(2020, 3, 20, tzinfo=UTC),
                           recorded_at=datetime(2020, 3, 20, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 20, 2, tzinfo=UTC))
    breach = [m for m in mail.outbox if "Breached" in m.subject]
    assert sorted(m.to[0] for m in breach) == ["second@example.org", "watcher@example.org"]
    report.set_verification(REJECTED, at=datetime(2020, 3, 21, tzinfo=UTC), reason="Fabricated.")
    mail.outbox.clear()
    sweep_and_send(datetime(2020, 3, 21, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 21, 2, tzinfo=UTC))
    corrections = [m for m in mail.outbox if "Correction" in m.subject]
    assert sorted(m.to[0] for m in corrections) == ["second@example.org", "watcher@example.org"]
    assert all("withdrawn" in m.body for m in corrections)
    assert not any("In compliance" in m.subject for m in mail.outbox), [(m.subject, m.to) for m in mail.outbox]
    assert prohibition.status_changes.latest("id").new_status == "in_compliance"


def test_a_late_report_of_an_act_before_a_recorded_miss_is_dated_at_the_act_and_recorded_after_the_miss(talks):
    staff_subscription(talks.agreement, reminder_days=[])
    sweep_and_send(datetime(2020, 3, 9, tzinfo=UTC))
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    # A report that talks began on 5 March reaches the monitor on 11 March, after the miss was recorded and sent.
    began = datetime(2020, 3, 5, 8, tzinfo=UTC)
    ReportFactory(occurred_at=began, recorded_at=datetime(2020, 3, 11, 10, tzinfo=UTC))
    detected = datetime(2020, 3, 11, 12, tzinfo=UTC)
    sweep_and_send(detected)

    # Each change is dated at the instant the rule says (the correction: when the talks began, before the
    # miss it replaces), and detected when the monitor learned of it; in the order detected, the history
    # reads as it happened: the miss, then its correction. The current status is the last one detected.
    history = [(c.old_status, c.new_status, c.kind, c.effective_at, c.detected_at)
               for c in talks.status_changes.order_by("id")]
    assert history[1:] == [
        ("due_soon", "missed", "computed", MISSED_AT, MISSED_AT + timedelta(minutes=1)),
        ("missed", "met", "correction", began, detected),
    ]
    assert talks.status_changes.latest("id").new_status == "met"
    assert [m.subject for m in mail.outbox if "Correction" in m.subject] == [
        f"[Compliance monitor] Correction: Talks begin is not missed ({talks.agreement.title})"
    ]


def test_an_alerts_subject_names_the_status_the_commitment_and_the_agreement(talks):
    # Two agreements, each with its "Talks begin": the inbox tells them apart by the subject alone.
    doha = CommitmentFactory(agreement=AgreementFactory(slug="doha", title="US–Taliban agreement (Doha, 2020)"),
                             key="talks", title="Talks begin")
    staff_subscription(talks.agreement)
    staff_subscription(doha.agreement, username="analyst", email="analyst@example.org")
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    told = {m.to[0]: m.subject for m in mail.outbox if "Missed" in m.subject}
    assert told == {
        "watcher@example.org": "[Compliance monitor] Missed: Talks begin (The deal)",
        # A title with parentheses of its own follows a dash: no parentheses inside parentheses.
        "analyst@example.org": "[Compliance monitor] Missed: Talks begin — US–Taliban agreement (Doha, 2020)",
    }


def test_loading_an_agreement_signed_two_years_ago_sends_one_summary(talks):
    for i in range(3):
        CommitmentFactory(agreement=talks.agreement, key=f"more-{i}", due_offset=20 + i)
    staff_subscription(talks.agreement, reminder_days=[])
    sweep_and_send(datetime(2022, 3, 1, tzinfo=UTC))
    sweep_and_send(datetime(2022, 3, 1, 0, 1, tzinfo=UTC))
    assert len(mail.outbox) == 1
    assert "4 past status changes" in mail.outbox[0].subject
    assert am.Alert.objects.filter(state=am.FOLDED).count() == 4
    assert StatusChange.objects.filter(new_status="missed").count() == 4


def test_subscriber_who_joins_after_a_transition_is_not_told_about_it(talks):
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    am.Subscription.objects.create(user=UserFactory(email="late@example.org"), agreement=talks.agreement,
                                   confirmed_at=MISSED_AT + timedelta(hours=1), reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(hours=2))
    assert mail.outbox == []


def test_an_agreements_sweep_takes_the_same_number_of_queries_for_8_and_80_commitments():
    counts = []
    for n in (8, 80):
        agreement = AgreementFactory()
        for i in range(n):
            CommitmentFactory(agreement=agreement, key=f"c{i}", due_offset=i % 20)
        staff_subscription(agreement, username=f"s{n}", email=f"s{n}@example.org")
        with CaptureQueriesContext(connection) as ctx:
            run = run_sweep(now=datetime(2020, 3, 15, tzinfo=UTC), agreements=[agreement.id])
        assert run.commitments_evaluated == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
