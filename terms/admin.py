from django.contrib import admin

from terms.models import Agreement, Commitment, Party, PartyName


class PartyNameInline(admin.TabularInline):
    model = PartyName
    extra = 1


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "names__name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [PartyNameInline]


class CommitmentInline(admin.StackedInline):
    model = Commitment
    fk_name = "agreement"
    extra = 0
    show_change_link = True
    fields = ("key", "title", "kind", "owed_by", "tracked", "needs_review")
    filter_horizontal = ("owed_by",)


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ("title", "state", "signed_on", "time_zone")
    list_filter = ("state",)
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("parties",)
    inlines = [CommitmentInline]


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    list_display = ("title", "agreement", "kind", "tracked", "needs_review")
    list_filter = ("agreement", "kind", "tracked", "needs_review", "owed_by")
    list_select_related = ("agreement",)
    search_fields = ("title", "key", "text")
    filter_horizontal = ("owed_by",)
    autocomplete_fields = ("anchor_commitment",)
