"""A reference judge: the rules of docs/architecture.md and docs/agreement-format.md, read literally.

Deliberately simple and slow, and independent of the engine it checks: it walks calendar days
one by one, sifts every report for every question, and works out local midnights by searching
for the first instant of each local day rather than by asking `datetime.combine` (nor
`terms.rules.day_start`). It reads the engine's input values (`Term`, `Rule`, `Window`, `Evidence`,
`CoveragePeriod`, plain frozen dataclasses) but calls nothing of the engine's or of `terms.rules`.

`judge(terms, evidence, as_of=…, known_at=…, coverage=…)` returns {commitment id: (status, since)}.

What the docs leave open, decided here (and said so where it is used):

- `since` of a `disputed` verdict: the later of the two readings' (with and without the disputed
  reports) — the status is disputed from the moment both readings are in place.
- Among several acts, "the act" a deadline relies on is the one surely done first (by the end of
  the period it may have happened in, then id); ties between reports at one instant go by id.
- A target that is met began with the last unbroken run of on-target measurements before the
  due instant.
- A duty without a date (a deadline with no `due`) counts its reasonable time from the day its
  window opens, as agreement-format.md says; before it opens it is `not_yet_due` with no `since`,
  like a dated deadline.

It reads `Term.share` (each, any, jointly) and rolls per-party verdicts up as docs/architecture.md,
"Several owing parties", says; `replace` (dataclasses) makes the one-party commitment it judges alone.
"""

import calendar
from dataclasses import replace
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DUE_SOON_DAYS = 7
ONE_DAY = timedelta(days=1)

AWAITING_SIGNATURE, AWAITING_ANCHOR, NOT_TRACKED = "awaiting_signature", "awaiting_anchor", "not_tracked"
NOT_YET_DUE, DUE_SOON, MET, MET_LATE, MISSED = "not_yet_due", "due_soon", "met", "met_late", "missed"
OVERDUE = "overdue"
IN_COMPLIANCE, BREACHED, DISPUTED, NO_DATA = "in_compliance", "breached", "disputed", "no_data"
UNCONFIRMED = "unconfirmed"


# --- names ------------------------------------------------------------------------------------------------


def fold(name):
    """Case, accents, punctuation and spacing folded (architecture.md, "Attribution")."""
    text = "".join(c for c in unicodedata.normalize("NFKD", name or "") if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


# --- days -------------------------------------------------------------------------------------------------


def local_date(instant, tz):
    return instant.astimezone(ZoneInfo(tz)).date()


_FIRST_INSTANTS = {}


def first_instant(day, tz):
    """The first instant whose local date (in `tz`) is `day`: found by bisecting whole seconds.

    Local midnight lies between day 00:00 UTC - 14 h and + 12 h for any zone from UTC-12 to +14;
    from the outer bounds of that range the local date only moves forward.
    """
    key = (day, tz)
    if key not in _FIRST_INSTANTS:
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        lo, hi = -15 * 3600, 15 * 3600  # local date at lo is before `day`, at hi it is `day` or later
        assert local_date(base + timedelta(seconds=lo), tz) < day <= local_date(base + timedelta(seconds=hi), tz)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if local_date(base + timedelta(seconds=mid), tz) < day:
                lo = mid
            else:
                hi = mid
        _FIRST_INSTANTS[key] = base + timedelta(seconds=hi)
    return _FIRST_INSTANTS[key]


def shift(day, n, unit):
    """Day 0 + n days, or + n months on the same day of the month, clamped to the month's last day."""
    if unit == "days":
        return day + timedelta(days=n)
    months = day.year * 12 + (day.month - 1) + n
    year, month = divmod(months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_month(day):
    return shift(day, 1, "months")


class Window:
    """A window's instants (agreement-format.md, "Day counting")."""

    def __init__(self, window, anchor_day, tz):
        self.tz = tz
        self.opens_day = shift(anchor_day, window.starts, window.unit)
        self.opens_at = first_instant(self.opens_day, tz)
        self.due_day = self.due_at = self.missed_at = self.closes_at = None
        if window.due is not None:
            self.due_day = shift(anchor_day, window.due, window.unit)
            # Ends at local midnight at the end of the due day; grace is always days.
            self.due_at = first_instant(self.due_day + ONE_DAY, tz)
            self.missed_at = first_instant(self.due_day + timedelta(days=1 + window.grace_days), tz)
        if window.ends is not None:
            self.closes_at = first_instant(shift(anchor_day, window.ends, window.unit) + ONE_DAY, tz)
        # A duty without a date: its reasonable time, always days, from the opening day (day 0).
        self.reasonable_day = self.overdue_at = None
        reasonable = getattr(window, "reasonable_days", None)
        if window.due is None and reasonable is not None:
            self.reasonable_day = self.opens_day + timedelta(days=reasonable)
            self.overdue_at = first_instant(self.reasonable_day + ONE_DAY, tz)

    def inside(self, instant):
        return self.opens_at <= instant and (self.closes_at is None or instant < self.closes_at)


# --- weighing evidence -------------------------------------------------------------------------------------


def state_at(e, known_at):
    if e.recorded_at > known_at:
        return None  # does not exist yet
    state = "claimed"
    for changed_at, new_state in e.verification:
        if changed_at <= known_at:
            state = new_state
    return state


def weight(e, known_at):
    """"counts", "disputed", "weak" (a claim weaker than B2) or None (not known, rejected)."""
    state = state_at(e, known_at)
    if state == "verified":
        return "counts"
    if state == "disputed":
        return "disputed"
    if state == "claimed" and e.source.reliability in ("A", "B") and e.credibility in (1, 2):
        return "counts"
    return "weak" if state == "claimed" else None


def speaks_to(t, e):
    """Does the rule count this report (categories, places, interactions, attribution), or is it linked to it?"""
    if e.commitment_id == t.id:
        return True
    return selects(t, e) and by_owing(t, e)


def selects(t, e):
    """The rule's categories, places and ACLED interactions, who acted aside."""
    rule = t.rule
    if e.commitment_id is not None and not rule.categories:
        return False  # linked by hand to another commitment: not evidence for a rule naming no category
    if rule.categories:
        wanted = {fold(c) for c in rule.categories}
        if fold(e.category) not in wanted and fold(e.sub_category) not in wanted:
            return False
    if getattr(rule, "interactions", ()) and fold(getattr(e, "interaction", "")) not in {
        fold(i) for i in rule.interactions
    }:
        return False
    if rule.admin1 or rule.locations:
        if fold(e.admin1) not in {fold(a) for a in rule.admin1} and fold(e.location) not in {
            fold(p) for p in rule.locations
        }:
            return False
    return True


def sides_read(t, e):
    """[(raw actor, is the second)]: actor1, and actor2 when the rule reads `either` actor and it names someone."""
    sides = [(e.actor1, False)]
    if getattr(t.rule, "actors", "either") == "either" and fold(getattr(e, "actor2", "")):
        sides.append((e.actor2, True))
    return sides


def by_owing(t, e):
    """Is the act attributed as the rule asks (docs/agreement-format.md, "Which actors a rule reads")?"""
    rule = t.rule
    non_party = getattr(t, "non_party_names", ())
    jointly = t.share == "jointly" and len(t.owing) > 1 and t.kind in ("deadline", "target") and (
        rule.attribution != "any")
    named_owing = context = unidentified = False
    for raw, second in sides_read(t, e):
        actor = fold(raw)
        if actor in non_party:
            context = True  # a non-party actor's side: never an owing party's act
            continue
        if actor.startswith("unidentified") or (actor == "" and not second):
            unidentified = True
        named = [fold(part) for part in raw.split(";")] if ";" in raw else [actor]
        named = [n for n in named if n]
        parties_named = [p for p in t.owing if any(n in p.names for n in named)]
        # Shared `jointly`, a deadline or target counts only an act naming every owing party together, on one side.
        if jointly:
            named_owing |= ";" in raw and len(parties_named) == len(t.owing)
        else:
            named_owing |= bool(parties_named)
    if named_owing:
        return True
    if context:
        return False  # a non-party actor's act is context, never evidence, whatever the attribution
    if rule.attribution == "any":
        return True
    return rule.attribution == "owing_or_unidentified" and unidentified


def in_context(t, e):
    """Context: a report not linked to the commitment, the rule's sort, with a non-party on a side read, not counted."""
    non_party = getattr(t, "non_party_names", ())
    if e.commitment_id == t.id or not any(fold(raw) in non_party for raw, _second in sides_read(t, e)):
        return False
    return selects(t, e) and not by_owing(t, e)


def in_time(reports):
    return sorted(reports, key=lambda e: (e.occurred_at, e.id))


# --- the judges --------------------------------------------------------------------------------------------


def pending(w, as_of):
    """Not settled: inside the grace period, due within 7 days, or further off."""
    if as_of >= w.due_at:
        return DUE_SOON, w.due_at
    days_left = (w.due_day - local_date(as_of, w.tz)).days
    if days_left <= DUE_SOON_DAYS:
        return DUE_SOON, first_instant(w.due_day - timedelta(days=DUE_SOON_DAYS), w.tz)
    return NOT_YET_DUE, (w.opens_at if as_of >= w.opens_at else None)


def period_end(e, tz):
    """The exclusive end of when it may have happened: its local day, week or month, or occurred_until."""
    if e.occurred_until is not None:
        return e.occurred_until
    if e.precision == "minute":
        return e.occurred_at + timedelta(minutes=1)
    day = local_date(e.occurred_at, tz)
    last = {"day": day + ONE_DAY, "week": day + timedelta(days=7), "month": add_month(day)}[e.precision]
    return first_instant(last, tz)


def done_by(e, tz):
    """The instant before which the act had surely happened (an exclusive bound).

    The end of its period, or its recording if that is earlier ("no report describes an act that has
    not happened yet"); but an act takes at least the minute it is dated to (minute is the finest
    precision a report has), so never before a minute after it began.
    """
    return max(e.occurred_at + timedelta(minutes=1), min(period_end(e, tz), e.recorded_at))


def on_time(e, w):
    """Surely done by the end of the due day."""
    return done_by(e, w.tz) <= w.due_at


def judge_duty(t, w, reports, as_of):
    """A deadline without a due date: open until done, met on the act, overdue after a reasonable time."""
    acts = [e for e in reports if e.stance == "affirms" and w.inside(e.occurred_at)]
    if acts:
        act = min(acts, key=lambda e: (done_by(e, w.tz), e.id))  # denials were weighed in judge_one
        if w.overdue_at is None or done_by(act, w.tz) <= w.overdue_at:
            return MET, act.occurred_at
        if as_of >= w.overdue_at:
            return MET_LATE, max(act.occurred_at, w.overdue_at)
    if as_of < w.opens_at:
        return NOT_YET_DUE, None
    if w.overdue_at is None:
        return NOT_YET_DUE, w.opens_at
    if as_of >= w.overdue_at:
        return OVERDUE, w.overdue_at
    if (w.reasonable_day - local_date(as_of, w.tz)).days <= DUE_SOON_DAYS:
        return DUE_SOON, max(w.opens_at, first_instant(w.reasonable_day - timedelta(days=DUE_SOON_DAYS), w.tz))
    return NOT_YET_DUE, w.opens_at


def judge_deadline(t, w, reports, as_of):
    if w.due_at is None:
        return judge_duty(t, w, reports, as_of)
    acts = [e for e in reports if e.stance == "affirms" and w.inside(e.occurred_at)]
    if acts:
        act = min(acts, key=lambda e: (done_by(e, w.tz), e.id))
        if on_time(act, w):
            return MET, act.occurred_at
        if as_of >= w.due_at:
            return MET_LATE, max(act.occurred_at, w.due_at)  # late from the deadline, not before it
    if as_of >= w.missed_at:
        return MISSED, w.missed_at
    return pending(w, as_of)


def judge_target(t, w, reports, as_of):
    rule = t.rule

    def reached(value):
        # docs/agreement-format.md, `comparison`: unset, `direction` decides (at most / at least).
        comparison = rule.comparison or ("<=" if rule.direction == "at_most" else ">=")
        return {
            "<": value < rule.target, "<=": value <= rule.target, "==": value == rule.target,
            ">=": value >= rule.target, ">": value > rule.target,
        }[comparison]

    measured = [e for e in reports if e.stance == "affirms" and e.value is not None]
    if as_of < w.due_at:
        return pending(w, as_of)
    before = [m for m in measured if m.occurred_at < w.due_at]
    if before and reached(before[-1].value):
        # Met since the first of the last unbroken run of on-target measurements.
        start = len(before) - 1
        while start > 0 and reached(before[start - 1].value):
            start -= 1
        return MET, before[start].occurred_at
    late = [m for m in measured if m.occurred_at >= w.due_at and reached(m.value)]
    if late:
        return MET_LATE, late[0].occurred_at
    if as_of >= w.missed_at:
        return (MISSED if measured else NO_DATA), w.missed_at  # never measured at all: no data
    return pending(w, as_of)


def covered(t, day, periods, known_at):
    """Some coverage declares the day covered everywhere the rule looks."""
    known = [p for p in periods if p.recorded_at <= known_at and p.starts_on <= day
             and (p.ends_on is None or day <= p.ends_on)]
    if any(not p.admin1 for p in known):
        return True
    wanted = {fold(a) for a in t.rule.admin1}
    return bool(wanted) and wanted <= {fold(p.admin1) for p in known}


def day_list(first, last):
    out = []
    while first <= last:
        out.append(first)
        first += ONE_DAY
    return out


def judge_ceiling(t, w, reports, as_of, known_at, periods):
    if as_of < w.opens_at:
        return NOT_YET_DUE, None
    end = as_of if w.closes_at is None else min(as_of, w.closes_at)
    rule = t.rule
    events = {}  # event -> its earliest report, in the window
    for e in reports:
        if e.stance != "affirms" or not w.inside(e.occurred_at):
            continue
        if rule.period == "day" and e.precision not in ("minute", "day"):
            continue  # dated only to a week or month: not counted per day
        key = ("event", e.event_id) if e.event_id is not None else ("report", e.id)
        events.setdefault(key, e)  # reports come in time order: the first is the earliest
    events = in_time(events.values())
    day_of = {id(e): local_date(e.occurred_at, w.tz) for e in events}

    # The days looked at: from the opening to the last day begun before `end`, and any day with an event.
    last = w.opens_day
    while first_instant(last + ONE_DAY, w.tz) < end:
        last += ONE_DAY
    last = max([last, *day_of.values()])
    days = day_list(w.opens_day, last)
    with_data = {d for d in days if covered(t, d, periods, known_at) or d in day_of.values()}

    # "Fewer than N" (comparison "<"): N events are already too many, and the N-th one crossed it.
    fewer = rule.comparison == "<"

    def over(count):
        return count >= rule.limit if fewer else count > rule.limit

    crossing = rule.limit - 1 if fewer else rule.limit

    if rule.period == "window":
        if over(len(events)):
            return BREACHED, events[crossing].occurred_at
        return enough_evidence(t, (IN_COMPLIANCE if with_data else NO_DATA, w.opens_at), len(with_data), len(days))

    breached, since, clean = False, w.opens_at, 0
    for day in days:
        todays = [e for e in events if day_of[id(e)] == day]
        complete = first_instant(day + ONE_DAY, w.tz) <= end
        if over(len(todays)):
            if not breached:
                breached, since = True, todays[crossing].occurred_at
            clean = 0
        elif breached and complete and day in with_data:
            clean += 1
        # The breach ends once recovery_days complete days with data at or under the limit have passed
        # (and only on such a day: 0 counts as 1).
        if breached and complete and clean >= max(rule.recovery_days, 1):
            breached, since, clean = False, first_instant(day + ONE_DAY, w.tz), 0
    if breached:
        return BREACHED, since
    return enough_evidence(t, (IN_COMPLIANCE if with_data else NO_DATA, since), len(with_data), len(days))


def enough_evidence(t, verdict, days_with_data, days):
    """"In compliance" only when it could have been otherwise (architecture.md, "Verdicts that claim no more
    than the evidence"): some source reports the rule's categories, and sources cover at least the
    agreement's share of the days looked at; else no data, from the same instant."""
    status, since = verdict
    if status != IN_COMPLIANCE:
        return verdict
    if t.rule.categories and t.reported_categories is not None:
        if not {fold(c) for c in t.rule.categories} & {fold(c) for c in t.reported_categories}:
            return NO_DATA, since
    if t.coverage_share and days and days_with_data / days < t.coverage_share / 100:
        return NO_DATA, since
    return verdict


def judge_prohibition(t, w, reports, as_of, known_at=None, periods=()):
    verdict, instants, end = _prohibition(t, w, reports, as_of)
    if verdict[0] != IN_COMPLIANCE:
        return verdict
    # The days looked at, as for a ceiling (without days after the end): covered, or a violation was reported.
    last = w.opens_day
    while first_instant(last + ONE_DAY, w.tz) < end:
        last += ONE_DAY
    days = day_list(w.opens_day, last)
    violated = {local_date(i, w.tz) for i in instants}
    with_data = [d for d in days if d in violated or covered(t, d, periods, known_at)]
    return enough_evidence(t, verdict, len(with_data), len(days))


def _prohibition(t, w, reports, as_of):
    """((status, since), violation instants, end) of a ban, before asking whether the evidence can say so."""
    if as_of < w.opens_at:
        return (NOT_YET_DUE, None), [], None
    end = as_of if w.closes_at is None else min(as_of, w.closes_at)
    # Each violation's instant: a report of conduct over a period (occurred_until) that began before the
    # window and runs into it counts from the window's opening (architecture.md, "By kind").
    instants = [e.occurred_at for e in reports if e.stance == "affirms" and w.inside(e.occurred_at)]
    instants += [
        w.opens_at for e in reports
        if e.stance == "affirms" and e.occurred_until is not None and e.occurred_at < w.opens_at < period_end(e, w.tz)
    ]
    instants.sort()
    if not instants:
        return (IN_COMPLIANCE, w.opens_at), instants, end
    if t.rule.recovery_days is None:
        return (BREACHED, instants[0]), instants, end  # until an analyst says otherwise
    status, since, clean = IN_COMPLIANCE, w.opens_at, 0
    day = w.opens_day
    while first_instant(day, w.tz) <= end:
        todays = [i for i in instants if local_date(i, w.tz) == day]
        if todays:
            if status != BREACHED:
                status, since = BREACHED, todays[0]  # a new episode
            clean = 0
        elif status == BREACHED:
            clean += 1
        # A breach is over once recovery_days whole days have passed without a violation.
        if status == BREACHED and clean >= t.rule.recovery_days and first_instant(day + ONE_DAY, w.tz) <= end:
            status, since, clean = IN_COMPLIANCE, first_instant(day + ONE_DAY, w.tz), 0
        day += ONE_DAY
    return (status, since), instants, end


def judge_once(t, w, reports, as_of, known_at, periods):
    if t.kind == "deadline":
        return judge_deadline(t, w, reports, as_of)
    if t.kind == "target":
        return judge_target(t, w, reports, as_of)
    if t.kind == "ceiling":
        return judge_ceiling(t, w, reports, as_of, known_at, periods)
    return judge_prohibition(t, w, reports, as_of, known_at, periods)


# Several parties owing `each`: the roll-up is the first of the parties' statuses here, worst first.
ROLL_UP = [MISSED, OVERDUE, BREACHED, DISPUTED, UNCONFIRMED, NO_DATA, DUE_SOON, NOT_YET_DUE, MET_LATE, IN_COMPLIANCE, MET]


def judge_one(t, evidence, *, as_of, known_at, coverage, anchor_day):
    if t.share == "each" and len(t.owing) > 1 and t.rule.attribution != "any" and t.tracked and (
        anchor_day is not None or (t.window.anchor == "signing" and t.signed_on is not None)
    ):
        # Each party judged alone, on its own acts (a report linked by hand naming none of them: on every
        # party's), then rolled up (docs/architecture.md, "Several owing parties").
        verdicts = []
        for p in t.owing:
            alone = replace(t, owing=(p,))
            mine = [
                e for e in evidence
                if (e.commitment_id != t.id and speaks_to(alone, e))
                or (e.commitment_id == t.id and (by_owing(alone, e) or not by_owing(t, e)))
            ]
            verdicts.append(judge_one(alone, mine, as_of=as_of, known_at=known_at, coverage=coverage,
                                      anchor_day=anchor_day))
        status = min((v[0] for v in verdicts), key=ROLL_UP.index)
        if status in (MET, MET_LATE, IN_COMPLIANCE):
            return status, max((v[1] for v in verdicts if v[1] is not None), default=None)
        return status, min((v[1] for v in verdicts if v[0] == status and v[1] is not None), default=None)
    if not t.tracked:
        return NOT_TRACKED, None
    if t.window.anchor == "signing":
        if t.signed_on is None:
            return AWAITING_SIGNATURE, None
        anchor_day = t.signed_on
    elif anchor_day is None:
        return AWAITING_ANCHOR, None
    w = Window(t.window, anchor_day, t.time_zone)
    counting, disputed = [], []
    for e in evidence:
        if e.occurred_at <= as_of and speaks_to(t, e):
            standing = weight(e, known_at)
            if standing == "counts":
                counting.append(e)
            elif standing == "disputed":
                disputed.append(e)
    weak = [e for e in evidence if e.occurred_at <= as_of and speaks_to(t, e) and weight(e, known_at) == "weak"]
    # Denials (architecture.md, "Weighing evidence", 6): the acts a counting denial says did not happen.
    def contests(d, a):
        """Does counting denial `d` contest act `a` (step 6)?"""
        grouped = d.event_id is not None and d.event_id == a.event_id
        if t.kind == "deadline":
            speaks = a.occurred_at <= d.occurred_at  # "it had not happened by then"
        elif t.kind in ("ceiling", "prohibition"):
            # "it did not happen then"; conduct over a period reaching into a ban's window is there from its opening
            instant = w.opens_at if (t.kind == "prohibition" and a.occurred_until is not None
                                     and a.occurred_at < w.opens_at < period_end(a, w.tz)) else a.occurred_at
            speaks = d.occurred_at <= instant < period_end(d, w.tz)
        else:
            speaks = False  # a measurement: only the one grouped with it
        # Only acts that could decide it: a target reads every figure; the others, acts in the window.
        straddles = (t.kind == "prohibition" and a.occurred_until is not None
                     and a.occurred_at < w.opens_at < period_end(a, w.tz))
        decides = t.kind == "target" or w.inside(a.occurred_at) or straddles
        return (grouped or speaks) and decides

    denied, contesting = set(), set()
    for d in counting:
        if d.stance != "denies":
            continue
        for a in counting:
            if a.stance == "affirms" and contests(d, a):
                denied.add(a.id)
                contesting.add(d.id)
    strict_reports = [e for e in counting if e.id not in denied]
    strict = judge_once(t, w, in_time(strict_reports), as_of, known_at, coverage)
    doubtful = disputed + [e for e in counting if e.id in denied]
    if doubtful:
        loose = judge_once(t, w, in_time(strict_reports + doubtful), as_of, known_at, coverage)
        if loose[0] != strict[0]:
            if denied and not disputed:
                first_act = min(e.occurred_at for e in counting if e.id in denied)
                first_denial = min(e.occurred_at for e in counting if e.id in contesting)
                return DISPUTED, max(first_act, first_denial)
            return DISPUTED, max((s for s in (strict[1], loose[1]) if s is not None), default=None)
    # Claims below the grade (architecture.md, "Weighing evidence", 8).
    can_move = {"deadline": (MISSED, OVERDUE, NO_DATA), "target": (MISSED, NO_DATA),
                "prohibition": (IN_COMPLIANCE, NO_DATA)}
    claims = [e for e in weak if e.stance == "affirms"]
    # A claim a counting denial contests (as in step 6) is refuted, not awaiting confirmation.
    claims = [a for a in claims if not any(d.stance == "denies" and contests(d, a) for d in counting)]
    if claims and strict[0] in can_move.get(t.kind, ()):
        claimed = judge_once(t, w, in_time(strict_reports + claims), as_of, known_at, coverage)
        if claimed[0] != strict[0]:
            return UNCONFIRMED, max((s for s in (strict[1], claimed[1]) if s is not None), default=None)
    return strict


def judge(terms, evidence, *, as_of, known_at=None, coverage=()):
    """{commitment id: (status, since)}; a commitment counted from an anchor starts on the day of its moment.

    agreement-format.md, "Anchors": the dependent's window exists once the anchor's moment has
    happened as of `as_of` (as known at `known_at`); day 0 is the local day of the moment.
    """
    known_at = as_of if known_at is None else known_at
    by_id = {t.id: t for t in terms}
    out, days = {}, {}  # days: commitment id -> its own day 0 (None: not known)
    counting = [e for e in evidence if weight(e, known_at) == "counts"]

    def judged(t, when, reports):
        return judge_one(t, reports, as_of=when, known_at=known_at, coverage=coverage, anchor_day=days[t.id])

    def moment_day(t, seen):
        w = t.window
        if w.anchor == "milestone":
            # Reached at the first counting report its rule recognises, whoever acted.
            m = t.anchor_milestone
            if m is None:
                return None
            shows = [e for e in in_time(counting) if e.occurred_at <= as_of and e.stance == "affirms"
                     and shows_milestone(m, e)]
            return local_date(shows[0].occurred_at, t.time_zone) if shows else None
        anchor = by_id.get(w.anchor_commitment_id)
        if w.anchor != "commitment" or anchor is None or t.id in seen:
            return None
        status, since = resolve(anchor, (*seen, t.id))
        if not anchor.tracked or days[anchor.id] is None:
            return None
        aw = Window(anchor.window, days[anchor.id], anchor.time_zone)
        moment = w.anchor_moment
        if moment == "opens" and aw.opens_at <= as_of:
            return aw.opens_day
        if moment == "due" and aw.due_at is not None and aw.due_at <= as_of:
            return aw.due_day
        if moment == "closes" and aw.closes_at is not None and aw.closes_at <= as_of:
            return local_date(aw.closes_at, anchor.time_zone) - ONE_DAY
        if moment == "met" and status in (MET, MET_LATE):
            return local_date(since, t.time_zone)
        if moment == "missed" and aw.missed_at is not None and aw.missed_at <= as_of:
            # Missed as judged at the end of its grace period, whatever was reported of later acts.
            if judged(anchor, aw.missed_at, evidence)[0] == MISSED:
                return local_date(aw.missed_at, t.time_zone)
        if moment == "breached":
            # The first report instant at which, on counting reports alone, it is breached.
            for e in in_time(counting):
                if e.occurred_at > as_of:
                    break
                then = judged(anchor, e.occurred_at, counting)
                if then[0] == BREACHED:
                    return local_date(then[1], t.time_zone)
        return None

    def resolve(t, seen=()):
        if t.id not in out:
            days[t.id] = t.signed_on if t.window.anchor == "signing" else moment_day(t, seen)
            out[t.id] = judge_one(t, evidence, as_of=as_of, known_at=known_at, coverage=coverage,
                                  anchor_day=days[t.id])
        return out[t.id]

    for t in terms:
        resolve(t)
    return out


def shows_milestone(m, e):
    """A report of a milestone: in its categories and places (agreement-format.md, "milestones")."""
    if fold(e.category) not in {fold(c) for c in m.rule.categories} and fold(e.sub_category) not in {
        fold(c) for c in m.rule.categories
    }:
        return False
    if m.rule.admin1 or m.rule.locations:
        return fold(e.admin1) in {fold(a) for a in m.rule.admin1} or fold(e.location) in {
            fold(p) for p in m.rule.locations
        }
    return True
