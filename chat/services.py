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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from votemap_site.realtime.errors import CLOSED, INVALID, NOT_FOUND, RealtimeError

from .models import Message, ModerationEvent, Room, StaffNickname
from .selectors import iso_z, message_as_dict, nickname_reserved_keys
from .senders import nickname_fold, sender_color, sender_tag

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


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """One `send_message`, validated by the namespace, waiting for its batch."""

    room_id: int
    room_slug: str
    author: str
    sender_key: str
    text: str  # cleaned (message_text_clean)
    staff: bool = False
    client_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """What one request of a batch got: the stored message (`created` False for
    a retry of a stored `client_id`), or the error its ack carries."""

    message: dict[str, Any] | None = None
    created: bool = False
    error: RealtimeError | None = None

    def unwrap(self) -> tuple[dict[str, Any], bool]:
        if self.error is not None:
            raise self.error
        assert self.message is not None
        return self.message, self.created


_INSERT_COLUMNS = ("room_id", "author", "color", "sender_key", "staff", "text", "client_id", "created_at")


def message_post_batch(*, requests: Sequence[MessageRequest]) -> list[MessageOutcome]:
    """Store a tick's messages in ONE transaction, in order; one outcome per request.

    A request whose (sender, `client_id`) is already stored, or earlier in the
    same batch, gets that message back (created False). A closed or deleted
    room answers its requests with an error outcome and stores nothing for
    them. Any database error propagates: the transaction is rolled back, so
    nothing of the batch is stored, and the caller answers every request with
    an error. Ids increase in request order (one INSERT per row, in order).
    """
    if not requests:
        raise ValueError("an empty batch")
    try:
        return _post_batch_once(requests)
    except IntegrityError:
        # A client_id raced in from another worker between our read and our
        # insert: the whole batch was rolled back; once more finds that row.
        return _post_batch_once(requests)


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _post_batch_once(requests: Sequence[MessageRequest]) -> list[MessageOutcome]:
    # Plain SQL for the three statements every batch runs (the ORM's query
    # building was most of a batch's cost); the ORM only for retries.
    now = timezone.now()
    client_id_field = Message._meta.get_field("client_id")
    created_at = Message._meta.get_field("created_at").get_db_prep_value(now, connection)
    quote = connection.ops.quote_name
    messages, rooms = quote(Message._meta.db_table), quote(Room._meta.db_table)
    columns = ", ".join(quote(name) for name in _INSERT_COLUMNS)
    # RETURNING: SQLite >= 3.35 and PostgreSQL; one row per statement keeps id order.
    insert = f"INSERT INTO {messages} ({columns}) VALUES ({_placeholders(len(_INSERT_COLUMNS))}) RETURNING id"
    db_client_id = {
        r.client_id: client_id_field.get_db_prep_value(r.client_id, connection)
        for r in requests if r.client_id is not None
    }
    outcomes: list[MessageOutcome] = []
    with transaction.atomic(), connection.cursor() as cursor:
        room_ids = sorted({r.room_id for r in requests})
        cursor.execute(f"SELECT id, is_open FROM {rooms} WHERE id IN ({_placeholders(len(room_ids))})", room_ids)
        is_open = {room_id: bool(value) for room_id, value in cursor.fetchall()}
        stored: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
        if db_client_id:
            values = list(db_client_id.values())
            cursor.execute(
                f"SELECT sender_key, client_id FROM {messages} WHERE client_id IN ({_placeholders(len(values))})",
                values,
            )
            wanted = {(r.sender_key, db_client_id[r.client_id]) for r in requests if r.client_id is not None}
            if any(tuple(row) in wanted for row in cursor.fetchall()):
                # Retries (rare): read the stored messages as any other read does.
                senders = {r.sender_key for r in requests if r.client_id is not None}
                earlier = Message.objects.filter(client_id__in=list(db_client_id), sender_key__in=senders)
                for message in earlier.select_related("room"):
                    stored[(message.sender_key, message.client_id)] = message_as_dict(
                        message, room_slug=message.room.slug
                    )
        for request in requests:
            key = (request.sender_key, request.client_id) if request.client_id is not None else None
            if key is not None and key in stored:
                outcomes.append(MessageOutcome(message=stored[key], created=False))
                continue
            room_open = is_open.get(request.room_id)
            if room_open is None:
                missing = RealtimeError(NOT_FOUND, f"no room {request.room_slug!r}")
                outcomes.append(MessageOutcome(error=missing))
                continue
            if not room_open:
                outcomes.append(MessageOutcome(error=RealtimeError(CLOSED, "this room is closed")))
                continue
            color = sender_color(request.sender_key, staff=request.staff)
            cursor.execute(insert, [
                request.room_id, request.author, color, request.sender_key, request.staff, request.text,
                db_client_id.get(request.client_id) if request.client_id is not None else None, created_at,
            ])
            (message_id,) = cursor.fetchone()
            message = {
                "id": message_id, "room": request.room_slug, "author": request.author,
                "color": color, "tag": sender_tag(request.sender_key), "staff": request.staff,
                "text": request.text, "created_at": iso_z(now),
            }
            if key is not None:
                stored[key] = message
            outcomes.append(MessageOutcome(message=message, created=True))
    return outcomes


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
    """Store one message (scripts, the admin, tests; the namespace batches with
    `message_post_batch`). Returns (message, created); a retry with the same
    `client_id` from the same sender returns the stored message, created False.
    Raises RealtimeError for bad text, `closed` and `not_found`."""
    request = MessageRequest(
        room_id=room_id, room_slug=room_slug, author=author, sender_key=sender_key,
        text=message_text_clean(text), staff=staff, client_id=uuid.UUID(client_id) if client_id else None,
    )
    return message_post_batch(requests=[request])[0].unwrap()


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
