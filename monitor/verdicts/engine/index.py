"""Which reports can speak to which commitment: qualification, the evidence index, and `affected`."""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from datetime import UTC as _UTC, datetime
from itertools import islice
from operator import attrgetter
from typing import NamedTuple

from monitor.verdicts.engine.anchors import milestone_term
from monitor.verdicts.engine.kinds import kind_of
from monitor.verdicts.engine.values import (
    CONTEXT_LIMIT,
    CONTESTED,
    COUNTS,
    DAY_PRECISE,
    EXCLUDED,
    ONE_DAY,
    TIME_ORDER,
    WEAK,
    Evidence,
    norm_set,
)
from terms.rules import normalize_name


def _candidates(index, term, anchor_day, as_of):
    """The qualifying reports that can decide this commitment's verdict as of `as_of`."""
    span = _span(term, anchor_day)
    if span is None:
        return [], []
    opens, closes = span
    return index.qualified(term, opens=opens, closes=closes, until=as_of)


def _claims(index, term, anchor_day, as_of):
    """The claims below the counting grade that would decide this commitment's verdict if they counted."""
    span = _span(term, anchor_day)
    if span is None:
        return []
    opens, closes = span
    return index.claims(term, opens=opens, closes=closes, until=as_of)
def _context_candidates(index, term, anchor_day, as_of):
    """The context of this commitment's verdict as of `as_of` (`Verdict.context`), from the index."""
    span = _span(term, anchor_day)
    if span is None or not term.non_party_names:
        return ()
    opens, closes = span
    return index.context(term, opens=opens, closes=closes, until=as_of)


def context_of(term, evidence, span, *, as_of, known_at):
    """The same context, by sifting every report: what `EvidenceIndex.context` must equal.

    A report is context when the rule would count it but for its acting side, a non-party
    actor; it happened in the span the judge reads and by `as_of`; and it counts or is
    disputed as known at `known_at` (what is rejected, too weak or not yet known is not shown).
    """
    if span is None or not term.non_party_names:
        return ()
    opens, closes = span
    out = [
        e for e in evidence
        if e.occurred_at <= as_of and (opens is None or e.occurred_at >= opens)
        and (closes is None or e.occurred_at < closes) and in_context(term, e)
        and e.standing_at(known_at) in (COUNTS, CONTESTED)
    ]
    out.sort(key=TIME_ORDER)
    return _capped(out)


def next_report(term, evidence, after, known_at):
    """`EvidenceIndex.next_report`, by sifting every report: the same reports, so the same instant."""
    categories = norm_set(term.rule.categories)
    return min((
        e.occurred_at for e in evidence
        if e.occurred_at > after and e.standing_at(known_at) != EXCLUDED and (
            not categories or e.commitment_id == term.id
            or normalize_name(e.category) in categories or normalize_name(e.sub_category) in categories
        )
    ), default=None)


def _capped(reports):
    """Ids of the CONTEXT_LIMIT most recent of these reports (in time order), in time order."""
    return tuple(e.id for e in reports[-CONTEXT_LIMIT:])


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
    actor2: str = ""
    interaction: str = ""
    stance: str = "affirms"
    # Reports of a shape grouped as one event with others, or edited or deleted since they were written.
    grouped: bool = False
    edited: bool = False

    @property
    def adds_acts(self):
        """Only new reports of acts, each its own event: they can add to a breach, never undo one."""
        return self.stance == "affirms" and not self.grouped and not self.edited


def affected(terms, changes, *, as_of, standing=frozenset()):
    """Ids of the commitments among `terms` whose verdict as of `as_of` these changes may move.

    A commitment is affected when a changed report is linked to it by hand, or its rule would
    count one (categories, places, attribution: the very lists `EvidenceIndex.qualified` reads)
    that happened when a report can decide it (`_span`; a commitment counted from another is
    judged whenever it happened, since its window is not known before its anchor is judged);
    when it is counted from a milestone whose rule would count one that happened by `as_of`
    (whenever: the milestone may be reached earlier or later than it was); and, transitively,
    when it is counted from an affected one (whatever the moment: a report can move when an
    anchor is met, missed or first breached).

    `standing`: ids of commitments whose status new acts cannot move before their next check (their
    kind's `stands`: a ban breached, a deadline met...; the sweep's `_standing`). Changes that only
    add acts (`Change.adds_acts`) do not affect them, which is what keeps a stream of new events from
    re-judging every ban broken and every deadline met years ago (docs/architecture.md, "Re-evaluation").
    """
    shelf, every, linked = _Shelf(), [], set()
    for change in sorted(changes, key=attrgetter("first")):
        row = _Row(
            change.first, change, COUNTS, normalize_name(change.admin1), normalize_name(change.location),
            normalize_name(change.actor1), normalize_name(change.actor2),
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
        stands = term.id in standing
        # What the rule counts, and what it shows as context: a changed non-party act moves the context.
        if term.rule.categories:
            lists = [rows.rows for rows in shelf.lists(term) + shelf.context_lists(term)]
        else:
            owing = frozenset().union(*(p.names for p in term.owing))
            lists = [[
                row for row in every
                if _counts_without_category(term, owing, row) or _context_without_category(term, row)
            ]]
        for rows in lists:
            for row in rows:  # in order of `first`
                if row.e.first > as_of or (closes is not None and row.e.first >= closes):
                    break
                if (opens is None or row.e.last >= opens) and not (stands and row.e.adds_acts):
                    return True
        return False

    milestones = {}  # milestone id -> touched or not, asked once for its dependents

    def milestone_touched(term):
        m = term.anchor_milestone
        if term.window.anchor != "milestone" or m is None or not term.tracked:
            return False
        if m.id not in milestones:
            milestones[m.id] = touched(milestone_term(m, term.time_zone))
        return milestones[m.id]

    hit = {t.id for t in terms if t.id in linked or touched(t) or milestone_touched(t)}
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
    the verdict says how many there were. Reports that decide nothing (claims below the
    counting grade, rejected ones, ones not yet known at the cutoff) are filed on a shelf of
    their own: the claims can make a verdict "unconfirmed", and every one of them is listed
    as set aside, with its reason, when a verdict's details are asked for.
    """

    def __init__(self, evidence, known_at):
        self.all = []
        self.counting = _Shelf()
        self.contested = _Shelf()
        self.aside = _Shelf()
        self.all_aside = []
        self.by_commitment = {}
        self.aside_by_commitment = {}
        # Reports of a period, or dated only to a week or a month: one that began before a window can
        # still reach into it, so a commitment asking from its window's opening gets these too. Filed
        # again by category (and by hand-made link) in time order: scanning all of them for each
        # commitment was most of a sweep's time (years of ACLED data hold tens of thousands).
        self.spanning = []
        self.spanning_by_category = {}
        self.spanning_linked = {}
        self._reach = None
        # Counting denials, filed again here and returned whatever the span, as disputed reports are: one
        # dated before a window can still contest an act inside it (grouped with it, or by its period).
        self.denying = _Shelf()
        self.claiming = {}  # folded category -> claims below the counting grade (WEAK), in time order
        self.all_claims = []
        for e in _in_time_order(evidence):
            standing = e.standing_at(known_at)
            row = _Row(
                e.occurred_at, e, standing, normalize_name(e.admin1), normalize_name(e.location),
                normalize_name(e.actor1), normalize_name(e.actor2),
            )
            if standing in (COUNTS, CONTESTED):
                self.all.append(row)
                shelf = self.counting if standing == COUNTS else self.contested
                linked = self.by_commitment
            else:
                self.all_aside.append(row)
                shelf, linked = self.aside, self.aside_by_commitment
            category, sub_category = normalize_name(e.category), normalize_name(e.sub_category)
            shelf.file(category, row)
            if sub_category != category:
                shelf.file(sub_category, row)
            if e.commitment_id is not None:
                linked.setdefault(e.commitment_id, []).append(row)
            if e.occurred_until is not None or e.precision not in DAY_PRECISE:
                self.spanning.append(row)
                self.spanning_by_category.setdefault(category, []).append(row)
                if sub_category != category:
                    self.spanning_by_category.setdefault(sub_category, []).append(row)
                if e.commitment_id is not None:
                    self.spanning_linked.setdefault(e.commitment_id, []).append(row)
            if standing == COUNTS and e.stance == "denies":
                self.denying.file(category, row)
                if sub_category != category:
                    self.denying.file(sub_category, row)
            if standing == WEAK:  # claims, filed again apart from what never counts, for `next_report`
                self.claiming.setdefault(category, []).append(row)
                if sub_category != category:
                    self.claiming.setdefault(sub_category, []).append(row)
                self.all_claims.append(row)

    def next_report(self, term, after):
        """The earliest instant after `after` at which a report known at the cutoff that may speak to `term` happened.

        A report that happened after the instant judged decides nothing yet; it starts to count when
        its time comes, with no new evidence (`Verdict.next_check`). Any report filed under the
        rule's categories (all of them, for a rule naming none) that counts, is disputed or is a
        claim, wherever and by whomever, and any linked to it by hand: more than can count, found
        by bisecting the shelves, never by walking them. None: there is none.
        """
        found = []

        def first(rows):
            i = bisect_right(rows, after, key=_OCCURRED)
            if i < len(rows):
                found.append(rows[i].occurred_at)

        categories = norm_set(term.rule.categories)
        if categories:
            for category in categories:
                for rows in (self.counting.by_category.get(category), self.contested.by_category.get(category),
                             self.claiming.get(category)):
                    if rows:
                        first(rows)
        else:
            first(self.all)
            first(self.all_claims)
        first(self.by_commitment.get(term.id, ()))
        found += [
            row.occurred_at for row in self.aside_by_commitment.get(term.id, ())
            if row.standing == WEAK and row.occurred_at > after
        ]
        return min(found, default=None)

    def claims(self, term, *, opens=None, closes=None, until=None):
        """Claims below the counting grade that qualify for `term`, in the span asked, in time order."""
        seen = set()
        spanning = set(self._spanning_before(term, opens, until)) if opens is not None else set()
        out = [
            row.e for row in self._aside_rows(term)
            if row.standing == WEAK and (opens is None or row.occurred_at >= opens or row in spanning)
            and (closes is None or row.occurred_at < closes) and (until is None or row.occurred_at <= until)
            and not (row.e.id in seen or seen.add(row.e.id)) and qualifies(term, row.e)
        ]
        out.sort(key=TIME_ORDER)
        return out

    def speaking(self, term):
        """Every report that speaks to `term`, whatever its standing and whenever it happened: (report, standing).

        For a verdict's account of what it weighed and set aside (details only: the sweep never asks).
        """
        rule = term.rule
        if not rule.categories:
            owing = frozenset().union(*(p.names for p in term.owing))
            rows = [row for row in self.all if _counts_without_category(term, owing, row)]
        else:
            rows = [row for lists in (self.counting.lists(term), self.contested.lists(term)) for rs in lists
                    for row in rs.rows]
        rows += self.by_commitment.get(term.id, ())
        rows += self._aside_rows(term)
        seen = set()
        # The shelves' lists are what the rule takes (the lists `qualified` counts from, and the aside shelf's
        # alike), non-party actors' acts left out as context whatever the attribution: each report is listed
        # once, not tested again (a property test holds them equal to `qualifies`: tests/test_verdict_index.py).
        return [(row.e, row.standing) for row in rows if not (row.e.id in seen or seen.add(row.e.id))]

    def _aside_rows(self, term):
        rule = term.rule
        rows = list(self.aside_by_commitment.get(term.id, ()))
        if not rule.categories:
            owing = frozenset().union(*(p.names for p in term.owing))
            rows += [row for row in self.all_aside if _counts_without_category(term, owing, row)]
        else:
            rows += [row for rs in self.aside.lists(term) for row in rs.rows]
        return rows

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
        # Reading `either` actor, a report naming owing parties on both sides (a battle between two of them)
        # sits in the lists of both.
        overlap = bool(linked) or len(rule.categories) > 1 or (rule.admin1 and rule.locations) or (
            rule.attribution == "owing_or_unidentified"
        ) or (_reads_actor2(term) and (len(counting) > 1 or len(contested) > 1))
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
        before = []
        if opens is not None or closes is not None:
            for rows in self.denying.lists(term):
                before += rows.between(None, None, until)
        if opens is not None and self.spanning:
            before += [row.e for row in self._spanning_before(term, opens, until) if row.standing == COUNTS]
        if before:
            seen = {e.id for e in out}
            out += [e for e in before if e.id not in seen and not seen.add(e.id)]
            overlap = True
        if len(counting) > 1 or overlap:
            out.sort(key=TIME_ORDER)
        if len(contested) > 1 or overlap:
            disputed.sort(key=TIME_ORDER)
        return out, disputed

    def _spanning_before(self, term, opens, until):
        """Reports of a period (or a week, a month) that began before `opens`, reach past it, and qualify for `term`.

        One that ended by `opens` is outside the window by any reading, so no judge reads it (a deadline's
        judge and a ceiling's start at the opening; a prohibition takes conduct whose period runs into
        it): it is not looked for. The rest are found by bisecting the rule's categories' lists from
        the longest reach any of them has, never by walking them all.
        """
        if not self.spanning:
            return []
        if self._reach is None:
            # How far before the opening a report can begin and still reach past it: the longest span of
            # any, plus two days for the local day's end in any zone (ends are computed in the term's zone).
            self._reach = max(row.e.ends_at(_UTC) - row.occurred_at for row in self.spanning) + 2 * ONE_DAY
        try:
            low = opens - self._reach
        except OverflowError:  # a report dated to the end of time reaches everything
            low = None
        categories = norm_set(term.rule.categories)
        if categories:
            pools = [self.spanning_by_category.get(c, ()) for c in categories]
            pools.append(self.spanning_linked.get(term.id, ()))
        else:
            pools = [self.spanning]
        out, seen = [], set()
        for rows in pools:
            i = 0 if low is None else bisect_left(rows, low, key=_OCCURRED)
            for row in rows[i:bisect_left(rows, opens, i, key=_OCCURRED)]:
                if (until is None or row.occurred_at <= until) and row.e.id not in seen and (
                    row.e.ends_at(term.tz) > opens
                ) and qualifies(term, row.e):
                    seen.add(row.e.id)
                    out.append(row)
        if len(pools) > 1:
            out.sort(key=lambda row: TIME_ORDER(row.e))
        return out

    def context(self, term, *, opens=None, closes=None, until=None):
        """Ids of the reports that are context for `term` (`context_of`), from `opens` to `closes` and by `until`."""
        if not term.non_party_names:
            return ()
        if not term.rule.categories:
            rows = [row for row in self.all if _context_without_category(term, row)]
            reports = _Rows(rows).between(opens, closes, until)
        else:
            reports = []
            for rows in self.counting.context_lists(term) + self.contested.context_lists(term):
                reports += rows.between(opens, closes, until)
            # One report can sit in two lists (two categories, a province and a place, both actors). Reading
            # `either` actor, a report naming a non-party on one side and an owing party on the other counts.
            either = _reads_actor2(term)
            reports = sorted({
                e.id: e for e in reports if e.commitment_id != term.id and not (either and _attributed(term, e))
            }.values(), key=TIME_ORDER)
        return _capped(reports)


def _by_standing(rows, until):
    counting, contested = [], []
    for row in rows:
        if until is None or row.occurred_at <= until:
            (counting if row.standing == COUNTS else contested).append(row.e)
    counting.sort(key=TIME_ORDER)
    contested.sort(key=TIME_ORDER)
    return counting, contested


def _in_time_order(evidence):
    """The evidence in TIME_ORDER: as given when it already is (the sweep reads it so), else sorted.

    Sorting with a key holds a key per report besides the reports, tens of megabytes at a sweep's
    size; checking the order holds two at a time.
    """
    if isinstance(evidence, list) and all(map(_not_after, evidence, islice(evidence, 1, None))):
        return evidence
    return sorted(evidence, key=TIME_ORDER)


def _not_after(a, b):
    return TIME_ORDER(a) <= TIME_ORDER(b)


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
        self._by_actor2 = {}  # the same by the other actor (actor2), for rules reading `either` actor
        self._interacting = {}  # (id of a _Rows, interactions wanted) -> _Rows: those carrying one of them
        self._unidentified = {}  # (category, field, place, non-party names) -> _Rows
        self._others = {}  # (category, field, place, non-party names) -> _Rows: all but the non-parties' acts
        self._joints = {}  # (category, field, place) -> {frozenset of folded actors: _Rows}
        self._joints2 = {}  # the same by the other actor

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
        # A non-party actor's acts are never counted, whatever the attribution (they are context).
        non_party = term.non_party_names
        owing = frozenset().union(*(p.names for p in term.owing)) - non_party if rule.attribution != "any" else ()
        joint_only = _joint_only(term)
        either = _reads_actor2(term)
        out = []
        for category in norm_set(rule.categories):
            if category not in self.by_category:
                continue
            for field_, place in places or [(None, None)]:
                if rule.attribution == "any":
                    rows = self._without(category, field_, place, term)
                    if rows:
                        out.append(rows)
                    continue
                if not joint_only:
                    actors = self._actors(category, field_, place)
                    out += [actors[name] for name in owing if name in actors]
                    if either:
                        actors = self._actors2(category, field_, place)
                        out += [actors[name] for name in owing if name in actors]
                # Acts whose acting side names several actors ("Ukraine; DPR"): few distinct sets, each tried once.
                for pieces, rows in self._joint(category, field_, place).items():
                    if _joint_counts(term, owing, pieces, joint_only):
                        out.append(rows)
                if either:
                    for pieces, rows in self._joint2(category, field_, place).items():
                        if _joint_counts(term, owing, pieces, joint_only):
                            out.append(rows)
                if rule.attribution == "owing_or_unidentified":
                    rows = self._unidentified_rows(category, field_, place, term)
                    if rows:
                        out.append(rows)
        return self._with_interactions(out, rule)

    def _with_interactions(self, lists, rule):
        """Those of the rows carrying an interaction the rule names (`rule.interactions`); all when it names none."""
        if not rule.interactions:
            return lists
        wanted = norm_set(rule.interactions)
        out = []
        for rows in lists:
            key = (id(rows), wanted)  # a shelf's _Rows live as long as the shelf: their ids are never reused
            if key not in self._interacting:
                self._interacting[key] = _Rows(row for row in rows.rows if normalize_name(row.e.interaction) in wanted)
            if self._interacting[key]:
                out.append(self._interacting[key])
        return out

    def context_lists(self, term):
        """The lists of rows whose union is what the rule would count but for their acting side, a non-party actor.

        They may hold reports linked by hand to the commitment itself, which are evidence: the caller drops them.
        """
        non_party = term.non_party_names
        if not non_party:
            return []
        rule = term.rule
        places = [("admin1", a) for a in norm_set(rule.admin1)]
        places += [("location", loc) for loc in norm_set(rule.locations)]
        out = []
        for category in norm_set(rule.categories):
            if category not in self.by_category:
                continue
            for field_, place in places or [(None, None)]:
                actors = self._actors(category, field_, place)
                out += [actors[name] for name in non_party if name in actors]
                if _reads_actor2(term):
                    actors = self._actors2(category, field_, place)
                    out += [actors[name] for name in non_party if name in actors]
        return self._with_interactions(out, rule)

    def _without(self, category, field_, place, term):
        """The rows of a category (and place) but non-party actors' acts: made once per agreement's actors.

        Reading `either` actor, a report naming a non-party on one side is left out unless the other names an
        owing party (`_acts_count`).
        """
        rows = self._rows(category, field_, place)
        non_party, either = term.non_party_names, _reads_actor2(term)
        if not non_party or not (
            any(name in self._actors(category, field_, place) for name in non_party)
            or (either and any(name in self._actors2(category, field_, place) for name in non_party))
        ):
            return rows
        owing = frozenset().union(*(p.names for p in term.owing)) if either else frozenset()
        key = (category, field_, place, non_party, either, owing)
        if key not in self._others:
            if either:
                self._others[key] = _Rows(row for row in rows.rows if _row_counts(term, owing, row))
            else:
                self._others[key] = _Rows(row for row in rows.rows if row.actor not in non_party)
        return self._others[key]

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

    def _actors2(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._by_actor2:
            rows = [
                row for row in self._rows(category, field_, place).rows
                if row.actor2 and JOINT_SEPARATOR not in row.e.actor2
            ]
            self._by_actor2[key] = _split(rows, _ACTOR2)
        return self._by_actor2[key]

    def _joint2(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._joints2:
            rows = [row for row in self._rows(category, field_, place).rows if JOINT_SEPARATOR in row.e.actor2]
            self._joints2[key] = _split(rows, lambda row: _pieces(row.e.actor2))
        return self._joints2[key]

    def _joint(self, category, field_, place):
        key = (category, field_, place)
        if key not in self._joints:
            rows = [row for row in self._rows(category, field_, place).rows if JOINT_SEPARATOR in row.e.actor1]
            self._joints[key] = _split(rows, lambda row: _pieces(row.e.actor1))
        return self._joints[key]

    def _unidentified_rows(self, category, field_, place, term):
        """Rows whose actor read is unidentified, but non-party actors' acts (`_acts_count`)."""
        non_party, either = term.non_party_names, _reads_actor2(term)
        key = (category, field_, place, non_party, either)
        if key not in self._unidentified:
            if either:
                # Named owing parties are listed by name already: here, the unidentified side with no non-party.
                rows = (
                    row for row in self._rows(category, field_, place).rows
                    if _unidentified(row.actor) or _unidentified(row.actor2, second=True)
                )
                self._unidentified[key] = _Rows(
                    row for row in rows if row.actor not in non_party and row.actor2 not in non_party
                )
            else:
                self._unidentified[key] = _Rows(
                    row for row in self._rows(category, field_, place).rows
                    if _attributed_name("owing_or_unidentified", (), row.actor, non_party)
                )
        return self._unidentified[key]


_EMPTY = _Rows()


def _counts_without_category(term, owing, row):
    """For a rule naming no category: a report not linked by hand, in its places, by whom it says."""
    if not _placed_without_category(term.rule, row):
        return False
    return _row_counts(term, owing, row)


def _row_counts(term, owing, row):
    return _acts_count(term, owing, row.actor, row.e.actor1, row.actor2, row.e.actor2)


def _context_without_category(term, row):
    """For a rule naming no category: a report not linked by hand, in its places, by a non-party actor."""
    non_party = term.non_party_names
    if row.actor in non_party and not _reads_actor2(term):
        return _placed_without_category(term.rule, row)
    if not (row.actor in non_party or (_reads_actor2(term) and row.actor2 in non_party)):
        return False
    owing = frozenset().union(*(p.names for p in term.owing))
    return _placed_without_category(term.rule, row) and not _row_counts(term, owing, row)


def _placed_without_category(rule, row):
    if row.e.commitment_id is not None:
        return False  # linked to this commitment (counted already) or to another: not evidence here
    if rule.interactions and normalize_name(row.e.interaction) not in norm_set(rule.interactions):
        return False
    admin1s, locations = norm_set(rule.admin1), norm_set(rule.locations)
    return not ((admin1s or locations) and row.admin1 not in admin1s and row.location not in locations)


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
    actor2: str = ""


_ACTOR = attrgetter("actor")
_OCCURRED = attrgetter("occurred_at")
_ACTOR2 = attrgetter("actor2")


def qualifies(term, e):
    """Does this report speak to this commitment, by its rule or a hand-made link?

    A link by hand makes a report evidence whoever acted: it is an analyst's judgement that the
    report speaks to the commitment (a non-party's act the party owing it brought about).
    """
    if e.commitment_id == term.id:
        return True
    return _selects(term, e) and _attributed(term, e)


def in_context(term, e):
    """Is this report context for this commitment: one its rule would count but for its actor, a non-party?

    Reading `either` actor: a non-party is named on a side, and no owing party on the other.
    """
    if not term.non_party_names or e.commitment_id == term.id:
        return False
    non_party = term.non_party_names
    named = normalize_name(e.actor1) in non_party or (_reads_actor2(term) and normalize_name(e.actor2) in non_party)
    return named and _selects(term, e) and not _attributed(term, e)


def _selects(term, e):
    """Do the rule's categories and places take this report (who acted aside)?"""
    if e.commitment_id is not None and e.commitment_id != term.id and not term.rule.categories:
        # A report linked by hand to another commitment is not evidence for a rule that names no category.
        return False
    rule = term.rule
    if rule.categories:
        wanted = norm_set(rule.categories)
        if normalize_name(e.category) not in wanted and normalize_name(e.sub_category) not in wanted:
            return False
    if rule.interactions and normalize_name(e.interaction) not in norm_set(rule.interactions):
        return False
    if rule.admin1 or rule.locations:
        in_admin1 = normalize_name(e.admin1) in norm_set(rule.admin1)
        in_location = normalize_name(e.location) in norm_set(rule.locations)
        if not (in_admin1 or in_location):
            return False
    return True


def _attributed(term, e):
    owing = frozenset().union(*(p.names for p in term.owing))
    return _acts_count(term, owing, normalize_name(e.actor1), e.actor1, normalize_name(e.actor2), e.actor2)


def _reads_actor2(term):
    """Does the rule read a report's second actor too (`actors: either`, the default)?"""
    return term.rule.actors == "either"


def _unidentified(actor, second=False):
    """An unidentified actor, folded: named so ("Unidentified Armed Group"), or not named at all.

    An empty second actor is not an unidentified one: an event with one actor (a protest, a sole action).
    """
    return actor.startswith("unidentified") or (not actor and not second)


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


def _acts_count(term, owing, actor, raw, actor2="", raw2=""):
    """Does an act by these actors (`actor`, `actor2` folded; `raw`, `raw2` as reported) count for `term`?

    The sides read are actor1, and actor2 too when the rule reads `either` actor (the default: ACLED's
    actors carry no direction) and it names someone. An act counts for a party when a side read is one
    of the party's names, or names it among several actors ("Ukraine; DPR"); shared `jointly`, only a
    side naming every owing party counts (`_joint_only`). Otherwise a side read by a non-party actor
    makes it context, whatever the attribution; `any` counts the rest, `owing_or_unidentified` those
    with an unidentified side. Reading actor1 only, this is the rule as it was before actor2 was read.
    """
    joint_only = _joint_only(term)
    non_party = term.non_party_names
    named = by_non_party = unidentified = False
    sides = ((actor, raw, False), (actor2, raw2, True)) if actor2 and _reads_actor2(term) else ((actor, raw, False),)
    for name, as_reported, second in sides:
        if name in non_party:
            by_non_party = True
            continue
        if _unidentified(name, second):
            unidentified = True
        pieces = _pieces(as_reported)
        if pieces is not None:
            named = named or _joint_counts(term, owing, pieces, joint_only)
        elif not joint_only and name in owing:
            named = True
    if named:
        return True
    if by_non_party:
        return False  # a non-party actor's act is context, whatever the attribution
    attribution = term.rule.attribution
    return attribution == "any" or (attribution == "owing_or_unidentified" and unidentified)


def _attributed_name(attribution, owing_names, actor, non_party=frozenset()):
    if actor in non_party:
        return False  # a non-party actor's act: context, never evidence, whatever the attribution
    if attribution == "any" or actor in owing_names:
        return True
    # Unidentified actors never count against a party unless the rule says so.
    return attribution == "owing_or_unidentified" and (not actor or actor.startswith("unidentified"))

