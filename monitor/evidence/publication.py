"""The one place that decides what the public may see of the evidence.

Every public output — pages, feeds, the API, exports meant for publication —
goes through these functions, so a rule changes in one place:

- internal and restricted reports are never public;
- a report from a source whose licence forbids republishing its raw rows (such
  as ACLED) is never shown as a row: it still counts, and the numbers it feeds
  (daily counts, totals) may be shown, but not its text, place, actors or id;
- nothing about subscribers is ever public.
"""

from monitor.evidence.models import PUBLIC, Report


def public_reports(reports=None):
    """Reports whose rows the public may see."""
    reports = Report.objects.all() if reports is None else reports
    return reports.filter(visibility=PUBLIC, source__may_republish=True)


def countable_reports(reports=None):
    """Reports the public may see counted (not shown): public ones, whatever their source's licence."""
    reports = Report.objects.all() if reports is None else reports
    return reports.filter(visibility=PUBLIC)


def is_public_row(report):
    return report.visibility == PUBLIC and report.source.may_republish


def public_evidence_ids(report_ids, reports_by_id):
    """Of the ids a verdict relied on, those whose rows may be shown to the public."""
    return [i for i in report_ids if i in reports_by_id and is_public_row(reports_by_id[i])]
