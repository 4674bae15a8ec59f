"""What every judge shares: the context of one judgement, its outcome, and the common outcomes.

A judge is a function `judge(ctx, reports) -> Outcome` in a module named after its kind
(`deadline.py`, ...), given the counting reports in time order (`TIME_ORDER`).
"""

from bisect import bisect_left
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.coverage import CoverageIndex
from monitor.verdicts.engine.values import OCCURRED, ONE_DAY, Reason, Term
from terms.rules import day_start, local_day, normalize_name


@dataclass
class Context:
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


# `Outcome.next_check` of a judge that says nothing about when it can change: re-judged at every day edge.
EVERY_DAY = "every_day"


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: Reason
    since: datetime | None = None
    evidence: tuple = ()
    days_left: int | None = None
    days_overdue: int | None = None
    details: dict = field(default_factory=dict)
    # The earliest instant after as_of at which this status can change with these reports (`Verdict.next_check`);
    # None: never. EVERY_DAY (a kind's judge that does not say) is read as `next_day_edge`, which is always safe.
    next_check: datetime | str | None = EVERY_DAY


def earliest(*instants):
    """The earliest of these instants, None among them ignored; None when there is none."""
    return min((i for i in instants if i is not None), default=None)


def after(ctx, *instants):
    """The earliest of these instants strictly after as_of (None ignored); None when there is none."""
    return earliest(*(i for i in instants if i is not None and i > ctx.as_of))


def next_day_start(ctx):
    """The first instant after as_of at which one more day is complete: the next local day's first instant.

    Every window instant (opening, due date, grace period's end, closing, a recovery run's end) is one.
    """
    try:
        return day_start(local_day(ctx.as_of, ctx.tz) + ONE_DAY, ctx.tz)
    except OverflowError:  # the last day of the calendar: no later day to see
        return None


def next_day_reached(ctx):
    """The first instant after as_of at which the window has run one more day: a microsecond into the next day.

    A window has run the days up to `local_day(as_of - 1µs)` (judged at a day's first instant, that
    day has not begun to count): the share of days covered moves a microsecond after midnight.
    """
    try:
        return day_start(local_day(ctx.as_of - timedelta(microseconds=1), ctx.tz) + ONE_DAY, ctx.tz) + timedelta(
            microseconds=1
        )
    except OverflowError:
        return None


def next_day_edge(ctx):
    """The first instant after as_of at which a judge counting days can see another day: the earlier of the two.

    A judge re-run at each edge misses nothing but a report's own instant: what the safe default
    for a kind that does not say when it can change (`EVERY_DAY`).
    """
    return earliest(next_day_start(ctx), next_day_reached(ctx))



def unsupported(ctx, outcome, days_with_data, days):
    """An "in compliance" outcome, or `no_data` when the evidence cannot carry it.

    "In compliance" says nothing was reported; it is worth saying only when something could have
    been. So a ceiling or prohibition in compliance is `no_data` instead (docs/architecture.md,
    "Verdicts that claim no more than the evidence"):
    - `coverage.no_source`: its rule names categories and no source declares any of them, nor did
      any report known at the cutoff carry one: silence there is not evidence of anything;
    - `coverage.insufficient`: sources cover fewer than the term's `coverage_share` per cent of the
      days its window has run (`days_with_data` of `days`).
    A breach is never softened: a reported violation is evidence however thin the coverage.
    """
    if outcome.status != S.IN_COMPLIANCE:
        return outcome
    term = ctx.term
    categories = term.rule.categories
    if categories and term.reported_categories is not None:
        if not {normalize_name(c) for c in categories} & term.reported_categories:
            params = {"categories": ", ".join(categories)}
            return replace(outcome, status=S.NO_DATA, reason=Reason("coverage.no_source", params))
    needed = term.coverage_share
    if needed and days and days_with_data * 100 < needed * days:
        params = {
            "share": days_with_data * 100 // days,
            "needed": needed,
            "opens": local_day(ctx.window.opens_at, ctx.tz).isoformat(),
            "days_with_data": days_with_data,
            "days": days,
        }
        return replace(outcome, status=S.NO_DATA, reason=Reason("coverage.insufficient", params))
    return outcome


def source_params(e):
    return {"source": e.source.name, "grade": e.grade, "report": e.id}


def pending(ctx, kind_code, extra=None):
    """Not settled yet: before the due date, or inside the grace period."""
    w = ctx.window
    today = ctx.today()
    params = {"due": w.due_day.isoformat(), **(extra or {})}
    if ctx.as_of >= w.due_at:
        # The local day before the missed instant: subtracting 24 hours would land on the wrong day across DST.
        params["grace_ends"] = (local_day(w.missed_at, ctx.tz) - timedelta(days=1)).isoformat()
        return Outcome(
            S.DUE_SOON,
            Reason(f"{kind_code}.in_grace", params),
            since=w.due_at,
            days_overdue=(today - w.due_day).days,
        )
    days_left = (w.due_day - today).days
    params["days_left"] = days_left
    if days_left <= ctx.due_soon_days:
        soon_from = day_start(w.due_day - timedelta(days=ctx.due_soon_days), ctx.tz)
        return Outcome(S.DUE_SOON, Reason(f"{kind_code}.pending", params), since=soon_from, days_left=days_left)
    # Before the window opens no status has begun yet (as for ceilings and prohibitions not open).
    since = w.opens_at if ctx.as_of >= w.opens_at else None
    return Outcome(S.NOT_YET_DUE, Reason(f"{kind_code}.pending", params), since=since, days_left=days_left)



def window_end(ctx):
    """The last instant evidence can count: now, or the window's close if earlier."""
    w = ctx.window
    return ctx.as_of if w.closes_at is None else min(ctx.as_of, w.closes_at)


def window_slice(w, reports):
    """The reports (in time order) that happened in the window: from its opening, before it closes."""
    low = bisect_left(reports, w.opens_at, key=OCCURRED)
    high = len(reports) if w.closes_at is None else bisect_left(reports, w.closes_at, low, key=OCCURRED)
    return reports[low:high]


def not_open(ctx):
    w = ctx.window
    return Outcome(
        S.NOT_YET_DUE,
        Reason("window.not_open", {"opens": local_day(w.opens_at, ctx.tz).isoformat()}),
        since=None,
        days_left=(local_day(w.opens_at, ctx.tz) - ctx.today()).days,
    )

