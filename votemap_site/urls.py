from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_view, name="metrics"),
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["votemap_site", "dashboard", "chat", "grid_game"]),
        name="javascript-catalog",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("map/", include("dashboard.urls")),
    path("chat/", include("chat.urls")),
    path("game/", include("grid_game.urls")),
    path("admin/", admin.site.urls),
]
