"""Load generator for the grid game: many players, each moving about 5 times a second.

Speaks Engine.IO v4 / Socket.IO v5 over WebSockets so that one generator
core can drive hundreds of players: a `state` frame is never JSON-decoded,
only its `tick` is read. Three clients:

- `--client skim` (the default): `SkimSocket`, a non-blocking socket read by
  the event loop's reader callback, and `SkimPlayer`, whose moves are timer
  and ack callbacks (no task, future or timeout per move). Of a state longer
  than SKIM_MIN only the header and first KEEP bytes are read; the kernel
  discards the rest (`recv(..., MSG_TRUNC)`, Linux TCP) without copying it
  into the process, and the state counts as received when its last byte is
  gone. Every state still reaches every player and is timed, so
  move-to-seen is measured exactly as with the other clients. One arena of
  512 players receives ~10,000 states of ~38 kB a second (~390 MB/s).
- `--client raw`: `RawWebSocket`, an asyncio Protocol that copies every
  byte in but decodes only a state's first bytes.
- `--client websockets`: the `websockets` package, which copies, reassembles
  and UTF-8-decodes every frame (the generator of the runs up to 2026-12-01).

`--loop uvloop` (the default) or `--loop asyncio` picks the event loop. The
result has the generator's CPU per received state and per move
(`generator_us_per_state`, `generator_us_per_move`: all its CPU in the
window divided by either count) and the server's per move.

What is measured: move-to-seen-by-every-other-player. A move is sent at t0;
its ack carries `tick`, the last state broadcast before the server applied
it, so the move is in every later state (tick greater). For every other
player of the arena, the latency is the arrival time of the first state with
a greater tick minus t0. Moves whose state never reaches a player within the
drain time count as lost (and as infinitely late in the percentiles).

    python bench/grid_game/loadgen.py --url http://127.0.0.1:8765 --arenas 50 \
        --players 8 --arena-prefix bench-a --duration 20 --warmup 5

Prints one JSON object (last line) with the percentiles and the CPU used by
this process and, with --server-pid, by the server.

`--url` may list several servers (comma-separated: the workers of a
cluster): the players of each arena are spread over them round-robin, so
every arena has players on every server; `players_seen` (the fewest and
most players in the last state each player received) tells whether they
all play in one arena or each server runs an arena of its own.
`--cpu-pids name=pid,...` reports
the CPU seconds each process tree used in the measured window
(`cpu_seconds`), and `states_in_window` counts the `state` frames all
players received in it.
"""

import argparse
import asyncio
import base64
import bisect
import json
import os
import random
import re
import resource
import socket
import struct
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for bench.*
from bench.rawsocket import cpu_used, parse_cpu_pids, trees_cpu_seconds  # noqa: E402

NS = "/grid-game"
TICK_RE = re.compile(r'"tick":(\d+)')
STEPS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATE_PREFIX = f'42{NS},["state"'.encode()
ACK_PREFIX = f"43{NS},".encode()
# Seconds a move waits for its ack before it counts as an error.
ACK_TIMEOUT = 10.0
# Bytes kept of a frame before deciding whether it is a state (then the rest is
# skipped): enough for the state prefix and its "tick" (the payload starts
# with "arena" and "tick", grid_game/engine.py state_payload).
KEEP = 160


class RawWebSocket(asyncio.Protocol):
    """The client side of RFC 6455, only as much as the benchmark needs.

    Text frames that are not states are decoded and handed to `on_text`;
    a state frame calls `on_state(tick, arrival)` once its last byte arrived
    (the same moment the `websockets` client would have returned it). Frames
    from the server are unmasked and unfragmented (uvicorn sends each message
    in one frame); anything else ends the connection loudly. The client's own
    frames are masked with an all-zero key: the mask bit is required, the key
    is ours to choose, and a zero key spares the XOR.
    """

    def __init__(self, on_text, on_state) -> None:
        self.on_text = on_text
        self.on_state = on_state
        self.transport: asyncio.Transport | None = None
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.http = bytearray()
        self.header = bytearray()
        self.opcode = 0
        self.length = 0
        self.payload = bytearray()
        self.need = 0  # payload bytes still to collect into self.payload
        self.skip = 0  # payload bytes of a state still to skip
        self.tick = -1
        self.request = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        for future in (self.opened, self.closed):
            if not future.done():
                future.set_result(None) if future is self.closed else future.set_exception(
                    ConnectionError("closed during the handshake"))

    def send(self, text: str) -> None:
        body = text.encode()
        n = len(body)
        if n < 126:
            head = bytes((0x81, 0x80 | n))
        elif n < 65536:
            head = bytes((0x81, 0x80 | 126)) + struct.pack("!H", n)
        else:
            head = bytes((0x81, 0x80 | 127)) + struct.pack("!Q", n)
        self.transport.write(head + b"\0\0\0\0" + body)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"\x88\x80\0\0\0\0")
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.http += data
            end = self.http.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.http[:end]).split(b"\r\n", 1)[0]
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                self.transport.close()
                return
            data = bytes(self.http[end + 4:])
            self.http = bytearray()
            self.opened.set_result(None)
        view = memoryview(data)
        pos, n = 0, len(data)
        while pos < n:
            if self.skip:
                take = min(self.skip, n - pos)
                self.skip -= take
                pos += take
                if not self.skip:
                    self.on_state(self.tick, time.perf_counter())
                continue
            if self.need:
                take = min(self.need, n - pos)
                self.payload += view[pos:pos + take]
                self.need -= take
                pos += take
                if len(self.payload) == min(self.length, KEEP) and self.length > KEEP:
                    if self.opcode == 1 and self.payload.startswith(STATE_PREFIX):
                        self.tick = self._tick_of(self.payload)
                        self.skip, self.need = self.need, 0
                        continue
                if not self.need:
                    self._frame_done()
                continue
            # A frame header: 2 bytes, then 0, 2 or 8 bytes of length (never a mask).
            used = len(self.header)
            self.header += view[pos:pos + 10 - used]
            head = self.header
            if len(head) < 2:
                pos = n
                continue
            if head[0] & 0x80 == 0 or head[1] & 0x80:
                raise ConnectionError("fragmented or masked frame from the server")
            size, start = head[1] & 0x7F, 2
            if size == 126:
                if len(head) < 4:
                    pos = n
                    continue
                size, start = struct.unpack_from("!H", head, 2)[0], 4
            elif size == 127:
                if len(head) < 10:
                    pos = n
                    continue
                size, start = struct.unpack_from("!Q", head, 2)[0], 10
            pos += start - used
            self.opcode = head[0] & 0x0F
            self.length = size
            self.header = bytearray()
            self.payload = bytearray()
            self.need = size
            if not size:
                self._frame_done()

    @staticmethod
    def _tick_of(prefix: bytearray) -> int:
        match = TICK_RE.search(prefix.decode("utf-8", "replace"))
        return int(match.group(1)) if match else -1

    def _frame_done(self) -> None:
        payload = bytes(self.payload)
        self.payload = bytearray()
        if self.opcode == 1:
            if payload.startswith(STATE_PREFIX):
                self.on_state(self._tick_of(payload[:KEEP]), time.perf_counter())
            else:
                self.on_text(payload.decode())
        elif self.opcode == 9:  # ping: pong with the same payload
            self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
        elif self.opcode == 8:
            self.close()
        # pong (10) and binary (2) frames are not used by the game


async def open_raw(url: str, on_text, on_state) -> RawWebSocket:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    key = base64.b64encode(os.urandom(16)).decode()  # the reply's accept header is not checked
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
    loop = asyncio.get_running_loop()
    protocol = RawWebSocket(on_text, on_state)
    protocol.request = request.encode()
    await loop.create_connection(lambda: protocol, parts.hostname, parts.port or 80)
    await asyncio.wait_for(protocol.opened, 60)
    return protocol


# Bytes of a skimmed state's payload are discarded by the kernel (MSG_TRUNC on
# a TCP socket: Linux drops them without copying them to user space) into this
# buffer, which is therefore never written.
DISCARD = bytearray(1 << 24)
# A read at a frame boundary: small right after a skimmed state (the next
# frame is most likely another big state, of which only the head is wanted),
# else large (many small frames: acks, the states of small arenas).
HEAD_READ = 512
BODY_READ = 1 << 16
# States at least this long are skimmed; shorter ones are read whole (one
# read holds them anyway, a skim would cost a second system call).
SKIM_MIN = 4096
TICK_BYTES_RE = re.compile(rb'"tick":(\d+)')


class SkimSocket:
    """A WebSocket client connection on a non-blocking socket, driven by the
    event loop's readiness callbacks (`add_reader`): no transport, task or
    future per frame, and the bulk of a big `state` frame never enters the
    process. At a frame boundary it reads the next frame's header and first
    bytes; a text frame that starts as a state and is longer than SKIM_MIN
    has its `tick` read from those bytes, and the rest of its payload is
    discarded by the kernel (`recv(..., MSG_TRUNC)`), then `on_state(tick,
    arrival)` is called once its last byte is gone: the moment a client that
    read the whole frame would have had it. Shorter states and every other
    frame are read whole; `keep_states` reads big states whole too (their
    payload is then `last_state`). Frames from the server are unmasked and
    unfragmented (uvicorn sends each message in one frame); anything else
    ends the connection loudly. The client's frames are masked with an
    all-zero key (the mask bit is required, the key is ours to choose).
    """

    def __init__(self, sock: socket.socket, *, on_text, on_state, on_lost=None) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.loop = asyncio.get_running_loop()
        self.on_text = on_text  # (payload: bytes, arrival: float)
        self.on_state = on_state  # (tick: int, arrival: float)
        self.on_lost = on_lost
        self.pending = b""  # the start of a frame not complete yet
        self.skip = 0  # payload bytes of a skimmed state still to discard
        self.tick = -1  # of the state being discarded
        self.small = False
        self.keep_states = False
        self.last_state = b""
        self.out = bytearray()
        self.closed = False

    def start(self, initial: bytes = b"") -> None:
        if initial:
            self.feed(initial, time.perf_counter())
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        sock = self.sock
        try:
            if self.skip:
                n = sock.recv_into(DISCARD, self.skip, socket.MSG_TRUNC)
                if n:
                    self._discarded(n)
                    return
            else:
                data = sock.recv(HEAD_READ if self.small else BODY_READ)
                if data:
                    self.feed(data, time.perf_counter())
                    return
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionError:  # a frame the benchmark cannot read: end it, and say so
            self._lost()
            raise
        except OSError:
            pass
        self._lost()

    def _discarded(self, n: int) -> None:
        self.skip -= n
        if not self.skip:
            self.on_state(self.tick, time.perf_counter())

    def feed(self, data: bytes, now: float) -> None:
        """Parse what was read; public for the tests (any split of the stream)."""
        if self.pending:
            data = self.pending + data
            self.pending = b""
        pos, n = 0, len(data)
        while n - pos >= 2:
            b0, size = data[pos], data[pos + 1]
            if b0 & 0xF0 != 0x80 or size & 0x80:
                raise ConnectionError("fragmented, masked or extended frame from the server")
            start = pos + 2
            if size == 126:
                if n - pos < 4:
                    break
                size, start = int.from_bytes(data[pos + 2:pos + 4], "big"), pos + 4
            elif size == 127:
                if n - pos < 10:
                    break
                size, start = int.from_bytes(data[pos + 2:pos + 10], "big"), pos + 10
            end = start + size
            if end > n:  # the frame goes on past this read
                if (size >= SKIM_MIN and not self.keep_states and n - start >= KEEP
                        and b0 == 0x81 and data.startswith(STATE_PREFIX, start)):
                    match = TICK_BYTES_RE.search(data, start, start + KEEP)
                    self.tick = int(match.group(1)) if match else -1
                    self.skip = end - n
                    self.small = True
                    self._skim_now()
                    return
                self.small = False  # more of this frame is needed: read it in large pieces
                break
            opcode = b0 & 0x0F
            if opcode == 1:
                if data.startswith(STATE_PREFIX, start):
                    match = TICK_BYTES_RE.search(data, start, min(end, start + KEEP))
                    if match:
                        if self.keep_states:
                            self.last_state = data[start:end]
                        self.on_state(int(match.group(1)), now)
                else:
                    self.on_text(data[start:end], now)
            elif opcode == 9:  # ping: pong with the same payload
                self._write(bytes((0x8A, 0x80 | size)) + b"\0\0\0\0" + data[start:end])
            elif opcode == 8:
                self.close()
                return
            # pong (10) and binary (2) frames are not used by the game
            pos = end
        if pos < n:
            self.pending = data[pos:]

    def _skim_now(self) -> None:
        # The rest of the state usually arrived with its head: discard it now
        # rather than after another round through the event loop.
        try:
            n = self.sock.recv_into(DISCARD, self.skip, socket.MSG_TRUNC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        if n:
            self._discarded(n)
        else:
            self._lost()

    def send(self, text: str) -> None:
        body = text.encode()
        n = len(body)
        if n < 126:
            head = bytes((0x81, 0x80 | n))
        elif n < 65536:
            head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
        self._write(head + b"\0\0\0\0" + body)

    def _write(self, frame: bytes) -> None:
        if self.closed:
            return
        if self.out:
            self.out += frame
            return
        try:
            sent = self.sock.send(frame)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._lost()
            return
        if sent < len(frame):
            self.out += frame[sent:]
            self.loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._lost()
            return
        del self.out[:sent]
        if not self.out:
            self.loop.remove_writer(self.fd)

    def _lost(self) -> None:
        if not self.closed:
            self.close()
            if self.on_lost is not None:
                self.on_lost()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.sock.send(b"\x88\x80\0\0\0\0")
        except OSError:
            pass
        self.closed = True
        self.loop.remove_reader(self.fd)
        if self.out:
            self.loop.remove_writer(self.fd)
        self.sock.close()


async def open_skim(url: str, *, on_text, on_state, on_lost=None) -> SkimSocket:
    """Connect, upgrade to WebSocket, and start reading (the event loop's reader)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await loop.sock_connect(sock, (parts.hostname, parts.port or 80))
        key = base64.b64encode(os.urandom(16)).decode()  # the reply's accept header is not checked
        request = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 60)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            reply += chunk
        head, _, rest = reply.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {status!r}")
    except BaseException:
        sock.close()
        raise
    connection = SkimSocket(sock, on_text=on_text, on_state=on_state, on_lost=on_lost)
    connection.start(rest)
    return connection


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def runqueue_wait_seconds(pid: int | str) -> float:
    """Time the process's main thread spent runnable but waiting for a CPU
    (another process had the core): shows when the machine was shared."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Player:
    def __init__(self, run: "Run", arena: str, index: int, url: str) -> None:
        self.run = run
        self.arena = arena
        self.index = index
        self.url = url
        self.ws = None  # the `websockets` client's connection
        self.raw: RawWebSocket | None = None  # or the raw client's
        self.inbox: asyncio.Queue | None = None
        self.reader_task: asyncio.Task | None = None
        self.prefix_ack = f"43{NS},"
        self.acks: dict[int, asyncio.Future] = {}
        self.next_ack = 0
        self.ticks: list[int] = []
        self.times: list[float] = []
        self.moves: list[tuple[float, int]] = []  # (t0, applied-after tick) inside the window
        self.ack_rtts: list[float] = []
        self.x = self.y = 0
        self.width = self.height = 1
        self.errors = 0
        self.last_state = ""  # decoded once, after the run

    async def call(self, event: str, payload: dict) -> dict:
        self.next_ack += 1
        ack_id = self.next_ack
        future = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        await self.send(f'42{NS},{ack_id}{json.dumps([event, payload], separators=(",", ":"))}')
        return await future

    async def send(self, text: str) -> None:
        if self.raw is not None:
            self.raw.send(text)
        else:
            await self.ws.send(text)

    def on_state(self, tick: int, now: float) -> None:
        if tick >= 0:
            self.ticks.append(tick)
            self.times.append(now)

    def on_text(self, message: str) -> None:
        if self.inbox is not None:  # still connecting: start() reads these
            self.inbox.put_nowait(message)
        elif message.startswith(self.prefix_ack):
            body = message[len(self.prefix_ack):]
            split = body.index("[")
            future = self.acks.pop(int(body[:split]), None)
            if future is not None and not future.done():
                future.set_result(json.loads(body[split:])[0])
        elif message == "2":
            asyncio.ensure_future(self.send("3"))

    async def reader(self) -> None:
        # The `websockets` client only; the raw one calls on_state/on_text itself.
        prefix_state = STATE_PREFIX.decode()
        try:
            async for message in self.ws:
                now = time.perf_counter()
                if message.startswith(prefix_state):
                    match = TICK_RE.search(message, 0, KEEP)
                    self.on_state(int(match.group(1)) if match else -1, now)
                    if match:
                        self.last_state = message  # (the raw client keeps no whole state)
                else:
                    self.on_text(message)
        except Exception:
            pass

    async def recv(self) -> str:
        if self.raw is not None:
            return await asyncio.wait_for(self.inbox.get(), 60)
        return await self.ws.recv()

    async def start(self) -> None:
        url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.inbox = asyncio.Queue()
        if self.run.client == "raw":
            self.raw = await open_raw(url, self.on_text, self.on_state)
        else:
            self.ws = await connect(url, compression=None, max_size=2**24, ping_interval=None,
                                    open_timeout=60)
            self.inbox = None
        opening = await self.recv()
        assert opening.startswith("0"), opening
        await self.send(f"40{NS},")
        reply = await self.recv()
        assert reply.startswith(f"40{NS},"), reply
        self.inbox = None
        if self.ws is not None:
            self.reader_task = asyncio.create_task(self.reader())
        await join_arena(self)

    async def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
            return
        if self.reader_task is not None:
            self.reader_task.cancel()
        await self.ws.close()

    def direction(self) -> str:
        options = [d for d, (dx, dy) in STEPS.items()
                   if 0 <= self.x + dx < self.width and 0 <= self.y + dy < self.height]
        return random.choice(options)

    async def mover(self) -> None:
        run = self.run
        seq = 0
        await asyncio.sleep(random.random() * run.period)
        next_at = time.perf_counter()
        while not run.stop_moving:
            next_at += run.period * random.uniform(0.8, 1.2)
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            seq += 1
            t0 = time.perf_counter()
            try:
                ack = await asyncio.wait_for(self.call("move", {"direction": self.direction(), "seq": seq}), 10)
            except Exception:
                self.errors += 1
                continue
            t1 = time.perf_counter()
            if not ack.get("ok"):
                self.errors += 1
                continue
            data = ack["data"]
            self.x, self.y = data["x"], data["y"]
            if run.window_start <= t0 < run.window_end:
                self.moves.append((t0, data["tick"]))
                self.ack_rtts.append(t1 - t0)


class SkimPlayer:
    """A player on a `SkimSocket` whose moves are driven by callbacks (`--client skim`).

    The same moves as `Player` (about one per period, ±20 %, never into a
    wall, the next one only after the ack) and the same records (`moves`,
    `ticks`, `times`, `ack_rtts`), with no task per player: a timer sends a
    move, the ack's reader callback records it and schedules the next, and
    one sweep a second counts a move unanswered for ACK_TIMEOUT as an error
    and goes on. Arrival times are taken when the bytes are read, before any
    other Python work on them.
    """

    def __init__(self, run: "Run", arena: str, index: int, url: str) -> None:
        self.run = run
        self.arena = arena
        self.index = index
        self.url = url
        self.ws: SkimSocket | None = None
        self.inbox: asyncio.Queue | None = None
        self.acks: dict[int, asyncio.Future] = {}
        self.next_ack = 0
        self.move_ack = 0  # the ack id of the move in flight (0: none)
        self.sent_at = 0.0
        self.next_at = 0.0
        self.seq = 0
        self.ticks: list[int] = []
        self.times: list[float] = []
        self.moves: list[tuple[float, int]] = []
        self.ack_rtts: list[float] = []
        self.x = self.y = 0
        self.width = self.height = 1
        self.errors = 0
        self.last_state = ""

    # ----- the connection --------------------------------------------------
    def on_state(self, tick: int, now: float) -> None:
        self.ticks.append(tick)
        self.times.append(now)

    def on_text(self, payload: bytes, now: float) -> None:
        if payload.startswith(ACK_PREFIX):
            body = payload[len(ACK_PREFIX):]
            split = body.index(b"[")
            ack_id = int(body[:split])
            if ack_id == self.move_ack:
                self.moved(json.loads(body[split:])[0], now)
                return
            future = self.acks.pop(ack_id, None)
            if future is not None and not future.done():
                future.set_result(json.loads(body[split:])[0])
        elif payload == b"2":  # Engine.IO ping
            self.ws.send("3")
        elif self.inbox is not None:  # still connecting: start() reads these
            self.inbox.put_nowait(payload.decode())

    async def call(self, event: str, payload: dict) -> dict:
        self.next_ack += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = future
        self.ws.send(f'42{NS},{self.next_ack}{json.dumps([event, payload], separators=(",", ":"))}')
        return await asyncio.wait_for(future, 60)

    async def start(self) -> None:
        url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.inbox = asyncio.Queue()
        self.ws = await open_skim(url, on_text=self.on_text, on_state=self.on_state)
        opening = await asyncio.wait_for(self.inbox.get(), 60)
        assert opening.startswith("0"), opening
        self.ws.send(f"40{NS},")
        reply = await asyncio.wait_for(self.inbox.get(), 60)
        assert reply.startswith(f"40{NS},"), reply
        self.inbox = None
        await join_arena(self)

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()

    # ----- moving ----------------------------------------------------------
    def direction(self) -> str:
        options = [d for d, (dx, dy) in STEPS.items()
                   if 0 <= self.x + dx < self.width and 0 <= self.y + dy < self.height]
        return random.choice(options)

    def begin(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(random.random() * self.run.period, self._first)

    def _first(self) -> None:
        self.next_at = time.perf_counter()
        self.schedule()

    def schedule(self) -> None:
        run = self.run
        if run.stop_moving:
            return
        self.next_at += run.period * random.uniform(0.8, 1.2)
        delay = self.next_at - time.perf_counter()
        if delay > 0:
            run.loop.call_later(delay, self.send_move)
        else:
            self.send_move()

    def send_move(self) -> None:
        if self.run.stop_moving or self.ws.closed:
            return
        self.seq += 1
        self.next_ack += 1
        self.move_ack = self.next_ack
        self.sent_at = time.perf_counter()
        self.ws.send(f'42{NS},{self.move_ack}["move",{{"direction":"{self.direction()}","seq":{self.seq}}}]')

    def moved(self, ack: dict, now: float) -> None:
        self.move_ack = 0
        t0 = self.sent_at
        if ack.get("ok"):
            data = ack["data"]
            self.x, self.y = data["x"], data["y"]
            run = self.run
            if run.window_start <= t0 < run.window_end:
                self.moves.append((t0, data["tick"]))
                self.ack_rtts.append(now - t0)
        else:
            self.errors += 1
        self.schedule()

    def expire(self, now: float) -> None:
        """A move unanswered for ACK_TIMEOUT is an error; the next one follows."""
        if self.move_ack and now - self.sent_at > ACK_TIMEOUT:
            self.move_ack = 0
            self.errors += 1
            self.schedule()


async def join_arena(player: Player | SkimPlayer) -> None:
    """`join_game` for a connected player: its position and the arena's size from the ack."""
    ack = await player.call("join_game", {"arena": player.arena, "name": f"bot{player.index}"})
    if not ack.get("ok"):
        raise RuntimeError(f"join {player.arena} failed: {ack}")
    you = ack["data"]["you"]
    player.x, player.y = you["x"], you["y"]
    player.width, player.height = ack["data"]["arena"]["width"], ack["data"]["arena"]["height"]


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.url = args.url
        self.period = 1.0 / args.rate
        self.client = args.client
        self.stop_moving = False
        self.window_start = float("inf")
        self.window_end = float("inf")
        self.players: list[Player | SkimPlayer] = []
        self.loop = asyncio.get_running_loop()
        kind = SkimPlayer if self.client == "skim" else Player
        urls = [url.strip() for url in args.url.split(",") if url.strip()]
        for a in range(args.arenas):
            slug = args.arena if args.arenas == 1 and args.arena else f"{args.arena_prefix}-{a}"
            for p in range(args.players):
                self.players.append(kind(self, slug, p, urls[p % len(urls)]))


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def read_stats(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


async def expire_moves(run: Run) -> None:
    while True:
        await asyncio.sleep(1.0)
        now = time.perf_counter()
        for p in run.players:
            p.expire(now)


async def keep_last_states(run: Run) -> None:
    """After the run: one more move each, so that every player reads one last
    state whole (`players_seen`); the skimming client keeps no state otherwise."""
    for p in run.players:
        p.ws.keep_states = True
    for p in run.players:
        p.ws.send(f'42{NS},["move",{{"direction":"{p.direction()}","seq":{p.seq + 1}}}]')
    await asyncio.sleep(0.5)
    for p in run.players:
        p.last_state = p.ws.last_state.decode()


async def main(args: argparse.Namespace) -> dict:
    run = Run(args)
    semaphore = asyncio.Semaphore(args.connect_concurrency)

    async def start(player: Player) -> None:
        async with semaphore:
            await player.start()

    t_connect = time.perf_counter()
    await asyncio.gather(*(start(p) for p in run.players))
    connect_seconds = time.perf_counter() - t_connect
    if run.client == "skim":
        movers = [asyncio.create_task(expire_moves(run))]
        for p in run.players:
            p.begin()
    else:
        movers = [asyncio.create_task(p.mover()) for p in run.players]
    await asyncio.sleep(args.warmup)
    stats_before = read_stats(args.stats_file)
    cpu0, srv0 = self_cpu_seconds(), (proc_cpu_seconds(args.server_pid) if args.server_pid else 0.0)
    wait0, swait0 = runqueue_wait_seconds("self"), runqueue_wait_seconds(args.server_pid or "self")
    cpu_pids = parse_cpu_pids(args.cpu_pids)
    trees0 = trees_cpu_seconds(cpu_pids)
    run.window_start = time.perf_counter()
    run.window_end = run.window_start + args.duration
    await asyncio.sleep(args.duration)
    cpu1, srv1 = self_cpu_seconds(), (proc_cpu_seconds(args.server_pid) if args.server_pid else 0.0)
    wait1, swait1 = runqueue_wait_seconds("self"), runqueue_wait_seconds(args.server_pid or "self")
    trees1 = trees_cpu_seconds(cpu_pids)
    stats_after = read_stats(args.stats_file)
    run.stop_moving = True
    await asyncio.sleep(args.drain)
    for task in movers:
        task.cancel()
    await asyncio.gather(*movers, return_exceptions=True)
    if run.client == "skim":
        await keep_last_states(run)

    # Move-to-seen latencies, per arena.
    by_arena: dict[str, list[Player]] = {}
    for p in run.players:
        by_arena.setdefault(p.arena, []).append(p)
    latencies: list[float] = []
    lost = 0
    moves = 0
    stride = max(1, args.sample_every)
    for members in by_arena.values():
        for mover in members:
            for i, (t0, tick) in enumerate(mover.moves):
                moves += 1
                if i % stride:
                    continue
                for observer in members:
                    if observer is mover:
                        continue
                    j = bisect.bisect_right(observer.ticks, tick)
                    if j < len(observer.ticks):
                        latencies.append(observer.times[j] - t0)
                    else:
                        lost += 1
    latencies.sort()
    total = len(latencies) + lost
    # Lost deliveries count as infinitely late.
    padded = latencies + [float("inf")] * lost
    rtts = sorted(r for p in run.players for r in p.ack_rtts)
    window = args.duration
    result = {
        "url": args.url,
        "client": args.client,
        "arenas": args.arenas,
        "players_per_arena": args.players,
        "players": len(run.players),
        "rate_per_player": args.rate,
        "duration_s": window,
        "connect_s": round(connect_seconds, 2),
        "moves": moves,
        "moves_per_s": round(moves / window, 1),
        "deliveries": total,
        "lost": lost,
        "errors": sum(p.errors for p in run.players),
        "seen_ms": {q: round(1000 * percentile(padded, q), 1) for q in (50, 90, 99, 99.9)},
        "seen_max_ms": round(1000 * padded[-1], 1) if padded else None,
        "ack_ms": {q: round(1000 * percentile(rtts, q), 1) for q in (50, 99)},
        "states_per_s": round(sum(len(p.ticks) for p in run.players) / (window + args.warmup + args.drain), 1),
        "states_in_window": sum(bisect.bisect_left(p.times, run.window_end)
                                - bisect.bisect_left(p.times, run.window_start) for p in run.players),
        "cpu_seconds": cpu_used(trees0, trees1),
        "generator_cpu": round((cpu1 - cpu0) / window, 3),
        "loop": args.loop,
        "server_cpu": round((srv1 - srv0) / window, 3) if args.server_pid else None,
        # Share of the window the main thread waited for its core (0 on an idle machine).
        "generator_runqueue_wait": round((wait1 - wait0) / window, 3),
        "server_runqueue_wait": round((swait1 - swait0) / window, 3) if args.server_pid else None,
    }
    # CPU per unit of work: the generator's per received state and per move
    # (all of its CPU divided by either count), the server's per move.
    moves_in_window = sum(len(p.moves) for p in run.players)
    states = result["states_in_window"]
    result["generator_us_per_state"] = round(1e6 * (cpu1 - cpu0) / states, 1) if states else None
    result["generator_us_per_move"] = (round(1e6 * (cpu1 - cpu0) / moves_in_window, 1)
                                       if moves_in_window else None)
    result["server_us_per_move"] = (round(1e6 * (srv1 - srv0) / moves_in_window, 1)
                                    if moves_in_window and args.server_pid else None)
    seen = []
    for p in run.players:
        if p.last_state:
            seen.append(len(json.loads(p.last_state[len(f"42{NS},"):])[1]["players"]))
    result["players_seen"] = [min(seen), max(seen)] if seen else None
    if stats_before and stats_after:
        ticks = stats_after["ticks"] - stats_before["ticks"]
        work = stats_after["work_seconds"] - stats_before["work_seconds"]
        emit = stats_after["emit_seconds"] - stats_before["emit_seconds"]
        result["tick_loop"] = {
            "arenas": stats_after["arenas"],
            "ticks": ticks,
            "work_us_per_tick": round(1e6 * work / ticks, 1) if ticks else None,
            "emit_us_per_tick": round(1e6 * emit / ticks, 1) if ticks else None,
            "cpu_share": round((work + emit) / window, 3),  # of one core
        }
        if "gc_seconds" in stats_after and "gc_seconds" in stats_before:
            result["server_gc"] = {  # the server's cyclic collector in the window
                "seconds": round(stats_after["gc_seconds"] - stats_before["gc_seconds"], 4),
                "collections": stats_after["gc_collections"] - stats_before["gc_collections"],
                "full": stats_after["gc_full"] - stats_before["gc_full"],
            }
    await asyncio.gather(*(p.close() for p in run.players), return_exceptions=True)
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--arenas", type=int, default=1)
    parser.add_argument("--players", type=int, default=8, help="players per arena")
    parser.add_argument("--arena-prefix", default="bench-a")
    parser.add_argument("--arena", default="", help="slug when --arenas 1")
    parser.add_argument("--rate", type=float, default=5.0, help="moves per second per player")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=2.0)
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--sample-every", type=int, default=1, help="use every n-th move for latencies")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--cpu-pids", default="", help="name=pid,...: process trees whose CPU to report")
    parser.add_argument("--stats-file", default="")
    parser.add_argument("--client", choices=("skim", "raw", "websockets"), default="skim",
                        help="WebSocket client: the skimming one (SkimSocket), the minimal raw one, "
                             "or the websockets package")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="event loop: uvloop's, or asyncio's own")
    return parser.parse_args()


def loop_factory(name: str):  # type: ignore[no-untyped-def]
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


if __name__ == "__main__":
    arguments = parse_args()
    print(json.dumps(asyncio.run(main(arguments), loop_factory=loop_factory(arguments.loop))))
