"""Plain-value builders for the verdict engine's tests.

The engine is a pure function of (term, evidence, as_of, known_at, coverage),
so its tests need no database: these helpers build the engine's own input
values (monitor.verdicts.engine) with defaults that describe one ordinary case:

- an agreement in Asia/Kabul (UTC+4:30, no DST) signed on 29 February 2020;
- one owing party, the Taliban, whose sources also call it the Islamic Emirate;
- reports from UNAMA (reliability B) graded credibility 2, i.e. B2: a claimed
  report that counts, attributed to the Taliban, recorded when it happened.

Times: `at(2020, 3, 10, 23, 59)` is 23:59 *local* (Kabul unless `tz=` says
otherwise) returned in UTC; `midnight(day)` is the first instant of a local day.
"""

import itertools
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from monitor.verdicts.engine import CoveragePeriod, Evidence, PartyRef, SourceRef, Term
from terms.rules import Rule, Window, normalize_name

KABUL = "Asia/Kabul"
NEW_YORK = "America/New_York"
SIGNED = date(2020, 2, 29)

UNAMA = SourceRef(id=1, name="UNAMA", reliability="B", kind="monitoring_mission")
ACLED = SourceRef(id=2, name="ACLED", reliability="A", kind="event_dataset")
LOCAL_PRESS = SourceRef(id=3, name="Local press", reliability="C", kind="media")
PARTY_STATEMENT = SourceRef(id=4, name="Taliban spokesman", reliability="F", kind="party_statement")

_ids = itertools.count(1000)


def next_id():
    return next(_ids)


def zone(tz=KABUL):
    return ZoneInfo(tz)


def at(year, month, day, hour=0, minute=0, *, tz=KABUL):
    """A local wall-clock time in `tz`, as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=zone(tz)).astimezone(UTC)


def utc(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def midnight(day, tz=KABUL):
    """The first instant of a local calendar day, in UTC (worked out here, not by the code under test)."""
    return at(day.year, day.month, day.day, tz=tz)


def party(name="Taliban", *aliases, id=1):
    """An owing party; `names` holds the normalized forms, its own name included."""
    return PartyRef(id=id, name=name, names=frozenset(normalize_name(n) for n in (name, *aliases)))


TALIBAN = party("Taliban", "Islamic Emirate of Afghanistan", id=1)
GOVERNMENT = party("Government of Afghanistan", "Afghan National Security Forces", id=2)


def term(
    kind="deadline",
    rule=None,
    window=None,
    *,
    id=1,
    key=None,
    title=None,
    time_zone=KABUL,
    signed_on=SIGNED,
    owing=(TALIBAN,),
    tracked=True,
    agreement_id=1,
    share="each",
):
    """A commitment. `rule` may be a Rule or a dict (read by Rule.from_dict, so a
    ceiling gets its default recovery_days); `window` a Window or a dict of its fields.

    Defaults: a deadline due 10 days after signing; a target due 30 days after;
    ceilings and prohibitions open on the signing day and run on.
    """
    if rule is None:
        rule = {}
    if isinstance(rule, dict):
        rule = dict(rule)
        if kind == "ceiling":
            rule.setdefault("limit", 0)
        if kind == "target":
            rule.setdefault("target", 10)
        rule = Rule.from_dict(kind, rule)
    if window is None:
        window = {"due": 10} if kind == "deadline" else {"due": 30} if kind == "target" else {}
    if isinstance(window, dict):
        window = Window(**window)
    return Term(
        id=id,
        key=key or f"c{id}",
        title=title or f"Commitment {id}",
        kind=kind,
        rule=rule,
        window=window,
        time_zone=time_zone,
        signed_on=signed_on,
        owing=tuple(owing),
        tracked=tracked,
        agreement_id=agreement_id,
        share=share,
    )


def report(
    when,
    *,
    id=None,
    source=UNAMA,
    credibility=2,
    recorded_at=None,
    precision=None,
    tz=KABUL,
    actor1="Taliban",
    **kwargs,
):
    """A report of something that happened at `when`.

    `when` a date: a day-precision report stored at that local day's midnight
    (as the loaders store them). `when` a datetime: an exact-time report
    ("minute" precision) unless `precision` says otherwise. Recorded when it
    happened unless `recorded_at` says otherwise. Extra keyword arguments are
    Evidence fields (category, stance, value, verification, event_id, ...).
    """
    if isinstance(when, datetime):
        occurred_at = when
        precision = precision or "minute"
    else:
        occurred_at = midnight(when, tz)
        precision = precision or "day"
    return Evidence(
        id=next_id() if id is None else id,
        source=source,
        occurred_at=occurred_at,
        recorded_at=occurred_at if recorded_at is None else recorded_at,
        precision=precision,
        credibility=credibility,
        actor1=actor1,
        **kwargs,
    )


def measurement(when, value, **kwargs):
    """A report of a measured quantity (for targets)."""
    return report(when, value=value, **kwargs)


def coverage(starts_on, ends_on=None, *, source_id=UNAMA.id, recorded_at=None, admin1=""):
    """A source's declared coverage; recorded long before anything happens unless said otherwise."""
    return CoveragePeriod(
        source_id=source_id,
        starts_on=starts_on,
        ends_on=ends_on,
        recorded_at=utc(2019, 1, 1) if recorded_at is None else recorded_at,
        admin1=admin1,
    )
