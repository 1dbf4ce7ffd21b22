"""A bare python-socketio 20 Hz tick server: the baseline for bench/grid_game.

The same events and payload shapes as the site's `/grid-game` (join_game,
move with an ack carrying `tick`, state broadcast on the tick only when
changed) with nothing else: no Django, no validation, no rate limits, no
database, python-socketio's stock AsyncManager. Run with uvicorn:

    uvicorn bench.grid_game.bare_server:app --port 8765 --ws websockets-sansio
"""

import asyncio
import os
import random
import time

import socketio

HZ = float(os.environ.get("GAME_TICK_HZ", "20"))
WIDTH = int(os.environ.get("BARE_WIDTH", "32"))
HEIGHT = int(os.environ.get("BARE_HEIGHT", "32"))
STEPS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False)


class Arena:
    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.players: dict[str, dict] = {}
        self.coins = [{"x": random.randrange(WIDTH), "y": random.randrange(HEIGHT)} for _ in range(3)]
        self.tick = int(time.time() * HZ)
        self.dirty = True
        self.task: asyncio.Task | None = None

    async def loop(self) -> None:
        interval = 1.0 / HZ
        next_at = time.monotonic()
        while True:
            next_at = max(next_at + interval, time.monotonic())
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if self.dirty:
                self.dirty = False
                self.tick = max(self.tick + 1, int(time.time() * HZ))
                await sio.emit("state", self.payload(), room=self.slug, namespace="/grid-game")

    def payload(self) -> dict:
        return {"arena": self.slug, "tick": self.tick, "players": list(self.players.values()),
                "coins": self.coins, "players_online": len(self.players)}


arenas: dict[str, Arena] = {}
where: dict[str, tuple[Arena, str]] = {}


class GameNamespace(socketio.AsyncNamespace):
    async def on_join_game(self, sid, data):
        slug = (data or {}).get("arena", "main")
        arena = arenas.get(slug)
        if arena is None:
            arena = arenas[slug] = Arena(slug)
            arena.task = asyncio.create_task(arena.loop())
        pid = f"{random.getrandbits(64):016x}"
        player = {"id": pid, "symbol": "P", "name": (data or {}).get("name") or "Player",
                  "x": random.randrange(WIDTH), "y": random.randrange(HEIGHT), "score": 0}
        arena.players[pid] = player
        where[sid] = (arena, pid)
        await self.enter_room(sid, slug)
        arena.dirty = True
        return {"ok": True, "data": {"you": player, "arena": {"slug": slug, "width": WIDTH, "height": HEIGHT},
                                     "state": arena.payload()}}

    async def on_move(self, sid, data):
        arena, pid = where[sid]
        player = arena.players[pid]
        dx, dy = STEPS[data["direction"]]
        x, y = player["x"] + dx, player["y"] + dy
        if 0 <= x < WIDTH and 0 <= y < HEIGHT:
            arena.players[pid] = player = {**player, "x": x, "y": y}
            arena.dirty = True
        return {"ok": True, "data": {"x": player["x"], "y": player["y"], "seq": data["seq"], "tick": arena.tick}}

    async def on_disconnect(self, sid, reason=None):
        if sid in where:
            arena, pid = where.pop(sid)
            arena.players.pop(pid, None)
            arena.dirty = True


sio.register_namespace(GameNamespace("/grid-game"))
app = socketio.ASGIApp(sio)
