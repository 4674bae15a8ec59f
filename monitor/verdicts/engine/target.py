"""A quantity by a date: the latest credible measurement at the due date decides."""

from dataclasses import replace
from datetime import timedelta
from operator import eq, ge, gt, le, lt

from monitor.verdicts import statuses as S
from monitor.verdicts.engine.context import Outcome, after, pending, source_params
from monitor.verdicts.engine.values import Reason
from terms.rules import day_start, local_day


COMPARE = {"<": lt, "<=": le, "==": eq, ">=": ge, ">": gt}


# A figure is contested only by a denial grouped with it as one event; a claimed figure below the
# counting grade can make a missed or unmeasured target unconfirmed (engine/weighing.py).
DENIES = "event"
CLAIMS = True


def judge(ctx, reports):
    outcome = _judge(ctx, reports)
    return replace(outcome, next_check=next_check(ctx, outcome))


def next_check(ctx, outcome):
    """When this status can change with no other measurement: while pending, the next of the day it is
    due soon from, the due date passing (the figure then decides: met, met late) and the grace period's
    end (missed, or no data); once decided, never (only a measurement moves it)."""
    w = ctx.window
    if ctx.as_of >= w.missed_at or (ctx.as_of >= w.due_at and outcome.status != S.DUE_SOON):
        return None
    soon_from = day_start(w.due_day - timedelta(days=ctx.due_soon_days), ctx.tz)
    return after(ctx, soon_from, w.due_at, w.missed_at)


def _judge(ctx, reports):
    w, rule = ctx.window, ctx.rule
    measurements = [e for e in reports if e.stance == "affirms" and e.value is not None]

    compare = COMPARE[rule.target_comparison]

    def reached(value):
        return compare(value, rule.target)

    before_due = [m for m in measurements if m.occurred_at < w.due_at]
    baseline = rule.baseline if rule.baseline is not None else (measurements[0].value if measurements else None)
    latest = measurements[-1] if measurements else None
    details = {
        "target": rule.target,
        "direction": rule.direction,
        "comparison": rule.target_comparison,
        "unit": rule.unit,
        "baseline": baseline,
        "latest": latest.value if latest else None,
        "series": [(m.occurred_at.isoformat(), m.value, m.id) for m in measurements],
    }
    if latest and baseline is not None and baseline != rule.target:
        details["progress"] = max(0.0, min(1.0, (baseline - latest.value) / (baseline - rule.target)))

    if ctx.as_of < w.due_at:
        extra = {"target": rule.target, "unit": rule.unit, **_comparison(rule)}
        if latest:
            extra.update(value=latest.value, measured=local_day(latest.occurred_at, ctx.tz).isoformat())
            extra.update(source_params(latest))
        outcome = pending(ctx, "target" if latest else "target.unmeasured", extra)
        return Outcome(**{**outcome.__dict__, "details": details, "evidence": (latest.id,) if latest else ()})

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
            **_comparison(rule),
            "date": local_day(at_due.occurred_at, ctx.tz).isoformat(),
            "due": w.due_day.isoformat(),
            **source_params(at_due),
        }
        return Outcome(
            S.MET, Reason("target.met", params), since=run_start.occurred_at, evidence=(at_due.id,), details=details
        )
    late = next((m for m in measurements if m.occurred_at >= w.due_at and reached(m.value)), None)
    if late:
        params = {
            "value": late.value,
            "target": rule.target,
            "unit": rule.unit,
            **_comparison(rule),
            "date": local_day(late.occurred_at, ctx.tz).isoformat(),
            "due": w.due_day.isoformat(),
            "days_late": (local_day(late.occurred_at, ctx.tz) - w.due_day).days,
            **source_params(late),
        }
        return Outcome(
            S.MET_LATE, Reason("target.met_late", params), since=late.occurred_at, evidence=(late.id,), details=details
        )
    if ctx.as_of >= w.missed_at:
        if at_due is None and latest is None:
            return Outcome(
                S.NO_DATA,
                Reason(
                    "target.no_data",
                    {"due": w.due_day.isoformat(), "target": rule.target, "unit": rule.unit, **_comparison(rule)},
                ),
                since=w.missed_at,
                details=details,
            )
        deciding = at_due or latest
        params = {
            "value": deciding.value,
            "target": rule.target,
            "unit": rule.unit,
            **_comparison(rule),
            "due": w.due_day.isoformat(),
            "date": local_day(deciding.occurred_at, ctx.tz).isoformat(),
            **source_params(deciding),
        }
        # Nothing measured before the due date: the figure shown is a later one, and says so.
        code = "target.missed" if at_due else "target.missed_unmeasured_at_due"
        return Outcome(
            S.MISSED,
            Reason(code, params),
            since=w.missed_at,
            evidence=(deciding.id,),
            days_overdue=(ctx.today() - w.due_day).days,
            details=details,
        )
    extra = {"target": rule.target, "unit": rule.unit, **_comparison(rule)}
    outcome = pending(ctx, "target" if latest else "target.unmeasured", extra)
    return Outcome(**{**outcome.__dict__, "details": details})


def _comparison(rule):
    """The comparison, for the sentence, when the rule states one (else the sentence reads as before)."""
    return {"comparison": rule.comparison} if rule.comparison else {}


def reads(window):
    """Every measurement, before the window or after it, can set the baseline or the latest figure."""
    return None, None
