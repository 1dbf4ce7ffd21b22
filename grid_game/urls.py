from django.urls import path

from . import views

app_name = "grid_game"

urlpatterns = [
    path("", views.arena_list, name="arena_list"),
    path("<slug:slug>/", views.arena_page, name="arena"),
]
