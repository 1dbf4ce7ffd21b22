"""Load generator for the grid game: many players, each moving about 5 times a second.

Speaks Engine.IO v4 / Socket.IO v5 over WebSockets so that one generator
core can drive hundreds of players: a `state` frame is not JSON-decoded, only
its `tick` is read. Two clients: `--client websockets` (the default, the
`websockets` package) and `--client raw` (`RawWebSocket` below), a minimal
asyncio protocol that keeps only the first bytes of a `state` frame and skips
the rest without copying or decoding it in Python. One arena of 512 players
receives ~10,000 states of ~38 kB a second (~390 MB/s); in the runs of
2026-12-01 (docs/benchmarks.md) the raw client did not lower the generator's
CPU per received state (90-100 µs against 77-90 µs): that cost is the kernel
copying the bytes, not their decoding.

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
        ack = await self.call("join_game", {"arena": self.arena, "name": f"bot{self.index}"})
        if not ack.get("ok"):
            raise RuntimeError(f"join {self.arena} failed: {ack}")
        you = ack["data"]["you"]
        self.x, self.y = you["x"], you["y"]
        self.width, self.height = ack["data"]["arena"]["width"], ack["data"]["arena"]["height"]

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


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.url = args.url
        self.period = 1.0 / args.rate
        self.client = args.client
        self.stop_moving = False
        self.window_start = float("inf")
        self.window_end = float("inf")
        self.players: list[Player] = []
        urls = [url.strip() for url in args.url.split(",") if url.strip()]
        for a in range(args.arenas):
            slug = args.arena if args.arenas == 1 and args.arena else f"{args.arena_prefix}-{a}"
            for p in range(args.players):
                self.players.append(Player(self, slug, p, urls[p % len(urls)]))


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


async def main(args: argparse.Namespace) -> dict:
    run = Run(args)
    semaphore = asyncio.Semaphore(args.connect_concurrency)

    async def start(player: Player) -> None:
        async with semaphore:
            await player.start()

    t_connect = time.perf_counter()
    await asyncio.gather(*(start(p) for p in run.players))
    connect_seconds = time.perf_counter() - t_connect
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
        "server_cpu": round((srv1 - srv0) / window, 3) if args.server_pid else None,
        # Share of the window the main thread waited for its core (0 on an idle machine).
        "generator_runqueue_wait": round((wait1 - wait0) / window, 3),
        "server_runqueue_wait": round((swait1 - swait0) / window, 3) if args.server_pid else None,
    }
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
    parser.add_argument("--client", choices=("raw", "websockets"), default="websockets",
                        help="WebSocket client: the websockets package, or the minimal raw one")
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args()))))
