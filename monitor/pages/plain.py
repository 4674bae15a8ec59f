"""A commitment's rule and window in plain language: which reports count, where, whose acts, and why.

Built from the same `terms.rules.Rule` and `Window` the engine judges by, so the
page cannot describe a rule other than the one applied.
"""

from django.utils.formats import date_format
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from terms import models as tm


def _days(n):
    return ngettext("%(n)s day", "%(n)s days", n) % {"n": n}


def _offset(n, unit):
    if unit == tm.MONTHS:
        return ngettext("%(n)s calendar month", "%(n)s calendar months", n) % {"n": n}
    return _days(n)


def _quoted(values):
    return get_text_list([f"“{v}”" for v in values], _("or"))


def kind_sentence(kind):
    return {
        tm.DEADLINE: _(
            "An action by a deadline: met when a credible report shows the act happened by the end of the due "
            "day; met late if it happened after; missed when the due day and any grace period pass without it."
        ),
        tm.TARGET: _(
            "A quantity by a date: the latest credible measurement before the end of the due day decides. "
            "Reaching the target later is met late; never measured is “no data”, since a missing figure is not "
            "evidence of failure."
        ),
        tm.CEILING: _(
            "A ceiling: qualifying events are counted per local day (or over the whole window) against the limit. "
            "A day no source covers is “no data”, not zero."
        ),
        tm.PROHIBITION: _(
            "An ongoing prohibition: breached from the first credible report of a violation while it applies."
        ),
    }.get(kind, "")


def rule_sentences(term, owed_by, signed_on, anchor=None):
    """[(heading, sentence)] describing what counts and why."""
    rule, window = term.rule, term.window
    owing = get_text_list([p.name for p in owed_by], _("and")) or _("the owing party")
    out = [(_("Kind"), kind_sentence(term.kind))]

    if rule.categories:
        out.append(
            (
                _("Which reports"),
                _("Reports whose category, or event type or sub-type, is %(categories)s.")
                % {"categories": _quoted(rule.categories)},
            )
        )
    else:
        out.append((_("Which reports"), _("Reports of any category, and reports linked to it by an analyst.")))

    places = list(rule.admin1) + list(rule.locations)
    if places:
        out.append(
            (
                _("Where"),
                _("Only events in %(places)s (province or place name; spelling, case and accents aside).")
                % {"places": get_text_list(list(dict.fromkeys(places)), _("or"))},
            )
        )
    else:
        out.append((_("Where"), _("Anywhere.")))

    whose = {
        "owing": _(
            "Only acts a report attributes to %(owing)s count. Events by unidentified or other groups never "
            "count against a party, so no party is charged with others' acts."
        ),
        "owing_or_unidentified": _(
            "Acts attributed to %(owing)s count, and so do events whose actor is unidentified: the rule holds "
            "%(owing)s answerable for unclaimed events of this kind."
        ),
        "any": _(
            "Whoever a report names as the actor: what matters is that the event happened, not who is said "
            "to have done it."
        ),
    }[rule.attribution] % {"owing": owing}
    out.append((_("Whose acts"), whose))

    # ACLED's actors carry no direction (docs/agreement-format.md, "Which actors a rule reads"): say which are read.
    actors = (
        _("A report's first or second actor: event datasets such as ACLED list both sides without saying who "
          "attacked whom, so a party named on either side is taken to have acted.")
        if getattr(rule, "actors", "either") == "either"
        else _("Only a report's first actor, taken as the side that acted.")
    )
    if getattr(rule, "interactions", ()):
        actors += " " + _("Only events whose ACLED interaction is %(codes)s.") % {
            "codes": get_text_list(list(rule.interactions), _("or"))}
    out.append((_("Which actors"), actors))

    if term.kind == tm.CEILING:
        fewer = rule.comparison == "<"
        if rule.period == "window":
            limit = (
                _("Fewer than %(limit)s qualifying events over the whole window.") if fewer
                else _("At most %(limit)s qualifying events over the whole window.")
            ) % {"limit": rule.limit}
        else:
            limit = (
                _("Fewer than %(limit)s qualifying events on any one local day.") if fewer
                else _("At most %(limit)s qualifying events on any one local day.")
            ) % {"limit": rule.limit}
        limit += " " + _("Reports of the same event count once.")
        if rule.recovery_days is not None and rule.period == "day":
            under = (
                _("A breach is over after %(days)s in a row with data under the limit.") if fewer
                else _("A breach is over after %(days)s in a row with data at or under the limit.")
            )
            limit += " " + under % {"days": _days(rule.recovery_days)}
        out.append((_("Limit"), limit))
    elif term.kind == tm.TARGET:
        words = {
            "<": _("below %(target)s%(unit)s"),
            "<=": _("at most %(target)s%(unit)s"),
            "==": _("exactly %(target)s%(unit)s"),
            ">=": _("at least %(target)s%(unit)s"),
            ">": _("above %(target)s%(unit)s"),
        }[rule.target_comparison]
        direction = words % {"target": _number(rule.target), "unit": f" {rule.unit}" if rule.unit else ""}
        target = _("The measured quantity must be %(direction)s.") % {"direction": direction}
        if rule.baseline is not None:
            target += " " + _("Baseline: %(baseline)s.") % {"baseline": _number(rule.baseline)}
        out.append((_("Target"), target))
    elif term.kind == tm.PROHIBITION:
        if rule.recovery_days is None:
            recovery = _("Once credibly breached, it stays breached until an analyst assesses it.")
        else:
            recovery = _("A breach is over after %(days)s without a credible report of a violation.") % {
                "days": _days(rule.recovery_days)
            }
        out.append((_("After a breach"), recovery))

    if window.anchor == tm.ANCHOR_COMMITMENT:
        anchor_text = (
            _("Counted from the day “%(title)s” was met (day 0).") % {"title": anchor.title}
            if anchor
            else _("Counted from the day another commitment was met (day 0).")
        )
    elif signed_on:
        anchor_text = _("Counted from the signing on %(date)s (day 0).") % {"date": date_format(signed_on, "j F Y")}
    else:
        anchor_text = _("Counted from the signing (day 0), which has not happened yet.")
    parts = [anchor_text]
    if window.starts:
        parts.append(_("Applies from day %(n)s.") % {"n": window.starts})
    if window.due is not None:
        parts.append(
            _("Due by the end of the local day %(offset)s after day 0.") % {"offset": _offset(window.due, window.unit)}
        )
    elif term.kind == tm.DEADLINE:
        # A duty without a date: open until done; overdue (not missed) after its reasonable time.
        parts.append(_("No date was set: open until done."))
        if window.reasonable_days is not None:
            parts.append(
                _("Overdue, with no fixed deadline, if not done within a reasonable time of %(days)s from when it applies.")
                % {"days": _days(window.reasonable_days)}
            )
    if window.ends is not None:
        parts.append(_("Applies until the end of day %(n)s.") % {"n": window.ends})
    elif term.kind in (tm.CEILING, tm.PROHIBITION):
        parts.append(_("Applies with no end date."))
    if window.grace_days:
        parts.append(_("Grace period: %(days)s after the due day.") % {"days": _days(window.grace_days)})
    parts.append(_("Days end at local midnight, %(zone)s.") % {"zone": term.time_zone})
    out.append((_("When"), " ".join(parts)))
    return out


def _number(value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)
