"""The one place that builds the site's python-socketio AsyncServer.

In-memory client manager by default; AsyncRedisManager when REDIS_URL is set,
AsyncAioPikaManager (RabbitMQ) when MESSAGE_QUEUE_URL is set, so emits reach
clients connected to any worker. Namespaces are listed in
settings.SOCKETIO_NAMESPACES as (path, dotted class) pairs.
"""

import gc
import logging

import socketio
from django.conf import settings
from django.utils.module_loading import import_string

from votemap_site.metrics import QUEUE_BREAKER_OPEN

from .base import BaseNamespace
from .breaker import CircuitBreaker
from .broadcast import (
    FastAsyncAioPikaManager,
    FastAsyncManager,
    FastAsyncRedisManager,
    choose_path,
    degraded_reasons,
)
from .edge import EdgeAsyncServer, EdgeLimits
from .origins import origin_allowed
from .presence import LocalPresence, PostgresPresence, Presence, RedisPresence
from .shared import postgres_conninfo, shared_state_backend

log = logging.getLogger("votemap_site.realtime")


SHARED_BREAKER_NAME = "shared-state"


def build_breaker(name: str) -> CircuitBreaker:
    """A breaker with the site's settings (SOCKETIO_BREAKER_*)."""
    return CircuitBreaker(name=name, failure_threshold=settings.SOCKETIO_BREAKER_FAILURES,
                          reset_timeout=settings.SOCKETIO_BREAKER_RESET_SECONDS)


def build_presence(*, breaker: CircuitBreaker | None = None) -> Presence:
    backend = shared_state_backend()
    breaker = breaker or build_breaker(SHARED_BREAKER_NAME)
    timeout = settings.SOCKETIO_SHARED_TIMEOUT_SECONDS
    if backend == "redis":
        return RedisPresence(
            settings.REDIS_URL, heartbeat=settings.PRESENCE_HEARTBEAT_SECONDS,
            prefix=settings.REDIS_KEY_PREFIX, breaker=breaker, call_timeout=timeout,
        )
    if backend == "postgres":
        return PostgresPresence(postgres_conninfo(), heartbeat=settings.PRESENCE_HEARTBEAT_SECONDS,
                                breaker=breaker, call_timeout=timeout)
    return LocalPresence()


def build_client_manager(path: str) -> socketio.AsyncManager:
    """python-socketio's manager for `path` (broadcast.py: direct, loop or stock).

    The site's managers publish with a timeout behind a breaker and reconnect
    their listeners (broadcast.py, "the message queue under faults"); `stock`
    is python-socketio's as it is, for comparisons."""
    if path == "stock":
        if settings.MESSAGE_QUEUE_URL:
            return socketio.AsyncAioPikaManager(
                settings.MESSAGE_QUEUE_URL, channel=settings.SOCKETIO_REDIS_CHANNEL)
        if settings.REDIS_URL:
            return socketio.AsyncRedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_REDIS_CHANNEL)
        return socketio.AsyncManager()
    guarded = {"queue_timeout": settings.SOCKETIO_QUEUE_TIMEOUT_SECONDS,
               "breaker": build_breaker(settings.SOCKETIO_REDIS_CHANNEL)}
    if settings.MESSAGE_QUEUE_URL:
        return FastAsyncAioPikaManager(
            settings.MESSAGE_QUEUE_URL, channel=settings.SOCKETIO_REDIS_CHANNEL, path=path, **guarded)
    if settings.REDIS_URL:
        return FastAsyncRedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_REDIS_CHANNEL, path=path,
                                     **guarded)
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
        # One breaker for everything this process asks the shared state
        # (presence, locks), one for the message queue (in the manager).
        self.shared_breaker = build_breaker(SHARED_BREAKER_NAME)
        self.shared_breaker.on_change.append(_shared_breaker_metric)
        QUEUE_BREAKER_OPEN.labels(channel=SHARED_BREAKER_NAME).set(0)
        self.presence = build_presence(breaker=self.shared_breaker)
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
            namespace.shared_breaker = self.shared_breaker
            self.sio.register_namespace(namespace)
            self.namespaces.append(namespace)

    async def startup(self) -> None:
        tune_garbage_collector()
        self.sio.edge.start()
        await self.presence.start()
        # python-socketio starts the manager (its queue listener) on the first
        # client connection; until then this process would miss what others
        # publish. `manager_initialized` and `initialize()` are the server's
        # and the manager's public API for that first-connection step.
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.sio.manager.initialize()
        for namespace in self.namespaces:
            await namespace.start()
        log.info("realtime server started (%s); broadcast path: %s (%s)",
                 "rabbitmq" if settings.MESSAGE_QUEUE_URL else "redis" if settings.REDIS_URL else "in-memory",
                 self.broadcast_path, self.broadcast_reason)

    async def shutdown(self) -> None:
        for namespace in reversed(self.namespaces):
            try:
                await namespace.stop()
            except Exception:
                log.exception("namespace %s did not stop cleanly", namespace.namespace)
        await self.presence.stop()
        close = getattr(self.sio.manager, "close", None)  # the site's queue managers
        if close is not None:
            try:
                await close()
            except Exception:
                log.exception("the message queue manager did not close cleanly")
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

    def faults_status(self) -> dict[str, object]:
        """For /healthz: the breakers in front of the message queue and the shared state."""
        manager_status = getattr(self.sio.manager, "status", None)
        return {
            "message_queue": manager_status() if manager_status is not None else None,
            "shared_state": {"backend": shared_state_backend(), "breaker": self.shared_breaker.status()},
        }

    def namespace(self, path: str) -> BaseNamespace:
        for namespace in self.namespaces:
            if namespace.namespace == path:
                return namespace
        raise KeyError(path)


def _shared_breaker_metric(breaker: CircuitBreaker, old: str, new: str) -> None:
    QUEUE_BREAKER_OPEN.labels(channel=SHARED_BREAKER_NAME).set(0 if new == "closed" else 1)


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
