"""Serializers of the read API and of the one write: a monitor posting a report.

Read serializers are declared field by field (rather than from models) so that
the OpenAPI schema and docs/api.md describe exactly what is sent, and so that no
field reaches the public by accident: what may be seen was already decided by
`monitor.evidence.publication` before anything is serialized here.
"""

from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitor.evidence.importing import native
from monitor.evidence.importing.lookups import Attribution, Lookups
from monitor.evidence.importing.zones import default_time_zone
from monitor.evidence.models import Report, Source
from terms.models import Commitment


class PartySerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class ProvisionCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Provisions of the text the agreement file carries (0: no text)")
    monitored = serializers.IntegerField(help_text="Cited by one or more tracked commitments")
    not_monitorable = serializers.IntegerField(help_text="Aspirational, procedural, or no observable act")
    not_yet_modelled = serializers.IntegerField(help_text="Could be judged; no commitment does so yet")


class CitationSerializer(serializers.Serializer):
    ref = serializers.SlugField(help_text="Stable citation key, the anchor on the text page")
    label = serializers.CharField(help_text="The provision's number as the text numbers it, e.g. 'Part One, A.1'")
    page = serializers.URLField(help_text="The provision on the agreement's text page")


class AgreementSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    summary = serializers.CharField()
    state = serializers.CharField(help_text="draft, in_force, suspended, terminated or superseded")
    ended_on = serializers.DateField(allow_null=True, help_text="When it was terminated or superseded")
    coverage_share = serializers.IntegerField(
        help_text="Per cent of a ceiling's or prohibition's days sources must cover for 'in compliance'"
    )
    signed_on = serializers.DateField(allow_null=True)
    time_zone = serializers.CharField(help_text="IANA zone the agreement's days are counted in")
    source = serializers.CharField(help_text="Where the terms come from, in words")
    publish_computed_verdicts = serializers.BooleanField(
        help_text="If false, a verdict is published only once an analyst's assessment covers it"
    )
    parties = PartySerializer(many=True, help_text="The signatories: the parties that owe its commitments")
    non_party_actors = PartySerializer(
        many=True,
        help_text="Actors active where it applies who signed nothing: their acts are context, never evidence",
    )
    page = serializers.URLField(help_text="The public page")
    commitments = serializers.URLField(help_text="This agreement's commitments with their verdicts")
    provisions = ProvisionCountsSerializer(help_text="How the provisions of its text are accounted for")
    text = serializers.URLField(help_text="The public page of its text, provision by provision")
    terms_revision = serializers.CharField(
        allow_null=True, help_text="The current revision of its terms (r1 at the first load; docs/api.md)"
    )
    method_version = serializers.CharField(help_text="The version of the judging rules (docs/api.md)")


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable reason code (monitor/verdicts/reasons.py)")
    params = serializers.DictField(help_text="The code's parameters; dates are local YYYY-MM-DD")


class ReadingSerializer(serializers.Serializer):
    key = serializers.SlugField(help_text="The reading's key in the agreement file")
    label = serializers.CharField(help_text="What the reading says, e.g. “within seven days”")
    status = serializers.CharField(help_text="The status under this reading (it decides nothing)")
    since = serializers.DateTimeField(allow_null=True)
    sentence = serializers.CharField(allow_null=True, help_text="The reason under this reading, in words")


class PartyVerdictSerializer(serializers.Serializer):
    party = serializers.CharField(help_text="The owing party's slug")
    name = serializers.CharField()
    status = serializers.CharField(help_text="This party's own computed status")
    since = serializers.DateTimeField(allow_null=True)
    reason = ReasonSerializer()
    sentence = serializers.CharField(allow_null=True)
    withheld = serializers.BooleanField(help_text="This party's verdict rests on a report that is not public")


class VerdictSerializer(serializers.Serializer):
    published = serializers.BooleanField(
        help_text="False: provisional and not yet published; status, reason and countdown are null"
    )
    status = serializers.CharField(allow_null=True, help_text="The published status: assessed, else computed")
    provisional = serializers.BooleanField(help_text="No current assessment covers the computed verdict")
    assessed = serializers.BooleanField()
    computed_status = serializers.CharField(allow_null=True)
    reason = ReasonSerializer(allow_null=True)
    sentence = serializers.CharField(allow_null=True, help_text="The reason in words, in the active language")
    withheld = serializers.BooleanField(help_text="The verdict rests on a report that is not public")
    since = serializers.DateTimeField(allow_null=True)
    opens_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True, help_text="End of the due day: acts before it are on time")
    closes_at = serializers.DateTimeField(allow_null=True)
    due_day = serializers.DateField(allow_null=True, help_text="The due day, local to the agreement")
    days_left = serializers.IntegerField(allow_null=True)
    days_overdue = serializers.IntegerField(allow_null=True)
    days_to_due = serializers.IntegerField(
        allow_null=True, help_text="Local days from as_of to the due day (negative: past); always given"
    )
    evidence = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of public reports relied on")
    details = serializers.DictField(help_text="Chart data: daily counts (ceiling) or a series (target)")
    main_reading = serializers.CharField(help_text="What the main reading, which decides the status, is called")
    readings = ReadingSerializer(
        many=True,
        help_text="The computed verdict under each competing reading; empty when there are none or the verdict "
        "is not published",
    )
    parties = PartyVerdictSerializer(
        many=True,
        help_text="Owed by several parties `each`: every party's verdict, `status` being their roll-up; else empty",
    )


class AssessmentSerializer(serializers.Serializer):
    action = serializers.CharField()
    status = serializers.CharField()
    computed_status = serializers.CharField()
    covers_computed = serializers.BooleanField()
    pam_grade = serializers.IntegerField(allow_null=True)
    confidence = serializers.CharField()
    reason = serializers.CharField()
    assessed_at = serializers.DateTimeField()
    author = serializers.CharField(required=False, help_text="Staff only")


class CommitmentSerializer(serializers.Serializer):
    key = serializers.SlugField()
    title = serializers.CharField()
    kind = serializers.CharField(help_text="deadline, target, ceiling or prohibition")
    owed_by = serializers.ListField(child=serializers.SlugField())
    tracked = serializers.BooleanField()
    needs_review = serializers.BooleanField()
    under_review = serializers.BooleanField(
        help_text="Marked for review and not assessed: the computed verdict is withheld from the public until an "
        "analyst settles it"
    )
    review_note = serializers.CharField(help_text="What the analysts must settle; empty when not marked for review")
    page = serializers.URLField()
    verdict = VerdictSerializer()
    assessment = AssessmentSerializer(allow_null=True)
    provisions = CitationSerializer(many=True, help_text="The provisions of the text it cites, in the text's order")
    terms_revision = serializers.CharField(
        allow_null=True, help_text="The revision of the agreement's terms the verdict used (as known at known_at)"
    )
    method_version = serializers.CharField(help_text="The version of the judging rules the verdict used")


class LaterChangeSerializer(serializers.Serializer):
    """A cited view that today's terms and contents judge otherwise (monitor/pages/later.py)."""

    revision = serializers.CharField(
        allow_null=True, help_text="The latest revision of the terms made after known_at"
    )
    message = serializers.CharField()
    changed = serializers.ListField(child=serializers.SlugField(), help_text="Keys of the commitments that change")
    current = serializers.URLField(help_text="The same as_of, as known now")


class CommitmentDetailSerializer(CommitmentSerializer):
    text = serializers.CharField(help_text="The agreement's words")
    basis = serializers.CharField(help_text="official_text, reported or inferred")
    basis_source = serializers.CharField()
    basis_note = serializers.CharField()
    competing_accounts = serializers.ListField(child=serializers.DictField())
    rule = serializers.DictField(help_text="The rule as in the agreement file")
    window = serializers.DictField(help_text="Offsets from the anchor day")
    reports = serializers.URLField(help_text="The reports that speak to it, paginated")
    later_change = LaterChangeSerializer(
        allow_null=True, required=False,
        help_text="Null unless the cutoffs are named and today's terms and contents would change its verdict",
    )


class CommitmentListSerializer(serializers.Serializer):
    agreement = serializers.SlugField()
    as_of = serializers.DateTimeField()
    known_at = serializers.DateTimeField()
    terms_revision = serializers.CharField(
        allow_null=True, help_text="The revision of the agreement's terms the verdicts used (as known at known_at)"
    )
    method_version = serializers.CharField(help_text="The version of the judging rules the verdicts used")
    commitments = CommitmentSerializer(many=True)
    later_change = LaterChangeSerializer(
        allow_null=True, required=False,
        help_text="Null unless the cutoffs are named and today's terms and contents would change a verdict",
    )


class SourceSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    reliability = serializers.CharField(help_text="Admiralty A–F")


class AttachmentSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The file's name as uploaded")
    kind = serializers.CharField(help_text="document, screenshot or web_capture")
    content_type = serializers.CharField(help_text="The type read from the file's bytes")
    size = serializers.IntegerField(help_text="Bytes")
    sha256 = serializers.CharField(help_text="SHA-256 of the bytes as stored: check a download against it")
    captured_at = serializers.DateTimeField(help_text="When the capture was made")
    captured_url = serializers.CharField(help_text="The page captured, if any")
    description = serializers.CharField()
    stored_at = serializers.DateTimeField(help_text="When the monitor stored it (what 'as known at' compares)")
    url = serializers.CharField(help_text="Where to download it")


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    summary = serializers.CharField()
    original_text = serializers.CharField(help_text="The source's own words, when summary translates them")
    original_language = serializers.CharField(
        help_text="BCP 47 tag of the language the source wrote in (ps, prs, ar…); empty if not given"
    )
    translation = serializers.CharField(
        help_text="Who translated summary from original_language: human, machine, or empty (not a translation)"
    )
    category = serializers.CharField()
    sub_category = serializers.CharField()
    stance = serializers.CharField(help_text="affirms or denies")
    occurred_at = serializers.DateTimeField()
    occurred_until = serializers.DateTimeField(allow_null=True)
    precision = serializers.CharField(help_text="minute, day, week or month")
    recorded_at = serializers.DateTimeField(
        help_text="When it was known (the knowledge cutoff compares with this): for an ACLED row, ACLED's timestamp"
    )
    entered_at = serializers.DateTimeField(help_text="When the report entered the monitor (an import's instant)")
    value = serializers.FloatField(allow_null=True)
    country = serializers.CharField()
    admin1 = serializers.CharField()
    location = serializers.CharField()
    actor1 = serializers.CharField()
    actor2 = serializers.CharField()
    # What a dataset says of its own row (ACLED: docs/importing.md); empty or null for a hand-entered report.
    interaction = serializers.CharField(help_text="ACLED's interaction code, e.g. 12; empty if none")
    fatalities = serializers.IntegerField(allow_null=True)
    original_source = serializers.CharField(help_text="The dataset's own source of the row (ACLED's `source`)")
    source_scale = serializers.CharField(help_text="ACLED's `source_scale`")
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    geo_precision = serializers.IntegerField(allow_null=True, help_text="ACLED's geo_precision: 1, 2 or 3")
    source = SourceSerializer()
    source_ref = serializers.CharField()
    url = serializers.CharField()
    credibility = serializers.IntegerField(help_text="Admiralty 1–6")
    grade = serializers.CharField(help_text="Reliability and credibility, e.g. B2")
    credibility_graded = serializers.BooleanField(
        help_text="False: the credibility is the dataset's default (an imported ACLED row), not an analyst's grade"
    )
    verification = serializers.CharField(help_text="claimed, verified, disputed or rejected (now)")
    visibility = serializers.CharField(required=False, help_text="Staff only")
    commitment = serializers.CharField(allow_null=True, help_text="agreement-slug/key, if linked by hand")
    event = serializers.IntegerField(allow_null=True, source="event_id", help_text="Reports of one event share it")
    attachments = AttachmentSerializer(many=True, help_text="Files kept with the report (issue 14)")
    terms_revision = serializers.CharField(
        allow_null=True,
        help_text="The revision of the terms of its commitment's agreement the answer speaks under (as known at "
                  "known_at for a commitment's reports); null for a report linked to no commitment",
    )
    method_version = serializers.CharField(help_text="The version of the judging rules (docs/api.md)")


class StatusChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agreement = serializers.SlugField()
    commitment = serializers.SlugField()
    kind = serializers.CharField(help_text="computed, assessed or correction")
    old_status = serializers.CharField()
    new_status = serializers.CharField()
    effective_at = serializers.DateTimeField()
    detected_at = serializers.DateTimeField()
    reason = ReasonSerializer()
    sentence = serializers.CharField(allow_null=True)
    evidence = serializers.ListField(child=serializers.IntegerField())
    terms_revision = serializers.CharField(
        help_text="The revision of the agreement's terms in force when the change was detected"
    )
    method_version = serializers.CharField(help_text="The version of the judging rules (docs/api.md)")


@extend_schema_field(OpenApiTypes.STR)
class CommitmentRefField(serializers.Field):
    """A commitment named as "agreement-slug/key", the way people and the agreement files name it."""

    default_error_messages = {
        "invalid": _("Name the commitment as agreement-slug/key."),
        "missing": _("No commitment {value}."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or data.count("/") != 1:
            self.fail("invalid")
        slug, key = data.split("/")
        try:
            return Commitment.objects.get(agreement__slug=slug, key=key)
        except Commitment.DoesNotExist:
            self.fail("missing", value=data)

    def to_representation(self, value):
        return f"{value.agreement.slug}/{value.key}"


# Fields of a posted report the server decides and ignores if sent: what the report's resource shows.
SERVER_DECIDES = ("id", "recorded_at", "entered_at", "verification", "grade")


def _problems_by_field(problems):
    out = {}
    for problem in problems:
        out.setdefault(problem.column or "non_field_errors", []).append(problem.reason[:1].upper() + problem.reason[1:])
    return out


class ReportCreateSerializer(serializers.ModelSerializer):
    """A monitor's report. Validated by the model's own rules (full_clean), as the importer validates.

    What the server decides, never the client: when the report was recorded (now;
    a back-dated `recorded_at` would rewrite what was "known at" a past date), who
    entered it, and its verification state (claimed until an analyst checks it).
    """

    source = serializers.SlugRelatedField(slug_field="name", queryset=Source.objects.all())
    commitment = CommitmentRefField(required=False, allow_null=True)

    class Meta:
        model = Report
        fields = (
            "id",
            "summary",
            "original_text",
            "original_language",
            "translation",
            "category",
            "sub_category",
            "stance",
            "occurred_at",
            "occurred_until",
            "precision",
            "value",
            "country",
            "admin1",
            "location",
            "actor1",
            "actor2",
            "fatalities",
            "source",
            "source_ref",
            "url",
            "credibility",
            "visibility",
            "commitment",
            # As in the native format (docs/report-format.md): whether the credibility is a dataset's default,
            # and what an event dataset says of its own row.
            "credibility_graded",
            "interaction",
            "original_source",
            "source_scale",
            "latitude",
            "longitude",
            "geo_precision",
            "recorded_at",
            "entered_at",
            "verification",
        )
        read_only_fields = ("id", "recorded_at", "entered_at", "verification")
        # Validation is the importer's (to_internal_value), not DRF's field by field.
        validators = []

    def to_internal_value(self, data):
        """The importer's own validation of one row of the native format (docs/report-format.md).

        One rule set for every way a report arrives: a date without a time is the start of that
        day in the agreements' zone, "5 March 2020" is a date, `source_ref` is required (a client's
        retry then finds its report already recorded instead of making a second one), places are
        respelled as the monitor spells them. The fields declared above describe the body in the
        OpenAPI schema and the response.
        """
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("The body must be one report object.")]})
        cells = {k: v for k, v in data.items() if k not in SERVER_DECIDES}
        errors = {}
        for key in cells:
            if key not in native.COLUMNS:
                errors[key] = [_("Unknown field.")]
            elif cells[key] is not None and key != "credibility_graded" and (
                    isinstance(cells[key], bool) or not isinstance(cells[key], (str, int, float))):
                errors[key] = [_("Must be text or a number.")]
        for key in native.REQUIRED + ("source",):
            if key not in cells:
                errors[key] = [_("This field is required.")]
        if errors:
            raise serializers.ValidationError(errors)

        lookups = Lookups.load()
        reader = native.NativeReader(
            lookups=lookups, source_id=None, tz=ZoneInfo(default_time_zone()), attribution=Attribution(lookups),
            json=True,
        )
        _line, values, problems = reader.row(None, cells)
        if problems:
            raise serializers.ValidationError(_problems_by_field(problems))

        # The server's to say: a back-dated one would rewrite what was known when. The reader has already held
        # the dates to a report's bounds (monitor.evidence.models.report_date_problems), as for a file.
        values["recorded_at"] = values["entered_at"] = reader.now
        if Report.objects.filter(source_id=values["source_id"], source_ref=values["source_ref"]).exists():
            raise serializers.ValidationError(
                {"source_ref": [_("This source already gave a report with this id: it is already recorded.")]}
            )
        try:
            Report(**values).full_clean()
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.message_dict) from None
        return values
