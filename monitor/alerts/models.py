"""Sweeps, subscriptions and the alert outbox.

The guarantees come from the database, not from Celery or Redis:

- a status change and the alerts it owes are written in one transaction, so an
  alert is never owed for a change that was rolled back, and never lost for
  one that was committed;
- every alert has an idempotency key, unique per (commitment, event, episode,
  recipient): however often a sweep runs, or however many run at once, the
  second insert of the same alert is a no-op;
- a sender claims a row with a lease before sending, so two senders never
  send one row at the same time, and a sender that dies mid-send leaves a row
  that another picks up when the lease runs out.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# What started a sweep.
BEAT = "beat"
REPORTS = "reports"
MANUAL = "manual"
TRIGGERS = ((BEAT, _("Schedule")), (REPORTS, _("Reports changed")), (MANUAL, _("By hand")))

# Alert events
MISSED = "missed"
BREACHED = "breached"
DISPUTED = "disputed"
MET_LATE = "met_late"
BREACH_OVER = "breach_over"
REMINDER = "reminder"
DIGEST = "digest"
SUMMARY = "summary"
CORRECTION = "correction"
CONFIRM_SUBSCRIPTION = "confirm"
ESCALATION = "escalation"  # to the Analysts: an adverse verdict left unassessed (monitor.alerts.escalation)
EVENTS = (
    (MISSED, _("Deadline missed")),
    (BREACHED, _("Breached")),
    (DISPUTED, _("Disputed")),
    (MET_LATE, _("Met late")),
    (BREACH_OVER, _("Breach over")),
    (REMINDER, _("Reminder")),
    (DIGEST, _("Daily digest")),
    (SUMMARY, _("Summary of past transitions")),
    (CORRECTION, _("Correction")),
    (CONFIRM_SUBSCRIPTION, _("Confirm a subscription")),
    (ESCALATION, _("Escalated to the Analysts")),
)

# Alert states
PENDING = "pending"
SENT = "sent"
FAILED = "failed"  # permanently: a hard bounce, or attempts exhausted
FOLDED = "folded"  # part of a summary, never sent on its own
CANCELLED = "cancelled"  # withdrawn before it was sent
ALERT_STATES = (
    (PENDING, _("Pending")),
    (SENT, _("Sent")),
    (FAILED, _("Failed")),
    (FOLDED, _("Folded into a summary")),
    (CANCELLED, _("Cancelled")),
)

# Delivery attempt outcomes
ACCEPTED = "accepted"
TEMPORARY = "temporary"
PERMANENT = "permanent"
OUTCOMES = (
    (ACCEPTED, _("Accepted by the server")),
    (TEMPORARY, _("Temporary failure: will retry")),
    (PERMANENT, _("Permanent failure")),
)


class SweepRun(models.Model):
    trigger = models.CharField(_("trigger"), max_length=10, choices=TRIGGERS, default=BEAT)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    as_of = models.DateTimeField(_("evaluated as of"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    commitments_evaluated = models.PositiveIntegerField(_("commitments evaluated"), default=0)
    transitions = models.PositiveIntegerField(_("transitions"), default=0)
    alerts_queued = models.PositiveIntegerField(_("alerts queued"), default=0)

    class Meta:
        ordering = ("-started_at",)
        get_latest_by = "started_at"
        verbose_name = _("sweep run")
        verbose_name_plural = _("sweep runs")

    def __str__(self):
        return f"Sweep at {self.started_at:%Y-%m-%d %H:%M:%S}"


def default_reminder_days():
    return list(settings.MONITOR_DEFAULT_REMINDER_DAYS)


class Subscription(models.Model):
    """A staff user or an outside address following an agreement, or one commitment of it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="subscriptions"
    )
    email = models.EmailField(_("email"), blank=True, help_text=_("For outside subscribers."))
    agreement = models.ForeignKey("terms.Agreement", models.CASCADE, related_name="subscriptions")
    commitment = models.ForeignKey(
        "terms.Commitment", models.CASCADE, null=True, blank=True, related_name="subscriptions",
        help_text=_("Empty: every commitment of the agreement."),
    )
    reminder_days = models.JSONField(_("reminders, days before a due date"), default=default_reminder_days, blank=True)
    wants_digest = models.BooleanField(_("daily digest"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    suspended_reason = models.CharField(_("why suspended"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(email=""))
                | (models.Q(user__isnull=True) & ~models.Q(email="")),
                name="subscription_user_or_email",
            ),
            # One subscription per person and scope; spelled as four conditional constraints rather
            # than nulls_distinct=False, which SQLite (the quick start) does not enforce.
            models.UniqueConstraint(
                fields=("user", "agreement"), name="subscription_unique_user_agreement",
                condition=models.Q(user__isnull=False, commitment__isnull=True),
            ),
            models.UniqueConstraint(
                fields=("user", "commitment"), name="subscription_unique_user_commitment",
                condition=models.Q(user__isnull=False, commitment__isnull=False),
            ),
            models.UniqueConstraint(
                fields=("email", "agreement"), name="subscription_unique_email_agreement",
                condition=~models.Q(email="") & models.Q(commitment__isnull=True),
            ),
            models.UniqueConstraint(
                fields=("email", "commitment"), name="subscription_unique_email_commitment",
                condition=~models.Q(email="") & models.Q(commitment__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.address} → {self.commitment or self.agreement}"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def address(self):
        return self.user.email if self.user_id else self.email

    @property
    def is_staff(self):
        # Staff see provisional verdicts at once; everyone else waits for an analyst.
        return bool(self.user_id and self.user.is_staff)

    @property
    def active(self):
        return self.confirmed_at is not None and self.unsubscribed_at is None and self.suspended_at is None


class Alert(models.Model):
    """One email owed to one recipient: the outbox."""

    key = models.CharField(_("idempotency key"), max_length=300, unique=True)
    event = models.CharField(_("event"), max_length=20, choices=EVENTS)
    subscription = models.ForeignKey(Subscription, models.SET_NULL, null=True, blank=True, related_name="alerts")
    commitment = models.ForeignKey(
        "terms.Commitment", models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    status_change = models.ForeignKey(
        "verdicts.StatusChange", models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    corrects = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="corrections",
        help_text=_("The alert this one corrects."),
    )
    to_email = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=300)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=ALERT_STATES, default=PENDING, db_index=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    claim_token = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [
            models.Index(fields=("next_attempt_at",), condition=models.Q(state="pending"), name="alert_due_idx")
        ]

    def __str__(self):
        return f"{self.get_event_display()} → {self.to_email}"

    @property
    def message_id(self):
        """Deterministic, so a resent copy is recognisably the same message."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:32]
        return f"<alert-{digest}@{settings.MONITOR_MESSAGE_ID_DOMAIN}>"


class DeliveryAttempt(models.Model):
    alert = models.ForeignKey(Alert, models.CASCADE, related_name="delivery_attempts")
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=OUTCOMES)
    smtp_code = models.PositiveSmallIntegerField(_("SMTP code"), null=True, blank=True)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        ordering = ("alert", "started_at", "id")
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
