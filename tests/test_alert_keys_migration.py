"""Upgrading re-keys the outbox, so that no subscriber is told again what they were told before the upgrade.

Alerts used to be keyed on the instant their status took effect; they are now keyed on the status
change (monitor/alerts/migrations/0004). A sweep after the upgrade must find every alert already
sent under its new key, or it would send them all again.
"""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core import mail

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import REJECTED
from tests.factories import AgreementFactory, CommitmentFactory, ReportFactory, UserFactory

pytestmark = pytest.mark.django_db

rekey = importlib.import_module("monitor.alerts.migrations.0004_alert_keys_by_status_change").rekey
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)  # talks due 10 March 2020, Kabul


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def sweep_and_send(now):
    run_sweep(now=now)
    send_due(now)


def as_before_the_upgrade(alert):
    """The key the sweep gave this alert before keys named the status change."""
    if alert.event == am.CORRECTION:
        return f"{as_before_the_upgrade(alert.corrects)}:correction"
    return f"c{alert.commitment_id}:{alert.event}:{alert.status_change.effective_at.isoformat()}:{alert.to_email}"


def test_after_the_upgrade_a_sweep_sends_nothing_already_sent_and_corrections_follow_their_alerts():
    agreement = AgreementFactory(slug="deal", title="The deal")
    talks = CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")
    ties = CommitmentFactory(agreement=agreement, key="ties", title="Ties cut", kind="prohibition", due_offset=None,
                             rule={"categories": ["al_qaeda_ties"], "attribution": "any"})
    am.Subscription.objects.create(user=UserFactory(username="watcher", email="watcher@example.org"),
                                   agreement=agreement, reminder_days=[], confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    violation = ReportFactory(category="al_qaeda_ties", occurred_at=MISSED_AT, recorded_at=MISSED_AT)
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    violation.set_verification(REJECTED, at=MISSED_AT + timedelta(hours=1), reason="Fabricated.")
    sweep_and_send(MISSED_AT + timedelta(hours=2))
    told = [m.subject for m in mail.outbox]
    assert sorted(told) == [
        f"[Compliance monitor] Breached: Ties cut ({agreement.title})",
        f"[Compliance monitor] Correction: Ties cut is not breached ({agreement.title})",
        f"[Compliance monitor] Missed: Talks begin ({agreement.title})",
    ]
    new_keys = dict(am.Alert.objects.values_list("id", "key"))
    for alert in am.Alert.objects.select_related("status_change", "corrects__status_change"):
        am.Alert.objects.filter(pk=alert.pk).update(key=as_before_the_upgrade(alert))
    assert set(am.Alert.objects.values_list("key", flat=True)).isdisjoint(new_keys.values())

    rekey(apps, None)

    assert dict(am.Alert.objects.values_list("id", "key")) == new_keys
    sweep_and_send(MISSED_AT + timedelta(hours=3))
    sweep_and_send(MISSED_AT + timedelta(days=1))
    assert [m.subject for m in mail.outbox] == told  # nothing told twice
    assert talks.alerts.count() == 1 and ties.alerts.count() == 2
