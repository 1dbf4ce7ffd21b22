"""`/grid-game`: the multiplayer grid game (docs/protocol.md, /grid-game).

Handlers are thin: validate (schemas), call the engine, return the ack. The
engine (grid_game/engine.py) holds every arena's live state in this process
and runs one tick loop per arena; see its docstring for how moves are applied
and for the deployment rule (all connections of an arena on one worker).
Refusals are the site's `RealtimeError`, raised by the engine and turned into
the error ack by the base namespace.

Admin changes: the site's watcher (votemap_site/realtime/watcher.py) reads a
marker of the arenas table (`selectors.arena_marker`) every
GAME_CONFIG_POLL_SECONDS while this worker has arenas loaded, and only when
it changed asks the engine to re-read the loaded arenas (`poll_config`).
"""

import logging
from typing import Any

from django.conf import settings

from votemap_site.realtime.base import BaseNamespace
from votemap_site.realtime.dbaccess import db
from votemap_site.realtime.identity import Identity
from votemap_site.realtime.ratelimit import RateLimit
from votemap_site.realtime.watcher import Watcher

from . import selectors, services
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
        self.engine = self._build_engine()
        self._watcher = self._build_watcher()

    def _build_engine(self) -> Engine:
        return Engine(
            emit=self._emit_local,
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
        # An arena lives in this process, so do its players: no cross-worker queue.
        await self.emit(event, data, room=room, to=to, ignore_queue=True)

    def _is_connected(self, sid: str) -> bool:
        # The base namespace forgets a connection's identity right after its
        # disconnect hook, so this is False from then on.
        return sid in self._identities

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
        if (settings.REDIS_URL or settings.MESSAGE_QUEUE_URL) and not settings.GAME_SOCKETIO_PATH:
            log.warning(
                "grid game: arenas live in each worker's memory; set GAME_SOCKETIO_PATH and "
                "route that path to one worker (see docs/deployment.md)"
            )
        self.engine = self._build_engine()
        self._online_published = {}
        self._watcher = self._build_watcher()
        self._watcher.start()

    async def stop(self) -> None:
        await self._watcher.stop()
        await self.engine.stop()

    async def disconnected(self, sid: str, identity: Identity, reason: str) -> None:
        await self.engine.disconnect(sid=sid, seat_key=identity.key, anonymous=not identity.has_session)

    # ----- events --------------------------------------------------------
    async def on_join_game(self, sid: str, payload: JoinGamePayload) -> dict[str, Any]:
        identity = self.identity(sid)
        name = payload.name or identity.username
        previous = self.engine.members.get(sid)
        try:
            data = await self.engine.join(
                sid=sid, seat_key=identity.key, player_id=identity.public_id, slug=payload.arena,
                name=name, spectate=payload.spectate, anonymous=not identity.has_session,
            )
        finally:
            # Switching arenas leaves the previous one even when the new join is refused.
            current = self.engine.members.get(sid)
            if previous is not None and (current is None or current.slug != previous.slug):
                await self.leave_room(sid, arena_room(previous.slug))
        await self.enter_room(sid, arena_room(payload.arena))
        return data

    async def on_move(self, sid: str, payload: MovePayload) -> dict[str, Any]:
        return self.engine.move(sid=sid, direction=payload.direction, seq=payload.seq)

    async def on_leave_game(self, sid: str, payload: LeaveGamePayload) -> dict[str, Any]:
        member = self.engine.members.get(sid)
        await self.engine.leave(sid=sid)
        if member is not None:
            await self.leave_room(sid, arena_room(member.slug))
        return {}

    async def on_list_arenas(self, sid: str, payload: ListArenasPayload) -> dict[str, Any]:
        arenas = await db(selectors.arena_list)
        return {"arenas": [
            {"slug": a.slug, "name": a.name, "width": a.width, "height": a.height,
             "max_players": a.max_players, "open": a.is_open,
             "players_online": await self.presence.total(presence_key(a.slug))}
            for a in arenas
        ]}
