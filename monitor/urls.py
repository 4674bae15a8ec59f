from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("monitor.api.urls")),
    path("alerts/", include("monitor.alerts.urls")),
    path("accounts/", include("monitor.accounts.urls")),
    path("", include("monitor.pages.urls")),
]
