"""Chat writes and the rules for nicknames and message text (sync; via db())."""

import hashlib
import unicodedata
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from votemap_site.realtime.errors import CLOSED, INVALID, NOT_FOUND, RealtimeError

from .models import Message, ModerationEvent, Room
from .selectors import message_as_dict

MAX_TEXT = 500
MAX_NICKNAME = 32
NICKNAME_SESSION_KEY = "chat_nickname"

# Text colours with a contrast ratio of at least 4.5:1 on white (WCAG AA).
PALETTE = (
    "#b3261e", "#1b6e3a", "#0b57d0", "#7b3fc4", "#a14800", "#00707a",
    "#a3165f", "#4453c4", "#3d6b00", "#8a5a00", "#c2185b", "#00695c",
)

_ADJECTIVES = (
    "Brave", "Calm", "Clever", "Cosy", "Curious", "Eager", "Gentle", "Happy", "Jolly", "Kind",
    "Lively", "Lucky", "Merry", "Nimble", "Polite", "Quick", "Quiet", "Sunny", "Swift", "Witty",
)
_ANIMALS = (
    "Badger", "Cat", "Dog", "Dolphin", "Eagle", "Fox", "Gecko", "Hedgehog", "Koala", "Lynx",
    "Otter", "Owl", "Panda", "Parrot", "Penguin", "Rabbit", "Robin", "Seal", "Tiger", "Wolf",
)


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:8], "big")


def nickname_color(nickname: str) -> str:
    """The same nickname always gets the same colour."""
    return PALETTE[_digest(unicodedata.normalize("NFC", nickname).casefold()) % len(PALETTE)]


def nickname_default(*, seed: str) -> str:
    """A friendly name, stable for one seed (a session or connection key)."""
    n = _digest("nick:" + seed)
    return f"{_ADJECTIVES[n % 20]}{_ANIMALS[(n // 20) % 20]}{(n // 400) % 90 + 10}"


def nickname_clean(value: str) -> str:
    """NFC, trimmed, 1-32 printable characters; else RealtimeError(invalid)."""
    nickname = unicodedata.normalize("NFC", value).strip()
    if not 1 <= len(nickname) <= MAX_NICKNAME:
        raise RealtimeError(INVALID, f"nickname: 1 to {MAX_NICKNAME} characters after trimming")
    if not nickname.isprintable():
        raise RealtimeError(INVALID, "nickname: only printable characters")
    return nickname


def message_text_clean(value: str) -> str:
    """NFC, trimmed, line breaks kept, 1-500 characters; else RealtimeError(invalid)."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise RealtimeError(INVALID, "text: empty after trimming")
    if len(text) > MAX_TEXT:
        raise RealtimeError(INVALID, f"text: at most {MAX_TEXT} characters")
    if not all(ch.isprintable() or ch in "\n\t" for ch in text):
        raise RealtimeError(INVALID, "text: control or invisible formatting characters are not allowed")
    return text


def message_post(
    *,
    room_id: int,
    room_slug: str,
    author: str,
    color: str,
    sender_key: str,
    text: str,
    client_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a message. Returns (message, created); a retry with the same
    `client_id` from the same sender returns the stored message, created False."""
    text = message_text_clean(text)
    cid = uuid.UUID(client_id) if client_id else None
    if cid is not None:
        existing = Message.objects.filter(sender_key=sender_key, client_id=cid).select_related("room").first()
        if existing is not None:
            return message_as_dict(existing, room_slug=existing.room.slug), False
    try:
        with transaction.atomic():
            room = Room.objects.filter(id=room_id).values_list("is_open", flat=True).first()
            if room is None:
                raise RealtimeError(NOT_FOUND, f"no room {room_slug!r}")
            if not room:
                raise RealtimeError(CLOSED, "this room is closed")
            message = Message.objects.create(
                room_id=room_id, author=author, color=color, sender_key=sender_key,
                text=text, client_id=cid, created_at=timezone.now(),
            )
    except IntegrityError:
        # The same client_id raced in from another worker: answer with that one.
        existing = Message.objects.filter(sender_key=sender_key, client_id=cid).select_related("room").first()
        if existing is None:
            raise
        return message_as_dict(existing, room_slug=existing.room.slug), False
    return message_as_dict(message, room_slug=room_slug), True


def message_delete(*, message_ids: list[int]) -> int:
    """Moderation: delete messages and record it so every worker tells its clients."""
    with transaction.atomic():
        by_room: dict[int, list[int]] = {}
        for mid, room_id in Message.objects.filter(id__in=message_ids).values_list("id", "room_id"):
            by_room.setdefault(room_id, []).append(mid)
        deleted = 0
        for room_id, ids in by_room.items():
            deleted += Message.objects.filter(id__in=ids).delete()[0]
            for start in range(0, len(ids), 1000):
                ModerationEvent.objects.create(
                    room_id=room_id, kind=ModerationEvent.Kind.DELETE, message_ids=sorted(ids[start:start + 1000])
                )
    return deleted


def room_clear_history(*, room_id: int) -> int:
    """Moderation: delete every message of a room."""
    with transaction.atomic():
        last = Message.objects.filter(room_id=room_id).order_by("-id").values_list("id", flat=True).first()
        if last is None:
            return 0
        deleted = Message.objects.filter(room_id=room_id, id__lte=last).delete()[0]
        ModerationEvent.objects.create(room_id=room_id, kind=ModerationEvent.Kind.CLEAR, up_to_id=last)
    return deleted
