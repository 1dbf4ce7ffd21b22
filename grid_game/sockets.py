"""`/grid-game`: the multiplayer grid game (docs/protocol.md, /grid-game).

Handlers are thin: validate (schemas), call the engine, return the ack. The
engine (grid_game/engine.py) holds the live state of the arenas this process
runs and one tick loop per arena; see its docstring for how moves are applied.
One process (no queue configured): the handlers call the engine directly and
states go to local clients only, nothing else is involved. With a queue
(REDIS_URL or MESSAGE_QUEUE_URL), `ArenaCluster` (grid_game/cluster.py) stands
between them: it runs the arenas whose lease this process holds in the
engine, forwards what the clients connected here do in the other arenas to
their owners, and takes an arena over when its owner is gone. Rate limits and
the edge apply here, where the client is connected, in both cases. Refusals
are the site's `RealtimeError`, raised by the engine (or relayed from the
owner) and turned into the error ack by the base namespace.

Admin changes: the site's watcher (votemap_site/realtime/watcher.py) reads a
marker of the arenas table (`selectors.arena_marker`) every
GAME_CONFIG_POLL_SECONDS while this worker has arenas loaded, and only when
it changed asks the engine to re-read the loaded arenas (`poll_config`).
"""

import logging
from typing import Any

from django.conf import settings

from votemap_site.realtime.base import BaseNamespace
from votemap_site.realtime.broadcast import SharedPayload, reuses_encodings
from votemap_site.realtime.bus import build_bus
from votemap_site.realtime.dbaccess import db
from votemap_site.realtime.identity import Identity
from votemap_site.realtime.lease import build_lease_store
from votemap_site.realtime.ratelimit import RateLimit
from votemap_site.realtime.watcher import Watcher

from . import selectors, services
from .cluster import ArenaCluster, process_id
from .engine import ArenaInfo, Engine
from .rooms import arena_room, presence_key
from .schemas import JoinGamePayload, LeaveGamePayload, ListArenasPayload, MovePayload

log = logging.getLogger(__name__)


class GridGameNamespace(BaseNamespace):
    lobby_stat = "game"
    schemas = {
        "join_game": JoinGamePayload,
        "move": MovePayload,
        "leave_game": LeaveGamePayload,
        "list_arenas": ListArenasPayload,
    }

    def __init__(self, namespace: str, **kwargs: Any) -> None:
        super().__init__(namespace, **kwargs)
        # Read when the server is built, so deployments (and tests) can change them.
        self.rate_limits = {
            "move": RateLimit(per_second=settings.GAME_MOVE_RATE, burst=settings.GAME_MOVE_BURST),
            "join_game": RateLimit(per_second=2, burst=5),
            "leave_game": RateLimit(per_second=2, burst=5),
            "list_arenas": RateLimit(per_second=2, burst=5),
        }
        self._online_published: dict[str, int] = {}
        self.cluster: ArenaCluster | None = None
        self.engine = self._build_engine(clustered=False)
        self._watcher = self._build_watcher()

    def _build_engine(self, *, clustered: bool) -> Engine:
        return Engine(
            emit=self._emit_clustered if clustered else self._emit_local,
            load_arena=self._load_arena,
            load_revisions=self._load_revisions,
            record_scores=self._record_scores,
            top_scores=self._top_scores,
            online_changed=self._online_changed,
            is_connected=self._is_connected,
            anonymous_seats=settings.GAME_ANONYMOUS_SEATS,
            hz=settings.GAME_TICK_HZ,
            grace_seconds=settings.GAME_SEAT_GRACE_SECONDS,
            idle_seconds=settings.GAME_IDLE_SECONDS,
            rng_seed=settings.GAME_RNG_SEED or None,
            create_runtimes=not clustered,
            shared_states=not clustered,
        )

    def _build_cluster(self) -> ArenaCluster | None:
        """With a queue: leases, the bus and the cluster around a fresh engine; None with one process."""
        leases = build_lease_store()
        if leases is None:
            return None
        bus = build_bus(process_id())
        if bus is None:
            return None
        self.engine = self._build_engine(clustered=True)
        return ArenaCluster(
            engine=self.engine, leases=leases, bus=bus, load_arena=self._load_arena,
            emit_local=self._emit_local,
            lease_seconds=settings.GAME_LEASE_SECONDS, checkpoint_seconds=settings.GAME_CHECKPOINT_SECONDS,
            peer_timeout=settings.GAME_PEER_TIMEOUT_SECONDS,
            forward_timeout=settings.GAME_FORWARD_TIMEOUT_SECONDS,
        )

    def _build_watcher(self) -> Watcher[tuple[int, int, int]]:
        return Watcher(
            name="grid-game-config", interval=settings.GAME_CONFIG_POLL_SECONDS, read=selectors.arena_marker,
            changed=self._arenas_changed, active=lambda: bool(self.engine.arenas),
            # An arena is loaded without the marker: the first poll after one
            # was loaded compares it with the database too. Later loads need no
            # such care: database calls run one at a time on one thread and
            # nothing awaits between an arena's read and its entry in
            # `engine.arenas`, so an arena read before a change is there by the
            # time the poll that sees the change calls `poll_config`.
            notify_first=True,
        )

    async def _arenas_changed(self, marker: tuple[int, int, int]) -> None:
        await self.engine.poll_config()

    # ----- wiring --------------------------------------------------------
    async def _emit_local(self, event: str, data: dict[str, Any], *, room: str | None = None,
                          to: str | None = None) -> None:
        # Only this process's clients: no queue. The engine's states are shared
        # payloads (encoded once, spliced from cached parts); python-socketio's
        # own managers (a benchmark's `site-stock`) get the plain dict.
        if isinstance(data, SharedPayload) and not reuses_encodings(self.server.manager):
            data = data.plain()
        await self.emit(event, data, room=room, to=to, ignore_queue=True)

    async def _emit_clustered(self, event: str, data: dict[str, Any], *, room: str | None = None,
                              to: str | None = None) -> None:
        assert self.cluster is not None
        await self.cluster.emit(event, data, room=room, to=to)

    def _is_connected(self, sid: str) -> bool:
        # The base namespace forgets a connection's identity right after its
        # disconnect hook, so this is False from then on. Another process's
        # connection is connected while the cluster knows it.
        return sid in self._identities or (self.cluster is not None and self.cluster.is_remote(sid))

    def _member_slug(self, sid: str) -> str | None:
        if self.cluster is not None:
            return self.cluster.member_slug(sid)
        member = self.engine.members.get(sid)
        return member.slug if member is not None else None

    async def _load_arena(self, slug: str) -> ArenaInfo | None:
        return await db(selectors.arena_get, slug=slug)

    async def _load_revisions(self, slugs: list[str]) -> dict[str, ArenaInfo]:
        return await db(selectors.arena_revisions, slugs=slugs)

    async def _record_scores(self, arena_id: int, entries: list[tuple[str, str, int]]) -> bool:
        return await db(services.high_score_record, arena_id=arena_id, entries=entries)

    async def _top_scores(self, arena_id: int) -> list[dict[str, Any]]:
        return await db(selectors.high_score_top, arena_id=arena_id)

    async def _online_changed(self, slug: str, count: int) -> None:
        # Publish this worker's count of connected players for the arena list.
        key = presence_key(slug)
        previous = self._online_published.get(slug, 0)
        for _ in range(count - previous):
            await self.presence.join(key)
        for _ in range(previous - count):
            await self.presence.leave(key)
        if count:
            self._online_published[slug] = count
        else:
            self._online_published.pop(slug, None)  # no entry per arena nobody plays in

    # ----- lifecycle -----------------------------------------------------
    async def start(self) -> None:
        self.engine = self._build_engine(clustered=False)
        self.cluster = self._build_cluster()
        self._online_published = {}
        self._watcher = self._build_watcher()
        if self.cluster is not None:
            await self.cluster.start()
        self._watcher.start()

    async def stop(self) -> None:
        await self._watcher.stop()
        if self.cluster is not None:
            await self.cluster.stop()  # stops the engine, then hands its arenas over
        else:
            await self.engine.stop()

    async def disconnected(self, sid: str, identity: Identity, reason: str) -> None:
        if self.cluster is not None:
            await self.cluster.disconnect(sid=sid, seat_key=identity.key, anonymous=not identity.has_session)
            return
        await self.engine.disconnect(sid=sid, seat_key=identity.key, anonymous=not identity.has_session)

    # ----- events --------------------------------------------------------
    async def on_join_game(self, sid: str, payload: JoinGamePayload) -> dict[str, Any]:
        identity = self.identity(sid)
        name = payload.name or identity.username
        previous = self._member_slug(sid)
        join = self.engine.join if self.cluster is None else self.cluster.join
        try:
            data = await join(
                sid=sid, seat_key=identity.key, player_id=identity.public_id, slug=payload.arena,
                name=name, spectate=payload.spectate, anonymous=not identity.has_session,
            )
        finally:
            # Switching arenas leaves the previous one even when the new join is refused.
            if previous is not None and self._member_slug(sid) != previous:
                await self.leave_room(sid, arena_room(previous))
        await self.enter_room(sid, arena_room(payload.arena))
        return data

    async def on_move(self, sid: str, payload: MovePayload) -> dict[str, Any]:
        if self.cluster is None:
            return self.engine.move(sid=sid, direction=payload.direction, seq=payload.seq)
        return await self.cluster.move(sid=sid, direction=payload.direction, seq=payload.seq)

    async def on_leave_game(self, sid: str, payload: LeaveGamePayload) -> dict[str, Any]:
        slug = self._member_slug(sid)
        await (self.engine.leave(sid=sid) if self.cluster is None else self.cluster.leave(sid=sid))
        if slug is not None:
            await self.leave_room(sid, arena_room(slug))
        return {}

    async def on_list_arenas(self, sid: str, payload: ListArenasPayload) -> dict[str, Any]:
        arenas = await db(selectors.arena_list)
        return {"arenas": [
            {"slug": a.slug, "name": a.name, "width": a.width, "height": a.height,
             "max_players": a.max_players, "open": a.is_open,
             "players_online": await self.presence.total(presence_key(a.slug))}
            for a in arenas
        ]}
