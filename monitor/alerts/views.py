from datetime import timedelta

from django import forms
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from monitor.alerts import messages
from monitor.alerts import models as am
from terms.models import Agreement

CONFIRM_MAX_AGE = timedelta(days=7)


class SubscribeForm(forms.Form):
    email = forms.EmailField(label=_("Your email address"))
    commitment = forms.CharField(required=False, widget=forms.HiddenInput)
    digest = forms.BooleanField(required=False, label=_("Also send me a daily digest"))


def _signups_rate(group, request):
    return f"{settings.MONITOR_SIGNUPS_PER_HOUR}/h"


@require_POST
@ratelimit(key="ip", rate=_signups_rate, block=False)
def subscribe(request, agreement):
    """Double opt-in: nothing is sent but the confirmation until the link in it is opened.

    The answer is the same whether or not the address was already subscribed, so the form
    cannot be used to learn who follows what.
    """
    agreement = get_object_or_404(Agreement, slug=agreement)
    if getattr(request, "limited", False):
        return render(request, "alerts/message.html", {"title": _("Too many sign-ups"), "text": _(
            "Too many sign-ups from your address in the last hour. Please try again later.")}, status=429)
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return render(request, "alerts/message.html", {"title": _("Please check the address"),
                                                       "text": form.errors.as_text()}, status=400)
    commitment = None
    if form.cleaned_data["commitment"]:
        commitment = get_object_or_404(agreement.commitments, key=form.cleaned_data["commitment"])
    with transaction.atomic():
        sub, created = am.Subscription.objects.get_or_create(
            email=form.cleaned_data["email"].strip().lower(), agreement=agreement, commitment=commitment,
            defaults={"wants_digest": form.cleaned_data["digest"]},
        )
        if sub.confirmed_at is None or sub.unsubscribed_at is not None:
            # One confirmation per sign-up request, keyed by time so a repeat sign-up gets a fresh link.
            key = f"confirm:{sub.pk}:{timezone.now().isoformat()}"
            messages.Confirmation(key, sub).build().save()
            transaction.on_commit(_send_soon)
    return render(request, "alerts/message.html", {"title": _("Check your inbox"), "text": _(
        "If the address is right, a message with a confirmation link is on its way.")})


def _send_soon():
    from monitor.alerts.sweep import _enqueue
    from monitor.alerts.tasks import send_alerts

    _enqueue(send_alerts)


def confirm(request, token):
    try:
        pk = signing.loads(token, salt=messages.CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        raise Http404("This confirmation link is not valid or has expired.")
    sub = get_object_or_404(am.Subscription, pk=pk)
    now = timezone.now()
    am.Subscription.objects.filter(pk=pk).update(confirmed_at=now, unsubscribed_at=None)
    return render(request, "alerts/message.html", {"title": _("Subscribed"), "text": _(
        "You will get an email when a commitment of %(what)s is missed or breached.") % {
        "what": sub.commitment.title if sub.commitment_id else sub.agreement.title}})


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
    last = am.SweepRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    interval = sweep_interval_seconds()
    age = (now - last.started_at).total_seconds() if last else None
    stale = age is None or age > 3 * interval
    backlog = am.Alert.objects.filter(state=am.PENDING, next_attempt_at__lte=now).count()
    data = {
        "status": "stale" if stale else "ok",
        "sweep_interval_seconds": interval,
        "last_sweep": None if last is None else {
            "started_at": last.started_at.isoformat(),
            "finished_at": last.finished_at.isoformat(),
            "age_seconds": round(age, 1),
            "commitments_evaluated": last.commitments_evaluated,
            "transitions": last.transitions,
            "alerts_queued": last.alerts_queued,
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
