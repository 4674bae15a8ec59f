from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from monitor.api import views

app_name = "api"

urlpatterns = [
    path("", views.ApiRoot.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(urlconf="monitor.urls"), name="schema"),
    path("docs/", views.ApiDocs.as_view(), name="docs"),
    path("agreements/", views.AgreementList.as_view(), name="agreement-list"),
    path("agreements/<slug:agreement>/", views.AgreementDetail.as_view(), name="agreement-detail"),
    path("agreements/<slug:agreement>/commitments/", views.CommitmentList.as_view(), name="commitment-list"),
    path(
        "agreements/<slug:agreement>/commitments/<slug:key>/",
        views.CommitmentDetail.as_view(),
        name="commitment-detail",
    ),
    path(
        "agreements/<slug:agreement>/commitments/<slug:key>/reports/",
        views.CommitmentReports.as_view(),
        name="commitment-reports",
    ),
    path("reports/", views.ReportList.as_view(), name="report-list"),
    path("reports/<int:pk>/", views.ReportDetail.as_view(), name="report-detail"),
    path("status-changes/", views.StatusChangeList.as_view(), name="statuschange-list"),
]
