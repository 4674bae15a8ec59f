"""Escalation: a missed deadline or a breach that no analyst has assessed in time goes to the Analysts.

Subscribers hear of a provisional verdict at once (staff) or once it is assessed (everyone else);
an adverse verdict nobody assesses can sit unpublished for days. So when a commitment's latest
change is to missed or breached and no assessment has been made since it was detected, for
`Agreement.escalate_after_hours` (48 by default; 0 turns it off), every active user of the
Analyst role with an email address gets one message about it: once per episode (the alert's key
names the status change), never to the public. Any assessment made after the change was detected
acknowledges it, whatever it says. Until access is scoped per agreement, all Analysts hear of every
agreement's.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model

from monitor.accounts.roles import ANALYST
from monitor.alerts import messages
from monitor.verdicts import statuses as S

ESCALATED = (S.MISSED, S.BREACHED)


def unacknowledged(now, commitments, standings, latest, agreements):
    """(commitment, change) for each adverse change left without an assessment past its agreement's delay."""
    out = []
    for c in commitments:
        change = latest.get(c.id)
        if change is None or change.new_status not in ESCALATED:
            continue
        hours = agreements[c.agreement_id].escalate_after_hours
        if not hours or now < change.detected_at + timedelta(hours=hours):
            continue
        assessment = standings[c.id].assessment
        if assessment is not None and assessment.assessed_at >= change.detected_at:
            continue  # an analyst has looked at it since: acknowledged
        out.append((c, change))
    return out


def analysts():
    users = get_user_model().objects.filter(groups__name=ANALYST, is_active=True).exclude(email="")
    return list(users.distinct().order_by("id"))


def owed(now, commitments, standings, latest, agreements):
    """(key, builder) pairs: one escalation per unacknowledged change and Analyst."""
    late = unacknowledged(now, commitments, standings, latest, agreements)
    if not late:
        return []
    history_cutoff = timedelta(days=settings.MONITOR_HISTORY_DAYS)
    owed = []
    for user in analysts():
        for c, change in late:
            key = f"escalation:c{c.id}:sc{change.id}:{user.email}"
            # Old transitions (an import of past events) are folded into one summary, like the alerts.
            historical = change.detected_at - change.effective_at > history_cutoff
            owed.append((key, messages.Escalation(key, user.email, c, change, standings[c.id], historical)))
    return owed
