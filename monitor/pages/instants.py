"""The "as of" and "as known at" instants a reader asks for, read the same way by pages and the API.

A bare date means the end of that day in the agreement's time zone (as for
`manage.py compliance`): "as of 10 March" includes everything on 10 March,
Kabul time. A date-time is taken as given, UTC when it names no zone. A missing
one takes the other's value, so "as of 1 March" alone means "as known then"
(and "as of" a day still to come, alone, means "as known now").

Both are bounded, so that no request can ask for unbounded work or for instants
that overflow date arithmetic (issue 11): "as of" runs from the agreement's first
day (its signing, less its longest window: `monitor.pages.data.earliest_day`) to
five years from today; "as known at" from that same day to now, since what will
be known later cannot be known yet. Without an agreement (or before it is signed)
the range starts on 1 January 1900. A value outside its range is refused with a
message naming the range (docs/public-pages.md).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.utils import timezone
from django.utils.translation import gettext as _

from terms.rules import day_start

AS_OF = "as_of"
KNOWN_AT = "known_at"

# "As of" may look this far ahead of today: a countdown to a deadline years away is a fair question;
# the year 9999 is not, and a ceiling's chart would walk every day up to it.
YEARS_AHEAD = 5
# The first day any view may ask about when no agreement says otherwise.
FLOOR = date(1900, 1, 1)


class BadInstant(ValueError):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Cutoffs:
    as_of: datetime
    known_at: datetime
    # The values as the reader gave them (None: not given), to fill the form and build links.
    as_of_text: str | None = None
    known_at_text: str | None = None

    @property
    def given(self):
        return self.as_of_text is not None or self.known_at_text is not None

    def query(self):
        """Query parameters that reproduce this view exactly: what a citation should link to."""
        return {AS_OF: self.as_of_text or _stamp(self.as_of), KNOWN_AT: self.known_at_text or _stamp(self.known_at)}


@dataclass(frozen=True)
class Accepted:
    """The days a reader may ask about, in one time zone: both cutoffs from `first_day`; "as of" up to
    `last_as_of_day` (five years from today), "as known at" up to `now`."""

    first_day: date
    last_as_of_day: date
    today: date
    now: datetime
    tz: object

    @property
    def first(self):
        return day_start(self.first_day, self.tz)

    @property
    def as_of_end(self):
        """The first instant after the last accepted "as of" day."""
        return day_start(self.last_as_of_day + timedelta(days=1), self.tz)

    def message(self, field, value, future=False):
        if field == AS_OF:
            text = _("“%(value)s” is out of range: “as of” must be from %(first)s to %(last)s.")
        elif future:
            text = _("“%(value)s” is in the future: “as known at” must be from %(first)s to now, %(now)s.")
        else:
            text = _("“%(value)s” is out of range: “as known at” must be from %(first)s to now, %(now)s.")
        return text % {
            "value": value,
            "first": self.first_day.isoformat(),
            "last": self.last_as_of_day.isoformat(),
            "now": _stamp(self.now),
        }


def accepted(tz, now=None, earliest=None):
    """The accepted range as of `now`, for an agreement whose first day is `earliest` (None: `FLOOR`)."""
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    # An agreement signed on a day still to come can still be looked at today.
    first = max(FLOOR, min(earliest or FLOOR, today))
    return Accepted(first, today + relativedelta(years=YEARS_AHEAD), today, now, tz)


def _not_a_date(field, value):
    message = _("“%(value)s” is not a date (2020-03-01) or a date and time (2020-03-01T12:00Z).")
    return BadInstant(field, message % {"value": value})


def parse_instant(value, tz, field, bounds):
    """One cutoff, read and checked against `bounds` (an `Accepted`); raises BadInstant naming `field`.

    Checked before any arithmetic that could overflow: a bare date is compared as a day, a date-time
    once it is in UTC (a value that cannot be put in UTC is out of range).
    """
    value = (value or "").strip()
    latest_known = bounds.now
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise _not_a_date(field, value) from None
        if day < bounds.first_day or day > (bounds.last_as_of_day if field == AS_OF else bounds.today):
            raise BadInstant(field, bounds.message(field, value, future=field == KNOWN_AT and day > bounds.today))
        instant = day_start(day + timedelta(days=1), tz) - timedelta(microseconds=1)
        # Today's date as "as known at" means as known now (to the minute, as a "now" page): the rest
        # of the day has not happened yet.
        return min(instant, latest_known.replace(second=0, microsecond=0)) if field == KNOWN_AT else instant
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise _not_a_date(field, value) from None
    try:
        instant = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise BadInstant(field, bounds.message(field, value)) from None
    if instant < bounds.first or (field == AS_OF and instant >= bounds.as_of_end):
        raise BadInstant(field, bounds.message(field, value))
    if field == KNOWN_AT and instant > latest_known:
        raise BadInstant(field, bounds.message(field, value, future=True))
    return instant


def given(params):
    """Whether the reader named either cutoff; if not, the view is "now" and follows the clock."""
    return any((params.get(name) or "").strip() for name in (AS_OF, KNOWN_AT))


def cutoffs(params, tz, now=None, earliest=None):
    """Cutoffs from query parameters; raises BadInstant naming the field at fault.

    `earliest` is the first day the agreement accepts (`monitor.pages.data.earliest_day`); None
    for a view of no agreement.
    """
    clock = timezone.now()
    now = now or clock
    # "Now" is floored to the minute so that the citation link (to the minute) shows exactly this view.
    # What is already known is what was recorded up to the clock itself, not to the minute.
    floored = now.replace(second=0, microsecond=0)
    as_of_text = (params.get(AS_OF) or "").strip() or None
    known_at_text = (params.get(KNOWN_AT) or "").strip() or None
    if as_of_text is None and known_at_text is None:
        return Cutoffs(as_of=floored, known_at=floored)
    bounds = accepted(tz, max(now, clock), earliest)
    as_of = parse_instant(as_of_text, tz, AS_OF, bounds) if as_of_text else None
    known_at = parse_instant(known_at_text, tz, KNOWN_AT, bounds) if known_at_text else None
    if as_of is None:
        as_of, as_of_text = known_at, known_at_text
    if known_at is None:
        if as_of <= floored:
            known_at, known_at_text = as_of, as_of_text
        else:
            # "As of" a moment still to come, alone: as known now (the link names the minute).
            known_at, known_at_text = floored, _stamp(floored)
    return Cutoffs(as_of=as_of, known_at=known_at, as_of_text=as_of_text, known_at_text=known_at_text)


def _stamp(instant):
    """An instant to the minute, in UTC: a link made "now" keeps meaning the same view later."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%MZ")
