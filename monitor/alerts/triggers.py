"""Re-evaluate promptly when evidence changes; the periodic sweep stays the guarantee.

Call `reports_changed(report_ids)` inside the transaction that saved, imported
or re-verified reports: once (and only if) it commits, a re-evaluation of the
commitments those reports can affect is queued. If the broker is down the
message is lost, and that is fine: the next periodic sweep finds the same
transitions, because they are computed from the database, not from messages.
"""

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def reports_changed(report_ids):
    report_ids = sorted({int(i) for i in report_ids})
    if not report_ids:
        return

    def enqueue():
        from monitor.alerts.tasks import reevaluate_reports

        try:
            reevaluate_reports.delay(report_ids)
        except Exception:  # the broker is unreachable: the periodic sweep will catch up
            log.warning("Could not queue re-evaluation of %d reports; the next sweep will.", len(report_ids))

    transaction.on_commit(enqueue)
