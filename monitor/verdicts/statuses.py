"""The status vocabulary: every verdict is one of these (docs/architecture.md)."""

from django.utils.translation import gettext_lazy as _

AWAITING_SIGNATURE = "awaiting_signature"  # counted from a signing that has not happened
AWAITING_ANCHOR = "awaiting_anchor"  # counted from another commitment that is not met yet
NOT_YET_DUE = "not_yet_due"  # window not open yet, or due date more than "due soon" away
DUE_SOON = "due_soon"  # due within MONITOR_DUE_SOON_DAYS, or inside the grace period
MET = "met"  # done on or before the due date
MET_LATE = "met_late"  # done after the due date
MISSED = "missed"  # due date and grace passed without it
OVERDUE = "overdue"  # a duty without a date, not done within its reasonable time: no fixed deadline missed
IN_COMPLIANCE = "in_compliance"  # ceiling or prohibition holding, as far as data shows
BREACHED = "breached"  # ceiling exceeded or prohibition violated, episode still open
DISPUTED = "disputed"  # credible reports conflict: the outcome hangs on disputed evidence
UNCONFIRMED = "unconfirmed"  # only claims below the counting grade say it happened: awaiting confirmation
NO_DATA = "no_data"  # no source covers the window, or a target was never measured
NOT_TRACKED = "not_tracked"  # discussed but not agreed: recorded, not judged

STATUSES = (
    (AWAITING_SIGNATURE, _("Awaiting signature")),
    (AWAITING_ANCHOR, _("Awaiting its anchor")),
    (NOT_YET_DUE, _("Not yet due")),
    (DUE_SOON, _("Due soon")),
    (MET, _("Met")),
    (MET_LATE, _("Met late")),
    (MISSED, _("Missed")),
    (OVERDUE, _("Overdue (no fixed deadline)")),
    (IN_COMPLIANCE, _("In compliance")),
    (BREACHED, _("Breached")),
    (DISPUTED, _("Disputed")),
    (UNCONFIRMED, _("Unconfirmed")),
    (NO_DATA, _("No data")),
    (NOT_TRACKED, _("Not tracked")),
)
LABELS = dict(STATUSES)

# Statuses an alert is owed for (issue: sweeps and alerts).
ADVERSE = frozenset({MISSED, BREACHED, DISPUTED, OVERDUE})
# Findings: what the evidence says of a commitment once it can say something, the statuses an analyst
# assesses (the work queue lists them unassessed). The others are states of the calendar or of the
# agreement, true by the dates alone: not yet due, due soon, awaiting its anchor or the signing, not tracked.
FINDINGS = frozenset({MET, MET_LATE, MISSED, OVERDUE, IN_COMPLIANCE, BREACHED, DISPUTED, UNCONFIRMED, NO_DATA})
# Statuses that settle a one-off commitment for good, barring new evidence.
SETTLED = frozenset({MET, MET_LATE, MISSED})
