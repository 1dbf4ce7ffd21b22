"""`/lobby`: live counts for the landing page (an addition to the contract).

Pushes `stats` with the number of connections to each app's namespace, over
all workers, when it changes (polled once a second).
"""

from typing import Any

from django.conf import settings

from .base import BaseNamespace
from .identity import Identity
from .schemas import EmptyPayload
from .ticker import Ticker

STATS_KEYS = {"map": "/map-dashboard", "chat": "/chat", "game": "/grid-game"}


class LobbyNamespace(BaseNamespace):
    schemas = {"get_stats": EmptyPayload}

    async def start(self) -> None:
        self._last: dict[str, int] | None = None
        self._ticker = Ticker(
            name="lobby", interval=settings.LOBBY_STATS_INTERVAL, callback=self._push, always=True
        )
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()

    async def stats(self) -> dict[str, int]:
        return {name: await self.presence.total(path) for name, path in STATS_KEYS.items()}

    async def connected(self, sid: str, identity: Identity, environ: dict[str, Any]) -> None:
        await self.emit("stats", await self.stats(), to=sid)

    async def on_get_stats(self, sid: str, payload: EmptyPayload) -> dict[str, int]:
        return await self.stats()

    async def _push(self) -> None:
        if self.connection_count() == 0:
            self._last = None
            return
        current = await self.stats()
        if current != self._last:
            self._last = current
            # Every worker pushes to its own lobby clients only.
            await self.emit("stats", current, ignore_queue=True)
