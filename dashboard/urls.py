from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.map_page, name="map"),
    path("present/", views.present_page, name="present"),
]
