"""Agreements, the parties to them, and the commitments each party owes.

A commitment carries everything the verdict engine needs to judge it: its kind,
its rule (which reports count and what they must show), and its window, counted
from an anchor (the signing, a moment of another commitment, or a milestone). The engine never
reads these models: `monitor.verdicts.inputs` turns them into plain values.

Room left for later work: waivers and suspension windows will be their own
models pointing at Commitment; amendments that move deadlines will be a dated
model whose effect the inputs layer applies before the engine sees a window;
conditional commitments already exist as an anchor on another commitment.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from terms import provisions as provision_rules
from terms import readings as reading_rules
from terms import rules

# Agreement states
DRAFT = "draft"
IN_FORCE = "in_force"
SUSPENDED = "suspended"
TERMINATED = "terminated"
# Replaced by a later agreement: no longer in force, and its page says so (docs/public-pages.md, "Closed agreements").
SUPERSEDED = "superseded"
AGREEMENT_STATES = (
    (DRAFT, _("Draft")),
    (IN_FORCE, _("In force")),
    (SUSPENDED, _("Suspended")),
    (TERMINATED, _("Terminated")),
    (SUPERSEDED, _("Superseded")),
)
# States in which the agreement no longer binds anyone: its page leads with it.
ENDED_STATES = frozenset({TERMINATED, SUPERSEDED})
# "In compliance" needs sources covering at least this share (in %) of the days a ceiling's or a
# prohibition's window has run so far (docs/architecture.md, "Verdicts that claim no more than the evidence").
DEFAULT_COVERAGE_SHARE = 80

# Commitment kinds
DEADLINE = "deadline"
TARGET = "target"
CEILING = "ceiling"
PROHIBITION = "prohibition"
COMMITMENT_KINDS = (
    (DEADLINE, _("Action by a deadline")),
    (TARGET, _("Quantity by a date")),
    (CEILING, _("Ceiling over a window")),
    (PROHIBITION, _("Ongoing prohibition")),
)

# Basis of a term: where our knowledge of the term itself comes from.
OFFICIAL_TEXT = "official_text"
REPORTED = "reported"
INFERRED = "inferred"
BASES = (
    (OFFICIAL_TEXT, _("Official text")),
    (REPORTED, _("Reported")),
    (INFERRED, _("Inferred")),
)

# What a window is counted from.
ANCHOR_SIGNING = "signing"
ANCHOR_COMMITMENT = "commitment"
ANCHOR_MILESTONE = "milestone"
ANCHORS = (
    (ANCHOR_SIGNING, _("The signing of the agreement")),
    (ANCHOR_COMMITMENT, _("A moment of another commitment")),
    (ANCHOR_MILESTONE, _("A milestone being reached")),
)
# The moment of the anchor that is day 0 (terms.rules.MOMENTS_OF_KIND says which kinds have which).
ANCHOR_MOMENTS = (
    ("opens", _("its window opens")),
    ("due", _("its due day")),
    ("met", _("it is met")),
    ("missed", _("it is missed")),
    ("breached", _("it is first breached")),
    ("closes", _("its window's last day")),
    ("reached", _("the milestone is reached")),
)

# How several owing parties share a commitment (docs/agreement-format.md, "share").
EACH = "each"
ANY = "any"
JOINTLY = "jointly"
SHARES = (
    (EACH, _("Each party must act")),
    (ANY, _("An act by any of them suffices")),
    (JOINTLY, _("One act naming them together")),
)

DAYS = "days"
MONTHS = "months"
OFFSET_UNITS = ((DAYS, _("days")), (MONTHS, _("calendar months")))


class Party(models.Model):
    """An actor with a name: a party to one agreement may be a non-party actor in another."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    # A party's name is one of the names its acts are recognised by: a view cited "as known at" a past
    # instant reads the name it had then (monitor.verdicts.recorded), as it does its other names.
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self):
        return self.name


class PartyName(models.Model):
    """A name another source uses for a party: an ACLED actor name, a spelling variant.

    Events are attributed to a party when their acting side matches one of these
    (case and spacing folded). Events by unidentified or other groups match no
    party and never count against one unless a commitment's rule says so.
    """

    party = models.ForeignKey(Party, models.CASCADE, related_name="names")
    name = models.CharField(_("name"), max_length=300)
    normalized = models.CharField(max_length=300, unique=True, editable=False)
    note = models.CharField(_("note"), max_length=300, blank=True)

    # A name added later must not count in a view cited as known before it (monitor.verdicts.recorded).
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name = _("name used by sources")
        verbose_name_plural = _("names used by sources")

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.normalized = rules.normalize_name(self.name)
        super().save(*args, **kwargs)


class Agreement(models.Model):
    title = models.CharField(_("title"), max_length=300)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    summary = models.TextField(_("summary"), blank=True)
    parties = models.ManyToManyField(Party, related_name="agreements", verbose_name=_("parties"))
    # Actors active where the agreement applies who did not sign it (a neighbour's forces; in the
    # first agreement, the Afghan government). Listed with the names sources use for them so that
    # their acts are recognised as theirs: never evidence for or against a party, shown as context
    # (docs/architecture.md, "Attribution"). They owe nothing: the loader refuses a commitment they owe.
    non_party_actors = models.ManyToManyField(
        Party,
        related_name="agreements_as_non_party",
        blank=True,
        verbose_name=_("actors who are not parties"),
        help_text=_("Active where the agreement applies but did not sign it: their acts are context, never evidence."),
    )
    signed_on = models.DateField(
        _("signing date"),
        null=True,
        blank=True,
        help_text=_("Unknown until signed: every deadline counted from it is awaiting signature."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        help_text=_("Deadlines end at local midnight of their last day in this zone."),
    )
    source = models.TextField(_("source of the text"), blank=True)
    state = models.CharField(_("state"), max_length=20, choices=AGREEMENT_STATES, default=DRAFT)
    publish_computed_verdicts = models.BooleanField(
        _("publish computed verdicts"),
        default=False,
        help_text=_("Show and send provisional verdicts to the public before an analyst assesses them."),
    )
    coverage_share = models.PositiveSmallIntegerField(
        _("coverage needed for “in compliance” (%)"),
        default=DEFAULT_COVERAGE_SHARE,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "A ceiling or prohibition is in compliance only when sources cover at least this share of the days "
            "its window has run so far; below it the verdict is “no data” (insufficient data), with the share. "
            "0: any covered day suffices."
        ),
    )
    ended_on = models.DateField(
        _("ended on"),
        null=True,
        blank=True,
        help_text=_("When it was terminated or superseded: the page says so at the top."),
    )
    escalate_after_hours = models.PositiveIntegerField(
        _("escalate after (hours)"),
        default=48,
        help_text=_(
            "A missed deadline or a breach no analyst has assessed this many hours after it was detected is "
            "sent to the Analysts, once per episode. 0: never."
        ),
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    # Who changed what and when, the parties included (docs/architecture.md, "Audit trail").
    history = HistoricalRecords(m2m_fields=[parties, non_party_actors])

    class Meta:
        ordering = ("title",)
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self):
        return self.title

    def clean(self):
        rules.validate_time_zone(self.time_zone)


class Revision(models.Model):
    """A recorded change to an agreement's terms as the project models them: who, when, why, what.

    The terms are versioned so that a cited verdict never changes without notice: r1 is the first
    load, and every later change to a judged field of a commitment is a revision with its author,
    reason and instant (`load_agreement FILE --revise "reason"`, or the admin). Pages, the API, feeds
    and exports name the revision they used. Room left: an amendment the parties themselves make
    (with its own date in the world) will be a revision that also carries that date.
    """

    agreement = models.ForeignKey(Agreement, models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("number"))
    made_at = models.DateTimeField(_("made at"), default=timezone.now)
    made_by = models.CharField(_("made by"), max_length=150, help_text=_("A username, or who ran the loader."))
    reason = models.TextField(_("reason"))
    # What changed: [{"commitment": key, "field": name, "old": value, "new": value}, ...]; empty for r1.
    changes = models.JSONField(_("changes"), default=list, blank=True)

    class Meta:
        ordering = ("agreement", "number")
        verbose_name = _("revision of the terms")
        verbose_name_plural = _("revisions of the terms")
        constraints = [
            models.UniqueConstraint(fields=("agreement", "number"), name="revision_number_unique_per_agreement"),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self):
        return f"r{self.number}"


class Milestone(models.Model):
    """A dated event the agreement counts from that no commitment models: elections held, a law adopted.

    Reached on the local day of the first counting report its rule recognises (weighed as a
    deadline's act is); commitments counted from it wait for it ("awaiting its anchor").
    """

    agreement = models.ForeignKey(Agreement, models.CASCADE, related_name="milestones")
    key = models.SlugField(
        _("key"), max_length=100, help_text=_("Stable identifier within the agreement, used by the agreement file.")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    text = models.TextField(_("the agreement's words"), blank=True)
    # Which reports show it happened; validated by terms.rules.Rule (categories required).
    rule = models.JSONField(_("rule"), default=dict, blank=True)

    # Its rule is part of the terms a cited view reads as they were recorded (monitor.verdicts.recorded).
    history = HistoricalRecords()

    class Meta:
        ordering = ("agreement", "position", "id")
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        constraints = [
            models.UniqueConstraint(fields=("agreement", "key"), name="milestone_key_unique_per_agreement"),
        ]

    def __str__(self):
        return self.title


class Commitment(models.Model):
    agreement = models.ForeignKey(Agreement, models.CASCADE, related_name="commitments")
    key = models.SlugField(
        _("key"),
        max_length=100,
        help_text=_("Stable identifier within the agreement, used by the agreement file."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    title = models.CharField(_("title"), max_length=300)
    owed_by = models.ManyToManyField(Party, related_name="commitments", verbose_name=_("owed by"))
    text = models.TextField(_("the agreement's words"), blank=True)
    share = models.CharField(
        _("share"),
        max_length=10,
        choices=SHARES,
        default=EACH,
        help_text=_(
            "When several parties owe it: each must act (judged per party), any one act suffices, or one act "
            "naming them together. No meaning for a single party."
        ),
    )

    basis = models.CharField(_("basis"), max_length=20, choices=BASES, default=OFFICIAL_TEXT)
    basis_source = models.CharField(
        _("reported by"), max_length=300, blank=True, help_text=_("Who states this term, when it is not the text.")
    )
    basis_note = models.TextField(_("basis note"), blank=True)
    # [{"account": "...", "source": "...", "note": "..."}]: accounts that disagree with the one tracked.
    competing_accounts = models.JSONField(_("competing accounts"), default=list, blank=True)
    # Competing accounts the monitor judges too (terms.readings): [{"key", "label", "source", "rule": {...},
    # "window": {...}}], each rule and window overriding the commitment's own. Their verdicts are shown
    # beside the main one; only the main reading (the commitment's own rule and window) decides the status.
    readings = models.JSONField(
        _("readings"),
        default=list,
        blank=True,
        help_text=_("Competing accounts judged too, each overriding some of the rule and window."),
    )
    main_reading_label = models.CharField(
        _("main reading called"),
        max_length=200,
        blank=True,
        help_text=_("How pages name the commitment's own rule and window beside its readings; empty: from the basis."),
    )

    kind = models.CharField(_("kind"), max_length=20, choices=COMMITMENT_KINDS)
    # Which reports count and what they must show; validated by terms.rules.Rule.
    rule = models.JSONField(_("rule"), default=dict, blank=True)

    anchor = models.CharField(_("counted from"), max_length=20, choices=ANCHORS, default=ANCHOR_SIGNING)
    anchor_commitment = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="anchored",
        verbose_name=_("anchor commitment"),
    )
    anchor_moment = models.CharField(_("moment of the anchor"), max_length=20, choices=ANCHOR_MOMENTS, default="met")
    anchor_milestone = models.ForeignKey(
        Milestone,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="anchored",
        verbose_name=_("anchor milestone"),
    )
    offset_unit = models.CharField(_("offset unit"), max_length=10, choices=OFFSET_UNITS, default=DAYS)
    starts_offset = models.IntegerField(
        _("window opens"), default=0, help_text=_("Offset from the anchor day; negative opens before it.")
    )
    due_offset = models.IntegerField(_("due"), null=True, blank=True, help_text=_("Offset of the last day."))
    ends_offset = models.IntegerField(
        _("window closes"), null=True, blank=True, help_text=_("Offset of the last day; empty: ongoing.")
    )
    grace_days = models.PositiveIntegerField(_("grace days"), default=0, validators=[MinValueValidator(0)])
    reasonable_days = models.PositiveIntegerField(
        _("reasonable time (days)"),
        null=True,
        blank=True,
        help_text=_(
            "A deadline without a due date: days from the window's opening after which it is overdue "
            "(no fixed deadline). Empty: open until done."
        ),
    )

    tracked = models.BooleanField(
        _("tracked for compliance"),
        default=True,
        help_text=_("Terms discussed but not agreed are recorded, not judged."),
    )
    needs_review = models.BooleanField(_("needs an analyst's review"), default=False)
    review_note = models.TextField(_("review note"), blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[owed_by])

    class Meta:
        ordering = ("agreement", "position", "id")
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")
        constraints = [
            models.UniqueConstraint(fields=("agreement", "key"), name="commitment_key_unique_per_agreement"),
            models.CheckConstraint(
                condition=models.Q(anchor="signing", anchor_commitment__isnull=True, anchor_milestone__isnull=True)
                | models.Q(anchor="commitment", anchor_commitment__isnull=False, anchor_milestone__isnull=True)
                | models.Q(anchor="milestone", anchor_commitment__isnull=True, anchor_milestone__isnull=False),
                name="commitment_anchor_consistent",
            ),
        ]

    def __str__(self):
        return self.title

    def window(self):
        return rules.Window(
            anchor=self.anchor,
            anchor_commitment_id=self.anchor_commitment_id,
            anchor_moment=self.anchor_moment,
            anchor_milestone_id=self.anchor_milestone_id,
            unit=self.offset_unit,
            starts=self.starts_offset,
            due=self.due_offset,
            ends=self.ends_offset,
            grace_days=self.grace_days,
            reasonable_days=self.reasonable_days,
        )

    def clean(self):
        try:
            rules.validate_terms(self.kind, self.rule, self.window())
        except rules.RuleError as e:
            field = "anchor_moment" if e.field == "window.moment" else e.field or "rule"
            raise ValidationError({field: e.message}) from None
        try:
            reading_rules.validate(self.kind, self.rule, self.window(), self.readings)
        except rules.RuleError as e:
            raise ValidationError({"readings": f"{e.field}: {e.message}"}) from None
        if self.anchor_commitment_id and self.anchor_commitment_id == self.pk:
            raise ValidationError({"anchor_commitment": _("A commitment cannot be counted from itself.")})
        # The moment must be one the anchor has (docs/agreement-format.md, "Anchors"): a prohibition is never met.
        if self.anchor == ANCHOR_COMMITMENT and self.anchor_commitment_id:
            kind = self.anchor_commitment.kind
            if self.anchor_moment not in rules.MOMENTS_OF_KIND.get(kind, ()):
                raise ValidationError({"anchor_moment": _("A %(kind)s has no such moment.") % {"kind": kind}})
            if self.anchor_moment == "closes" and self.anchor_commitment.ends_offset is None:
                raise ValidationError({"anchor_moment": _("The anchor's window has no end, so it never closes.")})
        if self.anchor == ANCHOR_MILESTONE and self.anchor_moment != "reached":
            raise ValidationError({"anchor_moment": _("A milestone's only moment is 'reached'.")})


class Provision(models.Model):
    """One provision of the agreement's text, numbered as the text numbers it, and how it is accounted for.

    Monitored (one or more tracked commitments cite it), not monitorable (with the reason), or not yet
    modelled: so that a reader sees what the monitor tracks of the text and what it leaves aside
    (terms.provisions; docs/agreement-format.md, "provisions"). Written by the agreement file's loader,
    which keeps them in sync with the file.
    """

    agreement = models.ForeignKey(Agreement, models.CASCADE, related_name="provisions")
    ref = models.SlugField(
        _("reference"),
        max_length=100,
        help_text=_("Stable anchor and citation key within the agreement, e.g. part-two-a-1."),
    )
    number = models.CharField(_("number"), max_length=200, help_text=_("As the text numbers it: “Part Two, A.1”."))
    position = models.PositiveIntegerField(_("position"), default=0)
    wording = models.TextField(_("official wording"), blank=True)
    summary = models.TextField(
        _("summary"), blank=True, help_text=_("A faithful summary, where the official wording cannot be held.")
    )
    quote = models.TextField(_("operative phrase quoted"), blank=True)
    source = models.CharField(
        _("source"), max_length=500, blank=True, help_text=_("Where the wording or quote comes from.")
    )
    status = models.CharField(_("class"), max_length=20, choices=provision_rules.STATUSES)
    reason = models.CharField(
        _("why not monitorable"), max_length=20, choices=provision_rules.REASONS, blank=True
    )
    category = models.CharField(_("category"), max_length=20, choices=provision_rules.CATEGORIES, blank=True)
    note = models.TextField(_("note"), blank=True)
    commitments = models.ManyToManyField(
        Commitment,
        related_name="provisions",
        blank=True,
        verbose_name=_("cited by"),
        help_text=_("The commitments that cite this provision: those that monitor it."),
    )

    history = HistoricalRecords(m2m_fields=[commitments])

    class Meta:
        ordering = ("agreement", "position", "id")
        verbose_name = _("provision")
        verbose_name_plural = _("provisions")
        constraints = [
            models.UniqueConstraint(fields=("agreement", "ref"), name="provision_ref_unique_per_agreement"),
            # A reason is what makes "not monitorable" a judgement rather than a shrug; no other class has one.
            models.CheckConstraint(
                condition=models.Q(
                    status=provision_rules.NOT_MONITORABLE, reason__in=[r for r, _l in provision_rules.REASONS]
                )
                | (~models.Q(status=provision_rules.NOT_MONITORABLE) & models.Q(reason="")),
                name="provision_reason_iff_not_monitorable",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def label(self):
        return self.number

    def clean(self):
        if self.status == provision_rules.NOT_MONITORABLE and not self.reason:
            raise ValidationError({"reason": _("Say why it cannot be monitored.")})
        if self.status != provision_rules.NOT_MONITORABLE and self.reason:
            raise ValidationError({"reason": _("Only a provision that is not monitorable has a reason.")})
        if not self.wording and not self.summary:
            raise ValidationError({"summary": _("Give the official wording or a faithful summary.")})
