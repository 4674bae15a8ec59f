"""What people and the sweep conclude about commitments: assessments and status changes.

The computed verdict itself is never stored as "the truth": it is recomputed
from the evidence on demand. What is stored is (a) an analyst's signed
assessment of it and (b) the append-only record of its transitions.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitor.verdicts.method import METHOD_VERSION
from monitor.verdicts.statuses import STATUSES

# Assessment actions. Assessments are never deleted or edited: one is undone by recording a withdrawal,
# after which no assessment stands and the computed verdict is provisional again (docs/architecture.md).
CONFIRM = "confirm"
OVERRIDE = "override"
WITHDRAW = "withdraw"
ASSESSMENT_ACTIONS = (
    (CONFIRM, _("Confirms the computed verdict")),
    (OVERRIDE, _("Overrides the computed verdict")),
    (WITHDRAW, _("Withdraws the standing assessment")),
)

# Peace Accords Matrix implementation scale
PAM_GRADES = (
    (0, _("0: not initiated")),
    (1, _("1: minimal")),
    (2, _("2: intermediate")),
    (3, _("3: full")),
)

CONFIDENCE = (("low", _("Low")), ("medium", _("Medium")), ("high", _("High")))

# Who or what produced a status change.
COMPUTED = "computed"
ASSESSED = "assessed"
CORRECTION = "correction"
CHANGE_KINDS = (
    (COMPUTED, _("Computed from evidence")),
    (ASSESSED, _("Set by an analyst's assessment")),
    (CORRECTION, _("Correction of an earlier verdict")),
)


class Assessment(models.Model):
    """An analyst's signed judgement of a commitment's computed verdict.

    It records the computed status it looked at: when the computed verdict
    later moves away from that, the assessment no longer covers it and the
    verdict is provisional again until someone assesses it anew.

    A record: never edited or deleted (the admin gives no one the permission, and
    a commitment that has one cannot be deleted). A withdrawal is an assessment
    too: it names the status of the assessment it withdraws, covers nothing, and
    leaves no assessment standing until the next one.
    """

    commitment = models.ForeignKey("terms.Commitment", models.PROTECT, related_name="assessments")
    action = models.CharField(_("action"), max_length=10, choices=ASSESSMENT_ACTIONS)
    computed_status = models.CharField(_("computed status assessed"), max_length=20, choices=STATUSES)
    status = models.CharField(_("assessed status"), max_length=20, choices=STATUSES)
    pam_grade = models.PositiveSmallIntegerField(_("implementation grade"), choices=PAM_GRADES, null=True, blank=True)
    reason = models.TextField(_("reason"))
    confidence = models.CharField(_("confidence"), max_length=10, choices=CONFIDENCE, default="medium")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="assessments", verbose_name=_("author")
    )
    assessed_at = models.DateTimeField(_("assessed at"), default=timezone.now, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ("-assessed_at", "-id")
        get_latest_by = "assessed_at"
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(action="confirm") | models.Q(status=models.F("computed_status")),
                name="assessment_confirm_keeps_status",
            )
        ]

    def __str__(self):
        return f"{self.get_action_display()}: {self.get_status_display()}"

    def clean(self):
        if self.action == CONFIRM and self.status != self.computed_status:
            raise ValidationError({"status": _("A confirmation keeps the computed status.")})

    def covers(self, computed_status):
        return self.action != WITHDRAW and self.computed_status == computed_status


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Status changes are append-only: record a new change instead.")

    def delete(self):
        raise TypeError("Status changes are append-only: record a correction instead.")


def current_method_version():
    """The default for a change recorded now (a callable, so migrations do not freeze today's version)."""
    return METHOD_VERSION


class StatusChange(models.Model):
    """Append-only record of one transition of a commitment's status.

    `effective_at` is when the rule says it happened (the deadline, the breach),
    `detected_at` when the monitor noticed; the two differ whenever evidence
    arrives late or a sweep runs after the instant.

    With `party` set it is one owing party's transition (a commitment several parties owe
    `each`); pages, feeds and the API list the commitment's own (`party` null).
    """

    # PROTECT: deleting a commitment would take its history with it (a cascade bypasses delete() above).
    commitment = models.ForeignKey("terms.Commitment", models.PROTECT, related_name="status_changes")
    # Each change names the one it follows, and a change can be followed only once: two sweeps
    # that both saw the same state cannot both record a transition from it (the loser's insert fails).
    previous = models.OneToOneField("self", models.PROTECT, null=True, blank=True, related_name="following")
    # One owing party's own verdict, for a commitment several parties owe `each` (engine/shares.py);
    # null: the commitment's verdict. Each party's changes form their own chain through `previous`.
    party = models.ForeignKey(
        "terms.Party", models.PROTECT, null=True, blank=True, related_name="status_changes", verbose_name=_("party")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=CHANGE_KINDS, default=COMPUTED)
    old_status = models.CharField(_("from"), max_length=20, choices=STATUSES, blank=True)
    new_status = models.CharField(_("to"), max_length=20, choices=STATUSES)
    effective_at = models.DateTimeField(_("effective at"), db_index=True)
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    reason_code = models.CharField(_("reason code"), max_length=60)
    reason_params = models.JSONField(_("reason parameters"), default=dict, blank=True)
    # The judging rules' version that detected it, so that a feed entry or an API answer read after the
    # method changes still names the rules this change came from. Empty: recorded before versions had names.
    method_version = models.CharField(
        _("method version"), max_length=20, blank=True, default=current_method_version, editable=False
    )
    evidence = models.ManyToManyField("evidence.Report", blank=True, related_name="status_changes")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ("commitment", "effective_at", "id")
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        indexes = [models.Index(fields=("commitment", "-detected_at"))]
        constraints = [
            models.UniqueConstraint(
                fields=("commitment",),
                condition=models.Q(previous__isnull=True, party__isnull=True),
                name="status_change_one_first",
            ),
            models.UniqueConstraint(
                fields=("commitment", "party"),
                condition=models.Q(previous__isnull=True, party__isnull=False),
                name="status_change_one_first_per_party",
            ),
        ]

    def __str__(self):
        return f"{self.old_status or '—'} → {self.new_status} at {self.effective_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Status changes are append-only: record a new change instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Status changes are append-only: record a correction instead.")


def latest_of_each(changes):
    """{(commitment id, party id or None): its latest change} among `changes`, in one query.

    Latest as a history lists them: by detection, then id. The commitment's own history (party None) and
    each owing party's are apart. A window rather than PostgreSQL's DISTINCT ON, so that SQLite (the
    quick start) runs it too.
    """
    ranked = changes.annotate(
        latest_rank=Window(
            RowNumber(),
            partition_by=[F("commitment_id"), F("party_id")],
            order_by=[F("detected_at").desc(), F("id").desc()],
        )
    ).filter(latest_rank=1)
    return {(c.commitment_id, c.party_id): c for c in ranked.order_by()}


def recorded_since(status, engine_since, latest):
    """When `status` began: the effective instant of `latest`, the latest recorded change, when it is into
    `status`; else the engine's own instant (`engine_since`: a status no sweep recorded, an override).

    The history is append-only and keeps the instant it recorded, though a report learned later may date
    the start otherwise; every output that says when a status began gives this one (docs/public-pages.md,
    "When a status began").
    """
    if latest is not None and latest.new_status == status:
        return latest.effective_at
    return engine_since
