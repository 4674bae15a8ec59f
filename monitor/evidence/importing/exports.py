"""Reports and verdicts out of the admin as CSV or JSON, as the public may see them.

An export is a file that leaves the monitor, so it follows the publication
rules (monitor.evidence.publication) whoever makes it: only public reports
from sources whose licence lets their rows be republished are exported as rows;
a verdict lists only the evidence the public may see, and is withheld where
the public page would withhold it. Report columns are those of the report
format (docs/report-format.md), so an exported file can be imported again.

CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @,
a tab or a carriage return) are prefixed with an apostrophe.
"""

import csv
import json

from django.http import StreamingHttpResponse
from django.utils import timezone

from monitor.evidence import publication
from monitor.verdicts import inputs
from monitor.verdicts.method import METHOD_VERSION
from terms import revisions
from terms.models import Agreement

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

REPORT_COLUMNS = (
    "source", "source_ref", "category", "sub_category", "stance", "occurred_at", "occurred_until", "precision",
    "recorded_at", "entered_at", "summary", "value", "country", "admin1", "location", "actor1", "actor2", "fatalities", "url",
    "credibility", "visibility", "commitment", "verification", "grade",
    # Issue 14: the source's own words and who translated them; whether the credibility is a grade or a
    # dataset's default; what an event dataset (ACLED) says of its own row. The native format reads them all.
    "original_text", "original_language", "translation", "credibility_graded",
    "interaction", "original_source", "source_scale", "latitude", "longitude", "geo_precision",
)

VERDICT_COLUMNS = (
    "agreement", "key", "title", "kind", "owed_by", "status", "provisional", "shown", "since", "due_at",
    "days_left", "days_overdue", "sentence", "evidence", "assessed_status", "assessed_at", "as_of",
    "terms_revision", "method_version",
)


def safe_cell(value):
    """A CSV cell a spreadsheet shows as text: formulas are neutralised, numbers kept as numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value):
        return value


def _csv_stream(columns, rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([safe_cell(row.get(c)) for c in columns])


def _json_stream(head, key, items):
    """A JSON object {head…, key: [items…]}, written an item at a time."""
    opening = json.dumps({**head, key: []}, ensure_ascii=False)
    yield opening[: -len("]}")] + "\n"
    for i, item in enumerate(items):
        yield (",\n" if i else "") + json.dumps(item, ensure_ascii=False)
    yield "\n]}\n"


def _response(stream, filename, content_type):
    response = StreamingHttpResponse(stream, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _instant(value):
    return value.isoformat() if value else None


# --- reports -------------------------------------------------------------------


def exportable_reports(queryset):
    """(the reports that may leave the monitor, how many were withheld and why)."""
    total = queryset.count()
    public = publication.public_reports(queryset)
    by_licence = publication.countable_reports(queryset).filter(source__may_republish=False).count()
    exportable_count = public.count()
    return public, {
        "licence": by_licence,
        "visibility": total - exportable_count - by_licence,
    }


def report_rows(queryset):
    reports = queryset.select_related("source", "commitment__agreement").order_by("occurred_at", "id")
    for r in reports.iterator(chunk_size=2000):
        yield {
            "source": r.source.name,
            "source_ref": r.source_ref,
            "category": r.category,
            "sub_category": r.sub_category,
            "stance": r.stance,
            "occurred_at": _instant(r.occurred_at),
            "occurred_until": _instant(r.occurred_until),
            "precision": r.precision,
            "recorded_at": _instant(r.recorded_at),
            "entered_at": _instant(r.entered_at),
            "summary": r.summary,
            "value": r.value,
            "country": r.country,
            "admin1": r.admin1,
            "location": r.location,
            "actor1": r.actor1,
            "actor2": r.actor2,
            "fatalities": r.fatalities,
            "url": r.url,
            "credibility": r.credibility,
            "visibility": r.visibility,
            "commitment": f"{r.commitment.agreement.slug}/{r.commitment.key}" if r.commitment_id else "",
            "verification": r.verification,
            "grade": f"{r.source.reliability}{r.credibility}",
            "original_text": r.original_text,
            "original_language": r.original_language,
            "translation": r.translation,
            "credibility_graded": r.credibility_graded,
            "interaction": r.interaction,
            "original_source": r.original_source,
            "source_scale": r.source_scale,
            "latitude": r.latitude,
            "longitude": r.longitude,
            "geo_precision": r.geo_precision,
        }


def reports_csv(queryset):
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    # credibility_graded as the words JSON writes and the native format reads, not Python's True/False.
    rows = ({**row, "credibility_graded": "true" if row["credibility_graded"] else "false"}
            for row in report_rows(queryset))
    return _response(_csv_stream(REPORT_COLUMNS, rows), f"reports-{stamp}.csv", "text/csv")


def reports_json(queryset, withheld):
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    head = {"format": 1, "exported_at": _instant(timezone.now()), "withheld": withheld}
    return _response(_json_stream(head, "reports", report_rows(queryset)), f"reports-{stamp}.json",
                     "application/json")


# --- verdicts ------------------------------------------------------------------


def verdict_rows(commitments, *, as_of):
    """Each commitment's verdict as the public would see it, in a fixed number of queries (a list: it is short)."""
    return list(_verdict_rows(commitments, as_of=as_of))


def _verdict_rows(commitments, *, as_of):
    wanted = {c.pk for c in commitments}
    agreements = {c.agreement_id for c in commitments}
    standings = [s for s in inputs.standings(agreements, as_of=as_of) if s.commitment.pk in wanted]
    audience = publication.Audience()
    ledger = publication.Ledger.load(audience.report_ids_in(standings))
    # The revision of each agreement's terms the verdicts used (terms.revisions), read in one query.
    with_revision = revisions.with_revision(Agreement.objects.filter(pk__in=agreements))
    revision = {a.pk: revisions.label_at(a) for a in with_revision}
    for s in standings:
        v = audience.verdict(s, ledger)
        c = s.commitment
        yield {
            "agreement": c.agreement.slug,
            "key": c.key,
            "title": c.title,
            "kind": c.kind,
            "owed_by": " ".join(sorted(p.slug for p in c.owed_by.all())),
            "status": v.status,
            "provisional": v.provisional,
            "shown": v.shown,
            "since": _instant(v.since),
            "due_at": _instant(v.due_at),
            "days_left": v.days_left,
            "days_overdue": v.days_overdue,
            "sentence": v.sentence,
            "evidence": list(v.evidence),
            "assessed_status": s.assessment.status if v.assessed else None,
            "assessed_at": _instant(s.assessment.assessed_at) if v.assessed else None,
            "as_of": _instant(as_of),
            "terms_revision": revision.get(c.agreement_id),
            "method_version": METHOD_VERSION,
        }


def verdicts_csv(commitments):
    as_of = timezone.now()
    rows = (
        {**row, "evidence": " ".join(str(i) for i in row["evidence"])} for row in verdict_rows(commitments, as_of=as_of)
    )
    return _response(_csv_stream(VERDICT_COLUMNS, rows), f"verdicts-{as_of:%Y%m%d-%H%M}.csv", "text/csv")


def verdicts_json(commitments):
    as_of = timezone.now()
    head = {"format": 1, "as_of": _instant(as_of)}
    return _response(_json_stream(head, "commitments", verdict_rows(commitments, as_of=as_of)),
                     f"verdicts-{as_of:%Y%m%d-%H%M}.json", "application/json")
