"""Chat writes and the rules for nicknames, senders and message text (sync; via db()).

Who wrote a message is shown by three things: the nickname (chosen freely,
so not proof of anything), a short tag and a colour derived from the sender
(the HMAC public id of the browser session, or of the connection for a client
without cookies), and a staff flag. Two people with the same nickname get
different tags (20 bits each: two given senders share a tag with probability
one in a million) and, usually, different colours; staff have a colour of
their own that no other sender gets, and their usernames and nicknames are
reserved (compared after NFKC and case folding).
"""

import hashlib
import unicodedata
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from votemap_site.realtime.errors import CLOSED, INVALID, NOT_FOUND, RealtimeError

from .models import Message, ModerationEvent, Room, StaffNickname
from .selectors import message_as_dict, nickname_reserved_keys
from .senders import nickname_fold, sender_color

MAX_TEXT = 500
MAX_NICKNAME = 32
NICKNAME_SESSION_KEY = "chat_nickname"

_ADJECTIVES = (
    "Brave", "Calm", "Clever", "Cosy", "Curious", "Eager", "Gentle", "Happy", "Jolly", "Kind",
    "Lively", "Lucky", "Merry", "Nimble", "Polite", "Quick", "Quiet", "Sunny", "Swift", "Witty",
)
_ANIMALS = (
    "Badger", "Cat", "Dog", "Dolphin", "Eagle", "Fox", "Gecko", "Hedgehog", "Koala", "Lynx",
    "Otter", "Owl", "Panda", "Parrot", "Penguin", "Rabbit", "Robin", "Seal", "Tiger", "Wolf",
)

NICKNAME_RESERVED = "nickname_reserved"
TOO_MANY_ROOMS = "too_many_rooms"


class ChatError(RealtimeError):
    """A RealtimeError whose error object also carries a machine-readable
    `reason` (an added key), so a page can explain which rule was hit."""

    def __init__(self, code: str, message: str, *, reason: str) -> None:
        super().__init__(code, message)
        self.reason = reason

    def to_ack(self) -> dict[str, Any]:
        ack = super().to_ack()
        ack["error"]["reason"] = self.reason
        return ack


def nickname_reserved_error() -> ChatError:
    return ChatError(
        INVALID, "nickname: reserved for the site's staff, choose another", reason=NICKNAME_RESERVED
    )


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:8], "big")


def nickname_default(*, seed: str, reserved: frozenset[str] = frozenset()) -> str:
    """A friendly name, stable for one seed (a session or connection key),
    never one of the `reserved` folded names."""
    for attempt in range(100):
        n = _digest("nick:" + seed + (f"#{attempt}" if attempt else ""))
        nickname = f"{_ADJECTIVES[n % 20]}{_ANIMALS[(n // 20) % 20]}{(n // 400) % 90 + 10}"
        if nickname_fold(nickname) not in reserved:
            return nickname
    return f"Guest{_digest(seed) % 10**8:08d}"


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


def nickname_claim(*, value: str, is_staff: bool, user_id: int | None) -> str:
    """The cleaned nickname `value`, if this client may take it.

    A staff user may take any nickname, and it becomes reserved for staff
    (one per staff user, the latest). Anyone else gets `invalid` (reason
    `nickname_reserved`) for the username or nickname of a staff user."""
    nickname = nickname_clean(value)
    if is_staff and user_id is not None:
        staff_nickname_record(user_id=user_id, nickname=nickname)
    elif nickname_fold(nickname) in nickname_reserved_keys():
        raise nickname_reserved_error()
    return nickname


def staff_nickname_record(*, user_id: int, nickname: str) -> None:
    """Reserve the nickname a staff user is using now (replaces the previous one)."""
    StaffNickname.objects.update_or_create(
        user_id=user_id, defaults={"nickname": nickname, "folded": nickname_fold(nickname)},
    )


def message_post(
    *,
    room_id: int,
    room_slug: str,
    author: str,
    sender_key: str,
    text: str,
    staff: bool = False,
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
                room_id=room_id, author=author, color=sender_color(sender_key, staff=staff),
                sender_key=sender_key, staff=staff, text=text, client_id=cid, created_at=timezone.now(),
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
