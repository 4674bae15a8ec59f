"""No more than N events a day (or over the window): breaches, recovery, days with data."""

from dataclasses import replace
from datetime import timedelta

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.context import (
    Outcome, next_day_reached, next_day_start, not_open, unsupported, window_end, window_slice,
)
from monitor.verdicts.engine.values import DAY_PRECISE, ONE_DAY, Reason, norm_set
from terms.rules import day_start, local_day

# A limit on acts: shared `jointly`, every act by any of the owing parties counts (engine/index.py).
LIMITS_ACTS = True


# A denial contests the events inside its own period. Claims below the counting grade never make a
# ceiling unconfirmed: it counts events against a limit, and the claims are listed as set aside.
DENIES = "period"
CLAIMS = False


def judge(ctx, reports):
    outcome = _judge(ctx, reports)
    return replace(outcome, next_check=next_check(ctx, outcome))


def next_check(ctx, outcome):
    """When this status can change with no other report: its window opening; while it is open, breached,
    the next day complete (a clean day can complete a recovery run), unless it is breached for good (over
    the window, or with no recovery); otherwise the next day the window reaches (the share of days
    covered moves: in compliance or no data); once it has closed, never."""
    w = ctx.window
    if ctx.as_of < w.opens_at:
        return w.opens_at
    if w.closes_at is not None and ctx.as_of >= w.closes_at:
        return None
    if outcome.status == S.BREACHED:
        if ctx.rule.period == "window" or ctx.rule.recovery_days is None:
            return None
        return next_day_start(ctx)
    # Not breached, it cannot be again without a report: the days complete no longer matter.
    return next_day_reached(ctx)


def _judge(ctx, reports):
    w, rule, tz = ctx.window, ctx.rule, ctx.tz
    if ctx.as_of < w.opens_at:
        return not_open(ctx)
    end = window_end(ctx)
    first_day = local_day(w.opens_at, tz)
    last_day = local_day(end - timedelta(microseconds=1), tz) if end > w.opens_at else first_day

    # One entry per event: a group of reports of the same event counts once, on its earliest report.
    events, imprecise = {}, set()
    per_day_only = rule.period == "day"
    for e in window_slice(w, reports):
        if e.stance != "affirms":
            continue
        key = e.id if e.event_id is None else ("event", e.event_id)  # e.event_key, without a tuple per report
        if per_day_only and e.precision not in DAY_PRECISE:
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
    admin1s = norm_set(rule.admin1)
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
            day += ONE_DAY
        details = {
            "limit": rule.limit, "allowed": rule.allowed, "period": rule.period, "daily": daily, "imprecise": imprecise,
        }

    if rule.period == "window":
        ordered = list(events.values())  # found in time order
        params = {"count": len(ordered), "limit": rule.limit, "days_with_data": days_with_data, "days": days}
        if rule.comparison:
            params["comparison"] = rule.comparison
        if ctx.details:
            details["count"] = len(ordered)
        if len(ordered) > rule.allowed:
            crossing = ordered[rule.allowed]
            params["date"] = local_day(crossing.occurred_at, tz).isoformat()
            return Outcome(
                S.BREACHED,
                Reason("ceiling.window_breached", params),
                since=crossing.occurred_at,
                evidence=tuple(e.id for e in ordered),
                details=details,
            )
        if not days_with_data:
            return Outcome(S.NO_DATA, Reason("ceiling.no_data", params), since=w.opens_at, details=details)
        return unsupported(ctx, Outcome(
            S.IN_COMPLIANCE,
            Reason("ceiling.window_ok", params),
            since=w.opens_at,
            evidence=tuple(e.id for e in ordered),
            details=details,
        ), days_with_data, days)

    # Day by day, but only the days with events are visited: between two of them every day with
    # data is a covered day without events, so the clean days in a gap are counted from the
    # covered days, not walked one by one (a window can be years long, and a sweep has thousands).
    # A day counts as clean only once it is complete: it starts before `end` ends it.
    last_complete = local_day(end, tz) - ONE_DAY
    breached, since, clean = False, w.opens_at, 0
    breached_days, episode_evidence = [], ()

    def recover_in_gap(after, until):
        """Count the complete covered days in (after, until] as clean; the breach may end on one."""
        nonlocal breached, since, clean
        until = min(until, last_complete)
        if until <= after:
            return
        k = coverage.count(admin1s, after + ONE_DAY, until)
        if k and rule.recovery_days is not None and clean + k >= rule.recovery_days:
            recovered_on = coverage.nth_after(admin1s, after, max(rule.recovery_days - clean, 1))
            breached, since, clean = False, day_start(recovered_on + ONE_DAY, tz), 0
        else:
            clean += k

    previous = None
    for day in sorted(per_day):
        if breached:
            recover_in_gap(previous, day - ONE_DAY)
        todays = per_day[day]
        if len(todays) > rule.allowed:
            if not breached:
                breached, since = True, todays[rule.allowed].occurred_at
                episode_evidence = ()
            breached_days.append(day)
            episode_evidence += tuple(e.id for e in todays)
            clean = 0
        elif breached and day <= last_complete:
            clean += 1
            if rule.recovery_days is not None and clean >= rule.recovery_days:
                breached, since, clean = False, day_start(day + ONE_DAY, tz), 0
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
    if rule.comparison:
        params["comparison"] = rule.comparison
    if breached:
        worst = max(breached_days, key=lambda d: len(per_day[d]))
        params.update(
            date=breached_days[-1].isoformat(), count=len(per_day[breached_days[-1]]), worst=len(per_day[worst])
        )
        return Outcome(S.BREACHED, Reason("ceiling.breached", params), since, episode_evidence, details=details)
    if not days_with_data:
        return Outcome(S.NO_DATA, Reason("ceiling.no_data", params), since=w.opens_at, details=details)
    code = "ceiling.recovered" if breached_days else "ceiling.ok"
    if breached_days:
        params["last_breach"] = breached_days[-1].isoformat()
    return unsupported(ctx, Outcome(S.IN_COMPLIANCE, Reason(code, params), since=since, details=details),
                       days_with_data, days)


def stands(rule, status):
    """Whether `status` stands, until its next check, whatever acts are added (`index.affected`): a breach
    over the window, or day by day without recovery days, for good.

    More events only add to a day's or the window's count. Not so with recovery days: an event within
    the limit on a day no source covers makes it a day with data, and a clean one, which may complete
    a recovery run. Nor events grouped with others' reports: an event counts on its earliest report's
    day, so a new report of it can move it to another day (`Change.adds_acts` leaves those out).
    """
    return status == S.BREACHED and (rule.period == "window" or rule.recovery_days is None)


def reads(window):
    """Only events inside the window."""
    return window.opens_at, window.closes_at
