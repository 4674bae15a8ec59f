"""Prohibitions ("no attacks on provincial capitals"), and whose acts count.

Signed 29 February 2020 in Kabul; the prohibition applies from Kabul midnight
starting 29 February (2020-02-28 19:30 UTC). The owing party is the Taliban,
whom sources also call the Islamic Emirate of Afghanistan.
"""

from datetime import date

import pytest

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate
from tests.engine_factories import (
    ACLED,
    GOVERNMENT,
    LOCAL_PRESS,
    PARTY_STATEMENT,
    TALIBAN,
    at,
    midnight,
    party,
    report,
    term,
    utc,
)

OPENS_AT = utc(2020, 2, 28, 19, 30)


def prohibition(window=None, owing=(TALIBAN,), **rule):
    return term("prohibition", rule=rule, window=window or {}, owing=owing)


# --- holding, breached, recovered ------------------------------------------------------------------


def test_with_no_report_it_is_in_compliance_since_it_applies():
    v = evaluate(prohibition(), [], as_of=at(2020, 3, 20))

    assert v.status == S.IN_COMPLIANCE
    assert v.since == OPENS_AT
    assert v.evidence == ()
    assert v.reason.code == "prohibition.ok"
    assert v.reason.params == {"opens": "2020-02-29"}
    assert v.sentence == "No credible report of a violation since 29 February 2020."


def test_a_credible_report_of_a_violation_is_a_breach_since_it_happened():
    attack = report(at(2020, 3, 5, 14, 20), id=401)

    v = evaluate(prohibition(), [attack], as_of=at(2020, 3, 20))

    assert v.status == S.BREACHED
    assert v.since == at(2020, 3, 5, 14, 20)
    assert v.evidence == (401,)
    assert v.reason.code == "prohibition.breached"
    assert v.reason.params == {"date": "2020-03-05", "count": 1, "source": "UNAMA", "grade": "B2", "report": 401}
    assert v.sentence == "Breached on 5 March 2020 per UNAMA (B2); violations reported: 1."


def test_without_recovery_days_a_breach_lasts():
    attack = report(date(2020, 3, 5))

    v = evaluate(prohibition(), [attack], as_of=at(2021, 3, 5))

    assert v.status == S.BREACHED
    assert v.since == midnight(date(2020, 3, 5))


def test_with_recovery_days_the_breach_ends_after_that_many_days_without_a_violation():
    attack = report(at(2020, 3, 5, 14), id=402)
    t = prohibition(recovery_days=3)

    still = evaluate(t, [attack], as_of=at(2020, 3, 8, 23, 59))  # 6, 7 and most of 8 March clean
    over = evaluate(t, [attack], as_of=at(2020, 3, 9))

    assert still.status == S.BREACHED
    assert still.since == at(2020, 3, 5, 14)
    assert over.status == S.IN_COMPLIANCE
    assert over.since == midnight(date(2020, 3, 9))
    assert over.evidence == ()
    assert over.reason.code == "prohibition.recovered"
    assert over.reason.params == {"last": "2020-03-05", "days": 3}
    assert over.sentence == "No credible violation reported in the 3 days since 5 March 2020."


def test_a_violation_before_recovery_extends_the_breach():
    first = report(date(2020, 3, 5), id=403)
    second = report(date(2020, 3, 7), id=404)

    v = evaluate(prohibition(recovery_days=3), [second, first], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED
    assert v.since == midnight(date(2020, 3, 5))
    assert v.evidence == (403, 404)
    assert v.reason.params["count"] == 2
    assert v.reason.params["date"] == "2020-03-05"


def test_a_violation_after_recovery_is_a_new_breach():
    first = report(date(2020, 3, 5), id=405)
    second = report(date(2020, 3, 15), id=406)

    v = evaluate(prohibition(recovery_days=3), [first, second], as_of=at(2020, 3, 16))

    assert v.status == S.BREACHED
    assert v.since == midnight(date(2020, 3, 15))
    assert v.evidence == (406,)
    assert v.reason.params["count"] == 1
    assert v.details["violations"] == [405, 406]


def test_a_violation_on_the_last_day_of_the_recovery_period_extends_the_breach():
    # Violation on 5 March, three days to recover: 6, 7 and 8 March must be clean; 8 March is not.
    first = report(at(2020, 3, 5, 14), id=409)
    last_day = report(at(2020, 3, 8, 23, 0), id=410)

    v = evaluate(prohibition(recovery_days=3), [first, last_day], as_of=at(2020, 3, 9, 12))

    assert (v.status, v.since, v.evidence) == (S.BREACHED, at(2020, 3, 5, 14), (409, 410))
    over = evaluate(prohibition(recovery_days=3), [first, last_day], as_of=at(2020, 3, 12))
    assert (over.status, over.since) == (S.IN_COMPLIANCE, midnight(date(2020, 3, 12)))


def test_a_violation_on_the_day_after_the_recovery_period_is_a_new_episode_from_its_own_instant():
    # 6, 7 and 8 March were clean: the breach was over at midnight starting 9 March; a violation in its
    # first minute begins a new episode, which the sweep records and alerts as a new breach.
    first = report(at(2020, 3, 5, 14), id=411)
    next_day = report(at(2020, 3, 9, 0, 1), id=412)

    v = evaluate(prohibition(recovery_days=3), [first, next_day], as_of=at(2020, 3, 9, 12))

    assert (v.status, v.since, v.evidence) == (S.BREACHED, at(2020, 3, 9, 0, 1), (412,))
    assert v.reason.params["date"] == "2020-03-09"


def test_two_reports_of_one_violation_count_as_one_violation():
    unama = report(date(2020, 3, 5), id=407, event_id=3)
    acled = report(date(2020, 3, 5), id=408, event_id=3, source=ACLED, credibility=1)

    v = evaluate(prohibition(), [unama, acled], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED
    assert v.evidence == (407, 408)  # both relied on
    assert v.reason.params["count"] == 1  # one violation
    assert v.sentence == "Breached on 5 March 2020 per UNAMA (B2); violations reported: 1."


def test_violations_before_it_applies_or_after_it_ends_do_not_count():
    # Applies from 5 March (day 5) to the end of 15 March (day 15).
    t = prohibition(window={"starts": 5, "ends": 15})
    before = report(date(2020, 3, 4))
    after = report(date(2020, 3, 16))

    v = evaluate(t, [before, after], as_of=at(2020, 3, 20))

    assert v.status == S.IN_COMPLIANCE
    assert v.reason.params == {"opens": "2020-03-05"}
    assert v.closes_at == midnight(date(2020, 3, 16))


def test_before_it_applies_it_is_not_yet_due():
    v = evaluate(prohibition(window={"starts": 5}), [report(date(2020, 3, 1))], as_of=at(2020, 3, 3))

    assert v.status == S.NOT_YET_DUE
    assert v.since is None
    assert v.days_left == 2
    assert v.reason.code == "window.not_open"


def test_a_violation_reported_only_by_a_weak_source_decides_nothing_and_leaves_it_unconfirmed():
    claim = report(date(2020, 3, 5), id=88, source=LOCAL_PRESS, credibility=4)

    v = evaluate(prohibition(), [claim], as_of=at(2020, 3, 10))

    assert v.status == S.UNCONFIRMED  # not breached (the claim decides nothing), not a clean record either
    assert v.reason.params["without"] == S.IN_COMPLIANCE
    assert v.since == claim.occurred_at
    assert v.evidence == (88,)


def test_a_disputed_report_of_the_only_violation_makes_it_disputed():
    claim = report(date(2020, 3, 5), id=409, verification=((at(2020, 3, 6), "disputed"),))

    v = evaluate(prohibition(), [claim], as_of=at(2020, 3, 10))

    assert v.status == S.DISPUTED
    assert v.reason.params == {
        "without": S.IN_COMPLIANCE, "with": S.BREACHED, "disputed": 1, "with_reports": [409], "without_reports": [],
    }
    assert v.evidence == (409,)
    assert v.since == midnight(date(2020, 3, 5))


def test_a_disputed_report_beside_a_credible_violation_changes_nothing():
    credible = report(date(2020, 3, 4), id=410)
    claim = report(date(2020, 3, 5), verification=((at(2020, 3, 6), "disputed"),))

    v = evaluate(prohibition(), [credible, claim], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED
    assert v.evidence == (410,)
    assert v.since == midnight(date(2020, 3, 4))


def test_a_rejected_report_never_counts():
    claim = report(date(2020, 3, 5), source=ACLED, credibility=1, verification=((at(2020, 3, 6), "rejected"),))

    v = evaluate(prohibition(), [claim], as_of=at(2020, 3, 10))

    assert v.status == S.IN_COMPLIANCE


# --- attribution ----------------------------------------------------------------------------------------

UNIDENTIFIED = "Unidentified Armed Group (Afghanistan)"
OTHER_GROUP = "Islamic State (Khorasan Province)"


@pytest.mark.parametrize(
    "actor, attribution, counts",
    [
        ("Taliban", "owing", True),
        (UNIDENTIFIED, "owing", False),
        ("", "owing", False),
        (OTHER_GROUP, "owing", False),
        ("Government of Afghanistan", "owing", False),
        (UNIDENTIFIED, "owing_or_unidentified", True),
        ("", "owing_or_unidentified", True),
        (OTHER_GROUP, "owing_or_unidentified", False),
        (UNIDENTIFIED, "any", True),
        (OTHER_GROUP, "any", True),
        ("", "any", True),
    ],
)
def test_whose_acts_count_against_the_owing_party(actor, attribution, counts):
    attack = report(date(2020, 3, 5), actor1=actor)

    v = evaluate(prohibition(attribution=attribution), [attack], as_of=at(2020, 3, 10))

    assert v.status == (S.BREACHED if counts else S.IN_COMPLIANCE)


@pytest.mark.parametrize(
    "actor",
    ["TALIBAN", "  taliban ", "Islamic Emirate of Afghanistan", "islamic  EMIRATE of   afghanistan", "Taliban."],
)
def test_party_names_and_aliases_match_whatever_their_case_and_spacing(actor):
    attack = report(date(2020, 3, 5), actor1=actor)

    v = evaluate(prohibition(), [attack], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED


def test_an_alias_of_another_party_does_not_count():
    attack = report(date(2020, 3, 5), actor1="Afghan National Security Forces")

    assert evaluate(prohibition(), [attack], as_of=at(2020, 3, 10)).status == S.IN_COMPLIANCE
    assert evaluate(prohibition(owing=(GOVERNMENT,)), [attack], as_of=at(2020, 3, 10)).status == S.BREACHED


def test_an_act_of_either_owing_party_counts_for_a_joint_commitment():
    attack = report(date(2020, 3, 5), actor1="Afghan National Security Forces")

    v = evaluate(prohibition(owing=(TALIBAN, GOVERNMENT)), [attack], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED


def test_an_accented_alias_matches_its_plain_spelling():
    hezb = party("Hezb-e-Islami Gulbuddin", "Ḥezb-e Eslāmī", id=5)
    attack = report(date(2020, 3, 5), actor1="HEZB E ESLAMI")

    assert evaluate(prohibition(owing=(hezb,)), [attack], as_of=at(2020, 3, 10)).status == S.BREACHED


def test_the_rules_categories_decide_which_reports_count():
    t = prohibition(categories=["Attack on provincial capital"])
    other = report(date(2020, 3, 5), category="Checkpoint harassment")
    matching = report(date(2020, 3, 6), category="attack on  provincial capital")
    by_sub_category = report(date(2020, 3, 7), category="Battles", sub_category="Attack on provincial capital")

    assert evaluate(t, [other], as_of=at(2020, 3, 10)).status == S.IN_COMPLIANCE
    assert evaluate(t, [matching], as_of=at(2020, 3, 10)).status == S.BREACHED
    assert evaluate(t, [by_sub_category], as_of=at(2020, 3, 10)).status == S.BREACHED


def test_the_rules_places_decide_which_reports_count():
    t = prohibition(admin1=["Kunduz"], locations=["Lashkar Gah"])

    assert evaluate(t, [report(date(2020, 3, 5), admin1="Herat")], as_of=at(2020, 3, 10)).status == S.IN_COMPLIANCE
    assert evaluate(t, [report(date(2020, 3, 5), admin1="KUNDUZ")], as_of=at(2020, 3, 10)).status == S.BREACHED
    assert (
        evaluate(t, [report(date(2020, 3, 5), admin1="Helmand", location="lashkar gah")], as_of=at(2020, 3, 10)).status
        == S.BREACHED
    )


def test_a_report_linked_by_hand_counts_whatever_its_category():
    t = prohibition(categories=["Attack on provincial capital"])
    linked = report(date(2020, 3, 5), id=420, category="Other", commitment_id=t.id)

    v = evaluate(t, [linked], as_of=at(2020, 3, 10))

    assert v.status == S.BREACHED
    assert v.evidence == (420,)


def test_a_report_linked_by_hand_to_another_commitment_is_not_evidence_for_a_rule_naming_no_category():
    linked_elsewhere = report(date(2020, 3, 5), commitment_id=99)

    v = evaluate(prohibition(), [linked_elsewhere], as_of=at(2020, 3, 10))

    assert v.status == S.IN_COMPLIANCE


def test_a_party_statement_admitting_the_act_counts_only_once_verified():
    admission = report(date(2020, 3, 5), source=PARTY_STATEMENT, credibility=6)
    verified = report(
        date(2020, 3, 5), source=PARTY_STATEMENT, credibility=6, verification=((at(2020, 3, 7), "verified"),)
    )

    assert evaluate(prohibition(), [admission], as_of=at(2020, 3, 10)).status == S.UNCONFIRMED
    assert evaluate(prohibition(), [verified], as_of=at(2020, 3, 10)).status == S.BREACHED
