"""Weighing what the counting reports say against what contests them and what only claims it.

Every kind is judged by the same three steps (docs/architecture.md, "Weighing evidence"):

1. **Denials.** A counting report with stance *denies* contests the counting acts it says did
   not happen, and those acts are then weighed like disputed reports. Which acts a denial
   speaks to depends on the kind's acts (the kind module's `DENIES`):
   - `"until"`, a one-off act (a deadline's: talks begin): "it had not happened by then"
     contests every act dated at or before the denial;
   - `"period"`, repeated acts (a ceiling's events, a prohibition's violations): "it did not
     happen then" contests the acts inside the denial's own period (its day, or its
     `occurred_at`–`occurred_until`);
   - `"event"`, measurements (a target's): a figure is contested only by a denial grouped with
     it as the same event.
   A denial grouped with an act as one event contests it whatever the kind.
2. **Disputes.** The kind's judge runs on the counting reports, and again with the disputed
   and the contested ones added: if the two statuses differ, the verdict is `disputed`, and its
   reason lists the reports on each side.
3. **Claims.** When the verdict is `missed`, `in_compliance` or `no_data` and claims below the
   counting grade would change it if they counted (and no counting denial contests them), it is
   `unconfirmed` (for kinds whose module
   says `CLAIMS = True`: a one-off act, a violation, a measurement), and its reason names the
   claims. A verification or a credible report then decides it.

`account` says, for a verdict's details, what was weighed and what was set aside and why.
"""

from bisect import bisect_left, bisect_right
from dataclasses import replace

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.context import EVERY_DAY, Outcome, earliest, next_day_edge, source_params
from monitor.verdicts.engine.values import COUNTS, EXCLUDED, OCCURRED, TIME_ORDER, WEAK, Reason
from terms.rules import local_day

# Statuses that say "nothing credible shows it": claims below the grade can only make them unconfirmed.
CLAIMS_CAN_MOVE = frozenset({S.MISSED, S.OVERDUE, S.IN_COMPLIANCE, S.NO_DATA})

# Why a report that speaks to a commitment decides nothing (docs/compliance-json.md, `set_aside`). A report
# recorded after the knowledge cutoff is not among them: it does not exist in a view as known at the cutoff,
# and listing it would change a cited view each time one is recorded.
GRADE = "grade"  # a claim below the counting grade (B2), not verified
REJECTED = "rejected"
AFTER_AS_OF = "after_as_of"  # happened after the instant judged
OUTSIDE_WINDOW = "outside_window"  # happened before the window opened or after it closed
# A report of a period that began before the window and runs into it, for a kind that cannot tell whether
# the act fell inside (a deadline's act may have come before the window; a ceiling counts acts per day).
STRADDLES_WINDOW = "straddles_window"
SET_ASIDE_REASONS = (REJECTED, AFTER_AS_OF, STRADDLES_WINDOW, OUTSIDE_WINDOW, GRADE)


def contest(denies, counting, tz, span=(None, None), straddling_counts=False):
    """(counting, contested acts, the denials that contest them): acts a counting denial says did not happen.

    Only acts inside `span` (when the kind reads acts: its window) are contested; an act outside it
    decides nothing, so a denial of it contests nothing either.
    """
    opens, closes = span
    denials = [e for e in counting if e.stance == "denies"]
    if not denials:
        return counting, [], []
    contested, used = {}, {}
    by_event = {}
    for e in counting:
        if e.event_id is not None and e.stance == "affirms":
            by_event.setdefault(e.event_id, []).append(e)
    for d in denials:
        # Grouping a denial with acts adds them to what it contests; it never narrows what its kind's scope does.
        hits = list(by_event.get(d.event_id, ())) if d.event_id is not None else []
        if denies == "until":
            hits += counting[: bisect_right(counting, d.occurred_at, key=OCCURRED)]
        elif denies == "period":
            d_end = d.ends_at(tz)
            low = bisect_left(counting, d.occurred_at, key=OCCURRED)
            hits += counting[low:bisect_left(counting, d_end, low, key=OCCURRED)]
            if straddling_counts and opens is not None and d.occurred_at <= opens < d_end:
                # Conduct over a period reaching into the window counts from its opening: denied there.
                before = counting[:bisect_left(counting, opens, key=OCCURRED)]
                hits += [a for a in before if a.occurred_until is not None]
        for a in hits:
            starts_inside = opens is None or a.occurred_at >= opens or (
                straddling_counts and a.occurred_until is not None and a.ends_at(tz) > opens
            )
            inside = starts_inside and (closes is None or a.occurred_at < closes)
            if a.stance == "affirms" and inside:
                contested[a.id] = a
                used[d.id] = d
    if not contested:
        return counting, [], []
    return (
        [e for e in counting if e.id not in contested],
        sorted(contested.values(), key=TIME_ORDER),
        sorted(used.values(), key=TIME_ORDER),
    )


def judge_weighed(ctx, kind, counting, disputed, claims):
    """The kind's verdict from the counting reports, weighed against denials, disputes and weak claims.

    Its `next_check` is the earliest of the judgements it ran (on the counting reports, with the
    disputed ones, with the claims): the verdict is a function of their statuses, so it cannot
    change before one of them does.
    """
    judged = []

    def judge(ctx, reports):
        outcome = kind.judge(ctx, reports)
        judged.append(next_day_edge(ctx) if outcome.next_check == EVERY_DAY else outcome.next_check)
        return outcome

    outcome = _weighed(judge, ctx, kind, counting, disputed, claims)
    return replace(outcome, next_check=earliest(*judged))


def _weighed(judge, ctx, kind, counting, disputed, claims):
    denies = getattr(kind, "DENIES", "event")
    span = kind.reads(ctx.window)
    straddling = getattr(kind, "STRADDLING_COUNTS", False)
    counting, denied, denials = contest(denies, counting, ctx.tz, span, straddling)
    strict = judge(ctx, counting)
    doubtful = sorted(disputed + denied, key=TIME_ORDER) if denied else disputed
    if doubtful:
        loose = judge(ctx, sorted(counting + doubtful, key=TIME_ORDER))  # two sorted runs: merged, not sorted
        if loose.status != strict.status:
            return _disputed(strict, loose, disputed, denied, denials)
    if claims and strict.status in CLAIMS_CAN_MOVE and getattr(kind, "CLAIMS", False):
        acts = [c for c in claims if c.stance == "affirms"]
        refuting = [e for e in counting if e.stance == "denies"]
        if acts and refuting:
            # A claim a credible denial contradicts is not awaiting confirmation: the denial decided it.
            _, refuted, _ = contest(denies, sorted(refuting + acts, key=TIME_ORDER), ctx.tz, span, straddling)
            refuted = {e.id for e in refuted}
            acts = [c for c in acts if c.id not in refuted]
        if acts:
            claimed = judge(ctx, sorted(counting + acts, key=TIME_ORDER))
            if claimed.status != strict.status:
                return _unconfirmed(ctx, strict, claimed, acts)
    return strict


def _ids(reports):
    return [e.id for e in reports]


def _disputed(strict, loose, disputed, denied, denials):
    sides = {
        "without": strict.status,
        "with": loose.status,
        # The reports on each side: those that, if they hold, make it `with`; and those it rests on without them.
        "with_reports": _ids(sorted(disputed + denied, key=TIME_ORDER)),
        "without_reports": list(dict.fromkeys(list(strict.evidence) + _ids(denials))),
    }
    evidence = tuple(dict.fromkeys(strict.evidence + loose.evidence + tuple(_ids(denials))))
    if denied and not disputed:
        act, denial = denied[0], denials[0]
        reason = Reason("disputed.denied", {"act": act.id, "denial": denial.id, **source_params(denial), **sides})
        since = max(act.occurred_at, denial.occurred_at)
    else:
        reason = Reason("disputed.evidence", {**sides, "disputed": len(disputed) + len(denied)})
        since = max(filter(None, (strict.since, loose.since)), default=None)
    return Outcome(
        S.DISPUTED, reason, since=since, evidence=evidence,
        days_left=strict.days_left, days_overdue=strict.days_overdue, details=strict.details,
    )


def _unconfirmed(ctx, strict, claimed, acts):
    relied_on = set(claimed.evidence)
    claims = [c for c in acts if c.id in relied_on] or acts
    first = claims[0]
    params = {
        "without": strict.status,
        "with": claimed.status,
        "claims": len(claims),
        "date": local_day(first.occurred_at, ctx.tz).isoformat(),
        **source_params(first),
        "claim_reports": _ids(claims),
    }
    return Outcome(
        S.UNCONFIRMED,
        Reason("unconfirmed.claims", params),
        since=max(filter(None, (strict.since, claimed.since)), default=None),
        evidence=tuple(_ids(claims)),
        days_left=strict.days_left,
        days_overdue=strict.days_overdue,
        details=strict.details,
    )


def account(pairs, *, span, as_of, known_at, tz, straddling_counts=False):
    """What a verdict weighed and set aside, and why: for its details (pages, JSON), never the sweep.

    `pairs` are (report, standing) for every report that speaks to the commitment, once each;
    `span` is (opens, closes), when a report must have happened to decide it. A report is set
    aside for the first reason that applies, in the order of SET_ASIDE_REASONS' checks below.
    """
    opens, closes = span
    weighed = {"counting": 0, "disputed": 0}
    counts, listed = {}, []
    for e, standing in sorted(pairs, key=lambda pair: TIME_ORDER(pair[0])):
        if standing == EXCLUDED:
            if e.recorded_at > known_at:
                continue  # not known yet: not part of this view at all
            reason = REJECTED
        elif e.occurred_at > as_of:
            reason = AFTER_AS_OF
        elif opens is not None and e.occurred_at < opens and e.ends_at(tz) > opens and not (
            straddling_counts and e.occurred_until is not None
        ):
            reason = STRADDLES_WINDOW
        elif (
            (opens is not None and e.occurred_at < opens and e.ends_at(tz) <= opens)
            or (closes is not None and e.occurred_at >= closes)
        ):
            reason = OUTSIDE_WINDOW
        elif standing == WEAK:
            reason = GRADE
        else:
            weighed["counting" if standing == COUNTS else "disputed"] += 1
            continue
        counts[reason] = counts.get(reason, 0) + 1
        listed.append((e.id, reason))
    return {"weighed": weighed, "set_aside": {"counts": counts, "reports": listed}}
