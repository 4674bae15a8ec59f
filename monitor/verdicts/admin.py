from django.contrib import admin

from monitor.verdicts.models import Assessment, StatusChange


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ("commitment", "action", "status", "pam_grade", "confidence", "author", "assessed_at")
    list_filter = ("action", "status", "confidence")
    list_select_related = ("commitment", "author")
    autocomplete_fields = ("commitment",)
    readonly_fields = ("author",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = request.user
        super().save_model(request, obj, form, change)


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    """Read-only: the record of transitions is append-only."""

    list_display = ("commitment", "old_status", "new_status", "effective_at", "detected_at", "kind")
    list_filter = ("kind", "new_status")
    list_select_related = ("commitment",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
