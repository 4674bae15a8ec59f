from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitor.alerts import models as am
from monitor.alerts.views import sweep_interval_seconds


@admin.register(am.SweepRun)
class SweepRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "trigger", "finished_at", "commitments_evaluated", "transitions", "alerts_queued")
    list_filter = ("trigger",)
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Say it loudly: a monitor whose sweep stopped tells nobody anything.
        now = timezone.now()
        last = am.SweepRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
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


@admin.register(am.Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "agreement", "commitment", "confirmed_at", "unsubscribed_at", "suspended_at")
    list_filter = ("agreement",)
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
    readonly_fields = ("started_at", "finished_at", "outcome", "smtp_code", "detail")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(am.Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("subject", "to_email", "event", "state", "attempts", "created_at", "sent_at")
    list_filter = ("state", "event")
    list_select_related = ("commitment",)
    search_fields = ("to_email", "subject", "key")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in am.Alert._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send again"))
    def resend(self, request, queryset):
        # A new attempt of the same row: same key, same Message-ID, so a recipient's mail client
        # recognises a copy they already have.
        n = queryset.exclude(state__in=[am.FOLDED]).filter(Q(claimed_until__isnull=True) | Q(
            claimed_until__lt=timezone.now())).update(state=am.PENDING, next_attempt_at=timezone.now(), sent_at=None)
        self.message_user(request, _("%(n)d alerts queued to be sent again.") % {"n": n})
