"""Reads for the chat (sync; called through db() from the namespace)."""

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from .models import Message, ModerationEvent, Room, StaffNickname
from .senders import nickname_fold, sender_color, sender_tag

NEWEST_ON_JOIN = 50


def iso_z(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z: 2026-11-25T10:00:00.123Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def message_as_dict(message: Message, *, room_slug: str) -> dict[str, Any]:
    return {
        "id": message.id,
        "room": room_slug,
        "author": message.author,
        # Derived from the stored sender (not read from the stored colour), so
        # every message, old ones included, follows the same rule.
        "color": sender_color(message.sender_key, staff=message.staff),
        "tag": sender_tag(message.sender_key),
        "staff": message.staff,
        "text": message.text,
        "created_at": iso_z(message.created_at),
    }


def room_as_dict(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "slug": room.slug,
        "name": room.name,
        "description": room.description,
        "sentences": room.sentences,
        "open": room.is_open,
    }


def room_all() -> list[dict[str, Any]]:
    """Every room (open and closed), as the namespace caches them."""
    return [room_as_dict(room) for room in Room.objects.all()]


def room_get(*, slug: str) -> dict[str, Any] | None:
    room = Room.objects.filter(slug=slug).first()
    return room_as_dict(room) if room else None


def message_list_newest(*, room_id: int, room_slug: str, limit: int = NEWEST_ON_JOIN) -> list[dict[str, Any]]:
    """The newest `limit` messages of a room, oldest first."""
    rows = list(Message.objects.filter(room_id=room_id).order_by("-id")[:limit])
    rows.reverse()
    return [message_as_dict(m, room_slug=room_slug) for m in rows]


def message_list_before(
    *, room_id: int, room_slug: str, before_id: int, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` messages older than `before_id`, oldest first."""
    rows = list(Message.objects.filter(room_id=room_id, id__lt=before_id).order_by("-id")[:limit])
    rows.reverse()
    return [message_as_dict(m, room_slug=room_slug) for m in rows]


def message_texts_since(
    *, since: datetime, room_id: int | None = None, limit: int = 50_000
) -> list[tuple[int, int, str, datetime, str]]:
    """(id, room id, text, created_at, sender key) of recent messages, in
    (created_at, id) order, for the trending cache."""
    qs = Message.objects.filter(created_at__gte=since)
    if room_id is not None:
        qs = qs.filter(room_id=room_id)
    rows = list(qs.order_by("-id").values_list("id", "room_id", "text", "created_at", "sender_key")[:limit])
    rows.reverse()
    rows.sort(key=lambda row: (row[3], row[0]))
    return rows


def nickname_reserved_keys() -> frozenset[str]:
    """Folded usernames of staff users and the nicknames they use (a few rows)."""
    user_model = get_user_model()
    usernames = user_model.objects.filter(is_staff=True).values_list(user_model.USERNAME_FIELD, flat=True)
    nicknames = StaffNickname.objects.filter(user__is_staff=True).values_list("folded", flat=True)
    return frozenset(nickname_fold(name) for name in usernames) | frozenset(nicknames)


def moderation_last_id() -> int:
    last = ModerationEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def watch_marker() -> dict[str, Any]:
    """What every worker's watcher polls (chat/sockets.py): the rooms as clients see
    them and the last moderation event. Whole rows rather than a revision column:
    rooms are few (created in the admin), and a row changed by a plain UPDATE
    (scripts, `queryset.update`) must be noticed too."""
    return {"rooms": room_all(), "moderation": moderation_last_id()}


def moderation_events_after(*, after_id: int) -> list[dict[str, Any]]:
    return [
        {"id": e.id, "room_id": e.room_id, "kind": e.kind, "message_ids": e.message_ids, "up_to_id": e.up_to_id}
        for e in ModerationEvent.objects.filter(id__gt=after_id).order_by("id")[:500]
    ]
