from django.contrib import admin
from django.urls import include, path

from monitor.verdicts import queue

urlpatterns = [
    # The analysts' work queue, inside the admin (its login, its layout): admin_view turns away non-staff.
    path("admin/queue/", admin.site.admin_view(queue.view), name="admin_queue"),
    path("admin/", admin.site.urls),
    path("api/", include("monitor.api.urls")),
    path("alerts/", include("monitor.alerts.urls")),
    path("accounts/", include("monitor.accounts.urls")),
    path("", include("monitor.pages.urls")),
]
