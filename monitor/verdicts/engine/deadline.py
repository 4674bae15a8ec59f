"""An act by a due date: met, met late, missed, pending.

A deadline without a due date is a duty without a date (docs/architecture.md, "By kind"): open
until done, met on the act, and, with a reasonable time, overdue (never missed) once it has
passed without the act; done after it is met late.
"""

from bisect import bisect_left
from dataclasses import replace
from datetime import timedelta

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.context import Outcome, after, not_open, pending, source_params
from monitor.verdicts.engine.values import OCCURRED, SPANS, Reason
from terms.rules import day_start, local_day


# A denial ("talks had not begun by 10 March") contests every act dated at or before it; a claim
# below the counting grade can make a missed deadline unconfirmed (engine/weighing.py).
DENIES = "until"
CLAIMS = True

# Settled for good: only another report can move them (the act, a denial, a verification).
SETTLED = frozenset({S.MET, S.MET_LATE, S.MISSED, S.OVERDUE})


def judge(ctx, reports):
    outcome = _judge(ctx, reports)
    return replace(outcome, next_check=next_check(ctx, outcome))


def next_check(ctx, outcome):
    """When this status can change with no other report: the next of the window's instants, unless settled.

    Its opening (a duty opens), the day it is due soon from (of the due date, or of the reasonable
    time's end), the due date passing (an act late by then is met late), the grace period's end
    (missed) and the reasonable time's end (overdue).
    """
    if outcome.status in SETTLED:
        return None
    w, tz = ctx.window, ctx.tz
    soon = [day_start(day - timedelta(days=ctx.due_soon_days), tz) for day in (w.due_day, w.reasonable_day) if day]
    return after(ctx, w.opens_at, *soon, w.due_at, w.missed_at, w.overdue_at)


def _judge(ctx, reports):
    w = ctx.window
    # The first act is the one surely done first (by `_done_by`, then id). An act is never done
    # before a minute after it started, so once acts start later than that, none can come first.
    first, first_key = None, None
    for i in range(bisect_left(reports, w.opens_at, key=OCCURRED), len(reports)):
        e = reports[i]
        if first is not None and e.occurred_at + SPANS["minute"] > first_key[0]:
            break
        if e.stance != "affirms":
            continue
        key = (_done_by(e, ctx.tz), e.id)
        if first is None or key < first_key:
            first, first_key = e, key
    if first is not None:
        # Denials were weighed before the judge ran (engine/weighing.py): an act one contests is not here.
        if w.due_at is None:
            return _duty_done(ctx, first)
        day = local_day(first.occurred_at, ctx.tz)
        params = {"date": day.isoformat(), "due": w.due_day.isoformat(), **source_params(first)}
        done_by = _done_by(first, ctx.tz)
        if done_by <= w.due_at:
            params["days_early"] = (w.due_day - day).days
            return Outcome(S.MET, Reason("deadline.met", params), since=first.occurred_at, evidence=(first.id,))
        # An act known only to within a period that straddles the due date is late by the period's
        # last possible day, and the status cannot have begun before the deadline passed: until it
        # has, nothing is late and the deadline is still pending (a verdict never begins after as_of).
        if ctx.as_of < w.due_at:
            return pending(ctx, "deadline")
        last_possible = local_day(done_by - timedelta(microseconds=1), ctx.tz)
        params["days_late"] = max(1, (last_possible - w.due_day).days)
        since = max(first.occurred_at, w.due_at)
        return Outcome(S.MET_LATE, Reason("deadline.met_late", params), since=since, evidence=(first.id,))
    if w.due_at is None:
        return _duty_open(ctx)
    if ctx.as_of >= w.missed_at:
        return Outcome(
            S.MISSED,
            Reason("deadline.missed", {"due": w.due_day.isoformat(), "grace_days": ctx.term.window.grace_days}),
            since=w.missed_at,
            days_overdue=(ctx.today() - w.due_day).days,
        )
    return pending(ctx, "deadline")


def _duty_done(ctx, first):
    """A duty without a date, done: met on the act; met late if surely done only after its reasonable time."""
    w = ctx.window
    params = {"date": local_day(first.occurred_at, ctx.tz).isoformat(), **source_params(first)}
    done_by = _done_by(first, ctx.tz)
    if w.overdue_at is None or done_by <= w.overdue_at:
        return Outcome(S.MET, Reason("duty.met", params), since=first.occurred_at, evidence=(first.id,))
    # As for a dated deadline: an act that may have come after the reasonable time is late only
    # once that time has passed; until then the duty is open.
    if ctx.as_of < w.overdue_at:
        return _duty_open(ctx)
    last_possible = local_day(done_by - timedelta(microseconds=1), ctx.tz)
    params["days_late"] = max(1, (last_possible - w.reasonable_day).days)
    params["reasonable_days"] = ctx.term.window.reasonable_days
    since = max(first.occurred_at, w.overdue_at)
    return Outcome(S.MET_LATE, Reason("duty.met_late", params), since=since, evidence=(first.id,))


def _duty_open(ctx):
    """A duty without a date, not done: open, due soon near the end of its reasonable time, then overdue."""
    w = ctx.window
    if ctx.as_of < w.opens_at:
        return not_open(ctx)
    today = ctx.today()
    if w.overdue_at is None:
        return Outcome(S.NOT_YET_DUE, Reason("duty.open", {"date": today.isoformat()}), since=w.opens_at)
    params = {
        "reasonable_days": ctx.term.window.reasonable_days,
        "opens": local_day(w.opens_at, ctx.tz).isoformat(),
        "reasonable_ends": w.reasonable_day.isoformat(),
    }
    if ctx.as_of >= w.overdue_at:
        return Outcome(
            S.OVERDUE, Reason("duty.overdue", params), since=w.overdue_at,
            days_overdue=(today - w.reasonable_day).days,
        )
    params["date"] = today.isoformat()
    days_left = (w.reasonable_day - today).days
    reason = Reason("duty.open_reasonable", params)
    if days_left <= ctx.due_soon_days:
        soon_from = max(w.opens_at, day_start(w.reasonable_day - timedelta(days=ctx.due_soon_days), ctx.tz))
        return Outcome(S.DUE_SOON, reason, since=soon_from, days_left=days_left)
    return Outcome(S.NOT_YET_DUE, reason, since=w.opens_at, days_left=days_left)


def _done_by(e, tz):
    """The latest instant by which the act surely happened.

    The end of the period it is dated to, but never after the report was recorded: a report
    cannot describe an act that had not happened yet. (Never before the act started, either,
    whatever a mistyped recording date says.)
    """
    return max(e.occurred_at + SPANS["minute"], min(e.ends_at(tz), e.recorded_at))


def stands(rule, status):
    """Whether `status` stands, until its next check, whatever acts are added (`index.affected`): met.

    The first act decides: another one, wherever it is dated, leaves a first act done by the due date.
    Not met late: an act reported later may have been done earlier, in time.
    """
    return status == S.MET


def reads(window):
    """An act counts from the window's opening, and a denial after it whenever it came."""
    return window.opens_at, None
