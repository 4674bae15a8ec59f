"""Alerts against the real parts: a Celery worker process, Redis, PostgreSQL and an SMTP server (issue 3).

The first tests run the worker as production does (`celery -A monitor worker`,
a separate process reading the committed test database); the last ones run the
sweep in this process and send through the real SMTP backend, because the SMTP
server is the point there. Each asserts what a user would notice: the emails the
SMTP server received, and the rows recorded. tests/realparts.py has the parts.
"""

import logging
import os
import time as time_module
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from monitor.alerts import models as am
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import SWEEP_LOCK, run_sweep
from monitor.evidence.models import REJECTED
from monitor.verdicts.models import StatusChange
from terms.models import IN_FORCE, Agreement
from tests import realparts
from tests.factories import (
    AgreementFactory,
    CommitmentFactory,
    CoverageFactory,
    ReportFactory,
    SourceFactory,
    UserFactory,
)
from tests.realparts import _empty_broker_afterwards, celery_app, smtp, wait_until, workers  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120, method="signal"),  # signal: fixtures still tear down, so no process outlives a test
    pytest.mark.django_db(transaction=True),  # the worker and the other processes see committed rows only
]

MISSED = "[Compliance monitor] Missed: "
DEAL = "The deal"  # every agreement here: subjects end with it, " (The deal)"


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def worker(workers):
    return workers()


@pytest.fixture
def smtp_settings(settings, smtp):
    """This process sends through the real SMTP backend to the test's SMTP server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return smtp


# --- helpers --------------------------------------------------------------------------------------------


def recently_missed(n, slug="deal"):
    """An agreement with `n` deadlines that passed at the start of today (UTC): missed, recently enough to be news."""
    today = timezone.now().astimezone(UTC).date()
    agreement = AgreementFactory(slug=slug, title=DEAL, time_zone="UTC", signed_on=today - timedelta(days=2))
    commitments = [
        CommitmentFactory(agreement=agreement, key=f"talks-{i}", title=f"Talks begin {i}", due_offset=1)
        for i in range(n)
    ]
    return agreement, commitments, datetime.combine(today, time(0), tzinfo=UTC)


def staff_subscription(agreement, username="watcher", email="watcher@example.org", **kwargs):
    kwargs.setdefault("reminder_days", [])
    return am.Subscription.objects.create(
        user=UserFactory(username=username, email=email), agreement=agreement,
        confirmed_at=datetime(2020, 1, 1, tzinfo=UTC), **kwargs,
    )


def finished_sweeps():
    return am.SweepRun.objects.filter(finished_at__isnull=False).count()


def drain(app):
    """Wait until the worker has done everything sent to it so far.

    One solo worker takes tasks one at a time in the order sent, so once a sweep sent
    now has finished, every task sent before it has too.
    """
    before = finished_sweeps()
    app.send_task("monitor.sweep")
    wait_until(lambda: finished_sweeps() > before, timeout=30, what="the worker to finish the tasks sent to it")


def tick(app, *names):
    """What beat does on its schedule."""
    return lambda: [app.send_task(name) for name in names]


def waiting_for_the_sweep_lock(agreement):
    """How many backends wait on this agreement's sweep lock (the two-key form: class, agreement)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 "
            "AND NOT l.granted AND d.datname = current_database()",
            [SWEEP_LOCK, agreement.id],
        )
        return cursor.fetchone()[0]


def sent_to(smtp, address, prefix=""):
    return [m for m in smtp.messages if m.rcpt_tos == [address] and m.subject.startswith(prefix)]


# --- with the worker ---------------------------------------------------------------------------------


def test_missed_deadline_reaches_the_smtp_server_from_the_worker_exactly_once(smtp, worker, celery_app):
    agreement, [talks], due = recently_missed(1)
    staff_subscription(agreement)

    celery_app.send_task("monitor.sweep")  # the worker sweeps, then queues and runs monitor.send_alerts
    smtp.wait_for(1)
    celery_app.send_task("monitor.send_alerts")
    drain(celery_app)  # another sweep and another send: nothing new is owed, nothing is sent again

    [received] = smtp.messages
    alert = am.Alert.objects.get()
    assert received.rcpt_tos == ["watcher@example.org"]
    assert received.subject == f"{MISSED}Talks begin 0 ({DEAL})"
    assert received.message_id == alert.message_id
    assert "The deal" in received.text and "Talks begin 0" in received.text
    assert (alert.state, alert.event, alert.attempts) == (am.SENT, am.MISSED, 1)
    assert list(alert.delivery_attempts.values_list("outcome", flat=True)) == [am.ACCEPTED]
    [change] = StatusChange.objects.filter(commitment=talks)
    assert (change.new_status, change.effective_at) == ("missed", due)


def deadline_passing_at(due, zones_dir, slug="deal"):
    """A deadline that passes at the instant `due`: its agreement's zone has its midnight then (bench/alerts.py)."""
    from bench.alerts import fixed_offset_zone

    second = int(due.timestamp())
    offset = -(second % 86400)
    if offset < -43200:
        offset += 86400
    name = f"Test/Midnight-at-{second}"
    (zones_dir / "Test").mkdir(parents=True, exist_ok=True)
    (zones_dir / name).write_bytes(fixed_offset_zone(offset))
    last_day = (due + timedelta(seconds=offset)).date() - timedelta(days=1)
    agreement = AgreementFactory(slug=slug, title=DEAL, time_zone=name, signed_on=last_day - timedelta(days=10))
    return agreement, CommitmentFactory(agreement=agreement, title="Talks begin", due_offset=10)


def test_a_deadline_passing_emails_within_seconds_with_no_beat_running(smtp, workers, celery_app, tmp_path):
    from bench.alerts import zones_in

    zones_dir = tmp_path / "zones"
    due = datetime.fromtimestamp(int(time_module.time()) + 6, tz=UTC)
    with zones_in(zones_dir):
        workers(PYTHONTZPATH=os.pathsep.join([str(zones_dir), *zoneinfo.TZPATH]))
        agreement, talks = deadline_passing_at(due, zones_dir)
        staff_subscription(agreement)
        # The one sweep there is: it finds the deadline still ahead, stores when it passes, and sends
        # a sweep of the agreement for that instant. No beat, no other task.
        run_sweep(now=timezone.now(), trigger=am.BEAT, agreements=[agreement.id])
        assert StatusChange.objects.get(commitment=talks).new_status == "due_soon"

        smtp.wait_for(1, timeout=30)
        arrived = time_module.time()
        time_module.sleep(2)  # nothing more comes: one email, one missed transition

    assert due.timestamp() < arrived < due.timestamp() + 4, arrived - due.timestamp()
    assert [m.subject for m in smtp.messages] == [f"{MISSED}Talks begin ({DEAL})"]
    [missed] = StatusChange.objects.filter(commitment=talks, new_status="missed")
    assert missed.effective_at == due
    assert due <= missed.detected_at < due + timedelta(seconds=2)


def test_eight_sweeps_at_once_in_separate_processes_email_each_missed_deadline_once(
    smtp, worker, celery_app, tmp_path
):
    n = 20
    agreement, commitments, due = recently_missed(n)
    staff_subscription(agreement)
    env = realparts.process_env(smtp.port)
    procs = []
    try:
        # Hold the sweep lock while the eight start, so that all eight are mid-sweep at the same
        # moment, queued on the lock, when it is released. Half of them also send, racing the worker.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [SWEEP_LOCK, agreement.id])
        try:
            for i in range(8):
                args = ["sweep", "--send"] if i % 2 == 0 else ["sweep"]
                procs.append(realparts.manage(args, env, tmp_path / f"sweep-{i}.log"))
            wait_until(
                lambda: waiting_for_the_sweep_lock(agreement) == 8 or any(p.poll() is not None for p in procs),
                timeout=60, what="eight sweeps waiting on the sweep lock",
            )
            assert waiting_for_the_sweep_lock(agreement) == 8, "not all eight sweeps queued on the sweep lock: see their output"
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SWEEP_LOCK, agreement.id])
        for proc in procs:
            proc.wait(60)
    finally:
        realparts.stop_processes(procs)
        for i in range(len(procs)):
            print(f"----- sweep {i} -----\n{(tmp_path / f'sweep-{i}.log').read_text(errors='replace')}")
    assert [p.returncode for p in procs] == [0] * 8

    smtp.wait_for(n)
    drain(celery_app)

    received = smtp.messages
    assert len(received) == n
    assert sorted(m.subject for m in received) == sorted(f"{MISSED}{c.title} ({DEAL})" for c in commitments)
    assert {m.rcpt_tos[0] for m in received} == {"watcher@example.org"}
    assert sorted(m.message_id for m in received) == sorted(a.message_id for a in am.Alert.objects.all())
    assert StatusChange.objects.filter(new_status="missed").count() == n
    assert StatusChange.objects.count() == n  # nothing else happened, and nothing twice
    assert am.Alert.objects.filter(state=am.SENT).count() == am.Alert.objects.count() == n
    assert am.DeliveryAttempt.objects.filter(outcome=am.ACCEPTED).count() == am.DeliveryAttempt.objects.count() == n
    manual = am.SweepRun.objects.filter(trigger=am.MANUAL)
    assert manual.count() == 8
    assert sorted(manual.values_list("transitions", flat=True)) == [0] * 7 + [n]


def test_smtp_server_answering_451_three_times_then_accepting_delivers_once_after_four_attempts(
    smtp, worker, celery_app
):
    smtp.fail_rcpt, smtp.fail_data = 2, 1  # k = 3 temporary refusals, at RCPT and at DATA
    agreement, [talks], due = recently_missed(1)
    staff_subscription(agreement)

    celery_app.send_task("monitor.sweep")
    smtp.wait_for(1, tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.5)
    drain(celery_app)

    assert smtp.refusals == ["RCPT", "RCPT", "DATA"]
    [received] = smtp.messages
    alert = am.Alert.objects.get()
    assert received.message_id == alert.message_id
    assert (alert.state, alert.attempts) == (am.SENT, 4)
    attempts = list(alert.delivery_attempts.values_list("outcome", "smtp_code"))
    assert attempts == [(am.TEMPORARY, 451)] * 3 + [(am.ACCEPTED, None)]
    assert all("try again later" in a.detail for a in alert.delivery_attempts.filter(outcome=am.TEMPORARY))


@pytest.mark.parametrize(
    "server_took_it", [True, False],
    ids=["killed-after-the-server-took-the-message", "killed-before-the-server-took-the-message"],
)
def test_worker_killed_while_sending_the_alert_still_arrives_with_its_message_id(
    server_took_it, smtp, workers, celery_app
):
    smtp.data_delay = 8  # longer than the test needs to kill the worker mid-DATA
    smtp.accept_before_delay = server_took_it
    agreement, [talks], due = recently_missed(1)
    staff_subscription(agreement)

    first = workers()
    celery_app.send_task("monitor.sweep")
    wait_until(lambda: smtp.data_received >= 1, timeout=30, what="the worker to be in the middle of DATA")
    first.kill()
    smtp.data_delay = 0

    alert = am.Alert.objects.get()
    assert alert.state == am.PENDING and alert.claimed_until is not None  # the dead worker's lease
    assert not alert.delivery_attempts.exists()

    workers()
    # The task the dead worker held is not redelivered before Redis's visibility timeout; the
    # periodic send picks the row up once the lease has run out.
    wait_until(
        lambda: am.Alert.objects.filter(state=am.SENT).exists(), timeout=30,
        what="the new worker to send the alert", tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.5,
    )
    drain(celery_app)

    alert.refresh_from_db()
    copies = smtp.messages
    assert copies, "the alert never arrived"
    assert {m.message_id for m in copies} == {alert.message_id}
    assert {m.rcpt_tos[0] for m in copies} == {"watcher@example.org"}
    # At least once: the copy the server took before the worker died, and the resent one, are the
    # same message (the window documented in monitor/alerts/delivery.py).
    assert len(copies) == (2 if server_took_it else 1)
    assert (alert.state, alert.attempts) == (am.SENT, 2)
    assert list(alert.delivery_attempts.values_list("outcome", flat=True)) == [am.ACCEPTED]


def outbox_rows(n):
    """`n` alerts due now, each to its own reader, as a sweep leaves them."""
    return [
        am.Alert.objects.create(key=f"slow-relay-{i}", event=am.MISSED, to_email=f"reader{i}@example.org",
                                subject=f"Missed: commitment {i}", body_text=f"Commitment {i} was missed.")
        for i in range(n)
    ]


def test_a_relay_slower_than_the_lease_allows_for_a_batch_delivers_each_alert_once(smtp, workers, celery_app):
    # A healthy relay taking 0.4 s a message: one worker's batch of 15 takes 6 s, three times its 2 s lease,
    # while a second worker asks for work every half second (beat's periodic send, the sweeps' on_commit).
    smtp.data_delay = 0.4
    rows = outbox_rows(15)
    first, second = workers(MONITOR_SEND_LEASE_SECONDS="2"), workers(MONITOR_SEND_LEASE_SECONDS="2")

    wait_until(
        lambda: am.Alert.objects.filter(state=am.SENT).count() == len(rows), timeout=60,
        what="every alert to be sent", tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.5,
    )
    drain(celery_app)

    ids = [m.message_id for m in smtp.messages]
    assert sorted(ids) == sorted(row.message_id for row in rows)  # each once: no duplicate, none lost
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(row.to_email for row in rows)
    # Both workers did take part: the second sent the rows whose lease ran out under the first.
    assert "monitor.send_alerts" in first.log() and "monitor.send_alerts" in second.log()
    assert am.DeliveryAttempt.objects.filter(outcome=am.ACCEPTED).count() == len(rows)


def test_one_message_slower_than_its_lease_is_not_sent_again_by_another_worker(smtp, workers, celery_app):
    # The relay takes 4 s to answer one message; the lease is 1 s. The row's lock, held while it is
    # sent, keeps the other worker off it though the lease ran out long before.
    smtp.data_delay = 4
    [row] = outbox_rows(1)
    workers(MONITOR_SEND_LEASE_SECONDS="1")
    workers(MONITOR_SEND_LEASE_SECONDS="1")

    wait_until(
        lambda: am.Alert.objects.filter(state=am.SENT).exists(), timeout=60, what="the alert to be sent",
        tick=tick(celery_app, "monitor.send_alerts"), tick_every=0.3,
    )
    drain(celery_app)

    assert [m.message_id for m in smtp.messages] == [row.message_id]
    row.refresh_from_db()
    assert row.attempts == 1


def test_redis_stopped_mid_run_loses_nothing_and_the_next_tick_delivers(smtp, worker, celery_app, tmp_path, caplog):
    agreement, [talks], due = recently_missed(1)
    ties = CommitmentFactory(agreement=agreement, key="cut-ties", title="Ties cut", kind="prohibition",
                             due_offset=None, rule={"categories": ["al_qaeda_ties"], "attribution": "any"})
    # A source reporting such ties, every day: "in compliance" before the report is a finding, not silence.
    CoverageFactory(source=SourceFactory(name="Monitors", categories=["al_qaeda_ties"]))
    staff_subscription(agreement)
    env = realparts.process_env(smtp.port)
    sweep_log = tmp_path / "sweep.log"

    with realparts.redis_stopped():
        # A sweep records the missed deadline and its alert; queueing the send fails, quietly.
        proc = realparts.manage(["sweep"], env, sweep_log)
        try:
            proc.wait(60)
        finally:
            realparts.stop_processes([proc])
        output = sweep_log.read_text(errors="replace")
        print(output)
        assert proc.returncode == 0
        assert "Could not queue monitor.send_alerts" in output
        # A report saved now: its re-evaluation cannot be queued either, and saving does not fail.
        with caplog.at_level(logging.WARNING, logger="monitor.alerts.triggers"):
            an_hour_ago = timezone.now() - timedelta(hours=1)
            ReportFactory(category="al_qaeda_ties", occurred_at=an_hour_ago, recorded_at=an_hour_ago)
        assert "Could not queue re-evaluation" in caplog.text
        assert am.Alert.objects.get().state == am.PENDING

    # Redis is back, empty: whatever was in it is gone. The next ticks (beat's sweep and send)
    # find everything in the database; the worker reconnects on its own.
    smtp.wait_for(2, timeout=60, tick=tick(celery_app, "monitor.sweep", "monitor.send_alerts"), tick_every=1)
    drain(celery_app)

    assert sorted(m.subject for m in smtp.messages) == [
        f"[Compliance monitor] Breached: Ties cut ({DEAL})", f"{MISSED}Talks begin 0 ({DEAL})"
    ]
    assert am.Alert.objects.filter(state=am.SENT).count() == am.Alert.objects.count() == 2
    assert sorted(StatusChange.objects.values_list("commitment__key", "new_status")) == [
        ("cut-ties", "breached"), ("cut-ties", "in_compliance"), ("talks-0", "missed")
    ]
    assert ties.status_changes.latest("id").new_status == "breached"


# --- in this process, through the real SMTP server ----------------------------------------------------

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
KABUL_MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)


def sweep_and_send(now):
    run = run_sweep(now=now)
    send_due(now)
    return run


def test_transaction_rolled_back_after_a_status_change_leaves_no_outbox_row_and_sends_nothing(smtp_settings):
    smtp = smtp_settings
    talks = CommitmentFactory(agreement=AgreementFactory(slug="deal", title=DEAL), title="Talks begin")
    staff_subscription(talks.agreement)
    now = KABUL_MISSED_AT + timedelta(minutes=1)

    with pytest.raises(RuntimeError, match="after the sweep"), transaction.atomic():
        run_sweep(now=now)
        assert StatusChange.objects.filter(commitment=talks, new_status="missed").exists()
        assert am.Alert.objects.exists()
        raise RuntimeError("something failed after the sweep, in the same transaction")

    assert not StatusChange.objects.exists()
    assert not am.Alert.objects.exists()
    assert send_due(now + timedelta(minutes=1)) == 0
    assert smtp.messages == []

    # The same sweep, committed, does send through this server: the silence above was the rollback.
    sweep_and_send(now + timedelta(minutes=2))
    assert [m.subject for m in smtp.messages] == [f"{MISSED}Talks begin ({DEAL})"]


@pytest.mark.parametrize("zone, signed_on, deadline", [
    # Last day 8 March 2020, the day New York springs forward: it ends at midnight EDT, 04:00 UTC.
    ("America/New_York", date(2020, 2, 27), datetime(2020, 3, 9, 4, tzinfo=UTC)),
    # Last day 10 March 2020: it ends at Kabul midnight (UTC+4:30), 19:30 UTC.
    ("Asia/Kabul", date(2020, 2, 29), KABUL_MISSED_AT),
], ids=["new-york-spring-forward", "kabul-midnight"])
def test_deadline_fires_once_at_the_end_of_its_last_day_in_the_agreements_zone(
    zone, signed_on, deadline, smtp_settings
):
    smtp = smtp_settings
    agreement = AgreementFactory(slug="deal", title=DEAL, time_zone=zone, signed_on=signed_on)
    talks = CommitmentFactory(agreement=agreement, title="Talks begin", due_offset=10)
    staff_subscription(agreement)

    sweep_and_send(deadline - timedelta(hours=6))
    sweep_and_send(deadline - timedelta(seconds=1))
    assert smtp.messages == []
    assert not StatusChange.objects.filter(new_status="missed").exists()

    sweep_and_send(deadline + timedelta(seconds=1))
    assert [m.subject for m in smtp.messages] == [f"{MISSED}Talks begin ({DEAL})"]
    for later in (timedelta(hours=1), timedelta(hours=2), timedelta(days=1)):  # an hour off would fire here
        sweep_and_send(deadline + later)
    assert len(smtp.messages) == 1
    [change] = StatusChange.objects.filter(commitment=talks, new_status="missed")
    assert change.effective_at == deadline
    assert change.detected_at == deadline + timedelta(seconds=1)


def test_loading_an_agreement_signed_two_years_ago_sends_one_summary(smtp_settings):
    smtp = smtp_settings
    call_command("load_agreement", str(django_settings.BASE_DIR / "agreements" / "us-taliban-2020.yaml"))
    now = timezone.now()
    Agreement.objects.filter(slug="us-taliban-2020").update(
        signed_on=(now - timedelta(days=730)).date(), state=IN_FORCE
    )
    agreement = Agreement.objects.get(slug="us-taliban-2020")
    staff_subscription(agreement, reminder_days=[7, 1])

    sweep_and_send(now)
    sweep_and_send(now + timedelta(minutes=1))

    [summary] = smtp.messages
    recorded = StatusChange.objects.filter(commitment__agreement=agreement, new_status__in=["missed", "breached"])
    # A commitment marked for review (the garbled troop figure) is recorded, and raises no alert until settled.
    past = recorded.filter(commitment__needs_review=False)
    assert recorded.filter(commitment__needs_review=True).exists()
    assert not am.Alert.objects.filter(commitment__needs_review=True).exists()
    folded = am.Alert.objects.filter(state=am.FOLDED)
    assert past.count() >= 1
    assert folded.count() == past.count()
    assert summary.rcpt_tos == ["watcher@example.org"]
    assert summary.subject == f"[Compliance monitor] {past.count()} past status changes recorded"
    assert all(alert.commitment.title in summary.text for alert in folded)
    assert am.Alert.objects.filter(state=am.SENT).get().event == am.SUMMARY


def test_rejecting_the_report_behind_a_breach_sends_one_correction_to_each_recipient(smtp_settings):
    smtp = smtp_settings
    agreement = AgreementFactory(slug="deal", title=DEAL)
    ties = CommitmentFactory(agreement=agreement, key="cut-ties", title="Ties cut", kind="prohibition",
                             due_offset=None, rule={"categories": ["al_qaeda_ties"], "attribution": "any"})
    CoverageFactory()  # every day covered: once the breach is withdrawn, "in compliance" is a finding
    staff_subscription(agreement)
    staff_subscription(agreement, username="second", email="second@example.org")
    report = ReportFactory(category="al_qaeda_ties", occurred_at=datetime(2020, 3, 20, tzinfo=UTC),
                           recorded_at=datetime(2020, 3, 20, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 20, 2, tzinfo=UTC))
    breach = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert sorted(breach) == ["second@example.org", "watcher@example.org"]
    assert {m.subject for m in breach.values()} == {f"[Compliance monitor] Breached: Ties cut ({DEAL})"}

    report.set_verification(REJECTED, at=datetime(2020, 3, 21, tzinfo=UTC), reason="Fabricated.")
    sweep_and_send(datetime(2020, 3, 21, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 21, 2, tzinfo=UTC))

    later = smtp.messages[2:]
    assert sorted(m.rcpt_tos[0] for m in later) == ["second@example.org", "watcher@example.org"]
    for m in later:
        assert m.subject == f"[Compliance monitor] Correction: Ties cut is not breached ({DEAL})"
        assert "withdrawn" in m.text
        assert m.to == breach[m.rcpt_tos[0]].to
    corrections = am.Alert.objects.filter(event=am.CORRECTION)
    assert sorted(corrections.values_list("to_email", "corrects__to_email", "state")) == [
        ("second@example.org", "second@example.org", am.SENT), ("watcher@example.org", "watcher@example.org", am.SENT)
    ]
    assert sorted(m.message_id for m in later) == sorted(c.message_id for c in corrections)
    assert ties.status_changes.latest("id").new_status == "in_compliance"


# --- every change of what a subscriber was last told is a message (issue 12) -------------------------

# Talks due within 10 days of signing on 29 February 2020: missed at Kabul midnight, 19:30 UTC on 10 March.
TALKS_MISSED_AT = datetime(2020, 3, 10, 19, 30, tzinfo=UTC)


def watched_talks():
    agreement = AgreementFactory(slug="deal", title=DEAL)
    talks = CommitmentFactory(agreement=agreement, key="talks", title="Talks begin")
    staff_subscription(agreement)
    return talks


def test_a_retracted_correction_is_corrected_in_turn_and_the_subscriber_ends_on_the_truth(smtp_settings):
    smtp = smtp_settings
    talks = watched_talks()
    sweep_and_send(TALKS_MISSED_AT + timedelta(minutes=1))
    # A credible report that talks began on 9 March arrives on the 12th; it is rejected on the 13th.
    began = ReportFactory(occurred_at=datetime(2020, 3, 9, 8, tzinfo=UTC), recorded_at=datetime(2020, 3, 12, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 12, 1, tzinfo=UTC))
    began.set_verification(REJECTED, at=datetime(2020, 3, 13, tzinfo=UTC), reason="The meeting never took place.")
    sweep_and_send(datetime(2020, 3, 13, 1, tzinfo=UTC))
    sweep_and_send(datetime(2020, 3, 13, 2, tzinfo=UTC))  # nothing new: nothing more

    assert [m.subject for m in smtp.messages] == [
        f"[Compliance monitor] Missed: Talks begin ({DEAL})",
        f"[Compliance monitor] Correction: Talks begin is not missed ({DEAL})",
        f"[Compliance monitor] Correction: Talks begin is missed ({DEAL})",
    ]
    last = smtp.messages[-1]
    earlier = f"[Compliance monitor] Correction: Talks begin is not missed ({DEAL})"
    assert f"An earlier alert said “{earlier}”" in " ".join(last.text.split())
    assert len({m.message_id for m in smtp.messages}) == 3
    assert talks.status_changes.latest("id").new_status == "missed"
    # Missed again from the deadline, as the rule says, and detected when the report was rejected.
    latest = talks.status_changes.latest("id")
    assert (latest.effective_at, latest.detected_at) == (TALKS_MISSED_AT, datetime(2020, 3, 13, 1, tzinfo=UTC))
    third = am.Alert.objects.get(subject=f"[Compliance monitor] Correction: Talks begin is missed ({DEAL})")
    assert third.corrects.subject == f"[Compliance monitor] Correction: Talks begin is not missed ({DEAL})"


def test_a_rejected_late_act_makes_the_deadline_missed_from_the_deadline_and_says_it_corrects_met_late(smtp_settings):
    smtp = smtp_settings
    talks = watched_talks()
    sweep_and_send(TALKS_MISSED_AT + timedelta(minutes=1))
    late = ReportFactory(occurred_at=TALKS_MISSED_AT + timedelta(hours=1),
                         recorded_at=TALKS_MISSED_AT + timedelta(hours=2))
    sweep_and_send(TALKS_MISSED_AT + timedelta(hours=3))
    late.set_verification(REJECTED, at=TALKS_MISSED_AT + timedelta(days=1), reason="Misdated.")
    sweep_and_send(TALKS_MISSED_AT + timedelta(days=1, hours=1))

    assert [m.subject for m in smtp.messages] == [
        f"[Compliance monitor] Missed: Talks begin ({DEAL})",
        f"[Compliance monitor] Met late: Talks begin ({DEAL})",
        f"[Compliance monitor] Correction: Talks begin is missed ({DEAL})",
    ]
    earlier = f"[Compliance monitor] Met late: Talks begin ({DEAL})"
    assert f"An earlier alert said “{earlier}”" in " ".join(smtp.messages[-1].text.split())
    history = [(c.new_status, c.effective_at) for c in talks.status_changes.order_by("id")]
    assert history == [
        ("missed", TALKS_MISSED_AT),
        ("met_late", TALKS_MISSED_AT + timedelta(hours=1)),
        ("missed", TALKS_MISSED_AT),  # the deadline's instant, not the rejected act's
    ]
