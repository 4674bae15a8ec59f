"""Sending the outbox: claim a batch with a lease, send each row under its own lock, record every attempt.

One delivery per alert on a healthy system, whatever the relay's speed. A sender claims up to
`limit` rows with a lease, then sends them one by one; before each, it renews that row's lease if
the row is still its own and the lease has not run out (a batch sent to a slow relay can outlast
the lease, and a row whose lease ran out may already be another sender's), and on PostgreSQL it
holds the row's lock while that one message is sent and its outcome recorded: another sender's
claim skips locked rows, so even a send that outlasts its lease is never doubled.

A webhook's row (Alert.webhook) goes the same way, POSTed by monitor.alerts.webhooks.send instead
of handed to the relay: same claim, lock, retries and attempts.

The one window SMTP cannot make idempotent: the server accepted a message and
the worker died (or the database went away) before the row was marked sent.
The lease then runs out and another sender sends the row again, so such an
alert arrives twice rather than never. Both copies carry the same Message-ID,
which mail clients and list software use to drop the duplicate. We choose
"at least once, same Message-ID" over "at most once" because a lost alert is
the worst failure this system can have.
"""

import logging
import smtplib
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from monitor.alerts import messages, webhooks
from monitor.alerts import models as am

log = logging.getLogger(__name__)


def claim(now, limit):
    """Claim up to `limit` due rows for this sender; another sender never gets the same rows.

    On PostgreSQL, SKIP LOCKED lets several senders claim disjoint batches at once instead of
    queueing behind each other; the lease (claimed_until) outlives the transaction, so a row
    being sent is not claimed again until its sender has had time to finish or has died.
    """
    token = uuid.uuid4().hex
    lease = now + timedelta(seconds=settings.MONITOR_SEND_LEASE_SECONDS)
    with transaction.atomic():
        due = (
            am.Alert.objects.select_for_update(skip_locked=True)
            .filter(state=am.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        ids = list(due)
        am.Alert.objects.filter(id__in=ids).update(
            claimed_until=lease, claim_token=token, attempts=F("attempts") + 1
        )
    return token, ids


def send_due(now=None, limit=100):
    """Send every due alert this sender can claim; returns the number accepted by the server."""
    now = now or timezone.now()
    started = time.monotonic()
    token, ids = claim(now, limit)
    if not ids:
        return 0
    accepted = 0
    connection = get_connection(fail_silently=False)
    try:
        for alert_id in sorted(ids):
            # This sender's clock: `now` moved on by the time the batch has taken so far.
            clock = now + timedelta(seconds=time.monotonic() - started)
            accepted += _send_one(alert_id, token, connection, clock)
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide what happened before
            pass
    return accepted


def _email(alert):
    headers = {"Message-ID": alert.message_id}
    if alert.subscription_id and alert.event != am.CONFIRM_SUBSCRIPTION:
        url = messages.unsubscribe_url(alert.subscription)
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=alert.subject, body=alert.body_text, from_email=settings.DEFAULT_FROM_EMAIL,
        to=[alert.to_email], headers=headers,
    )
    if alert.body_html:
        email.attach_alternative(alert.body_html, "text/html")
    return email


def _send_one(alert_id, token, connection, clock):
    """Send one claimed row if it is still this sender's; 1 if the server accepted it."""
    lease = timedelta(seconds=settings.MONITOR_SEND_LEASE_SECONDS)
    # Renewed only while the claim still holds: if the lease ran out while earlier rows of the batch
    # were being sent, another sender may have claimed this one (or will), and it is theirs now.
    renewed = am.Alert.objects.filter(
        pk=alert_id, claim_token=token, state=am.PENDING, claimed_until__gt=clock
    ).update(claimed_until=clock + lease)
    if not renewed:
        return 0
    with transaction.atomic():
        # PostgreSQL: the row stays locked until its outcome is recorded, and claims skip locked
        # rows, so no other sender can take it over mid-send however slow the relay is. (SQLite
        # ignores the lock; there the renewed lease, longer than one message's SMTP timeouts, does.)
        alert = (
            am.Alert.objects.select_for_update(of=("self",))
            .select_related("subscription__user", "webhook")
            .filter(pk=alert_id, claim_token=token, state=am.PENDING)
            .first()
        )
        if alert is None:  # another sender got there first, between the renewal and the lock
            return 0
        return _deliver(alert, token, connection)


def _deliver(alert, token, connection):
    started = timezone.now()
    code = http_status = None
    if alert.webhook_id:
        # A webhook: a signed POST in place of an email, under the same claim, lock, retries and record.
        outcome, http_status, detail = webhooks.send(alert)
    else:
        outcome, code, detail = _send_email(alert, connection)
    finished = timezone.now()
    am.DeliveryAttempt.objects.create(
        alert=alert, started_at=started, finished_at=finished, outcome=outcome, smtp_code=code,
        http_status=http_status, detail=detail,
    )
    if alert.webhook_id:
        webhooks.record(alert, outcome, started)
    mine = am.Alert.objects.filter(pk=alert.pk, claim_token=token)
    if outcome == am.ACCEPTED:
        mine.update(state=am.SENT, sent_at=finished, claimed_until=None, last_error="")
        return 1
    if outcome == am.PERMANENT or alert.attempts >= settings.MONITOR_MAX_ATTEMPTS:
        mine.update(state=am.FAILED, claimed_until=None, last_error=detail)
        if outcome == am.PERMANENT and code is not None and alert.subscription_id:
            # A hard bounce: stop writing to an address that does not exist.
            am.Subscription.objects.filter(pk=alert.subscription_id, suspended_at__isnull=True).update(
                suspended_at=finished, suspended_reason=f"{code} {detail}"[:300]
            )
        log.warning("Alert %s failed for good: %s %s", alert.pk, code, detail)
        return 0
    delay = settings.MONITOR_RETRY_BASE_SECONDS * (2 ** max(alert.attempts - 1, 0))
    mine.update(
        claimed_until=None, last_error=detail, next_attempt_at=finished + timedelta(seconds=min(delay, 3600))
    )
    return 0


def _send_email(alert, connection):
    """Hand one email to the relay: (outcome, SMTP code or None, detail)."""
    code, detail = None, ""
    try:
        connection.send_messages([_email(alert)])
        outcome = am.ACCEPTED
    except smtplib.SMTPRecipientsRefused as e:
        code, message = next(iter(e.recipients.values()))
        detail = _text(message)
        outcome = am.PERMANENT if 500 <= code < 600 else am.TEMPORARY
    except smtplib.SMTPResponseException as e:
        code, detail = e.smtp_code, _text(e.smtp_error)
        outcome = am.PERMANENT if 500 <= code < 600 else am.TEMPORARY
    except (smtplib.SMTPException, OSError) as e:  # refused connection, dropped connection, timeout
        detail = f"{type(e).__name__}: {e}"
        outcome = am.TEMPORARY
        _reset(connection)
    return outcome, code, detail


def _text(message):
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _reset(connection):
    try:
        connection.close()
    except Exception:
        pass
    connection.connection = None
