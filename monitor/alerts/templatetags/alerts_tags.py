"""What the sign-up form (templates/pages/includes/subscribe.html) offers: reminders, kinds of event, deliveries.

A tag rather than a variable from the view: the form is included in the agreement's and the
commitments' pages, whose views need not know of it.
"""

from django import template
from django.conf import settings
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


@register.simple_tag
def reminder_days_phrase():
    """ "7 days and 1 day" for the default reminders (MONITOR_DEFAULT_REMINDER_DAYS); "" when there are none."""
    days = sorted(set(settings.MONITOR_DEFAULT_REMINDER_DAYS), reverse=True)
    return get_text_list([ngettext("%(n)s day", "%(n)s days", d) % {"n": d} for d in days], _("and"))


@register.simple_tag
def event_kinds():
    """(value, label) of each kind of event a reader may choose (monitor.alerts.models.EVENT_KINDS)."""
    from monitor.alerts.models import EVENT_KINDS

    return EVENT_KINDS


@register.simple_tag
def deliveries():
    """(value, label) of each way the chosen alerts may come (monitor.alerts.models.DELIVERIES)."""
    from monitor.alerts.models import DELIVERIES

    return DELIVERIES
