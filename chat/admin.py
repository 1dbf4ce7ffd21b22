"""Admin: rooms (open/close, clear history, live member and message counts) and
message moderation. Deletions go through the services, which record a
moderation event that every worker relays to its clients."""

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Message, Room, StaffNickname
from .rooms import presence_key


def _members(slug: str) -> int | None:
    try:
        from votemap_site.realtime.server import current

        presence = current().presence
    except RuntimeError:  # no realtime server in this process (management commands)
        return None
    try:
        return async_to_sync(presence.total)(presence_key(slug))
    except Exception:
        return presence.local(presence_key(slug))


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_open", "members", "message_count", "created_at")
    list_editable = ("is_open",)
    list_filter = ("is_open",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    actions = ["open_rooms", "close_rooms", "clear_history"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_message_count=Count("messages"))

    @admin.display(description=_("messages"), ordering="_message_count")
    def message_count(self, obj: Room) -> int:
        return obj._message_count

    @admin.display(description=_("members now"))
    def members(self, obj: Room) -> str:
        count = _members(obj.slug)
        return "—" if count is None else str(count)

    @admin.action(description=_("Open the selected rooms"))
    def open_rooms(self, request, queryset):
        for room in queryset:
            room.is_open = True
            room.save(update_fields=["is_open", "updated_at"])

    @admin.action(description=_("Close the selected rooms"))
    def close_rooms(self, request, queryset):
        for room in queryset:
            room.is_open = False
            room.save(update_fields=["is_open", "updated_at"])

    @admin.action(description=_("Clear the history of the selected rooms"))
    def clear_history(self, request, queryset):
        total = sum(services.room_clear_history(room_id=room.id) for room in queryset)
        self.message_user(
            request, ngettext("%(n)d message deleted.", "%(n)d messages deleted.", total) % {"n": total},
            messages.SUCCESS,
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "room", "author", "staff", "text")
    list_filter = ("room",)
    search_fields = ("text", "author")
    date_hierarchy = "created_at"
    list_select_related = ("room",)
    readonly_fields = ("room", "author", "color", "sender_key", "staff", "text", "client_id", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj: Message) -> None:
        services.message_delete(message_ids=[obj.id])

    def delete_queryset(self, request, queryset) -> None:
        services.message_delete(message_ids=list(queryset.values_list("id", flat=True)))


@admin.register(StaffNickname)
class StaffNicknameAdmin(admin.ModelAdmin):
    """The nickname each staff user is using: reserved, no one else may take it."""

    list_display = ("nickname", "user", "updated_at")
    search_fields = ("nickname", "user__username")
    readonly_fields = ("user", "nickname", "folded", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False
