"""Anchors: the moment of another commitment, or a milestone, that a commitment is counted from.

A commitment's window exists only once its anchor's moment has happened as of `as_of`, as
known at `known_at`; until then it is "awaiting its anchor", and the reason names the anchor
and the moment it waits for. Day 0 is the local day of the moment (docs/agreement-format.md,
"Anchors"):

- opens: the anchor's window opens (its opening instant); day 0 is its first day.
- due: the anchor's due day is over (its deadline instant, the end of the day); day 0 is the due day.
- met: the anchor is met or met late; day 0 is the day of the act.
- missed: the anchor's grace period ended and, judged as of that instant, it was missed (an
  act reported after that, met late, does not undo it); day 0 is the day it counted as missed.
- breached: the anchor's first breach in its window on counting reports (disputed ones aside),
  even if it has recovered since; day 0 is the day that breach began.
- closes: the anchor's window is over (the end of its last day); day 0 is its last day.
- reached (a milestone): the first counting report its rule recognises; day 0 is that report's day.
"""

from dataclasses import replace
from datetime import timedelta

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.values import Reason, Term
from terms.rules import Window, day_start, local_day

# A breach has happened, as of a verdict, when it is breached or has recovered from one.
RECOVERED = frozenset({"ceiling.recovered", "prohibition.recovered"})


def awaiting(term, anchor_title, anchor_key, moment):
    """The reason a commitment waits for its anchor: which anchor, and which of its moments."""
    return Reason("awaiting.anchor", {"anchor": anchor_title, "anchor_key": anchor_key, "moment": moment})


def has_breached(verdict):
    """Has this (ceiling or prohibition) verdict, judged on counting reports only, been breached at some point?"""
    return verdict.status == S.BREACHED or verdict.reason.code in RECOVERED


def missed_at(anchor, verdict):
    """The instant the anchor counts as missed without the act: the end of its grace period."""
    if verdict.due_at is None:
        return None
    tz = anchor.tz
    return day_start(local_day(verdict.due_at, tz) + timedelta(days=anchor.window.grace_days), tz)


def moment_instant(verdict, moment, *, missed, first_breach):
    """When the anchor's moment happened, per its verdict as of `as_of` (None: it has not, or never will).

    `missed` and `first_breach` are asked only for those moments: each judges the anchor again
    (as of its missed instant; on counting reports only, as of each report) to find it.
    """
    if moment == "opens":
        return verdict.opens_at
    if moment == "due":
        return verdict.due_at
    if moment == "closes":
        return verdict.closes_at
    if moment == "met":
        return verdict.since if verdict.status in (S.MET, S.MET_LATE) else None
    if moment == "missed":
        return missed()
    if moment == "breached":
        return first_breach()
    return None


def coming_instant(anchor, verdict, moment):
    """The instant the anchor's moment will happen by the clock alone, when its window says (None otherwise).

    Its opening, due date, closing, or grace period's end (then judged: missed, or not). Met and first
    breached come only with a report: the anchor's own `next_check` covers them.
    """
    if moment == "missed":
        return missed_at(anchor, verdict)
    if moment in ("opens", "due", "closes"):
        return moment_instant(verdict, moment, missed=None, first_breach=None)
    return None


def moment_day(moment, instant, tz):
    """Day 0 for a moment that happened at `instant`: due and closes happen at the end of their day."""
    if moment in ("due", "closes"):
        return local_day(instant - timedelta(microseconds=1), tz)
    return local_day(instant, tz)


def milestone_term(milestone, time_zone):
    """A milestone as a term, so the evidence index can find the reports its rule recognises.

    A negative id: no report is linked by hand to it; anyone's report counts.
    """
    return Term(
        id=-milestone.id,
        key=milestone.key,
        title=milestone.title,
        kind="deadline",
        rule=replace(milestone.rule, attribution="any"),
        window=Window(anchor="milestone", anchor_moment="reached", anchor_milestone_id=milestone.id),
        time_zone=time_zone,
        signed_on=None,
    )


def milestone_reached(index, milestone, time_zone, as_of):
    """The instant a milestone was reached as of `as_of`: its first counting report that affirms it."""
    counting, _ = index.qualified(milestone_term(milestone, time_zone), until=as_of)
    first = next((e for e in counting if e.stance == "affirms"), None)
    return None if first is None else first.occurred_at
