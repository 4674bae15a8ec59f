"""A commitment's rule and window as plain values, and the day-counting convention.

Nothing here touches the database: the models, the agreement-file loader and the
verdict engine all share these definitions, so a rule means the same thing
wherever it is read.

Day counting (documented in docs/agreement-format.md):

- The anchor day is day 0: the signing date, or the local date of the anchor's
  moment (another commitment's window opening, its due day, its being met,
  missed or first breached, its window's last day; or a milestone reached).
- An offset of N days is the calendar day N days after the anchor day; an
  offset of N months is the same day of the month N months later, clamped to
  the month's last day (29 February 2020 + 12 months = 28 February 2021;
  + 14 months = 29 April 2021).
- A window *opens* at local midnight at the start of its first day.
- A deadline ("within 10 days") *ends* at local midnight at the end of its last
  day, in the agreement's time zone: signed 29 February, due 10 March, so an
  action at 23:59 Kabul time on 10 March is on time and one at 00:01 on 11 March
  is late.
- Grace days extend the instant a deadline counts as missed, not the due date:
  an action inside the grace period is "met late".
- A deadline without a due offset is a duty without a date ("restore federal
  services", "within agreed time frames"): open until done. Its optional
  reasonable time (`reasonable_days`, always days) counts from the day the window
  opens like a due offset (opening day 0, ends at local midnight at the end of
  day N); after it the duty is overdue without a fixed deadline, never missed.
  "Immediately" is a dated duty: `due: 0`.
"""

import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

KINDS = ("deadline", "target", "ceiling", "prohibition")
ATTRIBUTIONS = ("owing", "owing_or_unidentified", "any")
# Which of a report's actor fields name who acted (docs/agreement-format.md, "Which actors a rule reads").
# ACLED's codebook: "Actor 1 and Actor 2 do not imply directionality (e.g. attacker or defender)", so
# by default a party named on either side of an event is taken to have acted in it; `actor1` is for
# sources whose first actor is the acting side (reports entered by hand, the monitor's own format).
ACTORS = ("either", "actor1")
PERIODS = ("day", "window")
DIRECTIONS = ("at_most", "at_least")
COMPARISONS = ("<", "<=", "==", ">=", ">")
# What each kind may compare. A target's quantity may have to end below, at most, exactly, at
# least or above its level; a ceiling's count of events stays at most its limit ("no more than
# ten a day") or under it ("fewer than ten a day"). Deadlines and prohibitions compare nothing.
KIND_COMPARISONS = {"target": COMPARISONS, "ceiling": ("<", "<=")}
_DIRECTION_OF = {"<": "at_most", "<=": "at_most", ">=": "at_least", ">": "at_least"}

# What a window can be counted from, and the moment of it (docs/agreement-format.md, "Anchors").
ANCHOR_KINDS = ("signing", "commitment", "milestone")
MOMENTS = ("opens", "due", "met", "missed", "breached", "closes", "reached")
# The moments each kind of commitment has; `closes` only when its window has an end (`ends`).
# A prohibition is never "met", a deadline never "breached". "reached" is a milestone's only moment.
MOMENTS_OF_KIND = {
    "deadline": ("opens", "due", "met", "missed", "closes"),
    "target": ("opens", "due", "met", "missed", "closes"),
    "ceiling": ("opens", "breached", "closes"),
    "prohibition": ("opens", "breached", "closes"),
}


class RuleError(ValueError):
    """A rule or window that cannot be evaluated; `field` names the offending part."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@lru_cache(maxsize=65536)
def normalize_name(name):
    """Fold case, accents, punctuation and spacing so 'Taliban ' matches 'taliban'."""
    name = unicodedata.normalize("NFKD", name or "")
    name = "".join(c for c in name if not unicodedata.combining(c))
    name = re.sub(r"[^\w]+", " ", name.casefold())
    return " ".join(name.split())


def validate_time_zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a region name such as "America" is a directory of the zone database, not a zone.
        raise RuleError("time_zone", f"unknown time zone {name!r} (use an IANA name such as Asia/Kabul)") from None


@dataclass(frozen=True)
class Rule:
    """Which reports count for a commitment, and what they must show.

    categories: report categories or event types that qualify (ACLED event_type
        and sub_event_type values match too). Empty: any category.
    admin1 / locations: places (province, place name) where an event must happen
        to count. Empty: anywhere.
    attribution: whose acts count. "owing" (default): only events attributed to a
        party that owes the commitment; "owing_or_unidentified" also counts events
        whose actor is unidentified; "any" counts every qualifying event.
    actors: which actor fields of a report name who acted: "either" (default: actor1 or
        actor2, as ACLED's actors carry no direction) or "actor1" (the first only).
    interactions: ACLED `interaction` values a report must carry to count (e.g. "17",
        state forces and civilians; or the text form, "State forces-Civilians"). Empty: any.
    limit / period: a ceiling's limit per day or per window.
    target / direction / baseline: a target's level, whether the quantity must be
        at most or at least that level, and where it started (for progress).
    recovery_days: days with data at or under the limit (ceiling), or without a
        credible violation (prohibition), after which a breach is over. None:
        a prohibition's breach lasts until an analyst says otherwise.
    comparison: how a target's quantity compares with its level ("<", "<=", "==", ">=",
        ">"; unset: "<=" or ">=" by `direction`), or a ceiling's count with its limit ("<=",
        the default: at most; "<": fewer than).
    """

    categories: tuple = ()
    admin1: tuple = ()
    locations: tuple = ()
    attribution: str = "owing"
    actors: str = "either"
    interactions: tuple = ()
    limit: int | None = None
    period: str = "day"
    target: float | None = None
    direction: str = "at_most"
    baseline: float | None = None
    unit: str = ""
    recovery_days: int | None = None
    comparison: str | None = None

    @property
    def target_comparison(self):
        """The comparison a target's quantity must meet: the rule's, or the one `direction` implies."""
        return self.comparison or ("<=" if self.direction == "at_most" else ">=")

    @property
    def allowed(self):
        """A ceiling's most events allowed (per day or per window): its limit, or one fewer under "<"."""
        return self.limit - 1 if self.comparison == "<" else self.limit

    @classmethod
    def from_dict(cls, kind, data):
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise RuleError(f"rule.{unknown[0]}", "unknown field (known: " + ", ".join(sorted(known)) + ")")
        for name in ("categories", "admin1", "locations"):
            value = data.get(name) or ()
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise RuleError(f"rule.{name}", "must be a list of strings")
            data[name] = tuple(value)
        value = data.get("interactions") or ()
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
        ):
            raise RuleError("rule.interactions", "must be a list of ACLED interaction codes (such as 17) or names")
        # ACLED wrote the codes as numbers until 2024 and as text since: both are kept as the text they read as.
        data["interactions"] = tuple(str(v).strip() for v in value)
        if data.get("actors", "either") not in ACTORS:
            raise RuleError("rule.actors", "must be one of " + ", ".join(ACTORS))
        if not isinstance(data.get("unit", ""), str):
            raise RuleError("rule.unit", "must be text")
        if data.get("attribution", "owing") not in ATTRIBUTIONS:
            raise RuleError("rule.attribution", "must be one of " + ", ".join(ATTRIBUTIONS))
        if data.get("period", "day") not in PERIODS:
            raise RuleError("rule.period", "must be one of " + ", ".join(PERIODS))
        if data.get("direction", "at_most") not in DIRECTIONS:
            raise RuleError("rule.direction", "must be one of " + ", ".join(DIRECTIONS))
        for name in ("limit", "recovery_days"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise RuleError(f"rule.{name}", "must be a whole number, 0 or more")
        for name in ("target", "baseline"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise RuleError(f"rule.{name}", "must be a number")
        comparison = data.get("comparison")
        if comparison is not None:
            if comparison not in COMPARISONS:
                raise RuleError("rule.comparison", "must be one of " + ", ".join(COMPARISONS))
            allowed = KIND_COMPARISONS.get(kind, ())
            if comparison not in allowed:
                takes = ("takes " + " or ".join(allowed)) if allowed else "compares nothing"
                raise RuleError("rule.comparison", f"a {kind} {takes}, not {comparison}")
            implied = _DIRECTION_OF.get(comparison)
            if kind == "target" and "direction" in data and implied not in (None, data["direction"]):
                raise RuleError("rule.comparison", f"{comparison} contradicts direction {data['direction']}")
            if kind == "target" and implied is not None:
                data["direction"] = implied  # one meaning, whichever field a reader looks at
            if kind == "ceiling" and comparison == "<" and data.get("limit") == 0:
                raise RuleError("rule.comparison", "fewer than 0 events can never hold: use limit 1 with <")
        if kind == "ceiling":
            if data.get("limit") is None:
                raise RuleError("rule.limit", "a ceiling needs a limit")
            data.setdefault("recovery_days", 3)
        if kind == "target" and data.get("target") is None:
            raise RuleError("rule.target", "a target needs a target value")
        return cls(**data)

    def to_dict(self):
        out = {}
        for name, f in self.__dataclass_fields__.items():
            value = getattr(self, name)
            if value != f.default:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Window:
    """When a commitment applies, as offsets from its anchor day (see module docstring)."""

    anchor: str = "signing"
    anchor_commitment_id: int | None = None
    # Which moment of the anchor is day 0: "met" (the default, so windows stored before moments
    # existed mean what they meant), or opens/due/missed/breached/closes; "reached" for a milestone.
    anchor_moment: str = "met"
    anchor_milestone_id: int | None = None
    unit: str = "days"
    starts: int = 0
    due: int | None = None
    ends: int | None = None
    grace_days: int = 0
    reasonable_days: int | None = None  # a duty without a date: days from the opening, then overdue

    def resolve(self, anchor_day, tz):
        """The concrete instants of this window, given the anchor day and the zone."""
        opens_day = shift(anchor_day, self.starts, self.unit)
        due_day = shift(anchor_day, self.due, self.unit) if self.due is not None else None
        last_day = shift(anchor_day, self.ends, self.unit) if self.ends is not None else None
        reasonable_day = opens_day + timedelta(days=self.reasonable_days) if self.reasonable_days is not None else None
        return ResolvedWindow(
            anchor_day=anchor_day,
            opens_at=day_start(opens_day, tz),
            due_day=due_day,
            due_at=day_start(due_day + timedelta(days=1), tz) if due_day else None,
            missed_at=day_start(due_day + timedelta(days=1 + self.grace_days), tz) if due_day else None,
            last_day=last_day,
            closes_at=day_start(last_day + timedelta(days=1), tz) if last_day else None,
            reasonable_day=reasonable_day,
            overdue_at=day_start(reasonable_day + timedelta(days=1), tz) if reasonable_day else None,
        )


@dataclass(frozen=True)
class ResolvedWindow:
    anchor_day: date
    opens_at: datetime
    due_day: date | None
    due_at: datetime | None  # end of the due day: acts before this instant are on time
    missed_at: datetime | None  # due_at plus grace: without the act by then, missed
    last_day: date | None
    closes_at: datetime | None  # None: ongoing
    extra: dict = field(default_factory=dict, compare=False)
    # A duty without a date: the last day of its reasonable time, and the instant it is overdue from.
    reasonable_day: date | None = None
    overdue_at: datetime | None = None


def shift(day, n, unit):
    if unit == "months":
        # relativedelta clamps to the month's last day, which is the convention we document.
        return day + relativedelta(months=n)
    return day + timedelta(days=n)


def day_start(day, tz):
    """The first instant (UTC) of a local calendar day.

    In a zone whose clocks jump forward at midnight, local 00:00 does not exist;
    zoneinfo then reads it with the pre-transition offset, which lands on the
    first real instant of the day (01:00 local), which is what we want.
    """
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def local_day(instant, tz):
    return instant.astimezone(tz).date()


def validate_terms(kind, rule, window):
    """Raise RuleError naming the field if a commitment's kind, rule and window don't fit."""
    if kind not in KINDS:
        raise RuleError("kind", "must be one of " + ", ".join(KINDS))
    parsed = Rule.from_dict(kind, rule)
    if window.unit not in ("days", "months"):
        raise RuleError("window.unit", "must be days or months")
    # A deadline without a due offset is a duty without a date; a target needs a day to measure at.
    if kind == "target" and window.due is None:
        raise RuleError("window.due", f"a {kind} needs a due offset")
    if window.reasonable_days is not None:
        if kind != "deadline":
            raise RuleError("window.reasonable_days", "only a deadline without a due date has a reasonable time")
        if window.due is not None:
            raise RuleError(
                "window.reasonable_days",
                "a duty with a due date has no reasonable time (remove one of window.due and window.reasonable_days)",
            )
        if isinstance(window.reasonable_days, bool) or not isinstance(window.reasonable_days, int):
            raise RuleError("window.reasonable_days", "must be a whole number of days")
        if window.reasonable_days < 1:
            raise RuleError("window.reasonable_days", "must be 1 or more (a duty due at once is window.due: 0)")
    if kind == "deadline" and window.due is None and window.grace_days:
        raise RuleError(
            "window.grace_days", "a duty without a due date has no grace period (set window.reasonable_days instead)"
        )
    if window.due is not None and window.due < window.starts:
        raise RuleError("window.due", "is before the window opens")
    if window.ends is not None and window.ends < window.starts:
        raise RuleError("window.ends", "is before the window opens")
    if window.grace_days < 0:
        raise RuleError("window.grace_days", "must be 0 or more")
    if window.anchor not in ANCHOR_KINDS:
        raise RuleError("window.anchor", "must be signing, commitment or milestone")
    if window.anchor_moment not in MOMENTS:
        raise RuleError("window.moment", "must be one of " + ", ".join(MOMENTS))
    if window.anchor == "milestone" and window.anchor_moment != "reached":
        raise RuleError("window.moment", "a milestone's only moment is 'reached'")
    if window.anchor == "commitment" and window.anchor_moment == "reached":
        raise RuleError("window.moment", "'reached' is a milestone's moment; a commitment's are "
                        + ", ".join(MOMENTS[:-1]))
    return parsed
