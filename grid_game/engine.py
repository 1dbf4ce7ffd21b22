"""The authoritative game engine: one in-memory `ArenaRuntime` per arena, each
with its own tick loop (a `Ticker` of votemap_site/realtime/ticker.py, the
site's one scheduler, which ends itself when the arena is empty).

How a move is applied (and why the ack is the true position)
-------------------------------------------------------------
A `move` is applied by `Engine.move` as soon as its handler runs, by one
synchronous call into the pure rules (`rules.move`) with no `await` in
between: on the event loop that is a critical section, so moves of one arena
are applied one at a time, strictly in the order they arrive, and never
interleave. The ack therefore carries the real position after the move. The
arena's tick loop (GAME_TICK_HZ, default 20 Hz) does not apply moves itself:
every tick it broadcasts the arena's `state` if anything changed since the
previous broadcast (with a strictly increasing `tick`), expires seats and
idle players, and schedules high-score writes. Queueing moves for the tick
and making the handler wait for it would give the same order with up to one
tick of extra ack latency and a future per move; a move is visible to the
other players at the next broadcast either way. Joins and leaves, which await
the database before they change anything, take the arena's asyncio lock and
re-check the state after their awaits. Refusals raise the site's
`RealtimeError` with a protocol error code, which the namespace's base turns
into the error ack.

Admin changes (arena closed, resized, deleted) are read from the database by
`poll_config`, which the namespace's watcher calls when the arenas' marker
changed (votemap_site/realtime/watcher.py).

Deployment: one authority per arena
-----------------------------------
An arena's live state (players, positions, coins, tick) lives in the memory
of ONE process, its authority. With one process (no queue configured) that
is simply this engine: it creates an arena on its first join, states go to
this process's clients only (`ignore_queue=True`), and nothing else is
involved. With several processes (REDIS_URL or MESSAGE_QUEUE_URL) the
authority of an arena is the process that holds its lease, and
grid_game/cluster.py stands around the engine: the engine then never loads an
arena by itself (`create_runtimes=False`); `install` loads one the cluster has
just taken, from its last `checkpoint`, players on other processes are
attached (`attach`) and act through the same `join`, `move` and `leave`, and
an arena the process lost is dropped (`unload`). The cluster raises each
arena's `tick_ceiling` whenever it has stored a checkpoint reserving ticks up
to it; the tick loop never broadcasts above the ceiling, so the next owner,
starting above the reservation, keeps `tick` strictly increasing for every
client. What must survive any restart is in the database: arenas and high
scores; after a restart of a single process the players rejoin (their pages do
it on reconnect) and start from new positions with score 0, and `tick`
continues from the wall clock so it still increases.
"""

import asyncio
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from socketio import packet as sio_packet

from votemap_site.realtime.broadcast import JsonFragment, SharedPayload, websocket_text_frame
from votemap_site.realtime.errors import CLOSED, INTERNAL, INVALID, NOT_FOUND, NOT_JOINED, RealtimeError
from votemap_site.realtime.ticker import Ticker

from . import rules
from .checkpoint import Checkpoint
from .rooms import arena_room
from .rules import GameState, RuleError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ArenaInfo:
    """What the engine needs to know about an arena (from the database)."""

    id: int
    slug: str
    name: str
    width: int
    height: int
    max_players: int
    coins: int
    is_open: bool
    revision: int


@dataclass(slots=True)
class Seat:
    """A player's place in an arena, owned by one identity (session)."""

    key: str
    player_id: str
    # Taken by a connection without a Django session: it counts against the
    # arena's anonymous seats and, since nothing can resume it, it is given up
    # as soon as its connection is gone (no grace period).
    anonymous: bool = False
    sids: set[str] = field(default_factory=set)
    disconnected_at: float | None = None
    last_active: float = 0.0


@dataclass(slots=True)
class Membership:
    slug: str
    seat_key: str | None  # None: spectator


Emit = Callable[..., Awaitable[None]]

# How python-socketio encodes event data (Packet.encode): compact JSON.
_dumps = functools.partial(json.dumps, separators=(",", ":"))


class _JsonText(JsonFragment):
    """A JsonFragment built from JSON text rather than from a value: the
    players of a state, joined from each player's cached encoding."""

    __slots__ = ()

    def __init__(self, text: str) -> None:  # the text is the encoding: no json.dumps here
        self.text = text


class StateMessage(SharedPayload):
    """A tick's `state` whose whole JSON was built by the engine from cached
    parts (ArenaRuntime.state_broadcast). The site's client managers ask a
    SharedPayload for its packet (`encoded`) and frame (`frame`); the generic
    SharedPayload would encode every key and every value but the players
    again (a dozen json.dumps calls, more than the rest of an 8-player
    arena's tick). `data` (and so `plain()`) is the same state as a dict,
    for python-socketio's own managers."""

    __slots__ = ("_body", "_packet")

    def __init__(self, data: dict[str, Any], body: str) -> None:
        super().__init__(data)
        self._body = body
        self._packet: list[Any] | None = None  # [(namespace, event), encoded, frame or None]

    def encoded(self, packet_class: Any, namespace: str, event: str) -> Any:
        packet = self._packet
        if packet is None or packet[0] != (namespace, event):
            # python-socketio's Packet.encode: type, "namespace,", then the compact JSON of [event, data].
            prefix = packet_class(sio_packet.EVENT, namespace=namespace, data=None).encode()
            packet = self._packet = [(namespace, event), f"{prefix}[{_dumps(event)},{self._body}]", None]
        return packet[1]

    def frame(self, eio_pkt: Any) -> bytes:
        packet = self._packet
        assert packet is not None, "encoded() comes first"
        if packet[2] is None:
            packet[2] = websocket_text_frame(eio_pkt.encode())
        return packet[2]

# High-score entries kept for a retry while the database refuses them: the best
# ones, so a long outage cannot grow the buffer with every player who scored.
MAX_PENDING_SCORES = 1000
# Key of a seat restored from a checkpoint until its player comes back: the
# checkpoint holds public player ids, never session keys (grid_game/checkpoint.py).
RESTORED_SEAT = "restored:"


class ArenaRuntime:
    def __init__(self, info: ArenaInfo, *, rng: random.Random, hz: float) -> None:
        self.info = info
        self.rng = rng
        self.hz = hz
        self.state: GameState = rules.new_game(
            width=info.width, height=info.height, coins=info.coins, rng=rng
        )
        self.tick = int(time.time() * hz)
        # The highest tick this arena may broadcast (None: no limit). Set by the
        # cluster (grid_game/cluster.py) to the reservation of the last stored
        # checkpoint, so that a process taking over starts above every tick sent.
        self.tick_ceiling: int | None = None
        self.dirty = True
        self.seats: dict[str, Seat] = {}
        self.spectators: set[str] = set()
        self.lock = asyncio.Lock()
        self.ticker: Ticker | None = None  # created with the first join
        self.housekeeping_at = 0.0
        self.pending_scores: dict[str, tuple[str, int]] = {}
        self.flushing: asyncio.Task[None] | None = None
        self.pending_resize = False
        # Deleted in the admin: behaves as closed, and is dropped once empty.
        self.deleted = False
        # CPU time (thread time: not inflated when another process has the
        # core) of the loop's own work and of handing states to the client
        # manager, for the benchmark. A manager that awaits inside emit (the
        # stock one) also lets other tasks run meanwhile: their CPU counts too.
        self.work_seconds = 0.0
        self.work_ticks = 0
        self.emit_seconds = 0.0
        self._dict_cache: dict[str, tuple[rules.Player, dict[str, Any]]] = {}
        self._json_cache: dict[str, tuple[rules.Player, str]] = {}
        self._slug_json: tuple[str, str] = ("", "")

    @property
    def slug(self) -> str:
        return self.info.slug

    @property
    def room(self) -> str:
        return arena_room(self.info.slug)

    @property
    def ticking(self) -> bool:
        return self.ticker is not None and self.ticker.running

    def anonymous_seats(self) -> int:
        return sum(1 for seat in self.seats.values() if seat.anonymous)

    def players_online(self) -> int:
        return sum(1 for seat in self.seats.values() if seat.sids)

    def connections(self) -> int:
        return sum(len(seat.sids) for seat in self.seats.values()) + len(self.spectators)

    def following_tick(self) -> int:
        return max(self.tick + 1, int(time.time() * self.hz))

    def next_tick(self) -> int:
        self.tick = self.following_tick()
        return self.tick

    def _player_dicts(self) -> list[dict[str, Any]]:
        # Players are immutable: reuse the dict of every player object that did
        # not change since the last payload (most of a crowded arena each tick).
        cache = self._dict_cache
        fresh: dict[str, tuple[rules.Player, dict[str, Any]]] = {}
        out = []
        for p in self.state.players:
            hit = cache.get(p.id)
            d = hit[1] if hit is not None and hit[0] is p else p.as_dict()
            fresh[p.id] = (p, d)
            out.append(d)
        self._dict_cache = fresh
        return out

    def _players_json(self) -> str:
        # The JSON of the players list as python-socketio would encode it
        # (compact: the items joined by ","), each player encoded once per
        # player object, like the dicts of _player_dicts.
        cache = self._json_cache
        fresh: dict[str, tuple[rules.Player, str]] = {}
        parts = []
        for p in self.state.players:
            hit = cache.get(p.id)
            text = hit[1] if hit is not None and hit[0] is p else _dumps(p.as_dict())
            fresh[p.id] = (p, text)
            parts.append(text)
        self._json_cache = fresh
        return "[" + ",".join(parts) + "]"

    def state_payload(self) -> dict[str, Any]:
        state = self.state
        return {
            "arena": self.info.slug,
            "tick": self.tick,
            "players": self._player_dicts(),
            "coins": [{"x": x, "y": y} for x, y in state.coins],
            "players_online": self.players_online(),
            "spectators": len(self.spectators),
            "open": self.info.is_open,
        }

    def state_broadcast(self) -> StateMessage:
        """The same `state` as state_payload(), for a client manager that reuses
        encodings (votemap_site/realtime/broadcast.py): its JSON is built here,
        the players spliced in from each player's cached encoding, so a tick
        encodes only the players that changed, and the manager neither walks
        nor encodes the payload again. Byte for byte what python-socketio
        would send for state_payload() (`plain()` gives that dict back)."""
        players = self._players_json()
        state = self.state
        info = self.info
        slug = self._slug_json
        if slug[0] != info.slug:
            slug = self._slug_json = (info.slug, _dumps(info.slug))
        coins = ",".join([f'{{"x":{x},"y":{y}}}' for x, y in state.coins])
        online, spectators = self.players_online(), len(self.spectators)
        # The keys in state_payload's order; ints and booleans as json.dumps writes them.
        body = (f'{{"arena":{slug[1]},"tick":{self.tick:d},"players":{players},"coins":[{coins}],'
                f'"players_online":{online:d},"spectators":{spectators:d},'
                f'"open":{"true" if info.is_open else "false"}}}')
        data = {"arena": info.slug, "tick": self.tick, "players": _JsonText(players),
                "coins": [{"x": x, "y": y} for x, y in state.coins], "players_online": online,
                "spectators": spectators, "open": info.is_open}
        return StateMessage(data, body)

    def arena_payload(self) -> dict[str, Any]:
        info = self.info
        return {"slug": info.slug, "name": info.name, "width": self.state.width,
                "height": self.state.height, "max_players": info.max_players, "open": info.is_open}

    def note_score(self, player: rules.Player) -> None:
        if self.deleted:
            return  # its high-score table is gone with it
        self.pending_scores[player.id] = (player.name, player.score)

    def keep_best_pending(self, limit: int) -> None:
        if len(self.pending_scores) > limit:
            best = sorted(self.pending_scores.items(), key=lambda item: -item[1][1])[:limit]
            self.pending_scores = dict(best)


class Engine:
    """All arenas of this process. Wired to Socket.IO and the database by the namespace."""

    def __init__(
        self,
        *,
        emit: Emit,
        load_arena: Callable[[str], Awaitable[ArenaInfo | None]],
        load_revisions: Callable[[list[str]], Awaitable[dict[str, ArenaInfo]]],
        record_scores: Callable[[int, list[tuple[str, str, int]]], Awaitable[bool]],
        top_scores: Callable[[int], Awaitable[list[dict[str, Any]]]],
        online_changed: Callable[[str, int], Awaitable[None]] | None = None,
        is_connected: Callable[[str], bool] | None = None,
        anonymous_seats: int | None = None,
        hz: float = 20.0,
        grace_seconds: float = 30.0,
        idle_seconds: float = 300.0,
        rng_seed: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        create_runtimes: bool = True,
        shared_states: bool = False,
    ) -> None:
        if hz <= 0:
            raise ValueError("hz must be positive")
        self.emit = emit
        self.load_arena = load_arena
        self.load_revisions = load_revisions
        self.record_scores = record_scores
        self.top_scores = top_scores
        self.online_changed = online_changed
        # Whether a socket is still connected: a join that awaited the database
        # must not seat (or register) a connection that went away meanwhile,
        # or nothing would ever remove it.
        self.is_connected = is_connected or (lambda sid: True)
        # Seats per arena that connections without a session may hold (None:
        # no limit), so a script cannot fill an arena before the browsers come.
        if anonymous_seats is not None and anonymous_seats < 0:
            raise ValueError("anonymous_seats must be >= 0")
        self.anonymous_seats = anonymous_seats
        self.hz = hz
        self.interval = 1.0 / hz
        self.grace_seconds = grace_seconds
        self.idle_seconds = idle_seconds
        self.rng_seed = rng_seed
        self.clock = clock
        # False on a process of a cluster: an arena is loaded only by `install`,
        # once this process holds its lease (grid_game/cluster.py).
        self.create_runtimes = create_runtimes
        # The tick's `state` as a SharedPayload (ArenaRuntime.state_broadcast)
        # rather than a plain dict: for `emit` wired to the site's client
        # manager in this process; a cluster's emit sends plain data on the bus.
        self.shared_states = shared_states
        self.arenas: dict[str, ArenaRuntime] = {}
        self.members: dict[str, Membership] = {}
        self._stopping = False
        self._online: dict[str, int] = {}

    # ----- arenas ---------------------------------------------------------
    def _rng(self, slug: str) -> random.Random:
        if self.rng_seed is None or self.rng_seed == "":
            return random.Random()
        return random.Random(f"{self.rng_seed}:{slug}")

    async def runtime(self, slug: str) -> ArenaRuntime:
        arena = self.arenas.get(slug)
        if arena is not None:
            return arena
        if not self.create_runtimes:
            raise RealtimeError(INTERNAL, "this arena moved to another server process; join again",
                                retry_after=0.5)
        info = await self.load_arena(slug)
        if info is None:
            raise RealtimeError(NOT_FOUND, f"no arena {slug[:64]!r}")
        arena = self.arenas.get(slug)  # created while we awaited
        if arena is None:
            arena = self.arenas[slug] = ArenaRuntime(info, rng=self._rng(slug), hz=self.hz)
        return arena

    def _ensure_loop(self, arena: ArenaRuntime) -> None:
        if self._stopping or arena.ticking:
            return
        if arena.ticker is None:
            arena.ticker = Ticker(
                name=f"grid-game:{arena.slug}", interval=self.interval,
                callback=functools.partial(self._tick, arena), always=True,
            )
        arena.housekeeping_at = 0.0  # a (re)started loop begins with housekeeping
        arena.ticker.start()

    # ----- client actions -------------------------------------------------
    async def join(
        self, *, sid: str, seat_key: str, player_id: str, slug: str, name: str | None, spectate: bool,
        anonymous: bool = False,
    ) -> dict[str, Any]:
        arena = await self.runtime(slug)
        high_scores = await self.top_scores(arena.info.id)
        async with arena.lock:
            previous = self.members.get(sid)
            if previous is not None and previous.slug != slug:
                await self._leave_socket(sid, explicit=False)
            # No await from here to the end of the block: a disconnect either
            # happened before (refuse) or comes after (and finds the member).
            if not self.is_connected(sid):
                raise RealtimeError(NOT_JOINED, "the connection closed while joining")
            if self.arenas.get(slug) is not arena:
                raise RealtimeError(NOT_FOUND, f"no arena {slug[:64]!r}")  # deleted and dropped meanwhile
            you = None
            if spectate:
                self._detach(arena, sid)
                arena.spectators.add(sid)
                self.members[sid] = Membership(slug=slug, seat_key=None)
            else:
                you = self._seat(arena, sid=sid, seat_key=seat_key, player_id=player_id, name=name,
                                 anonymous=anonymous)
            arena.dirty = True
            self._ensure_loop(arena)
        await self._report_online(arena)
        return {
            "you": you.as_dict() if you else None,
            "arena": arena.arena_payload(),
            "state": arena.state_payload(),
            "high_scores": high_scores,
        }

    def _seat(
        self, arena: ArenaRuntime, *, sid: str, seat_key: str, player_id: str, name: str | None,
        anonymous: bool = False,
    ) -> rules.Player:
        """Resume the identity's seat or take a new one (synchronous: no awaits)."""
        if not arena.info.is_open:
            raise RealtimeError(CLOSED, "this arena is closed; you can still watch it (spectate)")
        seat = arena.seats.get(seat_key)
        if seat is None:
            seat = self._adopt_restored(arena, seat_key, player_id)
        now = self.clock()
        if seat is None:
            if len(arena.state.players) >= arena.info.max_players:
                raise RealtimeError(
                    CLOSED, f"this arena is full ({arena.info.max_players} players); try another one or watch"
                )
            limit = self.anonymous_seats
            if anonymous and limit is not None and arena.anonymous_seats() >= limit:
                raise RealtimeError(
                    CLOSED,
                    f"the {limit} seats of this arena for connections without a browser session are taken; "
                    "open the game page in a browser to play, or join with spectate: true to watch",
                )
            try:
                arena.state = rules.join(arena.state, player_id=player_id, name=name or "Player", rng=arena.rng)
            except RuleError as err:
                if err.code in (RuleError.FULL,):
                    raise RealtimeError(CLOSED, "this arena is full; try another one or watch") from err
                raise RealtimeError(INVALID, err.message) from err
            seat = arena.seats[seat_key] = Seat(key=seat_key, player_id=player_id, anonymous=anonymous)
        elif name:
            arena.state = rules.rename(arena.state, player_id=seat.player_id, name=name)
        arena.spectators.discard(sid)
        seat.sids.add(sid)
        seat.disconnected_at = None
        seat.last_active = now
        self.members[sid] = Membership(slug=arena.slug, seat_key=seat_key)
        return arena.state.player(seat.player_id)

    @staticmethod
    def _adopt_restored(arena: ArenaRuntime, seat_key: str, player_id: str) -> Seat | None:
        """A seat restored from a checkpoint becomes its player's again (same id,
        position, score), under the session's key."""
        seat = arena.seats.pop(RESTORED_SEAT + player_id, None)
        if seat is not None:
            seat.key = seat_key
            arena.seats[seat_key] = seat
        return seat

    def move(self, *, sid: str, direction: str, seq: int) -> dict[str, Any]:
        """Apply one move now, atomically (no await), and return the ack's data."""
        member = self.members.get(sid)
        if member is None or member.seat_key is None:
            raise RealtimeError(NOT_JOINED, "join a game (not as a spectator) before moving")
        arena = self.arenas[member.slug]
        seat = arena.seats.get(member.seat_key)
        if seat is None:
            raise RealtimeError(NOT_JOINED, "your seat was given up; join again")
        if not arena.info.is_open:
            raise RealtimeError(CLOSED, "this arena has been closed")
        before = arena.state
        try:
            after = rules.move(before, player_id=seat.player_id, direction=direction, rng=arena.rng)
        except RuleError as err:
            raise RealtimeError(INVALID, err.message) from err
        seat.last_active = self.clock()
        player = after.player(seat.player_id)
        if after is not before:
            arena.state = after
            arena.dirty = True
            if player.score != before.player(seat.player_id).score:
                arena.note_score(player)
        # `tick`: the last state broadcast before this move; the move is in the next one.
        return {"x": player.x, "y": player.y, "seq": seq, "score": player.score, "tick": arena.tick}

    async def leave(self, *, sid: str) -> None:
        member = self.members.get(sid)
        if member is None:
            raise RealtimeError(NOT_JOINED, "you are not in a game")
        await self._leave_socket(sid, explicit=True)

    async def disconnect(self, *, sid: str, seat_key: str | None = None, anonymous: bool = False) -> None:
        if sid in self.members:
            await self._leave_socket(sid, explicit=False)
        if anonymous and seat_key is not None:
            # Without a session nothing can resume this connection's seats (the
            # one it played in, and any it left when switching arenas): give
            # them up now rather than holding them for the grace period.
            for arena in list(self.arenas.values()):
                seat = arena.seats.get(seat_key)
                if seat is not None and seat.anonymous and not seat.sids:
                    self._remove_seat(arena, seat)
                    await self._report_online(arena)

    async def _leave_socket(self, sid: str, *, explicit: bool) -> None:
        member = self.members.pop(sid, None)
        if member is None:
            return
        arena = self.arenas.get(member.slug)
        if arena is None:
            return
        arena.spectators.discard(sid)
        if member.seat_key is not None:
            seat = arena.seats.get(member.seat_key)
            if seat is not None:
                seat.sids.discard(sid)
                if explicit:
                    # Leaving on purpose gives the seat up for every tab of the session.
                    self._remove_seat(arena, seat)
                    for other in list(seat.sids):
                        self.members[other] = Membership(slug=arena.slug, seat_key=None)
                        arena.spectators.add(other)
                elif not seat.sids:
                    seat.disconnected_at = self.clock()
        arena.dirty = True
        await self._report_online(arena)

    def _detach(self, arena: ArenaRuntime, sid: str) -> None:
        member = self.members.get(sid)
        if member is not None and member.seat_key is not None:
            seat = arena.seats.get(member.seat_key)
            if seat is not None:
                seat.sids.discard(sid)
                if not seat.sids:
                    seat.disconnected_at = self.clock()

    def _remove_seat(self, arena: ArenaRuntime, seat: Seat) -> None:
        if arena.state.has_player(seat.player_id):
            player = arena.state.player(seat.player_id)
            arena.note_score(player)
            arena.state = rules.leave(arena.state, player_id=seat.player_id)
        arena.seats.pop(seat.key, None)
        arena.dirty = True

    async def _report_online(self, arena: ArenaRuntime) -> None:
        if self.online_changed is None:
            return
        count = arena.players_online()
        if self._online.get(arena.slug) != count:
            self._online[arena.slug] = count
            try:
                await self.online_changed(arena.slug, count)
            except Exception:
                log.warning("could not publish players online for %s", arena.slug, exc_info=True)

    # ----- the tick loop ----------------------------------------------------
    async def _tick(self, arena: ArenaRuntime) -> object:
        """One tick of an arena's loop (every 1/GAME_TICK_HZ s; the Ticker keeps the
        schedule without drift and logs a failed tick)."""
        started = time.thread_time()
        now = self.clock()
        if now >= arena.housekeeping_at:
            arena.housekeeping_at = now + min(1.0, self.interval * 5)
            await self._housekeeping(arena, now)
        payload = None
        # Over the ceiling, the state waits (still dirty) for the cluster's next
        # checkpoint to raise it; never the case while checkpoints are stored.
        if arena.dirty and (arena.tick_ceiling is None or arena.following_tick() <= arena.tick_ceiling):
            arena.dirty = False
            arena.next_tick()
            payload = arena.state_broadcast() if self.shared_states else arena.state_payload()
        if arena.pending_scores and (arena.flushing is None or arena.flushing.done()):
            arena.flushing = asyncio.create_task(self._flush_scores(arena))
        arena.work_seconds += time.thread_time() - started
        arena.work_ticks += 1
        if payload is not None:
            sent = time.thread_time()
            await self.emit("state", payload, room=arena.room)
            arena.emit_seconds += time.thread_time() - sent
        if not arena.seats and not arena.spectators and not arena.dirty:
            if arena.deleted:
                self._forget_arena(arena)
            return Ticker.STOP  # nobody left: the loop restarts with the next join
        return None

    async def _housekeeping(self, arena: ArenaRuntime, now: float) -> None:
        lost: list[tuple[Seat, str]] = []
        for seat in list(arena.seats.values()):
            if seat.disconnected_at is not None and now - seat.disconnected_at >= self.grace_seconds:
                self._remove_seat(arena, seat)
            elif now - seat.last_active >= self.idle_seconds:
                self._remove_seat(arena, seat)
                lost.append((seat, "idle"))
        for seat, reason in lost:
            for sid in list(seat.sids):
                self.members[sid] = Membership(slug=arena.slug, seat_key=None)
                arena.spectators.add(sid)
                await self.emit("seat_lost", {"arena": arena.slug, "reason": reason}, to=sid)
        if lost:
            await self._report_online(arena)
        if arena.pending_resize and not arena.seats:
            self._rebuild(arena)

    def _forget_arena(self, arena: ArenaRuntime) -> None:
        """Drop a deleted arena nobody is in any more (a join then gets not_found)."""
        if self.arenas.get(arena.slug) is arena and not arena.seats and not arena.spectators:
            del self.arenas[arena.slug]
            self._online.pop(arena.slug, None)

    def _rebuild(self, arena: ArenaRuntime) -> None:
        info = arena.info
        arena.state = rules.new_game(width=info.width, height=info.height, coins=info.coins, rng=arena.rng)
        arena.pending_resize = False
        arena.dirty = True

    async def _flush_scores(self, arena: ArenaRuntime) -> None:
        entries = [(pid, name, score) for pid, (name, score) in arena.pending_scores.items()]
        arena.pending_scores = {}
        if arena.deleted:
            return
        try:
            changed = await self.record_scores(arena.info.id, entries)
            if changed and arena.connections():
                top = await self.top_scores(arena.info.id)
                await self.emit("high_scores", {"arena": arena.slug, "scores": top}, room=arena.room)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("grid game arena %s: could not record high scores", arena.slug)
            for pid, name, score in entries:  # retry with the next flush
                arena.pending_scores.setdefault(pid, (name, score))
            arena.keep_best_pending(MAX_PENDING_SCORES)

    # ----- admin changes ----------------------------------------------------
    async def poll_config(self) -> None:
        """Apply admin changes to loaded arenas (revision bumped in the database)."""
        if not self.arenas:
            return
        slugs = list(self.arenas)
        fresh = await self.load_revisions(slugs)
        # Only the arenas asked about: others may have been loaded while we awaited.
        for slug in slugs:
            arena = self.arenas.get(slug)
            if arena is None:
                continue  # dropped while we awaited
            info = fresh.get(slug)
            if info is None:  # deleted in the admin: behaves as closed, dropped once empty
                arena.deleted = True
                arena.pending_scores = {}
                if arena.info.is_open:
                    arena.info = ArenaInfo(**{**_asdict(arena.info), "is_open": False})
                    arena.dirty = True
                if arena.connections():
                    self._ensure_loop(arena)
                elif not arena.ticking:
                    self._forget_arena(arena)
                continue
            if info.revision == arena.info.revision and info.id == arena.info.id:
                continue
            arena.deleted = False
            old = arena.info
            arena.info = info
            if (info.width, info.height, info.coins) != (old.width, old.height, old.coins):
                arena.pending_resize = True
                if not arena.seats:
                    self._rebuild(arena)
            arena.dirty = True
            if arena.connections():
                self._ensure_loop(arena)

    # ----- a cluster's arenas (grid_game/cluster.py) ------------------------
    def install(
        self, info: ArenaInfo, *, checkpoint: Checkpoint | None, anonymous_grace: float,
    ) -> ArenaRuntime:
        """Load an arena this process now holds the lease of, from its last checkpoint.

        The board, players, positions and scores come back when the checkpoint
        fits the arena (the same arena, size and coins); every restored seat starts as
        disconnected, so it is kept for the grace period for its player to come
        back (anonymous seats only for `anonymous_grace`: nothing can resume
        them but the connection itself). `tick` starts above the checkpoint's
        reservation. Nothing is broadcast until the cluster sets `tick_ceiling`.
        """
        arena = ArenaRuntime(info, rng=self._rng(info.slug), hz=self.hz)
        if checkpoint is not None:
            arena.tick = max(arena.tick, checkpoint.tick_reserved + 1)
            saved = checkpoint.state
            board = (saved.width, saved.height, saved.coin_count)
            same_board = board == (info.width, info.height, info.coins)
            if same_board and checkpoint.arena_id == info.id:
                arena.state = saved
                now = self.clock()
                for player in saved.players:
                    anonymous = player.id in checkpoint.anonymous
                    gone = now - self.grace_seconds + anonymous_grace if anonymous else now
                    arena.seats[RESTORED_SEAT + player.id] = Seat(
                        key=RESTORED_SEAT + player.id, player_id=player.id, anonymous=anonymous,
                        disconnected_at=min(now, gone), last_active=now)
        arena.tick_ceiling = arena.tick
        self.arenas[info.slug] = arena
        if arena.seats:
            self._ensure_loop(arena)  # expires the seats nobody comes back to
        return arena

    def checkpoint(self, slug: str, *, owner: str, tick_reserved: int, released: bool = False) -> Checkpoint:
        arena = self.arenas[slug]
        anonymous = frozenset(seat.player_id for seat in arena.seats.values() if seat.anonymous)
        return Checkpoint(arena=slug, owner=owner, tick_reserved=tick_reserved, state=arena.state,
                          anonymous=anonymous, released=released, arena_id=arena.info.id)

    async def attach(
        self, *, sid: str, seat_key: str, player_id: str, slug: str, name: str | None, spectate: bool,
        anonymous: bool = False,
    ) -> bool:
        """Put a connection that was already in the game back in a loaded arena,
        without the database (after the arena moved to this process): its seat
        if it has one, else a new one, else (full, closed) as a spectator."""
        arena = self.arenas.get(slug)
        if arena is None:
            return False
        member = self.members.get(sid)
        if member is not None:
            return member.slug == slug
        if not spectate:
            try:
                self._seat(arena, sid=sid, seat_key=seat_key, player_id=player_id, name=name,
                           anonymous=anonymous)
            except RealtimeError:
                spectate = True
        if spectate:
            arena.spectators.add(sid)
            self.members[sid] = Membership(slug=slug, seat_key=None)
        arena.dirty = True
        self._ensure_loop(arena)
        await self._report_online(arena)
        return True

    async def detach(self, *, sid: str) -> None:
        """The connection leaves its arena as on a disconnect (its seat is kept for the grace period)."""
        await self._leave_socket(sid, explicit=False)

    def members_of(self, slug: str) -> list[tuple[str, Membership]]:
        return [(sid, member) for sid, member in self.members.items() if member.slug == slug]

    async def unload(self, slug: str) -> None:
        """Forget an arena (another process holds it now): its loop, members and count here."""
        arena = self.arenas.pop(slug, None)
        if arena is None:
            return
        if arena.ticker is not None:
            await arena.ticker.stop()
        for sid, _ in self.members_of(slug):
            del self.members[sid]
        if arena.pending_scores:
            await self._flush_scores(arena)
        if self.online_changed is not None and self._online.pop(slug, 0):
            try:
                await self.online_changed(slug, 0)
            except Exception:
                log.warning("could not publish players online for %s", slug, exc_info=True)

    # ----- queries and shutdown ---------------------------------------------
    def tick_cost(self) -> dict[str, float]:
        """The tick loops' own cost over all arenas: the loop's work (housekeeping,
        building the state payload) and, separately, the time spent handing the
        broadcast to the client manager. Moves are applied in their handlers."""
        ticks = sum(a.work_ticks for a in self.arenas.values())
        work = sum(a.work_seconds for a in self.arenas.values())
        emit = sum(a.emit_seconds for a in self.arenas.values())
        return {"arenas": len(self.arenas), "ticks": ticks, "work_seconds": work, "emit_seconds": emit,
                "work_per_tick_us": 1e6 * work / ticks if ticks else 0.0,
                "emit_per_tick_us": 1e6 * emit / ticks if ticks else 0.0}

    async def stop(self) -> None:
        self._stopping = True
        await asyncio.gather(*(a.ticker.stop() for a in self.arenas.values() if a.ticker is not None))
        flushes = [a.flushing for a in self.arenas.values() if a.flushing is not None]
        await asyncio.gather(*flushes, return_exceptions=True)
        for arena in self.arenas.values():
            for seat in arena.seats.values():
                if arena.state.has_player(seat.player_id):
                    arena.note_score(arena.state.player(seat.player_id))
            if arena.pending_scores:
                await self._flush_scores(arena)


def _asdict(info: ArenaInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in ArenaInfo.__slots__}
