"""Which reports can speak to which commitment: qualification, the evidence index, and `affected`."""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from monitor.verdicts.engine.kinds import kind_of
from monitor.verdicts.engine.values import COUNTS, CONTESTED, TIME_ORDER, Evidence, norm_set
from terms.rules import normalize_name


def _candidates(index, term, anchor_day, as_of):
    """The qualifying reports that can decide this commitment's verdict as of `as_of`."""
    span = _span(term, anchor_day)
    if span is None:
        return [], []
    opens, closes = span
    return index.qualified(term, opens=opens, closes=closes, until=as_of)


def _span(term, anchor_day):
    """(opens, closes): when a report must have happened to decide this commitment; None: none can.

    What the judge of its kind looks at (its `reads`). Nothing decides a commitment not
    tracked, not signed, or whose anchor is not met.
    """
    if not term.tracked:
        return None
    if term.window.anchor == "signing":
        anchor_day = term.signed_on
    if anchor_day is None:
        return None
    return kind_of(term.kind).reads(term.window.resolve(anchor_day, term.tz))


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
            lists = [[row for row in every if _counts_without_category(term, owing, row)]]
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
        for e in sorted(evidence, key=TIME_ORDER):
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
            rows = [*linked, *(row for row in self.all if _counts_without_category(term, owing, row))]
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
            out.sort(key=TIME_ORDER)
        if len(contested) > 1 or overlap:
            disputed.sort(key=TIME_ORDER)
        return out, disputed


def _by_standing(rows, until):
    counting, contested = [], []
    for row in rows:
        if until is None or row.occurred_at <= until:
            (counting if row.standing == COUNTS else contested).append(row.e)
    counting.sort(key=TIME_ORDER)
    contested.sort(key=TIME_ORDER)
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
        self._joints = {}  # (category, field, place) -> {frozenset of folded actors: _Rows}

    def file(self, category, row):
        rows = self.by_category.get(category)
        if rows is None:
            self.by_category[category] = [row]
        else:
            rows.append(row)

    def lists(self, term):
        """The lists of rows (each a _Rows, in time order) whose union is what the rule can count."""
        rule = term.rule
        places = [("admin1", a) for a in norm_set(rule.admin1)]
        places += [("location", loc) for loc in norm_set(rule.locations)]
        owing = frozenset().union(*(p.names for p in term.owing)) if rule.attribution != "any" else ()
        joint_only = _joint_only(term)
        out = []
        for category in norm_set(rule.categories):
            if category not in self.by_category:
                continue
            for field_, place in places or [(None, None)]:
                if rule.attribution == "any":
                    rows = self._rows(category, field_, place)
                    if rows:
                        out.append(rows)
                    continue
                if not joint_only:
                    actors = self._actors(category, field_, place)
                    out += [actors[name] for name in owing if name in actors]
                # Acts whose acting side names several actors ("Ukraine; DPR"): few distinct sets, each tried once.
                for pieces, rows in self._joint(category, field_, place).items():
                    if _joint_counts(term, owing, pieces, joint_only):
                        out.append(rows)
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
            # A joint acting side ("Ukraine; DPR") is filed by the actors it names (`_joint`), not here.
            rows = [row for row in self._rows(category, field_, place).rows if JOINT_SEPARATOR not in row.e.actor1]
            self._by_actor[key] = _split(rows, _ACTOR)
        return self._by_actor[key]

    def _joint(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._joints:
            rows = [row for row in self._rows(category, field_, place).rows if JOINT_SEPARATOR in row.e.actor1]
            self._joints[key] = _split(rows, lambda row: _pieces(row.e.actor1))
        return self._joints[key]

    def _unidentified_rows(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._unidentified:
            self._unidentified[key] = _Rows(
                row for row in self._rows(category, field_, place).rows
                if _attributed_name("owing_or_unidentified", (), row.actor)
            )
        return self._unidentified[key]


_EMPTY = _Rows()


def _counts_without_category(term, owing, row):
    """For a rule naming no category: a report not linked by hand, in its places, by whom it says."""
    rule = term.rule
    if row.e.commitment_id is not None:
        return False  # linked to this commitment (counted already) or to another: not evidence here
    admin1s, locations = norm_set(rule.admin1), norm_set(rule.locations)
    if (admin1s or locations) and row.admin1 not in admin1s and row.location not in locations:
        return False
    return _acts_count(term, owing, row.actor, row.e.actor1)


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


_ACTOR = attrgetter("actor")


def qualifies(term, e):
    """Does this report speak to this commitment, by its rule or a hand-made link?"""
    if e.commitment_id == term.id:
        return True
    if e.commitment_id is not None and e.commitment_id != term.id and not term.rule.categories:
        # A report linked by hand to another commitment is not evidence for a rule that names no category.
        return False
    rule = term.rule
    if rule.categories:
        wanted = norm_set(rule.categories)
        if normalize_name(e.category) not in wanted and normalize_name(e.sub_category) not in wanted:
            return False
    if rule.admin1 or rule.locations:
        in_admin1 = normalize_name(e.admin1) in norm_set(rule.admin1)
        in_location = normalize_name(e.location) in norm_set(rule.locations)
        if not (in_admin1 or in_location):
            return False
    return _attributed(term, e)


def _attributed(term, e):
    owing = frozenset().union(*(p.names for p in term.owing))
    return _acts_count(term, owing, normalize_name(e.actor1), e.actor1)


# An acting side naming several actors, as ACLED lists associated actors: "Ukraine; DPR".
JOINT_SEPARATOR = ";"


@lru_cache(maxsize=4096)
def _pieces(raw):
    """The folded names of the actors a joint acting side names; None when it names one."""
    if JOINT_SEPARATOR not in (raw or ""):
        return None
    return frozenset(filter(None, (normalize_name(part) for part in raw.split(JOINT_SEPARATOR))))


def _joint_only(term):
    """Does only an act naming every owing party together count (`share: jointly`)?

    Only for kinds that are met by an act or a figure: a limit shared `jointly` (a ceiling, a
    prohibition: their kind's module says `LIMITS_ACTS`) counts every act by any of them.
    """
    return (
        term.share == "jointly" and len(term.owing) > 1 and term.rule.attribution != "any"
        and not getattr(kind_of(term.kind), "LIMITS_ACTS", False)
    )


def _joint_counts(term, owing, pieces, joint_only):
    if joint_only:
        return all(not p.names.isdisjoint(pieces) for p in term.owing)
    return not owing.isdisjoint(pieces)


def _acts_count(term, owing, actor, raw):
    """Does an act by this acting side (`actor` folded, `raw` as reported) count for `term`?

    An act counts for a party when its acting side is one of the party's names, or names it
    among several actors ("Ukraine; DPR"); shared `jointly`, only an act naming every owing
    party counts (`_joint_only`). Unidentified actors as `_attributed_name` says.
    """
    attribution = term.rule.attribution
    if attribution == "any":
        return True
    if attribution == "owing_or_unidentified" and (not actor or actor.startswith("unidentified")):
        return True
    pieces = _pieces(raw)
    joint_only = _joint_only(term)
    if pieces is not None:
        return _joint_counts(term, owing, pieces, joint_only)
    return not joint_only and actor in owing


def _attributed_name(attribution, owing_names, actor):
    if attribution == "any" or actor in owing_names:
        return True
    # Unidentified actors never count against a party unless the rule says so.
    return attribution == "owing_or_unidentified" and (not actor or actor.startswith("unidentified"))

