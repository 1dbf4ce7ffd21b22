from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="rooms"),
    path("<slug:slug>/", views.room_page, name="room"),
]
