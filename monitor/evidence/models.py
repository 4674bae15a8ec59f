"""Evidence: sources, the reports they give us, and what we know of each report when.

Two instants matter for every report: when the thing happened (`occurred_at`,
with a precision) and when we learned of it (`recorded_at`). Verification is a
history, not a field: each change is a row, so a verdict "as known at" any past
instant sees the verification state as it stood then.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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

# What a report says about the event it describes.
AFFIRMS = "affirms"
DENIES = "denies"
STANCES = (
    (AFFIRMS, _("Reports that it happened")),
    (DENIES, _("Reports that it did not happen")),
)


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
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)

    value = models.FloatField(_("measured value"), null=True, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    admin1 = models.CharField(_("province"), max_length=200, blank=True)
    location = models.CharField(_("place"), max_length=200, blank=True)
    actor1 = models.CharField(_("acting side"), max_length=300, blank=True)
    actor2 = models.CharField(_("other side"), max_length=300, blank=True)
    fatalities = models.PositiveIntegerField(_("fatalities"), null=True, blank=True)

    source = models.ForeignKey(Source, models.PROTECT, related_name="reports", verbose_name=_("source"))
    source_ref = models.CharField(_("source's own id"), max_length=100, blank=True)
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    credibility = models.PositiveSmallIntegerField(
        _("credibility"), choices=CREDIBILITY, default=6, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    # The current state; its history (who, when, why) is in VerificationChange.
    verification = models.CharField(
        _("verification"), max_length=10, choices=VERIFICATION_STATES, default=CLAIMED, editable=False
    )
    visibility = models.CharField(_("visibility"), max_length=10, choices=VISIBILITIES, default=PUBLIC)
    commitment = models.ForeignKey(
        "terms.Commitment",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="linked_reports",
        verbose_name=_("linked commitment"),
        help_text=_("A hand-made link: the report counts for this commitment whatever its category."),
    )
    event = models.ForeignKey(
        EventGroup, models.SET_NULL, null=True, blank=True, related_name="reports", verbose_name=_("event")
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ("-occurred_at", "-id")
        verbose_name = _("report")
        verbose_name_plural = _("reports")
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

    def set_verification(self, state, *, by=None, at=None, reason=""):
        """Change the verification state and record who changed it, when and why.

        Locks the report row so that two analysts acting at once each record a
        change against the state they actually saw.
        """
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
