"""Re-evaluate promptly when evidence changes; the periodic sweep stays the guarantee.

Call `reports_changed(report_ids)` inside the transaction that saved, imported
or re-verified reports: once (and only if) it commits, a re-evaluation of the
commitments those reports can affect is queued (a targeted sweep: see
monitor.alerts.sweep). If the broker is down the message is lost, and that is
fine: the next periodic sweep finds the same transitions, because they are
computed from the database, not from messages.
"""

import logging

from django.db import transaction

log = logging.getLogger(__name__)

# Up to this many ids travel as they are; more (an import) travel as ranges of ids.
MAX_IDS = 1000
# At most this many ranges: past it, the closest ones are merged (a few unchanged reports between
# them are read too, which costs a little reading and never misses a change).
MAX_RANGES = 100


def describe(report_ids):
    """A small description of a set of report ids: {"ids": [...]} or {"ranges": [[first, last], ...]}.

    An import of a million rows would otherwise queue a message of a million ids; new rows get
    consecutive ids, so their ranges are few. Read back by `monitor.verdicts.inputs.changes_for`.
    The ids are walked once, never sorted or copied whole: an importer hands over its compact
    array of a million ids, and a set of Python ints of it would cost some 70 MB.
    """
    first = []
    runs, start, prev, count = [], None, None, 0
    for i in report_ids:
        i = int(i)
        count += 1
        if len(first) <= MAX_IDS:
            first.append(i)
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if prev is not None:
            runs.append([start, prev])
            if len(runs) > 10 * MAX_RANGES:
                runs = _fewer(runs)
        start = prev = i
    if count <= MAX_IDS:
        return {"ids": sorted(set(first))}
    runs.append([start, prev])
    return {"ranges": _fewer(runs), "count": count}


def _fewer(runs):
    """Sorted, overlapping runs joined, and at most MAX_RANGES of them: the widest gaps stay boundaries."""
    ranges = []
    for a, b in sorted(runs):
        if ranges and a <= ranges[-1][1] + 1:
            ranges[-1][1] = max(ranges[-1][1], b)
        else:
            ranges.append([a, b])
    if len(ranges) > MAX_RANGES:
        # Keep the widest gaps as the boundaries between ranges; close the others.
        gaps = sorted(range(1, len(ranges)), key=lambda k: ranges[k][0] - ranges[k - 1][1], reverse=True)
        cuts = sorted(gaps[: MAX_RANGES - 1])
        starts = [0, *cuts]
        ends = [*(k - 1 for k in cuts), len(ranges) - 1]
        ranges = [[ranges[a][0], ranges[b][1]] for a, b in zip(starts, ends)]
    return ranges


def reports_changed(report_ids):
    changes = describe(report_ids)
    if not changes.get("ids") and not changes.get("ranges"):
        return

    def enqueue():
        from monitor.alerts.tasks import reevaluate_reports

        try:
            reevaluate_reports.delay(changes)
        except Exception:  # the broker is unreachable: the periodic sweep will catch up
            log.warning("Could not queue re-evaluation of %d reports; the next sweep will.",
                        changes.get("count", len(changes.get("ids", ()))))

    transaction.on_commit(enqueue)
