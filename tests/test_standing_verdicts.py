"""A status new acts cannot move is not judged again for every new act; what could move it still is.

A ban, once broken, stays broken until its recovery run ends, whatever further violations are
reported (they only make the run end later); a ceiling over its window, or a daily one without
recovery, stays breached for good; a deadline met stays met. In a conflict reported daily, judging
such commitments again for each new event is most of what a re-evaluation costs, and can move
nothing. What can move them (an edit, a verification, a denial, a report grouped with an earlier
event's, the clock at their next check) still brings them to a sweep. On PostgreSQL, as in
production: the database's triggers write the pending changes the periodic sweep reads.
"""

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.alerts import models as am
from monitor.alerts.sweep import SWEEP_LOCK, absorb_pending, latest_changes, run_sweep
from monitor.evidence import models as ev
from monitor.verdicts import inputs
from monitor.verdicts import statuses as S
from terms.models import PartyName
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, ReportFactory, SourceFactory, UserFactory
from tests.hypothesis_budget import examples

pytestmark = pytest.mark.django_db

# The agreement is signed 29 February 2020 (the factory's); every window here opens then.
SIGNED = datetime(2020, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class Watch:
    """A ban on attacks in Kabul, a ceiling of one clash a day and one of two clashes over the window (no recovery),
    and talks due within ten days. `agreements`: more agreements owed by the same party, so swept together on one
    read of the reports (`sweep.sharing`); every other one bans riots and limits protests instead (what is due in
    it may not be in the first), its ban's recovery the other way."""

    def __init__(self, ban_recovery=None, agreements=1):
        self.taliban = PartyFactory(name="Taliban", slug="taliban")
        PartyName.objects.create(party=self.taliban, name="Islamic Emirate of Afghanistan")
        self.source = SourceFactory(name="Wire", reliability="B",
                                    categories=["Attack", "Armed clash", "talks_began", "Riots", "Protests"])
        ev.Coverage.objects.create(source=self.source, starts_on=date(2020, 1, 1),
                                   recorded_at=datetime(2020, 1, 1, tzinfo=UTC))
        user = UserFactory(username="watcher", email="watcher@example.org")
        self.agreements, self.ids = [], []
        for i in range(agreements):
            agreement = AgreementFactory(slug="watch" if i == 0 else f"watch-{i}", title=f"The watch {i}")
            agreement.parties.add(self.taliban)
            recovery = ban_recovery if i % 2 == 0 else (None if ban_recovery is not None else 3)
            made = self._commitments(agreement, recovery, swapped=i % 2 == 1)
            if i == 0:
                self.agreement = agreement
                self.ban, self.daily, self.overall, self.talks = made
            self.agreements.append(agreement)
            self.ids += [c.id for c in made]
            am.Subscription.objects.create(user=user, agreement=agreement, reminder_days=[],
                                           confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))

    def _commitments(self, agreement, ban_recovery, swapped=False):
        def commitment(key, kind, rule, **fields):
            fields.setdefault("due_offset", None)
            return CommitmentFactory(agreement=agreement, key=key, title=key.replace("_", " ").capitalize(),
                                     kind=kind, rule=rule, owed_by=[self.taliban], **fields)

        banned, limited = ("Riots", "Protests") if swapped else ("Attack", "Armed clash")
        ban = {"categories": [banned], "admin1": ["Kabul"]}
        if ban_recovery is not None:
            ban["recovery_days"] = ban_recovery
        return (
            commitment("no_attacks_in_kabul", "prohibition", ban),
            commitment("one_clash_a_day", "ceiling", {"categories": [limited], "limit": 1, "recovery_days": None}),
            commitment("two_clashes_in_all", "ceiling", {"categories": [limited], "limit": 2, "period": "window"}),
            commitment("talks", "deadline", {"categories": ["talks_began"]}, due_offset=10),
        )

    def report(self, category, when, **fields):
        fields.setdefault("actor1", "Islamic Emirate of Afghanistan")
        fields.setdefault("admin1", "Kabul")
        return ReportFactory(category=category, occurred_at=when, recorded_at=fields.pop("known", when + DAY / 12),
                             source=self.source, **fields)

    def recorded(self):
        return {pk: ch.new_status for pk, ch in latest_changes(self.ids).items()}

    def judged_in_full(self, now):
        return {s.commitment.id: s.computed.status
                for s in inputs.standings(self.agreements, as_of=now, known_at=now, recorded=False)}


def broken(watch, until):
    """Every limit breached and the talks begun: an attack in Kabul on 2 March, three clashes and the talks on 3
    March; swept until `until` (what the clock owes by then, escalations of the unassessed breaches among it)."""
    watch.report("Attack", SIGNED + DAY + timedelta(hours=9))
    for hour in (8, 9, 10):
        watch.report("Armed clash", SIGNED + 2 * DAY + timedelta(hours=hour))
    watch.report("talks_began", SIGNED + 2 * DAY + timedelta(hours=11))
    run_sweep(now=SIGNED + 4 * DAY)
    run_sweep(now=until)
    assert watch.recorded() == {watch.ban.id: S.BREACHED, watch.daily.id: S.BREACHED, watch.overall.id: S.BREACHED,
                                watch.talks.id: S.MET}


def test_new_violations_and_acts_judge_nothing_breached_for_good_or_met_and_nothing_moves():
    watch = Watch()
    now = SIGNED + 10 * DAY
    broken(watch, until=now - timedelta(minutes=1))
    before = watch.recorded()
    for day in range(5, 9):
        watch.report("Attack", SIGNED + day * DAY, summary=f"Attack in Kabul, day {day}")
        watch.report("Armed clash", SIGNED + day * DAY)
        watch.report("Armed clash", SIGNED + day * DAY + timedelta(hours=3))
        watch.report("talks_began", SIGNED + day * DAY, summary=f"Talks continue, day {day}")

    alerts = am.Alert.objects.count()
    run = run_sweep(now=now)

    assert run.commitments_evaluated == 0
    assert watch.recorded() == watch.judged_in_full(now) == before
    assert am.Alert.objects.count() == alerts


def test_a_new_attack_during_a_bans_recovery_run_judges_nothing_and_the_breach_lasts_a_week_from_it():
    watch = Watch(ban_recovery=7)
    watch.report("Attack", SIGNED + DAY + timedelta(hours=9))  # 2 March: breached until 10 March
    run_sweep(now=SIGNED + 4 * DAY)
    assert watch.recorded()[watch.ban.id] == S.BREACHED

    noon = SIGNED + 5 * DAY + timedelta(hours=12)
    run_sweep(now=noon - timedelta(minutes=1))  # what the clock owes by then (the ceilings' days, escalations)
    watch.report("Attack", SIGNED + 5 * DAY + timedelta(hours=9))  # 6 March: breached until 14 March
    assert run_sweep(now=noon).commitments_evaluated == 0

    for day in (9, 10, 12, 13, 14, 15):  # the first run's end (10 March) is its next check: judged with both
        now = SIGNED + day * DAY + timedelta(hours=1)
        run_sweep(now=now)
        assert watch.recorded()[watch.ban.id] == watch.judged_in_full(now)[watch.ban.id], now
    assert watch.recorded()[watch.ban.id] == S.IN_COMPLIANCE
    recovered = watch.ban.status_changes.filter(party__isnull=True).latest("id")
    assert recovered.effective_at == datetime(2020, 3, 13, 19, 30, tzinfo=UTC)  # 14 March in Kabul


@pytest.mark.django_db(transaction=True)  # each sweep commits, and lets go of the agreement's lock
def test_a_new_act_while_another_sweep_holds_the_agreement_is_judged_as_usual():
    # That sweep may be recording, from reports read before this one, the end of the very breach: the
    # commitment is marked, and the next sweep judges it with the new report.
    watch = Watch()
    now = SIGNED + 10 * DAY
    broken(watch, until=now - timedelta(minutes=1))
    watch.report("Attack", SIGNED + 6 * DAY)
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432,
                         autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [SWEEP_LOCK, watch.agreement.id])
        absorb_pending(now)
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [SWEEP_LOCK, watch.agreement.id])

    assert run_sweep(now=now).commitments_evaluated == 1


def test_a_violation_reported_before_the_breach_began_judges_nothing():
    # Imported years after the events, a report of an earlier attack can only make the breach begin sooner,
    # which the recorded status (breached) does not show: nothing to record.
    watch = Watch()
    broken(watch, until=SIGNED + 31 * DAY)
    watch.report("Attack", SIGNED + timedelta(hours=12), known=SIGNED + 30 * DAY)

    assert run_sweep(now=SIGNED + 31 * DAY + timedelta(minutes=1)).commitments_evaluated == 0
    assert watch.judged_in_full(SIGNED + 31 * DAY)[watch.ban.id] == S.BREACHED


def test_rejecting_the_only_violation_brings_the_ban_back_into_compliance_at_the_next_sweep():
    watch = Watch()
    attack = watch.report("Attack", SIGNED + DAY + timedelta(hours=9))
    run_sweep(now=SIGNED + 4 * DAY)
    assert watch.recorded()[watch.ban.id] == S.BREACHED

    ev.Report.objects.filter(pk=attack.pk).set_verification(ev.REJECTED, reason="No attack took place.",
                                                            at=SIGNED + 4 * DAY + timedelta(hours=1))
    run_sweep(now=SIGNED + 5 * DAY)

    assert watch.judged_in_full(SIGNED + 5 * DAY)[watch.ban.id] == S.IN_COMPLIANCE
    assert watch.recorded()[watch.ban.id] == S.IN_COMPLIANCE


def test_an_edit_moving_the_only_violation_out_of_kabul_ends_the_breach_at_the_next_sweep():
    watch = Watch()
    attack = watch.report("Attack", SIGNED + DAY + timedelta(hours=9))
    run_sweep(now=SIGNED + 4 * DAY)

    attack.admin1 = "Kandahar"
    attack.save()
    run_sweep(now=SIGNED + 5 * DAY)

    assert watch.recorded()[watch.ban.id] == S.IN_COMPLIANCE


def test_a_denial_of_the_violation_disputes_the_standing_breach():
    watch = Watch()
    watch.report("Attack", SIGNED + DAY + timedelta(hours=9))
    run_sweep(now=SIGNED + 4 * DAY)

    watch.report("Attack", SIGNED + DAY, stance=ev.DENIES, occurred_until=SIGNED + 2 * DAY,
                 summary="The Taliban deny any attack in Kabul on 2 March")
    run_sweep(now=SIGNED + 5 * DAY)

    assert watch.recorded()[watch.ban.id] == S.DISPUTED == watch.judged_in_full(SIGNED + 5 * DAY)[watch.ban.id]


def test_a_new_report_of_an_event_already_counted_moves_it_to_its_earlier_day_and_can_end_a_daily_breach():
    # Two clashes on 3 March breach "one a day". A new report puts one of them on 2 March (an event counts on
    # its earliest report's day): one clash each day, no breach. The new report is grouped: judged again.
    watch = Watch()
    event = ev.EventGroup.objects.create(label="The clash at the airport")
    watch.report("Armed clash", SIGNED + 2 * DAY + timedelta(hours=8), event=event)
    watch.report("Armed clash", SIGNED + 2 * DAY + timedelta(hours=9))
    run_sweep(now=SIGNED + 4 * DAY)
    assert watch.recorded()[watch.daily.id] == S.BREACHED

    watch.report("Armed clash", SIGNED + DAY + timedelta(hours=12), event=event, known=SIGNED + 4 * DAY)
    run_sweep(now=SIGNED + 5 * DAY)

    assert watch.judged_in_full(SIGNED + 5 * DAY)[watch.daily.id] == S.IN_COMPLIANCE
    assert watch.recorded()[watch.daily.id] == S.IN_COMPLIANCE


def test_a_ban_with_recovery_days_is_judged_again_by_a_new_attack_and_breached_anew():
    watch = Watch(ban_recovery=7)
    watch.report("Attack", SIGNED + DAY + timedelta(hours=9))
    run_sweep(now=SIGNED + 4 * DAY)
    run_sweep(now=SIGNED + 12 * DAY)
    assert watch.recorded()[watch.ban.id] == S.IN_COMPLIANCE  # a week without attacks

    watch.report("Attack", SIGNED + 13 * DAY)
    run = run_sweep(now=SIGNED + 14 * DAY)

    assert run.commitments_evaluated >= 1
    assert watch.recorded()[watch.ban.id] == S.BREACHED
    assert am.Alert.objects.filter(event=am.BREACHED, created_at__gte=SIGNED + 14 * DAY).exists()


# --- The shortcut is exact: whatever is reported, edited or verified, what is recorded is what a full evaluation says


@st.composite
def happenings(draw):
    """Sweeps over six weeks, and what becomes known between them: reports (some denials, some of one event,
    some back-dated), rejections of earlier reports and edits of their place."""
    hours = sorted(set(draw(st.lists(st.integers(24, 6 * 7 * 24), min_size=2, max_size=8))))
    things = []
    for _ in range(draw(st.integers(1, 10))):
        known = SIGNED + timedelta(hours=draw(st.integers(0, hours[-1])))
        what = draw(st.sampled_from(["report", "report", "report", "report", "reject", "move"]))
        things.append((known, what, {
            "occurred": known - timedelta(hours=draw(st.integers(0, 24 * 12))),
            "category": draw(st.sampled_from(["Attack", "Armed clash", "talks_began", "Riots", "Protests"])),
            "admin1": draw(st.sampled_from(["Kabul", "Kabul", "Kandahar"])),
            "stance": draw(st.sampled_from([ev.AFFIRMS, ev.AFFIRMS, ev.AFFIRMS, ev.DENIES])),
            "event": draw(st.sampled_from([None, None, 0, 1])),
            "which": draw(st.integers(0, 20)),
        }))
    return draw(st.sampled_from([None, 3])), [SIGNED + timedelta(hours=h) for h in hours], sorted(
        things, key=lambda t: t[0])


@settings(max_examples=examples(15), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(history=happenings())
def test_the_periodic_sweep_records_at_each_instant_what_a_full_evaluation_says(history):
    ban_recovery, instants, things = history
    with transaction.atomic():
        watch = Watch(ban_recovery=ban_recovery, agreements=2)  # swept together: one read for both
        events = [ev.EventGroup.objects.create(label=f"Event {i}") for i in range(2)]
        written, pending = [], list(things)
        for now in instants:
            while pending and pending[0][0] <= now:
                known, what, d = pending.pop(0)
                if what == "report":
                    occurred = max(d["occurred"], SIGNED - DAY)
                    written.append(watch.report(
                        d["category"], occurred, known=max(known, occurred), admin1=d["admin1"], stance=d["stance"],
                        event=None if d["event"] is None else events[d["event"]]))
                elif written and what == "reject":
                    ev.Report.objects.filter(pk=written[d["which"] % len(written)].pk).set_verification(
                        ev.REJECTED, reason="Not so", at=known)
                elif written:
                    report = written[d["which"] % len(written)]
                    report.admin1 = "Kandahar" if report.admin1 == "Kabul" else "Kabul"
                    report.save()
            run_sweep(now=now)
            assert watch.recorded() == watch.judged_in_full(now), now
        transaction.set_rollback(True)


def test_a_riot_due_in_the_second_agreement_alone_is_judged_on_the_groups_one_read():
    watch = Watch(agreements=2)
    run_sweep(now=SIGNED + 4 * DAY)
    noon = SIGNED + 4 * DAY + timedelta(hours=12)
    run_sweep(now=noon - timedelta(minutes=1))
    watch.report("Riots", SIGNED + 4 * DAY + timedelta(hours=8))  # only the second agreement bans riots

    run = run_sweep(now=noon)

    assert run.commitments_evaluated == 1
    ban = watch.agreements[1].commitments.get(key="no_attacks_in_kabul")
    assert watch.recorded()[ban.id] == S.BREACHED == watch.judged_in_full(noon)[ban.id]
