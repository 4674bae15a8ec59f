"""Readings: a competing account of a commitment, with machine values the monitor judges too.

A commitment's rule and window are its main reading, the one that decides its
status and its alerts. A competing account ("within seven days, in Oslo") may
carry values of its own: another due offset, another limit, other places. Those
are stored as *overrides* of the main rule and window, so a reading says only
where it differs, and follows the main reading everywhere else.

Stored on `Commitment.readings` as
    [{"key": "seven-days", "label": "within seven days", "source": "...",
      "rule": {"limit": 0}, "window": {"due": 7}}]
A rule field set to None goes back to the rule's default (no limit, anywhere);
a window field set to None means what it means in the window (`ends: None`: ongoing).
"""

import dataclasses

from terms import rules

# The window offsets a reading may change. Not `from`: a reading judges the same
# commitment from the same anchor, only by other numbers.
WINDOW_FIELDS = ("unit", "starts", "due", "ends", "grace_days")
READING_FIELDS = ("key", "label", "source", "rule", "window")
# What an absent or null offset means, for the ones that cannot be None in a Window.
_WINDOW_DEFAULTS = {"unit": "days", "starts": 0, "grace_days": 0}

# The main reading's name on pages and in the JSON, when the file does not give one.
MAIN_LABELS = {
    "official_text": "the official text",
    "reported": "the reported terms",
    "inferred": "the inferred terms",
}


def main_label(commitment):
    """What the main reading is called: "Missed under the official text; met under the reading …"."""
    return commitment.main_reading_label or MAIN_LABELS.get(commitment.basis, "the main reading")


def merged(rule, window, reading):
    """(rule dict, Window) of one reading: the main rule and window with the reading's values over them."""
    out = dict(rule or {})
    for name, value in (reading.get("rule") or {}).items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    changes = {}
    for name, value in (reading.get("window") or {}).items():
        changes[name] = _WINDOW_DEFAULTS.get(name) if value is None and name in _WINDOW_DEFAULTS else value
    return out, dataclasses.replace(window, **changes)


def check(kind, rule, window, reading):
    """The reading's (Rule, Window), or RuleError naming the field, relative to the reading.

    Judged as a whole commitment would be (terms.rules.validate_terms on the merged
    values), and refused when it judges exactly as the main reading does.
    """
    unknown = sorted(set(reading.get("window") or {}) - set(WINDOW_FIELDS))
    if unknown:
        raise rules.RuleError(
            f"window.{unknown[0]}", "a reading may change only " + ", ".join(WINDOW_FIELDS) + " of the window"
        )
    merged_rule, merged_window = merged(rule, window, reading)
    parsed = rules.validate_terms(kind, merged_rule, merged_window)
    if parsed == rules.Rule.from_dict(kind, rule) and merged_window == window:
        raise rules.RuleError("", "changes nothing: its rule and window judge exactly as the commitment's own")
    return parsed, merged_window


def validate(kind, rule, window, readings):
    """Raise RuleError ("readings[1].window.due") if any stored reading is malformed; for Commitment.clean."""
    if not isinstance(readings, list):
        raise rules.RuleError("readings", "must be a list")
    seen = set()
    for i, reading in enumerate(readings):
        where = f"readings[{i}]"
        if not isinstance(reading, dict):
            raise rules.RuleError(where, "must be a mapping")
        unknown = sorted(set(reading) - set(READING_FIELDS))
        if unknown:
            raise rules.RuleError(f"{where}.{unknown[0]}", "unknown field (known: " + ", ".join(READING_FIELDS) + ")")
        key = reading.get("key")
        if not key or not isinstance(key, str):
            raise rules.RuleError(f"{where}.key", "is required")
        if key in seen:
            raise rules.RuleError(f"{where}.key", f"'{key}' is already used by another reading")
        seen.add(key)
        if not isinstance(reading.get("rule") or {}, dict) or not isinstance(reading.get("window") or {}, dict):
            raise rules.RuleError(where, "rule and window must be mappings")
        try:
            check(kind, rule, window, reading)
        except rules.RuleError as e:
            raise rules.RuleError(f"{where}.{e.field}".rstrip("."), e.message) from None
