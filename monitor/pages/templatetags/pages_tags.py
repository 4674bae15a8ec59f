"""Small helpers for the public templates: status marks, safe links, grades."""

from datetime import UTC, datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from monitor.evidence.models import CREDIBILITY, RELIABILITY, VERIFICATION_STATES, VISIBILITIES
from monitor.verdicts import statuses as S
from monitor.verdicts.method import METHOD_VERSION

register = template.Library()

# A symbol beside every status word, so that status is never told by colour alone.
SYMBOLS = {
    S.MET: "✓",
    S.MET_LATE: "✓",
    S.IN_COMPLIANCE: "✓",
    S.MISSED: "✗",
    S.OVERDUE: "!",  # adverse like missed, but no fixed deadline was missed
    S.BREACHED: "✗",
    S.DISPUTED: "?",
    S.UNCONFIRMED: "?",
    S.DUE_SOON: "…",
    S.NOT_YET_DUE: "…",
    S.AWAITING_SIGNATURE: "…",
    S.AWAITING_ANCHOR: "…",
    S.NO_DATA: "–",
    S.NOT_TRACKED: "–",
}
TONES = {
    S.MET: "good",
    S.MET_LATE: "good",
    S.IN_COMPLIANCE: "good",
    S.MISSED: "bad",
    S.OVERDUE: "bad",
    S.BREACHED: "bad",
    S.DISPUTED: "disputed",
    # Claimed, not confirmed: not a finding either way, but something an analyst should settle.
    S.UNCONFIRMED: "disputed",
}


@register.filter(expects_localtime=False)
def when(value, arg=None):
    """Django's `date` filter, for an instant that may sit at the very ends of time.

    A stored instant (a report dated 0001-01-01 or 9999-12-31, past any validation) can have no local
    time Python can hold in the page's zone: `date` would raise and the page answer 500 for everyone.
    Such an instant is shown as it is in UTC.
    """
    if isinstance(value, datetime) and timezone.is_aware(value):
        try:
            value = timezone.localtime(value)
        except OverflowError:
            value = value.astimezone(UTC)
    return date_filter(value, arg)


@register.filter
def status_symbol(status):
    return SYMBOLS.get(status, "…")


@register.filter
def status_tone(status):
    return TONES.get(status, "neutral")


@register.filter
def status_label(status):
    return S.LABELS.get(status, status)


@register.filter
def safe_url(url):
    """Only web links become links: a report's URL is data someone typed or imported."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else ""


@register.filter
def reliability_label(letter):
    return dict(RELIABILITY).get(letter, letter)


@register.filter
def credibility_label(number):
    return dict(CREDIBILITY).get(number, number)


@register.filter
def verification_label(state):
    return dict(VERIFICATION_STATES).get(state, state)


@register.filter
def visibility_label(value):
    return dict(VISIBILITIES).get(value, value)


@register.simple_tag
def countdown(verdict, days_to_due, closed_on=None):
    """'N days left' / 'N days overdue' from the verdict when it is shown, else a neutral count.

    Once the commitment's window is over (`closed_on`, its last day: data.closed_day) the count stops:
    "closed on 1 May 2021", never "due date passed 2,463 days ago", which reads as if it still ran.
    """
    if closed_on is not None:
        return _("closed on %(date)s") % {"date": date_filter(closed_on, "j F Y")}
    if verdict.shown:
        if verdict.days_overdue is not None:
            n = verdict.days_overdue
            return ngettext("%(n)s day overdue", "%(n)s days overdue", n) % {"n": n}
        if verdict.days_left is not None:
            n = verdict.days_left
            if verdict.reason_code == "window.not_open":
                return ngettext("applies in %(n)s day", "applies in %(n)s days", n) % {"n": n}
            if n == 0:
                return _("due today")
            return ngettext("%(n)s day left", "%(n)s days left", n) % {"n": n}
        return ""
    if days_to_due is None:
        return ""
    if days_to_due > 0:
        return ngettext("%(n)s day left", "%(n)s days left", days_to_due) % {"n": days_to_due}
    if days_to_due == 0:
        return _("due today")
    n = -days_to_due
    # Neutral on purpose: whether it was done is the verdict, which is not published yet.
    return ngettext("due date passed %(n)s day ago", "due date passed %(n)s days ago", n) % {"n": n}


@register.simple_tag
def method_version():
    """The version of the judging rules (monitor.verdicts.method), named on every page beside the terms' revision."""
    return METHOD_VERSION
