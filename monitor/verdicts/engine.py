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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import NamedTuple
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


class CoverageIndex:
    """The covered days of many rules, as known at one cutoff: `covered` for every day, worked out once.

    A sweep asks, for every ceiling, whether each day of its window is covered: thousands of
    ceilings times thousands of days times every coverage period. Here the periods in force at
    the cutoff are merged once into intervals of days, countrywide and per province, and a rule's
    covered days are worked out once per set of provinces it names. It answers as `covered` does
    (a test holds the two equal).
    """

    def __init__(self, periods, known_at):
        self.countrywide = []
        self.provinces = {}
        for p in periods:
            if p.recorded_at > known_at:
                continue
            span = (p.starts_on, p.ends_on or date.max)
            if p.admin1:
                self.provinces.setdefault(normalize_name(p.admin1), []).append(span)
            else:
                self.countrywide.append(span)
        self.countrywide = _union(self.countrywide)
        self._spans = {}

    def spans(self, admin1s):
        """Sorted, disjoint (first, last) days covered for a rule naming these provinces."""
        if admin1s not in self._spans:
            spans = self.countrywide
            if admin1s:
                everywhere = None
                for name in admin1s:
                    province = _union(self.provinces.get(name, ()))
                    everywhere = province if everywhere is None else _intersection(everywhere, province)
                spans = _union(spans + everywhere)
            self._spans[admin1s] = spans
        return self._spans[admin1s]

    def days(self, admin1s, first, last):
        """The covered days from `first` to `last`, in order."""
        out = []
        for start, end in self.spans(admin1s):
            start, end = max(start, first), min(end, last)
            day = start
            while day <= end:
                out.append(day)
                day += _ONE_DAY
        return out

    def count(self, admin1s, first, last):
        """How many days from `first` to `last` are covered."""
        n = 0
        for start, end in self.spans(admin1s):
            start, end = max(start, first), min(end, last)
            if start <= end:
                n += (end - start).days + 1
        return n

    def covers(self, admin1s, day):
        spans = self.spans(admin1s)
        i = bisect_right(spans, (day, date.max)) - 1
        return i >= 0 and spans[i][0] <= day <= spans[i][1]

    def nth_after(self, admin1s, day, n):
        """The n-th covered day (1 is the first) after `day`; None if there is no such day."""
        for start, end in self.spans(admin1s):
            start = max(start, day + _ONE_DAY)
            if start > end:
                continue
            length = (end - start).days + 1 if end < date.max else n
            if n <= length:
                return start + timedelta(days=n - 1)
            n -= length
        return None


_ONE_DAY = timedelta(days=1)


def _union(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and (merged[-1][1] == date.max or start <= merged[-1][1] + _ONE_DAY):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersection(a, b):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start <= end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


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

    if qualified is None:
        counting, contested = [], []
        for e in evidence:
            if e.occurred_at <= as_of and qualifies(term, e):
                standing = e.standing_at(known_at)
                if standing == COUNTS:
                    counting.append(e)
                elif standing == CONTESTED:
                    contested.append(e)
        counting.sort(key=_TIME_ORDER)
        contested.sort(key=_TIME_ORDER)
    else:
        counting, contested = qualified
    tz = term.tz
    window = term.window.resolve(anchor_day, tz)
    if not isinstance(coverage, CoverageIndex):
        coverage = CoverageIndex(coverage, known_at)
    ctx = _Context(term, window, tz, as_of, known_at, coverage, due_soon_days, details,
                   {} if local_days is None else local_days)

    # Judges read reports in time order (occurred_at, then id), so they slice windows and never sort.
    judge = _JUDGES[term.kind]
    strict = judge(ctx, counting)
    if contested:
        loose = judge(ctx, sorted(counting + contested, key=_TIME_ORDER))  # two sorted runs: merged, not sorted
        if loose.status != strict.status:
            strict = _Outcome(
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


def _candidates(index, term, anchor_day, as_of):
    """The qualifying reports that can decide this commitment's verdict as of `as_of`."""
    span = _span(term, anchor_day)
    if span is None:
        return [], []
    opens, closes = span
    return index.qualified(term, opens=opens, closes=closes, until=as_of)


def _span(term, anchor_day):
    """(opens, closes): when a report must have happened to decide this commitment; None: none can.

    Mirrors what the judges look at: a target weighs every measurement (None, None); a
    deadline only acts from the window's opening, and denials after them (opens, None); a
    ceiling or a prohibition only events inside the window (opens, closes). Nothing decides
    a commitment not tracked, not signed, or whose anchor is not met.
    """
    if not term.tracked:
        return None
    if term.window.anchor == "signing":
        anchor_day = term.signed_on
    if anchor_day is None:
        return None
    if term.kind == "target":
        return None, None
    window = term.window.resolve(anchor_day, term.tz)
    return window.opens_at, window.closes_at if term.kind in ("ceiling", "prohibition") else None


@dataclass(frozen=True)
class Change:
    """Changed reports of one shape: what a re-evaluation needs to know about them, and nothing else.

    The reports given to a re-evaluation and their earlier versions, grouped by everything a
    rule can select on; `first` and `last` are the earliest and latest instants any of them
    says it happened.
    """

    category: str
    sub_category: str
    admin1: str
    location: str
    actor1: str
    commitment_id: int | None
    first: datetime
    last: datetime


def affected(terms, changes, *, as_of):
    """Ids of the commitments among `terms` whose verdict as of `as_of` these changes may move.

    A commitment is affected when a changed report is linked to it by hand, or its rule would
    count one (categories, places, attribution: the very lists `EvidenceIndex.qualified` reads)
    that happened when a report can decide it (`_span`; a commitment counted from another is
    judged whenever it happened, since its window is not known before its anchor is judged);
    and, transitively, when it is counted from an affected one.
    """
    shelf, every, linked = _Shelf(), [], set()
    for change in sorted(changes, key=attrgetter("first")):
        row = _Row(
            change.first, change, COUNTS, normalize_name(change.admin1), normalize_name(change.location),
            normalize_name(change.actor1),
        )
        every.append(row)
        category, sub_category = normalize_name(change.category), normalize_name(change.sub_category)
        shelf.file(category, row)
        if sub_category != category:
            shelf.file(sub_category, row)
        if change.commitment_id is not None:
            linked.add(change.commitment_id)

    def touched(term):
        span = _span(term, None) if term.window.anchor == "signing" else ((None, None) if term.tracked else None)
        if span is None:
            return False
        opens, closes = span
        if term.rule.categories:
            lists = [rows.rows for rows in shelf.lists(term)]
        else:
            owing = frozenset().union(*(p.names for p in term.owing))
            lists = [[row for row in every if _counts_without_category(term.rule, owing, row)]]
        for rows in lists:
            for row in rows:  # in order of `first`
                if row.e.first > as_of or (closes is not None and row.e.first >= closes):
                    break
                if opens is None or row.e.last >= opens:
                    return True
        return False

    hit = {t.id for t in terms if t.id in linked or touched(t)}
    dependents = {}
    for t in terms:
        if t.window.anchor == "commitment" and t.window.anchor_commitment_id is not None:
            dependents.setdefault(t.window.anchor_commitment_id, []).append(t.id)
    pending = list(hit)
    while pending:
        for dependent in dependents.get(pending.pop(), ()):
            if dependent not in hit:
                hit.add(dependent)
                pending.append(dependent)
    return hit


def anchors_of(terms, ids):
    """`ids` and every commitment among `terms` they are counted from, transitively: what judging them needs."""
    by_id = {t.id: t for t in terms}
    needed, pending = set(), list(ids)
    while pending:
        term_id = pending.pop()
        if term_id in needed or term_id not in by_id:
            continue
        needed.add(term_id)
        term = by_id[term_id]
        if term.window.anchor == "commitment" and term.window.anchor_commitment_id is not None:
            pending.append(term.window.anchor_commitment_id)
    return needed


class EvidenceIndex:
    """The evidence sorted once for many commitments, as known at one cutoff.

    Without it a sweep would weigh and normalise every report once per commitment
    (10,000 x 1,000,000). Here each report is weighed once, its names folded once, and
    filed by category in time order; the first commitment to ask for a province, a place
    or a party within a category splits that category's reports by it, once, for every
    commitment after it. A commitment then reads only the reports its rule can count,
    and of those only the ones in the span of time it asks for, as slices of lists. The
    result is the same as `evaluate` sifting the whole list (a test holds the two equal).

    Disputed reports are filed apart and returned whatever the span: they are few, and
    the verdict says how many there were.
    """

    def __init__(self, evidence, known_at):
        self.all = []
        self.counting = _Shelf()
        self.contested = _Shelf()
        self.by_commitment = {}
        for e in sorted(evidence, key=_TIME_ORDER):
            standing = e.standing_at(known_at)
            if standing not in (COUNTS, CONTESTED):
                continue  # not yet known, rejected, or too weak to decide anything
            row = _Row(
                e.occurred_at, e, standing, normalize_name(e.admin1), normalize_name(e.location),
                normalize_name(e.actor1),
            )
            self.all.append(row)
            shelf = self.counting if standing == COUNTS else self.contested
            category, sub_category = normalize_name(e.category), normalize_name(e.sub_category)
            shelf.file(category, row)
            if sub_category != category:
                shelf.file(sub_category, row)
            if e.commitment_id is not None:
                self.by_commitment.setdefault(e.commitment_id, []).append(row)

    def qualified(self, term, *, opens=None, closes=None, until=None):
        """(counting reports, disputed reports) that qualify for `term` and happened by `until`.

        Counting reports only from `opens` (inclusive) to `closes` (exclusive), when given;
        disputed ones, and those linked to it by hand, whenever they happened.
        """
        rule = term.rule
        linked = self.by_commitment.get(term.id, ())
        if not rule.categories:
            owing = frozenset().union(*(p.names for p in term.owing))
            rows = [*linked, *(row for row in self.all if _counts_without_category(rule, owing, row))]
            return _by_standing(rows, until)
        counting, contested = self.counting.lists(term), self.contested.lists(term)
        # A report can sit in two lists when the rule names its category and its sub-category, its
        # province and its place, or counts unidentified actors besides the owing parties; and a
        # report linked by hand can sit in one too. Then each is taken once.
        overlap = bool(linked) or len(rule.categories) > 1 or (rule.admin1 and rule.locations) or (
            rule.attribution == "owing_or_unidentified"
        )
        if len(counting) == 1:
            out = counting[0].between(opens, closes, until)
        else:
            out = []
            for rows in counting:
                out += rows.between(opens, closes, until)
        disputed = []
        for rows in contested:
            disputed += rows.between(None, None, until)
        if overlap:
            first, second = _by_standing(linked, until)
            seen = set()
            out = [e for e in first + out if not (e.id in seen or seen.add(e.id))]
            disputed = [e for e in second + disputed if not (e.id in seen or seen.add(e.id))]
        if len(counting) > 1 or overlap:
            out.sort(key=_TIME_ORDER)
        if len(contested) > 1 or overlap:
            disputed.sort(key=_TIME_ORDER)
        return out, disputed


def _by_standing(rows, until):
    counting, contested = [], []
    for row in rows:
        if until is None or row.occurred_at <= until:
            (counting if row.standing == COUNTS else contested).append(row.e)
    counting.sort(key=_TIME_ORDER)
    contested.sort(key=_TIME_ORDER)
    return counting, contested


class _Rows:
    """Rows in time order, with their instants and their reports alongside: bisected and sliced, not walked."""

    __slots__ = ("rows", "times", "reports")

    def __init__(self, rows=()):
        self.rows = rows if isinstance(rows, list) else list(rows)
        self.times = [row.occurred_at for row in self.rows]
        self.reports = [row.e for row in self.rows]

    def __bool__(self):
        return bool(self.rows)

    def between(self, opens, closes, until):
        """The reports from `opens` (inclusive) to `closes` (exclusive) and up to `until` (inclusive)."""
        times = self.times
        low = 0 if opens is None else bisect_left(times, opens)
        high = len(times)
        if closes is not None:
            high = bisect_left(times, closes, low, high)
        if until is not None:
            high = bisect_right(times, until, low, high)
        return self.reports[low:high]


class _Shelf:
    """Rows of one standing by folded category, split further by place and actor on first use."""

    def __init__(self):
        self.by_category = {}  # category -> rows, as filed
        self._categories = {}  # category -> _Rows, made on first use
        self._by_place = {}  # (category, "admin1"|"location") -> {place: _Rows}
        self._by_actor = {}  # (category, field, place) -> {actor: _Rows}
        self._unidentified = {}  # (category, field, place) -> _Rows

    def file(self, category, row):
        rows = self.by_category.get(category)
        if rows is None:
            self.by_category[category] = [row]
        else:
            rows.append(row)

    def lists(self, term):
        """The lists of rows (each a _Rows, in time order) whose union is what the rule can count."""
        rule = term.rule
        places = [("admin1", a) for a in _norm_set(rule.admin1)]
        places += [("location", loc) for loc in _norm_set(rule.locations)]
        owing = frozenset().union(*(p.names for p in term.owing)) if rule.attribution != "any" else ()
        out = []
        for category in _norm_set(rule.categories):
            if category not in self.by_category:
                continue
            for field_, place in places or [(None, None)]:
                if rule.attribution == "any":
                    rows = self._rows(category, field_, place)
                    if rows:
                        out.append(rows)
                    continue
                actors = self._actors(category, field_, place)
                out += [actors[name] for name in owing if name in actors]
                if rule.attribution == "owing_or_unidentified":
                    rows = self._unidentified_rows(category, field_, place)
                    if rows:
                        out.append(rows)
        return out

    def _rows(self, category, field_, place):
        if field_ is None:
            if category not in self._categories:
                self._categories[category] = _Rows(self.by_category.get(category, []))
            return self._categories[category]
        key = (category, field_)
        if key not in self._by_place:
            self._by_place[key] = _split(self.by_category.get(category, ()), attrgetter(field_))
        return self._by_place[key].get(place, _EMPTY)

    def _actors(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._by_actor:
            self._by_actor[key] = _split(self._rows(category, field_, place).rows, _ACTOR)
        return self._by_actor[key]

    def _unidentified_rows(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._unidentified:
            self._unidentified[key] = _Rows(
                row for row in self._rows(category, field_, place).rows
                if _attributed_name("owing_or_unidentified", (), row.actor)
            )
        return self._unidentified[key]


_EMPTY = _Rows()


def _counts_without_category(rule, owing, row):
    """For a rule naming no category: a report not linked by hand, in its places, by whom it says."""
    if row.e.commitment_id is not None:
        return False  # linked to this commitment (counted already) or to another: not evidence here
    admin1s, locations = _norm_set(rule.admin1), _norm_set(rule.locations)
    if (admin1s or locations) and row.admin1 not in admin1s and row.location not in locations:
        return False
    return _attributed_name(rule.attribution, owing, row.actor)


def _split(rows, key):
    out = {}
    for row in rows:
        k = key(row)
        part = out.get(k)
        if part is None:
            out[k] = [row]
        else:
            part.append(row)
    return {k: _Rows(part) for k, part in out.items()}


class _Row(NamedTuple):
    """A report as filed: its standing and folded names beside it (a tuple: a million are made per sweep)."""

    occurred_at: datetime
    e: Evidence
    standing: str
    admin1: str
    location: str
    actor: str


_TIME_ORDER = attrgetter("occurred_at", "id")
_DAY_PRECISE = frozenset(("minute", "day"))
_OCCURRED = attrgetter("occurred_at")
_ACTOR = attrgetter("actor")


# --- internals -------------------------------------------------------------


@dataclass
class _Context:
    term: Term
    window: object
    tz: ZoneInfo
    as_of: datetime
    known_at: datetime
    coverage: CoverageIndex
    due_soon_days: int
    details: bool = True  # the sweep records statuses, reasons and evidence, never the charts' series
    days: dict = field(default_factory=dict)  # report id -> local day, in this commitment's zone

    @property
    def rule(self):
        return self.term.rule

    def day_of(self, e):
        """The local day a report happened on (the judges ask for the same reports again and again)."""
        day = self.days.get(e.id)
        if day is None:
            day = self.days[e.id] = e.occurred_at.astimezone(self.tz).date()
        return day

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
    # The first act is the one surely done first (by `_done_by`, then id). An act is never done
    # before a minute after it started, so once acts start later than that, none can come first.
    first, first_key = None, None
    for i in range(bisect_left(reports, w.opens_at, key=_OCCURRED), len(reports)):
        e = reports[i]
        if first is not None and e.occurred_at + _SPANS["minute"] > first_key[0]:
            break
        if e.stance != "affirms":
            continue
        key = (_done_by(e, ctx.tz), e.id)
        if first is None or key < first_key:
            first, first_key = e, key
    if first is not None:
        start = bisect_left(reports, first.occurred_at, key=_OCCURRED)
        denial = next((e for e in reports[start:] if e.stance == "denies"), None)
        if denial is not None:
            return _Outcome(
                S.DISPUTED,
                Reason("disputed.denied", {"act": first.id, "denial": denial.id, **_source_params(denial)}),
                since=max(first.occurred_at, denial.occurred_at),
                evidence=(first.id, denial.id),
            )
        day = local_day(first.occurred_at, ctx.tz)
        params = {"date": day.isoformat(), "due": w.due_day.isoformat(), **_source_params(first)}
        done_by = _done_by(first, ctx.tz)
        if done_by <= w.due_at:
            params["days_early"] = (w.due_day - day).days
            return _Outcome(S.MET, Reason("deadline.met", params), since=first.occurred_at, evidence=(first.id,))
        # An act known only to within a period that straddles the due date is late by the period's
        # last possible day, and the status cannot have begun before the deadline passed: until it
        # has, nothing is late and the deadline is still pending (a verdict never begins after as_of).
        if ctx.as_of < w.due_at:
            return _pending(ctx, "deadline")
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
    measurements = [e for e in reports if e.stance == "affirms" and e.value is not None]

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


def _window_slice(w, reports):
    """The reports (in time order) that happened in the window: from its opening, before it closes."""
    low = bisect_left(reports, w.opens_at, key=_OCCURRED)
    high = len(reports) if w.closes_at is None else bisect_left(reports, w.closes_at, low, key=_OCCURRED)
    return reports[low:high]


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
    per_day_only = rule.period == "day"
    for e in _window_slice(w, reports):
        if e.stance != "affirms":
            continue
        key = e.id if e.event_id is None else ("event", e.event_id)  # e.event_key, without a tuple per report
        if per_day_only and e.precision not in _DAY_PRECISE:
            imprecise.add(key)
            continue
        if key not in events:
            events[key] = e
    imprecise = len(imprecise - events.keys())
    per_day = {}  # each day's events, in time order (the order they were found in)
    for e in events.values():
        day = ctx.day_of(e)
        if day in per_day:
            per_day[day].append(e)
        else:
            per_day[day] = [e]
    # as_of is inclusive: an event at exactly as_of (say, local midnight) counts, on its own day.
    last_day = max([last_day, *per_day])

    days = (last_day - first_day).days + 1
    # The days with data: covered ones, and uncovered ones with an event (a source reported it).
    admin1s = _norm_set(rule.admin1)
    coverage = ctx.coverage
    uncovered_event_days = sorted(d for d in per_day if not coverage.covers(admin1s, d))
    days_with_data = coverage.count(admin1s, first_day, last_day) + len(uncovered_event_days)
    details = {}
    if ctx.details:
        covered_set = set(coverage.days(admin1s, first_day, last_day))
        daily = []
        day = first_day
        while day <= last_day:
            n = per_day.get(day)
            daily.append((day.isoformat(), len(n) if n else (0 if day in covered_set else None)))
            day += _ONE_DAY
        details = {"limit": rule.limit, "period": rule.period, "daily": daily, "imprecise": imprecise}

    if rule.period == "window":
        ordered = list(events.values())  # found in time order
        params = {"count": len(ordered), "limit": rule.limit, "days_with_data": days_with_data, "days": days}
        if ctx.details:
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
        if not days_with_data:
            return _Outcome(S.NO_DATA, Reason("ceiling.no_data", params), since=w.opens_at, details=details)
        return _Outcome(
            S.IN_COMPLIANCE,
            Reason("ceiling.window_ok", params),
            since=w.opens_at,
            evidence=tuple(e.id for e in ordered),
            details=details,
        )

    # Day by day, but only the days with events are visited: between two of them every day with
    # data is a covered day without events, so the clean days in a gap are counted from the
    # covered days, not walked one by one (a window can be years long, and a sweep has thousands).
    # A day counts as clean only once it is complete: it starts before `end` ends it.
    last_complete = local_day(end, tz) - _ONE_DAY
    breached, since, clean = False, w.opens_at, 0
    breached_days, episode_evidence = [], ()

    def recover_in_gap(after, until):
        """Count the complete covered days in (after, until] as clean; the breach may end on one."""
        nonlocal breached, since, clean
        until = min(until, last_complete)
        if until <= after:
            return
        k = coverage.count(admin1s, after + _ONE_DAY, until)
        if k and rule.recovery_days is not None and clean + k >= rule.recovery_days:
            recovered_on = coverage.nth_after(admin1s, after, max(rule.recovery_days - clean, 1))
            breached, since, clean = False, day_start(recovered_on + _ONE_DAY, tz), 0
        else:
            clean += k

    previous = None
    for day in sorted(per_day):
        if breached:
            recover_in_gap(previous, day - _ONE_DAY)
        todays = per_day[day]
        if len(todays) > rule.limit:
            if not breached:
                breached, since = True, todays[rule.limit].occurred_at
                episode_evidence = ()
            breached_days.append(day)
            episode_evidence += tuple(e.id for e in todays)
            clean = 0
        elif breached and day <= last_complete:
            clean += 1
            if rule.recovery_days is not None and clean >= rule.recovery_days:
                breached, since, clean = False, day_start(day + _ONE_DAY, tz), 0
        previous = day
    if breached:
        recover_in_gap(previous, last_day)
    if ctx.details:
        details["breached_days"] = [d.isoformat() for d in breached_days]
    params = {
        "limit": rule.limit,
        "days_with_data": days_with_data,
        "days": days,
        "breached_days": len(breached_days),
    }
    if breached:
        worst = max(breached_days, key=lambda d: len(per_day[d]))
        params.update(
            date=breached_days[-1].isoformat(), count=len(per_day[breached_days[-1]]), worst=len(per_day[worst])
        )
        return _Outcome(S.BREACHED, Reason("ceiling.breached", params), since, episode_evidence, details=details)
    if not days_with_data:
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
    violations = [e for e in _window_slice(w, reports) if e.stance == "affirms"]
    details = {"violations": [v.id for v in violations]} if ctx.details else {}
    since, start = w.opens_at, 0
    if rule.recovery_days is not None and violations:
        # A violation on or after local day (last one's + 1 + recovery_days) starts a new episode:
        # an instant is at or after a local day's first instant exactly when its local day is that
        # day or later, so days are compared, not instants.
        gap = timedelta(days=1 + rule.recovery_days)
        over_on = None
        for i, v in enumerate(violations):
            day = ctx.day_of(v)
            if over_on is not None and day >= over_on:
                start = i
            over_on = day + gap
    episode = violations[start:]
    if episode:
        since = episode[0].occurred_at
    if episode and rule.recovery_days is not None:
        over_at = day_start(local_day(episode[-1].occurred_at, tz) + timedelta(days=1 + rule.recovery_days), tz)
        if end >= over_at:
            params = {"last": local_day(episode[-1].occurred_at, tz).isoformat(), "days": rule.recovery_days}
            return _Outcome(S.IN_COMPLIANCE, Reason("prohibition.recovered", params), since=over_at, details=details)
    if episode:
        first = episode[0]
        params = {
            "date": local_day(first.occurred_at, tz).isoformat(),
            # Violations are events, not reports (e.event_key, without a tuple per report).
            "count": len({v.id if v.event_id is None else ("event", v.event_id) for v in episode}),
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
