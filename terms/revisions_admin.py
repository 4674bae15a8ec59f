"""Revisions of the terms in the admin: a reason asked for where the loader would ask for --revise.

Editing a judged field (terms.revisions.JUDGED_FIELDS) of a commitment that has published verdicts
needs a revision reason, typed in the form; the revision is recorded with the user who saved, in the
same transaction as the change (the admin saves a change form in one). Judged changes nobody has a
verdict on yet are recorded as a revision with a reason written for them, as the loader does. Revisions
are listed read-only under their agreement and in their own list: a record, never edited.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from terms import revisions
from terms.models import Revision

REASON_FIELD = "revision_reason"
REASON_LABEL = _("reason for this revision of the terms")
REASON_HELP = _(
    "Needed when you change a judged field (kind, rule, window, grace, reasonable time, share, who owes it, "
    "readings, tracked; the agreement's signing day and time zone) of a commitment that already has published "
    "verdicts: the change is recorded as a new revision (r2, r3…) with your name, this reason and the old and "
    "new values, and every page names the revision it used."
)
NEEDS_REASON = _(
    "%(what)s already has published verdicts (status changes or assessments), and this changes its judged "
    "fields %(fields)s: a verdict someone cited would change. Give a reason for this revision of the terms."
)


def _reason_field():
    return forms.CharField(
        label=REASON_LABEL, help_text=REASON_HELP, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


def _published(commitment):
    return commitment.pk is not None and bool(revisions.with_published_verdicts([commitment.pk]))


def _with_reason_field(fieldsets, shown=True):
    """The fieldsets with the reason field last, in its own set (Django lists a form's declared fields
    in the first set of a ModelAdmin without fieldsets of its own)."""
    out = [(name, {**opts, "fields": tuple(f for f in opts["fields"] if f != REASON_FIELD)}) for name, opts in fieldsets]
    return [*out, (_("Revision of the terms"), {"fields": (REASON_FIELD,)})] if shown else out


def _author(request):
    return request.user.get_username() or str(request.user.pk)


# --- a commitment's own change form ------------------------------------------------------------------------


class JudgedChangeForm(forms.ModelForm):
    """A commitment's form that knows which judged fields the posted values change.

    Compared as values, not as the form's `changed_data`: a rule posted back as the same JSON differently
    spaced is no change.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read before the form writes the posted values into the instance.
        self.judged_before = revisions.judged_values(self.instance) if self.instance.pk else None

    def judged_after(self):
        """The judged values as this form will save them (once cleaned: the instance holds the posted values)."""
        values = revisions.judged_values(self.instance)
        if "owed_by" in self.cleaned_data:
            values["owed_by"] = sorted(p.slug for p in self.cleaned_data["owed_by"])
        return values

    def judged_changes(self):
        if self.judged_before is None:
            return []
        after = self.judged_after()
        return [name for name in revisions.JUDGED_FIELDS if self.judged_before[name] != after[name]]


class CommitmentRevisionForm(JudgedChangeForm):
    revision_reason = _reason_field()

    def _post_clean(self):
        super()._post_clean()  # the instance now holds the posted values
        if self.errors:
            return
        judged = self.judged_changes()
        if judged and not (self.cleaned_data.get(REASON_FIELD) or "").strip() and _published(self.instance):
            what = _("Commitment %(key)s") % {"key": self.instance.key}
            self.add_error(REASON_FIELD, NEEDS_REASON % {"what": what, "fields": ", ".join(judged)})


class RevisedCommitmentAdmin:
    """For CommitmentAdmin: the reason field, and the revision recorded once the owing parties are saved too."""

    form = CommitmentRevisionForm

    def get_fieldsets(self, request, obj=None):
        return _with_reason_field(super().get_fieldsets(request, obj), shown=obj is not None)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        commitment = form.instance
        # The owing parties were read through the change page's prefetch: read them as saved.
        getattr(commitment, "_prefetched_objects_cache", {}).pop("owed_by", None)
        after = revisions.judged_values(commitment)
        before = form.judged_before
        if before is None:
            changes = [{"commitment": commitment.key, "field": revisions.ADDED, "old": None, "new": after}]
            default = _("commitment added in the admin")
        else:
            changes = [
                {"commitment": commitment.key, "field": name, "old": before[name], "new": after[name]}
                for name in revisions.JUDGED_FIELDS
                if before[name] != after[name]
            ]
            default = _("changed in the admin: judged terms that no published verdict rests on")
        if changes:
            reason = (form.cleaned_data.get(REASON_FIELD) or "").strip() or str(default)
            revisions.record(commitment.agreement, made_by=_author(request), reason=reason, changes=changes)


# --- the agreement's change form, with its commitments inline -----------------------------------------------


class AgreementRevisionForm(forms.ModelForm):
    revision_reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.judged_before = revisions.snapshot(self.instance)

    def clean(self):
        data = super().clean()
        if self.judged_before is None or (data.get(REASON_FIELD) or "").strip():
            return data
        judged = [f for f in self.changed_data if f in revisions.JUDGED_AGREEMENT_FIELDS]
        # Giving the signing day for the first time is the world catching up, not a revision (terms.revisions).
        if "signed_on" in judged and self.judged_before.agreement["signed_on"] is None:
            judged.remove("signed_on")
        if judged and revisions.with_published_verdicts(list(self.judged_before.ids.values())):
            what = _("Agreement %(slug)s (its commitments)") % {"slug": self.instance.slug}
            self.add_error(REASON_FIELD, NEEDS_REASON % {"what": what, "fields": ", ".join(judged)})
        return data


class CommitmentRevisionFormSet(BaseInlineFormSet):
    """The agreement page's commitment rows: a judged edit of a cited commitment needs the agreement form's reason."""

    def clean(self):
        super().clean()
        if (self.data.get(REASON_FIELD) or "").strip():
            return
        problems = []
        for form in self.forms:
            if not form.instance.pk or not form.has_changed() or self._should_delete_form(form):
                continue
            judged = form.judged_changes() if hasattr(form, "cleaned_data") else []
            if judged and _published(form.instance):
                what = _("Commitment %(key)s") % {"key": form.instance.key}
                problems.append(NEEDS_REASON % {"what": what, "fields": ", ".join(judged)})
        if problems:
            raise ValidationError(problems)


class RevisionInline(admin.TabularInline):
    """The agreement's revisions, newest first: read-only, as records are."""

    model = Revision
    extra = 0
    can_delete = False
    verbose_name_plural = _("revisions of the terms")
    fields = ("label", "made_at", "made_by", "reason", "changes")
    readonly_fields = fields
    ordering = ("-number",)

    @admin.display(description=_("revision"))
    def label(self, obj):
        return obj.label

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RevisedAgreementAdmin:
    """For AgreementAdmin: the reason field, the revisions inline, and the revision recorded after the commitments."""

    form = AgreementRevisionForm

    def get_fieldsets(self, request, obj=None):
        return _with_reason_field(super().get_fieldsets(request, obj), shown=obj is not None)

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), RevisionInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj._revision_by = _author(request)  # its r1 (terms.revisions.first_revision)
            obj._revision_reason = str(_("created in the admin"))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = form.judged_before
        if before is None:
            return  # r1 was recorded as the agreement was created, and covers what came with it
        changes = revisions.changes_between(before, revisions.snapshot(form.instance))
        if changes:
            reason = (form.cleaned_data.get(REASON_FIELD) or "").strip() or str(
                _("changed in the admin: judged terms that no published verdict rests on")
            )
            revisions.record(form.instance, made_by=_author(request), reason=reason, changes=changes)


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    """Every revision of every agreement's terms: a read-only list (made by loads and by the change forms)."""

    list_display = ("agreement", "label", "made_at", "made_by", "reason")
    list_filter = ("agreement",)
    list_select_related = ("agreement",)
    search_fields = ("reason", "made_by", "agreement__title")
    fields = ("agreement", "label", "made_at", "made_by", "reason", "changes")
    readonly_fields = fields

    @admin.display(description=_("revision"), ordering="number")
    def label(self, obj):
        return obj.label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
