from django.urls import path

from monitor.pages import views

urlpatterns = [
    path("", views.home, name="home"),
]
