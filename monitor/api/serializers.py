"""Serializers of the read API and of the one write: a monitor posting a report.

Read serializers are declared field by field (rather than from models) so that
the OpenAPI schema and docs/api.md describe exactly what is sent, and so that no
field reaches the public by accident: what may be seen was already decided by
`monitor.evidence.publication` before anything is serialized here.
"""

import math

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitor.evidence.models import Report, Source
from terms.models import Commitment


class PartySerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class AgreementSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    summary = serializers.CharField()
    state = serializers.CharField(help_text="draft, in_force, suspended or terminated")
    signed_on = serializers.DateField(allow_null=True)
    time_zone = serializers.CharField(help_text="IANA zone the agreement's days are counted in")
    source = serializers.CharField(help_text="Where the terms come from, in words")
    publish_computed_verdicts = serializers.BooleanField(
        help_text="If false, a verdict is published only once an analyst's assessment covers it"
    )
    parties = PartySerializer(many=True)
    page = serializers.URLField(help_text="The public page")
    commitments = serializers.URLField(help_text="This agreement's commitments with their verdicts")


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable reason code (monitor/verdicts/reasons.py)")
    params = serializers.DictField(help_text="The code's parameters; dates are local YYYY-MM-DD")


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
    page = serializers.URLField()
    verdict = VerdictSerializer()
    assessment = AssessmentSerializer(allow_null=True)


class CommitmentDetailSerializer(CommitmentSerializer):
    text = serializers.CharField(help_text="The agreement's words")
    basis = serializers.CharField(help_text="official_text, reported or inferred")
    basis_source = serializers.CharField()
    basis_note = serializers.CharField()
    competing_accounts = serializers.ListField(child=serializers.DictField())
    rule = serializers.DictField(help_text="The rule as in the agreement file")
    window = serializers.DictField(help_text="Offsets from the anchor day")
    reports = serializers.URLField(help_text="The reports that speak to it, paginated")


class CommitmentListSerializer(serializers.Serializer):
    agreement = serializers.SlugField()
    as_of = serializers.DateTimeField()
    known_at = serializers.DateTimeField()
    commitments = CommitmentSerializer(many=True)


class SourceSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    reliability = serializers.CharField(help_text="Admiralty A–F")


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    summary = serializers.CharField()
    category = serializers.CharField()
    sub_category = serializers.CharField()
    stance = serializers.CharField(help_text="affirms or denies")
    occurred_at = serializers.DateTimeField()
    occurred_until = serializers.DateTimeField(allow_null=True)
    precision = serializers.CharField(help_text="minute, day, week or month")
    recorded_at = serializers.DateTimeField(help_text="When the monitor learned of it")
    value = serializers.FloatField(allow_null=True)
    country = serializers.CharField()
    admin1 = serializers.CharField()
    location = serializers.CharField()
    actor1 = serializers.CharField()
    actor2 = serializers.CharField()
    fatalities = serializers.IntegerField(allow_null=True)
    source = SourceSerializer()
    source_ref = serializers.CharField()
    url = serializers.CharField()
    credibility = serializers.IntegerField(help_text="Admiralty 1–6")
    grade = serializers.CharField(help_text="Reliability and credibility, e.g. B2")
    verification = serializers.CharField(help_text="claimed, verified, disputed or rejected (now)")
    visibility = serializers.CharField(required=False, help_text="Staff only")
    commitment = serializers.CharField(allow_null=True, help_text="agreement-slug/key, if linked by hand")
    event = serializers.IntegerField(allow_null=True, source="event_id", help_text="Reports of one event share it")


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
            "recorded_at",
            "verification",
        )
        read_only_fields = ("id", "recorded_at", "verification")
        # The model's conditional unique constraint (source, source_ref) is checked by full_clean below,
        # with the model's own message, rather than by a DRF validator that ignores the condition.
        validators = []

    def validate_value(self, value):
        # As the importer: NaN or infinity would pass the model's FloatField and poison every chart.
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError(_("Must be a finite number."))
        return value

    def validate(self, attrs):
        now = timezone.now()
        # The two database constraints, checked first to answer in the importer's words rather than
        # Django's "Constraint … is violated"; full_clean below still enforces them.
        if attrs.get("occurred_until") and attrs["occurred_until"] < attrs["occurred_at"]:
            raise serializers.ValidationError({"occurred_until": [_("Is before occurred_at.")]})
        same_id = Report.objects.filter(source=attrs["source"], source_ref=attrs.get("source_ref"))
        if attrs.get("source_ref") and same_id.exists():
            raise serializers.ValidationError(
                {"source_ref": [_("This source already gave a report with this id: it is already recorded.")]}
            )
        report = Report(**attrs, recorded_at=now)
        try:
            report.full_clean()
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.message_dict) from None
        if attrs["occurred_at"] > now:
            raise serializers.ValidationError({"occurred_at": [_("A report cannot describe an event in the future.")]})
        attrs["recorded_at"] = now
        return attrs
