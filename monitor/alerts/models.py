"""Sweeps, subscriptions and the alert outbox.

The guarantees come from the database, not from Celery or Redis:

- a status change and the alerts it owes are written in one transaction, so an
  alert is never owed for a change that was rolled back, and never lost for
  one that was committed;
- every alert has an idempotency key, unique per (commitment, event, status
  change, recipient): however often a sweep runs, or however many run at once,
  the second insert of the same alert is a no-op. A transition's key is
  `c{commitment}:{event}:sc{status change}:{address}`; for one owing party's
  transition (a commitment several parties owe `each`, StatusChange.party) it
  is `c{commitment}:p{party}:{event}:sc{status change}:{address}`, so one
  party's alert is never taken for another's (monitor.alerts.sweep.transition_key);
- a sender claims rows with a lease, renews a row's lease just before sending
  it and (on PostgreSQL) holds its lock while it is sent, so two senders never
  send one row, and a sender that dies mid-send leaves a row that another
  picks up when the lease runs out (docs/operations.md, "The delivery guarantee").
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# What started a sweep.
BEAT = "beat"
REPORTS = "reports"
MANUAL = "manual"
CHECK = "check"  # the nightly full sweep, comparing every verdict with the stored state (drift)
TRIGGERS = (
    (BEAT, _("Schedule")), (REPORTS, _("Reports changed")), (MANUAL, _("By hand")), (CHECK, _("Nightly check")),
)

# Alert events
MISSED = "missed"
OVERDUE = "overdue"  # a duty without a date, past its reasonable time
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
WEBHOOK_PAUSED = "webhook_paused"  # to a webhook's owner: its receiver failed too long (monitor.alerts.webhooks)
EVENTS = (
    (MISSED, _("Deadline missed")),
    (OVERDUE, _("Overdue (no fixed deadline)")),
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
    (WEBHOOK_PAUSED, _("Webhook paused")),
)

# Alert states
PENDING = "pending"
SENT = "sent"
FAILED = "failed"  # permanently: a hard bounce, or attempts exhausted
FOLDED = "folded"  # part of a summary or a daily digest, never sent on its own
# For a subscriber who asked for one daily digest instead of each alert: listed in their next digest,
# which folds it (FOLDED), never sent on its own (monitor.alerts.sweep._digests).
HELD = "held"
CANCELLED = "cancelled"  # withdrawn before it was sent
ALERT_STATES = (
    (PENDING, _("Pending")),
    (SENT, _("Sent")),
    (FAILED, _("Failed")),
    (FOLDED, _("Folded into a summary or digest")),
    (HELD, _("Held for the daily digest")),
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
    # The agreement swept, when the run swept one (each scheduled sweep is one agreement's task);
    # empty for a run over every agreement in force (`manage.py sweep`), one after another.
    agreement = models.ForeignKey(
        "terms.Agreement", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("agreement")
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    as_of = models.DateTimeField(_("evaluated as of"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    commitments_evaluated = models.PositiveIntegerField(_("commitments evaluated"), default=0)
    transitions = models.PositiveIntegerField(_("transitions"), default=0)
    alerts_queued = models.PositiveIntegerField(_("alerts queued"), default=0)
    # Transitions a full sweep found on commitments the incremental path held settled (not due,
    # and no change pending): what it would have missed. Always 0 but for a bug; the nightly check
    # records them (fixing the state) and the health endpoint shows the last check's count.
    drift = models.PositiveIntegerField(_("drift"), default=0)
    drifted = models.JSONField(_("drifted commitments"), default=list, blank=True)

    class Meta:
        ordering = ("-started_at",)
        get_latest_by = "started_at"
        verbose_name = _("sweep run")
        verbose_name_plural = _("sweep runs")

    def __str__(self):
        return f"Sweep at {self.started_at:%Y-%m-%d %H:%M:%S}"


def default_reminder_days():
    return list(settings.MONITOR_DEFAULT_REMINDER_DAYS)


# What a subscriber chose to hear of (Subscription.events): the alert events, in the groups a reader
# knows them by. Corrections are not among them: whoever was told something hears if it is withdrawn.
BAD_NEWS = "adverse"
DISPUTES = "disputed"
GOOD_NEWS = "good_news"
REMINDERS = "reminders"
EVENT_KINDS = (
    (BAD_NEWS, _("Bad news: a deadline missed, a duty overdue, a breach beginning")),
    (DISPUTES, _("Disputes: credible reports conflict, so the outcome is contested")),
    (GOOD_NEWS, _("Good news: a deadline met late, a breach over")),
    (REMINDERS, _("Reminders before each due date")),
)
EVENTS_OF_KIND = {
    BAD_NEWS: frozenset({MISSED, OVERDUE, BREACHED}),
    DISPUTES: frozenset({DISPUTED}),
    GOOD_NEWS: frozenset({MET_LATE, BREACH_OVER}),
    REMINDERS: frozenset({REMINDER}),
}


def every_event_kind():
    """What every subscription got before readers could choose, and what a new one gets unless told otherwise."""
    return [kind for kind, _label in EVENT_KINDS]


# How the chosen alerts come (Subscription.delivery).
EACH_ALERT = "each"
DIGEST_INSTEAD = "digest"
EACH_AND_DIGEST = "both"
DELIVERIES = (
    (EACH_ALERT, _("Each alert as it happens")),
    (DIGEST_INSTEAD, _("One daily digest instead")),
    (EACH_AND_DIGEST, _("Each alert as it happens, and a daily digest")),
)


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
    events = models.JSONField(
        _("events"), default=every_event_kind, blank=True,
        help_text=_("The kinds of event to send (EVENT_KINDS); corrections always go to whoever got the original."),
    )
    delivery = models.CharField(_("delivery"), max_length=10, choices=DELIVERIES, default=EACH_ALERT)
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

    def wants(self, event):
        """Whether alerts of this event (MISSED, REMINDER, ...) are for this subscriber, each or in the digest."""
        return any(event in EVENTS_OF_KIND.get(kind, ()) for kind in self.events)

    @property
    def wants_digest(self):
        return self.delivery in (DIGEST_INSTEAD, EACH_AND_DIGEST)

    @property
    def wants_each_alert(self):
        return self.delivery in (EACH_ALERT, EACH_AND_DIGEST)

    @property
    def event_kinds_chosen(self):
        """The labels of the chosen kinds, in the form's order: what the confirmation pages list."""
        return [label for kind, label in EVENT_KINDS if kind in self.events]


class Alert(models.Model):
    """One message owed to one recipient: the outbox. An email to `to_email`, or a POST to `webhook`."""

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
    # A webhook delivery has no address: it goes to its webhook's URL, through the same claims,
    # locks, retries and attempts as an email (monitor.alerts.webhooks). CASCADE: deleting a webhook
    # takes its deliveries with it; they mean nothing without its URL.
    webhook = models.ForeignKey(
        "Webhook", models.CASCADE, null=True, blank=True, related_name="deliveries", verbose_name=_("webhook")
    )
    to_email = models.EmailField(_("to"), blank=True)
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
            models.Index(fields=("next_attempt_at",), condition=models.Q(state="pending"), name="alert_due_idx"),
            # Sign-ups count the confirmations an inbox got in the last day (views.subscribe), each time.
            models.Index(fields=("to_email", "created_at"), condition=models.Q(event="confirm"),
                         name="alert_confirmations_idx"),
        ]
        constraints = [
            # Every row goes somewhere, and to one place: an inbox or a webhook, never both, never neither.
            models.CheckConstraint(
                condition=(~models.Q(to_email="") & models.Q(webhook__isnull=True))
                | (models.Q(to_email="") & models.Q(webhook__isnull=False)),
                name="alert_email_or_webhook",
            ),
        ]

    def __str__(self):
        return f"{self.get_event_display()} → {self.recipient}"

    @property
    def recipient(self):
        """Where it goes: the address, or the webhook's URL."""
        return self.webhook.url if self.webhook_id else self.to_email

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
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        ordering = ("alert", "started_at", "id")
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")


def new_webhook_secret():
    # 256 bits: the receiver's only proof that a POST comes from this monitor.
    return secrets.token_urlsafe(32)


class Webhook(models.Model):
    """An HTTP endpoint that gets the same events as email, as signed JSON (monitor.alerts.webhooks).

    Registered by an analyst or an administrator, who owns it and is told by email when it is paused.
    Deliveries are outbox rows (Alert.webhook). Registered by staff, it hears of provisional verdicts
    at once, like a staff subscriber.
    """

    agreement = models.ForeignKey("terms.Agreement", models.CASCADE, related_name="webhooks",
                                  verbose_name=_("agreement"))
    commitment = models.ForeignKey(
        "terms.Commitment", models.CASCADE, null=True, blank=True, related_name="webhooks",
        verbose_name=_("commitment"), help_text=_("Empty: every commitment of the agreement."),
    )
    # Not a URLField: its validator would answer "Enter a valid URL" to file:// or ftp://, where the
    # person registering needs to read why (clean() names the reason).
    url = models.CharField(
        _("URL"), max_length=2000,
        help_text=_("http or https, on a public address. Each delivery is a signed JSON POST."),
    )
    # Never shown after the page that created it: the admin shows it once, then only its last characters.
    secret = models.CharField(_("signing secret"), max_length=100, default=new_webhook_secret, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="webhooks",
        editable=False, verbose_name=_("owner"), help_text=_("Who registered it; told by email when it is paused."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Set by the sender at the first failed delivery after a success (or ever), cleared by the next
    # success; a sweep pauses a webhook failing for MONITOR_WEBHOOK_PAUSE_AFTER_HOURS.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True, editable=False)
    paused_reason = models.CharField(_("why paused"), max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ("agreement", "id")
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self):
        return f"{self.url} → {self.commitment or self.agreement}"

    @property
    def active(self):
        return self.paused_at is None

    @property
    def secret_hint(self):
        return f"…{self.secret[-4:]}" if self.secret else ""

    def clean(self):
        from django.core.exceptions import ValidationError

        from monitor.alerts.webhooks import check_url

        errors = {}
        if self.commitment_id and self.agreement_id and self.commitment.agreement_id != self.agreement_id:
            errors["commitment"] = _("This commitment belongs to another agreement.")
        if self.url:
            self.url = self.url.strip()
            try:
                check_url(self.url)
            except ValidationError as e:
                errors["url"] = e.messages
        if errors:
            raise ValidationError(errors)


class NextCheck(models.Model):
    """When the periodic sweep must judge a commitment again though nothing about it changed.

    The engine's `Verdict.next_check` (a deadline passing, a grace period ending, a day's count
    closing), brought forward to the next reminder or escalation the verdict owes. A periodic sweep
    judges only the commitments whose instant has come, those a change marked due (`PendingChange`,
    absorbed by `monitor.alerts.sweep.absorb_pending`), and those never judged or judged by another
    method version; the nightly check judges them all (docs/architecture.md, "The sweep").
    """

    commitment = models.OneToOneField(
        "terms.Commitment", models.CASCADE, primary_key=True, related_name="next_check", verbose_name=_("commitment")
    )
    # Empty: nothing but new evidence can change its verdict.
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    judged_at = models.DateTimeField(_("judged at"))
    # When a change last marked it due. A sweep that read its evidence before that instant must
    # not clear the mark (another change came in while it judged): its write keeps due_at then.
    marked_at = models.DateTimeField(_("marked due at"), null=True, blank=True)
    method_version = models.CharField(_("method version"), max_length=20)

    class Meta:
        verbose_name = _("next check")
        verbose_name_plural = _("next checks")


# What a pending change touches
PENDING_REPORTS = "reports"  # these reports (ids, or a range of ids): what they can affect
PENDING_COMMITMENTS = "commitments"  # these commitments (an assessment of them)
PENDING_EVERYTHING = "everything"  # terms, sources, coverage, subscriptions…: every commitment
PENDING_SCOPES = (
    (PENDING_REPORTS, _("Reports")), (PENDING_COMMITMENTS, _("Commitments")), (PENDING_EVERYTHING, _("Everything")),
)


class PendingChange(models.Model):
    """A change the sweep has not judged yet, written in the transaction that made it.

    Written by database triggers (PostgreSQL: migration 0009 of this app) on every table a verdict,
    a reminder or an escalation reads, so no way of writing (the admin, the API, an import, SQL by
    hand) can change the evidence without the periodic sweep hearing of it. `absorb_pending` turns
    rows into `NextCheck` marks and deletes them, in one transaction. The on-commit re-evaluation
    (`monitor.alerts.triggers`) is the prompt path; this is the guarantee. On SQLite (the quick
    start) there are no triggers and every periodic sweep judges everything.
    """

    scope = models.CharField(_("scope"), max_length=12, choices=PENDING_SCOPES)
    # The ids (of reports or commitments, by scope) when a statement touched few; otherwise the range
    # first..last, which may hold unchanged ones too (read for nothing, never a change missed).
    ids = models.JSONField(_("ids"), null=True, blank=True)
    first_id = models.BigIntegerField(_("first id"), null=True, blank=True)
    last_id = models.BigIntegerField(_("last id"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("pending change")
        verbose_name_plural = _("pending changes")


class DigestDay(models.Model):
    """The day an agreement's digests were owed: once a day, by the first sweep that judged all of it.

    A periodic sweep judges only what is due; the daily digest lists every commitment. The first
    sweep past the digest hour with no row for the day judges the whole agreement and writes the
    row in its transaction (unique: a second sweep racing it fails and rolls back, like any race).
    """

    agreement = models.ForeignKey("terms.Agreement", models.CASCADE, related_name="+")
    day = models.DateField(_("day"))

    class Meta:
        verbose_name = _("digest day")
        verbose_name_plural = _("digest days")
        constraints = [models.UniqueConstraint(fields=("agreement", "day"), name="digest_once_a_day_per_agreement")]
