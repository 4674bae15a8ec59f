"""The engine's plain values: a commitment, a report, a coverage period, a reason, a verdict.

Frozen dataclasses built from the database by `monitor.verdicts.inputs` (or by hand in tests);
the engine reads nothing else. How a report is weighed at a cutoff (`Evidence.standing_at`) is
here too, since it depends on the report alone.
"""

import inspect
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from terms.rules import Rule, Window, day_start, local_day, normalize_name

COUNTS = "counts"
CONTESTED = "contested"
WEAK = "weak"
EXCLUDED = "excluded"

STRONG_RELIABILITY = frozenset("AB")
STRONG_CREDIBILITY = frozenset({1, 2})

SPANS = {
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
    slug: str = ""


@dataclass(frozen=True)
class Milestone:
    """A dated event a commitment is counted from that no commitment models (elections held).

    Reached at the first counting report its rule recognises (anyone's: a milestone is owed by
    no party), weighed as a deadline's act is.
    """

    id: int
    key: str
    title: str
    rule: Rule


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
    # Normalized names of the agreement's non-party actors: a report by one of them is never
    # evidence for or against a party, whatever the rule's attribution; it is context.
    non_party_names: frozenset = frozenset()
    # The milestone this commitment is counted from (window.anchor == "milestone"), carried on the
    # term itself so that judging it needs nothing beyond the terms and the evidence.
    anchor_milestone: Milestone | None = None
    readings: tuple = ()  # Reading: competing accounts judged too; they never decide the status
    # How several owing parties share it (docs/agreement-format.md, "share"): "each" (every one
    # must act: judged per party, then rolled up), "any" (an act by any of them), "jointly" (one
    # act naming them together). Meaningless for a single owing party.
    share: str = "each"
    # What "in compliance" needs (docs/architecture.md, "Verdicts that claim no more than the evidence"):
    # `coverage_share`, the share (in %) of the days a ceiling's or prohibition's window has run that
    # sources must cover (the agreement's setting; None: any covered day suffices, as before);
    # `reported_categories`, the normalized categories some source declares or some report known at
    # the cutoff carried (None: not known, so never "no source reports this").
    coverage_share: int | None = None
    reported_categories: frozenset | None = None

    @property
    def tz(self):
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class Reading:
    """A competing account of a commitment with machine values of its own (terms.readings).

    `rule` and `window` are whole (the main ones with the reading's values over them); the
    window keeps the main anchor.
    """

    key: str
    label: str
    rule: Rule
    window: Window


@dataclass(frozen=True)
class SourceRef:
    id: int
    name: str
    reliability: str = "F"
    kind: str = "other"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A report as the engine sees it: what happened, when we knew, how far we trust it.

    Slotted: a sweep holds every report its agreement's rules can count, and an instance's
    dictionary was over half of what each one cost (docs/performance.md, "A full sweep's peak memory").
    """

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
    # The other actor, and ACLED's code for the types of both: ACLED's actors carry no direction, so a rule
    # reading `either` actor attributes the act to a party named in either (engine/index.py, `_acts_count`).
    actor2: str = ""
    interaction: str = ""
    credibility: int = 6
    # ((changed_at, new_state), ...) in time order; none means "claimed" since recorded.
    verification: tuple = ()
    event_id: int | None = None
    commitment_id: int | None = None
    summary: str = ""

    @classmethod
    def from_row(cls, id, source, occurred_at, recorded_at, category, sub_category, stance, occurred_until,
                 precision, value, admin1, location, actor1, actor2, interaction, credibility, verification,
                 event_id, commitment_id, summary=""):
        """An Evidence from every field, in the order they are declared: as `Evidence(...)`, in half the time.

        A frozen dataclass's `__init__` sets each field through `object.__setattr__`; a sweep builds one
        per report read (hundreds of thousands), and that was a tenth of it. Here each slot is set
        through its own descriptor, which a frozen class does not forbid; the instance is as frozen.
        """
        e = _new(cls)
        (put_id, put_source, put_occurred_at, put_recorded_at, put_category, put_sub_category, put_stance,
         put_occurred_until, put_precision, put_value, put_admin1, put_location, put_actor1, put_actor2,
         put_interaction, put_credibility, put_verification, put_event_id, put_commitment_id, put_summary) = _SLOTS
        put_id(e, id)
        put_source(e, source)
        put_occurred_at(e, occurred_at)
        put_recorded_at(e, recorded_at)
        put_category(e, category)
        put_sub_category(e, sub_category)
        put_stance(e, stance)
        put_occurred_until(e, occurred_until)
        put_precision(e, precision)
        put_value(e, value)
        put_admin1(e, admin1)
        put_location(e, location)
        put_actor1(e, actor1)
        put_actor2(e, actor2)
        put_interaction(e, interaction)
        put_credibility(e, credibility)
        put_verification(e, verification)
        put_event_id(e, event_id)
        put_commitment_id(e, commitment_id)
        put_summary(e, summary)
        return e

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
            return max(self.occurred_until, self.occurred_at + SPANS["minute"])
        if self.precision == "minute":
            return self.occurred_at + SPANS["minute"]
        try:
            first_day = local_day(self.occurred_at, tz)
            return day_start(first_day + SPANS.get(self.precision, SPANS["day"]), tz)
        except (OverflowError, ValueError):
            # A report dated at the very ends of time (0001-01-01, 9999-12-31) has no local day in some
            # zones, nor a month after it (dateutil says ValueError): it ends a day after it began, or,
            # at the far end, never.
            if self.occurred_at.year > 1:
                return datetime.max.replace(tzinfo=UTC)
            return self.occurred_at + SPANS["day"]

    @property
    def grade(self):
        return f"{self.source.reliability}{self.credibility}"


_new = object.__new__
_SLOTS = tuple(Evidence.__dict__[f.name].__set__ for f in fields(Evidence))
# `from_row` takes the fields in the order they are declared, and sets them in that order.
assert [f.name for f in fields(Evidence)] == list(inspect.signature(Evidence.from_row).parameters)


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



@dataclass(frozen=True)
class Reason:
    """Why a verdict is what it is: a stable code and its parameters, for translation."""

    code: str
    params: dict = field(default_factory=dict)

    def sentence(self):
        from monitor.verdicts.reasons import describe

        return describe(self)


@dataclass(frozen=True)
class PartyVerdict:
    """One owing party's verdict on a commitment shared `each` (Verdict.parties)."""

    party_id: int
    name: str
    status: str
    reason: Reason
    since: datetime | None = None
    slug: str = ""
    evidence: tuple = ()  # ids of the reports its verdict relied on

    @property
    def sentence(self):
        return self.reason.sentence()


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
    # Ids of reports the rule would otherwise count but whose acting side is a non-party actor:
    # shown beside the verdict, never weighed. In time order, the CONTEXT_LIMIT most recent.
    context: tuple = ()
    readings: tuple = ()  # ReadingVerdict, one per Term.readings, in order; set by evaluate_agreement
    # Per-party verdicts (PartyVerdict, in the order of `Term.owing`) when several parties owe it
    # and it is shared `each`; empty otherwise. `status` is then their roll-up (engine/shares.py).
    parties: tuple = ()
    # The earliest instant after `as_of` at which `status` or a party's status can change with no new
    # evidence and the same `known_at` (a window's instant, a day edge, a recovery run's end, an anchor's
    # change, a known report's time coming); None: never without new evidence. Never later than the
    # change, perhaps earlier: judging again then finds the same status (docs/architecture.md, "When
    # to judge again").
    next_check: datetime | None = None

    @property
    def sentence(self):
        return self.reason.sentence()


@dataclass(frozen=True)
class ReadingVerdict:
    """The verdict under one reading: shown beside the main verdict, never deciding status or alerts."""

    key: str
    label: str
    status: str
    since: datetime | None
    reason: Reason

    @property
    def sentence(self):
        return self.reason.sentence()


# How many context reports a verdict lists: enough to show a monitor what else happened, few
# enough for a page; a ceiling's category can hold thousands of a non-party's acts.
CONTEXT_LIMIT = 20

TIME_ORDER = attrgetter("occurred_at", "id")  # judges read reports in this order, so they slice and never sort
DAY_PRECISE = frozenset(("minute", "day"))
OCCURRED = attrgetter("occurred_at")
ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=4096)
def norm_set(values):
    return frozenset(normalize_name(v) for v in values)
