"""Reason codes and the sentences a reader sees for them.

The engine returns a code and parameters; this module turns them into a
sentence in the active language. Codes and parameter names are part of the
stable JSON output (docs/compliance-json.md): add codes, don't rename them.
"""

from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitor.verdicts.statuses import LABELS

SENTENCES = {
    "not_tracked": _("Discussed but not agreed: recorded, not judged."),
    "awaiting.signature": _("Counted from the signing, which has not happened yet."),
    "awaiting.anchor": _("Counted from another commitment being met, which has not happened yet."),
    "window.not_open": _("Applies from %(opens)s."),
    "deadline.pending": _("Due by the end of %(due)s."),
    "deadline.in_grace": _("Was due by the end of %(due)s; the grace period ends %(grace_ends)s."),
    "deadline.met": _("Met on %(date)s, %(days_early_text)s, per %(source)s (%(grade)s)."),
    "deadline.met_late": _("Met late on %(date)s, %(days_late_text)s after the deadline, per %(source)s (%(grade)s)."),
    "deadline.missed": _("Missed: due by the end of %(due)s, and no credible report shows it happened."),
    "target.pending": _(
        "Target %(target)s%(unit_text)s by the end of %(due)s; latest %(value)s%(unit_text)s on %(measured)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.in_grace": _("Target %(target)s%(unit_text)s was due by the end of %(due)s; grace ends %(grace_ends)s."),
    "target.unmeasured.pending": _("Target %(target)s%(unit_text)s by the end of %(due)s; not measured yet."),
    "target.unmeasured.in_grace": _(
        "Target %(target)s%(unit_text)s was due by the end of %(due)s; not measured yet; grace ends %(grace_ends)s."
    ),
    "target.met": _(
        "Met: %(value)s%(unit_text)s on %(date)s against a target of %(target)s%(unit_text)s due %(due)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.met_late": _(
        "Met late: %(value)s%(unit_text)s on %(date)s, %(days_late_text)s after the due date %(due)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.missed": _(
        "Missed: %(value)s%(unit_text)s at the due date %(due)s against a target of %(target)s%(unit_text)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.missed_unmeasured_at_due": _(
        "Missed: nothing was measured by the due date %(due)s; the first figure after it, %(value)s%(unit_text)s on "
        "%(date)s per %(source)s (%(grade)s), is short of the target of %(target)s%(unit_text)s."
    ),
    "target.no_data": _("No measurement of the quantity was reported by the due date %(due)s."),
    "ceiling.breached": _(
        "Breached: %(count)s events on %(date)s against a limit of %(limit)s a day "
        "(%(breached_days_text)s over the limit; %(days_with_data)s of %(days)s days had data)."
    ),
    "ceiling.recovered": _(
        "In compliance again since the breach on %(last_breach)s "
        "(%(breached_days_text)s over the limit of %(limit)s; %(days_with_data)s of %(days)s days had data)."
    ),
    "ceiling.ok": _("No day over the limit of %(limit)s; %(days_with_data)s of %(days)s days had data."),
    "ceiling.no_data": _("No source covers these %(days)s days, so compliance cannot be judged."),
    "ceiling.window_breached": _(
        "Breached: %(count)s events against a limit of %(limit)s for the whole window, the limit passed on %(date)s."
    ),
    "ceiling.window_ok": _(
        "%(count)s events against a limit of %(limit)s for the whole window; %(days_with_data)s of %(days)s days had data."
    ),
    "prohibition.ok": _("No credible report of a violation since %(opens)s."),
    "prohibition.breached": _("Breached on %(date)s per %(source)s (%(grade)s); violations reported: %(count)s."),
    "prohibition.recovered": _("No credible violation reported in the %(days)s days since %(last)s."),
    "disputed.evidence": _(
        "Disputed: %(without_label)s on the undisputed reports, %(with_label)s if the %(disputed)s disputed ones hold."
    ),
    "disputed.denied": _("Disputed: one credible report says it happened, another (%(source)s, %(grade)s) denies it."),
    # Owed by several parties `each` (monitor/verdicts/engine/shares.py): every party's verdict in one sentence.
    "shares.each": _("%(parts_text)s."),
}

# One party's part of a "shares.each" sentence, by its status; the label serves for the rest.
PARTY_PARTS = {
    "met": _("%(party)s: met on %(date)s"),
    "met_late": _("%(party)s: met late on %(date)s"),
    "breached": _("%(party)s: breached on %(date)s"),
}


def _days(n):
    return ngettext("%(n)s day", "%(n)s days", n) % {"n": n}


def _format_params(params):
    out = {}
    for name, value in params.items():
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                value = date_format(date.fromisoformat(value), "j F Y")
            except ValueError:
                pass
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    early = params.get("days_early")
    if early is not None:
        out["days_early_text"] = _("on the deadline") if early == 0 else _("%(days)s before the deadline") % {
            "days": _days(early)
        }
    if params.get("days_late") is not None:
        out["days_late_text"] = _days(params["days_late"])
    if params.get("breached_days") is not None:
        out["breached_days_text"] = _days(params["breached_days"])
    out["unit_text"] = f" {params['unit']}" if params.get("unit") else ""
    if isinstance(params.get("parts"), list):
        out["parts_text"] = "; ".join(_party_part(part) for part in params["parts"])
    for name in ("with", "without"):
        if name in params:
            out[f"{name}_label"] = str(LABELS.get(params[name], params[name])).lower()
    return out


def _party_part(part):
    template = PARTY_PARTS.get(part.get("status")) if part.get("date") else None
    if template is None:
        label = str(LABELS.get(part.get("status"), part.get("status"))).lower()
        return f"{part.get('party')}: {label}"
    return str(template) % {"party": part.get("party"), "date": date_format(date.fromisoformat(part["date"]), "j F Y")}


def describe(reason):
    template = SENTENCES.get(reason.code)
    if template is None:
        return reason.code
    try:
        return str(template) % _format_params(reason.params)
    except (KeyError, TypeError, ValueError):
        # A sentence that cannot be filled still names its code rather than failing a page.
        return f"{reason.code} {reason.params}"
