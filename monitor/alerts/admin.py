from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from monitor.alerts import models as am
from monitor.alerts import webhooks
from monitor.alerts.views import sweep_interval_seconds


@admin.register(am.SweepRun)
class SweepRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "trigger", "agreement", "finished_at", "commitments_evaluated", "transitions",
                    "alerts_queued", "drift")
    list_filter = ("trigger",)
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Say it loudly: a monitor whose sweep stopped tells nobody anything.
        now = timezone.now()
        # Beat's ticks, as the health endpoint reads them: re-evaluations would hide a dead schedule.
        last = am.SweepRun.objects.filter(finished_at__isnull=False, trigger=am.BEAT).order_by("-started_at").first()
        interval = sweep_interval_seconds()
        backlog = am.Alert.objects.filter(state=am.PENDING, next_attempt_at__lte=now).count()
        if last is None or (now - last.started_at).total_seconds() > 3 * interval:
            when = last.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if last else _("never")
            messages.error(request, _("The last sweep ran %(when)s: more than three intervals ago. Check Celery beat "
                                      "and the workers.") % {"when": when})
        else:
            messages.info(request, _("Last sweep %(seconds)d s ago.") % {"seconds": (now - last.started_at).total_seconds()})
        messages.info(request, _("Outbox backlog: %(n)d alerts due.") % {"n": backlog})
        return super().changelist_view(request, extra_context)


class SubscriptionForm(forms.ModelForm):
    # The events as the reader's form offers them, as boxes to tick, not a JSON list to type.
    events = forms.MultipleChoiceField(
        label=_("events"), choices=am.EVENT_KINDS, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Corrections always go to whoever got the alert they correct."),
    )

    class Meta:
        model = am.Subscription
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("events") and cleaned.get("delivery") == am.EACH_ALERT:
            raise forms.ValidationError(_("Choose at least one kind of event, or a daily digest: otherwise "
                                          "nothing would ever be sent."))
        return cleaned


@admin.register(am.Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("__str__", "agreement", "commitment", "delivery", "confirmed_at", "unsubscribed_at",
                    "suspended_at")
    list_filter = ("agreement", "delivery")
    list_select_related = ("user", "agreement", "commitment")
    search_fields = ("email", "user__username", "user__email")
    autocomplete_fields = ("commitment",)
    raw_id_fields = ("user",)

    def save_model(self, request, obj, form, change):
        # Staff and addresses entered by an administrator need no email confirmation.
        if obj.confirmed_at is None and (obj.user_id or not change):
            obj.confirmed_at = timezone.now()
        super().save_model(request, obj, form, change)


class DeliveryAttemptInline(admin.TabularInline):
    model = am.DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("started_at", "finished_at", "outcome", "smtp_code", "http_status", "detail")

    def has_add_permission(self, request, obj=None):
        return False


class ChannelFilter(admin.SimpleListFilter):
    title = _("sent by")
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return (("email", _("Email")), ("webhook", _("Webhook")))

    def queryset(self, request, queryset):
        if self.value() == "email":
            return queryset.filter(webhook__isnull=True)
        if self.value() == "webhook":
            return queryset.filter(webhook__isnull=False)
        return queryset


@admin.register(am.Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("subject", "recipient", "event", "state", "attempts", "created_at", "sent_at")
    list_filter = ("state", "event", ChannelFilter)
    list_select_related = ("commitment", "webhook")
    search_fields = ("to_email", "webhook__url", "subject", "key")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in am.Alert._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("to"), ordering="to_email")
    def recipient(self, obj):
        # A webhook's deliveries have no address: the URL they are POSTed to.
        return obj.recipient

    @admin.action(description=_("Send again"))
    def resend(self, request, queryset):
        # A new attempt of the same row: same key, same Message-ID, so a recipient's mail client
        # recognises a copy they already have.
        n = queryset.exclude(state__in=[am.FOLDED, am.HELD]).filter(Q(claimed_until__isnull=True) | Q(
            claimed_until__lt=timezone.now())).update(state=am.PENDING, next_attempt_at=timezone.now(), sent_at=None)
        self.message_user(request, _("%(n)d alerts queued to be sent again.") % {"n": n})


@admin.register(am.Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Analysts and administrators register webhooks here; each one's deliveries are listed on its page.

    The signing secret is shown once, in the message on the page after the one that created the
    webhook, and never again: afterwards only its last characters.
    """

    list_display = ("url", "agreement", "commitment", "owner", "state", "secret_hint", "created_at")
    list_filter = ("agreement",)
    list_select_related = ("agreement", "commitment", "owner")
    search_fields = ("url",)
    autocomplete_fields = ("commitment",)
    actions = ["resume", "pause"]
    DELIVERIES_SHOWN = 50

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("agreement", "commitment", "url")
        return ("agreement", "commitment", "url", "owner", "created_at", "secret_hint", "state", "failing_since",
                "paused_at", "paused_reason", "deliveries")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("owner", "created_at", "secret_hint", "state", "failing_since", "paused_at", "paused_reason",
                "deliveries")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(request, format_html(
                "{} <code>{}</code>",
                _("The signing secret of this webhook, shown only this once: copy it to the receiver now. "
                  "It will not be shown again (a new webhook gets a new one)."),
                obj.secret,
            ))

    @admin.display(description=_("signing secret"))
    def secret_hint(self, obj):
        return _("ends in %(hint)s (shown once, when it was created)") % {"hint": obj.secret_hint}

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.paused_at:
            return _("Paused")
        if obj.failing_since:
            return _("Failing since %(since)s") % {"since": obj.failing_since.strftime("%Y-%m-%d %H:%M UTC")}
        return _("Active")

    @admin.display(description=_("deliveries"))
    def deliveries(self, obj):
        total = obj.deliveries.count()
        if not total:
            return _("None yet.")
        shown = list(
            obj.deliveries.select_related("commitment").prefetch_related("delivery_attempts")
            .order_by("-created_at", "-id")[: self.DELIVERIES_SHOWN]
        )

        def attempts(alert):
            return format_html_join(
                "", "<li>{} {}{} {}</li>",
                ((a.started_at.strftime("%Y-%m-%d %H:%M:%S"), a.get_outcome_display(),
                  f" (HTTP {a.http_status})" if a.http_status else "", a.detail)
                 for a in alert.delivery_attempts.all()),
            ) or format_html("<li>{}</li>", _("not attempted yet"))

        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><ul>{}</ul></td></tr>",
            ((a.created_at.strftime("%Y-%m-%d %H:%M:%S"), a.get_event_display(), a.commitment or "",
              a.get_state_display(), a.key, attempts(a)) for a in shown),
        )
        return format_html(
            "<p>{}</p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("%(shown)d of %(total)d deliveries, the latest first.") % {"shown": len(shown), "total": total},
            _("Queued"), _("Event"), _("Commitment"), _("State"), _("Key (Idempotency-Key)"), _("Attempts"), rows,
        )

    @admin.action(description=_("Resume (and send again what failed meanwhile)"))
    def resume(self, request, queryset):
        resumed, requeued = webhooks.resume(list(queryset), timezone.now())
        self.message_user(request, _("%(n)d webhooks resumed; %(m)d failed deliveries queued to be sent again.")
                          % {"n": resumed, "m": requeued})

    @admin.action(description=_("Pause"))
    def pause(self, request, queryset):
        n = queryset.filter(paused_at__isnull=True).update(
            paused_at=timezone.now(), paused_reason=(_("Paused by %(user)s.") % {"user": request.user})[:300]
        )
        self.message_user(request, _("%(n)d webhooks paused.") % {"n": n})
