"""Re-evaluating what changed reports affect: the same transitions and alerts as a full sweep, for those alone."""

import json
import random
import re
from array import array
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from monitor.alerts import models as am
from monitor.alerts import tasks, triggers
from monitor.alerts.delivery import send_due
from monitor.alerts.sweep import run_sweep
from monitor.evidence.models import REJECTED, Coverage, Report
from monitor.verdicts.models import StatusChange
from terms.models import PartyName
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory, ReportFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

# Signed 29 February 2020 in Kabul; the first sweep on 4 March, the reports arrive before 7 March.
BEFORE = datetime(2020, 3, 4, 12, tzinfo=UTC)
NOW = datetime(2020, 3, 7, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class Deal:
    """An agreement whose commitments are touched, or not, by the reports a test adds."""

    def __init__(self):
        self.taliban = PartyFactory(name="Taliban", slug="taliban")
        PartyName.objects.create(party=self.taliban, name="Islamic Emirate of Afghanistan")
        self.government = PartyFactory(name="Government of Afghanistan", slug="government")
        self.agreement = AgreementFactory(slug="deal", title="The deal")
        # Declaring what it reports, so that no verdict here is "no source reports this" (test_honest_verdicts).
        self.source = SourceFactory(name="Wire", reliability="B",
                                    categories=["Attack", "talks_began", "Armed clash", "prisoner_release"])
        Coverage.objects.create(source=self.source, starts_on=date(2020, 1, 1),
                                recorded_at=datetime(2020, 1, 1, tzinfo=UTC))

        def commitment(key, kind, rule, owed_by, **window):
            return CommitmentFactory(agreement=self.agreement, key=key, title=key.replace("_", " ").capitalize(),
                                     kind=kind, rule=rule, owed_by=owed_by, **window)

        self.kabul = commitment("no_attacks_in_kabul", "prohibition",
                                {"categories": ["Attack"], "admin1": ["Kabul"]}, [self.taliban], due_offset=None)
        self.kandahar = commitment("no_attacks_in_kandahar", "prohibition",
                                   {"categories": ["Attack"], "admin1": ["Kandahar"]}, [self.taliban], due_offset=None)
        # Talks beginning is one act, by either side (share "any"): shared "each", both would have to act.
        self.talks = commitment("talks", "deadline", {"categories": ["talks_began"]},
                                [self.taliban, self.government], due_offset=10, share="any")
        self.quiet = commitment("quiet_after_talks", "ceiling", {"categories": ["Armed clash"], "limit": 0},
                                [self.taliban], due_offset=None, ends_offset=30, anchor="commitment",
                                anchor_commitment=self.talks)
        # Due 5 March: missed by the passing of time alone, whatever reports arrive.
        self.prisoners = commitment("prisoners", "deadline", {"categories": ["prisoner_release"]},
                                    [self.government], due_offset=5)
        user = UserFactory(username="watcher", email="watcher@example.org")
        am.Subscription.objects.create(user=user, agreement=self.agreement, reminder_days=[],
                                       confirmed_at=datetime(2020, 1, 1, tzinfo=UTC))

    def report(self, category, when, **fields):
        fields.setdefault("actor1", "Islamic Emirate of Afghanistan")
        fields.setdefault("admin1", "Kabul")
        return ReportFactory(category=category, occurred_at=when, recorded_at=when + timedelta(hours=2),
                             source=self.source, **fields)


@pytest.fixture
def deal():
    d = Deal()
    run_sweep(now=BEFORE)
    # Judged as of NOW before the reports come: what the clock alone changes (the prisoners' deadline
    # passing on 5 March) is recorded, so a sweep at NOW judges only what the reports can affect.
    run_sweep(now=NOW)
    return d


def outcome(since_id, since_alert):
    """The transitions and alerts recorded after the given ids, as a user would compare them."""
    changes = sorted(
        (c.commitment.key, c.old_status, c.new_status, c.kind, c.effective_at, c.reason_code,
         json.dumps(c.reason_params, sort_keys=True), tuple(sorted(c.evidence.values_list("id", flat=True))))
        for c in StatusChange.objects.filter(id__gt=since_id).select_related("commitment")
    )
    # Keys name the status change by id, which differs between the two runs: compared by what it was.
    alerts = sorted(
        (re.sub(r":sc\d+:", f":{a.status_change.new_status}@{a.status_change.effective_at.isoformat()}:", a.key),
         a.event, a.state, a.subject)
        for a in am.Alert.objects.filter(id__gt=since_alert).select_related("status_change")
    )
    return changes, alerts


def last_ids():
    return (StatusChange.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            am.Alert.objects.order_by("-id").values_list("id", flat=True).first() or 0)


def targeted_and_full(report_ids):
    """What a targeted sweep records for these reports, and what a full sweep would have, from the same state."""
    marks = last_ids()
    with transaction.atomic():
        run_sweep(now=NOW, trigger=am.REPORTS, changes=triggers.describe(report_ids))
        targeted = outcome(*marks)
        transaction.set_rollback(True)
    run_sweep(now=NOW, trigger=am.MANUAL)  # every commitment judged, whatever is due
    return targeted, outcome(*marks)


def keys(changes):
    return {c[0] for c in changes}


def test_targeted_re_evaluation_records_what_a_full_sweep_records_for_the_commitments_it_touches(deal):
    attack = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC))
    talks = deal.report("talks_began", datetime(2020, 3, 5, 9, tzinfo=UTC), admin1="")
    (changes, alerts), (full_changes, full_alerts) = targeted_and_full([attack.id, talks.id])

    assert keys(changes) == {"no_attacks_in_kabul", "talks", "quiet_after_talks"}
    assert changes == [c for c in full_changes if c[0] in keys(changes)]
    assert alerts and alerts == [a for a in full_alerts if not a[0].startswith(f"c{deal.prisoners.id}:")]
    assert ("no_attacks_in_kabul", "in_compliance", "breached") in {c[:3] for c in changes}


def test_commitments_the_reports_cannot_affect_are_left_to_the_periodic_sweep(deal):
    attack = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC))
    (changes, _alerts), (full_changes, _full_alerts) = targeted_and_full([attack.id])

    assert keys(changes) == {"no_attacks_in_kabul"}
    # Kandahar's commitment is not about Kabul: a sweep of everything records nothing for it either.
    assert "no_attacks_in_kandahar" not in keys(full_changes)


def test_acts_by_other_parties_and_reports_outside_the_window_touch_nothing(deal):
    by_police = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC), actor1="Police Forces of Afghanistan")
    before_signing = deal.report("Attack", datetime(2020, 2, 20, 8, tzinfo=UTC))
    run = run_sweep(now=NOW, trigger=am.REPORTS, changes=triggers.describe([by_police.id, before_signing.id]))
    assert run.commitments_evaluated == 0
    assert run.transitions == 0


def test_a_commitment_counted_from_an_affected_one_is_re_evaluated_with_it(deal):
    talks = deal.report("talks_began", datetime(2020, 3, 5, 9, tzinfo=UTC), admin1="")
    (changes, _alerts), (full_changes, _full) = targeted_and_full([talks.id])

    assert {c[:3] for c in changes} >= {("talks", "due_soon", "met"),
                                         ("quiet_after_talks", "awaiting_anchor", "in_compliance")}
    assert changes == [c for c in full_changes if c[0] in keys(changes)]


def test_an_edit_that_moves_a_report_out_of_a_commitment_re_evaluates_the_commitment_it_left(deal):
    attack = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC))
    run_sweep(now=NOW - timedelta(hours=1))
    assert deal.kabul.status_changes.latest("id").new_status == "breached"

    attack.category = "Peaceful protest"  # miscategorised: it was a protest
    attack.save()
    run = run_sweep(now=NOW, trigger=am.REPORTS, changes=triggers.describe([attack.id]))

    assert run.commitments_evaluated == 1
    latest = deal.kabul.status_changes.latest("id")
    assert (latest.old_status, latest.new_status, latest.kind) == ("breached", "in_compliance", "correction")


def test_rejecting_a_report_re_evaluates_the_commitments_it_counted_for_and_sends_the_correction(deal):
    attack = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC))
    run_sweep(now=NOW - timedelta(hours=1))
    send_due(NOW - timedelta(hours=1))
    assert "[Compliance monitor] Breached" in [m.subject.split(":")[0] for m in mail.outbox]
    mail.outbox.clear()

    attack.set_verification(REJECTED, at=NOW - timedelta(minutes=30), reason="Fabricated.")
    with time_machine.travel(NOW, tick=False):
        tasks.reevaluate_reports(triggers.describe([attack.id]))
    send_due(NOW + timedelta(minutes=1))

    latest = deal.kabul.status_changes.latest("id")
    assert (latest.new_status, latest.kind) == ("in_compliance", "correction")
    corrections = [m for m in mail.outbox if "Correction" in m.subject]
    assert [m.to for m in corrections] == [["watcher@example.org"]]
    assert "Breached" not in " ".join(m.subject for m in mail.outbox)  # told once, corrected once


def test_a_report_linked_by_hand_re_evaluates_its_commitment_whatever_its_category(deal):
    statement = deal.report("statement", datetime(2020, 3, 6, 8, tzinfo=UTC), admin1="", commitment=deal.talks)
    run = run_sweep(now=NOW, trigger=am.REPORTS, changes=triggers.describe([statement.id]))
    assert run.commitments_evaluated == 2  # the deadline, and the ceiling counted from it
    assert deal.talks.status_changes.latest("id").new_status == "met"


def test_messages_queued_before_descriptions_existed_are_still_understood(deal):
    attack = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC))
    with time_machine.travel(NOW, tick=False):
        tasks.reevaluate_reports([attack.id])
    assert deal.kabul.status_changes.latest("id").new_status == "breached"


def test_the_number_of_queries_of_an_agreements_sweep_does_not_grow_with_its_commitments(deal):
    def queries_for_a_report_about(province, commitments):
        agreement = AgreementFactory(slug=f"deal-{province}", title=f"Deal in {province}")
        for i in range(commitments):
            CommitmentFactory(agreement=agreement, key=f"attacks-{i}", kind="prohibition", due_offset=None,
                              rule={"categories": ["Attack"], "admin1": [province]}, owed_by=[deal.taliban])
        run_sweep(now=BEFORE)
        attack = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC), admin1=province)
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            run = run_sweep(now=NOW, trigger=am.REPORTS, changes=triggers.describe([attack.id]),
                            agreements=[agreement.id])
            transaction.set_rollback(True)
        assert (run.commitments_evaluated, run.transitions) == (commitments, commitments)
        return len(queries.captured_queries)

    assert queries_for_a_report_about("Herat", 3) == queries_for_a_report_about("Balkh", 40)


def test_a_re_evaluation_triggered_by_a_report_no_commitment_counts_reads_no_report(deal):
    deal.report("Attack", datetime(2020, 3, 5, 8, tzinfo=UTC))  # one that counts, already in the database
    run_sweep(now=NOW)  # judged with it: nothing is due when the protest comes
    protest = deal.report("Peaceful protest", datetime(2020, 3, 6, 8, tzinfo=UTC))  # no rule names protests
    with CaptureQueriesContext(connection) as queries:
        run = run_sweep(now=NOW, trigger=am.REPORTS, changes=triggers.describe([protest.id]))

    assert (run.commitments_evaluated, run.transitions) == (0, 0)
    # Only the changed report itself is read (as it is, and its history, with whether it was edited or
    # re-verified), to learn what it touches; no report is read to judge, as though a commitment taking
    # any category were in scope.
    reading_reports = [q["sql"] for q in queries.captured_queries
                       if re.search(r'FROM "evidence_(report|verificationchange)"', q["sql"])]
    assert len(reading_reports) == 2 and all("GROUP BY" in sql for sql in reading_reports)


def test_a_huge_change_queues_a_small_message(monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.reevaluate_reports, "delay", lambda changes: sent.append(changes))
    imported = range(1, 1_000_001)
    scattered = range(5, 2_000_000, 7)  # an import that updated every seventh row
    with django_capture_on_commit_callbacks(execute=True):
        triggers.reports_changed(imported)
        triggers.reports_changed(scattered)

    assert [len(json.dumps(message)) < 5_000 for message in sent] == [True, True]
    assert sent[0]["ranges"] == [[1, 1_000_000]]
    ranges = sent[1]["ranges"]
    assert len(ranges) <= triggers.MAX_RANGES
    assert all(any(first <= i <= last for first, last in ranges) for i in scattered[::997])


def test_a_described_import_re_evaluates_what_its_rows_affect(deal):
    first = deal.report("Attack", datetime(2020, 3, 6, 8, tzinfo=UTC))
    others = [deal.report("Attack", datetime(2020, 3, 6, 9 + i, tzinfo=UTC), admin1="Herat") for i in range(3)]
    description = {"ranges": [[first.id, others[-1].id]], "count": 4}
    run = run_sweep(now=NOW, trigger=am.REPORTS, changes=description)
    assert run.commitments_evaluated == 1
    assert Report.objects.filter(id__range=(first.id, others[-1].id)).count() == 4


def test_an_imports_ids_in_any_order_are_all_covered_by_the_ranges_sent():
    # An import hands over its written ids as a compact array: new rows ascending batch by batch,
    # updated rows in file order. Every one must fall in a range, in at most MAX_RANGES ranges.
    rng = random.Random(7)
    written = array("q", range(500_000, 600_000))
    written.extend(rng.randrange(1, 500_000) for _ in range(20_000))
    written.extend(range(600_000, 650_000))
    message = triggers.describe(written)
    ranges = message["ranges"]
    assert message["count"] == len(written)
    assert len(ranges) <= triggers.MAX_RANGES
    assert ranges == sorted(ranges) and all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))
    assert all(any(first <= i <= last for first, last in ranges) for i in written)


def test_a_few_ids_travel_as_they_are_once_each():
    assert triggers.describe([9, 3, 3, 5]) == {"ids": [3, 5, 9]}
