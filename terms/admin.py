"""Agreements, parties and commitments in the admin; a commitment's live verdict and its assessments.

The commitment list shows each commitment's verdict as of now, computed for the
agreements of the page's rows in one pass (monitor.verdicts.admin.live_standings),
so the page's query count does not grow with its rows. Filtering by verdict
computes the verdicts of every agreement the other filters leave: fine for tens
of agreements; narrow by agreement first when there are hundreds.
"""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, Prefetch
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from monitor.accounts.history import AuditedAdmin
from monitor.evidence.importing import exports
from monitor.evidence.models import RESTRICTED, Report
from monitor.verdicts.admin import KeepsRecords, countdown_text, due_text, live_standings, public_url, verdict_html
from monitor.verdicts.models import CONFIRM, OVERRIDE, WITHDRAW, Assessment
from monitor.verdicts.statuses import LABELS, STATUSES
from terms.models import Agreement, Commitment, Milestone, Party, PartyName, Provision
from terms.revisions_admin import (
    CommitmentRevisionFormSet,
    JudgedChangeForm,
    RevisedAgreementAdmin,
    RevisedCommitmentAdmin,
)


class PartyNameInline(admin.TabularInline):
    model = PartyName
    extra = 1


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "names__name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [PartyNameInline]


class CommitmentInline(admin.TabularInline):
    model = Commitment
    fk_name = "agreement"
    # A judged edit of a cited commitment needs a revision reason (terms.revisions_admin).
    form = JudgedChangeForm
    formset = CommitmentRevisionFormSet
    extra = 0
    show_change_link = True
    fields = ("position", "key", "title", "kind", "owed_by", "tracked", "needs_review")
    autocomplete_fields = ("owed_by",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("owed_by")


class ProvisionInline(admin.TabularInline):
    """The text's provisions with their class, editable on the agreement; the full form is the provision's own."""

    model = Provision
    extra = 0
    show_change_link = True
    fields = ("position", "number", "ref", "status", "reason", "category")


@admin.register(Agreement)
class AgreementAdmin(RevisedAgreementAdmin, KeepsRecords, AuditedAdmin):
    list_display = ("title", "state", "signed_on", "time_zone", "commitment_count")
    list_filter = ("state",)
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("parties", "non_party_actors")
    inlines = [CommitmentInline, ProvisionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(commitment_count=Count("commitments"))

    @admin.display(description=_("commitments"), ordering="commitment_count")
    def commitment_count(self, obj):
        return obj.commitment_count


class VerdictFilter(admin.SimpleListFilter):
    """Filter by live verdict: computed for every agreement the other filters leave (see the module's note)."""

    title = _("verdict")
    parameter_name = "verdict"

    def lookups(self, request, model_admin):
        return STATUSES

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        agreements = set(queryset.order_by().values_list("agreement_id", flat=True).distinct())
        standings = live_standings(request, agreements)
        return queryset.filter(pk__in=[pk for pk, s in standings.items() if s.status == self.value()])


class LiveVerdictChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        standings = live_standings(request, {c.agreement_id for c in self.result_list})
        for commitment in self.result_list:
            commitment.standing = standings.get(commitment.pk)


class AssessmentHistoryInline(admin.TabularInline):
    """Every assessment of the commitment (withdrawals too), newest first; read-only, as signed judgements are."""

    model = Assessment
    extra = 0
    can_delete = False
    verbose_name_plural = _("assessments so far")
    fields = ("assessed_at", "author", "action", "computed_status", "status", "pam_grade", "confidence", "reason")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NewAssessmentForm(forms.ModelForm):
    """An analyst's assessment of the verdict computed now (`computed_status`, set per request).

    A withdrawal is recorded like the others: it names the status of the assessment that stood (the
    one it withdraws) and, afterwards, no assessment stands until the next one.
    """

    computed_status = None  # set on the subclass made for the request
    standing = None  # the assessment covering the verdict now, if one does (set likewise)
    seen_status = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Assessment
        fields = ("action", "status", "pam_grade", "confidence", "reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].required = False
        self.fields["status"].help_text = _("Only for an override: the status you assert instead.")
        self.fields["action"].initial = CONFIRM
        self.fields["action"].help_text = _(
            "To withdraw: the assessment covering the verdict stops standing, and the computed verdict is "
            "provisional again. Nothing is deleted: the withdrawal is listed with the assessments, and a view "
            "as known at an earlier date still shows the assessment it withdrew."
        )
        self.fields["seen_status"].initial = self.computed_status

    def has_changed(self):
        # An untouched blank form is not an assessment; a reason is what makes it one.
        return bool(self.data.get(self.add_prefix("reason"), "").strip()) if self.is_bound else False

    def clean(self):
        data = super().clean()
        # Before the model's own clean(), which checks that a confirmation keeps the computed status.
        self.instance.computed_status = self.computed_status
        seen = data.get("seen_status")
        if seen and seen != self.computed_status:
            raise forms.ValidationError(
                _("The computed verdict changed from %(seen)s to %(now)s while you were assessing it; look again.")
                % {"seen": LABELS.get(seen, seen), "now": LABELS.get(self.computed_status, self.computed_status)}
            )
        if data.get("action") == CONFIRM:
            data["status"] = self.computed_status
        elif data.get("action") == WITHDRAW:
            if self.standing is None:
                raise forms.ValidationError(_("No assessment covers the verdict shown: there is nothing to withdraw."))
            data["status"] = self.standing.status  # what is withdrawn
            data["pam_grade"] = None  # a withdrawal grades nothing
        elif data.get("action") == OVERRIDE:
            if not data.get("status"):
                self.add_error("status", _("An override needs the status you assert."))
            elif data["status"] == self.computed_status:
                self.add_error("status", _("That is the computed status: confirm it instead."))
        return data


class NewAssessmentInline(admin.StackedInline):
    """The assessment form, drawn at the top of the page beside the verdict it judges (the change form template)."""

    model = Assessment
    beside_verdict = True  # read by templates/admin/terms/commitment/change_form.html
    form = NewAssessmentForm
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = _("new assessment")
    verbose_name_plural = _("record an assessment of the verdict shown above")

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        standing = live_standings(request, [obj.agreement_id]).get(obj.pk) if obj else None
        status = standing.computed.status if standing else None
        covering = standing.assessment if standing and standing.assessed else None
        kwargs["form"] = type("NewAssessmentForm", (NewAssessmentForm,), {"computed_status": status,
                                                                          "standing": covering})
        return super().get_formset(request, obj, **kwargs)


# The reports relied on, listed beside the assessment form; a ceiling breached on hundreds of days says how many more.
EVIDENCE_LISTED = 10


@admin.register(Commitment)
class CommitmentAdmin(RevisedCommitmentAdmin, KeepsRecords, AuditedAdmin):
    list_display = ("title", "agreement", "kind", "verdict", "due", "countdown", "evidence_count", "owing")
    list_filter = ("agreement", "kind", VerdictFilter, "owed_by", "tracked", "needs_review")
    list_select_related = ("agreement",)
    search_fields = ("title", "key", "text", "agreement__title")
    autocomplete_fields = ("anchor_commitment", "owed_by")
    readonly_fields = ("live_verdict", "live_reason", "live_evidence", "live_readings", "public_page")
    inlines = [NewAssessmentInline, AssessmentHistoryInline]
    actions = ["export_verdicts_csv", "export_verdicts_json"]
    fieldsets = (
        (_("Verdict now"), {"fields": (
            "live_verdict", "live_reason", "live_evidence", "live_readings", "public_page",
        )}),
        (None, {"fields": ("agreement", "key", "position", "title", "owed_by", "share", "text")}),
        (_("Basis"), {"fields": ("basis", "basis_source", "basis_note", "competing_accounts")}),
        (_("Rule and window"), {"fields": (
            "kind", "rule", "anchor", "anchor_commitment", "anchor_moment", "anchor_milestone", "offset_unit",
            "starts_offset", "due_offset", "ends_offset", "grace_days", "reasonable_days",
        )}),
        # Checked by Commitment.clean like the rule: each reading as a whole commitment, never one that changes nothing.
        (_("Competing readings"), {"fields": ("main_reading_label", "readings")}),
        (_("Review"), {"fields": ("tracked", "needs_review", "review_note")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("owed_by", queryset=Party.objects.only("name")))

    def get_changelist(self, request, **kwargs):
        return LiveVerdictChangeList

    # --- list columns -------------------------------------------------------------

    @admin.display(description=_("verdict"))
    def verdict(self, obj):
        return verdict_html(getattr(obj, "standing", None))

    @admin.display(description=_("due"))
    def due(self, obj):
        return due_text(getattr(obj, "standing", None), ZoneInfo(obj.agreement.time_zone))

    @admin.display(description=_("days left / overdue"))
    def countdown(self, obj):
        return countdown_text(getattr(obj, "standing", None))

    # The reports the verdict rests on (the act that met a deadline, the days over a ceiling, the
    # violations), not every report that mentions the commitment: those are on its public page.
    @admin.display(description=_("evidence relied on"))
    def evidence_count(self, obj):
        standing = getattr(obj, "standing", None)
        return len(standing.computed.evidence) if standing else 0

    @admin.display(description=_("owed by"))
    def owing(self, obj):
        return ", ".join(p.name for p in obj.owed_by.all())

    # --- the change page ----------------------------------------------------------

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Read-only displays get only the object: give it its verdict (computed once for the request).
            obj.standing = live_standings(request, [obj.agreement_id]).get(obj.pk)
            obj.sees_restricted = request.user.has_perm("evidence.view_restricted_report")
        return obj

    @admin.display(description=_("verdict"))
    def live_verdict(self, obj):
        standing = getattr(obj, "standing", None)
        if standing is None:
            return "—"
        parts = [verdict_html(standing), " · ", due_text(standing, ZoneInfo(obj.agreement.time_zone)), " · ",
                 countdown_text(standing)]
        if standing.assessment is not None and not standing.assessed:
            parts.append(format_html(
                " · <em>{}</em>",
                _("the latest assessment was of another computed status, so this verdict is provisional again"),
            ))
        return format_html("{}" * len(parts), *parts)

    @admin.display(description=_("reason"))
    def live_reason(self, obj):
        standing = getattr(obj, "standing", None)
        return standing.computed.sentence if standing else "—"

    @admin.display(description=_("evidence relied on"))
    def live_evidence(self, obj):
        """The reports the verdict rests on, each linked to its page: what an analyst checks before assessing."""
        standing = getattr(obj, "standing", None)
        if standing is None or not standing.computed.evidence:
            return 0
        ids = standing.computed.evidence
        shown = Report.objects.filter(pk__in=ids[:EVIDENCE_LISTED]).select_related("source").order_by("occurred_at", "id")
        sees_restricted = getattr(obj, "sees_restricted", False)
        items = []
        for r in shown:
            if r.visibility == RESTRICTED and not sees_restricted:
                items.append(format_html("<div>{}</div>", _("a restricted report")))
                continue
            url = reverse("admin:evidence_report_change", args=[r.pk])
            items.append(format_html('<div><a href="{}">{}</a> <small>({}, {}{}, {})</small></div>', url,
                                     Truncator(r.summary).chars(100), date_format(r.occurred_at, "j M Y"),
                                     r.source.reliability, r.credibility, r.get_verification_display()))
        more = len(ids) - len(items)
        tail = format_html("<div>{}</div>", _("and %(n)s more") % {"n": more}) if more > 0 else ""
        # Divs, not a list: the admin indents a list inside a read-only field past its own column.
        return format_html('<div class="evidence-relied-on"><div>{}</div>{}{}</div>', len(ids), mark_safe("".join(items)),
                           tail)

    @admin.display(description=_("under each reading"))
    def live_readings(self, obj):
        standing = getattr(obj, "standing", None)
        if standing is None or not standing.computed.readings:
            return "—"
        rows = [(r.label, LABELS.get(r.status, r.status), r.sentence) for r in standing.computed.readings]
        return format_html_join(mark_safe("<br>"), "“{}”: <strong>{}</strong> ({})", rows)

    @admin.display(description=_("public page"))
    def public_page(self, obj):
        url = public_url(obj) if obj and obj.pk else None
        return format_html('<a href="{}">{}</a>', url, url) if url else _("not published yet")

    def save_formset(self, request, form, formset, change):
        if formset.model is Assessment:
            for assessment in formset.save(commit=False):
                assessment.author = request.user
                assessment.save()
            return
        super().save_formset(request, form, formset, change)

    # --- exports ------------------------------------------------------------------

    @admin.action(description=_("Export the verdicts of the selected commitments as CSV (as published)"),
                  permissions=["view"])
    def export_verdicts_csv(self, request, queryset):
        return exports.verdicts_csv(list(queryset.select_related("agreement")))

    @admin.action(description=_("Export the verdicts of the selected commitments as JSON (as published)"),
                  permissions=["view"])
    def export_verdicts_json(self, request, queryset):
        return exports.verdicts_json(list(queryset.select_related("agreement")))


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    """Dated events commitments are counted from (docs/agreement-format.md, "milestones"); loaded from the file."""

    list_display = ("title", "key", "agreement")
    list_filter = ("agreement",)
    search_fields = ("title", "key")

    def get_readonly_fields(self, request, obj=None):
        # Its rule decides the day 0 of the commitments counted from it, so a change to it is a revision of
        # the terms (terms.revisions.JUDGED_MILESTONE_FIELDS): made by reloading the file, with --revise when
        # one of them has published verdicts, never by a silent edit here.
        return ("agreement", "key", "rule") if obj is not None else ()


@admin.register(Provision)
class ProvisionAdmin(AuditedAdmin):
    """The agreement's text, provision by provision (docs/agreement-format.md, "provisions"); loaded from the file.

    Edits here last until the file is loaded again: the file is authoritative for what it describes.
    """

    list_display = ("number", "agreement", "status", "reason", "category", "position")
    list_filter = ("agreement", "status", "reason", "category")
    search_fields = ("number", "ref", "summary", "wording", "quote")
    list_select_related = ("agreement",)
    filter_horizontal = ("commitments",)
    fields = (
        "agreement", "number", "ref", "position", "status", "reason", "category",
        "wording", "summary", "quote", "source", "note", "commitments",
    )
