import hashlib
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from monitor.alerts import messages
from monitor.alerts import models as am
from terms.models import Agreement

CONFIRM_MAX_AGE = timedelta(days=7)


class SubscribeForm(forms.Form):
    """What a reader chooses on the sign-up form (templates/pages/includes/subscribe.html).

    Which kinds of event to hear of (`events`, am.EVENT_KINDS: all ticked at first) and how: each alert
    as it happens, one daily digest instead, or both (`delivery`, am.DELIVERIES). A correction always
    goes to whoever got what it corrects: a subscriber who was told "missed" hears if it is withdrawn,
    whatever they chose since. Reminders come on the days `MONITOR_DEFAULT_REMINDER_DAYS` says.
    """

    email = forms.EmailField(label=_("Your email address"), max_length=254, error_messages={
        "required": _("Enter the address the alerts should go to."),
        "invalid": _("Enter a whole email address, such as name@example.org."),
    })
    # A commitment's key; empty for every commitment of the agreement.
    commitment = forms.CharField(required=False, max_length=200)
    # The empty choice is the hidden field's (clean_events); an unknown kind is refused by name.
    events = forms.MultipleChoiceField(required=False, choices=[("", "")] + list(am.EVENT_KINDS), error_messages={
        "invalid_choice": _("“%(value)s” is not a kind of event this form offers: choose among those listed."),
    })
    delivery = forms.CharField(required=False, max_length=20)

    def __init__(self, *args, agreement, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement

    def clean_commitment(self):
        key = self.cleaned_data["commitment"].strip()
        if not key:
            return None
        commitment = self.agreement.commitments.filter(key=key).first()
        if commitment is None:
            raise forms.ValidationError(
                _("%(agreement)s has no commitment “%(key)s”: choose one from the list.")
                % {"agreement": self.agreement.title, "key": key})
        return commitment

    def clean_events(self):
        # The form sends an empty `events` from a hidden field before the boxes, so unticking every box
        # still says so. A POST without the field at all (made by hand, or the form of before, which had
        # a box for reminders only) gets every kind, as every subscription did before readers could choose.
        if "events" not in self.data:
            legacy_no_reminders = self.data.getlist("reminders") == ["false"]
            return [k for k in am.every_event_kind() if not (legacy_no_reminders and k == am.REMINDERS)]
        return [kind for kind in self.cleaned_data["events"] if kind]

    def clean_delivery(self):
        value = self.cleaned_data["delivery"].strip()
        if not value:
            # A POST without it: each alert, and the digest too if the form of before asked for it.
            return am.EACH_AND_DIGEST if self.data.get("digest") == "on" else am.EACH_ALERT
        if value not in dict(am.DELIVERIES):
            raise forms.ValidationError(
                _("“%(value)s” is not a way of sending this form offers: choose each alert, a daily digest "
                  "instead, or both.") % {"value": value})
        return value

    def clean(self):
        cleaned = super().clean()
        if "events" in cleaned and not cleaned["events"] and cleaned.get("delivery") == am.EACH_ALERT:
            self.add_error("events", _("Choose at least one kind of event, or a daily digest: otherwise nothing "
                                       "would ever be sent."))
        return cleaned

    def choices(self):
        """What the subscription keeps of the choices made (valid forms only)."""
        events = self.cleaned_data["events"]
        return {"events": events, "delivery": self.cleaned_data["delivery"],
                "reminder_days": am.default_reminder_days() if am.REMINDERS in events else []}

    @property
    def events_ticked(self):
        """The kinds ticked as the form is shown: all at first, then those sent."""
        if not self.is_bound:
            return am.every_event_kind()
        return [v for v in self.data.getlist("events") if v] if "events" in self.data else am.every_event_kind()

    @property
    def delivery_chosen(self):
        value = self["delivery"].value() if self.is_bound else None
        return value if value in dict(am.DELIVERIES) else am.EACH_ALERT


def _signups_rate(group, request):
    return f"{settings.MONITOR_SIGNUPS_PER_HOUR}/h"


# Not CSRF-protected, on purpose: the form is on the public pages, which are cached and served alike to
# every anonymous reader (monitor/pages/cache.py), so they cannot carry one reader's CSRF token (a page
# that asks for one is never cached: cacheable_response). Nothing here rests on who sends the form:
# it reads no session or login, and a forged POST can do no more than anyone can do by posting it
# themselves, which is to ask for a confirmation email. What keeps that safe is the double opt-in
# (nothing but the confirmation is sent until its owner presses "Confirm", a POST that is
# CSRF-protected) and the two limits below, per client and per inbox, which hold whoever sends it.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_signups_rate, method="POST", block=False)
def subscribe(request, agreement):
    """GET: the sign-up form. POST: a double opt-in, where nothing is sent but the confirmation until the
    link in it is opened and confirmed.

    Two limits keep the form from flooding an inbox: sign-ups per client address and hour
    (`MONITOR_SIGNUPS_PER_HOUR`, a 429 that speaks of the client only), and confirmation emails per
    recipient and day (`MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY`), whatever the number of clients.
    The answer is byte for byte the same whether the address is new, already subscribed or over its
    limit, so the form cannot be used to learn who follows what.
    """
    agreement = get_object_or_404(Agreement, slug=agreement)
    if request.method == "GET":
        commitment = agreement.commitments.filter(key=request.GET.get("commitment", "")).first()
        return _form_page(request, agreement, SubscribeForm(agreement=agreement), commitment)
    if getattr(request, "limited", False):
        return render(request, "alerts/message.html", {"title": _("Too many sign-ups"), "text": _(
            "Too many sign-ups from your address in the last hour. Please try again later.")}, status=429)
    form = SubscribeForm(request.POST, agreement=agreement)
    if not form.is_valid():
        return _form_page(request, agreement, form, None, status=400)
    commitment = form.cleaned_data["commitment"]
    email = form.cleaned_data["email"].strip().lower()
    choices = form.choices()
    inbox = _inbox(email)
    with transaction.atomic():
        _lock_inbox(inbox)
        sub, created = am.Subscription.objects.get_or_create(
            email=email, agreement=agreement, commitment=commitment, defaults=choices,
        )
        if not created and not sub.active and sub.suspended_at is None:
            # Signing up again for what one does not receive (never confirmed, or stopped): the new
            # choices are the ones the next confirmation confirms. Those of a subscription in use are
            # changed by no one but its subscriber, and the answer below says nothing either way.
            am.Subscription.objects.filter(pk=sub.pk).update(**choices)
            for field, value in choices.items():
                setattr(sub, field, value)
        now = timezone.now()
        if (sub.confirmed_at is None or sub.unsubscribed_at is not None) and (
            _confirmations_sent(inbox, since=now - timedelta(days=1))
            < settings.MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY
        ):
            # One confirmation per sign-up request, keyed by time so a repeat sign-up gets a fresh link.
            key = f"confirm:{sub.pk}:{now.isoformat()}"
            messages.Confirmation(key, sub).build().save()
            transaction.on_commit(_send_soon)
    return render(request, "alerts/message.html", {"title": _("Check your inbox"), "text": _(
        "If the address is right, a message with a confirmation link is on its way. None is sent to an "
        "address that already gets these alerts, nor more than %(n)s a day to one address, so that no one "
        "can fill someone else's inbox: if nothing arrives, try again tomorrow.")
        % {"n": settings.MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY},
        "link": _followed_page_of(agreement, commitment),
        "link_text": _("Back to %(what)s") % {"what": commitment.title if commitment else agreement.title}})


def _form_page(request, agreement, form, commitment, status=200):
    # The form as sent, with its errors (templates/pages/includes/subscribe.html), and the commitment chosen.
    chosen = form["commitment"].value() if form.is_bound else (commitment.key if commitment else "")
    context = {"agreement": agreement, "subscribe_form": form, "subscribe_key": chosen}
    # The page of its own lists every commitment to choose from; the agreement's and a commitment's
    # pages offer the agreement, or the agreement and that commitment.
    context["commitments"] = list(agreement.commitments.order_by("position", "id").only("key", "title", "agreement_id"))
    return render(request, "alerts/subscribe.html", context, status=status)


# Advisory lock namespace (the two-key form, apart from the sweep's one-key lock): one sign-up at a
# time decides whether an inbox gets another confirmation, so concurrent sign-ups cannot overshoot.
INBOX_LOCK = 0x5167


def _inbox(address):
    """(local part, domain) of the inbox an address reaches: name+tag@ is delivered to name@ (RFC 5233)."""
    local, _at, domain = address.rpartition("@")
    return local.split("+", 1)[0], domain


def _lock_inbox(inbox):
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256("@".join(inbox).encode()).digest()[:4], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::int4, %s::int4)", [INBOX_LOCK, key])
    # SQLite serialises writers itself.


def _confirmations_sent(inbox, since):
    """Confirmation emails queued for this inbox since `since`, to any of its addresses and subscriptions."""
    local, domain = inbox
    to_inbox = Q(to_email=f"{local}@{domain}") | Q(to_email__startswith=f"{local}+", to_email__endswith=f"@{domain}")
    return am.Alert.objects.filter(to_inbox, event=am.CONFIRM_SUBSCRIPTION, created_at__gt=since).count()


def _send_soon():
    from monitor.alerts.sweep import _enqueue
    from monitor.alerts.tasks import send_alerts

    _enqueue(send_alerts)


def _what(sub):
    return sub.commitment.title if sub.commitment_id else sub.agreement.title


def _followed_page(sub):
    """The public page of what the subscription follows (the monitor's front page without the public pages)."""
    return _followed_page_of(sub.agreement, sub.commitment if sub.commitment_id else None)


def _followed_page_of(agreement, commitment):
    try:
        if commitment is not None:
            return reverse("pages:commitment", kwargs={"agreement": agreement.slug, "key": commitment.key})
        return reverse("pages:agreement", kwargs={"agreement": agreement.slug})
    except NoReverseMatch:
        return "/"


def _link_spent(request, sub):
    """A link made for a state the subscription has left: it was confirmed, or unsubscribed, since."""
    if sub is not None and sub.confirmed_at is not None and sub.unsubscribed_at is None:
        # Opened or pressed twice (or an older link after a newer one): nothing to do, and nothing is wrong.
        return render(request, "alerts/message.html", {"title": _("Already confirmed"), "subscription": sub, "text": _(
            "This subscription is already confirmed.")})
    context = {"title": _("This link is no longer valid"), "text": _(
        "This confirmation link has expired, or its subscription was stopped or sent a newer link since, so it "
        "confirms nothing. To get these alerts, sign up again with your email address: a new confirmation link "
        "will be sent to you.")}
    if sub is not None:
        context.update(link=_followed_page(sub), link_text=_("Go to %(what)s") % {"what": _what(sub)})
    return render(request, "alerts/message.html", context, status=410)


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """A GET shows one button; only its POST (with the CSRF token) confirms.

    Mail systems' link scanners open every link, and must not subscribe anyone. A link is made for the
    subscription's state when it was sent (`messages.confirmation_state`): once the subscription is
    confirmed or unsubscribed, every earlier link is void.
    """
    try:
        pk, state = messages.read_confirm_token(token, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired:
        return _link_spent(request, None)
    except signing.BadSignature:
        raise Http404("This confirmation link is not valid.") from None
    if request.method == "GET":
        sub = get_object_or_404(am.Subscription, pk=pk)
        if state != messages.confirmation_state(sub):
            return _link_spent(request, sub)
        return render(request, "alerts/confirm.html", {"subscription": sub})
    with transaction.atomic():
        sub = am.Subscription.objects.select_for_update().filter(pk=pk).first()
        if sub is None:
            raise Http404("This confirmation link is not valid.")
        if state != messages.confirmation_state(sub):
            return _link_spent(request, sub)
        sub.confirmed_at, sub.unsubscribed_at = timezone.now(), None
        sub.save(update_fields=["confirmed_at", "unsubscribed_at"])
    return render(request, "alerts/message.html", {"title": _("Subscribed"), "subscription": sub, "text": _(
        "Your subscription is confirmed. Each email has a link to stop them.")})


@csrf_exempt  # RFC 8058 one-click unsubscribe POSTs come from mail clients, not from our forms
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        pk = signing.loads(token, salt=messages.UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise Http404("This unsubscribe link is not valid.")
    sub = get_object_or_404(am.Subscription, pk=pk)
    if request.method == "POST":
        am.Subscription.objects.filter(pk=pk, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now())
        return render(request, "alerts/message.html", {"title": _("Unsubscribed"), "text": _(
            "You will get no more emails from this subscription.")})
    # A GET only asks: link scanners in mail systems open every link and must not unsubscribe anyone.
    return render(request, "alerts/unsubscribe.html", {"subscription": sub})


def health(request):
    """Last sweep and outbox backlog; 503 when the last sweep is older than three intervals."""
    now = timezone.now()
    # Beat's sweeps only: re-evaluations queued by saved reports would keep a dead schedule looking alive.
    last = am.SweepRun.objects.filter(finished_at__isnull=False, trigger=am.BEAT).order_by("-started_at").first()
    interval = sweep_interval_seconds()
    age = (now - last.started_at).total_seconds() if last else None
    stale = age is None or age > 3 * interval
    backlog = am.Alert.objects.filter(state=am.PENDING, next_attempt_at__lte=now).count()
    # The nightly check's runs of the last day (one per agreement): any drift it found and fixed.
    checks = list(am.SweepRun.objects.filter(trigger=am.CHECK, finished_at__isnull=False,
                                             started_at__gte=now - timedelta(days=1)).order_by("started_at"))
    drift = sum(c.drift for c in checks)
    data = {
        "status": "stale" if stale else "drift" if drift else "ok",
        "sweep_interval_seconds": interval,
        "last_sweep": None if last is None else {
            "started_at": last.started_at.isoformat(),
            "finished_at": last.finished_at.isoformat(),
            "age_seconds": round(age, 1),
            "commitments_evaluated": last.commitments_evaluated,
            "transitions": last.transitions,
            "alerts_queued": last.alerts_queued,
        },
        "last_check": None if not checks else {
            "started_at": checks[0].started_at.isoformat(),
            "agreements": len({c.agreement_id for c in checks}),
            "drift": drift,
            "drifted_commitments": sorted({i for c in checks for i in c.drifted})[:100],
        },
        "outbox_backlog": backlog,
        "outbox_failed": am.Alert.objects.filter(state=am.FAILED).count(),
    }
    return JsonResponse(data, status=503 if stale else 200)


def sweep_interval_seconds():
    """The interval an administrator set for the sweep in the admin (django-celery-beat)."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.filter(task="monitor.sweep", enabled=True).select_related("interval").first()
    if task and task.interval:
        return task.interval.every * {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}.get(
            task.interval.period, 1)
    return settings.MONITOR_SWEEP_INTERVAL_SECONDS
