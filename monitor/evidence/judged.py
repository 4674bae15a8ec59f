"""What a verification vouches for: the fields whose change makes a verified report claimed again.

Four eyes: an analyst who verifies a report vouches for what it says and for what it decides. A
report whose say or decision changes afterwards says something no one else has checked, so it is
claimed again until someone verifies it anew (else: enter a report, have it verified, then rewrite
it or move it to another commitment). The admin (`ReportAdmin.save_model`, the event grouping), the
importers (`importing.writer`, `importing.staging`) apply this set; the API only adds reports.

The set is derived from what the verdict engine reads of a report
(`monitor.verdicts.inputs.EVIDENCE_FIELDS`), so a column the engine starts to read resets a
verification without anyone remembering to add it here (tests/test_four_eyes.py holds the engine's
`Evidence` to it), plus what a report says that the engine does not read but a verification vouches
for (its words, casualties, the other side, the source's id and link).
"""

from monitor.evidence.models import Report
from monitor.verdicts.inputs import CHANGE_FIELDS, EVIDENCE_FIELDS

# Read by the engine but not what a report says: its identity, and when the monitor learned of it (set once,
# never edited; see docs/report-format.md).
NOT_CONTENT = frozenset({"id", "recorded_at"})
# What a report says besides what the engine reads.
# The original-language text is what the summary translates: changed, the summary may no longer say it.
DESCRIBED = frozenset({"summary", "country", "actor2", "fatalities", "source_ref", "url", "original_text"})

_NAMES = {f.attname: f.name for f in Report._meta.concrete_fields}

# Field names, as forms name them ("commitment", "event", "source").
JUDGED_FIELDS = frozenset(
    {_NAMES[column] for column in (*EVIDENCE_FIELDS, *CHANGE_FIELDS) if column not in NOT_CONTENT} | DESCRIBED
)
# The same as columns' attribute names, as the importers' rows name them ("commitment_id", "event_id", "source_id").
JUDGED_COLUMNS = frozenset(f.attname for f in Report._meta.concrete_fields if f.name in JUDGED_FIELDS)


def judged_names(columns):
    """The judged fields among `columns` (names or attnames), by name, sorted: for a verification change's reason."""
    return sorted({_NAMES.get(c, c) for c in columns} & JUDGED_FIELDS)

