"""The grid game on several processes: one authority per arena, wherever its players are.

Only used with a message queue (REDIS_URL or MESSAGE_QUEUE_URL); one process
alone runs the engine directly and nothing here is involved.

Ownership. Each arena has a lease (votemap_site/realtime/lease.py,
`game-arena:<slug>`, in Redis or, with RabbitMQ and no Redis, in PostgreSQL).
The process that holds it is the arena's only authority: its engine
(grid_game/engine.py) holds the arena and applies every move exactly as on one
process (one synchronous rules call, the ack carries the true position). Its
tick loop emits `state` to the arena's room locally and sends it on the bus
to each process with players in its arenas, which emits it to its own members
of the room (`emit`: on the same ordered path as the replies to that
process's forwarded joins, so no client gets a state older than its join's
snapshot after it; the Socket.IO manager's queue would race the replies and
reach every process, with or without players). The lease lives GAME_LEASE_SECONDS and is renewed three
times within it; the first process that gets a join for an arena nobody holds
takes it.

Players elsewhere. A process whose client joins an arena that another process
holds forwards the join, and later that client's moves, leave and disconnect,
to the owner's inbox on the bus (votemap_site/realtime/bus.py) and answers the
client with the owner's reply; it puts the client in the arena's room locally. Its own
arenas' moves never touch the bus: `move` calls the engine directly.
Rate limits and the edge apply where the client is connected, before anything
is forwarded. Every request carries the member's record (seat key, public id,
name, anonymous, spectating), so an owner that does not know the connection
yet (it has just taken the arena over) attaches it first. On no reply within
GAME_FORWARD_TIMEOUT_SECONDS the client gets `internal` with `retry_after`.

No ghosts. Every process sends each owner, every third of
GAME_PEER_TIMEOUT_SECONDS, the list of its connections in that owner's arenas.
The owner drops the connections of a process that is not in its latest list
(a lost disconnect) and all the connections of a process it has not heard from
for GAME_PEER_TIMEOUT_SECONDS (a dead or cut-off process): they leave as on a
disconnect (a session's seat is kept for GAME_SEAT_GRACE_SECONDS, so its
player resumes it by reconnecting to any process; an anonymous seat goes).

Takeover. The owner stores a checkpoint of each changed arena every
GAME_CHECKPOINT_SECONDS next to the lease (grid_game/checkpoint.py: board,
coins, seated players with positions and scores, and a tick reservation).
Processes with players in an arena they do not hold look at its lease on
every beat; when the owner is gone (its lease expired, or it released it on a
graceful stop and said so on the bus) one of them takes the lease, loads the
checkpoint and tells every process, whose heartbeats then attach their players
to it again: seats, positions and scores are those of the last checkpoint
(moves of the last second before a crash can be lost; a graceful stop stores
a last checkpoint first), high scores are in the database as always. The
owner never broadcasts a tick above the reservation of its last stored
checkpoint, and the next owner starts above it, so `tick` strictly increases
for every client whatever the hosts' clocks say.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from collections import Counter
from dataclasses import dataclass
from typing import Any

from votemap_site.metrics import ARENA_TAKEOVERS, ARENAS_OWNED
from votemap_site.realtime.bus import ALL, Bus, BusTimeout
from votemap_site.realtime.errors import ERROR_CODES, INTERNAL, NOT_FOUND, NOT_JOINED, RealtimeError
from votemap_site.realtime.lease import LeaseStore
from votemap_site.realtime.ticker import Ticker

from . import checkpoint as checkpoints
from .engine import ArenaInfo, Engine

log = logging.getLogger(__name__)

LEASE_PREFIX = "game-arena:"
# A checkpoint reserves this many seconds of ticks ahead; rewritten when less
# than half of it is left, so the reservation is never reached while the lease
# store answers.
RESERVE_SECONDS = 10.0
# Connections that left an owner recently are not attached again by a stale
# heartbeat or request that was already on its way.
GONE_KEEP_SECONDS = 30.0
MAX_GONE = 10_000
SEND_WARNING_SECONDS = 10.0

Emit = Callable[..., Awaitable[None]]


def process_id() -> str:
    """Host, pid and a random part: unique, and says which process holds an arena."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_name(slug: str) -> str:
    return LEASE_PREFIX + slug


@dataclass(slots=True)
class Member:
    """What an owner needs to seat a connection again: sent with every request."""

    slug: str
    seat_key: str
    player_id: str
    anonymous: bool
    name: str | None
    spectate: bool

    def wire(self) -> list[Any]:
        return [self.slug, self.seat_key, self.player_id, self.anonymous, self.name, self.spectate]

    @classmethod
    def from_wire(cls, value: Any) -> Member:
        slug, seat_key, player_id, anonymous, name, spectate = value
        return cls(slug=str(slug), seat_key=str(seat_key), player_id=str(player_id),
                   anonymous=bool(anonymous), name=None if name is None else str(name),
                   spectate=bool(spectate))


@dataclass(slots=True)
class RemoteClient:
    """On an owner: a connection of another process in one of its arenas."""

    process: str
    seat_key: str
    anonymous: bool
    since: float


class ArenaCluster:
    def __init__(
        self,
        *,
        engine: Engine,
        leases: LeaseStore,
        bus: Bus,
        load_arena: Callable[[str], Awaitable[ArenaInfo | None]],
        emit_local: Emit,
        lease_seconds: float = 3.0,
        checkpoint_seconds: float = 1.0,
        peer_timeout: float = 3.0,
        forward_timeout: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.leases = leases
        self.bus = bus
        self.id = bus.process_id
        self.load_arena = load_arena
        self.emit_local = emit_local
        self.lease_seconds = lease_seconds
        self.checkpoint_seconds = checkpoint_seconds
        self.peer_timeout = peer_timeout
        self.forward_timeout = forward_timeout
        self.clock = clock
        self.reserve_ticks = math.ceil(RESERVE_SECONDS * engine.hz)
        # Arenas whose lease this process holds (their runtimes are in the engine).
        self.owned: set[str] = set()
        # Arenas held elsewhere that local connections play in: slug -> owner.
        self.owners: dict[str, str] = {}
        # Local connections in arenas held elsewhere.
        self.forwarded: dict[str, Member] = {}
        # On the owner: other processes' connections, and when each process was last heard.
        self.remote: dict[str, RemoteClient] = {}
        self._remote_per_process: Counter[str] = Counter()
        self.peers: dict[str, float] = {}
        self._gone: dict[str, float] = {}
        self._installing: dict[str, asyncio.Future[None]] = {}
        self._saved: dict[str, object] = {}
        self._last_renewed = clock()
        self._checkpoint_due = 0.0
        self._bus_started = False
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._send_warned = float("-inf")
        self._ticker = Ticker(name="grid-game-cluster", callback=self._beat, always=True,
                              interval=min(lease_seconds, peer_timeout, checkpoint_seconds * 3) / 3,
                              error_log_interval=10.0)

    # ----- lifecycle -----------------------------------------------------
    async def start(self) -> None:
        await self._start_bus()
        self._ticker.start()

    async def _start_bus(self) -> None:
        try:
            await self.bus.start(self._on_message)
            self._bus_started = True
        except Exception:
            log.warning("grid game: the message bus is not available yet; retrying", exc_info=True)

    async def stop(self) -> None:
        """Hand every arena over: stop the loops, store a last checkpoint, release
        the leases and say so, so that another process takes them at once."""
        self._stopping = True
        await self._ticker.stop()
        await self.engine.stop()
        owned = sorted(self.owned)
        for slug in owned:
            if slug in self.engine.arenas:
                try:
                    await self._save(slug, released=True)
                except Exception:
                    log.warning("grid game: no last checkpoint of %s", slug, exc_info=True)
        try:
            await self.leases.release([lease_name(slug) for slug in owned], owner=self.id)
            if owned and self._bus_started:
                await self.bus.send(ALL, {"op": "released", "arenas": owned})
        except Exception:
            log.warning("grid game: could not release the arenas' leases; they expire", exc_info=True)
        self.owned.clear()
        ARENAS_OWNED.set(0)
        await self.bus.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.leases.close()

    def status(self) -> dict[str, Any]:
        return {"process": self.id, "arenas_owned": sorted(self.owned),
                "arenas_elsewhere": dict(sorted(self.owners.items())), "remote_connections": len(self.remote)}

    # ----- what the namespace calls ----------------------------------------
    def member_slug(self, sid: str) -> str | None:
        member = self.engine.members.get(sid)
        if member is not None:
            return member.slug
        forwarded = self.forwarded.get(sid)
        return forwarded.slug if forwarded is not None else None

    def is_remote(self, sid: str) -> bool:
        return sid in self.remote

    async def join(self, *, sid: str, seat_key: str, player_id: str, slug: str, name: str | None,
                   spectate: bool, anonymous: bool) -> dict[str, Any]:
        member = Member(slug=slug, seat_key=seat_key, player_id=player_id, anonymous=anonymous, name=name,
                        spectate=spectate)
        for _ in range(2):
            owner = await self._owner(slug)
            if owner == self.id:
                await self._leave_forwarded(sid)
                return await self.engine.join(sid=sid, seat_key=seat_key, player_id=player_id, slug=slug,
                                              name=name, spectate=spectate, anonymous=anonymous)
            if sid in self.engine.members:
                await self.engine.detach(sid=sid)  # switching from an arena held here
            previous = self.forwarded.get(sid)
            if previous is not None and previous.slug != slug:
                await self._leave_forwarded(sid)
                previous = None
            # Recorded before the request, so heartbeats list it from now on.
            self.forwarded[sid] = member
            try:
                reply = await self._request(owner, {"op": "join", "sid": sid, "member": member.wire()})
            except BusTimeout:
                self.forwarded.pop(sid, None)
                self.owners.pop(slug, None)
                raise _unavailable() from None
            if reply.get("moved"):
                self.owners.pop(slug, None)
                continue
            if not reply.get("ok"):
                if previous is None:
                    self.forwarded.pop(sid, None)
                else:
                    self.forwarded[sid] = previous
            return _result(reply)
        raise _unavailable()

    async def move(self, *, sid: str, direction: str, seq: int) -> dict[str, Any]:
        if sid in self.engine.members:
            return self.engine.move(sid=sid, direction=direction, seq=seq)
        member = self.forwarded.get(sid)
        if member is None:
            raise RealtimeError(NOT_JOINED, "join a game (not as a spectator) before moving")
        try:
            return await self._forward(member, {"op": "move", "sid": sid, "direction": direction, "seq": seq})
        except RealtimeError as err:
            if err.code == NOT_JOINED:
                member.spectate = True  # the owner took the seat (idle): watch on after a takeover
            raise

    async def leave(self, *, sid: str) -> None:
        if sid in self.engine.members:
            await self.engine.leave(sid=sid)
            return
        member = self.forwarded.get(sid)
        if member is None:
            raise RealtimeError(NOT_JOINED, "you are not in a game")
        await self._forward(member, {"op": "leave", "sid": sid})
        self.forwarded.pop(sid, None)

    async def disconnect(self, *, sid: str, seat_key: str, anonymous: bool) -> None:
        await self._leave_forwarded(sid)
        await self.engine.disconnect(sid=sid, seat_key=seat_key, anonymous=anonymous)

    async def emit(self, event: str, data: dict[str, Any], *, room: str | None = None,
                   to: str | None = None) -> None:
        """The engine's emit: to local clients, and on the bus to each process
        with connections in this process's arenas, which emits it to its own.

        The bus, not the client manager's queue: a state then travels on the
        same ordered path as the replies to that process's forwarded joins, so
        a client never gets a state older than its join's snapshot after it,
        and only the processes with connections here receive states at all."""
        if to is not None:
            client = self.remote.get(to)
            if client is None:
                await self.emit_local(event, data, to=to)
            else:
                await self._send_quietly(client.process,
                                         {"op": "emit", "event": event, "data": data, "to": to})
            return
        await self.emit_local(event, data, room=room)
        for process in list(self._remote_per_process):
            await self._send_quietly(process, {"op": "emit", "event": event, "data": data, "room": room})

    async def _send_quietly(self, to: str, message: dict[str, Any]) -> None:
        try:
            await self.bus.send(to, message)
        except Exception:
            # At most one line per SEND_WARNING_SECONDS: states fail 20 times a
            # second per arena while the queue is down.
            now = self.clock()
            if now - self._send_warned >= SEND_WARNING_SECONDS:
                self._send_warned = now
                log.warning("grid game: could not send %s to %s", message.get("op"), to, exc_info=True)

    # ----- forwarding ----------------------------------------------------
    async def _owner(self, slug: str) -> str:
        """The arena's owner, taking the lease (and the arena) if nobody holds it."""
        if slug in self.owned:
            return self.id
        installing = self._installing.get(slug)
        if installing is not None:
            await asyncio.shield(installing)
            return self.id
        if slug not in self.owners and await self.load_arena(slug) is None:
            # Checked before any lease is written: a client naming arenas that
            # do not exist must not create leases for them.
            raise RealtimeError(NOT_FOUND, f"no arena {slug[:64]!r}")
        try:
            owner = await self.leases.claim(lease_name(slug), owner=self.id, ttl=self.lease_seconds)
        except Exception:
            log.warning("grid game: could not read the lease of %s", slug, exc_info=True)
            raise _unavailable() from None
        if owner is None:
            raise _unavailable()
        if owner == self.id:
            # Another call may have taken it while this one awaited the claim.
            if slug in self.owned:
                return self.id
            installing = self._installing.get(slug)
            if installing is not None:
                await asyncio.shield(installing)
            else:
                await self._install(slug)
            return self.id
        self.owners[slug] = owner
        return owner

    async def _request(self, owner: str, message: dict[str, Any]) -> dict[str, Any]:
        if not self._bus_started:
            raise BusTimeout("the bus is not running")
        return await self.bus.request(owner, message, timeout=self.forward_timeout)

    async def _forward(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        message = {**message, "member": member.wire()}
        for _ in range(2):
            installing = self._installing.get(member.slug)
            if installing is not None:  # this process is taking the arena over
                await asyncio.shield(installing)
            if member.slug in self.owned:  # the arena came here meanwhile
                return await self._serve(self.id, message)
            owner = self.owners.get(member.slug) or await self._owner(member.slug)
            if owner == self.id:
                return await self._serve(self.id, message)
            try:
                reply = await self._request(owner, message)
            except BusTimeout:
                self.owners.pop(member.slug, None)
                self._spawn(self._check_owner(member.slug))
                raise _unavailable() from None
            if reply.get("moved"):
                self.owners.pop(member.slug, None)
                continue
            return _result(reply)
        raise _unavailable()

    async def _leave_forwarded(self, sid: str) -> None:
        member = self.forwarded.pop(sid, None)
        if member is None:
            return
        owner = self.owners.get(member.slug)
        if owner is not None and self._bus_started:
            try:
                await self.bus.send(owner, {"op": "disconnect", "sid": sid, "seat_key": member.seat_key,
                                            "anonymous": member.anonymous})
            except Exception:  # the owner's heartbeat check drops it
                log.warning("grid game: could not forward a disconnect", exc_info=True)

    # ----- the owner's side ----------------------------------------------
    async def _on_message(self, message: dict[str, Any]) -> None:
        sender = message.get("from")
        if not isinstance(sender, str):
            return
        self.peers[sender] = self.clock()
        op = message.get("op")
        if op in ("join", "move", "leave"):
            try:
                answer = await self._serve(sender, message)
                reply: dict[str, Any] = {"ok": True, "data": answer}
            except _Moved:
                reply = {"ok": False, "moved": True}
            except RealtimeError as err:
                reply = {"ok": False, "error": err.to_ack()["error"]}
            except Exception:
                log.exception("grid game: serving a forwarded %s failed", op)
                reply = {"ok": False,
                         "error": {"code": INTERNAL, "message": "internal error; it has been logged"}}
            try:
                await self.bus.reply(message, reply)
            except Exception:  # the requester times out and answers its client
                log.warning("grid game: could not answer a forwarded %s", op)
        elif op == "emit":
            event, data = message.get("event"), message.get("data")
            room, to = message.get("room"), message.get("to")
            if isinstance(event, str) and isinstance(data, dict):
                await self.emit_local(event, data, room=room if isinstance(room, str) else None,
                                      to=to if isinstance(to, str) else None)
        elif op == "disconnect":
            await self._drop_remote(str(message.get("sid")))
        elif op == "members":
            await self._reconcile(sender, message.get("members"))
        elif op == "owner":
            slug, owner = message.get("arena"), message.get("owner")
            if isinstance(slug, str) and isinstance(owner, str) and self._has_forwarded(slug):
                self.owners[slug] = owner
                await self._heartbeat(only=owner)
        elif op == "released":
            for slug in message.get("arenas") or []:
                if isinstance(slug, str) and self._has_forwarded(slug):
                    if self.owners.get(slug) == sender:
                        self.owners.pop(slug, None)
                    self._spawn(self._check_owner(slug))

    async def _serve(self, sender: str, message: dict[str, Any]) -> dict[str, Any]:
        """Apply a forwarded join, move or leave as the arena's owner."""
        sid = str(message.get("sid"))
        member = Member.from_wire(message.get("member"))
        installing = self._installing.get(member.slug)
        if installing is not None:  # being loaded here: answer once it is
            await asyncio.shield(installing)
        if member.slug not in self.owned or self._stopping:
            # Stopping: a move applied after the last checkpoint would be lost.
            raise _Moved()
        local = sender == self.id
        op = message["op"]
        if op == "join":
            if not local:
                self._gone.pop(sid, None)
                self._register(sid, sender, member)
            try:
                data = await self.engine.join(
                    sid=sid, seat_key=member.seat_key, player_id=member.player_id, slug=member.slug,
                    name=member.name, spectate=member.spectate, anonymous=member.anonymous)
            except BaseException:
                if sid not in self.engine.members:
                    self._forget_remote(sid)
                raise
            if local:
                self.forwarded.pop(sid, None)
            return data
        if sid not in self.engine.members and sid not in self._gone:
            # Not known here yet (the arena has just moved here): seat it first.
            if not local:
                self._register(sid, sender, member)
            await self.engine.attach(sid=sid, seat_key=member.seat_key, player_id=member.player_id,
                                     slug=member.slug, name=member.name, spectate=member.spectate,
                                     anonymous=member.anonymous)
            if local:
                self.forwarded.pop(sid, None)
        if op == "move":
            return self.engine.move(sid=sid, direction=str(message.get("direction")), seq=int(message["seq"]))
        await self.engine.leave(sid=sid)
        return {}

    def _register(self, sid: str, process: str, member: Member) -> None:
        self._forget_remote(sid)
        self.remote[sid] = RemoteClient(process=process, seat_key=member.seat_key, anonymous=member.anonymous,
                                        since=self.clock())
        self._remote_per_process[process] += 1

    def _forget_remote(self, sid: str) -> RemoteClient | None:
        client = self.remote.pop(sid, None)
        if client is not None:
            self._remote_per_process[client.process] -= 1
            if self._remote_per_process[client.process] <= 0:
                del self._remote_per_process[client.process]
        return client

    async def _drop_remote(self, sid: str) -> None:
        client = self._forget_remote(sid)
        if client is None:
            return
        self._gone[sid] = self.clock()
        if len(self._gone) > MAX_GONE:
            self._gone.pop(next(iter(self._gone)))
        await self.engine.disconnect(sid=sid, seat_key=client.seat_key, anonymous=client.anonymous)

    async def _reconcile(self, process: str, listed: Any) -> None:
        """A process's heartbeat: its connections in this process's arenas."""
        members: dict[str, Member] = {}
        for item in listed if isinstance(listed, list) else []:
            try:
                sid, wire = item
                members[str(sid)] = Member.from_wire(wire)
            except (TypeError, ValueError):
                continue
        now = self.clock()
        for sid, client in list(self.remote.items()):
            # Young entries are spared: their join may have crossed this list.
            if client.process == process and sid not in members and now - client.since > self.peer_timeout:
                await self._drop_remote(sid)
        for sid, member in members.items():
            if sid not in self.remote and sid not in self._gone and member.slug in self.owned:
                self._register(sid, process, member)
                if not await self.engine.attach(
                        sid=sid, seat_key=member.seat_key, player_id=member.player_id, slug=member.slug,
                        name=member.name, spectate=member.spectate, anonymous=member.anonymous):
                    self._forget_remote(sid)

    # ----- ownership -----------------------------------------------------
    async def _install(self, slug: str) -> None:
        """Load an arena whose lease this process has just taken, from its checkpoint."""
        future = asyncio.get_running_loop().create_future()
        self._installing[slug] = future
        self.owners.pop(slug, None)  # whoever it was, it is not the owner any more
        try:
            info = await self.load_arena(slug)
            if info is None:
                await self.leases.release([lease_name(slug)], owner=self.id)
                raise RealtimeError(NOT_FOUND, f"no arena {slug[:64]!r}")
            saved = None
            data = await self.leases.load(lease_name(slug))
            if data is not None:
                try:
                    saved = checkpoints.decode(data)
                except checkpoints.CheckpointError as err:
                    log.warning("grid game: the checkpoint of %s is unusable (%s); a fresh board", slug, err)
            if saved is not None and saved.owner != self.id and not saved.released:
                ARENA_TAKEOVERS.inc()
                log.info("grid game: took over arena %s from %s", slug, saved.owner)
            self.engine.install(info, checkpoint=saved, anonymous_grace=self.peer_timeout)
            try:
                if not await self._save(slug):
                    raise RuntimeError("lost the lease while loading")
            except Exception:
                await self.engine.unload(slug)
                raise
            self.owned.add(slug)
            self.owners.pop(slug, None)
            ARENAS_OWNED.set(len(self.owned))
            # This process's own players of the arena are now local members.
            for sid, member in [(s, m) for s, m in self.forwarded.items() if m.slug == slug]:
                del self.forwarded[sid]
                await self.engine.attach(sid=sid, seat_key=member.seat_key, player_id=member.player_id,
                                         slug=slug, name=member.name, spectate=member.spectate,
                                         anonymous=member.anonymous)
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            future.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            self._installing.pop(slug, None)
        if self._bus_started:
            try:
                await self.bus.send(ALL, {"op": "owner", "arena": slug, "owner": self.id})
            except Exception:
                log.warning("grid game: could not announce arena %s", slug, exc_info=True)

    async def _save(self, slug: str, *, released: bool = False) -> bool:
        arena = self.engine.arenas[slug]
        # From the tick the next state would carry (after an idle spell the
        # clock is far ahead of the last one), never below an earlier reservation.
        reserved = max(arena.following_tick() + self.reserve_ticks, arena.tick_ceiling or 0)
        saved = self.engine.checkpoint(slug, owner=self.id, tick_reserved=reserved, released=released)
        try:
            data = checkpoints.encode(saved)
        except checkpoints.CheckpointError:
            log.exception("grid game: arena %s does not fit a checkpoint", slug)
            return False
        if not await self.leases.save(lease_name(slug), data, owner=self.id):
            return False
        arena.tick_ceiling = reserved
        self._saved[slug] = arena.state
        return True

    async def _relinquish(self, slug: str, owner: str | None) -> None:
        """Another process holds this arena now: its connections here are forwarded to it."""
        log.warning("grid game: lost the lease of arena %s", slug)
        self.owned.discard(slug)
        self._saved.pop(slug, None)
        ARENAS_OWNED.set(len(self.owned))
        arena = self.engine.arenas.get(slug)
        if arena is not None:
            for sid, membership in self.engine.members_of(slug):
                client = self._forget_remote(sid)
                if client is not None:
                    continue  # its own process re-attaches it to the new owner
                seat = arena.seats.get(membership.seat_key) if membership.seat_key else None
                player_id = seat.player_id if seat is not None else ""
                playing = seat is not None and arena.state.has_player(player_id)
                name = arena.state.player(player_id).name if playing else None
                self.forwarded[sid] = Member(
                    slug=slug, seat_key=membership.seat_key or "", player_id=player_id,
                    anonymous=seat.anonymous if seat else False, name=name, spectate=seat is None)
            await self.engine.unload(slug)
        if owner is not None and owner != self.id:
            self.owners[slug] = owner

    async def _check_owner(self, slug: str) -> None:
        """Who holds an arena this process has players in; take it if nobody does."""
        if slug in self.owned or slug in self._installing or self._stopping:
            return
        before = self.owners.get(slug)
        try:
            owner = await self._owner(slug)
        except RealtimeError:
            return
        if owner != self.id and owner != before:
            await self._heartbeat(only=owner)  # the new owner attaches our players now

    def _has_forwarded(self, slug: str) -> bool:
        return any(member.slug == slug for member in self.forwarded.values())

    # ----- the beat ------------------------------------------------------
    async def _beat(self) -> None:
        if not self._bus_started:
            await self._start_bus()
        now = self.clock()
        # Heartbeats first: a slow lease store must not make the owners of
        # other arenas take this process for dead.
        await self._heartbeat()
        # Other processes' connections in our arenas: a silent process's go.
        silent = {process for process, seen in self.peers.items() if now - seen > self.peer_timeout}
        for sid, client in list(self.remote.items()):
            if client.process in silent:
                await self._drop_remote(sid)
        for process in silent:
            del self.peers[process]
        for sid, at in list(self._gone.items()):
            if now - at > GONE_KEEP_SECONDS:
                del self._gone[sid]
        await self._renew(now)
        if now >= self._checkpoint_due:
            self._checkpoint_due = now + self.checkpoint_seconds
            await self._checkpoints()
        for slug in sorted({member.slug for member in self.forwarded.values()} - self.owned):
            await self._check_owner(slug)
        ARENAS_OWNED.set(len(self.owned))

    async def _renew(self, now: float) -> None:
        for slug in [slug for slug in self.owned if slug not in self.engine.arenas]:
            self.owned.discard(slug)  # deleted in the admin and dropped by the engine
            await self.leases.release([lease_name(slug)], owner=self.id)
        if not self.owned:
            self._last_renewed = now
            return
        names = [lease_name(slug) for slug in self.owned]
        try:
            held = await self.leases.renew(names, owner=self.id, ttl=self.lease_seconds)
        except Exception:
            log.warning("grid game: could not renew the arenas' leases", exc_info=True)
            if now - self._last_renewed > self.lease_seconds:
                # Another process may hold them by now: stop acting as their owner.
                for slug in list(self.owned):
                    await self._relinquish(slug, None)
            return
        self._last_renewed = now
        for slug in list(self.owned):
            if lease_name(slug) not in held:
                try:
                    owner = await self.leases.owner(lease_name(slug))
                except Exception:
                    owner = None
                await self._relinquish(slug, owner)

    async def _checkpoints(self) -> None:
        for slug in list(self.owned):
            arena = self.engine.arenas.get(slug)
            if arena is None:
                continue
            ceiling = arena.tick_ceiling
            low = ceiling is None or ceiling - arena.following_tick() < self.reserve_ticks // 2
            if self._saved.get(slug) is arena.state and not low:
                continue
            try:
                await self._save(slug)
            except Exception:
                log.warning("grid game: could not store the checkpoint of %s", slug, exc_info=True)

    async def _heartbeat(self, *, only: str | None = None) -> None:
        """Tell each owner which of this process's connections are in its arenas."""
        if not self._bus_started:
            return
        by_owner: dict[str, list[Any]] = {}
        for sid, member in self.forwarded.items():
            owner = self.owners.get(member.slug)
            if owner is not None and (only is None or owner == only):
                by_owner.setdefault(owner, []).append([sid, member.wire()])
        if only is not None:
            by_owner.setdefault(only, [])
        for owner, members in by_owner.items():
            try:
                await self.bus.send(owner, {"op": "members", "members": members})
            except Exception:
                log.warning("grid game: heartbeat to %s failed", owner, exc_info=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Moved(Exception):
    """This process does not hold the arena (any more)."""


def _unavailable() -> RealtimeError:
    return RealtimeError(INTERNAL, "the game server of this arena is not reachable right now; try again",
                         retry_after=1.0)


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("ok"):
        data = reply.get("data")
        return data if isinstance(data, dict) else {}
    error = reply.get("error") or {}
    code = error.get("code")
    if code not in ERROR_CODES:
        code = INTERNAL
    retry = error.get("retry_after")
    raise RealtimeError(code, str(error.get("message") or "refused"),
                        retry_after=float(retry) if isinstance(retry, (int, float)) else None)
