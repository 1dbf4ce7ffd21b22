"""`/lobby`: live counts for the landing page (an addition to the contract).

Pushes `stats` with the number of connections to each app's namespace, over
all workers, when it changes (polled once a second). The namespaces counted
are those of settings.SOCKETIO_NAMESPACES whose class names its `lobby_stat`
(the key in `stats`), so a namespace added there is counted without a second
list of paths here.
"""

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .base import BaseNamespace
from .identity import Identity
from .presence import Presence
from .schemas import EmptyPayload
from .ticker import Ticker


def stats_keys() -> dict[str, str]:
    """`stats` key -> presence key of every namespace that has a lobby count."""
    keys = {}
    for path, dotted in settings.SOCKETIO_NAMESPACES:
        namespace_class = import_string(dotted)
        name = namespace_class.lobby_stat
        if name:
            keys[name] = namespace_class.presence_key or path
    return keys


class LobbyNamespace(BaseNamespace):
    schemas = {"get_stats": EmptyPayload}

    def __init__(self, namespace: str, *, presence: Presence) -> None:
        super().__init__(namespace, presence=presence)
        # Read when the server is built, like every namespace's settings.
        self.stats_keys = stats_keys()

    async def start(self) -> None:
        self._last: dict[str, int] | None = None
        self._ticker = Ticker(
            name="lobby", interval=settings.LOBBY_STATS_INTERVAL, callback=self._push, always=True
        )
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()

    async def stats(self) -> dict[str, int]:
        return {name: await self.presence.total(key) for name, key in self.stats_keys.items()}

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
