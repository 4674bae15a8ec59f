"""Evidence in the admin: sources, reports (entry, review, bulk verification, export), imports.

Every action checks the user's role through model permissions (monitor/accounts/roles.py):
verifying, disputing and rejecting need evidence.verify_report, grouping needs
change_report, exporting needs view_report; nobody verifies a report they
entered themselves (Report.set_verification and ReportQuerySet.set_verification
enforce it, so the API cannot get round it either).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db import models
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from monitor.accounts.history import AuditedAdmin
from monitor.alerts import triggers
from monitor.evidence import attachments as attachment_rules
from monitor.evidence import models as ev
from monitor.evidence.importing import exports, jobs
from monitor.evidence.importing.bulk import record_first_versions, record_history
from monitor.evidence.importing.uploads import SizeLimitHandler
from monitor.evidence.importing.zones import admin_time_zone, default_time_zone
from monitor.evidence.judged import JUDGED_FIELDS  # changing any of these makes a verified report claimed again
from monitor.verdicts.admin import KeepsRecords
from terms.models import Agreement, Commitment, Milestone
from terms.rules import RuleError, validate_time_zone


# Web addresses typed without a scheme are taken as https (Django 6's default, chosen now).
URLS_HTTPS = {models.URLField: {"assume_scheme": "https"}}


class CoverageInline(admin.TabularInline):
    model = ev.Coverage
    extra = 0


# What a source's grade means for counting (docs/architecture.md, "Weighing evidence", 4).
RELIABILITY_HELP = gettext_lazy(
    "How far this source has proved right (the Admiralty scale). It decides what its reports count for: a "
    "report claimed (not yet verified) counts only from a source graded A or B with a credibility of 1 or 2; "
    "from C to F its reports are shown as evidence but decide nothing until an analyst verifies them. "
    "F, the default, means the source has not been judged."
)


class SourceForm(forms.ModelForm):
    class Meta:
        model = ev.Source
        fields = "__all__"
        help_texts = {"reliability": RELIABILITY_HELP}


@admin.register(ev.Source)
class SourceAdmin(KeepsRecords, AuditedAdmin):
    form = SourceForm
    list_display = ("name", "kind", "reliability", "may_republish", "licence")
    list_filter = ("kind", "reliability", "may_republish")
    search_fields = ("name",)
    inlines = [CoverageInline]
    formfield_overrides = URLS_HTTPS
    # The grade first after the name: it is the question that decides what the source's reports count for.
    fields = ("name", "reliability", "kind", "url", "declared_coverage", "coverage_from_imports", "coverage_country",
              "categories", "licence", "may_republish")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.reliability == "F":
            self.message_user(request, _(
                "“%(name)s” is graded F (reliability not judged): its reports will be shown as evidence, but "
                "those not verified by an analyst will decide nothing. Grade it once you can judge it."
            ) % {"name": obj.name}, messages.WARNING)


@admin.register(ev.PlaceName)
class PlaceNameAdmin(admin.ModelAdmin):
    list_display = ("name", "place", "note")
    search_fields = ("name", "place")


@admin.register(ev.EventGroup)
class EventGroupAdmin(KeepsRecords, admin.ModelAdmin):
    list_display = ("__str__", "report_count", "created")
    search_fields = ("label",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(report_count=Count("reports"))

    @admin.display(description=gettext_lazy("reports"), ordering="report_count")
    def report_count(self, obj):
        return obj.report_count


# --- reports -------------------------------------------------------------------


class VerificationChangeInline(admin.TabularInline):
    model = ev.VerificationChange
    extra = 0
    can_delete = False
    readonly_fields = ("old_state", "new_state", "changed_at", "changed_by", "reason", "method", "method_note")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the verification history is a record: a change is undone by another change


class AgreementFilter(admin.SimpleListFilter):
    """Reports that can count for an agreement: in its commitments' categories, or linked to one of them.

    Categories match exactly here (the engine also folds case and punctuation);
    commitments whose rule names no category add only their linked reports.
    """

    title = gettext_lazy("agreement")
    parameter_name = "agreement"

    def lookups(self, request, model_admin):
        return list(Agreement.objects.values_list("pk", "title"))

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        categories = {
            c for rule in Commitment.objects.filter(agreement_id=self.value()).values_list("rule", flat=True)
            for c in (rule or {}).get("categories", ())
        }
        return queryset.filter(
            Q(commitment__agreement_id=self.value()) | Q(category__in=categories) | Q(sub_category__in=categories)
        )


class CategoryInput(forms.TextInput):
    """A text box with the categories the agreements' rules use as suggestions (an HTML datalist).

    Free text stays possible: a report may be in a category no rule reads yet. `choices` is
    [(category, "used by …"), …], read once per form (`rule_categories`).
    """

    def __init__(self, choices=(), list_id="rule-categories", attrs=None):
        super().__init__({**(attrs or {}), "list": list_id, "autocomplete": "off"})
        self.choices, self.list_id = list(choices), list_id

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}" label="{}"></option>', self.choices)
        return format_html('{}<datalist id="{}">{}</datalist>', box, self.list_id, options)


def rule_categories():
    """Each category a commitment's or milestone's rule names, with what uses it: two queries.

    [(category, "Battles: used by Ceiling on violence in cities; …")], by category name.
    """
    users = {}
    for model in (Commitment, Milestone):
        for title, rule in model.objects.values_list("title", "rule"):
            for category in (rule or {}).get("categories", ()) if isinstance(rule, dict) else ():
                if isinstance(category, str) and category:
                    users.setdefault(category, []).append(title)
    return [
        (category, _("%(category)s: used by %(rules)s") % {"category": category, "rules": "; ".join(sorted(set(t)))})
        for category, t in sorted(users.items(), key=lambda kv: kv[0].casefold())
    ]


class SourceGradeFilter(admin.ChoicesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = gettext_lazy("source grade")


class VerificationForm(forms.Form):
    method = forms.ChoiceField(
        label=gettext_lazy("How were these reports verified?"), choices=ev.VERIFICATION_METHODS,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Recorded with each report's verification and shown with it on the public pages."),
    )
    method_note = forms.CharField(
        label=gettext_lazy("The method, in words"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Required for “other”; for any method, what a reader should know (which sources)."),
    )

    def clean(self):
        data = super().clean()
        problems = ev.verification_method_problems(ev.VERIFIED, data.get("method"), data.get("method_note"))
        for field, reason in problems.items():
            if field not in self.errors:
                self.add_error(field, reason[:1].upper() + reason[1:] + ".")
        return data


class RejectionForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are these reports rejected?"), widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Kept with each report's verification history."),
    )




@admin.register(ev.Report)
class ReportAdmin(AuditedAdmin):
    list_display = ("summary_short", "category", "occurred_at", "source", "grade", "verification", "visibility",
                    "arrived_via")
    list_filter = (
        "verification", "visibility", "category",
        "source",
        ("source__reliability", SourceGradeFilter),
        "credibility", "credibility_graded", AgreementFilter, "arrived_via",
    )
    list_select_related = ("source",)
    search_fields = ("summary", "location", "admin1", "country", "source__name", "source_ref")
    date_hierarchy = "occurred_at"
    # The source is a plain list, not an autocomplete box, so each choice can say its grade ("ACLED (B: usually
    # reliable)"): a monitor picks a source knowing what its reports will count for.
    autocomplete_fields = ("commitment", "event")
    # `recorded_at` is when the monitor learned of the report: set on entry, never back-dated, or every
    # "as known at" view and citation of a past date would silently change.
    # `entered_at`, beside it: when the report entered the monitor (an ACLED row known since 2020, imported now).
    readonly_fields = ("recorded_at", "entered_at", "verification", "entered_by", "arrived_via", "import_audit",
                       "import_file", "import_line", "attachments_kept", "credibility_as_shown")
    # The history page says which import wrote the report: the import, not a history row, is its audit.
    object_history_template = "admin/evidence/report/object_history.html"
    inlines = [VerificationChangeInline]
    actions = ["verify_reports", "dispute_reports", "reject_reports", "group_as_event", "export_csv", "export_json"]
    # Counting a million rows on every page view is slow; the filtered count is enough.
    show_full_result_count = False
    formfield_overrides = URLS_HTTPS
    fieldsets = (
        (None, {"fields": ("summary", "category", "sub_category", "stance", "value")}),
        (gettext_lazy("Original language"), {"fields": ("original_language", "translation", "original_text"),
                                              "classes": ("collapse",)}),
        (gettext_lazy("When"), {"fields": ("occurred_at", "occurred_until", "precision", "recorded_at",
                                           "entered_at")}),
        (gettext_lazy("Where and who"), {"fields": ("country", "admin1", "location", "actor1", "actor2",
                                                    "fatalities")}),
        (gettext_lazy("Source"), {"fields": ("source", "source_ref", "url", "credibility")}),
        # A dataset's rows: its credibility is the importer's default until graded; what ACLED says of its row.
        (gettext_lazy("Grade and the dataset's own fields"), {"fields": (
            "credibility_as_shown", "credibility_graded", "interaction", "original_source", "source_scale",
            "latitude", "longitude", "geo_precision")}),
        (gettext_lazy("Review"), {"fields": ("verification", "visibility", "commitment", "event")}),
        (gettext_lazy("How it arrived"), {"fields": ("arrived_via", "entered_by", "import_audit", "import_file",
                                                     "import_line")}),
        # Listed here, added on their own page: an inline would make every post of this form carry a formset,
        # and an attachment, once stored, is never edited anyway (AttachmentAdmin).
        (gettext_lazy("Attachments"), {"fields": ("attachments_kept",)}),
    )

    @admin.display(description=gettext_lazy("files kept"))
    def attachments_kept(self, obj):
        if obj is None or obj.pk is None:
            return gettext_lazy("Save the report first, then attach files to it.")
        rows = format_html_join(
            "", "<li><a href=\"{}\">{}</a> ({}, {} bytes, {}) · captured {} UTC · stored {} UTC · SHA-256 <code>{}</code></li>",
            ((reverse("admin:evidence_attachment_change", args=[a.pk]), a.original_name, a.get_kind_display(), a.size,
              a.content_type, f"{a.captured_at:%Y-%m-%d %H:%M}", f"{a.stored_at:%Y-%m-%d %H:%M}", a.sha256)
             for a in obj.attachments.all()),
        )
        add = reverse("admin:evidence_attachment_add") + f"?report={obj.pk}"
        return format_html("<ul>{}</ul><a class=\"addlink\" href=\"{}\">{}</a>", rows, add, _("Attach a file"))

    @admin.display(description=gettext_lazy("import"))
    def import_audit(self, obj):
        """"Imported by job N from file F, line L", linked to the job's page (who, when, the kept file)."""
        if obj is None or obj.import_job_id is None:
            return "—"
        return format_html(
            "<a href=\"{}\">{}</a>", reverse("admin:evidence_importjob_change", args=[obj.import_job_id]),
            _("Imported by job %(job)s from file %(file)s, line %(line)s") % {
                "job": obj.import_job_id, "file": obj.import_file, "line": obj.import_line},
        )

    def render_history_view(self, request, template, context, **kwargs):
        # Called once the history view (and a version's page) has checked who may see the report.
        report = context.get("object")
        if template == self.object_history_template and getattr(report, "import_job_id", None) is not None:
            context["import_audit"] = self.import_audit(report)
            context["import_job"] = ev.ImportJob.objects.select_related("created_by").get(pk=report.import_job_id)
        return super().render_history_view(request, template, context, **kwargs)

    @admin.display(description=gettext_lazy("what happened"), ordering="summary")
    def summary_short(self, obj):
        return obj.summary if len(obj.summary) <= 90 else obj.summary[:89] + "…"

    @admin.display(description=gettext_lazy("grade"))
    def grade(self, obj):
        # An imported row's credibility is its dataset's default, not an analyst's grade: say so.
        return obj.grade if obj.credibility_graded else _("%(grade)s (dataset default)") % {"grade": obj.grade}

    @admin.display(description=gettext_lazy("credibility as shown"))
    def credibility_as_shown(self, obj):
        return obj.credibility_shown

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        fields = form.base_fields  # the class's own copy: made anew on each call
        if "category" in fields:
            fields["category"].widget = CategoryInput(rule_categories())
            fields["category"].help_text = _(
                "Choose a category the agreement's rules use (each says which rule uses it), or type another.")
        if "source" in fields:
            fields["source"].label_from_instance = lambda s: f"{s.name} ({s.get_reliability_display()})"
            fields["source"].help_text = _(
                "Each source with its reliability: a claimed report counts only from a source graded A or B "
                "with a credibility of 1 or 2.")
        zone = admin_time_zone()
        for name in ("occurred_at", "occurred_until"):
            if name in fields:
                # The date and the time are two boxes under one label: each gets its own name for screen readers.
                label = fields[name].label or name
                widgets = getattr(fields[name].widget, "widgets", ())
                for widget, part in zip(widgets, (_("date, day first"), _("time"))):
                    widget.attrs["aria-label"] = f"{label}: {part} ({zone})"
                fields[name].help_text = _(
                    "In %(zone)s (the agreement's time zone), day first: 05/03/2020 is 5 March 2020, and 08:00 "
                    "is eight in the morning there.") % {"zone": zone}
        return form

    def get_queryset(self, request):
        reports = super().get_queryset(request)
        if request.user.has_perm("evidence.view_restricted_report"):
            return reports
        # Restricted reports are for analysts, and for whoever entered them.
        return reports.filter(~Q(visibility=ev.RESTRICTED) | Q(entered_by=request.user))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.entered_by = request.user
            obj.arrived_via = ev.ARRIVED_ADMIN
        if "credibility" in form.changed_data:
            obj.credibility_graded = True  # whoever sets a credibility grades it: no longer the dataset's default
        super().save_model(request, obj, form, change)
        if change and obj.verification == ev.VERIFIED and JUDGED_FIELDS.intersection(form.changed_data):
            # A verification vouches for what the report said. Edited afterwards, it says something no
            # one else has checked, so it is claimed again (else: enter, get verified, then rewrite).
            obj.set_verification(ev.CLAIMED, by=request.user, reason=_("Edited after verification: %(fields)s") % {
                "fields": ", ".join(sorted(JUDGED_FIELDS.intersection(form.changed_data)))})
            self.message_user(request, _("The report was verified; as you changed what it says, it is claimed again "
                                         "until an analyst verifies it."), messages.WARNING)

    def response_add(self, request, obj, post_url_continue=None):
        self._say_when_public(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        self._say_when_public(request, obj)
        return super().response_change(request, obj)

    def _say_when_public(self, request, obj):
        # Every saved change moves the data version the public pages' cache is keyed on (monitor/pages/cache.py),
        # and verdicts are computed as a page is rendered; but a page shown "now" is as known at the start of
        # the current minute (monitor/pages/instants.py), so a report recorded now is on it from the next one.
        if obj.visibility == ev.PUBLIC:
            self.message_user(request, _("The public pages show it within a minute."), messages.INFO)
        else:
            self.message_user(request, _("It is not public (%(visibility)s), so the public pages do not show it.")
                              % {"visibility": obj.get_visibility_display().lower()}, messages.INFO)

    def has_verify_permission(self, request):
        return request.user.has_perm("evidence.verify_report")

    def has_delete_permission(self, request, obj=None):
        # A report is a record, for everyone (superusers too): deleting one would change what a cited "as
        # known at" view shows, and take its verification history and its place in status changes with it.
        # A report is rejected (its verification) or hidden from the public (its visibility) instead.
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": request.user.has_perm("evidence.add_importjob")}
        return super().changelist_view(request, extra_context)

    # --- verification -------------------------------------------------------------

    def _set_verification(self, request, queryset, state, reason="", method="", method_note=""):
        with transaction.atomic():
            changed, own = ev.Report.objects.filter(pk__in=queryset.values("pk")).set_verification(
                state, by=request.user, reason=reason, method=method, method_note=method_note,
            )
            triggers.reports_changed(changed)
        label = dict(ev.VERIFICATION_STATES)[state].lower()
        if changed:
            self.message_user(request, ngettext(
                "%(n)d report marked %(state)s.", "%(n)d reports marked %(state)s.", len(changed)
            ) % {"n": len(changed), "state": label}, messages.SUCCESS)
        if own:
            self.message_user(request, ngettext(
                "%(n)d report was not verified: you entered it, so someone else must verify it.",
                "%(n)d reports were not verified: you entered them, so someone else must verify them.", len(own),
            ) % {"n": len(own)}, messages.WARNING)
        if not changed and not own:
            self.message_user(request, _("The selected reports were already %(state)s.") % {"state": label},
                              messages.INFO)

    @admin.action(description=gettext_lazy("Verify the selected reports…"), permissions=["verify"])
    def verify_reports(self, request, queryset):
        """Verifying asks how (issue 14): a form, as rejecting asks why; nothing changes until it is answered."""
        form = VerificationForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if form.is_bound and form.is_valid():
            self._set_verification(request, queryset, ev.VERIFIED, method=form.cleaned_data["method"],
                                   method_note=form.cleaned_data["method_note"].strip())
            return None
        return self._confirmation(request, queryset, form, _("Verify reports"), "admin/evidence/report/verify.html")

    @admin.action(description=gettext_lazy("Mark the selected reports disputed"), permissions=["verify"])
    def dispute_reports(self, request, queryset):
        self._set_verification(request, queryset, ev.DISPUTED)

    @admin.action(description=gettext_lazy("Reject the selected reports…"), permissions=["verify"])
    def reject_reports(self, request, queryset):
        form = RejectionForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if form.is_bound and form.is_valid():
            self._set_verification(request, queryset, ev.REJECTED, form.cleaned_data["reason"])
            return None
        return self._confirmation(request, queryset, form, _("Reject reports"), "admin/evidence/report/reject.html")

    def _confirmation(self, request, queryset, form, title, template):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "reports": queryset.select_related("source")[:200],
            "count": queryset.count(),
            "form": form,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, template, context)

    # --- events -------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Group the selected reports as one event"), permissions=["change"])
    def group_as_event(self, request, queryset):
        """One event for the selected reports and everything already grouped with any of them."""
        selected = list(queryset.values_list("pk", flat=True))
        if len(selected) < 2:
            self.message_user(request, _("Select at least two reports to group them as one event."), messages.WARNING)
            return
        with transaction.atomic():
            groups = set(ev.Report.objects.filter(pk__in=selected, event__isnull=False).values_list("event_id",
                                                                                                  flat=True))
            members = ev.Report.objects.filter(Q(pk__in=selected) | Q(event_id__in=groups))
            # Labelled after its first report that every staff role may read: a restricted report's
            # words would reach Viewers through the label. All restricted: the label stays "Event N".
            first = (members.exclude(visibility=ev.RESTRICTED).order_by("occurred_at", "id")
                     .values_list("summary", flat=True).first())
            event = ev.EventGroup.objects.create(label=(first or "")[:300])
            before = list(members.values_list("pk", "event_id"))
            moved = [pk for pk, _event in before]
            record_first_versions(moved)  # imported reports without history: their version before the grouping
            ev.Report.objects.filter(pk__in=moved).update(event=event)
            # Counts count events: a verified report grouped with others anew may count otherwise, which no one
            # has checked (event is a judged field). Unless they were all in one event already: nothing changed.
            reclaimed = []
            if len(groups) != 1 or any(event_id is None for _pk, event_id in before):
                reclaimed, _own = ev.Report.objects.filter(pk__in=moved, verification=ev.VERIFIED).set_verification(
                    ev.CLAIMED, by=request.user,
                    reason=_("Edited after verification: %(fields)s") % {"fields": "event"},
                )
            record_history(ev.Report, moved, history_type="~", user=request.user, reason="Grouped as one event")
            ev.EventGroup.objects.filter(pk__in=groups).delete()  # emptied: their reports moved to the new one
            triggers.reports_changed(moved)
        self.message_user(request, ngettext(
            "%(n)d report grouped as one event.", "%(n)d reports grouped as one event.", len(moved)
        ) % {"n": len(moved)}, messages.SUCCESS)
        if reclaimed:
            self.message_user(request, ngettext(
                "%(n)d of them was verified; grouped anew, it is claimed again until an analyst verifies it.",
                "%(n)d of them were verified; grouped anew, they are claimed again until an analyst verifies them.",
                len(reclaimed),
            ) % {"n": len(reclaimed)}, messages.WARNING)

    # --- export -------------------------------------------------------------------

    def _export(self, request, queryset, as_json):
        public, withheld = exports.exportable_reports(queryset)
        if withheld["licence"] or withheld["visibility"]:
            self.message_user(request, _(
                "Exported as published: %(licence)d reports left out because their source's licence forbids "
                "republishing rows, %(visibility)d because they are not public."
            ) % withheld, messages.WARNING)
        return exports.reports_json(public, withheld) if as_json else exports.reports_csv(public)

    @admin.action(description=gettext_lazy("Export the selected reports as CSV (as published)"),
                  permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, as_json=False)

    @admin.action(description=gettext_lazy("Export the selected reports as JSON (as published)"),
                  permissions=["view"])
    def export_json(self, request, queryset):
        return self._export(request, queryset, as_json=True)


# --- attachments ---------------------------------------------------------------


class AttachmentForm(forms.ModelForm):
    class Meta:
        model = ev.Attachment
        fields = ("report", "file", "kind", "captured_at", "captured_url", "description")


@admin.register(ev.Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Files kept with reports: added with their SHA-256 computed from the bytes, then never changed or deleted.

    The file's size and type are checked by the model (monitor/evidence/attachments.py) when the form is
    validated: a refused file is named under the field with the reason, and nothing is stored.
    """

    form = AttachmentForm
    list_display = ("original_name", "report", "kind", "content_type", "size", "captured_at", "stored_at", "sha256")
    list_filter = ("kind", "content_type")
    list_select_related = ("report",)
    search_fields = ("original_name", "sha256", "report__summary")
    autocomplete_fields = ("report",)
    readonly_fields = ("original_name", "content_type", "size", "sha256", "stored_at", "added_by")
    formfield_overrides = URLS_HTTPS

    def get_queryset(self, request):
        attachments = super().get_queryset(request)
        if request.user.has_perm("evidence.view_restricted_report"):
            return attachments
        # As for the reports themselves: a restricted report's files are for analysts and whoever entered it.
        return attachments.filter(~Q(report__visibility=ev.RESTRICTED) | Q(report__entered_by=request.user))

    def get_fields(self, request, obj=None):
        if obj is None:
            return AttachmentForm.Meta.fields
        return ("report", "file", "kind", "captured_at", "captured_url", "description", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return self.get_fields(request, obj)  # stored: a record, shown whole and read-only

    def get_urls(self):
        # The add view reads the upload through a size-limiting handler, installed before the CSRF check reads
        # the body (as ImportJobAdmin's upload does): a file far over the limit is never written, even to a
        # temporary file. changeform_view still checks the CSRF token itself (csrf_protect_m).
        name = f"{self.opts.app_label}_{self.opts.model_name}_add"
        add = path("add/", self.admin_site.admin_view(csrf_exempt(self.limited_add_view)), name=name)
        return [add] + [u for u in super().get_urls() if u.name != name]

    def limited_add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST":
            request.attachment_limit = SizeLimitHandler(request, attachment_rules.max_bytes())
            request.upload_handlers.insert(0, request.attachment_limit)
        return self.add_view(request, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "report" in form.base_fields:
            # Reports this user may see (a restricted report's id typed in would otherwise be accepted).
            form.base_fields["report"].queryset = ReportAdmin.get_queryset(
                self.admin_site._registry[ev.Report], request)
        handler = getattr(request, "attachment_limit", None)
        if obj is None and handler is not None:
            class Limited(form):
                def clean(self):
                    data = super().clean()
                    if handler.too_large:
                        # The file was chosen, then skipped as it arrived: only the reason belongs under it.
                        self.errors.pop("file", None)
                        self.add_error("file", _("%(name)s is larger than the limit of %(limit)s MB for an "
                                                 "attachment.") % {"name": getattr(handler, "file_name", None)
                                                                   or _("The file"),
                                                                   "limit": _megabytes(attachment_rules.max_bytes())})
                    return data

            return Limited
        return form

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # evidence kept: a wrong file is left, described, and another added

    def save_model(self, request, obj, form, change):
        obj.added_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, _("“%(name)s” is kept with the report, SHA-256 %(sha)s.") % {
            "name": obj.original_name, "sha": obj.sha256}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:evidence_report_change", args=[obj.report_id]))


# --- imports -------------------------------------------------------------------


class UploadForm(forms.Form):
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=ev.IMPORT_FORMATS)
    source = forms.ModelChoiceField(
        label=gettext_lazy("Source"), queryset=ev.Source.objects.all(), required=False,
        help_text=gettext_lazy("Required for ACLED; for the report format, the source of rows that name none."),
    )
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone of the dates"), max_length=64,
        help_text=gettext_lazy("A date without a time is the start of that day in this zone."),
    )
    skip_invalid = forms.BooleanField(
        label=gettext_lazy("Skip bad rows"), required=False,
        help_text=gettext_lazy("Import the good rows even if some are bad. Off: one bad row and nothing is imported."),
    )
    # Last in the form, so the fields above are read before a file too large is skipped.
    file = forms.FileField(label=gettext_lazy("File"))

    def clean_time_zone(self):
        try:
            validate_time_zone(self.cleaned_data["time_zone"])
        except RuleError as e:
            raise forms.ValidationError(e.message) from None
        return self.cleaned_data["time_zone"]

    def clean(self):
        data = super().clean()
        if data.get("format") == ev.ACLED and not data.get("source"):
            self.add_error("source", _("Choose the source these ACLED rows come from."))
        upload = data.get("file")
        if upload is not None and data.get("format") == ev.ACLED and not upload.name.lower().endswith(".csv"):
            self.add_error("file", _("An ACLED export is a .csv file."))
        if upload is not None and data.get("format") == ev.NATIVE and not upload.name.lower().endswith(
            (".csv", ".json")
        ):
            self.add_error("file", _("The report format is a .csv or a .json file."))
        return data


@admin.register(ev.ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("file_name", "format", "state", "rows", "rows_created", "rows_updated", "rows_unchanged",
                    "rows_invalid", "created_by", "created_at")
    list_filter = ("state", "format")
    list_select_related = ("created_by",)
    search_fields = ("file_name",)
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False  # a job is a record; its page shows it and offers the next step

    def has_delete_permission(self, request, obj=None):
        return False  # and the audit of the reports it wrote: never deleted (ev.IMPORT_JOB_KEPT)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(csrf_exempt(self.upload_view)), name="evidence_importjob_upload"),
            path("<int:job_id>/confirm/", wrap(self.confirm_view), name="evidence_importjob_confirm"),
            path("<int:job_id>/problems.csv", wrap(self.problems_view), name="evidence_importjob_problems"),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:evidence_importjob_upload"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self.job_view(request, object_id)

    # Upload → check. The body is read through a size-limiting handler before the CSRF check
    # (Django's documented way to change upload handlers), so a file far over the limit is never stored.
    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        handler = None
        if request.method == "POST":
            handler = SizeLimitHandler(request, jobs.upload_limit())
            request.upload_handlers.insert(0, handler)
        return csrf_protect(self._upload)(request, handler)

    def _upload(self, request, handler):
        limit = jobs.upload_limit()
        if request.method == "POST":
            form = UploadForm(request.POST, request.FILES)
            if handler is not None and handler.too_large:
                form.is_valid()
                # The file was chosen, then refused: only the reason belongs under it, not "required".
                form.errors.pop("file", None)
                form.add_error("file", _("This file is larger than the limit of %(limit)s MB; split it, or ask an "
                                         "administrator to import it with manage.py import_reports.")
                               % {"limit": _megabytes(limit)})
            elif form.is_valid():
                job = self._create_job(request, form.cleaned_data)
                jobs.start_check(job)
                return HttpResponseRedirect(reverse("admin:evidence_importjob_change", args=[job.pk]))
        else:
            form = UploadForm(initial={"time_zone": default_time_zone(),
                                       "source": ev.Source.objects.filter(name__iexact="ACLED").first()})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import reports"),
            "opts": self.model._meta,
            "form": form,
            "limit_mb": _megabytes(limit),
            "inline_mb": _megabytes(jobs.inline_limit()),
        }
        return TemplateResponse(request, "admin/evidence/importjob/upload.html", context)

    def _create_job(self, request, data):
        upload = data["file"]
        job = ev.ImportJob(
            file_name=upload.name[:255], file_size=upload.size, format=data["format"], source=data["source"],
            time_zone=data["time_zone"], skip_invalid=data["skip_invalid"], created_by=request.user,
        )
        job.file.save(upload.name, upload, save=False)
        job.save()
        return job

    def job_view(self, request, object_id):
        job = get_object_or_404(ev.ImportJob.objects.select_related("source", "created_by"), pk=object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        progress = jobs.progress(job) if job.running else None
        percent = None
        if progress and job.file_size:
            percent = min(99, int(100 * progress["bytes"] / job.file_size))
        summary = job.summary or {}
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.model._meta,
            "job": job,
            "progress": progress,
            "percent": percent,
            "parties": sorted((summary.get("parties") or {}).items(), key=lambda kv: -kv[1]),
            "summary": summary,
            "can_confirm": job.state == ev.CHECKED and self.has_add_permission(request)
            and job.rows > job.rows_invalid,
            "needs_skip": job.rows_invalid > 0,
            "background": jobs.runs_in_background(job),
        }
        return TemplateResponse(request, "admin/evidence/importjob/job.html", context)

    def confirm_view(self, request, job_id):
        job = get_object_or_404(ev.ImportJob, pk=job_id)
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        skip = request.POST.get("skip_invalid") == "on" or job.skip_invalid
        if job.rows_invalid and not skip:
            self.message_user(request, _("Some rows have problems: fix the file, or choose to skip bad rows."),
                              messages.ERROR)
        elif not jobs.start_import(job, skip_invalid=skip):
            self.message_user(request, _("This import is not waiting for confirmation."), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:evidence_importjob_change", args=[job.pk]))

    def problems_view(self, request, job_id):
        job = get_object_or_404(ev.ImportJob, pk=job_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        if not job.problems_file:
            raise Http404
        return FileResponse(job.problems_file.open("rb"), as_attachment=True,
                            filename=f"{job.file_name}.problems.csv")


def _megabytes(n):
    return f"{round(n / (1024 * 1024), 1):g}"
