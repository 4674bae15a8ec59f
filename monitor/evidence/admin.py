from django.contrib import admin

from monitor.evidence.models import Coverage, EventGroup, Report, Source, VerificationChange


class CoverageInline(admin.TabularInline):
    model = Coverage
    extra = 0


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "reliability", "may_republish")
    list_filter = ("kind", "reliability", "may_republish")
    search_fields = ("name",)
    inlines = [CoverageInline]


class VerificationChangeInline(admin.TabularInline):
    model = VerificationChange
    extra = 0
    can_delete = False
    readonly_fields = ("old_state", "new_state", "changed_at", "changed_by", "reason")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("summary", "category", "occurred_at", "source", "credibility", "verification", "visibility")
    list_filter = ("verification", "visibility", "category", "source")
    list_select_related = ("source",)
    search_fields = ("summary", "location", "admin1", "source__name", "source_ref")
    date_hierarchy = "occurred_at"
    autocomplete_fields = ("source", "commitment", "event")
    readonly_fields = ("verification",)
    inlines = [VerificationChangeInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.entered_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(EventGroup)
class EventGroupAdmin(admin.ModelAdmin):
    search_fields = ("label",)
