"""The banner on a cited view whose verdicts today's terms and contents would change (issue 14).

A view cited "as of" and "as known at" a past instant is judged with what was recorded then
(`inputs.standings(recorded=True)`), so it keeps showing what it showed. When judging the same
two cutoffs with the terms, names, grades and report contents as they are *now* gives another
status, the page says so and links to the same "as of" as known now: "Revision r42 of the terms
changes this" when a revision of the agreement's terms was made after the cutoff (the latest
one), otherwise "Corrections made since change this" (to reports, sources' grades or parties'
names). Reports recorded after the cutoff never raise it: the cited view rightly did not know
them. docs/public-pages.md, "Cited views and later changes".
"""

from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urlencode

from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from monitor.evidence.models import Report, Source
from monitor.pages import instants
from monitor.verdicts import inputs
from terms.models import Agreement, Commitment, Milestone, Party, PartyName, Revision


@dataclass(frozen=True)
class LaterChange:
    revision: object  # the latest Revision made after the cutoff, or None
    changed: tuple  # keys of the commitments whose status changes, in page order
    url: str  # the same "as of", as known now

    @property
    def message(self):
        if self.revision is not None:
            return _("Revision %(revision)s of the terms changes this.") % {"revision": self.revision.label}
        return _("Corrections made since change this.")

    def as_dict(self):
        """The API's field: the same facts, for machines."""
        return {
            "revision": self.revision.label if self.revision is not None else None,
            "message": self.message,
            "changed": list(self.changed),
            "current": self.url,
        }


# What a view "as known at" reads from history (docs/architecture.md, "As known at: read from history").
RECORDED = (Report, Source, Agreement, Commitment, Milestone, Party, PartyName)


def corrected_since(known_at):
    """Whether any of what a cited view reads as recorded has a version after `known_at` (one query).

    If none has, each object's version standing at `known_at` is the one it has now (every change writes
    one: the invariant the cited view itself rests on), objects without history are read as they are now
    either way, and verification, coverage and assessments are read by their own instants in both: today's
    contents judge the view exactly as it was judged, and the banner's second judgement is not needed. Any
    correction anywhere since then, to any report, source or agreement, and it is made.
    """
    tables = [connection.ops.quote_name(model.history.model._meta.db_table) for model in RECORDED]
    sql = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE history_date > %s)" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", [known_at] * len(tables))
        return cursor.fetchone()[0]


def change(request, agreement, cut, verdicts, view, url_kwargs):
    """A LaterChange, or None: the view is not cited, or today's terms and contents judge it the same.

    `verdicts`: the published verdicts the page shows (`publication.PublishedVerdict`); only those
    shown are compared, so the banner never tells what an unpublished verdict would be. One query
    (`corrected_since`); when something was recorded after the cutoff, one `standings` more (its fixed
    count); when a status changes, one query for the revision.
    """
    if not cut.given:
        return None
    shown = {v.commitment.id: v for v in verdicts if v.shown}
    if not shown:
        return None
    if not corrected_since(cut.known_at):
        return None  # the versions the view read are today's: today's contents judge it the same, unjudged
    # Only the statuses are compared: the details (a ceiling's daily series, the account) are not built.
    now = inputs.standings([agreement], as_of=cut.as_of, known_at=cut.known_at, recorded=False, details=False)
    current = {s.commitment.id: s.status for s in now}
    changed = tuple(v.commitment.key for pk, v in shown.items() if current.get(pk) != v.status)
    if not changed:
        return None
    # r1 is the first recording: a view as known before it was read as first recorded, so r1 changes none.
    revision = (
        Revision.objects.filter(agreement=agreement, made_at__gt=cut.known_at, number__gt=1)
        .order_by("-made_at", "-number")
        .first()
    )
    # To the microsecond, not the minute a citation names: a revision made a few seconds ago is known now.
    known_now = timezone.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    query = {instants.AS_OF: cut.query()[instants.AS_OF], instants.KNOWN_AT: known_now}
    url = request.build_absolute_uri(reverse(view, kwargs=url_kwargs) + "?" + urlencode(query))
    return LaterChange(revision=revision, changed=changed, url=url)
