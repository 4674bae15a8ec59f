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

import os
import re
from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed_offset

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import ProtectedError
from django.db.models.functions import Now
from django.db.models.signals import pre_delete
from django.dispatch import receiver
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

# How a report was verified (issue 14): asked of whoever verifies, recorded on the VerificationChange and
# shown with the verification ("Verified (two independent sources) on 3 March 2020"). docs/architecture.md.
TWO_SOURCES = "two_sources"
SITE_VISIT = "site_visit"
OFFICIAL_RECORD = "official_record"
IMAGERY = "imagery"
OTHER_METHOD = "other"
VERIFICATION_METHODS = (
    (TWO_SOURCES, _("two independent sources")),
    (SITE_VISIT, _("site visit")),
    (OFFICIAL_RECORD, _("official record")),
    (IMAGERY, _("imagery")),
    (OTHER_METHOD, _("other (described)")),
)

# A report's summary may be a translation of its original-language text: by whom it was translated.
HUMAN_TRANSLATION = "human"
MACHINE_TRANSLATION = "machine"
TRANSLATIONS = (
    (HUMAN_TRANSLATION, _("Translated by a person")),
    (MACHINE_TRANSLATION, _("Machine-translated")),
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


def verification_method_problems(state, method, note=""):
    """{field: reason} when a change to `state` lacks the method it needs, or names one not in the list.

    Verifying asks how (VERIFICATION_METHODS); "other" asks for the method in words. Other states take no
    method. Reasons follow the field's name, as report_date_problems's do.
    """
    problems = {}
    methods = dict(VERIFICATION_METHODS)
    if state != VERIFIED:
        if method:
            problems["method"] = "is given only when verifying"
        return problems
    if not method:
        problems["method"] = "is required to verify: say how the report was verified (" + ", ".join(
            str(label) for label in methods.values()) + ")"
    elif method not in methods:
        problems["method"] = f"“{method}” is not one of: " + ", ".join(methods)
    elif method == OTHER_METHOD and not (note or "").strip():
        problems["method_note"] = "is required when the method is “other”: describe how it was verified"
    return problems


# BCP 47 language tags, by their syntax (RFC 5646, "langtag" without the rare extensions and grandfathered
# forms): a 2-3 letter language, optional extlang, script (4 letters), region (2 letters or 3 digits) and
# variants. The registry itself is not consulted: the tag is kept as given, checked for shape.
_BCP47 = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)


def validate_language_tag(value):
    if value and not _BCP47.match(value):
        raise ValidationError(
            _("“%(value)s” is not a BCP 47 language tag (such as ps, fa-AF, prs, ar, en)."),
            code="invalid_language", params={"value": value},
        )


class Source(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=SOURCE_KINDS, default=OTHER)
    reliability = models.CharField(_("reliability"), max_length=1, choices=RELIABILITY, default="F")
    url = models.URLField(_("website"), blank=True)
    declared_coverage = models.TextField(
        _("declared coverage"), blank=True, help_text=_("In words; the days and places are in coverage periods.")
    )
    # The categories this source reports (its own names or the monitor's): a rule whose categories no source
    # declares and no report has ever carried is "no source reports this", never "in compliance"
    # (docs/architecture.md, "Verdicts that claim no more than the evidence"). Empty: declares none.
    categories = models.JSONField(
        _("categories it reports"),
        default=list,
        blank=True,
        help_text=_("A list of category names, e.g. [\"Battles\", \"prisoner release\"]."),
    )
    licence = models.CharField(_("licence"), max_length=300, blank=True)
    may_republish = models.BooleanField(
        _("raw rows may be republished"),
        default=True,
        help_text=_("Off for sources such as ACLED: their counts may be shown, their rows may not."),
    )
    # A dataset whose coverage is what was imported from it: each successful import of an export appends a
    # coverage period from its first to its last event day (docs/importing.md, *Coverage: zero or no data*).
    # "No row here means zero events" is then said only of days we hold the export of, and as known from
    # the import's instant: never of the years before the first import, nor after the last file's last day.
    coverage_from_imports = models.BooleanField(
        _("each import declares its days covered"),
        default=False,
        help_text=_("On: each import of an ACLED export declares the days from its first to its last event "
                    "covered (zero events on a day with none). Off: only the coverage periods below do."),
    )
    coverage_country = models.CharField(
        _("country each import covers"),
        max_length=100,
        blank=True,
        help_text=_("The country (whole) the periods its imports append cover, e.g. Afghanistan."),
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
    def set_verification(self, state, *, by=None, at=None, reason="", method="", method_note=""):
        """Move every report in this set to `state`, in three queries whatever their number.

        Locks the rows, records one VerificationChange per report that actually
        changes, and returns (changed ids, ids skipped because `by` entered them
        and may not verify them). Reports already in `state` are left alone.
        """
        _check_method(state, method, method_note)
        at = at or timezone.now()
        with transaction.atomic():
            rows = list(self.select_for_update().order_by().values_list("id", "verification", "entered_by_id"))
            own = [pk for pk, old, entered_by in rows if _own_verification(state, by, entered_by)]
            moving = [(pk, old) for pk, old, entered_by in rows if old != state and pk not in own]
            VerificationChange.objects.bulk_create(
                VerificationChange(report_id=pk, old_state=old, new_state=state, changed_at=at, changed_by=by,
                                   reason=reason, method=method, method_note=method_note)
                for pk, old in moving
            )
            Report.objects.filter(pk__in=[pk for pk, _old in moving]).update(verification=state)
        return [pk for pk, _old in moving], own


def _check_method(state, method, method_note):
    # A method that is given must be one of the list (and "other" described). Verifying without one is refused
    # where people verify (the admin's action); callers of the model that predate the rule (the demo loader,
    # scripts) may still record a verification whose method is not known: it shows as plain "Verified".
    if method or state != VERIFIED:
        problems = verification_method_problems(state, method, method_note)
        if problems:
            raise ValidationError({f: reason[:1].upper() + reason[1:] + "." for f, reason in problems.items()})


def _own_verification(state, by, entered_by_id):
    return state == VERIFIED and by is not None and entered_by_id is not None and by.pk == entered_by_id


class Report(models.Model):
    summary = models.TextField(_("what happened"))
    # The words as the source wrote them, when `summary` is a translation of them (issue 14): kept beside it, so
    # a reader can check the translation, and the page says who translated ("Machine-translated from Pashto").
    # `db_default` on these new columns: rows written by SQL that names its columns (the importer's staging,
    # a COPY) get them empty, as rows written before them have.
    original_text = models.TextField(_("original text"), blank=True, default="", db_default="")
    original_language = models.CharField(
        _("original language"), max_length=35, blank=True, default="", db_default="", validators=[validate_language_tag],
        help_text=_("A BCP 47 tag: ps (Pashto), prs (Dari), fa, ar, en…"),
    )
    translation = models.CharField(
        _("summary translated"), max_length=10, choices=TRANSLATIONS, blank=True, default="", db_default="",
        help_text=_("Empty: the summary is in the source's own words."),
    )
    category = models.CharField(_("category"), max_length=100, db_index=True)
    # Indexed like `category`: a sweep reads the reports in its rules' categories, matched on either
    # (`inputs.evidence_for`), and without this index the sweep of one small agreement scanned every report.
    sub_category = models.CharField(_("sub-category"), max_length=100, blank=True, db_index=True)
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
    # The audit of an imported report (who, when, the kept file, the line): the import writes no history row
    # for it (docs/importing.md), so the job is never deleted: PROTECT, and ImportJob refuses deletion anyway.
    import_job = models.ForeignKey(
        "ImportJob", models.PROTECT, null=True, blank=True, related_name="reports", editable=False,
        verbose_name=_("import"),
    )
    import_file = models.CharField(_("imported from file"), max_length=255, blank=True, editable=False)
    import_line = models.PositiveIntegerField(_("line in that file"), null=True, blank=True, editable=False)

    objects = ReportQuerySet.as_manager()
    # The history table is read by report (its id index stays), never searched by these: without their
    # copies of the report's indexes every import writes its history rows about a sixth faster.
    history = HistoricalRecords(
        excluded_fields=["import_job"],
        no_db_index=["category", "sub_category", "occurred_at", "recorded_at", "commitment", "entered_by", "event",
                     "source"],
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
        # A sweep reads one agreement's reports by the actors and places its rules can count
        # (`inputs.names_read`): with these, PostgreSQL reads those (a bitmap of each), not every
        # conflict's, and a read costs what the agreement's own conflict holds. Plain btrees, without the
        # pattern-matching twin `db_index` adds: nothing searches these by prefix.
        indexes = [
            models.Index(fields=["actor1"], name="report_actor1"),
            models.Index(fields=["actor2"], name="report_actor2"),
            models.Index(fields=["admin1"], name="report_admin1"),
            models.Index(fields=["location"], name="report_location"),
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

    def save(self, *args, **kwargs):
        if not self._state.adding and self.import_job_id is not None:
            # An imported report has no history row until something changes it (its import job is its audit):
            # its version as imported goes into the history first, dated when it was imported, so what it said
            # then stays readable "as recorded" at any earlier cutoff (monitor/verdicts/recorded.py).
            from monitor.evidence.importing.bulk import record_first_versions

            record_first_versions([self.pk])
        super().save(*args, **kwargs)

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
        for field, reason in translation_problems(self.original_text, self.original_language,
                                                  self.translation).items():
            if field not in skip:
                errors.setdefault(field, []).append(ValidationError(reason[:1].upper() + reason[1:] + ".",
                                                                    code="translation"))
        if errors:
            raise ValidationError(errors)

    def set_verification(self, state, *, by=None, at=None, reason="", method="", method_note=""):
        """Change the verification state and record who changed it, when, why and (verifying) how.

        Locks the report row so that two analysts acting at once each record a
        change against the state they actually saw.
        """
        if _own_verification(state, by, self.entered_by_id):
            raise SelfVerification("A report cannot be verified by the person who entered it.")
        _check_method(state, method, method_note)
        at = at or timezone.now()
        with transaction.atomic():
            current = Report.objects.select_for_update().only("verification").get(pk=self.pk)
            VerificationChange.objects.create(
                report=self, old_state=current.verification, new_state=state, changed_at=at, changed_by=by, reason=reason,
                method=method, method_note=method_note,
            )
            Report.objects.filter(pk=self.pk).update(verification=state)
        self.verification = state


def translation_problems(original_text, original_language, translation):
    """{field: reason}: a translation needs the language it is from, and an original text needs its language."""
    problems = {}
    if (translation or original_text) and not original_language:
        problems["original_language"] = (
            "is required when the summary is a translation or an original text is given: the language it is from"
        )
    return problems


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
    # How it was verified (VERIFICATION_METHODS), for a change to "verified"; empty for other changes, and for
    # verifications recorded before the method was asked.
    # `db_default`: the importer's staging SQL writes changes naming its columns (importing/staging.py).
    method = models.CharField(_("method"), max_length=20, choices=VERIFICATION_METHODS, blank=True, default="", db_default="")
    method_note = models.TextField(_("method, in words"), blank=True, default="", db_default="")

    class Meta:
        ordering = ("report", "changed_at", "id")
        verbose_name = _("verification change")
        verbose_name_plural = _("verification changes")
        indexes = [models.Index(fields=("report", "changed_at"))]

    def __str__(self):
        return f"{self.old_state} → {self.new_state} at {self.changed_at:%Y-%m-%d %H:%M}"


# What an attachment is (issue 14); its file's type is read from its bytes (monitor/evidence/attachments.py).
DOCUMENT = "document"
SCREENSHOT = "screenshot"
WEB_CAPTURE = "web_capture"
ATTACHMENT_KINDS = (
    (DOCUMENT, _("Document")),
    (SCREENSHOT, _("Screenshot")),
    (WEB_CAPTURE, _("Capture of a web page")),
)


def attachment_path(instance, filename):
    # Under its digest, so two files never share a folder by chance; and the storage never overwrites a file
    # that exists (Django's FileSystemStorage picks a new name), so a stored attachment is never replaced.
    return f"attachments/{instance.stored_at:%Y/%m}/{instance.sha256[:16]}/{filename}"


class Attachment(models.Model):
    """A file kept as evidence with a report: a document, a screenshot, a capture of a web page.

    Append-only, like the verification history: once stored, its file, digest and times never change (a
    wrong file is left and another added; the report's visibility decides who may download it). The SHA-256
    is computed from the bytes as they are stored, so a reader who downloads the file can check it is the
    one the monitor kept. `captured_at` is when the capture was made, as the monitor says (a screenshot of a
    page taken the day the page said it); `stored_at` is when the monitor kept it, and what an "as known at"
    view compares.
    """

    report = models.ForeignKey(Report, models.PROTECT, related_name="attachments", verbose_name=_("report"))
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=400)
    original_name = models.CharField(_("file name"), max_length=255, editable=False)
    content_type = models.CharField(_("type"), max_length=100, editable=False)
    size = models.BigIntegerField(_("size in bytes"), editable=False)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=ATTACHMENT_KINDS, default=DOCUMENT)
    captured_at = models.DateTimeField(
        _("captured at"), default=timezone.now,
        help_text=_("When the capture was made (the screenshot taken, the page saved); by default, now."),
    )
    captured_url = models.URLField(_("captured from"), max_length=1000, blank=True,
                                   help_text=_("The address of the page captured, if any."))
    description = models.TextField(_("description"), blank=True)
    stored_at = models.DateTimeField(_("stored at"), default=timezone.now, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False,
        verbose_name=_("added by"),
    )

    class Meta:
        ordering = ("report", "stored_at", "id")
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.original_name or self.file.name

    def clean_fields(self, exclude=None):
        """The fields' checks, then the file's own (size, type by content) and the capture's time, by field."""
        errors = {}
        try:
            super().clean_fields(exclude)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        if "file" not in errors and "file" not in (exclude or ()) and self._new_file():
            try:
                self._check_file()
            except ValidationError as e:
                errors = e.update_error_dict(errors)
        if self.captured_at and self.captured_at > timezone.now() + timedelta(minutes=5):
            errors.setdefault("captured_at", []).append(
                ValidationError(_("Is in the future: a capture cannot be made before it is stored."), code="future"))
        elif self.captured_at and self.captured_at < REPORTS_FROM:
            errors.setdefault("captured_at", []).append(
                ValidationError(_("Is before 1 January 1900."), code="out_of_bounds"))
        if errors:
            raise ValidationError(errors)

    def _new_file(self):
        return bool(self.file) and not getattr(self.file, "_committed", True)

    def _check_file(self):
        from monitor.evidence import attachments

        name = os.path.basename(self.file.name or "")
        try:
            checked = attachments.check(self.file, name)
        except attachments.Refused as e:
            raise ValidationError({"file": ValidationError(
                _("%(name)s %(reason)s.") % {"name": name or _("The file"), "reason": e}, code="refused")}) from None
        self.original_name = name[:255]
        self.content_type, self.size, self.sha256 = checked.content_type, checked.size, checked.sha256

    def save(self, *args, **kwargs):
        if not self._state.adding:
            if self._new_file():
                raise ValidationError({"file": _("An attachment's file is never replaced: add another attachment.")})
        write = None
        if self._state.adding and self._new_file():
            # Checked here too, whoever saves (a script, a test): nothing reaches the storage unchecked, and the
            # digest is always of the bytes stored.
            self._check_file()
            write = self._write_on_commit()
        super().save(*args, **kwargs)
        if write is not None:
            transaction.on_commit(write, using=kwargs.get("using") or self._state.db)

    def _write_on_commit(self):
        """Name the file now and write its bytes only once the row is committed (issue 14: nothing written).

        Django's FileField writes the file before the row's INSERT, so a transaction rolled back afterwards (a
        later error in the same admin save, a script's atomic block) would leave a stored file no row names.
        Here the row is saved with the name the file will have, and the bytes follow on commit; on rollback the
        callback is dropped with the row, and nothing reaches the storage.
        """
        field, content = self._meta.get_field("file"), self.file.file
        storage = self.file.storage
        name = storage.get_available_name(field.generate_filename(self, os.path.basename(self.file.name)),
                                          max_length=field.max_length)
        self.file.name = name
        self.file._committed = True  # FileField.pre_save then stores nothing

        def write():
            try:
                stored = storage.save(name, content, max_length=field.max_length)
            except Exception:
                # The row is committed but its file could not be written (a full disk): an attachment without
                # its bytes is no evidence, so the row goes too, and the error is raised to whoever saved.
                type(self)._default_manager.filter(pk=self.pk).delete()
                raise
            if stored != name:  # another upload of the same bytes and name took it in the meantime
                type(self)._default_manager.filter(pk=self.pk).update(file=stored)
                self.file.name = stored

        return write


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
        raise ProtectedError(IMPORT_JOB_KEPT, {self})


# A job is the audit of the reports it wrote (who, when, the kept file, the line: docs/importing.md), and of
# every attempt, checked or failed: none is deleted, with its stored file and its problems.
IMPORT_JOB_KEPT = "An import is the record of what it wrote and who wrote it: it is never deleted."


@receiver(pre_delete, sender=ImportJob, dispatch_uid="evidence.import_job_kept")
def _keep_import_jobs(sender, instance, **kwargs):
    """A queryset's delete() does not call ImportJob.delete(): this refuses it too."""
    raise ProtectedError(IMPORT_JOB_KEPT, {instance})


class ReportName(models.Model):
    """Every actor, place and category name some report has carried, as reported: the database keeps the list.

    A sweep judges one agreement at a time, and its rules read the acts of its own parties, or of
    anyone in the places they name: rather than reading every report in the rules' categories (the
    reports of every conflict followed), it reads those whose actors or places fold to a name its
    rules read (`monitor.verdicts.inputs.names_read`). The folding is Python's (`normalize_name`), so
    it is done on the few distinct spellings, not in SQL on every report. Written by a PostgreSQL
    statement trigger on reports (evidence migration 0014), in the transaction of the write; never
    deleted (a spelling no report carries any more costs one row and filters nothing out). SQLite,
    the quick start, has no trigger and reads every report in the categories. The categories say
    which a narrowed read may not show were ever reported (`inputs.with_reported`).
    """

    ACTOR, PLACE, CATEGORY = "actor", "place", "category"
    kind = models.CharField(max_length=8, choices=((ACTOR, "actor"), (PLACE, "place"), (CATEGORY, "category")))
    name = models.CharField(max_length=300)

    class Meta:
        verbose_name = _("name in reports")
        constraints = [models.UniqueConstraint(fields=("kind", "name"), name="report_name_once")]
