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
"""

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from monitor.verdicts import statuses as S
from terms.rules import Rule, Window, day_start, local_day, normalize_name

COUNTS = "counts"
CONTESTED = "contested"
WEAK = "weak"
EXCLUDED = "excluded"

STRONG_RELIABILITY = frozenset("AB")
STRONG_CREDIBILITY = frozenset({1, 2})

_SPANS = {
    "minute": timedelta(minutes=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": relativedelta(months=1),
}


@dataclass(frozen=True)
class PartyRef:
    id: int
    name: str
    names: frozenset  # normalized names sources use for it, its own included


@dataclass(frozen=True)
class Term:
    """A commitment as the engine sees it."""

    id: int
    key: str
    title: str
    kind: str
    rule: Rule
    window: Window
    time_zone: str
    signed_on: date | None
    owing: tuple = ()  # PartyRef
    tracked: bool = True
    agreement_id: int | None = None

    @property
    def tz(self):
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class SourceRef:
    id: int
    name: str
    reliability: str = "F"
    kind: str = "other"


@dataclass(frozen=True)
class Evidence:
    """A report as the engine sees it: what happened, when we knew, how far we trust it."""

    id: int
    source: SourceRef
    occurred_at: datetime
    recorded_at: datetime
    category: str = ""
    sub_category: str = ""
    stance: str = "affirms"
    occurred_until: datetime | None = None
    precision: str = "day"
    value: float | None = None
    admin1: str = ""
    location: str = ""
    actor1: str = ""
    credibility: int = 6
    # ((changed_at, new_state), ...) in time order; none means "claimed" since recorded.
    verification: tuple = ()
    event_id: int | None = None
    commitment_id: int | None = None
    summary: str = ""

    def state_at(self, known_at):
        """The verification state as known at `known_at`; None if not yet recorded then."""
        if self.recorded_at > known_at:
            return None
        state = "claimed"
        for changed_at, new_state in self.verification:
            if changed_at > known_at:
                break
            state = new_state
        return state

    def standing_at(self, known_at):
        state = self.state_at(known_at)
        if state is None or state == "rejected":
            return EXCLUDED
        if state == "verified":
            return COUNTS
        if state == "disputed":
            return CONTESTED
        if self.source.reliability in STRONG_RELIABILITY and self.credibility in STRONG_CREDIBILITY:
            return COUNTS
        return WEAK

    @property
    def event_key(self):
        return ("event", self.event_id) if self.event_id is not None else ("report", self.id)

    def ends_at(self, tz):
        """The exclusive end of when it happened, in `tz`: a day-precision report spans its whole local day."""
        if self.occurred_until is not None:
            return max(self.occurred_until, self.occurred_at + _SPANS["minute"])
        if self.precision == "minute":
            return self.occurred_at + _SPANS["minute"]
        first_day = local_day(self.occurred_at, tz)
        return day_start(first_day + _SPANS.get(self.precision, _SPANS["day"]), tz)

    @property
    def grade(self):
        return f"{self.source.reliability}{self.credibility}"


@dataclass(frozen=True)
class CoveragePeriod:
    source_id: int
    starts_on: date
    ends_on: date | None
    recorded_at: datetime
    admin1: str = ""

    def in_force(self, day, known_at):
        if self.recorded_at > known_at or day < self.starts_on:
            return False
        return self.ends_on is None or day <= self.ends_on


def covered(day, admin1s, periods, known_at):
    """Does some source declare it covered this day, everywhere the rule looks?

    A countrywide period covers any rule. Province periods cover a rule that names provinces
    only when, together, they cover every one of them; they never cover a rule that names
    only places (we cannot tell which province a place is in).
    """
    provinces = set()
    for p in periods:
        if p.in_force(day, known_at):
            if not p.admin1:
                return True
            provinces.add(normalize_name(p.admin1))
    return bool(admin1s) and admin1s <= provinces


@dataclass(frozen=True)
class Reason:
    """Why a verdict is what it is: a stable code and its parameters, for translation."""

    code: str
    params: dict = field(default_factory=dict)

    def sentence(self):
        from monitor.verdicts.reasons import describe

        return describe(self)


@dataclass(frozen=True)
class Verdict:
    commitment_id: int
    status: str
    reason: Reason
    as_of: datetime
    known_at: datetime
    since: datetime | None = None  # when the rule says this status began (the deadline, the breach)
    opens_at: datetime | None = None
    due_at: datetime | None = None
    closes_at: datetime | None = None
    days_left: int | None = None
    days_overdue: int | None = None
    evidence: tuple = ()  # ids of the reports relied on
    details: dict = field(default_factory=dict)

    @property
    def sentence(self):
        return self.reason.sentence()


def evaluate(
    term, evidence, *, as_of, known_at=None, coverage=(), anchor_day=None, due_soon_days=7, qualified=None
):
    """The verdict on one commitment.

    `anchor_day` is the local date of the anchor commitment's being met, for a
    commitment counted from another (see `evaluate_agreement`, which resolves it).
    `qualified`, given by `evaluate_agreement`, is the evidence already sorted into
    (report, standing) pairs for this commitment; without it `evidence` is sifted here.
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

    if qualified is None:
        qualified = [
            (e, standing)
            for e in evidence
            if qualifies(term, e) and (standing := e.standing_at(known_at)) in (COUNTS, CONTESTED)
        ]
    tz = term.tz
    window = term.window.resolve(anchor_day, tz)
    ctx = _Context(term, window, tz, as_of, known_at, coverage, due_soon_days)
    by_standing = {COUNTS: [], CONTESTED: []}
    for e, standing in qualified:
        if e.occurred_at <= as_of:
            by_standing[standing].append(e)

    judge = _JUDGES[term.kind]
    strict = judge(ctx, by_standing[COUNTS])
    if by_standing[CONTESTED]:
        loose = judge(ctx, by_standing[COUNTS] + by_standing[CONTESTED])
        if loose.status != strict.status:
            strict = _Outcome(
                S.DISPUTED,
                Reason(
                    "disputed.evidence",
                    {
                        "without": strict.status,
                        "with": loose.status,
                        "disputed": len(by_standing[CONTESTED]),
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
        details=strict.details,
        **base,
    )


def evaluate_agreement(terms, evidence, *, as_of, known_at=None, coverage=(), due_soon_days=7):
    """Verdicts for commitments that may be counted from one another, keyed by commitment id.

    A commitment counted from another starts on the local day the other was met
    (or met late), as known at `known_at`; until then it is awaiting its anchor.
    """
    by_id = {t.id: t for t in terms}
    verdicts = {}
    visiting = set()
    index = EvidenceIndex(evidence, as_of if known_at is None else known_at)

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
            qualified=index.qualified(term),
            as_of=as_of,
            known_at=known_at,
            coverage=coverage,
            anchor_day=anchor_day,
            due_soon_days=due_soon_days,
        )
        return verdicts[term.id]

    for term in terms:
        resolve(term)
    return verdicts


class EvidenceIndex:
    """The evidence sorted once for many commitments, as known at one cutoff.

    Without it a sweep would weigh and normalise every report once per commitment
    (10,000 x 1,000,000). Here each report is weighed once, its names folded once, and
    filed by category, so a commitment looks only at the reports in its categories. The
    result is the same as `evaluate` sifting the whole list (a test holds the two equal).
    """

    def __init__(self, evidence, known_at):
        self.all = []
        self.by_category = {}
        self.by_place = {}  # (category, "admin1"|"location", name): rows, for rules that name places
        self.by_commitment = {}
        for e in evidence:
            standing = e.standing_at(known_at)
            if standing not in (COUNTS, CONTESTED):
                continue  # not yet known, rejected, or too weak to decide anything
            row = _Row(e, standing, normalize_name(e.admin1), normalize_name(e.location), normalize_name(e.actor1))
            self.all.append(row)
            for name in {normalize_name(e.category), normalize_name(e.sub_category)}:
                self.by_category.setdefault(name, []).append(row)
                self.by_place.setdefault((name, "admin1", row.admin1), []).append(row)
                self.by_place.setdefault((name, "location", row.location), []).append(row)
            if e.commitment_id is not None:
                self.by_commitment.setdefault(e.commitment_id, []).append(row)

    def qualified(self, term):
        rule = term.rule
        admin1s, locations = _norm_set(rule.admin1), _norm_set(rule.locations)
        if rule.categories:
            rows = {}
            for name in _norm_set(rule.categories):
                if admin1s or locations:
                    buckets = [self.by_place.get((name, "admin1", a), ()) for a in admin1s]
                    buckets += [self.by_place.get((name, "location", loc), ()) for loc in locations]
                else:
                    buckets = [self.by_category.get(name, ())]
                for bucket in buckets:
                    for row in bucket:
                        rows[row.e.id] = row
            candidates = rows.values()
        else:
            candidates = [row for row in self.all if row.e.commitment_id in (None, term.id)]
        linked = {row.e.id for row in self.by_commitment.get(term.id, ())}
        owing = frozenset().union(*(p.names for p in term.owing))
        out = [(row.e, row.standing) for row in self.by_commitment.get(term.id, ())]
        for row in candidates:
            if row.e.id in linked:
                continue
            if (admin1s or locations) and row.admin1 not in admin1s and row.location not in locations:
                continue
            if not _attributed_name(rule.attribution, owing, row.actor):
                continue
            out.append((row.e, row.standing))
        return out


@dataclass(frozen=True, slots=True)
class _Row:
    e: Evidence
    standing: str
    admin1: str
    location: str
    actor: str


# --- internals -------------------------------------------------------------


@dataclass
class _Context:
    term: Term
    window: object
    tz: ZoneInfo
    as_of: datetime
    known_at: datetime
    coverage: tuple
    due_soon_days: int

    @property
    def rule(self):
        return self.term.rule

    def today(self):
        return local_day(self.as_of, self.tz)


@dataclass(frozen=True)
class _Outcome:
    status: str
    reason: Reason
    since: datetime | None = None
    evidence: tuple = ()
    days_left: int | None = None
    days_overdue: int | None = None
    details: dict = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _norm_set(values):
    return frozenset(normalize_name(v) for v in values)


def qualifies(term, e):
    """Does this report speak to this commitment, by its rule or a hand-made link?"""
    if e.commitment_id == term.id:
        return True
    if e.commitment_id is not None and e.commitment_id != term.id and not term.rule.categories:
        # A report linked by hand to another commitment is not evidence for a rule that names no category.
        return False
    rule = term.rule
    if rule.categories:
        wanted = _norm_set(rule.categories)
        if normalize_name(e.category) not in wanted and normalize_name(e.sub_category) not in wanted:
            return False
    if rule.admin1 or rule.locations:
        in_admin1 = normalize_name(e.admin1) in _norm_set(rule.admin1)
        in_location = normalize_name(e.location) in _norm_set(rule.locations)
        if not (in_admin1 or in_location):
            return False
    return _attributed(term, e)


def _attributed(term, e):
    owing = frozenset().union(*(p.names for p in term.owing))
    return _attributed_name(term.rule.attribution, owing, normalize_name(e.actor1))


def _attributed_name(attribution, owing_names, actor):
    if attribution == "any" or actor in owing_names:
        return True
    # Unidentified actors never count against a party unless the rule says so.
    return attribution == "owing_or_unidentified" and (not actor or actor.startswith("unidentified"))


def _source_params(e):
    return {"source": e.source.name, "grade": e.grade, "report": e.id}


def _pending(ctx, kind_code, extra=None):
    """Not settled yet: before the due date, or inside the grace period."""
    w = ctx.window
    today = ctx.today()
    params = {"due": w.due_day.isoformat(), **(extra or {})}
    if ctx.as_of >= w.due_at:
        # The local day before the missed instant: subtracting 24 hours would land on the wrong day across DST.
        params["grace_ends"] = (local_day(w.missed_at, ctx.tz) - timedelta(days=1)).isoformat()
        return _Outcome(
            S.DUE_SOON,
            Reason(f"{kind_code}.in_grace", params),
            since=w.due_at,
            days_overdue=(today - w.due_day).days,
        )
    days_left = (w.due_day - today).days
    params["days_left"] = days_left
    if days_left <= ctx.due_soon_days:
        soon_from = day_start(w.due_day - timedelta(days=ctx.due_soon_days), ctx.tz)
        return _Outcome(S.DUE_SOON, Reason(f"{kind_code}.pending", params), since=soon_from, days_left=days_left)
    # Before the window opens no status has begun yet (as for ceilings and prohibitions not open).
    since = w.opens_at if ctx.as_of >= w.opens_at else None
    return _Outcome(S.NOT_YET_DUE, Reason(f"{kind_code}.pending", params), since=since, days_left=days_left)


def _judge_deadline(ctx, reports):
    w = ctx.window
    acts = sorted(
        (e for e in reports if e.stance == "affirms" and e.occurred_at >= w.opens_at),
        key=lambda e: (_done_by(e, ctx.tz), e.id),
    )
    if acts:
        first = acts[0]
        denials = sorted(
            (e for e in reports if e.stance == "denies" and e.occurred_at >= first.occurred_at),
            key=lambda e: (e.occurred_at, e.id),
        )
        if denials:
            return _Outcome(
                S.DISPUTED,
                Reason("disputed.denied", {"act": first.id, "denial": denials[0].id, **_source_params(denials[0])}),
                since=max(first.occurred_at, denials[0].occurred_at),
                evidence=(first.id, denials[0].id),
            )
        day = local_day(first.occurred_at, ctx.tz)
        params = {"date": day.isoformat(), "due": w.due_day.isoformat(), **_source_params(first)}
        done_by = _done_by(first, ctx.tz)
        if done_by <= w.due_at:
            params["days_early"] = (w.due_day - day).days
            return _Outcome(S.MET, Reason("deadline.met", params), since=first.occurred_at, evidence=(first.id,))
        # An act known only to within a period that straddles the due date is late by the period's
        # last possible day, and the status cannot have begun before the deadline passed.
        last_possible = local_day(done_by - timedelta(microseconds=1), ctx.tz)
        params["days_late"] = max(1, (last_possible - w.due_day).days)
        since = max(first.occurred_at, w.due_at)
        return _Outcome(S.MET_LATE, Reason("deadline.met_late", params), since=since, evidence=(first.id,))
    if ctx.as_of >= w.missed_at:
        return _Outcome(
            S.MISSED,
            Reason("deadline.missed", {"due": w.due_day.isoformat(), "grace_days": ctx.term.window.grace_days}),
            since=w.missed_at,
            days_overdue=(ctx.today() - w.due_day).days,
        )
    return _pending(ctx, "deadline")


def _done_by(e, tz):
    """The latest instant by which the act surely happened.

    The end of the period it is dated to, but never after the report was recorded: a report
    cannot describe an act that had not happened yet. (Never before the act started, either,
    whatever a mistyped recording date says.)
    """
    return max(e.occurred_at + _SPANS["minute"], min(e.ends_at(tz), e.recorded_at))


def _judge_target(ctx, reports):
    w, rule = ctx.window, ctx.rule
    measurements = sorted(
        (e for e in reports if e.stance == "affirms" and e.value is not None), key=lambda e: (e.occurred_at, e.id)
    )

    def reached(value):
        return value <= rule.target if rule.direction == "at_most" else value >= rule.target

    before_due = [m for m in measurements if m.occurred_at < w.due_at]
    baseline = rule.baseline if rule.baseline is not None else (measurements[0].value if measurements else None)
    latest = measurements[-1] if measurements else None
    details = {
        "target": rule.target,
        "direction": rule.direction,
        "unit": rule.unit,
        "baseline": baseline,
        "latest": latest.value if latest else None,
        "series": [(m.occurred_at.isoformat(), m.value, m.id) for m in measurements],
    }
    if latest and baseline is not None and baseline != rule.target:
        details["progress"] = max(0.0, min(1.0, (baseline - latest.value) / (baseline - rule.target)))

    if ctx.as_of < w.due_at:
        extra = {"target": rule.target, "unit": rule.unit}
        if latest:
            extra.update(value=latest.value, measured=local_day(latest.occurred_at, ctx.tz).isoformat())
            extra.update(_source_params(latest))
        outcome = _pending(ctx, "target" if latest else "target.unmeasured", extra)
        return _Outcome(**{**outcome.__dict__, "details": details, "evidence": (latest.id,) if latest else ()})

    at_due = before_due[-1] if before_due else None
    if at_due and reached(at_due.value):
        # The status began when the final unbroken run of on-target measurements began.
        run_start = at_due
        for m in reversed(before_due):
            if not reached(m.value):
                break
            run_start = m
        params = {
            "value": at_due.value,
            "target": rule.target,
            "unit": rule.unit,
            "date": local_day(at_due.occurred_at, ctx.tz).isoformat(),
            "due": w.due_day.isoformat(),
            **_source_params(at_due),
        }
        return _Outcome(
            S.MET, Reason("target.met", params), since=run_start.occurred_at, evidence=(at_due.id,), details=details
        )
    late = next((m for m in measurements if m.occurred_at >= w.due_at and reached(m.value)), None)
    if late:
        params = {
            "value": late.value,
            "target": rule.target,
            "unit": rule.unit,
            "date": local_day(late.occurred_at, ctx.tz).isoformat(),
            "due": w.due_day.isoformat(),
            "days_late": (local_day(late.occurred_at, ctx.tz) - w.due_day).days,
            **_source_params(late),
        }
        return _Outcome(
            S.MET_LATE, Reason("target.met_late", params), since=late.occurred_at, evidence=(late.id,), details=details
        )
    if ctx.as_of >= w.missed_at:
        if at_due is None and latest is None:
            return _Outcome(
                S.NO_DATA,
                Reason("target.no_data", {"due": w.due_day.isoformat(), "target": rule.target, "unit": rule.unit}),
                since=w.missed_at,
                details=details,
            )
        deciding = at_due or latest
        params = {
            "value": deciding.value,
            "target": rule.target,
            "unit": rule.unit,
            "due": w.due_day.isoformat(),
            "date": local_day(deciding.occurred_at, ctx.tz).isoformat(),
            **_source_params(deciding),
        }
        # Nothing measured before the due date: the figure shown is a later one, and says so.
        code = "target.missed" if at_due else "target.missed_unmeasured_at_due"
        return _Outcome(
            S.MISSED,
            Reason(code, params),
            since=w.missed_at,
            evidence=(deciding.id,),
            days_overdue=(ctx.today() - w.due_day).days,
            details=details,
        )
    outcome = _pending(ctx, "target" if latest else "target.unmeasured", {"target": rule.target, "unit": rule.unit})
    return _Outcome(**{**outcome.__dict__, "details": details})


def _window_end(ctx):
    """The last instant evidence can count: now, or the window's close if earlier."""
    w = ctx.window
    return ctx.as_of if w.closes_at is None else min(ctx.as_of, w.closes_at)


def _in_window(w, e):
    """Opened at or after the window opens and before it closes (evaluate() already dropped events after as_of)."""
    return w.opens_at <= e.occurred_at and (w.closes_at is None or e.occurred_at < w.closes_at)


def _not_open(ctx):
    w = ctx.window
    return _Outcome(
        S.NOT_YET_DUE,
        Reason("window.not_open", {"opens": local_day(w.opens_at, ctx.tz).isoformat()}),
        since=None,
        days_left=(local_day(w.opens_at, ctx.tz) - ctx.today()).days,
    )


def _judge_ceiling(ctx, reports):
    w, rule, tz = ctx.window, ctx.rule, ctx.tz
    if ctx.as_of < w.opens_at:
        return _not_open(ctx)
    end = _window_end(ctx)
    first_day = local_day(w.opens_at, tz)
    last_day = local_day(end - timedelta(microseconds=1), tz) if end > w.opens_at else first_day

    # One entry per event: a group of reports of the same event counts once, on its earliest report.
    events, imprecise = {}, set()
    for e in sorted(reports, key=lambda e: (e.occurred_at, e.id)):
        if e.stance != "affirms" or not _in_window(w, e):
            continue
        if rule.period == "day" and e.precision not in ("minute", "day"):
            imprecise.add(e.event_key)
            continue
        events.setdefault(e.event_key, e)
    imprecise = len(imprecise - events.keys())
    per_day = {}
    for e in events.values():
        per_day.setdefault(local_day(e.occurred_at, tz), []).append(e)
    # as_of is inclusive: an event at exactly as_of (say, local midnight) counts, on its own day.
    last_day = max([last_day, *per_day])

    admin1s = _norm_set(rule.admin1)
    days = []
    day = first_day
    while day <= last_day:
        days.append(day)
        day += timedelta(days=1)
    covered_days = {d for d in days if covered(d, admin1s, ctx.coverage, ctx.known_at)}
    with_data = [d for d in days if d in covered_days or d in per_day]
    daily = [(d.isoformat(), len(per_day.get(d, ())) if d in covered_days or d in per_day else None) for d in days]
    details = {"limit": rule.limit, "period": rule.period, "daily": daily, "imprecise": imprecise}

    if rule.period == "window":
        ordered = sorted(events.values(), key=lambda e: (e.occurred_at, e.id))
        params = {"count": len(ordered), "limit": rule.limit, "days_with_data": len(with_data), "days": len(days)}
        details["count"] = len(ordered)
        if len(ordered) > rule.limit:
            crossing = ordered[rule.limit]
            params["date"] = local_day(crossing.occurred_at, tz).isoformat()
            return _Outcome(
                S.BREACHED,
                Reason("ceiling.window_breached", params),
                since=crossing.occurred_at,
                evidence=tuple(e.id for e in ordered),
                details=details,
            )
        if not with_data:
            return _Outcome(S.NO_DATA, Reason("ceiling.no_data", params), since=w.opens_at, details=details)
        return _Outcome(
            S.IN_COMPLIANCE,
            Reason("ceiling.window_ok", params),
            since=w.opens_at,
            evidence=tuple(e.id for e in ordered),
            details=details,
        )

    breached, since, clean = False, w.opens_at, 0
    breached_days, episode_evidence = [], ()
    for day in days:
        todays = sorted(per_day.get(day, ()), key=lambda e: (e.occurred_at, e.id))
        if len(todays) > rule.limit:
            if not breached:
                breached, since = True, todays[rule.limit].occurred_at
                episode_evidence = ()
            breached_days.append(day)
            episode_evidence += tuple(e.id for e in todays)
            clean = 0
        elif breached and (day in covered_days or day in per_day) and day_start(day + timedelta(days=1), tz) <= end:
            clean += 1
            if rule.recovery_days is not None and clean >= rule.recovery_days:
                breached, since, clean = False, day_start(day + timedelta(days=1), tz), 0
    details["breached_days"] = [d.isoformat() for d in breached_days]
    params = {
        "limit": rule.limit,
        "days_with_data": len(with_data),
        "days": len(days),
        "breached_days": len(breached_days),
    }
    if breached:
        worst = max(breached_days, key=lambda d: len(per_day[d]))
        params.update(
            date=breached_days[-1].isoformat(), count=len(per_day[breached_days[-1]]), worst=len(per_day[worst])
        )
        return _Outcome(S.BREACHED, Reason("ceiling.breached", params), since, episode_evidence, details=details)
    if not with_data:
        return _Outcome(S.NO_DATA, Reason("ceiling.no_data", params), since=w.opens_at, details=details)
    code = "ceiling.recovered" if breached_days else "ceiling.ok"
    if breached_days:
        params["last_breach"] = breached_days[-1].isoformat()
    return _Outcome(S.IN_COMPLIANCE, Reason(code, params), since=since, details=details)


def _judge_prohibition(ctx, reports):
    w, rule, tz = ctx.window, ctx.rule, ctx.tz
    if ctx.as_of < w.opens_at:
        return _not_open(ctx)
    end = _window_end(ctx)
    violations = sorted(
        (e for e in reports if e.stance == "affirms" and _in_window(w, e)),
        key=lambda e: (e.occurred_at, e.id),
    )
    details = {"violations": [v.id for v in violations]}
    since, episode = w.opens_at, []
    for v in violations:
        if episode and rule.recovery_days is not None:
            over_at = day_start(local_day(episode[-1].occurred_at, tz) + timedelta(days=1 + rule.recovery_days), tz)
            if v.occurred_at >= over_at:
                episode = []
        if not episode:
            since = v.occurred_at
        episode.append(v)
    if episode and rule.recovery_days is not None:
        over_at = day_start(local_day(episode[-1].occurred_at, tz) + timedelta(days=1 + rule.recovery_days), tz)
        if end >= over_at:
            params = {"last": local_day(episode[-1].occurred_at, tz).isoformat(), "days": rule.recovery_days}
            return _Outcome(S.IN_COMPLIANCE, Reason("prohibition.recovered", params), since=over_at, details=details)
    if episode:
        first = episode[0]
        params = {
            "date": local_day(first.occurred_at, tz).isoformat(),
            "count": len({v.event_key for v in episode}),  # violations are events, not reports
            **_source_params(first),
        }
        return _Outcome(
            S.BREACHED,
            Reason("prohibition.breached", params),
            since=since,
            evidence=tuple(v.id for v in episode),
            details=details,
        )
    params = {"opens": local_day(w.opens_at, tz).isoformat()}
    return _Outcome(S.IN_COMPLIANCE, Reason("prohibition.ok", params), since=w.opens_at, details=details)


_JUDGES = {
    "deadline": _judge_deadline,
    "target": _judge_target,
    "ceiling": _judge_ceiling,
    "prohibition": _judge_prohibition,
}
