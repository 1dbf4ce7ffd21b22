from django.contrib import admin
from django.db.models import F

from .models import Arena, HighScore


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "width", "height", "max_players", "coins", "is_open")
    list_editable = ("is_open",)
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("slug", "name")
    actions = ["close_arenas", "open_arenas"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # The running arena notices the new revision on its next poll and
        # applies it (closing tells its players at once).
        if change:
            obj.revision = F("revision") + 1
        super().save_model(request, obj, form, change)
        obj.refresh_from_db(fields=["revision"])

    @admin.action(description="Close the selected arenas (stop joins, tell the players)")
    def close_arenas(self, request, queryset):  # type: ignore[no-untyped-def]
        queryset.update(is_open=False, revision=F("revision") + 1)

    @admin.action(description="Open the selected arenas")
    def open_arenas(self, request, queryset):  # type: ignore[no-untyped-def]
        queryset.update(is_open=True, revision=F("revision") + 1)


@admin.register(HighScore)
class HighScoreAdmin(admin.ModelAdmin):
    list_display = ("name", "arena", "score", "achieved_at")
    list_filter = ("arena",)
    search_fields = ("name",)
    readonly_fields = ("player_id",)
