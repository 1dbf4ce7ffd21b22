"""The one place that builds the site's python-socketio AsyncServer.

In-memory client manager by default; AsyncRedisManager when REDIS_URL is set,
so emits reach clients connected to any worker. Namespaces are listed in
settings.SOCKETIO_NAMESPACES as (path, dotted class) pairs.
"""

import gc
import logging

import socketio
from django.conf import settings
from django.utils.module_loading import import_string

from .base import BaseNamespace
from .broadcast import FastAsyncManager, FastAsyncRedisManager, choose_path, degraded_reasons
from .edge import EdgeAsyncServer, EdgeLimits
from .origins import origin_allowed
from .presence import LocalPresence, Presence, RedisPresence

log = logging.getLogger("votemap_site.realtime")


def build_presence() -> Presence:
    if settings.REDIS_URL:
        return RedisPresence(
            settings.REDIS_URL, heartbeat=settings.PRESENCE_HEARTBEAT_SECONDS, prefix=settings.REDIS_KEY_PREFIX
        )
    return LocalPresence()


def build_client_manager(path: str) -> socketio.AsyncManager:
    """python-socketio's manager for `path` (broadcast.py: direct, loop or stock)."""
    if path == "stock":
        if settings.REDIS_URL:
            return socketio.AsyncRedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_REDIS_CHANNEL)
        return socketio.AsyncManager()
    if settings.REDIS_URL:
        return FastAsyncRedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_REDIS_CHANNEL, path=path)
    return FastAsyncManager(path=path)


# Cyclic GC for a long-running server with thousands of connections. With
# python's defaults (2,000 allocations per young collection, a full one every
# 10 middle ones) a vote flood triggered full collections that walked every
# object of every connection several times a minute, 0.3-1 s each; a large
# young threshold (20,000) instead made single middle collections take up to
# 2 s. Measured best (bench/dashboard/RESULTS.md): objects alive at start-up
# (Django, modules, settings) frozen out of the collector, young collections
# every 5,000 allocations, full collections rare. Reference counting still
# frees everything that is not in a cycle at once.
GC_THRESHOLDS = (5_000, 10, 1_000)
_gc_tuned = False


def tune_garbage_collector() -> None:
    """Once per process, at server start-up."""
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class RealtimeServer:
    """The AsyncServer with its namespaces and presence, started by the ASGI lifespan."""

    def __init__(self) -> None:
        self.presence = build_presence()
        self.broadcast_path, self.broadcast_reason = choose_path(settings.SOCKETIO_BROADCAST_PATH)
        self.sio = EdgeAsyncServer(
            edge_limits=EdgeLimits.from_settings(),
            direct_packets=self.broadcast_path == "direct",
            async_mode="asgi",
            client_manager=build_client_manager(self.broadcast_path),
            cors_allowed_origins=origin_allowed,
            max_http_buffer_size=settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE,
            ping_interval=settings.SOCKETIO_PING_INTERVAL,
            ping_timeout=settings.SOCKETIO_PING_TIMEOUT,
            transports=settings.SOCKETIO_TRANSPORTS,
            http_compression=False,
            logger=False,
            engineio_logger=False,
        )
        self.namespaces: list[BaseNamespace] = []
        for path, dotted in settings.SOCKETIO_NAMESPACES:
            namespace = import_string(dotted)(path, presence=self.presence)
            self.sio.register_namespace(namespace)
            self.namespaces.append(namespace)

    async def startup(self) -> None:
        tune_garbage_collector()
        self.sio.edge.start()
        await self.presence.start()
        for namespace in self.namespaces:
            await namespace.start()
        log.info("realtime server started (%s); broadcast path: %s (%s)",
                 "redis" if settings.REDIS_URL else "in-memory", self.broadcast_path, self.broadcast_reason)

    async def shutdown(self) -> None:
        for namespace in reversed(self.namespaces):
            try:
                await namespace.stop()
            except Exception:
                log.exception("namespace %s did not stop cleanly", namespace.namespace)
        await self.presence.stop()
        await self.sio.edge.stop()
        log.info("realtime server stopped")

    def broadcast_status(self) -> dict[str, object]:
        """For /healthz: the delivery path now in use, why, and how recipients were reached."""
        manager = self.sio.manager
        path = getattr(manager, "path", "stock")
        stats = getattr(manager, "stats", None)
        return {
            "path": path,
            "chosen": self.broadcast_path,
            "reason": self.broadcast_reason if path == self.broadcast_path
            else "turned off after an unexpected error (see the log); public-API loop in use",
            "degraded_connections": degraded_reasons(),
            "deliveries": stats.as_dict() if stats is not None else {},
        }

    def namespace(self, path: str) -> BaseNamespace:
        for namespace in self.namespaces:
            if namespace.namespace == path:
                return namespace
        raise KeyError(path)


_current: RealtimeServer | None = None


def build_server() -> RealtimeServer:
    """Build a new server and make it the current one (one per process in production;
    the test suite builds one per live server so no state leaks between tests)."""
    global _current
    _current = RealtimeServer()
    return _current


def current() -> RealtimeServer:
    """The server of this process, for code outside handlers (admin actions, views)."""
    if _current is None:
        raise RuntimeError("the realtime server has not been built in this process")
    return _current
