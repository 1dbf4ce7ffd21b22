"""The edge: what a hostile client meets first, at the Engine.IO connection.

The site is opened by an anonymous crowd, so some client will misbehave on
purpose. Everything here is keyed by what a client cannot renew for free: the
Engine.IO connection (one TCP connection for WebSocket), the browser session,
and, for cookie-less clients only, their address. Nothing is keyed by a
namespace sid alone, which a client renews by re-sending a namespace CONNECT.

- Event rate limits (`check_event`): a bucket per Engine.IO connection and
  event, plus a shared one per session (browsers) or per address (cookie-less
  clients). Leaving and rejoining a namespace does not refill them: buckets
  live until the Engine.IO connection closes (session and address buckets
  until they have refilled, see `RateLimiter.prune`).
- A client that keeps flooding after `rate_limited`, or keeps sending
  malformed packets, loses its whole Engine.IO connection (`abort`), not only
  the namespace.
- Namespace CONNECT packets are limited per Engine.IO connection; an Engine.IO
  connection that has no namespace for `namespace_join_timeout` is closed.
- New Engine.IO connections without a session cookie are limited per address
  (`SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS`); browsers with a session are not.
- Outgoing data is bounded per connection (`SendQueue`): over the cap, or
  queued data not drained for `send_stall_seconds` (WebSocket) or the ping
  timeout (long-polling), and the connection is aborted: its transport is
  closed at once, not after the data it never reads.
- Binary messages and Socket.IO attachments are refused by closing the
  connection: the protocol is JSON only.
- Malformed packets are logged at most once per connection per minute, as one
  line with the connection's public id, never one traceback per packet.

`EdgeAsyncServer` plugs this into python-socketio. python-socketio has no
public hook for raw packets or the Engine.IO connection, so it overrides the
three `_handle_eio_*` methods (the documented way engine.io events reach
socketio) and engine.io's public `create_queue` and `start_background_task`
(a connection's heartbeat task ends with it), and installs reader.py's
WebSocket loop on each new connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

import engineio
from engineio import async_socket as eio_async_socket
from django.conf import settings

from . import reader
from .broadcast import FastAsyncServer
from .identity import Identity, public_id_for, session_key_from_environ
from .ratelimit import RateLimit, RateLimiter, StrikeCounter, TokenBucket

log = logging.getLogger("votemap_site.realtime.edge")

# A misbehaving connection or address is described in the log at most this often.
LOG_INTERVAL_SECONDS = 60.0
# How often the sweep looks for stalled and namespace-less connections, and
# how often it frees refilled session and address buckets.
SWEEP_SECONDS = 1.0
PRUNE_SECONDS = 10.0
# An expelled client's queued answers get this long to reach it, and its
# transport this long to close cleanly before it is aborted.
EXPEL_FLUSH_SECONDS = 0.2
EXPEL_SECONDS = 2.0
# Attribute set on an engine.io socket while it is served over WebSocket: the
# ASGI server's protocol object (its `transport`), so that a connection can be
# aborted without waiting for data the client never reads. (ASGI has no
# "abort"; uvicorn's protocol objects carry the asyncio transport.)
WS_PROTOCOL_ATTR = "_votemap_ws_protocol"
# Attribute set on an engine.io socket: its heartbeat task (`EdgeEngineIOServer`).
PING_TASK_ATTR = "_votemap_ping_task"
# Engine.IO packet types a client sends: CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP.
CLIENT_ENGINEIO_TYPES = frozenset("123456")


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """The numbers, from settings (documented in .env.example and docs/protocol.md)."""

    max_queued_packets: int
    max_queued_bytes: int
    send_stall_seconds: float
    polling_stall_seconds: float
    namespace_join_timeout: float
    namespace_connects: RateLimit
    new_connections_per_address: float  # per second; 0 turns the ceiling off
    session_multiplier: float
    address_multiplier: float  # 0: no shared bucket for cookie-less clients
    flood_strikes: int
    flood_window: float

    @classmethod
    def from_settings(cls) -> EdgeLimits:
        per_address = settings.SOCKETIO_MAX_NEW_CONNECTIONS_PER_ADDRESS
        return cls(
            max_queued_packets=settings.SOCKETIO_MAX_QUEUED_PACKETS,
            max_queued_bytes=settings.SOCKETIO_MAX_QUEUED_BYTES,
            send_stall_seconds=settings.SOCKETIO_SEND_STALL_SECONDS,
            polling_stall_seconds=float(settings.SOCKETIO_PING_TIMEOUT),
            namespace_join_timeout=settings.SOCKETIO_NAMESPACE_JOIN_TIMEOUT,
            namespace_connects=RateLimit(
                per_second=settings.SOCKETIO_NAMESPACE_CONNECT_RATE,
                burst=settings.SOCKETIO_NAMESPACE_CONNECT_BURST,
            ),
            new_connections_per_address=per_address,
            session_multiplier=settings.RATE_LIMIT_SESSION_MULTIPLIER,
            address_multiplier=settings.RATE_LIMIT_ADDRESS_MULTIPLIER,
            flood_strikes=settings.RATE_LIMIT_FLOOD_STRIKES,
            flood_window=settings.RATE_LIMIT_FLOOD_WINDOW,
        )

    @property
    def address_connections(self) -> RateLimit | None:
        if self.new_connections_per_address <= 0:
            return None
        # A burst of twice the rate lets a room that scans the QR code in the
        # same second in, while a script still gets the rate on average.
        rate = self.new_connections_per_address
        return RateLimit(per_second=rate, burst=max(1, int(rate * 2)))


def packet_size(pkt: Any) -> int:
    """Approximate bytes of an engine.io packet waiting to be sent."""
    data = getattr(pkt, "data", None)
    if isinstance(data, (str, bytes, bytearray)):
        return len(data) + 1
    return 16  # PING, NOOP, CLOSE, or a small dict (OPEN)


class SendQueue(asyncio.Queue):
    """engine.io's per-connection outgoing queue, bounded in packets and bytes.

    engine.io's own queue is unbounded: with a client that does not read,
    every reply waits in memory for ever. Here a packet that would cross a cap
    is dropped and `on_overflow` is called once (the edge aborts the
    connection). engine.io's `None` sentinel (stop the writer) always passes.
    `waiting_since` is when the oldest undelivered data started waiting; the
    sweep aborts connections whose data waits too long.
    """

    def __init__(self, *, max_packets: int, max_bytes: int) -> None:
        super().__init__()
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.bytes = 0
        self.overflowed = False
        self.on_overflow: Any = None
        self.waiting_since = 0.0
        # Callers waiting in `get()` (engine.io's writer task, or a long-polling
        # GET): while one waits and nothing is queued, every packet this queue
        # handed out has been written, so broadcast.py may write a frame
        # directly without overtaking one (read once per recipient of every
        # broadcast, hence a counter rather than a look at asyncio's getters).
        self.getters_waiting = 0

    def put_nowait(self, item: Any) -> None:
        if item is None:
            super().put_nowait(item)
            return
        if self.overflowed:
            return  # the connection is being closed: nothing more is kept for it
        size = packet_size(item)
        if self.qsize() >= self.max_packets or self.bytes + size > self.max_bytes:
            self.overflowed = True
            if self.on_overflow is not None:
                self.on_overflow()
            return
        if not self.qsize():
            self.waiting_since = time.monotonic()
        self.bytes += size
        super().put_nowait(item)

    async def get(self) -> Any:
        self.getters_waiting += 1
        try:
            return await super().get()
        finally:
            self.getters_waiting -= 1

    def _get(self) -> Any:  # asyncio.Queue's hook, used by get() and get_nowait()
        item = super()._get()
        if item is not None:
            self.bytes = max(0, self.bytes - packet_size(item))
        self.waiting_since = time.monotonic()
        return item

    def stalled(self, *, now: float, limit: float) -> bool:
        return self.qsize() > 0 and now - self.waiting_since > limit


@dataclass(slots=True)
class EdgeConnection:
    """What the edge knows of one Engine.IO connection (a few hundred bytes)."""

    eio_sid: str
    public_id: str
    address: str
    has_cookie: bool
    connects: TokenBucket
    strikes: StrikeCounter
    namespaces: int = 0
    without_namespace_since: float = 0.0
    address_charged: bool = False
    closing: bool = False
    unlogged: int = 0
    logged_at: float | None = None


def client_address(environ: dict[str, Any]) -> str:
    """The peer address as the ASGI server reports it (behind a proxy, uvicorn's
    --proxy-headers with --forwarded-allow-ips makes this the client's)."""
    client = (environ.get("asgi.scope") or {}).get("client")
    if client:
        return str(client[0])
    return str(environ.get("REMOTE_ADDR", "?"))


def _transport_of(sock: Any) -> Any:
    """The asyncio transport under an engine.io socket served over WebSocket, if known."""
    return getattr(getattr(sock, WS_PROTOCOL_ATTR, None), "transport", None)


class EdgeGuard:
    def __init__(self, server: EdgeAsyncServer, limits: EdgeLimits) -> None:
        self.server = server
        self.limits = limits
        self.limiter = RateLimiter()
        self.connections: dict[str, EdgeConnection] = {}
        self._addresses = RateLimiter()  # new cookie-less connections per address
        self._address_logged: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.aborted = 0  # connections closed by the edge (for /healthz and tests)

    # ----- lifecycle --------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sweep_forever(), name="edge-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # ----- Engine.IO connections ---------------------------------------------
    def opened(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        """A new Engine.IO connection; False refuses it (the per-address ceiling)."""
        now = time.monotonic()
        address = client_address(environ)
        has_cookie = session_key_from_environ(environ) is not None
        conn = EdgeConnection(
            eio_sid=eio_sid,
            public_id=public_id_for("c:" + eio_sid),
            address=address,
            has_cookie=has_cookie,
            connects=TokenBucket.full(self.limits.namespace_connects, now),
            strikes=StrikeCounter(strikes=self.limits.flood_strikes, window=self.limits.flood_window),
            without_namespace_since=now,
        )
        if not has_cookie:
            if not self._charge_address(address, now):
                return False
            conn.address_charged = True
        self.connections[eio_sid] = conn
        sock = self.server.eio.sockets.get(eio_sid)
        if sock is not None:
            if isinstance(sock.queue, SendQueue):
                sock.queue.on_overflow = lambda: self.abort(
                    eio_sid, "too much unsent data (the client is not reading)")
            # engine.io logs a traceback for every long-polling body it cannot
            # decode; it has no hook for this, so the socket's handler is wrapped.
            sock.handle_post_request = functools.partial(self._guarded_post, sock, sock.handle_post_request)
        return True

    async def _guarded_post(self, sock: Any, handle: Any, environ: dict[str, Any]) -> None:
        try:
            await handle(environ)
        except engineio.exceptions.EngineIOError:
            raise  # engine.io's own refusals (too long, unknown packet): it answers 400
        except Exception as exc:
            self.misbehaved(sock.sid, f"malformed long-polling payload ({type(exc).__name__})")

    def check_engineio_frame(self, eio_sid: str | None, data: Any) -> bool:
        """A WebSocket message before engine.io decodes it: True to let it through.

        A client only ever sends CLOSE, PING (the upgrade probe), PONG, MESSAGE,
        UPGRADE and NOOP, as text. Anything else would make engine.io raise
        (one traceback per frame) or take it as binary data."""
        if isinstance(data, str) and data[:1] in CLIENT_ENGINEIO_TYPES:
            return True
        if eio_sid is None:
            return False
        if isinstance(data, (bytes, bytearray)) or (isinstance(data, str) and data.startswith("b")):
            self.abort(eio_sid, "sent a binary message (the protocol is JSON only)")
        else:
            self.misbehaved(eio_sid, f"malformed Engine.IO packet {str(data)[:12]!r}")
        return False

    def closed(self, eio_sid: str) -> None:
        self.connections.pop(eio_sid, None)
        self.limiter.forget(eio_sid)
        sock = self.server.eio.sockets.get(eio_sid)
        ping = getattr(sock, PING_TASK_ATTR, None)
        if ping is not None:
            setattr(sock, PING_TASK_ATTR, None)
            ping.cancel()

    def namespace_joined(self, eio_sid: str) -> None:
        conn = self.connections.get(eio_sid)
        if conn is not None:
            conn.namespaces += 1

    def namespace_left(self, eio_sid: str) -> None:
        conn = self.connections.get(eio_sid)
        if conn is not None:
            conn.namespaces = max(0, conn.namespaces - 1)
            if conn.namespaces == 0:
                conn.without_namespace_since = time.monotonic()

    def allow_namespace_connect(self, eio_sid: str) -> bool:
        conn = self.connections.get(eio_sid)
        return conn is not None and conn.connects.take(time.monotonic()) == 0.0

    def admit_anonymous(self, eio_sid: str) -> bool:
        """A connection whose cookie named no session is cookie-less after all:
        charge its address once (a forged cookie must not bypass the ceiling)."""
        conn = self.connections.get(eio_sid)
        if conn is None:
            return False
        if conn.address_charged:
            return True
        conn.address_charged = True
        if self._charge_address(conn.address, time.monotonic()):
            return True
        self.expel(eio_sid, "too many new connections from this address")
        return False

    def _charge_address(self, address: str, now: float) -> bool:
        limit = self.limits.address_connections
        if limit is None:
            return True
        if self._addresses.check(key=address, event="connect", limit=limit, now=now) == 0.0:
            return True
        last = self._address_logged.get(address)
        if last is None or now - last >= LOG_INTERVAL_SECONDS:
            self._address_logged[address] = now
            log.warning("address %s: new connection refused, over %s per second",
                        address, self.limits.new_connections_per_address)
        return False

    # ----- events -----------------------------------------------------------------
    def check_event(self, *, eio_sid: str, identity: Identity, event: str, limit: RateLimit) -> float:
        """0.0 when the event may run, else seconds until it may (and a strike)."""
        conn = self.connections.get(eio_sid)
        if identity.session_key is not None:
            shared_key, multiplier = "s:" + identity.session_key, self.limits.session_multiplier
        elif conn is not None and self.limits.address_multiplier > 0:
            shared_key, multiplier = "a:" + conn.address, self.limits.address_multiplier
        else:
            shared_key, multiplier = None, 1.0
        now = time.monotonic()
        wait = self.limiter.check_all(
            conn_key=eio_sid, shared_key=shared_key, shared_multiplier=multiplier,
            event=event, limit=limit, now=now,
        )
        if wait and conn is not None and conn.strikes.add(now):
            self.expel(eio_sid, "kept sending after rate_limited")
        return wait

    def misbehaved(self, eio_sid: str, what: str) -> None:
        """A packet the protocol does not allow: logged once a minute, and a strike."""
        conn = self.connections.get(eio_sid)
        if conn is None or conn.closing:
            return
        now = time.monotonic()
        conn.unlogged += 1
        if conn.logged_at is None or now - conn.logged_at >= LOG_INTERVAL_SECONDS:
            log.warning("connection %s (%s): %s (%d such packets since the last line)",
                        conn.public_id, conn.address, what, conn.unlogged)
            conn.logged_at = now
            conn.unlogged = 0
        if conn.strikes.add(now):
            self.expel(eio_sid, "kept sending malformed packets")

    # ----- closing ------------------------------------------------------------------
    def abort(self, eio_sid: str, why: str) -> None:
        """Close the whole Engine.IO connection now, without waiting for unsent data
        (for a client that does not read, or sends what the protocol never uses)."""
        sock = self._start_closing(eio_sid, why)
        if sock is None:
            return
        transport = _transport_of(sock)
        if transport is not None and not transport.is_closing():
            # asyncio's abort(): the socket closes now and its buffers are freed;
            # close() would wait until the data the client never reads is sent.
            transport.abort()
        self.server.start_background_task(self._close_socket, sock)

    def expel(self, eio_sid: str, why: str) -> None:
        """Close the whole Engine.IO connection of a client that reads but sends too
        much: nothing more it sends is handled, what was already answered (its
        `rate_limited` acks) is still delivered, then the transport is closed, and
        aborted if that has not happened within EXPEL_SECONDS."""
        sock = self._start_closing(eio_sid, why)
        if sock is not None:
            self.server.start_background_task(self._expel_socket, sock)

    def _start_closing(self, eio_sid: str, why: str) -> Any:
        conn = self.connections.get(eio_sid)
        if conn is not None:
            if conn.closing:
                return None
            conn.closing = True
            log.warning("connection %s (%s) closed: %s", conn.public_id, conn.address, why)
        sock = self.server.eio.sockets.get(eio_sid)
        if sock is not None:
            self.aborted += 1
        return sock

    async def _expel_socket(self, sock: Any) -> None:
        await asyncio.sleep(EXPEL_FLUSH_SECONDS)  # engine.io's writer sends what is queued
        transport = _transport_of(sock)
        if transport is not None and not transport.is_closing():
            transport.close()  # flushes asyncio's buffer, then FIN
        await self._close_socket(sock)
        if transport is not None:
            await asyncio.sleep(EXPEL_SECONDS)
            transport.abort()  # a no-op once closed; frees a client that stopped reading

    async def _close_socket(self, sock: Any) -> None:
        try:
            await sock.close(wait=False, abort=True, reason=self.server.eio.reason.SERVER_DISCONNECT)
        except Exception:
            log.exception("closing connection %s failed", sock.sid)
        finally:
            sock.queue.put_nowait(None)  # release a long-polling GET waiting on it
            self.server.eio.sockets.pop(sock.sid, None)

    # ----- the sweep ------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        next_prune = time.monotonic() + PRUNE_SECONDS
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            try:
                self.sweep(now=now)
                if now >= next_prune:
                    next_prune = now + PRUNE_SECONDS
                    self.prune(now=now)
            except Exception:
                log.exception("edge sweep failed")

    def sweep(self, *, now: float) -> None:
        limits = self.limits
        sockets = self.server.eio.sockets
        for eio_sid, conn in list(self.connections.items()):
            if conn.closing:
                continue
            sock = sockets.get(eio_sid)
            if sock is None:
                continue
            queue = sock.queue
            if isinstance(queue, SendQueue):
                limit = limits.send_stall_seconds if sock.upgraded else limits.polling_stall_seconds
                if queue.stalled(now=now, limit=limit):
                    self.abort(eio_sid, f"did not read what it was sent for {limit:g} s")
                    continue
            if conn.namespaces == 0 and now - conn.without_namespace_since > limits.namespace_join_timeout:
                self.abort(eio_sid, f"no namespace joined within {limits.namespace_join_timeout:g} s")

    def prune(self, *, now: float) -> None:
        self.limiter.prune(now=now)
        self._addresses.prune(now=now)
        for address in [a for a, t in self._address_logged.items() if now - t >= LOG_INTERVAL_SECONDS]:
            del self._address_logged[address]


class EdgeEngineIOServer(engineio.AsyncServer):
    """engine.io's server with bounded outgoing queues, and heartbeats that end
    with their connection."""

    send_queue_limits: tuple[int, int] = (1024, 1 << 20)

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        task = super().start_background_task(target, *args, **kwargs)
        # engine.io's heartbeat is one task per connection that sleeps for the
        # ping interval (25 s) and only then sees that its connection closed;
        # meanwhile it keeps the whole socket alive (its queues, events and
        # timer, ~8 KiB). A client reconnecting in a loop thus grew the server
        # by its reconnect rate times 25 s of dead connections. The task is
        # remembered on its socket so that `EdgeGuard.closed` can cancel it.
        sock = getattr(target, "__self__", None)
        if isinstance(sock, eio_async_socket.AsyncSocket) and getattr(target, "__name__", "") == "_send_ping":
            setattr(sock, PING_TASK_ATTR, task)
        return task

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue:
        if args or kwargs:  # not a socket's outgoing queue
            return super().create_queue(*args, **kwargs)
        packets, size = self.send_queue_limits
        return SendQueue(max_packets=packets, max_bytes=size)


def _edge_websocket_class(base: type, edge: EdgeGuard) -> type:
    """engine.io's ASGI WebSocket wrapper, checking each message before engine.io decodes it."""

    class EdgeWebSocket(base):  # type: ignore[misc, valid-type]
        async def __call__(self, environ: dict[str, Any]) -> Any:
            sock = getattr(self.handler, "__self__", None)
            if sock is not None:
                setattr(sock, WS_PROTOCOL_ATTR, getattr(environ.get("asgi.send"), "__self__", None))
            try:
                return await super().__call__(environ)
            finally:
                if sock is not None:
                    setattr(sock, WS_PROTOCOL_ATTR, None)

        async def wait(self) -> Any:
            sock = getattr(self.handler, "__self__", None)  # engine.io passes a bound method
            while True:
                data = await super().wait()  # OSError once the connection is gone
                if edge.check_engineio_frame(getattr(sock, "sid", None), data):
                    return data

    return EdgeWebSocket


class EdgeAsyncServer(FastAsyncServer):
    """The site's AsyncServer: python-socketio's, behind the edge."""

    def __init__(self, *args: Any, edge_limits: EdgeLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eio.send_queue_limits = (edge_limits.max_queued_packets, edge_limits.max_queued_bytes)
        self.edge = EdgeGuard(self, edge_limits)
        # WebSocket messages read without a task and a timer each (reader.py).
        self.lean_reader = reader.reader_usable()
        drivers = self.eio._async  # engine.io's driver table (per server: broadcast.py copied it)
        if drivers.get("websocket") is not None:
            self.eio._async = {**drivers, "websocket": _edge_websocket_class(drivers["websocket"], self.edge)}

    def _engineio_server_class(self) -> type:
        return EdgeEngineIOServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        if not self.edge.opened(eio_sid, environ):
            return False  # engine.io answers 401 (or closes the WebSocket)
        if self.lean_reader:
            sock = self.eio.sockets.get(eio_sid)
            if sock is not None:  # before engine.io serves (or later upgrades to) its WebSocket
                reader.install(sock)
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        edge = self.edge
        conn = edge.connections.get(eio_sid)
        if conn is None or conn.closing:
            return
        if not isinstance(data, str):
            edge.abort(eio_sid, "sent a binary message (the protocol is JSON only)")
            return
        kind = data[:1]
        if kind in ("5", "6"):  # BINARY_EVENT, BINARY_ACK: attachments would follow
            edge.abort(eio_sid, "sent a packet with binary attachments (the protocol is JSON only)")
            return
        if kind == "0" and not edge.allow_namespace_connect(eio_sid):
            edge.expel(eio_sid, "too many namespace connects")
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:  # a packet python-socketio cannot decode or dispatch
            edge.misbehaved(eio_sid, f"malformed packet ({type(exc).__name__}: {str(exc)[:80]})")

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            self.edge.closed(eio_sid)


def edge_of(server: Any) -> EdgeGuard | None:
    return getattr(server, "edge", None)


__all__ = ["EdgeAsyncServer", "EdgeGuard", "EdgeLimits", "SendQueue", "client_address", "edge_of"]
