"""An act by a due date: met, met late, missed, pending."""

from bisect import bisect_left
from datetime import timedelta

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.context import Outcome, pending, source_params
from monitor.verdicts.engine.values import OCCURRED, SPANS, Reason
from terms.rules import local_day


# A denial ("talks had not begun by 10 March") contests every act dated at or before it; a claim
# below the counting grade can make a missed deadline unconfirmed (engine/weighing.py).
DENIES = "until"
CLAIMS = True


def judge(ctx, reports):
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
    if ctx.as_of >= w.missed_at:
        return Outcome(
            S.MISSED,
            Reason("deadline.missed", {"due": w.due_day.isoformat(), "grace_days": ctx.term.window.grace_days}),
            since=w.missed_at,
            days_overdue=(ctx.today() - w.due_day).days,
        )
    return pending(ctx, "deadline")


def _done_by(e, tz):
    """The latest instant by which the act surely happened.

    The end of the period it is dated to, but never after the report was recorded: a report
    cannot describe an act that had not happened yet. (Never before the act started, either,
    whatever a mistyped recording date says.)
    """
    return max(e.occurred_at + SPANS["minute"], min(e.ends_at(tz), e.recorded_at))


def reads(window):
    """An act counts from the window's opening, and a denial after it whenever it came."""
    return window.opens_at, None
