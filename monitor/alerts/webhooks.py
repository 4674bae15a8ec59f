"""Webhooks: the same events as email, as signed JSON POSTs through the same outbox.

An analyst or an administrator registers a URL for an agreement, or for one commitment of it
(`Webhook`). The sweep owes it one delivery per (webhook, status change, event), exactly where a
staff subscriber is owed an email (`owed`): a transition, a correction of a withdrawn one, or a
transition that contradicts what the webhook was last told (`corrects` in the body). A delivery is
an outbox row (`Alert.webhook`) whose text is the JSON body, rendered once, so that every retry
sends the same bytes. The sender (monitor.alerts.delivery) claims, locks and retries it like an
email, and calls `send` in place of SMTP:

- headers: `X-Monitor-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the
  webhook's secret>`, `X-Monitor-Timestamp`, and `Idempotency-Key: <the delivery's key>`, the same on
  every attempt, so a receiver that processed a request and then timed out can drop the retry;
- 2xx is accepted; 5xx, 408, 429, timeouts and connection errors are temporary (retried with the
  outbox's backoff); other 4xx, redirects (never followed) and refused addresses are permanent.

"Once" means one acknowledged delivery: a receiver that took a request and did not answer in time
gets it again, under the same Idempotency-Key.

A webhook whose deliveries fail without a single success for MONITOR_WEBHOOK_PAUSE_AFTER_HOURS is
paused by the next sweep, and its owner gets one email (`WEBHOOK_PAUSED`, keyed by the failing
spell). A paused webhook gets no new deliveries; the admin's "Resume" sends the failed ones again.

SSRF guard: only http and https; every address the host resolves to must be public (not loopback,
private, link-local, multicast, reserved or unspecified) unless inside
MONITOR_WEBHOOK_ALLOWED_NETWORKS. Checked when the webhook is registered, and again when sending,
on the addresses resolved then: the connection goes to an address just checked (never a second
resolution), and the socket's peer address is checked before a byte is sent.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import time
from collections import defaultdict
from datetime import UTC, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitor.alerts import messages
from monitor.alerts import models as am
from monitor.verdicts.models import CORRECTION
from monitor.verdicts.statuses import LABELS

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")
USER_AGENT = "compliance-monitor-webhooks/1"

# What makes an address unfit for a webhook, in the order checked (127.0.0.1 is also "private" to
# the ipaddress module; the first, most specific word is the one people recognise).
_UNFIT = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_reserved", "a reserved address"),
    ("is_private", "a private address"),
)


# --- The SSRF guard ------------------------------------------------------------------------------------


class Refused(Exception):
    """A URL or an address no webhook may reach; the message says why."""


def allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.MONITOR_WEBHOOK_ALLOWED_NETWORKS]


def unfit(address):
    """Why an IP address may not be reached, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed_networks()):
        return None
    for attribute, words in _UNFIT:
        if getattr(ip, attribute):
            return words
    if not ip.is_global:  # shared address space (100.64.0.0/10) and the like
        return "not a public address"
    return None


def resolve(host, port):
    """Every address `host` resolves to, in the resolver's order (tests replace this)."""
    found = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = info[4][0]
        if address not in found:
            found.append(address)
    return found


def target(url):
    """(scheme, host, port, path with query) of a webhook URL; raises Refused for what is not http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise Refused(f"{url!r} is not a URL ({e}).") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        what = f"{scheme}: URLs" if scheme else "a URL without a scheme"
        raise Refused(f"Only http and https URLs are allowed, not {what}.")
    if not parts.hostname:
        raise Refused("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise Refused("Put no user name or password in the URL: the signature authenticates each delivery.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def checked_addresses(host, port):
    """The addresses `host` resolves to, each fit to be reached; raises Refused naming one that is not."""
    try:
        ipaddress.ip_address(host)
        addresses = [host]  # an address already: nothing to look up
    except ValueError:
        addresses = None
    try:
        addresses = addresses or resolve(host, port)
    except socket.gaierror as e:
        raise OSError(f"The host {host} could not be resolved ({e.strerror or e}).") from None
    if not addresses:
        raise OSError(f"The host {host} resolves to no address.")
    for address in addresses:
        why = unfit(address)
        if why:
            named = address if address == host else f"{address} (an address of {host})"
            raise Refused(
                f"{named} is {why}: webhooks go to public addresses only, unless MONITOR_WEBHOOK_ALLOWED_NETWORKS "
                "allows it."
            )
    return addresses


def check_url(url):
    """At registration: raises ValidationError saying why a URL may not be a webhook."""
    try:
        scheme, host, port, path = target(url)
        checked_addresses(host, port)
    except (Refused, OSError) as e:
        raise ValidationError(str(e), code="webhook_url") from None


# --- What the sweep owes ---------------------------------------------------------------------------------


def _iso(instant):
    return instant.astimezone(UTC).isoformat() if instant else None


def _label(status):
    return str(LABELS.get(status, status))


def body(key, event, agreement, commitment, old_status, new_status, effective_at, detected_at, kind, assessed,
         corrects):
    """The JSON a receiver gets (docs/operations.md, *Webhooks*)."""
    return json.dumps(
        {
            "key": key,
            "event": event,
            "agreement": {"slug": agreement.slug, "title": agreement.title},
            "commitment": {"key": commitment.key, "title": commitment.title,
                           "url": messages.commitment_url(commitment)},
            "old_status": old_status or None,  # none recorded before: the commitment's first change
            "new_status": new_status,
            "effective_at": _iso(effective_at),
            "detected_at": _iso(detected_at),
            "kind": kind,
            "assessed": assessed,
            "corrects": corrects,
        },
        ensure_ascii=False,
    )


class Delivery:
    """One transition to one webhook. `corrects` (set by `owed`): the delivery it contradicts."""

    historical = False  # never folded into a summary: a machine wants every change, in order
    subscription = None
    corrects = None

    def __init__(self, key, webhook, event, agreement, commitment, change, standing):
        self.key, self.webhook, self.event = key, webhook, event
        self.agreement, self.commitment, self.change, self.standing = agreement, commitment, change, standing

    def build(self):
        c, change = self.commitment, self.change
        if self.corrects is None:
            subject = _("%(status)s: %(commitment)s") % {"status": _label(change.new_status), "commitment": c.title}
        else:
            subject = _("Correction: %(commitment)s is %(status)s") % {
                "commitment": c.title, "status": _label(change.new_status).lower()}
        subject = messages.with_agreement(subject, self.agreement)  # as the email says it, in the outbox list
        return am.Alert(
            key=self.key, event=self.event, webhook=self.webhook, to_email="", commitment=c, status_change=change,
            corrects=self.corrects, subject=subject[:300],
            body_text=body(
                self.key, self.event, self.agreement, c, change.old_status, change.new_status, change.effective_at,
                change.detected_at, change.kind, self.standing.assessed,
                self.corrects.key if self.corrects is not None else None,
            ),
            state=am.PENDING,
        )


class CorrectionDelivery:
    """A delivered status was withdrawn (rejected evidence, an analyst's override): say so, and what holds now.

    old_status is what the original said, new_status the commitment's status now; effective_at is the
    instant the withdrawn status was dated at, detected_at when the monitor withdrew it.
    """

    historical = False
    subscription = None

    def __init__(self, key, original, standing, now):
        self.key, self.original, self.standing, self.now = key, original, standing, now

    def build(self):
        original, c = self.original, self.original.commitment
        withdrawn = original.status_change
        status_now = self.standing.status if self.standing is not None else ""
        subject = _("Correction: %(commitment)s is not %(status)s") % {
            "commitment": c.title, "status": _label(withdrawn.new_status).lower()}
        subject = messages.with_agreement(subject, c.agreement)
        return am.Alert(
            key=self.key, event=am.CORRECTION, webhook=original.webhook, to_email="", commitment=c,
            status_change=withdrawn, corrects=original, subject=subject[:300],
            body_text=body(
                self.key, am.CORRECTION, c.agreement, c, withdrawn.new_status, status_now, withdrawn.effective_at,
                self.now, CORRECTION, bool(self.standing and self.standing.assessed), original.key,
            ),
            state=am.PENDING,
        )


class PausedNotice(messages._Builder):
    """To a webhook's owner: it has been paused."""

    event = am.WEBHOOK_PAUSED
    link_label = gettext_lazy("See the webhook's deliveries and resume it in the admin")

    def __init__(self, key, webhook, agreement, hours):
        super().__init__(key, None, to_email=webhook.owner.email)
        self.webhook, self.agreement, self.hours = webhook, agreement, hours

    def content(self):
        hook = self.webhook
        what = hook.commitment.title if hook.commitment_id else self.agreement.title
        subject = _("Webhook paused: %(url)s") % {"url": hook.url}
        paragraphs = [
            _("Deliveries to %(url)s (alerts about %(what)s) have failed since %(since)s without a single "
              "success, for more than %(hours)s hours, so the monitor has paused this webhook: it gets no new "
              "deliveries.") % {"url": hook.url, "what": what, "hours": f"{self.hours:g}",
                                "since": hook.failing_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")},
            _("Each delivery's attempts, with the receiver's answers, are listed on the webhook's page in the "
              "admin. Once the receiver works, select the webhook there and run “Resume”: the deliveries that "
              "failed meanwhile are sent again, with their original keys."),
        ]
        try:
            link = messages.absolute(reverse("admin:alerts_webhook_change", args=[hook.pk]))
        except NoReverseMatch:
            link = messages.absolute("/")
        return subject, _("Webhook paused"), paragraphs, link


def delivery_key(webhook_id, commitment_id, event, change_id):
    """One delivery per (webhook, status change, event), like transition_key for an address."""
    return f"wh{webhook_id}:c{commitment_id}:{event}:sc{change_id}"


def owed(now, commitments, standings, latest, withdrawn, agreements):
    """(key, builder) pairs: what the active webhooks of these agreements are owed now, and pause notices.

    A fixed number of queries whatever the number of commitments and webhooks: the webhooks, and when
    there are any, the keys that already exist, the last delivery about each commitment, the
    deliveries to correct, and (rarely) one update pausing those failing too long.
    """
    from monitor.alerts.sweep import ADVERSE_EVENTS, RECOVERY_EVENTS, _event_for

    hooks = list(
        am.Webhook.objects.filter(agreement__in=list(agreements), paused_at__isnull=True)
        .select_related("owner", "commitment").order_by("id")
    )
    if not hooks:
        return []
    hooks, out = _pause_failing(now, hooks, agreements)
    by_agreement = defaultdict(list)
    for hook in hooks:
        by_agreement[hook.agreement_id].append(hook)

    transitions = []
    for c in commitments:
        change = latest.get(c.id)
        if change is None or not by_agreement.get(c.agreement_id):
            continue
        event = _event_for(change)
        # As for email: a correction says so through its own delivery (below), and a change an analyst
        # has already overridden is not news.
        if not event or change.kind == CORRECTION or change.id in withdrawn:
            continue
        for hook in by_agreement[c.agreement_id]:
            if hook.commitment_id not in (None, c.id) or hook.created_at > change.detected_at:
                continue  # another commitment's, or registered after it happened: not news to it
            key = delivery_key(hook.id, c.id, event, change.id)
            transitions.append(
                (key, Delivery(key, hook, event, agreements[c.agreement_id], c, change, standings[c.id]))
            )
    _say_what_they_correct(transitions, [*ADVERSE_EVENTS.values(), *RECOVERY_EVENTS.values(), am.CORRECTION])
    return out + transitions + _corrections(now, withdrawn, standings, {h.id: h for h in hooks})


def _say_what_they_correct(transitions, said_events):
    """Mark each new delivery that contradicts what its webhook was last told about that commitment.

    As for email (sweep._say_what_they_correct): a transition dated at or before the change behind the
    last delivery a webhook got (or will get) about a commitment rewrites it.
    """
    if not transitions:
        return
    keys = [key for key, _ in transitions]
    existing = set()
    for start in range(0, len(keys), 5000):
        existing.update(am.Alert.objects.filter(key__in=keys[start : start + 5000]).values_list("key", flat=True))
    new = [builder for key, builder in transitions if key not in existing]
    if not new:
        return
    said = am.Alert.objects.filter(
        webhook__in={b.webhook.id for b in new}, commitment__in={b.commitment.id for b in new},
        status_change__isnull=False, event__in=said_events, state__in=[am.PENDING, am.SENT, am.FOLDED],
    )
    last_ids = said.values("webhook", "commitment").annotate(last=Max("id")).values("last")
    last_word = {
        (a.webhook_id, a.commitment_id): a
        for a in am.Alert.objects.filter(id__in=last_ids).select_related("status_change")
    }
    for builder in new:
        word = last_word.get((builder.webhook.id, builder.commitment.id))
        if word is not None and builder.change.effective_at <= word.status_change.effective_at:
            builder.corrects = word


def _corrections(now, withdrawn, standings, hooks):
    """A correction for each delivery of a withdrawn change that went, or is going, to an active webhook.

    The sweep's own `_corrections` ran first and cancelled the unsent ones.
    """
    if not withdrawn or not hooks:
        return []
    originals = (
        am.Alert.objects.filter(status_change__in=withdrawn, webhook__in=list(hooks), corrects__isnull=True)
        .exclude(state=am.CANCELLED).exclude(event__in=[am.SUMMARY, am.CORRECTION])
        .select_related("commitment__agreement", "status_change")
    )
    owed = []
    for original in originals:
        original.webhook = hooks[original.webhook_id]
        key = f"{original.key}:correction"
        owed.append((key, CorrectionDelivery(key, original, standings.get(original.commitment_id), now)))
    return owed


def _pause_failing(now, hooks, agreements):
    """Pause the webhooks failing for too long: (the others, a notice to each paused one's owner)."""
    hours = settings.MONITOR_WEBHOOK_PAUSE_AFTER_HOURS
    if not hours:
        return hooks, []
    delay = timedelta(hours=hours)
    failing = [h for h in hooks if h.failing_since is not None and now - h.failing_since >= delay]
    if not failing:
        return hooks, []
    reason = _("No delivery accepted for %(hours)s hours: paused by the monitor.") % {"hours": f"{hours:g}"}
    am.Webhook.objects.filter(pk__in=[h.id for h in failing], paused_at__isnull=True).update(
        paused_at=now, paused_reason=reason[:300]
    )
    notices = []
    for hook in failing:
        hook.paused_at, hook.paused_reason = now, reason
        log.warning("Webhook %s (%s) paused: failing since %s", hook.pk, hook.url, hook.failing_since)
        if hook.owner is None or not hook.owner.email:
            continue  # nobody to tell; the admin lists it as paused
        key = f"webhook_paused:wh{hook.id}:{hook.failing_since.isoformat()}"  # once per failing spell
        notices.append((key, PausedNotice(key, hook, agreements[hook.agreement_id], hours)))
    paused = {h.id for h in failing}
    return [h for h in hooks if h.id not in paused], notices


# --- Sending -------------------------------------------------------------------------------------------


def signature(secret, timestamp, payload):
    """`sha256=<hex>`: HMAC-SHA256 of "<timestamp>.<body>" keyed with the webhook's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def timeout():
    # Half the lease at most: the sender renewed the row's lease just before this send, so the row is
    # still this sender's when the receiver's answer (or the timeout) comes.
    return min(settings.MONITOR_WEBHOOK_TIMEOUT_SECONDS, settings.MONITOR_SEND_LEASE_SECONDS / 2)


def headers(alert, payload, timestamp):
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Monitor-Event": alert.event,
        "X-Monitor-Timestamp": timestamp,
        "X-Monitor-Signature": signature(alert.webhook.secret, timestamp, payload),
        # The same on every attempt: a receiver that processed a request, then timed out, drops the retry.
        "Idempotency-Key": alert.key,
    }


def send(alert):
    """POST one delivery to its webhook: (outcome, HTTP status or None, a short detail)."""
    hook = alert.webhook
    if hook.paused_at is not None:
        return am.PERMANENT, None, _("Not sent: the webhook is paused (%(reason)s). Resuming it sends this again.") % {
            "reason": hook.paused_reason or _("by hand")}
    payload = alert.body_text.encode()
    seconds = timeout()
    try:
        scheme, host, port, path = target(hook.url)
        addresses = checked_addresses(host, port)
        connection = _connect(scheme, host, port, addresses, seconds)
        try:
            connection.request("POST", path, body=payload, headers=headers(alert, payload, str(int(time.time()))))
            response = connection.getresponse()
            status, reason = response.status, response.reason
            location = response.getheader("Location", "")
            text = response.read(200).decode(errors="replace").strip()
        finally:
            connection.close()
    except Refused as e:
        return am.PERMANENT, None, f"Refused: {e}"
    except TimeoutError:
        return am.TEMPORARY, None, f"Timed out: no answer within {seconds:g} s."
    except (OSError, http.client.HTTPException) as e:  # refused connection, TLS, a connection dropped mid-answer
        return am.TEMPORARY, None, f"{type(e).__name__}: {e}"[:500]
    detail = f"HTTP {status} {reason}" + (f": {text}" if text else "")
    if 200 <= status < 300:
        return am.ACCEPTED, status, detail[:500]
    if 300 <= status < 400:
        return am.PERMANENT, status, (
            f"HTTP {status} {reason}: redirects are not followed (to {location or 'nowhere'}); register the URL "
            "that answers.")[:500]
    if status >= 500 or status in (408, 429):
        return am.TEMPORARY, status, detail[:500]
    return am.PERMANENT, status, detail[:500]


def _connect(scheme, host, port, addresses, seconds):
    """An open connection to one of `addresses` (already checked), never to a second resolution of `host`.

    The Host header, TLS's server name and certificate check use `host`; the socket goes to the address.
    """
    last = None
    for address in addresses:
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        connection = cls(host, port, timeout=seconds)

        def create(_named, seconds, source_address=None, address=address):
            return socket.create_connection((address, port), seconds, source_address)

        connection._create_connection = create
        try:
            connection.connect()
        except TimeoutError:
            raise
        except OSError as e:
            last = e
            connection.close()
            continue
        peer = connection.sock.getpeername()[0]
        why = unfit(peer)
        if why:  # cannot happen unless the socket went elsewhere than asked; checked all the same
            connection.close()
            raise Refused(f"connected to {peer}, {why}.")
        return connection
    raise last


def record(alert, outcome, at):
    """After an attempt: a success ends the webhook's failing spell, a failure starts one if none is running."""
    if alert.webhook.paused_at is not None:
        return  # not attempted
    hooks = am.Webhook.objects.filter(pk=alert.webhook_id)
    if outcome == am.ACCEPTED:
        hooks.filter(failing_since__isnull=False).update(failing_since=None)
    else:
        hooks.filter(failing_since__isnull=True).update(failing_since=at)


def resume(webhooks, now):
    """Resume paused webhooks; the deliveries that failed for good since each began failing go again.

    Returns (webhooks resumed, deliveries queued again). A delivery sent again keeps its key, so a
    receiver that did get it drops the copy.
    """
    resumed = requeued = 0
    for hook in webhooks:
        if hook.paused_at is None:
            continue
        since = hook.failing_since or hook.paused_at
        ids = list(
            am.Alert.objects.filter(webhook=hook, state=am.FAILED, delivery_attempts__started_at__gte=since)
            .values_list("id", flat=True).distinct()
        )
        requeued += am.Alert.objects.filter(id__in=ids, state=am.FAILED).update(
            state=am.PENDING, next_attempt_at=now, claimed_until=None, attempts=0, last_error=""
        )
        resumed += am.Webhook.objects.filter(pk=hook.pk, paused_at__isnull=False).update(
            paused_at=None, paused_reason="", failing_since=None
        )
    return resumed, requeued
