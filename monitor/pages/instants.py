"""The "as of" and "as known at" instants a reader asks for, read the same way by pages and the API.

A bare date means the end of that day in the agreement's time zone (as for
`manage.py compliance`): "as of 10 March" includes everything on 10 March,
Kabul time. A date-time is taken as given, UTC when it names no zone. A missing
one takes the other's value, so "as of 1 March" alone means "as known then".
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from terms.rules import day_start

AS_OF = "as_of"
KNOWN_AT = "known_at"


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


def parse_instant(value, tz, field):
    value = (value or "").strip()
    try:
        if len(value) == 10:
            return day_start(date.fromisoformat(value) + timedelta(days=1), tz) - timedelta(microseconds=1)
        instant = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        message = _("“%(value)s” is not a date (2020-03-01) or a date and time (2020-03-01T12:00Z).")
        raise BadInstant(field, message % {"value": value}) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def given(params):
    """Whether the reader named either cutoff; if not, the view is "now" and follows the clock."""
    return any((params.get(name) or "").strip() for name in (AS_OF, KNOWN_AT))


def cutoffs(params, tz, now=None):
    """Cutoffs from query parameters; raises BadInstant naming the field at fault."""
    # "Now" is floored to the minute so that the citation link (to the minute) shows exactly this view.
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    as_of_text = (params.get(AS_OF) or "").strip() or None
    known_at_text = (params.get(KNOWN_AT) or "").strip() or None
    if as_of_text is None and known_at_text is None:
        return Cutoffs(as_of=now, known_at=now)
    as_of_text = as_of_text or known_at_text
    known_at_text = known_at_text or as_of_text
    return Cutoffs(
        as_of=parse_instant(as_of_text, tz, AS_OF),
        known_at=parse_instant(known_at_text, tz, KNOWN_AT),
        as_of_text=as_of_text,
        known_at_text=known_at_text,
    )


def _stamp(instant):
    """An instant to the minute, in UTC: a link made "now" keeps meaning the same view later."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%MZ")
