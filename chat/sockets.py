"""`/chat`: rooms with live trending words (docs/protocol.md, section /chat).

Handlers are thin: validate (schemas), check membership, call a service
through db(), broadcast, ack. Messages are durable in the database; everything
held here is a cache rebuilt from it.

Group commit
    `on_send_message` validates, queues the message with a future and marks
    the flusher dirty. Once per tick (settings.CHAT_TICK_MS; the first
    message after a quiet spell goes at once) the flusher hands everything
    queued to `services.message_post_batch`, ONE transaction, and only after
    it has committed resolves the futures (the acks) and broadcasts the new
    messages, in arrival order. Idempotency stays in the database: a retried
    `client_id` (in an earlier batch or the same one) gets the stored message,
    created False, and no second broadcast. A database error answers every
    message of the batch `internal` (nothing of it was committed; the client
    retries with the same `client_id`). One commit per tick instead of one per
    message is what lets one core carry hundreds of messages a second, and
    the messages of one tick reach each member in one socket write
    (broadcast.py coalesces the frames of one loop iteration).

Large rooms
    That write, one per member per batch, is most of the cost of a large
    room: with 2,000 members and a 10 ms tick nearly every message would be
    its own batch and its own 2,000 writes. After each batch the tick is set
    from the members of the batch's rooms
    (`votemap_site.realtime.fanout.tick_for_audience`, the map's rule:
    CHAT_TICK_PER_MEMBER_US per member, between CHAT_TICK_MS and
    CHAT_TICK_MAX_MS), so a busy large room carries several messages per
    write. The rooms of the batch, not all of this worker's connections:
    members of quiet rooms cost nothing when a busy room's batch is
    broadcast, and would only delay it. Their members over all workers (the
    `members` count, pushed at most a second old), not only this worker's:
    every worker writes each batch of every worker to its own members, so
    with N workers sharing a room of M, each receives the batches of all N,
    and a tick set from M keeps each worker's fan-out about where a single
    worker with the whole room would have it (one set from M / N would
    allow N times as many batches).

Trending words with several workers. Each worker keeps one
`trending.TrendingWindow` per room and pushes `trending` only to its own
clients (`ignore_queue=True`), so no client ever gets a push twice. For every
worker to reach the same result, every worker must count the same messages
with the same times:

- the worker that stores a message counts it at once, with the message's
  stored `created_at` (millisecond precision, as sent to clients);
- with several workers (REDIS_URL or MESSAGE_QUEUE_URL set) every worker also reads, once a second,
  the messages stored in the last few seconds and counts those it has not
  counted yet, with the same `created_at`. Re-reading a few seconds (not
  "ids above the last seen") catches rows whose transactions committed out of
  id order. A message that reaches a worker after a newer one is counted at
  the newer one's time (the window never reorders), a difference of well
  under a second that only shifts its decay;
- on start-up, and after a moderator deletes messages, a room's window is
  rebuilt from the messages of the last window in the database.

A single worker (no message queue) skips the polling: it sees every message.
Everything the trending rule needs (text, time, sender key) is in the stored
Message row, so a window rebuilt from the database or fed by polling counts
a message exactly as the worker that stored it did.

Admin changes made by any process reach the clients of every worker through
the site's one watcher (votemap_site/realtime/watcher.py): once a second it
reads the rooms and the last moderation event id (`selectors.watch_marker`)
and, only when they changed, this worker sends `room` (opened, closed,
renamed, removed) and `message_deleted` / `history_cleared` to its own
clients. Member counts are kept in presence under `rooms.presence_key`
(summed over workers) and pushed as `members` when they change: at once after
a local join or leave (0.2 s coalescing), and by the once-a-second tick for
changes on other workers. The same tick re-reads the reserved nicknames
(staff usernames and nicknames: a cache for checks, nothing to tell clients)
and pushes `trending`.

Memory held here, per worker, and its bounds (nothing a client sends grows
it beyond them):

- `_rooms`, `_windows`, `_last_trending`, `_last_members`: one entry per
  room in the database (rooms are created in the admin, not by clients);
  entries of a deleted room are dropped. Each window is bounded by
  CHAT_TRENDING_MAX_TOKENS words (chat/trending.py for the other bounds).
- `_joined`: per connection, at most CHAT_MAX_ROOMS_PER_CONNECTION slugs.
- `_nicknames`, `_connections`: one entry per identity (browser session or
  cookie-less connection) with a connection here, dropped with its last one.
- `_counted`: ids of messages counted in the last COUNTED_HORIZON_SECONDS,
  at most COUNTED_MAX (older ids cannot come back from the poll, and counting
  a message twice changes nothing anyway: a sender holds one use of a word).
- `_reserved`: the folded staff names, as many as staff users allow.
- `_pending`: messages waiting for the next group commit: what the
  per-connection rate limit (CHAT_MESSAGE_RATE, bursts of
  CHAT_MESSAGE_BURST) admits while one commit runs; a batch takes at most
  MAX_BATCH of them.
- Idempotency of `client_id` and message history live in the database
  (a unique constraint and indexed queries), not in memory.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from votemap_site.realtime.base import BaseNamespace
from votemap_site.realtime.dbaccess import db
from votemap_site.realtime.errors import CLOSED, INTERNAL, INVALID, NOT_FOUND, NOT_JOINED, RealtimeError
from votemap_site.realtime.fanout import tick_for_audience
from votemap_site.realtime.identity import Identity, session_get, session_set
from votemap_site.realtime.ratelimit import RateLimit
from votemap_site.realtime.ticker import Ticker
from votemap_site.realtime.watcher import Watcher

from . import selectors, services
from .rooms import WATCH_ROOMS, presence_key, socket_room
from .senders import nickname_fold, sender_color, sender_tag
from .schemas import (
    HistoryPayload,
    JoinPayload,
    LeavePayload,
    ListRoomsPayload,
    SendMessagePayload,
    SetNicknamePayload,
)
from .trending import DEFAULT_TOP, TrendingWindow

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # trending, members from other workers, admin changes
# How far back each poll re-reads messages stored by other workers.
SYNC_OVERLAP_SECONDS = 5.0
# Message ids counted recently: far longer than the poll's overlap (a slow
# tick), and capped so that a flood of messages cannot grow it.
COUNTED_HORIZON_SECONDS = 60.0
COUNTED_MAX = 20_000
# Messages committed in one transaction at most; more wait for the next tick.
MAX_BATCH = 2000


def timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def poll_state(*, messages_since: datetime | None) -> dict[str, Any]:
    """Sync: what the once-a-second tick reads, in one trip to the database."""
    return {
        "reserved": selectors.nickname_reserved_keys(),
        "messages": (
            selectors.message_texts_since(since=messages_since) if messages_since is not None else []
        ),
    }


class ChatNamespace(BaseNamespace):
    lobby_stat = "chat"
    schemas = {
        "list_rooms": ListRoomsPayload,
        "join": JoinPayload,
        "leave": LeavePayload,
        "send_message": SendMessagePayload,
        "history": HistoryPayload,
        "set_nickname": SetNicknamePayload,
    }

    def __init__(self, namespace: str, **kwargs: Any) -> None:
        super().__init__(namespace, **kwargs)
        # Read when the server is built, so deployments (and tests) can change them.
        self.rate_limits = {
            "send_message": RateLimit(per_second=settings.CHAT_MESSAGE_RATE, burst=settings.CHAT_MESSAGE_BURST),
            "join": RateLimit(per_second=5, burst=10),
            "history": RateLimit(per_second=5, burst=10),
            "set_nickname": RateLimit(per_second=1, burst=5),
        }
        self.window_seconds = float(settings.CHAT_TRENDING_WINDOW_SECONDS)
        self.min_senders = int(settings.CHAT_TRENDING_MIN_SENDERS)
        self.max_tokens = int(settings.CHAT_TRENDING_MAX_TOKENS)
        self.max_rooms = int(settings.CHAT_MAX_ROOMS_PER_CONNECTION)
        # With several workers every worker reads the others' messages (see above).
        self.sync_from_db = bool(settings.REDIS_URL or settings.MESSAGE_QUEUE_URL)
        self._rooms: dict[str, dict[str, Any]] = {}  # slug -> selectors.room_as_dict
        self._windows: dict[str, TrendingWindow] = {}
        self._counted: dict[int, float] = {}  # message id -> its time, recent ones only
        self._joined: dict[str, set[str]] = {}  # sid -> slugs
        # identity key -> nickname, shared by all the connections of a browser here
        self._nicknames: dict[str, str] = {}
        self._connections: dict[str, int] = {}  # identity key -> its connections here
        self._reserved: frozenset[str] = frozenset()  # folded staff names
        self._last_trending: dict[str, tuple[tuple[str, int], ...]] = {}
        self._last_members: dict[str, int] = {}
        self._members_dirty: set[str] = set()
        self._moderation_after = 0
        self._last_sync: float | None = None
        self._tick: Ticker | None = None
        self._members_tick: Ticker | None = None
        # Group commit of send_message (see "Group commit" and "Large rooms" above).
        self.base_commit_tick = max(0.001, settings.CHAT_TICK_MS / 1000.0)
        self.commit_tick = self.base_commit_tick
        self.commit_tick_ceiling = max(self.base_commit_tick, settings.CHAT_TICK_MAX_MS / 1000.0)
        self.commit_tick_per_member = max(0.0, settings.CHAT_TICK_PER_MEMBER_US / 1e6)
        self._pending: list[tuple[services.MessageRequest, asyncio.Future[services.MessageOutcome]]] = []
        self._flusher: Ticker | None = None
        self._flush_lock: asyncio.Lock | None = None
        self._accepting = False
        self.batches_committed = 0  # for tests and benchmarks
        self._watcher: Watcher[dict[str, Any]] = Watcher(
            name="chat-watch", interval=TICK_SECONDS, read=selectors.watch_marker, changed=self._db_changed,
        )

    # ----- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        marker = await db(selectors.watch_marker)
        self._rooms = {room["slug"]: room for room in marker["rooms"]}
        self._moderation_after = marker["moderation"]
        self._watcher.seen = marker  # what the caches hold: the watcher tells of changes after it
        self._reserved = await db(selectors.nickname_reserved_keys)
        await self._rebuild_trending(None)
        self._last_sync = time.time()
        self._tick = Ticker(name="chat", interval=TICK_SECONDS, callback=self._on_tick, always=True)
        self._members_tick = Ticker(name="chat-members", interval=0.2, callback=self._push_dirty_members)
        self._flush_lock = asyncio.Lock()
        self._flusher = Ticker(name="chat-messages", interval=self.commit_tick, callback=self._flush)
        self._tick.start()
        self._members_tick.start()
        self._flusher.start()
        self._watcher.start()
        self._accepting = True

    async def stop(self) -> None:
        self._accepting = False
        await self._watcher.stop()
        for ticker in (self._tick, self._members_tick):
            if ticker is not None:
                await ticker.stop()
        if self._flusher is not None and self._flush_lock is not None:
            async with self._flush_lock:  # never cancel a batch between its commit and its acks
                await self._flusher.stop()
            while self._pending:  # what was queued before shutdown is still committed and acked
                await self._flush()

    async def connected(self, sid: str, identity: Identity, environ: dict[str, Any]) -> None:
        nickname = None
        if identity.session_key:
            stored = await db(session_get, session_key=identity.session_key, name=services.NICKNAME_SESSION_KEY)
            try:
                nickname = services.nickname_clean(stored) if isinstance(stored, str) else None
            except RealtimeError:
                nickname = None
        if nickname is not None and self._reserved_for(identity, nickname):
            nickname = None  # taken by staff since this browser chose it
        if nickname is None:
            nickname = await self._default_nickname(identity)
        if identity.is_staff and identity.user_id is not None:
            # The name staff are seen with is reserved, chosen or default.
            await db(services.staff_nickname_record, user_id=identity.user_id, nickname=nickname)
            self._reserved |= {nickname_fold(nickname)}
        self._nicknames[identity.key] = nickname
        self._connections[identity.key] = self._connections.get(identity.key, 0) + 1
        self._joined[sid] = set()

    async def disconnected(self, sid: str, identity: Identity, reason: str) -> None:
        left = self._connections.get(identity.key, 1) - 1
        if left <= 0:
            self._connections.pop(identity.key, None)
            self._nicknames.pop(identity.key, None)
        else:
            self._connections[identity.key] = left
        for slug in self._joined.pop(sid, set()):
            await self.presence.leave(presence_key(slug))
            self._mark_members(slug)

    # ----- events ---------------------------------------------------------
    async def on_list_rooms(self, sid: str, payload: ListRoomsPayload) -> dict[str, Any]:
        await self.enter_room(sid, WATCH_ROOMS)
        rooms = [room for room in self._rooms.values() if room["open"]]
        return {
            "rooms": [
                {
                    "slug": room["slug"], "name": room["name"], "description": room["description"],
                    "members": await self.presence.total(presence_key(room["slug"])),
                }
                for room in rooms
            ]
        }

    async def on_join(self, sid: str, payload: JoinPayload) -> dict[str, Any]:
        room = await self._room(payload.room)
        slug = room["slug"]
        joined = self._joined[sid]
        if slug not in joined and len(joined) >= self.max_rooms:
            raise services.ChatError(
                INVALID, f"a connection may be in at most {self.max_rooms} rooms at once: leave one first",
                reason=services.TOO_MANY_ROOMS,
            )
        if payload.nickname is not None:
            await self._set_nickname(sid, payload.nickname)
        if slug not in joined:
            # Enter before reading the newest messages: a message posted in
            # between arrives twice (clients de-duplicate by id), never zero times.
            joined.add(slug)
            await self.enter_room(sid, socket_room(slug))
            await self.presence.join(presence_key(slug))
            self._mark_members(slug)
        messages = await db(selectors.message_list_newest, room_id=room["id"], room_slug=slug)
        return {
            "room": {
                "slug": slug, "name": room["name"], "description": room["description"],
                "sentences": room["sentences"], "open": room["open"],
            },
            "you": self._you(sid),
            "messages": messages,
            "trending": self._trending_payload(slug, time.time()),
            "members": await self.presence.total(presence_key(slug)),
        }

    async def on_leave(self, sid: str, payload: LeavePayload) -> dict[str, Any]:
        slug = await self._joined_room(sid, payload.room)
        self._joined[sid].discard(slug)
        await self.leave_room(sid, socket_room(slug))
        await self.presence.leave(presence_key(slug))
        self._mark_members(slug)
        return {}

    async def on_send_message(self, sid: str, payload: SendMessagePayload) -> dict[str, Any]:
        slug = await self._joined_room(sid, payload.room)
        room = self._rooms[slug]
        if not room["open"]:
            raise RealtimeError(CLOSED, "this room is closed")
        text = services.message_text_clean(payload.text)
        identity = self.identity(sid)
        nickname = self._nicknames[identity.key]
        if self._reserved_for(identity, nickname):
            # A staff user took this name after this sender did: back to the default.
            nickname = self._nicknames[identity.key] = await self._default_nickname(identity)
        if not self._accepting or self._flusher is None:
            raise RealtimeError(INTERNAL, "the server is shutting down; retry with the same client_id")
        request = services.MessageRequest(
            room_id=room["id"], room_slug=slug, author=nickname, sender_key=identity.public_id,
            staff=identity.is_staff, text=text,
            client_id=uuid.UUID(payload.client_id) if payload.client_id else None,
        )
        future: asyncio.Future[services.MessageOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._flusher.mark_dirty()
        # Resolved by _flush only after the batch holding this message has committed.
        message, _created = (await future).unwrap()
        return {"message": message}

    async def on_history(self, sid: str, payload: HistoryPayload) -> dict[str, Any]:
        slug = await self._joined_room(sid, payload.room)
        messages = await db(
            selectors.message_list_before, room_id=self._rooms[slug]["id"], room_slug=slug,
            before_id=payload.before_id, limit=payload.limit,
        )
        return {"messages": messages}

    async def on_set_nickname(self, sid: str, payload: SetNicknamePayload) -> dict[str, Any]:
        await self._set_nickname(sid, payload.nickname)
        you = self._you(sid)
        return {"nickname": you["nickname"], "color": you["color"], "tag": you["tag"], "staff": you["staff"]}

    # ----- internals ------------------------------------------------------
    async def _room(self, slug: str) -> dict[str, Any]:
        room = self._rooms.get(slug)
        if room is None:
            room = await db(selectors.room_get, slug=slug)
            if room is None:
                raise RealtimeError(NOT_FOUND, f"no room {slug!r}")
            self._rooms[slug] = room
            await self._rebuild_trending([room["id"]])
        return room

    async def _joined_room(self, sid: str, slug: str) -> str:
        if slug not in self._joined.get(sid, ()):
            await self._room(slug)  # not_found for an unknown room
            raise RealtimeError(NOT_JOINED, f"join {slug!r} first")
        if slug not in self._rooms:  # removed in the admin
            raise RealtimeError(NOT_FOUND, f"no room {slug!r}")
        return slug

    def _you(self, sid: str) -> dict[str, Any]:
        identity = self.identity(sid)
        return {
            "nickname": self._nicknames[identity.key],
            "color": sender_color(identity.public_id, staff=identity.is_staff),
            "tag": sender_tag(identity.public_id),
            "staff": identity.is_staff,
        }

    def _reserved_for(self, identity: Identity, nickname: str) -> bool:
        return not identity.is_staff and nickname_fold(nickname) in self._reserved

    async def _default_nickname(self, identity: Identity) -> str:
        nickname = services.nickname_default(seed=identity.key, reserved=self._reserved)
        if identity.session_key:
            await db(session_set, session_key=identity.session_key,
                     name=services.NICKNAME_SESSION_KEY, value=nickname)
        return nickname

    async def _set_nickname(self, sid: str, value: str) -> str:
        identity = self.identity(sid)
        # Checked against the database, not the once-a-second cache.
        nickname = await db(services.nickname_claim, value=value, is_staff=identity.is_staff,
                            user_id=identity.user_id)
        if identity.is_staff:
            self._reserved |= {nickname_fold(nickname)}
        if identity.session_key:
            await db(session_set, session_key=identity.session_key,
                     name=services.NICKNAME_SESSION_KEY, value=nickname)
        # Every connection of this browser on this worker follows.
        self._nicknames[identity.key] = nickname
        return nickname

    def _window(self, slug: str) -> TrendingWindow:
        window = self._windows.get(slug)
        if window is None:
            window = self._windows[slug] = self._new_window()
        return window

    def _new_window(self) -> TrendingWindow:
        return TrendingWindow(
            window=self.window_seconds, min_senders=self.min_senders, max_tokens=self.max_tokens
        )

    def _count(self, slug: str, message_id: int, text: str, at: float, sender: str) -> None:
        if message_id in self._counted:
            return
        self._counted[message_id] = at
        if len(self._counted) > COUNTED_MAX:
            # Oldest first (insertion order): keep the newest half.
            self._counted = dict(list(self._counted.items())[COUNTED_MAX // 2:])
        self._window(slug).add(text, now=at, sender=sender)

    def _trending_payload(self, slug: str, now: float) -> dict[str, Any]:
        words = self._window(slug).top(now=now, limit=DEFAULT_TOP)
        return {
            "room": slug,
            "window_seconds": int(self.window_seconds),
            "words": [w.as_dict() for w in words],
        }

    async def _rebuild_trending(self, room_ids: list[int] | None) -> None:
        since = datetime.now(UTC) - timedelta(seconds=self.window_seconds)
        by_id = {room["id"]: room["slug"] for room in self._rooms.values()}
        rows = []
        if room_ids is None:
            rows = await db(selectors.message_texts_since, since=since)
            targets = list(by_id.values())
        else:
            for room_id in room_ids:
                rows += await db(selectors.message_texts_since, since=since, room_id=room_id)
            targets = [by_id[r] for r in room_ids if r in by_id]
        for slug in targets:
            self._windows[slug] = self._new_window()
        horizon = time.time() - COUNTED_HORIZON_SECONDS
        for message_id, room_id, text, created_at, sender in rows:
            slug = by_id.get(room_id)
            if slug in targets:
                self._counted.pop(message_id, None)
                self._count(slug, message_id, text, timestamp(selectors.iso_z(created_at)), sender)
        # Keep it oldest first, and only what the poll could still bring back.
        self._counted = {
            mid: at for mid, at in sorted(self._counted.items(), key=lambda item: item[1]) if at >= horizon
        }

    async def _flush(self) -> None:
        """Group commit: everything queued since the last tick, in one transaction."""
        assert self._flush_lock is not None
        async with self._flush_lock:  # stop() drains the queue while a tick may be running
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if self._pending and self._flusher is not None:
                self._flusher.mark_dirty()
            if not batch:
                return
            try:
                requests = [request for request, _ in batch]
                outcomes = await db(services.message_post_batch, requests=requests)
            except Exception:
                log.exception("namespace=%s: committing %d messages failed", self.namespace, len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RealtimeError(
                            INTERNAL, "the message could not be stored; retry with the same client_id"
                        ))
                return
            self.batches_committed += 1
            self._adapt_tick(request.room_slug for request, _ in batch)
            # Committed: acks first, then the broadcast, in the order the messages arrived.
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            for (request, _), outcome in zip(batch, outcomes, strict=True):
                message = outcome.message
                if not outcome.created or message is None:
                    continue
                at = timestamp(message["created_at"])
                self._count(request.room_slug, message["id"], message["text"], at, request.sender_key)
                try:
                    await self.emit("message", message, room=socket_room(request.room_slug))
                except Exception:
                    log.exception("namespace=%s: broadcasting message %s failed",
                                  self.namespace, message["id"])

    def _adapt_tick(self, slugs: Iterable[str]) -> None:
        """The next tick for the rooms of the batch just committed (the next batch is
        most likely for the same rooms), from their members (see "Large rooms"
        above; votemap_site/realtime/fanout.py). The ticker reads its interval on
        every run, so it applies from the next one."""
        members = sum(self._room_members(slug) for slug in set(slugs))
        tick = tick_for_audience(members, base=self.base_commit_tick,
                                 per_connection=self.commit_tick_per_member, ceiling=self.commit_tick_ceiling)
        if tick != self.commit_tick:
            self.commit_tick = tick
            if self._flusher is not None:
                self._flusher.interval = tick

    def _room_members(self, slug: str) -> int:
        """The room's members over all workers as last counted (at most a second
        old), or this worker's own when they are more (joined since)."""
        return max(self.presence.local(presence_key(slug)), self._last_members.get(slug, 0))

    def _mark_members(self, slug: str) -> None:
        self._members_dirty.add(slug)
        if self._members_tick is not None:
            self._members_tick.mark_dirty()

    async def _push_members(self, slugs: list[str]) -> None:
        for slug in slugs:
            count = await self.presence.total(presence_key(slug))
            if self._last_members.get(slug) != count:
                self._last_members[slug] = count
                await self.emit(
                    "members", {"room": slug, "count": count},
                    to=[socket_room(slug), WATCH_ROOMS], ignore_queue=True,
                )

    async def _push_dirty_members(self) -> None:
        slugs, self._members_dirty = sorted(self._members_dirty), set()
        await self._push_members(slugs)

    async def _on_tick(self) -> None:
        now = time.time()
        since = None
        if self.sync_from_db:
            since = datetime.fromtimestamp((self._last_sync or now) - SYNC_OVERLAP_SECONDS, UTC)
            self._last_sync = now
        state = await db(poll_state, messages_since=since)
        self._reserved = state["reserved"]
        by_id = {room["id"]: room["slug"] for room in self._rooms.values()}
        for message_id, room_id, text, created_at, sender in state["messages"]:
            if room_id in by_id:
                self._count(by_id[room_id], message_id, text, timestamp(selectors.iso_z(created_at)), sender)
        horizon = now - COUNTED_HORIZON_SECONDS
        if self._counted and next(iter(self._counted.values())) < horizon:
            self._counted = {mid: at for mid, at in self._counted.items() if at >= horizon}
        await self._push_trending(now)
        # Counts changed on other workers are only seen by polling.
        await self._push_members(list(self._rooms))

    async def _db_changed(self, marker: dict[str, Any]) -> dict[str, Any]:
        """The watcher saw rooms or moderation change: tell this worker's clients."""
        await self._apply_rooms(marker["rooms"])
        if marker["moderation"] > self._moderation_after:
            events = await db(selectors.moderation_events_after, after_id=self._moderation_after)
            await self._apply_moderation(events)
        # Events are read a bounded number at a time: the rest makes the next poll differ.
        return {**marker, "moderation": self._moderation_after}

    async def _apply_rooms(self, rows: list[dict[str, Any]]) -> None:
        fresh = {row["slug"]: row for row in rows}
        for slug, row in fresh.items():
            old = self._rooms.get(slug)
            self._rooms[slug] = row
            if old is not None and any(old[k] != row[k] for k in ("open", "name", "description", "sentences")):
                await self.emit("room", self._room_event(row), to=[socket_room(slug), WATCH_ROOMS],
                                ignore_queue=True)
        for slug in [s for s in self._rooms if s not in fresh]:
            old = self._rooms.pop(slug)
            self._windows.pop(slug, None)
            self._last_trending.pop(slug, None)
            self._last_members.pop(slug, None)
            self._members_dirty.discard(slug)
            await self.emit("room", {**self._room_event(old), "open": False, "removed": True},
                            to=[socket_room(slug), WATCH_ROOMS], ignore_queue=True)

    @staticmethod
    def _room_event(room: dict[str, Any]) -> dict[str, Any]:
        return {
            "slug": room["slug"], "name": room["name"], "description": room["description"],
            "sentences": room["sentences"], "open": room["open"],
        }

    async def _apply_moderation(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        by_id = {room["id"]: room["slug"] for room in self._rooms.values()}
        rebuild: set[int] = set()
        for event in events:
            self._moderation_after = max(self._moderation_after, event["id"])
            slug = by_id.get(event["room_id"])
            if slug is None:
                continue
            rebuild.add(event["room_id"])
            if event["kind"] == "clear":
                await self.emit("history_cleared", {"room": slug, "up_to_id": event["up_to_id"]},
                                room=socket_room(slug), ignore_queue=True)
            else:
                await self.emit("message_deleted", {"room": slug, "ids": event["message_ids"]},
                                room=socket_room(slug), ignore_queue=True)
        await self._rebuild_trending(sorted(rebuild))

    async def _push_trending(self, now: float) -> None:
        for slug in list(self._windows):
            payload = self._trending_payload(slug, now)
            signature = tuple((w["word"], w["count"]) for w in payload["words"])
            if signature == self._last_trending.get(slug, ()):
                continue
            self._last_trending[slug] = signature
            if self.presence.local(presence_key(slug)):
                await self.emit("trending", payload, room=socket_room(slug), ignore_queue=True)
