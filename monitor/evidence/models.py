"""Evidence: sources, the reports they give us, and what we know of each report when.

Two instants matter for every report: when the thing happened (`occurred_at`,
with a precision) and when we learned of it (`recorded_at`, its knowledge time,
which every "as known at" view compares). A third is kept beside them: when the
row entered the monitor (`entered_at`). They differ for an imported dataset whose
rows carry their own time (ACLED's `timestamp`) and for a back-dated report;
otherwise they are the same instant. Verification is a
history, not a field: each change is a row, so a verdict "as known at" any past
instant sees the verification state as it stood then.
"""

from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed_offset

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from terms.rules import normalize_name

# Source kinds
MONITORING_MISSION = "monitoring_mission"
WIRE_SERVICE = "wire_service"
EVENT_DATASET = "event_dataset"
PARTY_STATEMENT = "party_statement"
MEDIA = "media"
OTHER = "other"
SOURCE_KINDS = (
    (MONITORING_MISSION, _("Monitoring mission")),
    (WIRE_SERVICE, _("Wire service")),
    (EVENT_DATASET, _("Event dataset")),
    (PARTY_STATEMENT, _("A party's own statement")),
    (MEDIA, _("News media")),
    (OTHER, _("Other")),
)

# Admiralty (NATO) source reliability
RELIABILITY = (
    ("A", _("A: completely reliable")),
    ("B", _("B: usually reliable")),
    ("C", _("C: fairly reliable")),
    ("D", _("D: not usually reliable")),
    ("E", _("E: unreliable")),
    ("F", _("F: reliability cannot be judged")),
)
# Admiralty information credibility
CREDIBILITY = (
    (1, _("1: confirmed by other sources")),
    (2, _("2: probably true")),
    (3, _("3: possibly true")),
    (4, _("4: doubtful")),
    (5, _("5: improbable")),
    (6, _("6: truth cannot be judged")),
)

# Verification states
CLAIMED = "claimed"
VERIFIED = "verified"
DISPUTED = "disputed"
REJECTED = "rejected"
VERIFICATION_STATES = (
    (CLAIMED, _("Claimed")),
    (VERIFIED, _("Verified")),
    (DISPUTED, _("Disputed")),
    (REJECTED, _("Rejected")),
)

# Visibility
PUBLIC = "public"
INTERNAL = "internal"
RESTRICTED = "restricted"
VISIBILITIES = (
    (PUBLIC, _("Public")),
    (INTERNAL, _("Internal: staff only")),
    (RESTRICTED, _("Restricted: analysts only")),
)

# Date precision (ACLED's time_precision 1-3, plus exact times)
PRECISION_MINUTE = "minute"
PRECISION_DAY = "day"
PRECISION_WEEK = "week"
PRECISION_MONTH = "month"
PRECISIONS = (
    (PRECISION_MINUTE, _("Exact time")),
    (PRECISION_DAY, _("Day")),
    (PRECISION_WEEK, _("Within a week")),
    (PRECISION_MONTH, _("Within a month")),
)

# How precisely an event dataset places an event (ACLED's geo_precision).
GEO_PRECISIONS = (
    (1, _("1: the place itself")),
    (2, _("2: near the place, or a part of a region")),
    (3, _("3: the region's capital, for a larger area")),
)

# What a report says about the event it describes.
AFFIRMS = "affirms"
DENIES = "denies"
STANCES = (
    (AFFIRMS, _("Reports that it happened")),
    (DENIES, _("Reports that it did not happen")),
)


# How a report arrived (the audit trail keeps who and when; this keeps the path).
ARRIVED_ADMIN = "admin"
ARRIVED_IMPORT = "import"
ARRIVED_API = "api"
ARRIVED_OTHER = "other"
ARRIVALS = (
    (ARRIVED_ADMIN, _("Entered in the admin")),
    (ARRIVED_IMPORT, _("Imported from a file")),
    (ARRIVED_API, _("Sent through the API")),
    (ARRIVED_OTHER, _("Other (a script or a loader)")),
)


# The bounds of a report's dates: one rule for the importers, the API and the admin (report_date_problems).
# Earliest: the first instant of 1 January 1900 anywhere on Earth (UTC+14), so that the day written
# "1900-01-01" in any zone is in. Long before any agreement this monitor tracks or any event dataset
# (ACLED starts in 1997), and it keeps every chart and count spanning a report's dates to a few tens of
# thousands of days: a date such as 0001-01-01 is a typing error, and it overflowed a public page's chart.
REPORTS_FROM = datetime(1900, 1, 1, tzinfo=fixed_offset(timedelta(hours=14)))
# Latest for when something happened (or a period ended): now plus a day. A report cannot describe what has
# not happened yet, but a source's day may begin before ours (a date in a zone east of the import's starts up
# to a day early in ours) and a source's clock may run ahead; a day allows for both, and no more.
# When the monitor learned of a report (`recorded_at`) is never in the future: no allowance.
OCCURRED_ALLOWANCE = timedelta(days=1)
OCCURRED_FIELDS = ("occurred_at", "occurred_until")
DATE_FIELDS = (*OCCURRED_FIELDS, "recorded_at")


def report_date_problems(*, now=None, **dates):
    """{field: reason} for each of a report's dates (occurred_at, occurred_until, recorded_at) out of bounds.

    Dates are aware datetimes in any zone (None is skipped). Reasons start lower-case, to follow a
    field's name: "occurred_at is before 1 January 1900: …"; the admin and the API capitalise them.
    """
    now = now or timezone.now()
    problems = {}
    for field, value in dates.items():
        if field not in DATE_FIELDS:
            raise TypeError(f"not a date of a report: {field}")
        if value is None:
            continue
        latest = now + OCCURRED_ALLOWANCE if field in OCCURRED_FIELDS else now
        if value < REPORTS_FROM:
            problems[field] = "is before 1 January 1900: no report may be dated earlier"
        elif value > latest:
            problems[field] = (
                f"is in the future (after {latest.astimezone(UTC):%Y-%m-%d %H:%M} UTC): a report cannot describe "
                "what has not happened yet" if field in OCCURRED_FIELDS
                else "is in the future: a report cannot be known before it is recorded"
            )
    return problems


class Source(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=SOURCE_KINDS, default=OTHER)
    reliability = models.CharField(_("reliability"), max_length=1, choices=RELIABILITY, default="F")
    url = models.URLField(_("website"), blank=True)
    declared_coverage = models.TextField(
        _("declared coverage"), blank=True, help_text=_("In words; the days and places are in coverage periods.")
    )
    licence = models.CharField(_("licence"), max_length=300, blank=True)
    may_republish = models.BooleanField(
        _("raw rows may be republished"),
        default=True,
        help_text=_("Off for sources such as ACLED: their counts may be shown, their rows may not."),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self):
        return self.name


class Coverage(models.Model):
    """A period and place a source declares it covers: no report from it there means zero events."""

    source = models.ForeignKey(Source, models.CASCADE, related_name="coverage")
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True, help_text=_("Empty: up to now."))
    country = models.CharField(_("country"), max_length=100, blank=True)
    admin1 = models.CharField(_("province"), max_length=200, blank=True, help_text=_("Empty: the whole country."))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        ordering = ("source", "starts_on")
        verbose_name = _("coverage period")
        verbose_name_plural = _("coverage periods")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="coverage_ends_after_start",
            )
        ]

    def __str__(self):
        return f"{self.source}: {self.starts_on} – {self.ends_on or '…'} {self.admin1 or self.country}"


class EventGroup(models.Model):
    """Reports that describe the same event. Counts count events, not reports."""

    label = models.CharField(_("label"), max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self):
        return self.label or f"Event {self.pk}"


class SelfVerification(PermissionDenied):
    """Four eyes: whoever entered a report may not be the one who verifies it."""


class ReportQuerySet(models.QuerySet):
    def set_verification(self, state, *, by=None, at=None, reason=""):
        """Move every report in this set to `state`, in three queries whatever their number.

        Locks the rows, records one VerificationChange per report that actually
        changes, and returns (changed ids, ids skipped because `by` entered them
        and may not verify them). Reports already in `state` are left alone.
        """
        at = at or timezone.now()
        with transaction.atomic():
            rows = list(self.select_for_update().order_by().values_list("id", "verification", "entered_by_id"))
            own = [pk for pk, old, entered_by in rows if _own_verification(state, by, entered_by)]
            moving = [(pk, old) for pk, old, entered_by in rows if old != state and pk not in own]
            VerificationChange.objects.bulk_create(
                VerificationChange(report_id=pk, old_state=old, new_state=state, changed_at=at, changed_by=by,
                                   reason=reason)
                for pk, old in moving
            )
            Report.objects.filter(pk__in=[pk for pk, _old in moving]).update(verification=state)
        return [pk for pk, _old in moving], own


def _own_verification(state, by, entered_by_id):
    return state == VERIFIED and by is not None and entered_by_id is not None and by.pk == entered_by_id


class Report(models.Model):
    summary = models.TextField(_("what happened"))
    category = models.CharField(_("category"), max_length=100, db_index=True)
    sub_category = models.CharField(_("sub-category"), max_length=100, blank=True)
    stance = models.CharField(_("stance"), max_length=10, choices=STANCES, default=AFFIRMS)

    occurred_at = models.DateTimeField(_("happened at"), db_index=True)
    occurred_until = models.DateTimeField(
        _("happened until"), null=True, blank=True, help_text=_("For a period; empty for a single instant or day.")
    )
    precision = models.CharField(_("precision"), max_length=10, choices=PRECISIONS, default=PRECISION_DAY)
    recorded_at = models.DateTimeField(
        _("recorded at"), default=timezone.now, db_index=True,
        help_text=_("When it was known: what every view “as known at” a date compares."),
    )
    # When the row entered the monitor, whatever its knowledge time says: an ACLED row known since 2020 and
    # imported in 2026 is recorded_at 2020 and entered_at 2026. Never set from a file, never changed.
    # `db_default` too: a row written by SQL alone (a COPY, a bulk load) is entered when it lands.
    entered_at = models.DateTimeField(_("entered at"), default=timezone.now, db_default=Now(), editable=False)

    value = models.FloatField(_("measured value"), null=True, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    admin1 = models.CharField(_("province"), max_length=200, blank=True)
    location = models.CharField(_("place"), max_length=200, blank=True)
    # ACLED's actors say who was involved, not who attacked whom: rules read both unless they say `actors: actor1`.
    actor1 = models.CharField(
        _("actor 1"), max_length=300, blank=True,
        help_text=_("Entered by hand, the acting side. In an ACLED row, either actor may be the one that acted."),
    )
    actor2 = models.CharField(_("actor 2"), max_length=300, blank=True)
    fatalities = models.PositiveIntegerField(_("fatalities"), null=True, blank=True)
    # What an event dataset says of its own row (ACLED's codebook: docs/importing.md, "What is kept"). Kept as
    # the dataset gives them; `interaction` is read by rules (terms/rules.py, `interactions`), the others are shown.
    # `db_default`s, as `entered_at`'s: a row written by SQL alone (a COPY, a bulk load) needs no value for them.
    interaction = models.CharField(
        _("interaction"), max_length=100, blank=True, default="", db_default="",
        help_text=_("ACLED's interaction code: the types of both actors, e.g. 17 (state forces and civilians)."),
    )
    original_source = models.TextField(
        _("original sources"), blank=True, default="", db_default="", help_text=_("Who the dataset drew the event from (ACLED's “source”)."),
    )
    source_scale = models.CharField(_("source scale"), max_length=100, blank=True, default="", db_default="")
    latitude = models.FloatField(
        _("latitude"), null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("longitude"), null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    geo_precision = models.PositiveSmallIntegerField(
        _("location precision"), choices=GEO_PRECISIONS, null=True, blank=True,
    )

    source = models.ForeignKey(Source, models.PROTECT, related_name="reports", verbose_name=_("source"))
    source_ref = models.CharField(_("source's own id"), max_length=100, blank=True)
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    credibility = models.PositiveSmallIntegerField(
        _("credibility"), choices=CREDIBILITY, default=6, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    # Off for a dataset's rows until someone grades them: their credibility is the importer's default for the
    # dataset (docs/importing.md, "Grades"), counted as any other but never shown as an analyst's judgement.
    credibility_graded = models.BooleanField(
        _("credibility graded"), default=True, db_default=True,
        help_text=_("Off: the credibility is the dataset's default, not an analyst's grade."),
    )
    # The current state; its history (who, when, why) is in VerificationChange.
    verification = models.CharField(
        _("verification"), max_length=10, choices=VERIFICATION_STATES, default=CLAIMED, editable=False
    )
    visibility = models.CharField(_("visibility"), max_length=10, choices=VISIBILITIES, default=PUBLIC)
    # PROTECT, as `event` below: deleting what a report hangs on would rewrite the report without a trace in
    # its history (a cascade's SET NULL writes none), and so what a cited past view counts.
    commitment = models.ForeignKey(
        "terms.Commitment",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="linked_reports",
        verbose_name=_("linked commitment"),
        help_text=_("A hand-made link: the report counts for this commitment whatever its category."),
    )
    event = models.ForeignKey(
        EventGroup, models.PROTECT, null=True, blank=True, related_name="reports", verbose_name=_("event")
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    arrived_via = models.CharField(
        _("arrived via"), max_length=10, choices=ARRIVALS, default=ARRIVED_OTHER, editable=False
    )
    # The import that last wrote this row, and where in its file the row was (history keeps the earlier ones).
    import_job = models.ForeignKey(
        "ImportJob", models.SET_NULL, null=True, blank=True, related_name="reports", editable=False,
        verbose_name=_("import"),
    )
    import_file = models.CharField(_("imported from file"), max_length=255, blank=True, editable=False)
    import_line = models.PositiveIntegerField(_("line in that file"), null=True, blank=True, editable=False)

    objects = ReportQuerySet.as_manager()
    # The history table is read by report (its id index stays), never searched by these: without their
    # copies of the report's indexes every import writes its history rows about a sixth faster.
    history = HistoricalRecords(
        excluded_fields=["import_job"],
        no_db_index=["category", "occurred_at", "recorded_at", "commitment", "entered_by", "event", "source"],
    )

    class Meta:
        ordering = ("-occurred_at", "-id")
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        permissions = [
            ("verify_report", _("Can verify, dispute or reject reports")),
            ("view_restricted_report", _("Can see restricted reports")),
            # Setting `recorded_at` (in an imported file) rewrites what was "known at" a past date.
            ("backdate_report", _("Can set when a report was recorded (back-date it)")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("source", "source_ref"),
                condition=~models.Q(source_ref=""),
                name="report_source_ref_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(occurred_until__isnull=True) | models.Q(occurred_until__gte=models.F("occurred_at")),
                name="report_period_ends_after_start",
            ),
        ]

    def __str__(self):
        return self.summary[:80]

    @property
    def grade(self):
        return f"{self.source.reliability}{self.credibility}"

    @property
    def credibility_shown(self):
        """The credibility as readers see it: an ungraded dataset row's says it is the dataset's default."""
        label = self.get_credibility_display()
        return label if self.credibility_graded else _("%(label)s (dataset default)") % {"label": label}

    def clean_fields(self, exclude=None):
        """The fields' own checks, then the bounds of the dates (report_date_problems) the form or caller holds."""
        errors = {}
        try:
            super().clean_fields(exclude)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        skip = set(exclude or ()) | set(errors)
        problems = report_date_problems(**{f: getattr(self, f) for f in DATE_FIELDS if f not in skip})
        for field, reason in problems.items():
            errors[field] = [ValidationError(reason[:1].upper() + reason[1:] + ".", code="out_of_bounds")]
        if errors:
            raise ValidationError(errors)

    def set_verification(self, state, *, by=None, at=None, reason=""):
        """Change the verification state and record who changed it, when and why.

        Locks the report row so that two analysts acting at once each record a
        change against the state they actually saw.
        """
        if _own_verification(state, by, self.entered_by_id):
            raise SelfVerification("A report cannot be verified by the person who entered it.")
        at = at or timezone.now()
        with transaction.atomic():
            current = Report.objects.select_for_update().only("verification").get(pk=self.pk)
            VerificationChange.objects.create(
                report=self, old_state=current.verification, new_state=state, changed_at=at, changed_by=by, reason=reason
            )
            Report.objects.filter(pk=self.pk).update(verification=state)
        self.verification = state


class VerificationChange(models.Model):
    """Append-only: one row each time a report's verification state changes.

    A report with no row is "claimed" from the instant it was recorded.
    """

    report = models.ForeignKey(Report, models.CASCADE, related_name="verification_changes")
    old_state = models.CharField(max_length=10, choices=VERIFICATION_STATES)
    new_state = models.CharField(max_length=10, choices=VERIFICATION_STATES)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ("report", "changed_at", "id")
        verbose_name = _("verification change")
        verbose_name_plural = _("verification changes")
        indexes = [models.Index(fields=("report", "changed_at"))]

    def __str__(self):
        return f"{self.old_state} → {self.new_state} at {self.changed_at:%Y-%m-%d %H:%M}"


class PlaceName(models.Model):
    """A spelling of a place and the spelling the monitor uses for it ("Mazar-e Sharif" → "Mazar-i-Sharif").

    Imports store the monitor's spelling, so rules that name places and counts
    by place agree whatever spelling a source used. Matching folds case, accents,
    punctuation and spacing, like party names.
    """

    name = models.CharField(_("spelling"), max_length=200)
    normalized = models.CharField(max_length=200, unique=True, editable=False)
    place = models.CharField(_("the monitor's spelling"), max_length=200)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ("place", "name")
        verbose_name = _("place name")
        verbose_name_plural = _("place names")

    def __str__(self):
        return f"{self.name} → {self.place}"

    def save(self, *args, **kwargs):
        self.normalized = normalize_name(self.name)
        super().save(*args, **kwargs)


# Import formats
ACLED = "acled"
NATIVE = "native"
IMPORT_FORMATS = (
    (ACLED, _("ACLED export (CSV)")),
    (NATIVE, _("The monitor's report format (CSV or JSON)")),
)

# Import states
UPLOADED = "uploaded"
CHECKING = "checking"
CHECKED = "checked"
IMPORTING = "importing"
DONE = "done"
FAILED = "failed"
IMPORT_STATES = (
    (UPLOADED, _("Uploaded")),
    (CHECKING, _("Checking")),
    (CHECKED, _("Checked: waiting for confirmation")),
    (IMPORTING, _("Importing")),
    (DONE, _("Imported")),
    (FAILED, _("Failed: nothing imported")),
)


class ImportJob(models.Model):
    """One file of reports on its way in: uploaded, checked (a dry run), confirmed, imported.

    The counts and the first problems are kept so the preview and the result
    can be shown again; every problem is in `problems_file` (uploads) or was
    printed (the command).
    """

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(_("size in bytes"), default=0)
    format = models.CharField(_("format"), max_length=10, choices=IMPORT_FORMATS)
    source = models.ForeignKey(
        Source, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("source"),
        help_text=_("Where the rows come from; for the report format, rows may name their own source."),
    )
    time_zone = models.CharField(
        _("time zone of the dates"), max_length=64, default="UTC",
        help_text=_("A date without a time is taken as the start of that day in this zone."),
    )
    skip_invalid = models.BooleanField(_("skip bad rows"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=IMPORT_STATES, default=UPLOADED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    rows = models.PositiveIntegerField(_("rows"), default=0)
    rows_invalid = models.PositiveIntegerField(_("bad rows"), default=0)
    rows_created = models.PositiveIntegerField(_("new"), default=0)
    rows_updated = models.PositiveIntegerField(_("updated"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    problem_count = models.PositiveIntegerField(_("problems"), default=0)
    problems = models.JSONField(_("first problems"), default=list, blank=True)
    problems_file = models.FileField(_("all problems (CSV)"), upload_to="imports/%Y/%m/", blank=True, max_length=300)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self):
        return f"{self.file_name} ({self.get_format_display()}, {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def running(self):
        return self.state in (UPLOADED, CHECKING, IMPORTING)

    def delete(self, *args, **kwargs):
        # The stored upload and its problem list go with the job; the reports it wrote stay.
        for f in (self.file, self.problems_file):
            if f:
                f.delete(save=False)
        return super().delete(*args, **kwargs)
