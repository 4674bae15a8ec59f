"""An ongoing ban: breached from the first credible violation in the window."""

from bisect import bisect_left
from dataclasses import replace
from datetime import timedelta

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.context import (
    Outcome, next_day_reached, not_open, source_params, unsupported, window_end, window_slice,
)
from monitor.verdicts.engine.values import OCCURRED, Reason, norm_set
from terms.rules import day_start, local_day

# A limit on acts: shared `jointly`, every act by any of the owing parties counts (engine/index.py).
LIMITS_ACTS = True


# A denial ("no attack in Kabul on 5 March") contests the violations inside its own period; a
# claimed violation below the counting grade makes a prohibition in compliance unconfirmed.
DENIES = "period"
CLAIMS = True
STRADDLING_COUNTS = True  # a report of a period that runs into the window counts from its opening


def judge(ctx, reports):
    outcome = _judge(ctx, reports)
    return replace(outcome, next_check=next_check(ctx, outcome))


def next_check(ctx, outcome):
    """When this status can change with no other report: its window opening; breached, the end of its
    recovery run (the judge's `next_check`: None without recovery days); in compliance or without data,
    the next day the window reaches while it is open and the commitment asks a share of days covered
    (the share moves with each day); otherwise never."""
    w = ctx.window
    if ctx.as_of < w.opens_at:
        return w.opens_at
    if w.closes_at is not None and ctx.as_of >= w.closes_at:
        return None
    if outcome.status == S.BREACHED:
        return outcome.next_check
    return next_day_reached(ctx) if ctx.term.coverage_share else None


def _judge(ctx, reports):
    w, rule, tz = ctx.window, ctx.rule, ctx.tz
    if ctx.as_of < w.opens_at:
        return not_open(ctx)
    end = window_end(ctx)
    # Conduct reported over a period (`occurred_until`) that began before the window and runs into it is
    # conduct in the window: it counts from the window's opening, and the sentence says where its period
    # began. (An act dated only to a week or a month that straddles the opening may have come before it:
    # that one is set aside, as `straddles_window`.)
    opens_day = local_day(w.opens_at, tz)
    straddling = {
        e.id: e for e in reports[:bisect_left(reports, w.opens_at, key=OCCURRED)]
        if e.stance == "affirms" and e.occurred_until is not None and e.ends_at(tz) > w.opens_at
    }
    violations = [replace(e, occurred_at=w.opens_at) for e in straddling.values()]
    violations += [e for e in window_slice(w, reports) if e.stance == "affirms"]

    def day_of(v):
        return opens_day if v.id in straddling else ctx.day_of(v)

    details = {"violations": [v.id for v in violations]} if ctx.details else {}
    since, start = w.opens_at, 0
    if rule.recovery_days is not None and violations:
        # A violation on or after local day (last one's + 1 + recovery_days) starts a new episode:
        # an instant is at or after a local day's first instant exactly when its local day is that
        # day or later, so days are compared, not instants.
        gap = timedelta(days=1 + rule.recovery_days)
        over_on = None
        for i, v in enumerate(violations):
            day = day_of(v)
            if over_on is not None and day >= over_on:
                start = i
            over_on = day + gap
    episode = violations[start:]
    if episode:
        since = episode[0].occurred_at
    over_at = None  # when the episode's recovery run is over: None, never
    if episode and rule.recovery_days is not None:
        over_at = day_start(local_day(episode[-1].occurred_at, tz) + timedelta(days=1 + rule.recovery_days), tz)
        if end >= over_at:
            params = {"last": local_day(episode[-1].occurred_at, tz).isoformat(), "days": rule.recovery_days}
            return _supported(ctx, end, violations, day_of,
                              Outcome(S.IN_COMPLIANCE, Reason("prohibition.recovered", params), since=over_at,
                                      details=details))
    if episode:
        first = episode[0]
        params = {
            "date": local_day(first.occurred_at, tz).isoformat(),
            # Violations are events, not reports (e.event_key, without a tuple per report).
            "count": len({v.id if v.event_id is None else ("event", v.event_id) for v in episode}),
            **source_params(first),
        }
        code = "prohibition.breached"
        if first.id in straddling:
            code = "prohibition.breached_from_period"
            began = straddling[first.id].occurred_at
            try:
                params["period_from"] = local_day(began, tz).isoformat()
            except OverflowError:  # a period said to begin at the very start of time
                params["period_from"] = began.date().isoformat()
        return Outcome(
            S.BREACHED,
            Reason(code, params),
            since=since,
            evidence=tuple(v.id for v in episode),
            details=details,
            next_check=over_at,
        )
    params = {"opens": local_day(w.opens_at, tz).isoformat()}
    return _supported(ctx, end, violations, day_of,
                      Outcome(S.IN_COMPLIANCE, Reason("prohibition.ok", params), since=w.opens_at, details=details))


def _supported(ctx, end, violations, day_of, outcome):
    """In compliance only when sources cover enough of the days the window has run (context.unsupported).

    Counted as a ceiling counts them: the days some source covers, everywhere the rule looks, and the
    days a violation was reported on though no source declared them covered (a source spoke of them).
    Only worked out for an outcome in compliance, so a breach costs nothing more.
    """
    if outcome.status != S.IN_COMPLIANCE:
        return outcome
    tz = ctx.tz
    first_day = local_day(ctx.window.opens_at, tz)
    last_day = local_day(end - timedelta(microseconds=1), tz) if end > ctx.window.opens_at else first_day
    days = (last_day - first_day).days + 1
    admin1s = norm_set(ctx.rule.admin1)
    uncovered = {d for d in map(day_of, violations) if first_day <= d <= last_day}
    uncovered = {d for d in uncovered if not ctx.coverage.covers(admin1s, d)}
    return unsupported(ctx, outcome, ctx.coverage.count(admin1s, first_day, last_day) + len(uncovered), days)


def stands(rule, status):
    """Whether `status` stands, until its next check, whatever acts are added (`index.affected`): a breach.

    More violations, wherever and whenever they happened, only make the last episode end later (its
    recovery run counts calendar days from its last violation) or, without recovery days, change nothing.
    """
    return status == S.BREACHED


def reads(window):
    """Only violations inside the window (and, from the evidence index, reports of periods that reach into it)."""
    return window.opens_at, window.closes_at
