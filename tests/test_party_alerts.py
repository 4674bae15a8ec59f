"""Alerts for a commitment several parties owe `each`: one per party whose verdict turns adverse."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import REJECTED
from monitor.verdicts.models import CORRECTION, StatusChange
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, ReportFactory, SourceFactory
from tests.test_sweep import staff_subscription

pytestmark = pytest.mark.django_db

# Signed 29 February 2020 in Kabul: talks due within 10 days (missed 10 March, 19:30 UTC); the
# withdrawal due within 20 days (missed 20 March, 19:30 UTC).
TALKS_MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def parties():
    return PartyFactory(name="Ukraine", slug="ukraine"), PartyFactory(name="DPR", slug="dpr")


@pytest.fixture
def agreement():
    return AgreementFactory(slug="minsk", title="Minsk protocol")


def shared(agreement, parties, key="withdraw", title="Both sides withdraw heavy weapons", due=10, share="each"):
    return CommitmentFactory(
        agreement=agreement, key=key, title=title, due_offset=due, owed_by=parties, share=share,
        rule={"categories": ["withdrawal"]},
    )


def withdrawal(actor, when, **kwargs):
    return ReportFactory(
        category="withdrawal", actor1=actor, occurred_at=when, recorded_at=when,
        source=SourceFactory(name="OSCE SMM", reliability="A"), **kwargs,
    )


def sweep_and_send(now):
    run_sweep(now=now)
    send_due(now)


def subjects(prefix=""):
    return [m.subject.removeprefix("[Compliance monitor] ") for m in mail.outbox
            if m.subject.removeprefix("[Compliance monitor] ").startswith(prefix)]


def test_two_parties_missing_at_different_sweeps_get_one_alert_each_naming_the_party(agreement, parties):
    ukraine, dpr = parties
    talks = shared(agreement, parties, key="talks", title="Talks begin", due=10)
    staff_subscription(agreement)
    # Ukraine acts on time; DPR does not: DPR missed at the deadline.
    act = withdrawal("Ukraine", datetime(2020, 3, 5, 8, tzinfo=UTC))
    sweep_and_send(TALKS_MISSED_AT + timedelta(minutes=1))
    assert subjects("DPR") == [f"DPR missed: Talks begin ({agreement.title})"]
    assert not subjects("Missed")  # the commitment's own change is recorded, but the party's alert says it

    # Ukraine's act is rejected later: Ukraine missed too, a new alert, not a repeat of DPR's.
    act.set_verification(REJECTED, at=TALKS_MISSED_AT + timedelta(days=1), reason="Fabricated.")
    sweep_and_send(TALKS_MISSED_AT + timedelta(days=2))
    sweep_and_send(TALKS_MISSED_AT + timedelta(days=3))  # nothing more

    assert sorted(subjects()) == sorted([f"DPR missed: Talks begin ({agreement.title})",
                                   f"Ukraine missed: Talks begin ({agreement.title})"])
    alerts = am.Alert.objects.filter(commitment=talks, event=am.MISSED)
    assert {a.key.split(":")[1] for a in alerts} == {f"p{ukraine.id}", f"p{dpr.id}"}
    body = next(m.body for m in mail.outbox if m.subject.endswith(f"Ukraine missed: Talks begin ({agreement.title})"))
    assert "Ukraine: Missed: due by the end of 10 March 2020" in body


def test_a_repeated_sweep_sends_nothing_more(agreement, parties):
    shared(agreement, parties, key="talks", title="Talks begin")
    staff_subscription(agreement)
    for minutes in (1, 2, 3):
        sweep_and_send(TALKS_MISSED_AT + timedelta(minutes=minutes))

    assert sorted(subjects()) == [f"DPR missed: Talks begin ({agreement.title})",
                               f"Ukraine missed: Talks begin ({agreement.title})"]
    assert StatusChange.objects.filter(party__isnull=False).count() == 2
    assert StatusChange.objects.filter(party__isnull=True).count() == 1


def test_each_partys_changes_form_their_own_chain(agreement, parties):
    ukraine, dpr = parties
    talks = shared(agreement, parties, key="talks", title="Talks begin")
    sweep_and_send(datetime(2020, 3, 1, tzinfo=UTC))
    withdrawal("DPR", datetime(2020, 3, 14, 8, tzinfo=UTC))
    sweep_and_send(TALKS_MISSED_AT + timedelta(days=5))

    dpr_chain = list(StatusChange.objects.filter(commitment=talks, party=dpr).order_by("id"))
    assert [(c.old_status, c.new_status) for c in dpr_chain] == [("", "not_yet_due"), ("not_yet_due", "met_late")]
    assert dpr_chain[1].previous == dpr_chain[0]
    ukraine_chain = StatusChange.objects.filter(commitment=talks, party=ukraine).order_by("id")
    assert [c.new_status for c in ukraine_chain] == ["not_yet_due", "missed"]
    own = StatusChange.objects.filter(commitment=talks, party__isnull=True).order_by("id")
    assert [c.new_status for c in own] == ["not_yet_due", "missed"]
    assert own.last().reason_code == "shares.each"


def test_a_partys_withdrawn_miss_is_corrected_for_that_party(agreement, parties):
    ukraine, _ = parties
    shared(agreement, parties, key="talks", title="Talks begin")
    staff_subscription(agreement)
    withdrawal("DPR", datetime(2020, 3, 5, 8, tzinfo=UTC))
    sweep_and_send(TALKS_MISSED_AT + timedelta(minutes=1))
    assert subjects() == [f"Ukraine missed: Talks begin ({agreement.title})"]

    # A report recorded later shows Ukraine acted on time after all.
    withdrawal("Ukraine", datetime(2020, 3, 6, 8, tzinfo=UTC))
    sweep_and_send(TALKS_MISSED_AT + timedelta(days=1))

    assert StatusChange.objects.filter(party=ukraine).latest("id").kind == CORRECTION
    assert subjects("Correction") == [f"Correction: Ukraine not missed: Talks begin ({agreement.title})"]


def test_a_commitment_shared_any_alerts_as_one(agreement, parties):
    shared(agreement, parties, key="talks", title="Talks begin", share="any")
    staff_subscription(agreement)
    sweep_and_send(TALKS_MISSED_AT + timedelta(minutes=1))

    assert subjects() == [f"Missed: Talks begin ({agreement.title})"]
    assert not StatusChange.objects.filter(party__isnull=False).exists()
