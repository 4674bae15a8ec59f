"""Every link in an alert email says what it does, and points at the site's public address (SITE_ROOT)."""

import re
from html import unescape
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from monitor.accounts.roles import ANALYST
from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, CommitmentFactory, UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://monitor.example.org"
# Talks are due by 10 March 2020 (Kabul midnight): missed by 12 March (as in tests/test_subscriptions.py).
AFTER_THE_MISS = datetime(2020, 3, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _public_address(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_ROOT = SITE


@pytest.fixture
def talks():
    agreement = AgreementFactory(slug="deal", title="The deal")
    return CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")


def links(message):
    """(label, address) of every link in the HTML part."""
    html = next(body for body, kind in message.alternatives if kind == "text/html")
    return [(unescape(a), unescape(b)) for a, b in re.findall(r'<a href="([^"]+)">([^<]+)</a>', html)]


def test_a_missed_deadline_email_labels_its_link_and_points_at_the_public_commitment_page(talks):
    am.Subscription.objects.create(user=UserFactory(email="watcher@example.org"), agreement=talks.agreement,
                                   confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))
    run_sweep(now=AFTER_THE_MISS)
    send_due(AFTER_THE_MISS)
    [missed] = [m for m in mail.outbox if "Missed" in m.subject]
    page, stop = links(missed)
    label = "See this commitment's status, its evidence and history"
    assert page == (f"{SITE}/agreements/deal/commitments/talks/", label)
    assert stop[0].startswith(f"{SITE}/alerts/unsubscribe/") and stop[1] == "Stop these emails"
    # The plain-text part names each link too, never a bare address.
    assert f"{label}: {SITE}/agreements/deal/commitments/talks/" in missed.body
    assert "localhost" not in missed.body


def test_a_confirmation_email_has_one_link_that_says_it_confirms(client, talks):
    client.post("/alerts/subscribe/deal/", {"email": "reader@example.org"})
    send_due()
    [confirmation] = mail.outbox
    [(address, label), _stop] = links(confirmation)
    assert label == "Confirm your subscription" and address.startswith(f"{SITE}/alerts/confirm/")
    assert confirmation.body.count("/alerts/confirm/") == 1
    assert f"Confirm your subscription: {address}" in confirmation.body


def test_an_escalation_email_links_the_analyst_to_the_admin_page_where_the_verdict_is_assessed(talks):
    group, _ = Group.objects.get_or_create(name=ANALYST)
    UserFactory(username="amina", email="amina@mission.example.org").groups.add(group)
    run_sweep(now=datetime(2020, 3, 10, 19, 31, tzinfo=UTC))
    later = datetime(2020, 3, 10, 19, 31, tzinfo=UTC) + timedelta(hours=49)
    run_sweep(now=later)
    send_due(later)
    [escalation] = [m for m in mail.outbox if "Not assessed" in m.subject]
    assert links(escalation) == [
        (f"{SITE}/admin/terms/commitment/{talks.pk}/change/", "Confirm or override the verdict in the admin")
    ]
