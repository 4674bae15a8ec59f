"""Assessments and status changes in the admin, and the live verdicts the commitment pages show.

A live verdict is computed, never stored: `live_standings` computes the
standings of the agreements a page needs with monitor.verdicts.inputs (a fixed
number of queries for any number of commitments) once per request, so a list
page, its status filter and its rows share one computation.
"""

from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from monitor.accounts.history import AuditedAdmin
from monitor.evidence.publication import VIEW_RESTRICTED, Audience
from monitor.verdicts import inputs
from monitor.verdicts.models import Assessment, StatusChange
from monitor.verdicts.statuses import LABELS


class KeepsRecords:
    """For the admin of what records hang on (a commitment, an agreement, an event, a source).

    Its models PROTECT their records (assessments, status changes, reports), so deleting one that has
    any is refused whoever asks. Django then also lists, as permissions the user lacks, the records no
    one may delete; this says instead why it is refused, naming the records that hold it.
    """

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            perms_needed = set()  # refused all the same: protected, whatever the user's permissions
        return to_delete, model_count, perms_needed, protected


def live_standings(request, agreement_ids):
    """{commitment id: Standing} for these agreements, as of this request, computed at most once per agreement."""
    computed = request.__dict__.setdefault("_live_standings", {})
    as_of = request.__dict__.setdefault("_live_as_of", timezone.now())
    missing = set(agreement_ids) - computed.keys()
    if missing:
        for agreement_id in missing:
            computed[agreement_id] = {}
        for standing in inputs.standings(sorted(missing), as_of=as_of):
            computed[standing.commitment.agreement_id][standing.commitment.pk] = standing
    out = {}
    for agreement_id in agreement_ids:
        out.update(computed.get(agreement_id, {}))
    return out


def public_url(commitment):
    """The commitment's public page, or None while the public pages do not have it."""
    try:
        return reverse("pages:commitment", kwargs={"agreement": commitment.agreement.slug, "key": commitment.key})
    except NoReverseMatch:
        return None


def verdict_html(standing):
    if standing is None:
        return "—"
    label = LABELS.get(standing.status, standing.status)
    mark = _("assessed") if standing.assessed else _("provisional")
    return format_html(
        '<strong class="verdict verdict-{}">{}</strong> <small>({})</small>', standing.status, label, mark
    )


def due_day(standing, time_zone):
    due_at = standing.computed.due_at if standing else None
    if due_at is None:
        return None
    # due_at is the first instant after the due day: the due day is the local day just before it.
    return (due_at - timedelta(microseconds=1)).astimezone(time_zone).date()


def due_text(standing, time_zone):
    day = due_day(standing, time_zone)
    return date_format(day, "j M Y") if day else "—"


def countdown_text(standing):
    if standing is None:
        return "—"
    verdict = standing.computed
    if verdict.days_overdue:
        return ngettext("%(n)d day overdue", "%(n)d days overdue", verdict.days_overdue) % {"n": verdict.days_overdue}
    if verdict.days_left is not None:
        return ngettext("%(n)d day left", "%(n)d days left", verdict.days_left) % {"n": verdict.days_left}
    return "—"


@admin.register(Assessment)
class AssessmentAdmin(AuditedAdmin):
    """Assessments are signed judgements: recorded on the commitment's page, never edited or deleted afterwards.

    Not even by a superuser: a cited "as known at" view shows the assessment that stood then, so
    deleting one would change what it shows. One is undone by recording a withdrawal.
    """

    list_display = ("commitment", "action", "status", "computed_status", "pam_grade", "confidence", "author",
                    "assessed_at")
    list_filter = ("action", "status", "confidence", "commitment__agreement")
    list_select_related = ("commitment", "author")
    search_fields = ("commitment__title", "reason")
    date_hierarchy = "assessed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    """Read-only, for everyone: the record of transitions is append-only (corrections are new rows)."""

    list_display = ("commitment", "party", "old_status", "new_status", "effective_at", "detected_at", "kind")
    list_filter = ("kind", "new_status")
    list_select_related = ("commitment", "party")
    # The evidence and the reason's parameters (a source's name and grade) can name restricted reports:
    # they are shown below the form, narrowed to what this user may see, not as plain fields.
    exclude = ("evidence", "reason_params")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        change = self.get_object(request, unquote(object_id))
        if change is not None:
            audience = Audience(request.user)
            extra_context = {
                **(extra_context or {}),
                "evidence": audience.reports(change.evidence.select_related("source")).order_by("occurred_at"),
                "withheld": change.evidence.count() - audience.reports(change.evidence.all()).count(),
                "reason_params": change.reason_params if request.user.has_perm(VIEW_RESTRICTED) else None,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
