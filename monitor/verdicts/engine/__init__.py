"""The verdict engine: a pure function of (commitment, evidence, as-of, knowledge cutoff).

No database access, no clock: `as_of` and `known_at` are passed in, and the
inputs are the plain values defined below (built from the database by
`monitor.verdicts.inputs`). "What was the status on 1 March, given what we knew
then?" is `evaluate(term, evidence, as_of=1 March)`; "given what we know now"
is `evaluate(term, evidence, as_of=1 March, known_at=now)`.

How evidence is weighed (docs/architecture.md, "Weighing evidence"):

- A report does not exist before it was recorded (`recorded_at > known_at`),
  and its verification state is the one it had at `known_at`.
- Rejected reports never count.
- Verified reports count.
- Claimed reports count when they are graded B2 or better on the Admiralty
  scale: a source rated A or B, and credibility 1 or 2. Weaker claims are shown
  as evidence but decide nothing.
- Disputed reports decide nothing on their own. The verdict is computed twice,
  once from the counting reports and once with the disputed ones added; if the
  two differ, the commitment is "disputed". It is disputed too when a counting
  report says an act happened and another counting report says it had not.
- Counts count events: reports grouped as one event count once.

The package, by concern: `values` (the plain inputs and the verdict), `coverage` (days some
source covers), `index` (which reports can speak to which commitment, and `affected`),
`context` (what every judge shares), `kinds` (a kind's module, found by name), and one
module per kind of commitment: `deadline`, `target`, `ceiling`, `prohibition`; and `shares`,
which judges a commitment several parties owe `each` per party and rolls the verdicts up.
"""

from bisect import bisect_right
from dataclasses import replace

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import anchors as A
from monitor.verdicts.engine import shares
from monitor.verdicts.engine.context import Context, earliest
from monitor.verdicts.engine.coverage import CoverageIndex, covered
from monitor.verdicts.engine.index import (
    Change,
    EvidenceIndex,
    _candidates,
    _claims,
    _context_candidates,
    _span,
    affected,
    anchors_of,
    context_of,
    in_context,
    next_report,
    qualifies,
)
from monitor.verdicts.engine.kinds import kind_of
from monitor.verdicts.engine.values import (
    CONTESTED,
    COUNTS,
    EXCLUDED,
    STRONG_CREDIBILITY,
    STRONG_RELIABILITY,
    TIME_ORDER,
    WEAK,
    CoveragePeriod,
    Evidence,
    Milestone,
    PartyRef,
    Reading,
    ReadingVerdict,
    PartyVerdict,
    Reason,
    SourceRef,
    Term,
    Verdict,
)
from monitor.verdicts.engine.weighing import account, judge_weighed
from terms.rules import local_day

__all__ = [
    "CONTESTED", "COUNTS", "EXCLUDED", "STRONG_CREDIBILITY", "STRONG_RELIABILITY", "WEAK",
    "Change", "CoverageIndex", "CoveragePeriod", "Evidence", "EvidenceIndex", "Milestone", "PartyRef", "PartyVerdict",
    "Reading", "ReadingVerdict", "Reason", "SourceRef", "Term", "Verdict", "affected", "anchors_of", "covered",
    "evaluate", "evaluate_agreement", "qualifies", "_candidates", "_span", "context_of", "in_context",
]


def evaluate(
    term, evidence, *, as_of, known_at=None, coverage=(), anchor_day=None, due_soon_days=7, qualified=None,
    claims=None, speaking=None, details=True, local_days=None, context=None,
):
    """The verdict on one commitment.

    `anchor_day` is the local date of the anchor commitment's being met, for a
    commitment counted from another (see `evaluate_agreement`, which resolves it).
    `qualified`, given by `evaluate_agreement`, is the evidence already sifted for this
    commitment as of `as_of`: (counting reports, disputed reports), each in time order,
    from `EvidenceIndex.qualified`; `claims`, the claims below the counting grade
    (`EvidenceIndex.claims`); `speaking`, every report that speaks to it with its standing
    (`EvidenceIndex.speaking`, for the details' account of what was set aside); without
    them `evidence` is sifted here.
    `details=False` leaves `Verdict.details` empty (the sweep never reads them), and
    `local_days` is a {report id: local day} cache shared by commitments in one zone.
    `context`, given by `evaluate_agreement`, is `Verdict.context` from the index; without it
    `evidence` is sifted for it here (`context_of`).
    `Verdict.next_check` is when to judge it again with no new evidence (docs/architecture.md, "When
    to judge again"): the judges' instants, and, sifting `evidence` here, the first report after as_of.
    """
    known_at = as_of if known_at is None else known_at
    base = {"commitment_id": term.id, "as_of": as_of, "known_at": known_at}
    if not term.tracked:
        return Verdict(status=S.NOT_TRACKED, reason=Reason("not_tracked"), **base)
    if term.window.anchor == "signing":
        if term.signed_on is None:
            return Verdict(status=S.AWAITING_SIGNATURE, reason=Reason("awaiting.signature"), **base)
        anchor_day = term.signed_on
    elif anchor_day is None:
        return Verdict(status=S.AWAITING_ANCHOR, reason=Reason("awaiting.anchor"), **base)
    # Sifting the evidence here, the reports that happened after as_of are here too: the verdict is judged
    # again when the first of them starts to count. (Given `qualified`, the caller sees to it.)
    later = next_report(term, evidence, as_of, known_at) if qualified is None else None
    if shares.per_party(term):  # owed by several parties `each`: judged per party, rolled up
        if not isinstance(coverage, CoverageIndex):
            coverage = CoverageIndex(coverage, known_at)
        rolled = shares.evaluate_each(
            evaluate, term, evidence, as_of=as_of, known_at=known_at, qualified=qualified, coverage=coverage,
            anchor_day=anchor_day, due_soon_days=due_soon_days, details=details, local_days=local_days,
            claims=claims, speaking=speaking,
            context=context if context is not None else context_of(
                term, evidence, kind_of(term.kind).reads(term.window.resolve(anchor_day, term.tz)),
                as_of=as_of, known_at=known_at,
            ),
        )
        return replace(rolled, next_check=earliest(rolled.next_check, later))

    if qualified is None:
        counting, contested, claims, speaking = [], [], [], []
        for e in evidence:
            if qualifies(term, e):
                standing = e.standing_at(known_at)
                speaking.append((e, standing))
                if e.occurred_at > as_of:
                    continue
                if standing == COUNTS:
                    counting.append(e)
                elif standing == CONTESTED:
                    contested.append(e)
                elif standing == WEAK:
                    claims.append(e)
        counting.sort(key=TIME_ORDER)
        contested.sort(key=TIME_ORDER)
        claims.sort(key=TIME_ORDER)
    else:
        counting, contested = qualified
    tz = term.tz
    window = term.window.resolve(anchor_day, tz)
    if context is None:
        context = context_of(term, evidence, kind_of(term.kind).reads(window), as_of=as_of, known_at=known_at)
    if not isinstance(coverage, CoverageIndex):
        coverage = CoverageIndex(coverage, known_at)
    ctx = Context(term, window, tz, as_of, known_at, coverage, due_soon_days, details,
                  {} if local_days is None else local_days)

    # Judges read reports in time order (occurred_at, then id), so they slice windows and never sort.
    kind = kind_of(term.kind)
    strict = judge_weighed(ctx, kind, counting, contested, claims or [])
    out_details = {}
    if details:
        out_details = dict(strict.details)
        if speaking is not None:
            out_details.update(account(
                speaking, span=kind.reads(window), as_of=as_of, known_at=known_at, tz=tz,
                straddling_counts=getattr(kind, "STRADDLING_COUNTS", False),
            ))
    return Verdict(
        status=strict.status,
        reason=strict.reason,
        since=strict.since,
        opens_at=window.opens_at,
        due_at=window.due_at,
        closes_at=window.closes_at,
        days_left=strict.days_left,
        days_overdue=strict.days_overdue,
        evidence=strict.evidence,
        details=out_details,
        context=context,
        next_check=earliest(strict.next_check, later),
        **base,
    )


def evaluate_agreement(terms, evidence, *, as_of, known_at=None, coverage=(), due_soon_days=7, details=True):
    """Verdicts for commitments that may be counted from one another, keyed by commitment id.

    A commitment counted from another commitment's moment (its window opening, its due
    day, its being met, missed or first breached, its window closing) or from a milestone
    starts on the local day of that moment, once it has happened as of `as_of`, as known at
    `known_at`; until then it is awaiting its anchor, and the reason names the anchor and
    the moment (`anchors`). Chains resolve in order, anchors first.
    `evidence` is a list of Evidence or an EvidenceIndex built for the same cutoff;
    `details=False` leaves every verdict's details empty. A term with readings gets
    `Verdict.readings`, the verdict under each; they decide nothing else. Each `Verdict.next_check`
    also counts the first report after as_of its rule may count, and what it is counted from:
    its anchor's `next_check` and the anchor's moment still to come, or a milestone's first report.
    """
    by_id = {t.id: t for t in terms}
    local_days = {}  # time zone -> {report id: local day}
    verdicts = {}
    anchor_days = {}  # commitment id -> its own anchor day, to re-judge it when searching for a first breach
    reached = {}  # milestone id -> the instant it was reached, or None
    visiting = set()
    cutoff = as_of if known_at is None else known_at
    index = evidence if isinstance(evidence, EvidenceIndex) else EvidenceIndex(evidence, cutoff)
    if not isinstance(coverage, CoverageIndex):
        coverage = CoverageIndex(coverage, cutoff)

    def strictly(anchor, when, counting):
        """The anchor judged as of `when` on counting reports only, as known at the cutoff."""
        return evaluate(anchor, (), qualified=(counting, []), as_of=when, known_at=cutoff, coverage=coverage,
                        anchor_day=anchor_days.get(anchor.id), details=False)

    def first_breach(anchor):
        """The instant the anchor was first breached (on counting reports), even if it has recovered since.

        Walked report instant by report instant, in time order: a later credible denial can make
        an earlier breach disputed as of now, so whether it has been breached is not monotonic in
        the reports, and a bisection could miss the first breach (anchors on a breach are rare).
        """
        counting, _ = _candidates(index, anchor, anchor_days.get(anchor.id), as_of)
        times = [e.occurred_at for e in counting]
        for when in dict.fromkeys(times):
            verdict = strictly(anchor, when, counting[: bisect_right(times, when)])
            if A.has_breached(verdict):
                return verdict.since
        return None

    def missed(anchor, verdict):
        """The anchor's missed instant, if it had passed by `as_of` and the anchor was missed as of then."""
        instant = A.missed_at(anchor, verdict)
        if instant is None or instant > as_of:
            return None
        day = anchor_days.get(anchor.id)
        # Claims weighed too: a deadline with only unconfirmed claims of the act is not missed.
        then = evaluate(anchor, (), qualified=_candidates(index, anchor, day, instant),
                        claims=_claims(index, anchor, day, instant), as_of=instant, known_at=cutoff,
                        coverage=coverage, anchor_day=day, details=False)
        return instant if then.status == S.MISSED else None

    def anchored(term):
        """(anchor day or None, the awaiting reason or None, when they can change) for a commitment counted
        from another or a milestone.

        They can change when the anchor's verdict can (its `next_check`), when a moment with a known
        instant comes (its window opening, its due date, its grace period's end, its closing), or, for a
        milestone not reached yet, when the first report its rule may recognise happens.
        """
        w = term.window
        if w.anchor == "milestone":
            m = term.anchor_milestone
            if m is None:
                return None, None, None
            if m.id not in reached:
                reached[m.id] = A.milestone_reached(index, m, term.time_zone, as_of)
            if reached[m.id] is None:
                later = index.next_report(A.milestone_term(m, term.time_zone), as_of)
                return None, A.awaiting(term, m.title, m.key, "reached"), later
            return local_day(reached[m.id], term.tz), None, None  # reached for good: later reports come after it
        anchor_id = w.anchor_commitment_id
        if w.anchor != "commitment" or anchor_id not in by_id or anchor_id in visiting:
            return None, None, None
        visiting.add(term.id)
        verdict = resolve(by_id[anchor_id])
        visiting.discard(term.id)
        anchor = by_id[anchor_id]
        instant = A.moment_instant(verdict, w.anchor_moment, missed=lambda: missed(anchor, verdict),
                                   first_breach=lambda: first_breach(anchor))
        coming = A.coming_instant(anchor, verdict, w.anchor_moment)
        wake = earliest(verdict.next_check, coming if coming is not None and coming > as_of else None)
        if instant is None or instant > as_of:
            return None, A.awaiting(term, anchor.title, anchor.key, w.anchor_moment), wake
        return A.moment_day(w.anchor_moment, instant, term.tz), None, wake

    def resolve(term):
        if term.id in verdicts:
            return verdicts[term.id]
        anchor_day, waiting, wake = (None, None, None) if term.window.anchor == "signing" else anchored(term)
        anchor_days[term.id] = anchor_day
        verdicts[term.id] = evaluate(
            term,
            (),
            qualified=_candidates(index, term, anchor_day, as_of),
            claims=_claims(index, term, anchor_day, as_of),
            speaking=index.speaking(term) if details else None,
            context=_context_candidates(index, term, anchor_day, as_of),
            as_of=as_of,
            known_at=known_at,
            coverage=coverage,
            anchor_day=anchor_day,
            due_soon_days=due_soon_days,
            details=details,
            local_days=local_days.setdefault(term.time_zone, {}),
        )
        if waiting is not None and verdicts[term.id].status == S.AWAITING_ANCHOR:
            verdicts[term.id] = replace(verdicts[term.id], reason=waiting)
        # Judged on the reports that happened by as_of: the first one after it counts when its time comes.
        later = index.next_report(term, as_of) if _span(term, anchor_day) is not None else None
        verdicts[term.id] = replace(verdicts[term.id], next_check=earliest(verdicts[term.id].next_check, later, wake))
        if term.readings:
            verdicts[term.id] = replace(verdicts[term.id], readings=_readings(term, anchor_day))
        return verdicts[term.id]

    def _readings(term, anchor_day):
        """The verdict under each reading: the same judgement with the reading's rule and window.

        From the same anchor day as the main verdict, and with the reading's own evidence (other
        categories or places read other reports). Never seen by commitments counted from this one.
        """
        out = []
        for reading in term.readings:
            other = replace(term, rule=reading.rule, window=reading.window, readings=())
            v = evaluate(
                other,
                (),
                qualified=_candidates(index, other, anchor_day, as_of),
                claims=_claims(index, other, anchor_day, as_of),
                context=(),
                as_of=as_of,
                known_at=known_at,
                coverage=coverage,
                anchor_day=anchor_day,
                due_soon_days=due_soon_days,
                details=False,
                local_days=local_days.setdefault(term.time_zone, {}),
            )
            out.append(ReadingVerdict(reading.key, reading.label, v.status, v.since, v.reason))
        return tuple(out)

    for term in terms:
        resolve(term)
    return verdicts

