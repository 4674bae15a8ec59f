"""The version of the method that judges commitments: named beside every verdict the monitor publishes.

A cited verdict names two things it depends on besides the evidence: the revision of the agreement's
terms it used (terms.revisions, "r3") and this, the version of the judging rules (the engine in
monitor/verdicts/engine/, the weighing of evidence, the status vocabulary). Bump it, with a line below,
whenever a change to those rules can change a verdict on the same terms and evidence; a change that
only words a sentence differently does not.

Changelog:

- 2026.12: the method as of the versioning of the terms (issue 14): deadlines, targets, ceilings and
  prohibitions with grace, reasonable time and anchors; evidence weighed by source reliability,
  credibility, verification and disputes (docs/architecture.md); each owing party judged alone for a
  commitment owed `each`; an anchor's first breach found instant by instant; unconfirmed claims weighed
  in an anchor's missed instant.
"""

METHOD_VERSION = "2026.12"


def label(version):
    """How a recorded version reads: a change recorded before versions had names says so."""
    return version or f"before {METHOD_VERSION}"
