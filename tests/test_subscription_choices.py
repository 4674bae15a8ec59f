"""A subscriber chooses which events to hear of, and whether each alert or one daily digest instead (issue 15).

Corrections are not a choice: whoever was told something hears if it is withdrawn, whatever they chose since.
Subscriptions made before the choice existed keep getting what they got (migration 0008).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from tests.factories import AgreementFactory, AssessmentFactory, CommitmentFactory, ReportFactory, UserFactory

pytestmark = pytest.mark.django_db

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)
JOINED = datetime(2020, 1, 1, tzinfo=UTC)
DEAL = "The deal"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MONITOR_DEFAULT_REMINDER_DAYS = [7, 1]


@pytest.fixture
def talks():
    return CommitmentFactory(agreement=AgreementFactory(slug="deal", title=DEAL), key="talks", title="Talks begin")


def watcher(agreement, name, **choices):
    """A staff subscriber: told of verdicts at once, without waiting for an analyst."""
    user = UserFactory(username=name, email=f"{name}@example.org")
    return am.Subscription.objects.create(user=user, agreement=agreement, confirmed_at=JOINED, **choices)


def sweep_and_send(now):
    run_sweep(now=now)
    send_due(now)


def told(name):
    return [m.subject.removeprefix("[Compliance monitor] ") for m in mail.outbox if m.to == [f"{name}@example.org"]]


def test_a_subscriber_who_chose_only_bad_news_gets_the_missed_alert_and_not_the_met_late_one(talks):
    watcher(talks.agreement, "adverse", events=[am.BAD_NEWS], reminder_days=[])
    watcher(talks.agreement, "everything", reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    ReportFactory(occurred_at=MISSED_AT + timedelta(hours=1), recorded_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(MISSED_AT + timedelta(hours=3))

    assert told("adverse") == [f"Missed: Talks begin ({DEAL})"]
    assert told("everything") == [f"Missed: Talks begin ({DEAL})", f"Met late: Talks begin ({DEAL})"]


def test_a_subscriber_who_chose_only_good_news_is_not_told_of_the_miss_but_of_the_late_act(talks):
    watcher(talks.agreement, "hopeful", events=[am.GOOD_NEWS], reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    ReportFactory(occurred_at=MISSED_AT + timedelta(hours=1), recorded_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(MISSED_AT + timedelta(hours=3))
    assert told("hopeful") == [f"Met late: Talks begin ({DEAL})"]


def test_a_digest_instead_subscriber_gets_no_single_alert_and_the_digest_lists_the_event_once(talks, settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 6
    watcher(talks.agreement, "digest", delivery=am.DIGEST_INSTEAD)
    watcher(talks.agreement, "each")
    sweep_and_send(datetime(2020, 3, 10, 5, tzinfo=UTC))  # the one-day reminder is due; the digest hour is not
    assert told("digest") == []  # no reminder of its own: the digest lists the week's deadlines
    assert told("each") == [f"Due 10 March 2020: Talks begin ({DEAL})"]

    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    [digest] = told("digest")
    assert digest == "Daily digest: 1 changes of status, 0 open breaches and coming deadlines"
    body = next(m.body for m in mail.outbox if m.to == ["digest@example.org"])
    assert "Changes of status since the last digest:" in body
    assert f"Missed on 11 March 2020: Talks begin ({DEAL})" in body  # as the alert's own heading says
    assert told("each")[-1] == f"Missed: Talks begin ({DEAL})"
    missed = am.Alert.objects.get(to_email="digest@example.org", event=am.MISSED)
    assert missed.state == am.FOLDED  # recorded under its own key, never sent on its own

    # The next day's digest has nothing new to say, and does not say the miss again.
    sweep_and_send(datetime(2020, 3, 11, 7, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 12, 7, tzinfo=UTC))
    assert told("digest") == [digest]


def test_a_change_held_for_the_digest_and_withdrawn_before_it_went_out_is_neither_listed_nor_corrected(talks, settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 22
    watcher(talks.agreement, "digest", delivery=am.DIGEST_INSTEAD, reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    assert am.Alert.objects.get(event=am.MISSED).state == am.HELD
    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=1))
    sweep_and_send(MISSED_AT + timedelta(hours=2))
    sweep_and_send(datetime(2020, 3, 10, 22, 30, tzinfo=UTC))
    assert told("digest") == []
    assert am.Alert.objects.get(event=am.MISSED).state == am.CANCELLED


def test_a_correction_reaches_whoever_got_the_alert_whatever_they_chose_since(talks):
    sub = watcher(talks.agreement, "watcher", reminder_days=[])
    sweep_and_send(MISSED_AT + timedelta(hours=1))
    assert told("watcher") == [f"Missed: Talks begin ({DEAL})"]
    # Since then: only good news, and in a digest.
    am.Subscription.objects.filter(pk=sub.pk).update(events=[am.GOOD_NEWS], delivery=am.DIGEST_INSTEAD)

    AssessmentFactory(commitment=talks, action="override", computed_status="missed", status="met",
                      assessed_at=MISSED_AT + timedelta(hours=2))
    sweep_and_send(MISSED_AT + timedelta(hours=3))
    assert told("watcher")[-1] == f"Correction: Talks begin is not missed ({DEAL})"


def test_reminders_go_only_to_those_who_chose_them_each_as_it_comes(talks):
    watcher(talks.agreement, "reminded")
    watcher(talks.agreement, "unreminded", events=[am.BAD_NEWS, am.DISPUTES, am.GOOD_NEWS])
    for day in range(1, 11):
        sweep_and_send(datetime(2020, 3, day, 12, tzinfo=UTC))
    assert told("reminded") == [f"Due 10 March 2020: Talks begin ({DEAL})"] * 2
    assert told("unreminded") == []


def test_the_digests_of_many_subscribers_take_no_more_queries_than_the_digest_of_one(talks, settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 6
    counts = []
    for n in (1, 6):
        am.Alert.objects.all().delete()
        am.DigestDay.objects.all().delete()  # the day's digests owed again
        am.Subscription.objects.all().delete()
        for i in range(n):
            am.Subscription.objects.create(email=f"r{i}@example.org", agreement=talks.agreement, confirmed_at=JOINED,
                                           delivery=am.DIGEST_INSTEAD if i % 2 else am.EACH_AND_DIGEST)
        run_sweep(now=datetime(2020, 3, 5, 7, tzinfo=UTC))
        with CaptureQueriesContext(connection) as ctx:
            run_sweep(now=datetime(2020, 3, 6, 7, tzinfo=UTC))  # a day's digests: the talks are due within the week
        counts.append(len(ctx.captured_queries))
        assert am.Alert.objects.filter(event=am.DIGEST).count() == 2 * n
    assert counts[0] == counts[1]


def test_what_a_subscription_chose_decides_the_alert_events_it_gets():
    sub = am.Subscription(events=[am.BAD_NEWS, am.REMINDERS], delivery=am.DIGEST_INSTEAD)
    assert [e for e in (am.MISSED, am.OVERDUE, am.BREACHED, am.DISPUTED, am.MET_LATE, am.BREACH_OVER, am.REMINDER)
            if sub.wants(e)] == [am.MISSED, am.OVERDUE, am.BREACHED, am.REMINDER]
    assert sub.wants_digest and not sub.wants_each_alert
    assert am.Subscription().events == ["adverse", "disputed", "good_news", "reminders"]


BEFORE, AFTER = ("alerts", "0007_overdue_alert_event"), ("alerts", "0008_subscription_events_and_delivery")


@pytest.mark.django_db(transaction=True)
def test_subscriptions_made_before_the_choice_keep_receiving_what_they_received(settings):
    settings.MONITOR_DIGEST_HOUR_UTC = 6
    talks = CommitmentFactory(agreement=AgreementFactory(slug="deal", title=DEAL), key="talks", title="Talks begin")
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        old = executor.loader.project_state([BEFORE]).apps.get_model("alerts", "Subscription")
        old.objects.create(email="digest@example.org", agreement_id=talks.agreement_id, confirmed_at=JOINED,
                           reminder_days=[7, 1], wants_digest=True)
        old.objects.create(email="plain@example.org", agreement_id=talks.agreement_id, confirmed_at=JOINED,
                           reminder_days=[], wants_digest=False)
    finally:  # the tests after this one need the schema as it is
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())

    digest, plain = am.Subscription.objects.order_by("email")
    assert (digest.delivery, digest.events) == (am.EACH_AND_DIGEST, ["adverse", "disputed", "good_news", "reminders"])
    assert (plain.delivery, plain.events) == (am.EACH_ALERT, ["adverse", "disputed", "good_news"])

    # As before: each alert for both, reminders and a digest on top for the one that asked for them.
    talks.agreement.publish_computed_verdicts = True
    talks.agreement.save()
    sweep_and_send(datetime(2020, 3, 9, 12, tzinfo=UTC))
    sweep_and_send(MISSED_AT + timedelta(minutes=1))
    assert sorted(m.subject.removeprefix("[Compliance monitor] ") for m in mail.outbox
                  if m.to == ["digest@example.org"]) == [
        "Daily digest: 1 open breaches and coming deadlines",
        f"Due 10 March 2020: Talks begin ({DEAL})",
        f"Missed: Talks begin ({DEAL})",
    ]
    assert [m.subject for m in mail.outbox if m.to == ["plain@example.org"]] == [
        f"[Compliance monitor] Missed: Talks begin ({DEAL})"]


def test_the_admin_shows_and_edits_what_a_subscriber_chose(client, talks):
    from monitor.alerts.admin import SubscriptionForm

    sub = am.Subscription.objects.create(email="reader@example.org", agreement=talks.agreement, confirmed_at=JOINED,
                                         events=[am.BAD_NEWS], delivery=am.DIGEST_INSTEAD)
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    html = client.get(f"/admin/alerts/subscription/{sub.pk}/change/").content.decode()
    ticked = {value for value in ("adverse", "disputed", "good_news", "reminders")
              if f'name="events" value="{value}"' in html and "checked" in html.split(f'value="{value}"')[1][:30]}
    assert ticked == {"adverse"}
    assert '<option value="digest" selected>One daily digest instead</option>' in html
    assert "One daily digest instead" in client.get("/admin/alerts/subscription/").content.decode()

    data = {"email": sub.email, "agreement": talks.agreement_id, "reminder_days": "[]", "delivery": am.EACH_ALERT,
            "created_at": JOINED, "events": [am.GOOD_NEWS, am.DISPUTES]}
    form = SubscriptionForm(data, instance=sub)
    assert form.is_valid(), form.errors
    assert form.save().events == [am.GOOD_NEWS, am.DISPUTES]
    refused = SubscriptionForm({**data, "events": []}, instance=sub)
    assert not refused.is_valid()
    assert "Choose at least one kind of event, or a daily digest" in str(refused.errors)
