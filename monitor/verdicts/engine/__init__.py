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

from monitor.verdicts import statuses as S
from monitor.verdicts.engine import shares
from monitor.verdicts.engine.context import Context, Outcome
from monitor.verdicts.engine.coverage import CoverageIndex, covered
from monitor.verdicts.engine.index import (
    Change,
    EvidenceIndex,
    _candidates,
    _span,
    affected,
    anchors_of,
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
    PartyRef,
    PartyVerdict,
    Reason,
    SourceRef,
    Term,
    Verdict,
)
from terms.rules import local_day

__all__ = [
    "CONTESTED", "COUNTS", "EXCLUDED", "STRONG_CREDIBILITY", "STRONG_RELIABILITY", "WEAK",
    "Change", "CoverageIndex", "CoveragePeriod", "Evidence", "EvidenceIndex", "PartyRef", "PartyVerdict", "Reason",
    "SourceRef", "Term", "Verdict", "affected", "anchors_of", "covered", "evaluate", "evaluate_agreement",
    "qualifies", "_candidates", "_span",
]


def evaluate(
    term, evidence, *, as_of, known_at=None, coverage=(), anchor_day=None, due_soon_days=7, qualified=None,
    details=True, local_days=None,
):
    """The verdict on one commitment.

    `anchor_day` is the local date of the anchor commitment's being met, for a
    commitment counted from another (see `evaluate_agreement`, which resolves it).
    `qualified`, given by `evaluate_agreement`, is the evidence already sifted for this
    commitment as of `as_of`: (counting reports, disputed reports), each in time order,
    from `EvidenceIndex.qualified`; without it `evidence` is sifted here.
    `details=False` leaves `Verdict.details` empty (the sweep never reads them), and
    `local_days` is a {report id: local day} cache shared by commitments in one zone.
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
    if shares.per_party(term):  # owed by several parties `each`: judged per party, rolled up
        if not isinstance(coverage, CoverageIndex):
            coverage = CoverageIndex(coverage, known_at)
        return shares.evaluate_each(
            evaluate, term, evidence, as_of=as_of, known_at=known_at, qualified=qualified, coverage=coverage,
            anchor_day=anchor_day, due_soon_days=due_soon_days, details=details, local_days=local_days,
        )

    if qualified is None:
        counting, contested = [], []
        for e in evidence:
            if e.occurred_at <= as_of and qualifies(term, e):
                standing = e.standing_at(known_at)
                if standing == COUNTS:
                    counting.append(e)
                elif standing == CONTESTED:
                    contested.append(e)
        counting.sort(key=TIME_ORDER)
        contested.sort(key=TIME_ORDER)
    else:
        counting, contested = qualified
    tz = term.tz
    window = term.window.resolve(anchor_day, tz)
    if not isinstance(coverage, CoverageIndex):
        coverage = CoverageIndex(coverage, known_at)
    ctx = Context(term, window, tz, as_of, known_at, coverage, due_soon_days, details,
                   {} if local_days is None else local_days)

    # Judges read reports in time order (occurred_at, then id), so they slice windows and never sort.
    judge = kind_of(term.kind).judge
    strict = judge(ctx, counting)
    if contested:
        loose = judge(ctx, sorted(counting + contested, key=TIME_ORDER))  # two sorted runs: merged, not sorted
        if loose.status != strict.status:
            strict = Outcome(
                S.DISPUTED,
                Reason(
                    "disputed.evidence",
                    {
                        "without": strict.status,
                        "with": loose.status,
                        "disputed": len(contested),
                    },
                ),
                since=max(filter(None, (strict.since, loose.since)), default=None),
                evidence=tuple(dict.fromkeys(strict.evidence + loose.evidence)),
                days_left=strict.days_left,
                days_overdue=strict.days_overdue,
                details=strict.details,
            )
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
        details=strict.details if details else {},
        **base,
    )


def evaluate_agreement(terms, evidence, *, as_of, known_at=None, coverage=(), due_soon_days=7, details=True):
    """Verdicts for commitments that may be counted from one another, keyed by commitment id.

    A commitment counted from another starts on the local day the other was met
    (or met late), as known at `known_at`; until then it is awaiting its anchor.
    `evidence` is a list of Evidence or an EvidenceIndex built for the same cutoff;
    `details=False` leaves every verdict's details empty.
    """
    by_id = {t.id: t for t in terms}
    local_days = {}  # time zone -> {report id: local day}
    verdicts = {}
    visiting = set()
    cutoff = as_of if known_at is None else known_at
    index = evidence if isinstance(evidence, EvidenceIndex) else EvidenceIndex(evidence, cutoff)
    if not isinstance(coverage, CoverageIndex):
        coverage = CoverageIndex(coverage, cutoff)

    def resolve(term):
        if term.id in verdicts:
            return verdicts[term.id]
        anchor_day = None
        anchor_id = term.window.anchor_commitment_id
        if term.window.anchor == "commitment" and anchor_id in by_id and anchor_id not in visiting:
            visiting.add(term.id)
            anchor = resolve(by_id[anchor_id])
            visiting.discard(term.id)
            if anchor.status in (S.MET, S.MET_LATE) and anchor.since is not None:
                anchor_day = local_day(anchor.since, term.tz)
        verdicts[term.id] = evaluate(
            term,
            (),
            qualified=_candidates(index, term, anchor_day, as_of),
            as_of=as_of,
            known_at=known_at,
            coverage=coverage,
            anchor_day=anchor_day,
            due_soon_days=due_soon_days,
            details=details,
            local_days=local_days.setdefault(term.time_zone, {}),
        )
        return verdicts[term.id]

    for term in terms:
        resolve(term)
    return verdicts

