"""A broadcast path that costs one encode per emit and almost nothing per recipient.

python-socketio's stock `AsyncManager.emit` encodes the packet once but then
creates one asyncio task per recipient (`_send_eio_packet` -> engine.io
`send_packet` -> `socket.send` -> `queue.put`), and each recipient's engine.io
writer task then frames the same text again. With 1,000 viewers one emit costs
tens of milliseconds and the last viewer waits longest.

The client managers here keep python-socketio's semantics (rooms, `to=`,
`skip_sid`, namespaces, `ignore_queue`, the Redis fan-out, callbacks) and
change only how a packet without a callback or binary data reaches local
clients:

1. The Socket.IO packet is encoded once, wrapped in one Engine.IO MESSAGE
   packet (whose encoding engine.io caches), and, for WebSocket recipients,
   framed once as an unmasked RFC 6455 text frame: server-to-client frames are
   byte-identical for every recipient (socket.io's engine.io does the same with
   its pre-encoded WebSocket frames).
2. Recipients are walked in one plain loop, with no task per recipient:
   - a WebSocket connection served by uvicorn's `websockets-sansio` protocol
     whose engine.io writer is idle (its queue is empty and the writer waits on
     it) and whose transport accepts writes gets the pre-built frame written to
     its transport directly; order is kept because nothing is queued before it;
   - every other connection (long-polling, a busy writer, a paused transport,
     another WebSocket implementation, compression negotiated) gets the shared
     Engine.IO packet with `queue.put_nowait`, exactly what `socket.send`
     would have queued.
3. Emits with a callback, or with binary data, use the stock code unchanged.
4. A `SharedPayload` (data sent unchanged to many connections one at a time,
   like the map's connect-time snapshot during a join storm) is encoded and
   framed on its first emit and the same bytes are reused for every later
   emit of the same object (`JsonFragment` values are spliced in as they are);
   only for managers that understand it (`reuses_encodings`), and unwrapped
   before any of python-socketio's own code sees it.

The Redis and RabbitMQ variants publish like `AsyncRedisManager` and
`AsyncAioPikaManager` and deliver locally (for their own emits and for those
received from other workers) through the same path.

Three delivery paths, chosen by SOCKETIO_BROADCAST_PATH (`choose_path`):

- `direct` (default): the above. It reads private attributes of uvicorn,
  websockets, engine.io and asyncio, so it runs only with the library
  versions it was tested with (TESTED_VERSIONS); otherwise `loop` is used.
  Any unexpected error while delivering turns it off for the process, with
  one warning, and the remaining recipients are served by `loop`.
- `loop`: the same single encode and task-free walk over the recipients, with
  python-socketio's and engine.io's public API only (`get_participants`,
  `AsyncServer.send_packet`).
- `stock`: python-socketio's managers unchanged (server.py).

The path in use and why are logged once at start-up and shown on /healthz,
with the reasons (if any) why some connections could not take direct frames.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import struct
import time
from collections.abc import Iterable
from importlib import metadata
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from votemap_site.metrics import QUEUE_BREAKER_OPEN, QUEUE_PUBLISH_FAILURES

from .breaker import CircuitBreaker

log = logging.getLogger("votemap_site.realtime")

__all__ = [
    "BROADCAST_PATHS", "TESTED_VERSIONS", "FastAsyncAioPikaManager", "FastAsyncManager",
    "FastAsyncRedisManager", "FastAsyncServer", "FrameCoalescer", "JsonFragment", "JsonPacket", "SharedPayload",
    "WireJson",
    "choose_path", "reuses_encodings", "websocket_text_frame",
]

BROADCAST_PATHS = ("direct", "loop", "stock")
# The direct path reads private attributes of these libraries; it runs only
# with the versions it was tested with (update after testing an upgrade:
# tests/core/test_broadcast.py, bench/).
TESTED_VERSIONS = {
    "uvicorn": "0.54.0",
    "websockets": "17.4",
    "python-engineio": "4.15.1",
    "python-socketio": "5.18.1",
}


def untested_versions() -> dict[str, str]:
    """Installed versions that differ from TESTED_VERSIONS: {name: installed}."""
    found = {}
    for name, tested in TESTED_VERSIONS.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != tested:
            found[name] = installed
    return found


def choose_path(requested: str) -> tuple[str, str]:
    """(path, why) for the setting's value."""
    if requested not in BROADCAST_PATHS:
        raise ValueError(f"SOCKETIO_BROADCAST_PATH must be one of {BROADCAST_PATHS}, not {requested!r}")
    if requested != "direct":
        return requested, f"SOCKETIO_BROADCAST_PATH={requested}"
    if _SANSIO_PROTOCOL is None:
        return "loop", "direct frames need uvicorn's websockets-sansio protocol, which is not importable"
    untested = untested_versions()
    if untested:
        listed = ", ".join(f"{name} {version} (tested: {TESTED_VERSIONS[name]})" for name, version in untested.items())
        return "loop", f"direct frames are tested with other library versions: {listed}"
    return "direct", "SOCKETIO_BROADCAST_PATH=direct with the tested library versions"


# Why some WebSocket connections could not take direct frames (logged once each).
_degraded_seen: set[str] = set()


def note_degraded(reason: str) -> None:
    if reason not in _degraded_seen:
        _degraded_seen.add(reason)
        log.warning("broadcast: some connections get engine.io's queue instead of direct frames: %s", reason)


def degraded_reasons() -> list[str]:
    return sorted(_degraded_seen)


def websocket_text_frame(text: str) -> bytes:
    """One final, unmasked RFC 6455 text frame (what a server sends) carrying `text`."""
    body = text.encode("utf-8")
    length = len(body)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + body


class JsonFragment:
    """A value of a SharedPayload's top-level dict that is already JSON, encoded
    exactly as python-socketio would (`json.dumps(value, separators=(",", ":"))`):
    a large part that stays the same while the rest changes (the map's provinces,
    the same for every connection until the next vote)."""

    __slots__ = ("text",)

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value, separators=(",", ":"))


class SharedPayload:
    """Event data emitted, unchanged, to many connections one at a time.

    The client managers here encode it (one Socket.IO EVENT packet) and frame
    it (one WebSocket text frame) on its first emit and reuse both for every
    later emit of the same object with the same event and namespace. `data`
    may be a dict with JsonFragment values, spliced in as they are: a join
    storm's snapshots then cost one JSON encoding of the provinces per
    version, not one per connection. The bytes are those python-socketio
    would send for the plain data (`plain()`). `data` must not change after
    the first emit.
    """

    __slots__ = ("data", "_key", "_encoded", "_frame")

    def __init__(self, data: Any) -> None:
        self.data = data
        self._key: tuple[str, str] | None = None
        self._encoded: Any = None
        self._frame: bytes | None = None

    def plain(self) -> Any:
        """The data with its fragments decoded (what python-socketio's own code is given)."""
        if isinstance(self.data, dict) and any(isinstance(v, JsonFragment) for v in self.data.values()):
            return {k: json.loads(v.text) if isinstance(v, JsonFragment) else v for k, v in self.data.items()}
        return self.data

    def encoded(self, packet_class: Any, namespace: str, event: str) -> Any:
        """The Socket.IO encoding python-socketio would produce for this emit."""
        key = (namespace, event)
        if self._key != key:
            data = self.data
            if isinstance(data, dict) and any(isinstance(v, JsonFragment) for v in data.values()):
                # python-socketio's Packet.encode: type, "namespace,", then the compact JSON
                # of [event, data]; a dict's JSON is its items in order, so the fragments
                # can be spliced in.
                dumps = functools.partial(json.dumps, separators=(",", ":"))
                body = ",".join(f"{dumps(str(k))}:{v.text if isinstance(v, JsonFragment) else dumps(v)}"
                                for k, v in data.items())
                prefix = packet_class(sio_packet.EVENT, namespace=namespace, data=None).encode()
                self._encoded = f"{prefix}[{dumps(event)},{{{body}}}]"
            else:
                pkt = packet_class(sio_packet.EVENT, namespace=namespace, data=[event, data])
                self._encoded = pkt.encode()
            self._frame, self._key = None, key
        return self._encoded

    def frame(self, eio_pkt: Any) -> bytes:
        """The WebSocket frame of `eio_pkt` (the Engine.IO MESSAGE of `encoded`), built once."""
        if self._frame is None:
            self._frame = websocket_text_frame(eio_pkt.encode())
        return self._frame


def plain(data: Any) -> Any:
    """What python-socketio's own code may be given: a SharedPayload's plain data."""
    return data.plain() if isinstance(data, SharedPayload) else data


def reuses_encodings(manager: Any) -> bool:
    """Whether `manager` takes SharedPayload data (the managers here; not python-socketio's own)."""
    return isinstance(manager, _FastEmitMixin)


# ----- direct WebSocket writes ------------------------------------------------
_SANSIO_PROTOCOL: type | None
try:  # uvicorn's sans-I/O WebSocket protocol (`--ws websockets-sansio`)
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _SANSIO_PROTOCOL,
    )
    from websockets.protocol import State as _WsState

    _WS_OPEN = _WsState.OPEN
except Exception:  # pragma: no cover - another server or version
    _SANSIO_PROTOCOL = None
    _WS_OPEN = None

# Attribute set on an engine.io socket while its WebSocket is served by a
# protocol we can write pre-built frames to.
_DIRECT_ATTR = "_votemap_direct_ws"


def _direct_websocket_class(base: type) -> type:
    """An engine.io ASGI WebSocket wrapper that remembers uvicorn's protocol object."""

    class DirectWebSocket(base):  # type: ignore[misc, valid-type]
        def __init__(self, handler: Any, server: Any) -> None:
            super().__init__(handler, server)
            # engine.io passes the socket's bound `_websocket_handler`
            self._eio_socket = getattr(handler, "__self__", None)

        async def __call__(self, environ: dict[str, Any]) -> Any:
            sock = self._eio_socket
            protocol = getattr(environ.get("asgi.send"), "__self__", None)
            usable = (
                sock is not None
                and _SANSIO_PROTOCOL is not None
                and type(protocol) is _SANSIO_PROTOCOL
            )
            if usable:
                setattr(sock, _DIRECT_ATTR, protocol)
            elif sock is not None:
                note_degraded(
                    f"the WebSocket is served by {type(protocol).__name__ if protocol else 'an unknown object'}"
                    ", not uvicorn's websockets-sansio protocol (another --ws, a server other than uvicorn,"
                    " or middleware wrapping send)")
            try:
                return await super().__call__(environ)
            finally:
                if usable:
                    setattr(sock, _DIRECT_ATTR, None)
                    setattr(sock, _ROUTE_ATTR, None)

    return DirectWebSocket


def _install_direct_websocket(server: Any) -> None:
    eio = getattr(server, "eio", None)
    drivers = getattr(eio, "_async", None)
    if getattr(eio, "async_mode", None) != "asgi" or not isinstance(drivers, dict):
        return
    base = drivers.get("websocket")
    if base is None or getattr(base, "_votemap_direct", False):
        return
    direct = _direct_websocket_class(base)
    direct._votemap_direct = True
    # A per-server copy: engine.io's driver table is module-level.
    eio._async = {**drivers, "websocket": direct}


def _writer_idle(queue: asyncio.Queue) -> bool:
    """Nothing queued and the engine.io writer task waiting for the next packet."""
    try:  # the edge's SendQueue (edge.py) counts its waiting getters
        return queue.getters_waiting > 0 and not queue._queue  # type: ignore[attr-defined]
    except AttributeError:  # any other queue: asyncio's own list of getters
        pass
    if queue.qsize():
        return False
    getters = getattr(queue, "_getters", None)
    if not getters:
        return False
    for getter in getters:
        if not getter.done():
            return True
    return False


# Attribute set on an engine.io socket: what `_direct_target` checked once for
# its WebSocket (protocol, connection, transport, the protocol's `writable`
# event), so that a broadcast to thousands re-checks only what can change.
_ROUTE_ATTR = "_votemap_direct_route"


def _route_for(sock: Any, protocol: Any) -> tuple[Any, Any, Any, Any] | None:
    """The parts of `_direct_target`'s checks that do not change once they pass:
    the socket is upgraded, the handshake accepted, no extension negotiated."""
    if not sock.upgraded or sock.upgrading:
        return None
    if protocol.initial_response is not None or not protocol.handshake_complete:
        return None
    conn = protocol.conn
    if conn.extensions:
        note_degraded("permessage-deflate was negotiated (uvicorn's default; python -m votemap_site.serve turns it off)")
        return None
    transport = protocol.transport
    if transport is None:
        return None
    route = (protocol, conn, transport, protocol.writable)
    setattr(sock, _ROUTE_ATTR, route)
    return route


def _direct_target(sock: Any) -> Any:
    """The uvicorn protocol's transport to write a frame to, or None to use the queue.

    Called once per recipient of every broadcast, so the checks that cannot
    change once passed are made once per WebSocket (`_route_for`); what can
    change (closing, flow control, engine.io's writer busy) is checked on
    every call."""
    protocol = getattr(sock, _DIRECT_ATTR, None)
    if protocol is None:
        return None
    route = getattr(sock, _ROUTE_ATTR, None)
    if route is None or route[0] is not protocol:
        route = _route_for(sock, protocol)
        if route is None:
            return None
    _, conn, transport, writable = route
    if (sock.closing or protocol.close_sent or conn.state is not _WS_OPEN or not writable.is_set()
            or transport.is_closing()):
        return None
    if not _writer_idle(sock.queue):
        return None
    return transport


class FrameCoalescer:
    """Frames written to one transport within one event-loop iteration leave in ONE write.

    A group commit broadcasts its messages one emit after another without
    yielding, so each member would get one `transport.write` (one send()
    system call) per message. Here the first frame for a transport is kept
    and a flush is scheduled with `call_soon`; frames for the same transport
    before it runs are appended. The flush writes each transport's frames
    joined: the same bytes in the same order on the wire, no timer added (it
    is the next callback of the loop, ahead of any I/O handled after the
    frames were written), one system call per member per iteration. Every
    direct write of this process (broadcast frames and single packets such as
    acks) goes through it, so frames never
    overtake each other; anything engine.io's writer task writes runs in a
    later callback, after the flush (the writer is idle whenever a frame is
    written here: `_direct_target`). Memory: one iteration's frames.
    """

    __slots__ = ("_pending", "held", "writes", "frames")

    def __init__(self) -> None:
        self._pending: dict[Any, list[bytes]] = {}
        # engine.io socket -> its frames of this iteration (the same list as in
        # _pending), so a batch's later emits skip the checks of _direct_target.
        self.held: dict[Any, list[bytes]] = {}
        self.writes = 0  # transport.write calls (tests and benchmarks)
        self.frames = 0  # frames written

    def write(self, transport: Any, frame: bytes, *, sock: Any = None) -> None:
        pending = self._pending
        frames = pending.get(transport)
        if frames is not None:
            frames.append(frame)
            return
        if not pending:
            asyncio.get_running_loop().call_soon(self.flush)
        frames = pending[transport] = [frame]
        if sock is not None:
            self.held[sock] = frames

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        self.held = {}
        for transport, frames in pending.items():
            self.frames += len(frames)
            if transport.is_closing():
                continue  # closed meanwhile: what a direct write would have dropped too
            self.writes += 1
            transport.write(frames[0] if len(frames) == 1 else b"".join(frames))


class DeliveryStats:
    """Counters of how recipients were reached (read by tests and the benchmark)."""

    __slots__ = ("emits", "direct", "queued", "slow", "fallback")

    def __init__(self) -> None:
        self.emits = self.direct = self.queued = self.slow = self.fallback = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class _FastEmitMixin:
    """The local, task-free delivery shared by both managers."""

    server: Any
    stats: DeliveryStats

    def _fast_setup(self, path: str) -> None:
        if path not in ("direct", "loop"):
            raise ValueError(f"this manager delivers by 'direct' or 'loop', not {path!r}")
        self.stats = DeliveryStats()
        self.path = path
        self.frames = FrameCoalescer()

    def _fast_initialize(self) -> None:
        if self.path == "direct":
            _install_direct_websocket(self.server)

    def _disable_direct(self, exc: BaseException) -> None:
        """An unexpected error in the direct path: public API from now on, said once."""
        if self.path == "direct":
            self.path = "loop"
            self.server.direct_packets_enabled = False
            log.warning("broadcast: direct frames turned off for this process after %s: %s; "
                        "delivering through the public-API loop", type(exc).__name__, exc, exc_info=exc)

    def _participants(self, namespace: str, room: Any, skip_sid: Any) -> list[str]:
        """Recipients' engine.io ids, through python-socketio's public get_participants."""
        if isinstance(skip_sid, (list, tuple, set, frozenset)):
            skip = set(skip_sid)
        elif skip_sid is None:
            skip = set()
        else:
            skip = {skip_sid}
        return [eio_sid for sid, eio_sid in self.get_participants(namespace, room)  # type: ignore[attr-defined]
                if sid not in skip]

    async def _deliver_loop(self, eio_pkt: Any, targets: Iterable[str]) -> int:
        """One awaited engine.io `send_packet` per recipient: no task, public API only.
        (Sends never block: the edge's queues are unbounded up to their cap.)"""
        send = self.server.eio.send_packet
        sent = 0
        for eio_sid in targets:
            await send(eio_sid, eio_pkt)
            sent += 1
        return sent

    def _recipients(self, namespace: str, room: Any, skip_sid: Any) -> list[str]:
        rooms = self.rooms.get(namespace)  # type: ignore[attr-defined]
        if not rooms:
            return []
        if isinstance(skip_sid, (list, tuple, set, frozenset)):
            skip = set(skip_sid)
        elif skip_sid is None:
            skip = ()
        else:
            skip = (skip_sid,)
        if room is not None and not isinstance(room, str) and hasattr(room, "__len__"):
            merged: dict[str, str] = {}
            for name in room:
                members = rooms.get(name)
                if members:
                    merged.update(members._fwdm)
            items: Iterable[tuple[str, str]] = merged.items()
        else:
            members = rooms.get(room)
            if not members:
                return []
            if not skip:
                return list(members._fwdm.values())
            items = members._fwdm.items()
        if skip:
            return [eio_sid for sid, eio_sid in items if sid not in skip]
        return [eio_sid for _, eio_sid in items]

    async def _fast_local_emit(
        self, event: str, data: Any, namespace: str, room: Any, skip_sid: Any
    ) -> bool:
        """Deliver to this worker's clients. False when the packet needs the stock path."""
        namespace = namespace or "/"
        shared = data if isinstance(data, SharedPayload) else None
        if shared is not None:
            encoded = shared.encoded(self.server.packet_class, namespace, event)
        else:
            if isinstance(data, tuple):
                args = list(data)
            elif data is not None:
                args = [data]
            else:
                args = []
            pkt = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args])
            encoded = pkt.encode()
        if not isinstance(encoded, (str, bytes)):  # binary attachments: several packets
            return False
        self.stats.emits += 1
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        if self.path != "direct" or not isinstance(encoded, str):
            self.stats.queued += await self._deliver_loop(eio_pkt, self._participants(namespace, room, skip_sid))
            return True
        targets = self._recipients(namespace, room, skip_sid)
        if not targets:
            return True
        frame = shared.frame(eio_pkt) if shared is not None else websocket_text_frame(eio_pkt.encode())
        write = self.frames.write
        held = self.frames.held
        eio = self.server.eio
        sockets = eio.sockets
        ping_timeout = eio.ping_timeout
        now = time.time()
        slow: list[str] = []
        direct = queued = 0
        index = 0
        try:
            for index, eio_sid in enumerate(targets):  # noqa: B007 (index is read on error)
                sock = sockets.get(eio_sid)
                if sock is None or sock.closed:
                    continue  # gone: the stock path would only log and drop it
                frames = held.get(sock)
                if frames is not None and not sock.queue.qsize():
                    # Passed every check below earlier in this iteration, and nothing
                    # was queued for its writer since: behind the frames already held.
                    frames.append(frame)
                    direct += 1
                    continue
                last_ping = sock.last_ping
                if last_ping and now - last_ping > ping_timeout:
                    slow.append(eio_sid)  # let engine.io's send() notice the timeout and close it
                    continue
                transport = _direct_target(sock)
                if transport is not None:
                    write(transport, frame, sock=sock)
                    direct += 1
                else:
                    sock.queue.put_nowait(eio_pkt)
                    queued += 1
        except Exception as exc:  # a library changed under us: never a partial broadcast
            self._disable_direct(exc)
            queued += await self._deliver_loop(eio_pkt, targets[index:])
        self.stats.direct += direct
        self.stats.queued += queued
        if slow:
            self.stats.slow += len(slow)
            await self._deliver_loop(eio_pkt, slow)
        return True


class FastAsyncManager(_FastEmitMixin, socketio.AsyncManager):
    """In-memory client manager (one process) with the task-free broadcast."""

    def __init__(self, *, path: str = "direct") -> None:
        super().__init__()
        self._fast_setup(path)

    def initialize(self) -> None:
        super().initialize()
        self._fast_initialize()

    async def emit(self, event, data, namespace, room=None, skip_sid=None,
                   callback=None, to=None, **kwargs):
        room = to or room
        if callback is None and await self._fast_local_emit(event, data, namespace, room, skip_sid):
            return
        self.stats.fallback += 1
        await super().emit(event, plain(data), namespace, room=room, skip_sid=skip_sid,
                           callback=callback, **kwargs)


# ----- the message queue under faults ------------------------------------------
# python-socketio's publish retries once and then logs and drops the message,
# with no timeout of its own (a black-holed Redis or RabbitMQ holds every emit
# for the client library's timeouts, or for ever). Its Redis listener doubles
# its wait between reconnects up to 60 s; its RabbitMQ listener relies on
# aio-pika's robust connection (which did reconnect in tests/core/test_faults.py),
# but turns aio-pika's ChannelInvalidStateError into CancelledError, which
# would end the listening task for good. `_publish` and `_listen` are
# AsyncPubSubManager's documented hooks for subclasses; the managers below
# implement both again:
# - a publish is one attempt within `queue_timeout` seconds, behind a circuit
#   breaker (breaker.py): after a few failures publishes are skipped for a
#   while, so emits reach this process's own clients only, at no cost; a failed
#   or skipped publish counts in QUEUE_PUBLISH_FAILURES and the breaker's state
#   is QUEUE_BREAKER_OPEN;
# - the listener reconnects on any error after at most LISTEN_RETRY_MAX_SECONDS,
#   on a connection of its own (Redis: and PINGs a quiet connection so a black
#   hole is noticed), so cross-process delivery heals by itself.
LISTEN_RETRY_MIN_SECONDS = 0.2
LISTEN_RETRY_MAX_SECONDS = 2.0
LISTEN_POLL_SECONDS = 1.0
LISTEN_PING_SECONDS = 2.0
LISTEN_QUEUE_EXPIRES_MS = 60_000
AMQP_HEARTBEAT_SECONDS = 5


class _GuardedQueueMixin:
    """Publish with a timeout behind a breaker; reconnecting listeners (see above)."""

    channel: str
    host_id: str
    json: Any

    def __init__(self, *args: Any, queue_timeout: float = 0.5, breaker: CircuitBreaker | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue_timeout = queue_timeout
        self.breaker = breaker or CircuitBreaker(name=self.channel)
        self.breaker.on_change.append(self._breaker_changed)
        QUEUE_BREAKER_OPEN.labels(channel=self.channel).set(0)
        self._publisher: Any = None
        self._closing: set[asyncio.Task[Any]] = set()
        self._listen_retry = LISTEN_RETRY_MIN_SECONDS
        self.listener_reconnects = 0
        self.listener_up = False
        self._sleep = asyncio.sleep  # between reconnects; tests inject their own

    def _breaker_changed(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        QUEUE_BREAKER_OPEN.labels(channel=self.channel).set(0 if new == "closed" else 1)
        if new == "open":
            log.warning("message queue %s: publishing failed %s; emits reach this process's clients only "
                        "for now (retrying every %.1f s)", self.channel,
                        "again" if old == "half_open" else "repeatedly", breaker.reset_timeout)
        elif new == "closed":
            log.warning("message queue %s: publishing works again", self.channel)

    def _close_later(self, closing: Any) -> None:
        """Close a client in the background, bounded: closing a connection to a
        broker that does not answer must not hold the caller."""
        async def close() -> None:
            try:
                async with asyncio.timeout(self.queue_timeout * 4):
                    await closing
            except Exception:
                pass

        task = asyncio.ensure_future(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _send(self, body: str) -> None:
        raise NotImplementedError

    async def _drop_publisher(self) -> None:
        raise NotImplementedError

    async def _publish(self, data: Any) -> None:  # python-socketio's hook for sending
        if not self.breaker.allow():
            QUEUE_PUBLISH_FAILURES.labels(channel=self.channel).inc()
            return
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._send(self.json.dumps(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            QUEUE_PUBLISH_FAILURES.labels(channel=self.channel).inc()
            if self.breaker.is_closed:
                log.info("message queue %s: publish failed (%s: %s)", self.channel, type(exc).__name__, exc)
            await self._drop_publisher()
            self.breaker.record_failure()
            return
        self.breaker.record_success()

    def _listener_connected(self) -> None:
        if self.listener_reconnects and not self.listener_up:
            log.warning("message queue %s: receiving again", self.channel)
        self.listener_up = True
        self._listen_retry = LISTEN_RETRY_MIN_SECONDS

    async def _listener_lost(self, exc: BaseException) -> None:
        if self.listener_up:
            log.warning("message queue %s: receiving failed (%s: %s); reconnecting", self.channel,
                        type(exc).__name__, exc)
        self.listener_up = False
        self.listener_reconnects += 1
        await self._sleep(self._listen_retry)
        self._listen_retry = min(LISTEN_RETRY_MAX_SECONDS, self._listen_retry * 2)

    def status(self) -> dict[str, object]:
        """For /healthz."""
        return {"channel": self.channel, "breaker": self.breaker.status(), "receiving": self.listener_up,
                "listener_reconnects": self.listener_reconnects}

    async def close(self) -> None:
        """Stop listening and close the publisher (server shutdown)."""
        task = getattr(self, "thread", None)  # AsyncPubSubManager.initialize's listening task
        if task is not None and hasattr(task, "cancel"):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._drop_publisher()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


class _FastPubSubMixin(_FastEmitMixin):
    """For python-socketio's pub/sub managers (Redis, RabbitMQ): emits are
    published exactly as the stock manager does; each worker, the sender
    included, delivers to its own clients with `_fast_local_emit`."""

    def __init__(self, *args: Any, path: str = "direct", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_setup(path)

    def initialize(self) -> None:
        super().initialize()
        self._fast_initialize()

    async def emit(self, event, data, namespace=None, room=None, skip_sid=None,
                   callback=None, to=None, **kwargs):
        room = to or room
        if kwargs.get("ignore_queue") and callback is None:
            if await self._fast_local_emit(event, data, namespace or "/", room, skip_sid):
                return
        await super().emit(event, plain(data), namespace=namespace, room=room, skip_sid=skip_sid,
                           callback=callback, **kwargs)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        callback = message.get("callback")
        if (callback is None or len(callback) != 3) and not message.get("binary"):
            data = message["data"]
            if isinstance(data, list):
                data = data[0] if len(data) == 1 else tuple(data)
            if await self._fast_local_emit(
                message["event"], data, message.get("namespace") or "/",
                message.get("room"), message.get("skip_sid"),
            ):
                return
        self.stats.fallback += 1
        await super()._handle_emit(message)


class FastAsyncRedisManager(_GuardedQueueMixin, _FastPubSubMixin, socketio.AsyncRedisManager):
    """AsyncRedisManager (several workers) whose local delivery is task-free,
    with the guarded publish and the reconnecting listener described above."""

    def _redis_client(self, *, socket_timeout: float | None) -> Any:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py (its default retries 3 times with backoff):
        # the breaker and the listener's own loop decide when to try again.
        return aioredis.Redis.from_url(
            self.redis_url, socket_timeout=socket_timeout, socket_connect_timeout=self.queue_timeout,
            retry=Retry(NoBackoff(), 0), **self.redis_options)

    async def _send(self, body: str) -> None:
        if self._publisher is None:
            self._publisher = self._redis_client(socket_timeout=self.queue_timeout)
        await self._publisher.publish(self.channel, body)

    async def _drop_publisher(self) -> None:
        client, self._publisher = self._publisher, None
        if client is not None:
            self._close_later(client.aclose())

    async def _listen(self):  # python-socketio's hook for receiving (AsyncPubSubManager)
        """Subscribe, yield message bodies, and on any error (or a connection
        that stops answering PINGs) start again on a new connection."""
        loop = asyncio.get_running_loop()
        while True:
            client = self._redis_client(socket_timeout=None)  # the read below waits for messages
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(self.queue_timeout * 4):
                    await pubsub.subscribe(self.channel)
                self._listener_connected()
                last_read, pinged_at = loop.time(), None
                while True:
                    response = await pubsub.parse_response(block=False, timeout=LISTEN_POLL_SECONDS)
                    now = loop.time()
                    if response is not None:
                        last_read, pinged_at = now, None
                        message = await pubsub.handle_message(response, ignore_subscribe_messages=True)
                        if message is not None and message.get("type") == "message":
                            yield message["data"]
                    elif pinged_at is not None and now - pinged_at > LISTEN_PING_SECONDS:
                        raise ConnectionError("Redis did not answer a PING on the listening connection")
                    elif pinged_at is None and now - last_read > LISTEN_PING_SECONDS:
                        await pubsub.ping()  # the answer arrives as a message (any read counts)
                        pinged_at = now
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._listener_lost(exc)
            finally:
                self._close_later(pubsub.aclose())
                self._close_later(client.aclose())


class FastAsyncAioPikaManager(_GuardedQueueMixin, _FastPubSubMixin, socketio.AsyncAioPikaManager):
    """AsyncAioPikaManager (RabbitMQ; several workers) whose local delivery is
    task-free, with the guarded publish and the reconnecting listener described above."""

    def _amqp_url(self, *, heartbeat: int) -> str:
        from yarl import URL

        url = URL(self.url)
        if "heartbeat" not in url.query:
            # A connection whose broker went silent is declared dead after a few
            # missed heartbeats (aiormq); RabbitMQ's default of 60 s would take minutes.
            url = url.update_query(heartbeat=heartbeat)
        return str(url)

    async def _exchange_on(self, connection: Any) -> Any:
        import aio_pika

        channel = await connection.channel()
        return channel, await channel.declare_exchange(self.channel, aio_pika.ExchangeType.FANOUT)

    async def _send(self, body: str) -> None:
        import aio_pika

        if self._publisher is None:
            connection = await aio_pika.connect(self._amqp_url(heartbeat=AMQP_HEARTBEAT_SECONDS),
                                                timeout=self.queue_timeout)
            try:
                _, exchange = await self._exchange_on(connection)
            except BaseException:
                self._close_later(connection.close())
                raise
            self._publisher = (connection, exchange)
        _, exchange = self._publisher
        # The same message as python-socketio's publish; the broker's confirm is awaited.
        await exchange.publish(
            aio_pika.Message(body=body.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="*", timeout=self.queue_timeout)

    async def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            self._close_later(publisher[0].close())

    async def _listen(self):  # python-socketio's hook for receiving (AsyncPubSubManager)
        """Consume from a queue of this process's own, bound to the exchange, on a
        plain (not robust) connection; on any error start again on a new one.

        The queue has a name of its own (the manager's host id) and expires
        LISTEN_QUEUE_EXPIRES_MS after its last consumer left, so a reconnect
        after a short outage finds it again with what was published meanwhile;
        after a broker restart it is declared anew."""
        import aio_pika

        queue_name = f"{self.channel}.{self.host_id}"
        while True:
            try:
                connection = await aio_pika.connect(self._amqp_url(heartbeat=AMQP_HEARTBEAT_SECONDS),
                                                    timeout=self.queue_timeout * 4)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._listener_lost(exc)
                continue
            try:
                channel, exchange = await self._exchange_on(connection)
                queue = await channel.declare_queue(
                    queue_name, durable=False, arguments={"x-expires": LISTEN_QUEUE_EXPIRES_MS})
                await queue.bind(exchange)
                self._listener_connected()
                # No acks: a fan-out message is only ever for this process, and
                # one that is lost with it has nobody else to go to.
                async with queue.iterator(no_ack=True) as messages:
                    async for message in messages:
                        yield message.body
                raise ConnectionError("the RabbitMQ consumer was cancelled")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._listener_lost(exc)
            finally:
                self._close_later(connection.close())


# ----- single-recipient packets (acks) and JSON ----------------------------------
def _safe_int(text: str) -> int:
    # engine.io's guard against huge integers in client JSON, kept as is.
    if len(text) > 100:
        raise ValueError("Integer is too large")
    return int(text)


_COMPACT = {"separators": (",", ":")}


class WireJson:
    """The JSON module python-socketio and engine.io use, with one reused decoder
    and one reused compact encoder.

    engine.io's `json.loads` passes `parse_int=` on every call, which makes the
    standard library build a new JSONDecoder (and scanner) for every packet a
    client sends: several per cent of the server's CPU under a vote flood.
    Same output and the same large-integer guard; `dumps` gives the standard
    library's output for the same arguments.
    """

    _decoder = json.JSONDecoder(parse_int=_safe_int)
    JSONDecodeError = json.JSONDecodeError
    # python-socketio encodes every packet with `dumps(data, separators=(",", ":"))`,
    # which makes the standard library build a new JSONEncoder each time too.
    _compact_encoder = json.JSONEncoder(separators=(",", ":"))

    @classmethod
    def dumps(cls, obj: Any, **kwargs: Any) -> str:
        if kwargs == _COMPACT:
            return cls._compact_encoder.encode(obj)
        return json.dumps(obj, **kwargs)

    @classmethod
    def loads(cls, text: str | bytes | bytearray, **kwargs: Any) -> Any:
        if kwargs:
            kwargs.setdefault("parse_int", _safe_int)
            return json.loads(text, **kwargs)
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8")
        return cls._decoder.decode(text)


class JsonPacket(sio_packet.Packet):
    """python-socketio's packet for a JSON-only protocol (its documented
    `serializer=` extension point).

    The stock packet walks every payload it is built with, recursively, looking
    for bytes to send as binary attachments: half the cost of building and
    encoding an ack. The site never sends binary (docs/protocol.md: JSON only)
    and the edge closes a connection that does, so the walk is skipped; bytes
    given to an emit by mistake fail in the JSON encoder instead of leaving as
    an attachment."""

    uses_binary_events = False


class FastAsyncServer(socketio.AsyncServer):
    """AsyncServer whose single packets (acks, `emit(to=sid)` replies) skip the
    writer task when the recipient's WebSocket writer is idle, and whose JSON
    decoding reuses one decoder. Everything else is python-socketio's."""

    def __init__(self, *args: Any, direct_packets: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("json", WireJson)
        kwargs.setdefault("serializer", JsonPacket)
        super().__init__(*args, **kwargs)
        # engine.io starts a task for every message it hands to python-socketio,
        # which starts another for every event (its own `async_handlers`): the
        # first task only costs CPU, since python-socketio's task already lets
        # a slow handler wait without holding up the connection's next message. Messages of one connection
        # are then also decoded in the order they arrived. `async_handlers` is
        # engine.io's documented server option; python-socketio keeps the name
        # for its own, so it is set on the engine.io server it built.
        self.eio.async_handlers = False
        self.direct_packets = 0
        # Off unless the manager's path is `direct`; the manager turns it off on an error.
        self.direct_packets_enabled = direct_packets
        if direct_packets:
            _install_direct_websocket(self)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        encoded = pkt.encode()
        if self.direct_packets_enabled and isinstance(encoded, str):
            try:
                if self._send_direct(eio_sid, encoded):
                    return
            except Exception as exc:  # a library changed under us
                self.direct_packets_enabled = False
                disable = getattr(self.manager, "_disable_direct", None)
                if disable is not None:
                    disable(exc)
        await self._send_public(eio_sid, encoded)

    def _send_direct(self, eio_sid: str, encoded: str) -> bool:
        eio = self.eio
        sock = eio.sockets.get(eio_sid)
        if sock is None or sock.closed:
            return False
        last_ping = sock.last_ping
        if last_ping and time.time() - last_ping > eio.ping_timeout:
            return False
        transport = _direct_target(sock)
        if transport is None:
            return False
        frame = websocket_text_frame("4" + encoded)
        frames = getattr(self.manager, "frames", None)
        if isinstance(frames, FrameCoalescer):  # behind this iteration's broadcast frames, in one write
            frames.write(transport, frame)
        else:
            transport.write(frame)
        self.direct_packets += 1
        return True

    async def _send_public(self, eio_sid: str, encoded: Any) -> None:
        # python-socketio's own path (with the packet encoded only once)
        if isinstance(encoded, list):
            for part in encoded:
                await self.eio.send(eio_sid, part)
        else:
            await self.eio.send(eio_sid, encoded)
