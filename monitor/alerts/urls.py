from django.urls import path

from monitor.alerts import views

app_name = "alerts"
urlpatterns = [
    path("subscribe/<slug:agreement>/", views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("health/", views.health, name="health"),
]
