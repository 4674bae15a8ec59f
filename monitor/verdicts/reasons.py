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
    # awaiting.anchor with params {anchor, anchor_key, moment}: the sentence for its moment (describe()).
    "awaiting.anchor.opens": _("Awaiting its anchor: counted from the start of '%(anchor)s', which has not begun."),
    "awaiting.anchor.due": _("Awaiting its anchor: counted from the due date of '%(anchor)s', which has not passed."),
    "awaiting.anchor.met": _("Awaiting its anchor: counted from '%(anchor)s' being met, which has not happened yet."),
    "awaiting.anchor.missed": _("Awaiting its anchor: counted from '%(anchor)s' being missed, which it has not been."),
    "awaiting.anchor.breached": _(
        "Awaiting its anchor: counted from the first breach of '%(anchor)s', which has not happened."
    ),
    "awaiting.anchor.closes": _("Awaiting its anchor: counted from the end of '%(anchor)s', which has not come."),
    "awaiting.anchor.reached": _("Awaiting its anchor: counted from '%(anchor)s', not yet reported."),
    "window.not_open": _("Applies from %(opens)s."),
    "deadline.pending": _("Due by the end of %(due)s."),
    "deadline.in_grace": _("Was due by the end of %(due)s; the grace period ends %(grace_ends)s."),
    "deadline.met": _("Met on %(date)s, %(days_early_text)s, per %(source)s (%(grade)s)."),
    "deadline.met_late": _("Met late on %(date)s, %(days_late_text)s after the deadline, per %(source)s (%(grade)s)."),
    "deadline.missed": _("Missed: due by the end of %(due)s, and no credible report shows it happened."),
    # A duty without a date (a deadline with no due offset): open until done, overdue after its reasonable time.
    "duty.open": _("Open: no date was set; not done as of %(date)s."),
    "duty.open_reasonable": _(
        "Open: no date was set; not done as of %(date)s; a reasonable time of %(reasonable_days_text)s "
        "from %(opens)s ends %(reasonable_ends)s."
    ),
    "duty.met": _("Met on %(date)s (no date was set), per %(source)s (%(grade)s)."),
    "duty.met_late": _(
        "Met late on %(date)s, %(days_late_text)s after a reasonable time of %(reasonable_days_text)s ended "
        "(no fixed deadline), per %(source)s (%(grade)s)."
    ),
    "duty.overdue": _(
        "Overdue, with no fixed deadline: a reasonable time of %(reasonable_days_text)s from %(opens)s ended "
        "%(reasonable_ends)s, and no credible report shows it was done."
    ),
    "target.pending": _(
        "Target %(target_text)s%(unit_text)s by the end of %(due)s; latest %(value)s%(unit_text)s on %(measured)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.in_grace": _(
        "Target %(target_text)s%(unit_text)s was due by the end of %(due)s; grace ends %(grace_ends)s."
    ),
    "target.unmeasured.pending": _("Target %(target_text)s%(unit_text)s by the end of %(due)s; not measured yet."),
    "target.unmeasured.in_grace": _(
        "Target %(target_text)s%(unit_text)s was due by the end of %(due)s; not measured yet; "
        "grace ends %(grace_ends)s."
    ),
    "target.met": _(
        "Met: %(value)s%(unit_text)s on %(date)s against a target of %(target_text)s%(unit_text)s due %(due)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.met_late": _(
        "Met late: %(value)s%(unit_text)s on %(date)s, %(days_late_text)s after the due date %(due)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.missed": _(
        "Missed: %(value)s%(unit_text)s at the due date %(due)s against a target of %(target_text)s%(unit_text)s, "
        "per %(source)s (%(grade)s)."
    ),
    "target.missed_unmeasured_at_due": _(
        "Missed: nothing was measured by the due date %(due)s; the first figure after it, %(value)s%(unit_text)s on "
        "%(date)s per %(source)s (%(grade)s), is short of the target of %(target_text)s%(unit_text)s."
    ),
    "target.no_data": _("No measurement of the quantity was reported by the due date %(due)s."),
    "ceiling.breached": _(
        "Breached: %(count)s events on %(date)s against a limit of %(limit_text)s a day "
        "(%(breached_days_text)s %(over_text)s the limit; %(days_with_data)s of %(days)s days had data)."
    ),
    "ceiling.recovered": _(
        "In compliance again since the breach on %(last_breach)s "
        "(%(breached_days_text)s %(over_text)s the limit of %(limit)s; %(days_with_data)s of %(days)s days had data)."
    ),
    "ceiling.ok": _("No day %(over_text)s the limit of %(limit)s; %(days_with_data)s of %(days)s days had data."),
    "ceiling.no_data": _("No source covers these %(days)s days, so compliance cannot be judged."),
    "ceiling.window_breached": _(
        "Breached: %(count)s events against a limit of %(limit_text)s for the whole window, "
        "the limit passed on %(date)s."
    ),
    "ceiling.window_ok": _(
        "%(count)s events against a limit of %(limit_text)s for the whole window; "
        "%(days_with_data)s of %(days)s days had data."
    ),
    "prohibition.ok": _("No credible report of a violation since %(opens)s."),
    "prohibition.breached": _("Breached on %(date)s per %(source)s (%(grade)s); violations reported: %(count)s."),
    "prohibition.breached_from_period": _(
        "Breached from %(date)s per %(source)s (%(grade)s): the report covers a period that began on "
        "%(period_from)s, before the ban applied; violations reported: %(count)s."
    ),
    "prohibition.recovered": _("No credible violation reported in the %(days)s days since %(last)s."),
    # A ceiling or prohibition that would be in compliance on evidence too thin to say so (engine/context.py).
    "coverage.insufficient": _(
        "Insufficient data: sources cover %(share)s %% of the days since %(opens)s; at least %(needed)s %% needed "
        "to say it is in compliance."
    ),
    "coverage.no_source": _(
        "No source reports this: no source declares the categories %(categories)s, and no report has carried "
        "them, so silence says nothing about compliance."
    ),
    "disputed.evidence": _(
        "Disputed: %(without_label)s on the undisputed reports, %(with_label)s if the %(disputed)s disputed ones hold."
    ),
    "disputed.denied": _("Disputed: one credible report says it happened, another (%(source)s, %(grade)s) denies it."),
    "unconfirmed.claims": _(
        "Unconfirmed: claimed by %(source)s on %(date)s (%(grade)s), not confirmed by a credible report; "
        "%(without_label)s on credible reports alone."
    ),
    # Owed by several parties `each` (monitor/verdicts/engine/shares.py): every party's verdict in one sentence.
    "shares.each": _("%(parts_text)s."),
}

# One party's part of a "shares.each" sentence, by its status; the label serves for the rest.
PARTY_PARTS = {
    "met": _("%(party)s: met on %(date)s"),
    "met_late": _("%(party)s: met late on %(date)s"),
    "breached": _("%(party)s: breached on %(date)s"),
}


# How a rule's comparison reads in a sentence. A rule that states none reads as it always has:
# a target's bare figure, a ceiling's "limit of 10" that a day goes "over".
_TARGET_WORDS = {
    "<": _("below %(target)s"),
    "<=": _("at most %(target)s"),
    "==": _("exactly %(target)s"),
    ">=": _("at least %(target)s"),
    ">": _("above %(target)s"),
}
_LIMIT_WORDS = {"<": _("fewer than %(limit)s"), "<=": _("at most %(limit)s")}


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
    if params.get("reasonable_days") is not None:
        out["reasonable_days_text"] = _days(params["reasonable_days"])
    if params.get("breached_days") is not None:
        out["breached_days_text"] = _days(params["breached_days"])
    out["unit_text"] = f" {params['unit']}" if params.get("unit") else ""
    comparison = params.get("comparison")
    if "target" in params:
        words = _TARGET_WORDS.get(comparison)
        out["target_text"] = words % {"target": out["target"]} if words else out["target"]
    if "limit" in params:
        words = _LIMIT_WORDS.get(comparison)
        out["limit_text"] = words % {"limit": out["limit"]} if words else out["limit"]
        # Under "fewer than N" a day with N events is already a breach: it is *at or over* the limit.
        out["over_text"] = _("at or over") if comparison == "<" else _("over")
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
    code = reason.code
    if code == "awaiting.anchor" and reason.params.get("moment"):
        # One code for every anchor (stable in the JSON), one sentence per moment; a verdict stored
        # before anchors had moments has no params and keeps the general sentence.
        code = f"awaiting.anchor.{reason.params['moment']}"
    template = SENTENCES.get(code)
    if template is None:
        return reason.code
    try:
        return str(template) % _format_params(reason.params)
    except (KeyError, TypeError, ValueError):
        # A sentence that cannot be filled still names its code rather than failing a page.
        return f"{reason.code} {reason.params}"
