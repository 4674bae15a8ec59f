"""The analysts' work queue: what is waiting for a judgement, in the order it should be judged.

Four sections (docs/architecture.md, "The analysts' work queue"):

- provisional verdicts awaiting an assessment: findings only (`statuses.FINDINGS`: not a commitment not yet
  due or due soon), missed and breached first, then the longest waiting;
- claimed reports that decide nothing until someone verifies them (weaker than B2), best graded first,
  then the oldest;
- commitments marked "needs review", with their note;
- escalations: adverse verdicts left unassessed past their agreement's delay (monitor.alerts.escalation).

The verdicts are read from what the sweep stored (each commitment's latest StatusChange), not
recomputed: recomputing (`inputs.standings`) judges every commitment of every agreement against all
their evidence, seconds for a large agreement on every visit of a page staff open many times a day,
while the stored state is two indexed queries. The price is freshness: the queue is as current as
the last sweep (every minute by default: docs/operations.md), and it is the same state
the escalations are sent from, so the queue and the emails agree. A commitment the sweep has not yet
judged has no stored change and is not listed until it has one.

The queries are a fixed number whatever the size: one or two per section and one for the assessments.
"""

from dataclasses import dataclass
from types import SimpleNamespace

from django.contrib.admin import site
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitor.alerts import escalation
from monitor.evidence.models import CLAIMED, Report
from monitor.verdicts import statuses as S
from monitor.verdicts.inputs import latest_assessments
from monitor.verdicts.models import StatusChange
from terms.models import Commitment

# Listed first among the provisional verdicts: the ones a reader most needs judged, and that escalate.
FIRST = (S.MISSED, S.BREACHED)
# How many rows of a section are listed; the counts are of all of them. A whole dataset imported
# unverified would otherwise make one page of thousands of rows.
LIMIT = 50


def may_see(user):
    """Analysts (and Administrators) judge; the queue is theirs. Monitors and Viewers do not see it."""
    return user.is_active and user.is_staff and user.has_perm("verdicts.add_assessment")


@dataclass
class Section:
    rows: list
    count: int


@dataclass
class Queue:
    provisional: Section
    reports: Section
    review: Section
    escalations: Section

    @property
    def total(self):
        return self.provisional.count + self.reports.count + self.review.count + self.escalations.count


def _latest_changes():
    """Each tracked commitment's own latest stored change, with its commitment and agreement: one query."""
    last = (
        StatusChange.objects.filter(party__isnull=True)
        .values("commitment")
        .annotate(last=Max("id"))
        .values("last")
    )
    return list(
        StatusChange.objects.filter(id__in=last, commitment__tracked=True)
        .select_related("commitment__agreement")
        .order_by()
    )


def _provisional(changes, assessments):
    """(change, assessment or None) for each stored finding no standing assessment covers."""
    out = []
    for change in changes:
        if change.new_status not in S.FINDINGS:
            # Not yet due, due soon, awaiting its anchor: the dates say so, there is nothing to judge yet
            # (and a fact such as not tracked is published without a judgement).
            continue
        standing = assessments.get(change.commitment_id)
        if standing is not None and standing.covers(change.new_status):
            continue
        out.append((change, standing))
    # Missed and breached first; then whoever has waited longest (detected first), then the earlier instant.
    out.sort(key=lambda p: (p[0].new_status not in FIRST, p[0].detected_at, p[0].effective_at, p[0].id))
    return out


def _reports():
    """Claimed reports weaker than B2: verifying one is what would make it count. Best grade, then oldest."""
    weak = Report.objects.filter(verification=CLAIMED).exclude(source__reliability__in=("A", "B"), credibility__lte=2)
    # A to F, then 1 to 6: a report at A3 or B3 is one step from counting, F6 far from it.
    ordered = weak.select_related("source").order_by("source__reliability", "credibility", "recorded_at", "id")
    return Section(list(ordered[:LIMIT]), weak.count())


def build(now=None):
    now = now or timezone.now()
    changes = _latest_changes()
    assessments = latest_assessments([c.commitment_id for c in changes])
    provisional = _provisional(changes, assessments)

    commitments = [c.commitment for c in changes]
    latest = {c.commitment_id: c for c in changes}
    agreements = {c.agreement_id: c.agreement for c in commitments}
    # escalation.unacknowledged reads only `.assessment` of a standing: the standing assessment serves.
    standings = {c.id: SimpleNamespace(assessment=assessments.get(c.id)) for c in commitments}
    late = escalation.unacknowledged(now, commitments, standings, latest, agreements)
    late.sort(key=lambda p: (p[1].detected_at, p[1].id))

    review = list(
        Commitment.objects.filter(needs_review=True).select_related("agreement").order_by("agreement__title", "position", "id")
    )
    return Queue(
        provisional=Section(provisional[:LIMIT], len(provisional)),
        reports=_reports(),
        review=Section(review[:LIMIT], len(review)),
        escalations=Section(late[:LIMIT], len(late)),
    )


def view(request):
    """/admin/queue/: the queue, for those who may judge (others get 403, as for an admin page they lack)."""
    if not may_see(request.user):
        raise PermissionDenied
    context = {**site.each_context(request), "title": _("Work queue"), "queue": build(), "first": FIRST}
    return TemplateResponse(request, "admin/queue.html", context)
