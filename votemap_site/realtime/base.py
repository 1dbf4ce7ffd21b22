"""The namespace base class every app inherits (docs/protocol.md, general rules).

`trigger_event` is overridden once for all apps, so a handler only ever sees a
validated payload and returns the ack's `data`:

    class MapNamespace(BaseNamespace):
        schemas = {"vote": VotePayload}
        rate_limits = {"vote": RateLimit(per_second=10, burst=20)}

        async def on_vote(self, sid: str, payload: VotePayload) -> dict:
            result = await db(vote_cast, province=payload.province, ...)
            return {"province": ..., "votes": ..., "version": ...}

Order for a client event: reserved/unknown name -> `unknown_event`; token
buckets -> `rate_limited` (a flooding client loses its whole Engine.IO
connection); one JSON object validated by the event's schema -> `invalid`; the
handler. A `RealtimeError` becomes its error ack; anything else is logged with
namespace, event and sid and answered `internal`.

Buckets and strikes belong to the edge (edge.py), keyed by the Engine.IO
connection and the session or address, so reconnecting a namespace does not
refill them. A cookie-less client's identity is keyed by its Engine.IO
connection too, for the same reason.

Metrics (votemap_site/metrics.py): every client event is counted by
namespace, event and result (`ok` or the error code) and its time from
arrival to ack observed; unknown names count as `*unknown*`, so a client
cannot create series. Connections to each namespace are a gauge. The labelled
children are looked up once and kept (a few per namespace), because
`labels()` costs more than the increment itself on this path.
"""

import logging
import time
from typing import Any, ClassVar

import socketio
from django.conf import settings
from pydantic import BaseModel, ValidationError

from votemap_site import metrics

from .breaker import CircuitBreaker
from .dbaccess import db
from .errors import (
    INTERNAL,
    INVALID,
    RATE_LIMITED,
    UNKNOWN_EVENT,
    RealtimeError,
    error_ack,
    ok_ack,
)
from .identity import Identity, IdentityResolver, session_key_from_environ
from .presence import Presence
from .ratelimit import RateLimit
from .schemas import describe_validation_error

log = logging.getLogger("votemap_site.realtime")

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "message"})
DEFAULT_RATE_LIMIT = RateLimit(per_second=5, burst=10)
# Unknown events share one bucket so a flood of garbage names is limited too.
UNKNOWN_EVENT_BUCKET = "*unknown*"


class BaseNamespace(socketio.AsyncNamespace):
    # event name -> pydantic model of its one payload object
    schemas: ClassVar[dict[str, type[BaseModel]]] = {}
    # event name -> token bucket; events not listed get DEFAULT_RATE_LIMIT
    rate_limits: ClassVar[dict[str, RateLimit]] = {}
    # key under which connections are counted in presence (default: the namespace path)
    presence_key: ClassVar[str | None] = None
    # key of this namespace's connection count in the lobby's `stats` (None: not counted)
    lobby_stat: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers = {name[3:] for name in dir(cls) if name.startswith("on_") and callable(getattr(cls, name))}
        handlers -= RESERVED_EVENTS
        missing = handlers - set(cls.schemas)
        if missing:
            raise TypeError(f"{cls.__name__}: handlers without a schema: {sorted(missing)}")
        orphans = set(cls.schemas) - handlers
        if orphans:
            raise TypeError(f"{cls.__name__}: schemas without a handler: {sorted(orphans)}")

    def __init__(self, namespace: str, *, presence: Presence) -> None:
        super().__init__(namespace)
        self.presence = presence
        # The process's shared-state breaker (server.py sets it; shared.py says why).
        self.shared_breaker = CircuitBreaker(name="shared-state")
        self.presence_key = self.presence_key or namespace
        self._identities: dict[str, Identity] = {}
        # namespace sid -> Engine.IO connection id, the key of every limit
        self._connections: dict[str, str] = {}
        self._connections_metric = metrics.CONNECTIONS.labels(namespace)
        # (event or UNKNOWN_EVENT_BUCKET, result) -> counter; event -> histogram.
        # Bounded: the schemas' names and one more, times the error codes and "ok".
        self._event_metrics: dict[tuple[str, str], Any] = {}
        self._ack_metrics: dict[str, Any] = {}
        # No database for anonymous connections, one batched lookup for sessions (identity.py).
        self._identity_resolver = IdentityResolver(run=db)

    # ----- lifecycle hooks for subclasses -------------------------------
    async def start(self) -> None:
        """Called on server start-up (ASGI lifespan): rebuild caches, start tickers."""

    async def stop(self) -> None:
        """Called on shutdown: stop background tasks, flush what must be flushed."""

    async def connected(self, sid: str, identity: Identity, environ: dict[str, Any]) -> None:
        """After a connection is accepted (send the snapshot here)."""

    async def disconnected(self, sid: str, identity: Identity, reason: str) -> None:
        """After a connection is gone (leave rooms, release seats)."""

    # ----- helpers -------------------------------------------------------
    def identity(self, sid: str) -> Identity:
        return self._identities[sid]

    def connection_of(self, sid: str) -> str | None:
        """The Engine.IO connection id of a namespace sid connected here."""
        return self._connections.get(sid)

    def connection_count(self) -> int:
        """Connections to this namespace on this worker."""
        return len(self._identities)

    # ----- dispatch ------------------------------------------------------
    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            sid = args[0]
            if sid in self._identities or self.server.manager.is_connected(sid, self.namespace):
                return error_ack(UNKNOWN_EVENT, "'connect' is not an event a client can send")
            environ = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
            return await self._on_connect(sid, environ)
        if event == "disconnect":
            sid = args[0]
            if self.server.manager.is_connected(sid, self.namespace):
                return error_ack(UNKNOWN_EVENT, "'disconnect' is not an event a client can send")
            reason = args[1] if len(args) > 1 else ""
            await self._on_disconnect(sid, str(reason))
            return None
        sid, payload_args = args[0], args[1:]
        return await self._dispatch(sid, event, payload_args)

    def _arrived_on_its_path(self, environ: dict[str, Any]) -> bool:
        """A namespace with a Socket.IO path of its own accepts connections only there."""
        own = settings.SOCKETIO_NAMESPACE_PATHS.get(self.namespace)
        if not own:
            return True
        return environ.get("PATH_INFO", "").startswith(f"/{own}/")

    async def _on_connect(self, sid: str, environ: dict[str, Any]) -> bool:
        if not self._arrived_on_its_path(environ):
            log.info("namespace=%s sid=%s: refused, not on its own Socket.IO path", self.namespace, sid)
            return False
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        if eio_sid is None:
            return False
        try:
            identity = await self._identity_resolver.resolve(
                connection=eio_sid, session_key=session_key_from_environ(environ)
            )
        except Exception:
            log.exception("namespace=%s sid=%s: identity lookup failed", self.namespace, sid)
            return False
        edge = self.server.edge
        if not identity.has_session and not edge.admit_anonymous(eio_sid):
            return False
        self._identities[sid] = identity
        self._connections_metric.inc()
        self._connections[sid] = eio_sid
        edge.namespace_joined(eio_sid)
        if self.presence_key:
            await self.presence.join(self.presence_key)
        try:
            await self.connected(sid, identity, environ)
        except Exception:
            log.exception("namespace=%s sid=%s: connect hook failed", self.namespace, sid)
            await self._forget(sid)
            return False
        return True

    async def _on_disconnect(self, sid: str, reason: str) -> None:
        identity = self._identities.get(sid)
        if identity is None:
            return
        try:
            await self.disconnected(sid, identity, reason)
        except Exception:
            log.exception("namespace=%s sid=%s: disconnect hook failed", self.namespace, sid)
        finally:
            await self._forget(sid)

    async def _forget(self, sid: str) -> None:
        eio_sid = self._connections.pop(sid, None)
        if eio_sid is not None:
            self.server.edge.namespace_left(eio_sid)
        if self._identities.pop(sid, None) is not None:
            self._connections_metric.dec()
            if self.presence_key:
                await self.presence.leave(self.presence_key)

    async def _dispatch(self, sid: str, event: Any, payload_args: tuple[Any, ...]) -> dict[str, Any]:
        started = time.perf_counter()
        ack = await self._answer(sid, event, payload_args)
        self._measure(event, ack, time.perf_counter() - started)
        return ack

    def _measure(self, event: Any, ack: dict[str, Any], seconds: float) -> None:
        name = event if isinstance(event, str) and event in self.schemas else UNKNOWN_EVENT_BUCKET
        result = "ok" if ack["ok"] else ack["error"]["code"]
        counter = self._event_metrics.get((name, result))
        if counter is None:
            counter = metrics.EVENTS.labels(self.namespace, name, result)
            self._event_metrics[(name, result)] = counter
        counter.inc()
        histogram = self._ack_metrics.get(name)
        if histogram is None:
            histogram = self._ack_metrics[name] = metrics.ACK_SECONDS.labels(self.namespace, name)
        histogram.observe(seconds)

    async def _answer(self, sid: str, event: Any, payload_args: tuple[Any, ...]) -> dict[str, Any]:
        identity = self._identities.get(sid)
        if identity is None:  # not (or no longer) connected here
            return error_ack(INTERNAL, "connection is not registered")
        known = isinstance(event, str) and event in self.schemas and event not in RESERVED_EVENTS
        limit_name = event if known else UNKNOWN_EVENT_BUCKET
        limit = self.rate_limits.get(limit_name, DEFAULT_RATE_LIMIT)
        wait = self.server.edge.check_event(
            eio_sid=self._connections[sid], identity=identity,
            event=f"{self.namespace}:{limit_name}", limit=limit,
        )
        if wait:
            return error_ack(RATE_LIMITED, "too many requests, slow down", retry_after=wait)
        if not known:
            return error_ack(UNKNOWN_EVENT, f"unknown event {str(event)[:40]!r}")
        if len(payload_args) != 1 or not isinstance(payload_args[0], dict):
            return error_ack(INVALID, "the payload must be exactly one JSON object")
        try:
            payload = self.schemas[event].model_validate(payload_args[0])
        except ValidationError as exc:
            return error_ack(INVALID, describe_validation_error(exc))
        try:
            data = await getattr(self, "on_" + event)(sid, payload)
        except RealtimeError as exc:
            return exc.to_ack()
        except Exception:
            log.exception("namespace=%s event=%s sid=%s: handler failed", self.namespace, event, sid)
            return error_ack(INTERNAL, "internal error; it has been logged")
        return ok_ack(data)
