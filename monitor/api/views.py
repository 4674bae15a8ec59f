"""The read API (and one write: monitors posting reports). Documented in docs/api.md.

Everything goes through `monitor.evidence.publication.Audience`, exactly as the
pages do: a request with a staff user's token or session sees what staff see,
any other sees what the public sees.
"""

from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import generics, permissions
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse
from rest_framework.views import APIView

from monitor.api import serializers as s
from monitor.evidence import publication
from monitor.evidence.models import ARRIVED_API, Report
from monitor.pages import cache as page_cache
from monitor.pages import data, instants, later
from monitor.verdicts import method
from monitor.verdicts.method import METHOD_VERSION
from monitor.verdicts.models import StatusChange
from terms import provisions as provision_rules
from terms import revisions
from terms.models import Agreement
from terms.readings import main_label

CUTOFF_PARAMETERS = [
    OpenApiParameter(
        "as_of",
        OpenApiTypes.STR,
        description="The status on this date: YYYY-MM-DD (end of that day, the agreement's zone) or an ISO "
        "date-time. Default: now. Accepted from the agreement's signing, less its longest window, to five years "
        "from today; outside that, a 400 naming the range.",
    ),
    OpenApiParameter(
        "known_at",
        OpenApiTypes.STR,
        description="Using only what was known at this date (same forms). Default: the as_of value (now, if "
        "that is still to come). Accepted from the same first day up to now: a known_at in the future is a 400.",
    ),
]


def _cutoffs(request, agreement):
    """The cutoffs, checked against the agreement's accepted range before any work (a 400 naming the
    field and the range otherwise), then the client's rate of uncached renders (a 429 past it).
    `agreement` comes from `data.agreement_or_404`."""
    try:
        cut = instants.cutoffs(
            request.query_params, ZoneInfo(agreement.time_zone), earliest=data.earliest_day(agreement)
        )
    except instants.BadInstant as e:
        raise ValidationError({e.field: [e.message]}) from None
    wait = page_cache.render_limited(request)
    if wait:
        raise Throttled(wait=wait)
    return cut


def _versions(agreement, known_at=None):
    """What a verdict was judged with besides the evidence: the terms' revision ("r3") and the method version.
    Free for an agreement from `data.agreement_or_404` or `revisions.with_revision` (terms.revisions.label_at)."""
    return {"terms_revision": revisions.label_at(agreement, known_at), "method_version": METHOD_VERSION}
def _later(request, agreement, cut, verdicts, view, url_kwargs):
    """The banner a cited page shows, as a field (monitor/pages/later.py); None when there is none."""
    change = later.change(request, agreement, cut, verdicts, view, url_kwargs)
    return change.as_dict() if change else None


def _page_url(request, name, **kwargs):
    return request.build_absolute_uri(reverse(name, kwargs=kwargs))


def _assessment(verdict, audience):
    assessment = verdict.assessment
    if assessment is None:
        return None
    out = {
        "action": assessment.action,
        "status": assessment.status,
        "computed_status": assessment.computed_status,
        # Whether it covers the current computed verdict, i.e. whether that verdict is assessed.
        "covers_computed": verdict.assessed,
        "pam_grade": assessment.pam_grade,
        "confidence": assessment.confidence,
        "reason": assessment.reason,
        "assessed_at": assessment.assessed_at,
    }
    if audience.shows_people():
        out["author"] = assessment.author.get_username()
    return out


def commitment_dict(request, row, audience):
    """One commitment and its verdict as the API sends it, from a pages.data.Row."""
    v = row.verdict
    c = row.commitment
    verdict = {
        "published": v.shown,
        "status": v.status,
        "provisional": v.provisional,
        "assessed": v.assessed,
        "computed_status": v.computed_status,
        "reason": {"code": v.reason_code, "params": v.reason_params} if v.shown else None,
        "sentence": v.sentence,
        "withheld": v.withheld,
        # When the status began as the history recorded it, as the commitment page says (data.status_since).
        "since": row.since,
        "opens_at": v.opens_at,
        "due_at": v.due_at,
        "closes_at": v.closes_at,
        "due_day": row.due_day,
        "days_left": v.days_left,
        "days_overdue": v.days_overdue,
        "days_to_due": row.days_to_due,
        "evidence": list(v.evidence),
        "details": v.details,
        "main_reading": main_label(c),
        "readings": [
            {"key": r.key, "label": r.label, "status": r.status, "since": r.since, "sentence": r.sentence}
            for r in (row.readings.rows if row.readings else ())
        ],
        # Each owing party's verdict, for a commitment several parties owe `each`; `status` is their roll-up.
        "parties": [
            {
                "party": p.slug,
                "name": p.name,
                "status": p.status,
                "since": row.party_since.get(p.party_id, p.since),
                "reason": {"code": p.reason_code, "params": p.reason_params},
                "sentence": p.sentence,
                "withheld": p.withheld,
            }
            for p in v.parties
        ],
    }
    # An unpublished verdict's assessment is still shown: assessments are the analysts' public word.
    text_page = _page_url(request, "pages:text", agreement=c.agreement.slug) if row.provisions else ""
    return {
        "key": c.key,
        "title": c.title,
        "kind": c.kind,
        "owed_by": sorted(p.slug for p in row.owed_by),
        "tracked": c.tracked,
        "needs_review": c.needs_review,
        "under_review": v.under_review,
        "review_note": c.review_note if c.needs_review else "",
        "page": _page_url(request, "pages:commitment", agreement=c.agreement.slug, key=c.key),
        "verdict": verdict,
        "assessment": _assessment(v, audience),
        "provisions": [
            {"ref": p.ref, "label": p.label, "page": text_page + "#" + p.ref} for p in row.provisions
        ],
    }


class ApiDocs(SpectacularSwaggerSplitView):
    """Swagger UI over the schema, in the site's layout, from our own static files (drf-spectacular-sidecar).

    The split view serves its start-up script as a file of its own (`?script`), so the page needs no
    inline script and keeps the site's Content-Security-Policy ('self' only) unchanged.
    """

    url_name = "api:schema"
    template_name = "api/docs.html"
    title = gettext_lazy("API documentation")


class ApiRoot(APIView):
    """Where everything is."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(exclude=True)
    def get(self, request):
        return Response(
            {
                "agreements": api_reverse("api:agreement-list", request=request),
                "reports": api_reverse("api:report-list", request=request),
                "status_changes": api_reverse("api:statuschange-list", request=request),
                "schema": api_reverse("api:schema", request=request),
                "documentation": api_reverse("api:docs", request=request),
                "data_dictionary": "docs/api.md in the source repository (fields, meanings, examples)",
            }
        )


def _agreement_dict(request, agreement):
    return {
        "slug": agreement.slug,
        "title": agreement.title,
        "summary": agreement.summary,
        "state": agreement.state,
        "signed_on": agreement.signed_on,
        "time_zone": agreement.time_zone,
        "source": agreement.source,
        "publish_computed_verdicts": agreement.publish_computed_verdicts,
        "ended_on": agreement.ended_on,
        "coverage_share": agreement.coverage_share,
        "parties": list(agreement.parties.all()),
        "non_party_actors": list(agreement.non_party_actors.all()),
        "page": _page_url(request, "pages:agreement", agreement=agreement.slug),
        "commitments": api_reverse("api:commitment-list", kwargs={"agreement": agreement.slug}, request=request),
        "provisions": provision_rules.Counts.of(agreement).as_dict(),
        "text": _page_url(request, "pages:text", agreement=agreement.slug),
        **_versions(agreement),
    }


class AgreementList(generics.ListAPIView):
    """Every agreement the monitor follows."""

    serializer_class = s.AgreementSerializer
    queryset = revisions.with_revision(
        Agreement.objects.prefetch_related("parties", "non_party_actors").annotate(
            **provision_rules.count_annotations()
        )
    ).order_by("title")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            self.get_serializer([_agreement_dict(request, a) for a in page], many=True).data
        )


class AgreementDetail(generics.GenericAPIView):
    serializer_class = s.AgreementSerializer

    def get(self, request, agreement):
        obj = get_object_or_404(
            revisions.with_revision(
                Agreement.objects.prefetch_related("parties", "non_party_actors").annotate(
                    **provision_rules.count_annotations()
                )
            ),
            slug=agreement,
        )
        return Response(self.get_serializer(_agreement_dict(request, obj)).data)


class CommitmentList(generics.GenericAPIView):
    """Every commitment of an agreement with its verdict as of `as_of`, as known at `known_at`."""

    reads_cutoffs = True  # checked against the agreement in _cutoffs, not by CutoffsInRange

    serializer_class = s.CommitmentListSerializer
    pagination_class = None

    @extend_schema(parameters=CUTOFF_PARAMETERS, operation_id="agreements_commitments_list")
    def get(self, request, agreement):
        agreement = data.agreement_or_404(agreement)
        cut = _cutoffs(request, agreement)
        audience = publication.Audience(request.user)
        rows = data.with_status_since(data.agreement_overview(agreement, cut, audience), cut, audience)
        versions = _versions(agreement, cut.known_at)
        body = {
            "agreement": agreement.slug,
            "as_of": cut.as_of,
            "known_at": cut.known_at,
            **versions,
            "commitments": [{**commitment_dict(request, r, audience), **versions} for r in rows],
            "later_change": _later(request, agreement, cut, [r.verdict for r in rows], "api:commitment-list",
                                   {"agreement": agreement.slug}),
        }
        return Response(self.get_serializer(body).data)


class CommitmentDetail(generics.GenericAPIView):
    """One commitment: its words, basis, rule and verdict."""

    reads_cutoffs = True  # checked against the agreement in _cutoffs, not by CutoffsInRange

    serializer_class = s.CommitmentDetailSerializer

    @extend_schema(parameters=CUTOFF_PARAMETERS)
    def get(self, request, agreement, key):
        agreement = data.agreement_or_404(agreement)
        cut = _cutoffs(request, agreement)
        audience = publication.Audience(request.user)
        row = next((r for r in data.agreement_overview(agreement, cut, audience) if r.commitment.key == key), None)
        if row is None:
            raise Http404
        data.with_status_since([row], cut, audience)
        c = row.commitment
        body = commitment_dict(request, row, audience)
        body.update(_versions(agreement, cut.known_at))
        body.update(
            text=c.text,
            basis=c.basis,
            basis_source=c.basis_source,
            basis_note=c.basis_note,
            competing_accounts=c.competing_accounts or [],
            rule=c.rule or {},
            window={
                "anchor": c.anchor,
                "anchor_commitment": c.anchor_commitment.key if c.anchor_commitment_id else None,
                "unit": c.offset_unit,
                "starts": c.starts_offset,
                "due": c.due_offset,
                "ends": c.ends_offset,
                "grace_days": c.grace_days,
                "reasonable_days": c.reasonable_days,  # a duty without a date (due null): days until overdue
            },
            reports=api_reverse(
                "api:commitment-reports", kwargs={"agreement": agreement.slug, "key": key}, request=request
            ),
            later_change=_later(request, agreement, cut, [row.verdict], "api:commitment-detail",
                                {"agreement": agreement.slug, "key": key}),
        )
        return Response(self.get_serializer(body).data)


def attachment_dicts(report, request=None):
    """A report's attachments as the API shows them (issue 14): what a reader needs to fetch and check each.

    Read from `report.attachments.all()`, which the callers prefetch (the commitment's evidence: those
    stored by its cutoff), so a page of reports costs one query for all their files.
    """
    out = []
    for a in report.attachments.all():
        url = reverse("pages:attachment", kwargs={"report": report.id, "attachment": a.id, "name": a.original_name})
        out.append({
            "name": a.original_name, "kind": a.kind, "content_type": a.content_type, "size": a.size,
            "sha256": a.sha256, "captured_at": a.captured_at, "captured_url": a.captured_url,
            "description": a.description, "stored_at": a.stored_at,
            "url": request.build_absolute_uri(url) if request is not None else url,
        })
    return out


def report_dict(report, audience, request=None, terms_revision=None):
    """`terms_revision`: the revision of the terms the answer speaks under (the commitment's agreement's), or
    None for a report linked to no commitment and listed on its own."""
    out = {
        "id": report.id,
        "summary": report.summary,
        "original_text": report.original_text,
        "original_language": report.original_language,
        "translation": report.translation,
        "category": report.category,
        "sub_category": report.sub_category,
        "stance": report.stance,
        "occurred_at": report.occurred_at,
        "occurred_until": report.occurred_until,
        "precision": report.precision,
        "recorded_at": report.recorded_at,
        "entered_at": report.entered_at,
        "value": report.value,
        "country": report.country,
        "admin1": report.admin1,
        "location": report.location,
        "actor1": report.actor1,
        "actor2": report.actor2,
        "interaction": report.interaction,
        "fatalities": report.fatalities,
        "original_source": report.original_source,
        "source_scale": report.source_scale,
        "latitude": report.latitude,
        "longitude": report.longitude,
        "geo_precision": report.geo_precision,
        "source": report.source,
        "source_ref": report.source_ref,
        "url": report.url,
        "credibility": report.credibility,
        "grade": report.grade,
        "credibility_graded": report.credibility_graded,
        "verification": report.verification,
        "commitment": f"{report.commitment.agreement.slug}/{report.commitment.key}" if report.commitment_id else None,
        "event_id": report.event_id,
        "attachments": attachment_dicts(report, request),
        "terms_revision": terms_revision,
        "method_version": METHOD_VERSION,
    }
    if audience.staff:
        out["visibility"] = report.visibility
    return out


class CommitmentReports(generics.GenericAPIView):
    """The reports that speak to one commitment (by its rule, or linked by hand), newest first."""

    reads_cutoffs = True  # checked against the agreement in _cutoffs, not by CutoffsInRange

    serializer_class = s.ReportSerializer
    # Never read here: the reports come from data.commitment_detail, under the publication rules. The
    # browsable API asks every generic view for a queryset to build its forms (a 500 without one).
    queryset = Report.objects.none()

    @extend_schema(parameters=CUTOFF_PARAMETERS + [OpenApiParameter("page", OpenApiTypes.INT)])
    def get(self, request, agreement, key):
        agreement = data.agreement_or_404(agreement)
        cut = _cutoffs(request, agreement)
        audience = publication.Audience(request.user)
        per_page = self.paginator.page_size if self.paginator else 50
        detail = data.commitment_detail(
            agreement, key, cut, audience, request.query_params.get("page") or 1, per_page=per_page
        )
        if detail is None:
            raise Http404
        page = detail.evidence_page
        # The reports this commitment's rule selects under the terms as known at the cutoff.
        terms = revisions.label_at(agreement, cut.known_at)
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "not_listed_licence": detail.hidden_licensed,
                "results": self.get_serializer(
                    [report_dict(r.report, audience, request, terms) for r in page.object_list], many=True
                ).data,
            }
        )


class MayPostReports(permissions.BasePermission):
    """Anyone may read; only a user allowed to add reports (a monitor, with a token) may post one."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("evidence.add_report"))


class ReportList(generics.ListCreateAPIView):
    """Reports whose rows may be published, newest first; monitors with a token may post new ones."""

    permission_classes = [MayPostReports]

    def get_serializer_class(self):
        return s.ReportCreateSerializer if self.request.method == "POST" else s.ReportSerializer

    def get_queryset(self):
        audience = publication.Audience(self.request.user)
        reports = audience.reports(
            Report.objects.select_related("source", "commitment__agreement").order_by("-occurred_at", "-id")
        ).prefetch_related("attachments")
        params = self.request.query_params
        if params.get("category"):
            reports = reports.filter(category=params["category"])
        if params.get("source"):
            reports = reports.filter(source__name=params["source"])
        for name, lookup in (("occurred_after", "occurred_at__gte"), ("occurred_before", "occurred_at__lt"),
                             ("recorded_after", "recorded_at__gte")):
            if params.get(name):
                instant = parse_datetime(params[name])
                if instant is None:
                    raise ValidationError({name: [_("An ISO date-time, e.g. 2020-03-01T00:00:00Z.")]})
                reports = reports.filter(**{lookup: instant})
        return reports

    @extend_schema(
        parameters=[
            OpenApiParameter("category", OpenApiTypes.STR),
            OpenApiParameter("source", OpenApiTypes.STR, description="The source's name"),
            OpenApiParameter("occurred_after", OpenApiTypes.DATETIME),
            OpenApiParameter("occurred_before", OpenApiTypes.DATETIME),
            OpenApiParameter("recorded_after", OpenApiTypes.DATETIME),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        audience = publication.Audience(request.user)
        page = self.paginate_queryset(self.get_queryset())
        terms = revisions.Revisions(r.commitment.agreement_id for r in page if r.commitment_id)
        return self.get_paginated_response(s.ReportSerializer(
            [report_dict(r, audience, request, terms.label(r.commitment.agreement_id if r.commitment_id else None))
             for r in page], many=True).data)

    @extend_schema(request=s.ReportCreateSerializer, responses={201: s.ReportCreateSerializer})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer):
        from monitor.alerts.triggers import reports_changed

        with transaction.atomic():
            report = serializer.save(entered_by=self.request.user, arrived_via=ARRIVED_API)
            # Re-evaluate promptly once committed; the periodic sweep stays the guarantee.
            reports_changed([report.id])


class ReportDetail(generics.GenericAPIView):
    serializer_class = s.ReportSerializer

    def get(self, request, pk):
        audience = publication.Audience(request.user)
        report = get_object_or_404(
            audience.reports(Report.objects.select_related("source", "commitment__agreement")
                             .prefetch_related("attachments")), pk=pk
        )
        terms = revisions.label_at(report.commitment.agreement) if report.commitment_id else None
        return Response(self.get_serializer(report_dict(report, audience, request, terms)).data)


class StatusChangeList(generics.ListAPIView):
    """Status changes and corrections, newest first. Filter by ?agreement=slug and &commitment=key."""

    serializer_class = s.StatusChangeSerializer

    def get_queryset(self):
        return StatusChange.objects.none()  # built per agreement in list(); this keeps the schema generator happy

    @extend_schema(
        parameters=[
            OpenApiParameter("agreement", OpenApiTypes.STR, description="An agreement's slug"),
            OpenApiParameter("commitment", OpenApiTypes.STR, description="A commitment's key (with agreement)"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        audience = publication.Audience(request.user)
        params = request.query_params
        # The commitments' own changes; a party's own (several owing it `each`) are the sweep's, for alerts.
        changes = (
            StatusChange.objects.filter(party__isnull=True)
            .select_related("commitment__agreement")
            .prefetch_related(Prefetch("evidence", queryset=Report.objects.only("id")))
        )
        if params.get("agreement"):
            changes = changes.filter(commitment__agreement__slug=params["agreement"])
            if params.get("commitment"):
                changes = changes.filter(commitment__key=params["commitment"])
        elif params.get("commitment"):
            raise ValidationError({"commitment": [_("Give the agreement too: ?agreement=slug&commitment=key.")]})
        changes = audience.status_changes(changes)
        changes = changes.order_by("-detected_at", "-id")
        page = self.paginate_queryset(changes)
        ids = {r.id for c in page for r in c.evidence.all()}
        ids |= {i for c in page for i in publication.ids_in_params(c.reason_params)}
        ledger = publication.Ledger.load(ids)
        # Each change names the revision of the terms in force when it was detected (as the feed's entries do).
        terms = revisions.Revisions(c.commitment.agreement_id for c in page)
        out = []
        for c in page:
            params_out, sentence, _withheld = audience.reason(c.reason_code, c.reason_params, c.new_status, ledger)
            out.append(
                {
                    "id": c.id,
                    "agreement": c.commitment.agreement.slug,
                    "commitment": c.commitment.key,
                    "kind": c.kind,
                    "old_status": c.old_status,
                    "new_status": c.new_status,
                    "effective_at": c.effective_at,
                    "detected_at": c.detected_at,
                    "reason": {"code": c.reason_code, "params": params_out},
                    "sentence": sentence,
                    "evidence": [r.id for r in c.evidence.all() if audience.shows_row(r.id, ledger)],
                    "terms_revision": terms.label(c.commitment.agreement_id, c.detected_at),
                    "method_version": method.label(c.method_version),
                }
            )
        return self.get_paginated_response(self.get_serializer(out, many=True).data)

