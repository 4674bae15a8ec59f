"""The audit trail in the admin: shown to those who may see the object, never written through.

django-simple-history's history form saves a POST after checking only the
*view* permission (3.13: `SimpleHistoryAdmin.history_form_view`), and
`SIMPLE_HISTORY_REVERT_DISABLED` only hides the button. A revert would also
bypass what the change form enforces: the four-eyes rule on verification,
the visibility of restricted reports, the append-only assessments. So here
history is read-only for everyone; to undo a change, make it again in the
change form, where it is checked and recorded like any other.
"""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin


class AuditedAdmin(SimpleHistoryAdmin):
    def revert_disabled(self, request, obj=None):
        return True

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        self._visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _visible_or_404(self, request, object_id):
        """Only what the changelist would show this user (restricted reports are for analysts).

        A deleted object is no longer in the queryset; its history is for those who may change
        such objects, since we cannot tell any more which rows it would have hidden.
        """
        pk = unquote(object_id)
        if self.get_queryset(request).filter(pk=pk).exists():
            return
        if self.model._default_manager.filter(pk=pk).exists() or not self.has_change_permission(request):
            raise Http404
