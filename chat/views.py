"""Pages of the chat: the room list and a room.

Messages, member counts and trending words come live from the `/chat`
namespace; the views render the room names (so the list works without
JavaScript) and pass the page's configuration through `json_script`.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import Room

NAMESPACE = "/chat"
# Demo switch (`?auto_chat=<ms>` turns it on): interval between sample sentences.
AUTO_CHAT_DEFAULT_MS = 4000
AUTO_CHAT_MIN_MS = 1000
AUTO_CHAT_MAX_MS = 60_000


def parse_auto_chat(raw: str | None) -> int | None:
    """The auto chat interval in ms, clamped; None (off) when absent or not a number."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return int(min(AUTO_CHAT_MAX_MS, max(AUTO_CHAT_MIN_MS, value)))


@require_GET
def room_list(request: HttpRequest) -> HttpResponse:
    rooms = Room.objects.filter(is_open=True)
    return render(request, "chat/room_list.html", {
        "rooms": rooms, "config": {"namespace": NAMESPACE},
    })


@require_GET
def room_page(request: HttpRequest, slug: str) -> HttpResponse:
    room = get_object_or_404(Room, slug=slug)
    auto_chat = parse_auto_chat(request.GET.get("auto_chat"))
    return render(request, "chat/room.html", {
        "room": room,
        "config": {
            "namespace": NAMESPACE,
            "room": room.slug,
            "autoChatMs": auto_chat or AUTO_CHAT_DEFAULT_MS,
            "autoChat": auto_chat is not None,
            "maxLength": 500,
        },
    })
