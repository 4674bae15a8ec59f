"""Weighing evidence the same way for every kind: denials, claims awaiting confirmation, what was set aside.

Signed 29 February 2020 in Kabul. A deadline due 10 days after (by the end of 10 March); a prohibition
and a ceiling (limit 2 a day) in force from the signing. docs/architecture.md, "Weighing evidence".
"""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from hypothesis import given

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate, evaluate_agreement, qualifies
from tests.engine_factories import ACLED, LOCAL_PRESS, PARTY_STATEMENT, UNAMA, at, coverage, measurement, report, term
from tests.test_agreement_file import write
from tests.test_verdict_properties import FAST, cases

ALWAYS = coverage(date(2020, 1, 1))


def deadline():
    return term("deadline", rule={"categories": ["talks"]}, window={"due": 10})


def prohibition():
    return term("prohibition", rule={"categories": ["attack"]})


def ceiling():
    return term("ceiling", rule={"categories": ["attack"], "limit": 2})


def attack(day, hour=9, **kwargs):
    return report(at(2020, 3, day, hour), category="attack", **kwargs)


def talks(day, **kwargs):
    return report(at(2020, 3, day, 12), category="talks", **kwargs)


# --- credible denials: one rule for every kind --------------------------------------------------------


def test_a_credible_denial_of_the_days_violation_disputes_a_prohibition_and_names_both_sides():
    violation = attack(5, id=1)
    # "No attack in Kabul on 5 March": a report of the whole day.
    denial = report(date(2020, 3, 5), category="attack", id=2, stance="denies", source=ACLED)

    v = evaluate(prohibition(), [violation, denial], as_of=at(2020, 3, 10))

    assert v.status == S.DISPUTED
    assert v.reason.code == "disputed.denied"
    assert (v.reason.params["with_reports"], v.reason.params["without_reports"]) == ([1], [2])
    assert (v.reason.params["with"], v.reason.params["without"]) == (S.BREACHED, S.IN_COMPLIANCE)
    assert v.sentence == "Disputed: one credible report says it happened, another (ACLED, A2) denies it."


def test_a_denial_of_another_day_leaves_a_prohibitions_breach_standing():
    violation = attack(5, id=1)
    denial = report(date(2020, 3, 6), category="attack", id=2, stance="denies", source=ACLED)

    v = evaluate(prohibition(), [violation, denial], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED


def test_a_denial_grouped_with_one_of_a_ceilings_events_disputes_the_breach_it_made():
    events = [attack(3, 8, id=1), attack(3, 9, id=2), attack(3, 10, id=3, event_id=7)]
    denial = attack(4, id=4, stance="denies", source=ACLED, event_id=7)  # "the third attack never happened"

    v = evaluate(ceiling(), [*events, denial], as_of=at(2020, 3, 6), coverage=[ALWAYS])

    assert v.status == S.DISPUTED
    assert v.reason.params["with_reports"] == [3]
    assert 4 in v.reason.params["without_reports"]


def test_a_denial_of_one_event_does_not_dispute_a_breach_the_others_make_on_their_own():
    events = [attack(3, h, id=h) for h in (8, 9, 10, 11)]
    denial = attack(4, id=20, stance="denies", source=ACLED, event_id=5)
    events[0] = attack(3, 8, id=8, event_id=5)

    v = evaluate(ceiling(), [*events, denial], as_of=at(2020, 3, 6), coverage=[ALWAYS])

    assert v.status == S.BREACHED  # three undenied attacks are still over the limit of two


def test_a_target_figure_is_disputed_only_by_a_denial_grouped_with_it():
    target = term("target", rule={"target": 10, "unit": "checkpoints"}, window={"due": 30})
    figure = measurement(date(2020, 3, 20), 8.0, id=1, event_id=3)
    elsewhere = measurement(date(2020, 3, 21), None, id=2, stance="denies")
    grouped = measurement(date(2020, 3, 21), None, id=3, stance="denies", event_id=3)

    assert evaluate(target, [figure, elsewhere], as_of=at(2020, 4, 5)).status == S.MET
    assert evaluate(target, [figure, grouped], as_of=at(2020, 4, 5)).status == S.DISPUTED


def test_a_deadlines_denial_contests_every_act_before_it_and_none_after():
    before = talks(5, id=1)
    denial = talks(7, id=2, stance="denies", source=ACLED)
    after = talks(9, id=3)

    v = evaluate(deadline(), [before, denial, after], as_of=at(2020, 3, 20))

    # Met either way (on 5 March if the first report holds, on 9 March if the denial does): not disputed.
    assert v.status == S.MET
    assert v.evidence == (3,)


# --- claims awaiting confirmation ------------------------------------------------------------------------


def test_a_deadline_claimed_only_by_a_party_is_unconfirmed_then_met_once_verified():
    claim = talks(8, id=5, source=PARTY_STATEMENT, credibility=6)
    verified = talks(8, id=5, source=PARTY_STATEMENT, credibility=6, verification=((at(2020, 3, 15), "verified"),))

    before = evaluate(deadline(), [claim], as_of=at(2020, 3, 20))
    after = evaluate(deadline(), [verified], as_of=at(2020, 3, 20))

    assert before.status == S.UNCONFIRMED
    assert before.sentence == (
        "Unconfirmed: claimed by Taliban spokesman on 8 March 2020 (F6), not confirmed by a credible report; "
        "missed on credible reports alone."
    )
    assert before.reason.params["claim_reports"] == [5]
    assert after.status == S.MET


def test_a_rejected_claim_leaves_the_deadline_missed():
    claim = talks(8, source=PARTY_STATEMENT, credibility=6, verification=((at(2020, 3, 15), "rejected"),))

    assert evaluate(deadline(), [claim], as_of=at(2020, 3, 20)).status == S.MISSED


def test_a_claim_a_credible_denial_contradicts_leaves_the_deadline_missed():
    claim = talks(9, source=PARTY_STATEMENT, credibility=4)
    denial = talks(10, stance="denies", source=UNAMA)

    assert evaluate(deadline(), [claim, denial], as_of=at(2020, 3, 20)).status == S.MISSED



def test_a_credible_denial_grouped_with_another_event_still_contradicts_every_claim_before_it():
    # A one-off act's denial says it had not happened by then, whichever event it is grouped with.
    claim = talks(9, source=PARTY_STATEMENT, credibility=4)
    denial = talks(10, stance="denies", source=UNAMA, event_id=7)

    assert evaluate(deadline(), [claim, denial], as_of=at(2020, 3, 20)).status == S.MISSED

def test_a_prohibition_with_only_a_weak_report_of_a_violation_is_unconfirmed_until_a_credible_one_comes():
    weak = attack(5, id=1, source=LOCAL_PRESS, credibility=4)
    credible = attack(6, id=2)

    assert evaluate(prohibition(), [weak], as_of=at(2020, 3, 10)).status == S.UNCONFIRMED
    assert evaluate(prohibition(), [weak, credible], as_of=at(2020, 3, 10)).status == S.BREACHED


def test_a_ceiling_is_never_unconfirmed_its_weak_reports_are_set_aside_for_their_grade():
    events = [attack(3, 8, id=1), attack(3, 9, id=2), attack(3, 10, id=3, source=LOCAL_PRESS, credibility=4)]

    v = evaluate(ceiling(), events, as_of=at(2020, 3, 6), coverage=[ALWAYS])

    assert v.status == S.IN_COMPLIANCE
    assert v.details["set_aside"] == {"counts": {"grade": 1}, "reports": [(3, "grade")]}
    assert v.details["weighed"] == {"counting": 2, "disputed": 0}


# --- what was set aside ----------------------------------------------------------------------------------


def test_every_report_that_speaks_to_a_prohibition_is_weighed_or_set_aside_with_its_reason():
    t = term("prohibition", rule={"categories": ["attack"]}, window={"starts": 5, "ends": 10})  # 5 to 10 March
    reports = [
        attack(2, id=1),  # before the window
        attack(6, id=2),  # counts
        attack(7, id=3, source=LOCAL_PRESS, credibility=5),  # too weak
        attack(8, id=4, verification=((at(2020, 3, 9), "rejected"),)),
        attack(12, id=5),  # after the window closed
        attack(9, id=6, recorded_at=at(2020, 3, 30)),  # not known yet: not part of this view
        report(at(2020, 3, 6, 9), category="talks", id=7),  # another category: does not speak to it
    ]

    v = evaluate(t, reports, as_of=at(2020, 3, 20))

    assert v.details["weighed"] == {"counting": 1, "disputed": 0}
    assert v.details["set_aside"] == {
        "counts": {"outside_window": 2, "grade": 1, "rejected": 1},
        "reports": [(1, "outside_window"), (3, "grade"), (4, "rejected"), (5, "outside_window")],
    }


@FAST
@given(cases())
def test_each_report_known_that_speaks_to_a_commitment_is_weighed_or_set_aside_exactly_once(case):
    t, evidence, periods, as_of, known_at = case
    speaking = {e.id for e in evidence if qualifies(t, e) and e.recorded_at <= known_at}

    verdicts = [
        evaluate(t, evidence, as_of=as_of, known_at=known_at, coverage=periods),
        evaluate_agreement([t], evidence, as_of=as_of, known_at=known_at, coverage=periods)[t.id],
    ]

    for v in verdicts:
        if not v.details.get("set_aside"):
            continue  # not judged at all (not tracked, awaiting signature)
        listed = [i for i, _reason in v.details["set_aside"]["reports"]]
        weighed = v.details["weighed"]
        assert len(listed) == len(set(listed))
        assert set(listed) <= speaking
        assert weighed["counting"] + weighed["disputed"] + len(listed) == len(speaking)
    assert verdicts[0] == verdicts[1]


# --- end to end ---------------------------------------------------------------------------------------------

ACCORD = """\
format: 1
agreement:
  slug: claim-accord
  title: Claim accord
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
parties:
  - slug: north
    name: Northern Front
commitments:
  - key: release
    title: Prisoners released
    owed_by: [north]
    basis: {kind: official_text}
    kind: deadline
    rule: {categories: [prisoners_released]}
    window: {from: signing, due: 10}
"""


def compliance(*args):
    out = StringIO()
    call_command("compliance", "--json", "--as-of", "2020-03-20", *args, stdout=out)
    [agreement] = json.loads(out.getvalue())["agreements"]
    [c] = agreement["commitments"]
    return c["computed"]


@pytest.mark.django_db
def test_a_partys_own_claim_loaded_end_to_end_is_unconfirmed_then_met_when_an_analyst_verifies_it(tmp_path):
    from monitor.evidence.models import VERIFIED
    from tests.factories import ReportFactory, SourceFactory, UserFactory

    call_command("load_agreement", str(write(tmp_path, ACCORD)), stdout=StringIO())
    spokesman = SourceFactory(name="Northern Front press office", reliability="F")
    claim = ReportFactory(source=spokesman, credibility=6, category="prisoners_released", actor1="Northern Front",
                          occurred_at=at(2020, 3, 8, 12), recorded_at=at(2020, 3, 8, 13))
    for day in range(1, 5):  # earlier claims of the same release, just as weak
        ReportFactory(source=spokesman, credibility=5, category="prisoners_released", actor1="Northern Front",
                      occurred_at=at(2020, 3, day, 12), recorded_at=at(2020, 3, day, 13))

    computed = compliance()

    assert computed["status"] == "unconfirmed"
    assert computed["sentence"].startswith("Unconfirmed: claimed by Northern Front press office on 1 March 2020")
    assert computed["set_aside"]["counts"] == {"grade": 5}
    assert computed["set_aside"]["total"] == 5
    assert computed["weighed"] == {"counting": 0, "disputed": 0}

    claim.set_verification(VERIFIED, by=UserFactory(), at=at(2020, 3, 15, 12), reason="Confirmed by the ICRC.")
    computed = compliance()

    assert computed["status"] == "met"
    assert computed["evidence"] == [claim.id]


@pytest.mark.django_db
def test_the_set_aside_list_comes_a_hundred_reports_a_page(tmp_path):
    from tests.factories import ReportFactory, SourceFactory

    call_command("load_agreement", str(write(tmp_path, ACCORD)), stdout=StringIO())
    rumour_mill = SourceFactory(name="Rumours", reliability="E")
    for i in range(130):
        ReportFactory(source=rumour_mill, credibility=5, category="prisoners_released", actor1="Northern Front",
                      occurred_at=at(2020, 3, 1, 0) + (at(2020, 3, 2, 0) - at(2020, 3, 1, 0)) * i / 200,
                      recorded_at=at(2020, 3, 3, 12))

    first, second = compliance()["set_aside"], compliance("--set-aside-page", "2")["set_aside"]

    assert (first["total"], first["pages"], len(first["reports"])) == (130, 2, 100)
    assert (second["page"], len(second["reports"])) == (2, 30)
    assert {r["id"] for r in first["reports"]}.isdisjoint({r["id"] for r in second["reports"]})


# --- periods that straddle a window's edge --------------------------------------------------------------


def test_conduct_over_a_period_that_runs_into_a_bans_window_breaches_it_from_its_opening():
    ban = term("prohibition", rule={"categories": ["ties"]}, window={"starts": 1})  # from 1 March
    ties = report(
        at(2020, 2, 1, 0), id=9, category="ties", occurred_until=at(2020, 5, 27, 0), recorded_at=at(2020, 6, 1, 0)
    )

    v = evaluate(ban, [ties], as_of=at(2020, 6, 10))

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 1, 0)  # the window's opening, not 1 February
    assert v.reason.code == "prohibition.breached_from_period"
    assert "the report covers a period that began on 1 February 2020, before the ban applied" in v.sentence
    assert v.details["weighed"]["counting"] == 1


def test_an_act_dated_to_a_week_straddling_a_deadlines_opening_is_set_aside_saying_so():
    late_start = term("deadline", rule={"categories": ["talks"]}, window={"starts": 3, "due": 10})  # from 3 March
    week = report(date(2020, 2, 28), id=4, category="talks", precision="week")

    v = evaluate(late_start, [week], as_of=at(2020, 3, 20))

    assert v.status == S.MISSED  # it may have happened before the window opened
    assert v.details["set_aside"] == {"counts": {"straddles_window": 1}, "reports": [(4, "straddles_window")]}


BAN = """\
format: 1
agreement:
  slug: ban-accord
  title: Ban accord
  signed_on: 2020-02-29
  time_zone: Asia/Kabul
parties:
  - slug: north
    name: Northern Front
commitments:
  - key: no-shelling
    title: No shelling of towns from 1 March
    owed_by: [north]
    basis: {kind: official_text}
    kind: prohibition
    rule: {categories: [shelling]}
    window: {from: signing, starts: 1}
"""


@pytest.mark.django_db
def test_a_ban_loaded_end_to_end_is_breached_by_a_period_reaching_into_it_then_disputed_by_a_denial(tmp_path):
    from tests.factories import ReportFactory, SourceFactory

    call_command("load_agreement", str(write(tmp_path, BAN)), stdout=StringIO())
    mission = SourceFactory(name="Mission", reliability="A")
    period = ReportFactory(
        source=mission, credibility=2, category="shelling", actor1="Northern Front",
        occurred_at=at(2020, 2, 1, 0), occurred_until=at(2020, 3, 5, 0), recorded_at=at(2020, 3, 6, 0),
    )
    out = StringIO()
    call_command("compliance", "--json", "--agreement", "ban-accord", "--as-of", "2020-03-10", stdout=out)
    [c] = json.loads(out.getvalue())["agreements"][0]["commitments"]

    assert c["computed"]["status"] == "breached"
    assert c["computed"]["reason"]["code"] == "prohibition.breached_from_period"
    assert c["computed"]["since"] == at(2020, 3, 1, 0).isoformat()  # from the ban's first day, not 1 February
    assert c["computed"]["evidence"] == [period.id]

    # A credible report that no shelling happened over those days contests the period: disputed, both sides named.
    denial = ReportFactory(
        source=mission, credibility=1, category="shelling", actor1="Northern Front", stance="denies",
        occurred_at=at(2020, 3, 1, 0), occurred_until=at(2020, 3, 6, 0), recorded_at=at(2020, 3, 7, 0),
    )
    out = StringIO()
    call_command("compliance", "--json", "--agreement", "ban-accord", "--as-of", "2020-03-10", stdout=out)
    [c] = json.loads(out.getvalue())["agreements"][0]["commitments"]

    assert c["computed"]["status"] == "disputed"
    params = c["computed"]["reason"]["params"]
    assert (params["with_reports"], params["without_reports"]) == ([period.id], [denial.id])
