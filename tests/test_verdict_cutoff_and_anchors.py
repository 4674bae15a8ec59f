"""What was known when, what a commitment is counted from, and month arithmetic.

`evaluate(term, evidence, as_of=T)` is "the status at T as known at T";
`known_at=K` is "the status at T as known at K". A report does not exist before
it was recorded, and its verification state is the one it had at K.

The default agreement is signed on 29 February 2020 in Asia/Kabul; a 10-day
deadline is due by the end of 10 March 2020 (2020-03-10 19:30 UTC).
"""

from dataclasses import replace
from datetime import date

import pytest

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import evaluate, evaluate_agreement
from tests.engine_factories import LOCAL_PRESS, at, coverage, midnight, report, term, utc

DUE_AT = utc(2020, 3, 10, 19, 30)


# --- the knowledge cutoff ----------------------------------------------------------------------


def test_a_report_recorded_after_the_cutoff_does_not_exist_yet():
    act = report(date(2020, 3, 8), id=501, recorded_at=at(2020, 3, 15, 10))

    then = evaluate(term(), [act], as_of=at(2020, 3, 12))
    later = evaluate(term(), [act], as_of=at(2020, 3, 12), known_at=at(2020, 3, 15, 10))

    assert then.status == S.MISSED
    assert then.since == DUE_AT
    assert then.known_at == at(2020, 3, 12)
    assert later.status == S.MET
    assert later.since == midnight(date(2020, 3, 8))
    assert later.evidence == (501,)
    assert later.as_of == at(2020, 3, 12)
    assert later.known_at == at(2020, 3, 15, 10)


def test_a_report_recorded_exactly_at_the_cutoff_is_known():
    act = report(date(2020, 3, 8), recorded_at=at(2020, 3, 15))

    assert evaluate(term(), [act], as_of=at(2020, 3, 15)).status == S.MET


def test_a_rejection_made_after_the_cutoff_does_not_apply():
    act = report(date(2020, 3, 8), id=502, verification=((at(2020, 3, 20), "rejected"),))

    then = evaluate(term(), [act], as_of=at(2020, 3, 12))
    now_about_then = evaluate(term(), [act], as_of=at(2020, 3, 12), known_at=at(2020, 3, 25))
    now = evaluate(term(), [act], as_of=at(2020, 3, 25))

    assert then.status == S.MET
    assert then.evidence == (502,)
    assert now_about_then.status == S.MISSED
    assert now_about_then.since == DUE_AT
    assert now.status == S.MISSED


def test_a_weak_claim_verified_after_the_cutoff_counts_only_from_then():
    act = report(date(2020, 3, 8), source=LOCAL_PRESS, credibility=3, verification=((at(2020, 3, 18), "verified"),))

    # Until it is verified the claim decides nothing: the deadline is unconfirmed, not met.
    assert evaluate(term(), [act], as_of=at(2020, 3, 12)).status == S.UNCONFIRMED
    assert evaluate(term(), [act], as_of=at(2020, 3, 12), known_at=at(2020, 3, 17)).status == S.UNCONFIRMED
    assert evaluate(term(), [act], as_of=at(2020, 3, 12), known_at=at(2020, 3, 18)).status == S.MET


def test_a_dispute_raised_after_the_cutoff_does_not_apply():
    act = report(date(2020, 3, 8), verification=((at(2020, 3, 20), "disputed"),))

    then = evaluate(term(), [act], as_of=at(2020, 3, 12))
    now_about_then = evaluate(term(), [act], as_of=at(2020, 3, 12), known_at=at(2020, 3, 25))

    assert then.status == S.MET
    assert now_about_then.status == S.DISPUTED
    assert now_about_then.reason.params == {
        "without": S.MISSED, "with": S.MET, "disputed": 1, "with_reports": [act.id], "without_reports": [],
    }


def test_as_of_1_march_knowing_what_we_know_now_differs_from_as_known_then():
    act = report(at(2020, 3, 1, 9), id=503, recorded_at=at(2020, 3, 3, 16))
    as_of = at(2020, 3, 1, 18)

    as_known_then = evaluate(term(), [act], as_of=as_of)
    knowing_now = evaluate(term(), [act], as_of=as_of, known_at=at(2020, 4, 1))

    assert as_known_then.status == S.NOT_YET_DUE
    assert as_known_then.days_left == 9
    assert knowing_now.status == S.MET
    assert knowing_now.since == at(2020, 3, 1, 9)
    assert knowing_now.evidence == (503,)
    assert knowing_now.reason.params["days_early"] == 9


def test_what_happened_after_as_of_does_not_count_even_when_known():
    act = report(date(2020, 3, 14), recorded_at=at(2020, 3, 14))

    v = evaluate(term(), [act], as_of=at(2020, 3, 12), known_at=at(2020, 4, 1))

    assert v.status == S.MISSED
    assert v.since == DUE_AT


def test_a_coverage_period_recorded_after_the_cutoff_does_not_count():
    t = term("ceiling", rule={"limit": 2})
    declared_later = coverage(date(2020, 1, 1), recorded_at=at(2020, 3, 10))

    then = evaluate(t, [], as_of=at(2020, 3, 5), coverage=[declared_later])
    later = evaluate(t, [], as_of=at(2020, 3, 5), known_at=at(2020, 3, 10), coverage=[declared_later])

    assert then.status == S.NO_DATA
    assert later.status == S.IN_COMPLIANCE


def test_a_ceiling_breach_learned_of_later_is_dated_when_it_happened():
    events = [report(at(2020, 3, 3, h), recorded_at=at(2020, 3, 9)) for h in (8, 9, 10)]
    t = term("ceiling", rule={"limit": 2})
    always = coverage(date(2020, 1, 1))

    then = evaluate(t, events, as_of=at(2020, 3, 4, 12), coverage=[always])
    now_about_then = evaluate(t, events, as_of=at(2020, 3, 4, 12), known_at=at(2020, 3, 9), coverage=[always])

    assert then.status == S.IN_COMPLIANCE
    assert now_about_then.status == S.BREACHED
    assert now_about_then.since == at(2020, 3, 3, 10)


# --- counted from another commitment -------------------------------------------------------------

FIRST = term("deadline", id=1, key="withdraw", window={"due": 10})
THEN = term("deadline", id=2, key="release", window={"anchor": "commitment", "anchor_commitment_id": 1, "due": 5})


def test_a_commitment_counted_from_another_awaits_it_until_it_is_met():
    v = evaluate_agreement([FIRST, THEN], [], as_of=at(2020, 3, 5))

    assert v[1].status == S.DUE_SOON
    assert v[2].status == S.AWAITING_ANCHOR
    assert v[2].reason.code == "awaiting.anchor"
    assert v[2].since is None
    assert v[2].opens_at is None and v[2].due_at is None
    # The sentence names the anchor and what it waits for (issue 13).
    assert v[2].reason.params == {"anchor": FIRST.title, "anchor_key": "withdraw", "moment": "met"}
    assert v[2].sentence == f"Awaiting its anchor: counted from '{FIRST.title}' being met, which has not happened yet."


def test_once_its_anchor_is_met_its_window_starts_on_that_day():
    act = report(date(2020, 3, 8), commitment_id=1)

    v = evaluate_agreement([FIRST, THEN], [act], as_of=at(2020, 3, 9, 12))

    assert v[1].status == S.MET
    assert v[2].opens_at == midnight(date(2020, 3, 8))
    assert v[2].due_at == midnight(date(2020, 3, 14))  # day 0 is 8 March, due the end of day 5
    assert v[2].status == S.DUE_SOON
    assert v[2].days_left == 4
    assert v[2].reason.params == {"due": "2020-03-13", "days_left": 4}


def test_the_anchor_day_is_the_local_day_it_was_met():
    # 01:00 on 9 March in Kabul is still 8 March (20:30) in UTC.
    act = report(at(2020, 3, 9, 1, 0), commitment_id=1)
    assert act.occurred_at.date() == date(2020, 3, 8)

    v = evaluate_agreement([FIRST, THEN], [act], as_of=at(2020, 3, 9, 12))

    assert v[2].opens_at == midnight(date(2020, 3, 9))
    assert v[2].reason.params["due"] == "2020-03-14"


def test_an_anchor_met_late_still_starts_the_window():
    act = report(date(2020, 3, 12), commitment_id=1)

    v = evaluate_agreement([FIRST, THEN], [act], as_of=at(2020, 3, 20))

    assert v[1].status == S.MET_LATE
    assert v[2].opens_at == midnight(date(2020, 3, 12))
    assert v[2].status == S.MISSED  # due the end of 17 March
    assert v[2].since == midnight(date(2020, 3, 18))


def test_an_anchor_missed_leaves_its_dependant_waiting():
    v = evaluate_agreement([FIRST, THEN], [], as_of=at(2021, 1, 1))

    assert v[1].status == S.MISSED
    assert v[2].status == S.AWAITING_ANCHOR


def test_an_anchor_met_only_by_a_report_recorded_after_the_cutoff_is_not_met_yet():
    act = report(date(2020, 3, 8), commitment_id=1, recorded_at=at(2020, 3, 15))

    then = evaluate_agreement([FIRST, THEN], [act], as_of=at(2020, 3, 9, 12))
    now_about_then = evaluate_agreement([FIRST, THEN], [act], as_of=at(2020, 3, 9, 12), known_at=at(2020, 3, 15))

    assert then[2].status == S.AWAITING_ANCHOR
    assert now_about_then[2].status == S.DUE_SOON
    assert now_about_then[2].opens_at == midnight(date(2020, 3, 8))


def test_the_order_commitments_are_listed_in_does_not_matter():
    act = report(date(2020, 3, 8), commitment_id=1)

    assert evaluate_agreement([THEN, FIRST], [act], as_of=at(2020, 3, 9)) == evaluate_agreement(
        [FIRST, THEN], [act], as_of=at(2020, 3, 9)
    )


def test_a_chain_of_anchors_resolves_in_turn():
    last = term("deadline", id=3, window={"anchor": "commitment", "anchor_commitment_id": 2, "due": 3})
    first_act = report(date(2020, 3, 8), commitment_id=1)
    then_act = report(date(2020, 3, 10), commitment_id=2)

    v = evaluate_agreement([last, THEN, FIRST], [first_act, then_act], as_of=at(2020, 3, 11))

    assert v[2].status == S.MET
    assert v[3].opens_at == midnight(date(2020, 3, 10))
    assert v[3].reason.params["due"] == "2020-03-13"


def test_commitments_counted_from_each_other_wait_forever_rather_than_loop():
    a = term("deadline", id=1, window={"anchor": "commitment", "anchor_commitment_id": 2, "due": 5})
    b = term("deadline", id=2, window={"anchor": "commitment", "anchor_commitment_id": 1, "due": 5})

    v = evaluate_agreement([a, b], [report(date(2020, 3, 8), commitment_id=1)], as_of=at(2020, 3, 9))

    assert v[1].status == S.AWAITING_ANCHOR
    assert v[2].status == S.AWAITING_ANCHOR


def test_evaluate_alone_cannot_resolve_an_anchor_and_awaits_it():
    assert evaluate(THEN, [], as_of=at(2020, 3, 9)).status == S.AWAITING_ANCHOR

    v = evaluate(THEN, [], as_of=at(2020, 3, 9), anchor_day=date(2020, 3, 8))
    assert v.opens_at == midnight(date(2020, 3, 8))
    assert v.status == S.DUE_SOON


# --- the signing --------------------------------------------------------------------------------------

KINDS = ["deadline", "target", "ceiling", "prohibition"]


@pytest.mark.parametrize("kind", KINDS)
def test_before_the_signing_every_commitment_counted_from_it_awaits_signature(kind):
    t = term(kind, signed_on=None)
    evidence = [report(date(2020, 3, d), value=1.0) for d in range(1, 10)]

    v = evaluate(t, evidence, as_of=at(2021, 1, 1))

    assert v.status == S.AWAITING_SIGNATURE
    assert v.reason.code == "awaiting.signature"
    assert v.since is None
    assert v.opens_at is None and v.due_at is None
    assert v.evidence == ()
    assert v.sentence == "Counted from the signing, which has not happened yet."


def test_before_the_signing_a_commitment_counted_from_another_awaits_its_anchor():
    first, then = replace(FIRST, signed_on=None), replace(THEN, signed_on=None)

    v = evaluate_agreement([first, then], [report(date(2020, 3, 8), commitment_id=1)], as_of=at(2020, 3, 9))

    assert v[1].status == S.AWAITING_SIGNATURE
    assert v[2].status == S.AWAITING_ANCHOR


def test_setting_the_signing_date_makes_the_deadlines_concrete():
    unsigned = term("deadline", signed_on=None)
    signed = replace(unsigned, signed_on=date(2020, 2, 29))
    as_of = at(2020, 3, 20)

    assert evaluate(unsigned, [], as_of=as_of).status == S.AWAITING_SIGNATURE
    v = evaluate(signed, [], as_of=as_of)
    assert v.status == S.MISSED
    assert v.due_at == DUE_AT
    assert v.since == DUE_AT


def test_a_negative_start_opens_the_window_before_the_signing():
    # Opens 10 days before signing (19 February); an act on 20 February counts.
    t = term("deadline", window={"starts": -10, "due": 10})
    act = report(date(2020, 2, 20), id=521)

    v = evaluate(t, [act], as_of=at(2020, 3, 20))

    assert v.opens_at == midnight(date(2020, 2, 19))
    assert v.status == S.MET
    assert v.evidence == (521,)
    assert v.reason.params["days_early"] == 19


def test_before_a_negative_start_acts_still_do_not_count():
    t = term("deadline", window={"starts": -10, "due": 10})

    v = evaluate(t, [report(date(2020, 2, 18))], as_of=at(2020, 3, 20))

    assert v.status == S.MISSED


def test_a_prohibition_opening_before_the_signing_counts_violations_from_then():
    t = term("prohibition", window={"starts": -3})

    v = evaluate(t, [report(date(2020, 2, 27))], as_of=at(2020, 3, 5))

    assert v.status == S.BREACHED
    assert v.since == midnight(date(2020, 2, 27))


# --- month arithmetic ------------------------------------------------------------------------------------


def months_deadline(due, signed_on=date(2020, 2, 29)):
    return term("deadline", window={"unit": "months", "due": due}, signed_on=signed_on)


def test_29_february_plus_14_months_is_due_by_the_end_of_29_april():
    v = evaluate(months_deadline(14), [], as_of=at(2020, 3, 1))

    assert v.due_at == midnight(date(2021, 4, 30))
    assert v.reason.params["due"] == "2021-04-29"
    assert v.sentence == "Due by the end of 29 April 2021."


def test_29_february_plus_12_months_clamps_to_28_february():
    v = evaluate(months_deadline(12), [], as_of=at(2020, 3, 1))

    assert v.due_at == midnight(date(2021, 3, 1))
    assert v.reason.params["due"] == "2021-02-28"


def test_31_january_plus_1_month_is_29_february_in_a_leap_year():
    v = evaluate(months_deadline(1, signed_on=date(2020, 1, 31)), [], as_of=at(2020, 2, 25))

    assert v.due_at == utc(2020, 2, 29, 19, 30)
    assert v.reason.params["due"] == "2020-02-29"
    assert v.status == S.DUE_SOON
    assert v.days_left == 4


def test_a_month_window_closes_at_the_end_of_its_clamped_last_day():
    t = term("prohibition", window={"unit": "months", "ends": 1}, signed_on=date(2020, 1, 31))

    inside = evaluate(t, [report(date(2020, 2, 29))], as_of=at(2020, 3, 10))
    after = evaluate(t, [report(date(2020, 3, 1))], as_of=at(2020, 3, 10))

    assert inside.closes_at == midnight(date(2020, 3, 1))
    assert inside.status == S.BREACHED
    assert after.status == S.IN_COMPLIANCE
