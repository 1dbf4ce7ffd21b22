"""Load generator for `/chat`: one room, many members, many senders.

Speaks Engine.IO v4 + Socket.IO v5 over raw WebSockets (an asyncio Protocol
per connection, hand-written RFC 6455 framing, uvloop), so one process holds
hundreds of connections and tens of thousands of deliveries a second without
being the bottleneck; its own CPU use is measured and reported.

    python bench/chat/loadgen.py --url http://127.0.0.1:8000 --room cats \
        --members 200 --rate 150 --duration 15 --json out.json

- `--members` connections join the room (no session cookie: anonymous).
  ceil(rate / max-sender-rate) of them also send `send_message` open-loop,
  round-robin, so each sends at most `--max-sender-rate` (default 2.5)
  messages/s, within the server's per-connection limit (3/s, burst 5).
- Texts are 6-12 words drawn from a vocabulary of `--vocabulary` words, so the
  room's trending vocabulary keeps growing during the run.
- Send-to-all-delivered latency of a message: from sending it until the LAST
  member has received its `message` event (matched by the message id the ack
  returns; deliveries may arrive before the ack).
- `--db` (a SQLite file) checks afterwards that every acked message id is in
  `chat_message` with the text that was sent.

Prints one JSON object (and writes it to `--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import random
import sqlite3
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for bench.*
from bench.rawsocket import (  # noqa: E402
    RawSocketIOConnection,
    cpu_seconds,
    mask_frame,
    proc_cpu_seconds,
    proc_runqueue_wait,
)

NAMESPACE = "/chat"
NS_PREFIX = NAMESPACE + ","
OPEN_NS = ("40" + NS_PREFIX).encode()
EVENT_PREFIX = ("42" + NS_PREFIX).encode()
ACK_PREFIX = ("43" + NS_PREFIX).encode()
MESSAGE_PREFIX = EVENT_PREFIX + b'["message",'
ERROR_PREFIX = ("44" + NS_PREFIX).encode()
JOIN_ACK_ID = 0














class Conn(RawSocketIOConnection):
    """One Socket.IO client of the generator (WebSocket framing in bench/rawsocket.py)."""

    def __init__(self, gen: "LoadGen", role: str, host: str) -> None:
        super().__init__(host)
        self.gen = gen
        self.role = role
        self.last_version: int | None = None
        self.next_ack = 0
        self.pending: dict[int, tuple[float, str, str]] = {}

    def on_lost(self) -> None:
        self.gen.on_lost(self)

    # ----- Engine.IO / Socket.IO ----------------------------------------------
    def on_text(self, payload: bytes, now: float) -> None:
        kind = payload[:1]
        if kind == b"4":
            if payload.startswith(MESSAGE_PREFIX):
                self.gen.on_message(self, payload, now)
            elif payload.startswith(ACK_PREFIX):
                self.gen.on_ack(self, payload, now)
            elif payload.startswith(OPEN_NS):
                # Namespace connected: join the room (ack id 0).
                self.next_ack = JOIN_ACK_ID + 1
                self.send_text(f'42{NS_PREFIX}{JOIN_ACK_ID}["join",{{"room":"{self.gen.args.room}"}}]')
            elif payload.startswith(ERROR_PREFIX):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(payload.decode()))
        elif kind == b"2":  # Engine.IO ping
            self.transport.write(mask_frame(1, b"3"))
        elif kind == b"0":  # Engine.IO open
            self.transport.write(mask_frame(1, OPEN_NS))
        elif kind == b"1":
            self.transport.close()

    def send_message(self, now: float, text: str) -> None:
        ack_id = self.next_ack
        self.next_ack += 1
        client_id = str(uuid.uuid4())
        self.pending[ack_id] = (now, client_id, text)
        body = json.dumps({"room": self.gen.args.room, "text": text, "client_id": client_id}, ensure_ascii=False)
        self.send_text(f'42{NS_PREFIX}{ack_id}["send_message",{body}]')


def message_id(payload: bytes) -> int:
    """The `id` of a `message` event without parsing the whole JSON."""
    at = payload.index(b'"id":') + 5
    end = at
    while payload[end] in b"0123456789 ":
        end += 1
    return int(payload[at:end])


class LoadGen:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        parts = urlsplit(args.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.members: list[Conn] = []
        self.member_total = 0
        self.parsed: dict[bytes, int] = {}
        self.remaining: dict[int, int] = {}
        self.first_seen: dict[int, float] = {}
        self.all_seen: dict[int, float] = {}
        self.acks: list[tuple[float, float, int, str, str]] = []  # sent, acked, id, client_id, text
        self.errors: Counter[str] = Counter()
        self.deliveries = 0
        self.lost = 0
        self.stopping = False
        rng = random.Random(args.seed)
        letters = "abcdefghijklmnopqrstuvwxyzáéíóúñ"
        self.vocabulary = sorted({
            "".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(args.vocabulary)
        })
        self.rng = rng

    def text(self) -> str:
        return " ".join(self.rng.choice(self.vocabulary) for _ in range(self.rng.randint(6, 12)))

    # ----- callbacks from connections -------------------------------------
    def on_message(self, conn: Conn, payload: bytes, now: float) -> None:
        mid = self.parsed.get(payload)
        if mid is None:
            mid = message_id(payload)
            if len(self.parsed) > 512:
                self.parsed.clear()
            self.parsed[payload] = mid
            if mid not in self.first_seen:
                self.first_seen[mid] = now
                self.remaining[mid] = self.member_total
        self.deliveries += 1
        left = self.remaining[mid] - 1
        self.remaining[mid] = left
        if left == 0:
            self.all_seen[mid] = now

    def on_ack(self, conn: Conn, payload: bytes, now: float) -> None:
        body = payload[len(ACK_PREFIX):]
        bracket = body.find(b"[")
        ack_id = int(body[:bracket])
        envelope = json.loads(body[bracket:])[0]
        if ack_id == JOIN_ACK_ID and not conn.ready.done():
            if envelope.get("ok"):
                conn.ready.set_result(None)
            else:
                conn.ready.set_exception(ConnectionError(str(envelope)))
            return
        sent_at, client_id, text = conn.pending.pop(ack_id)
        if envelope.get("ok"):
            self.acks.append((sent_at, now, envelope["data"]["message"]["id"], client_id, text))
        else:
            self.errors[envelope.get("error", {}).get("code", "?")] += 1

    def on_lost(self, conn: Conn) -> None:
        if not self.stopping:
            self.lost += 1

    # ----- phases ------------------------------------------------------------
    async def open(self, count: int) -> list[Conn]:
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(self.args.connect_concurrency)
        conns: list[Conn] = []

        async def one() -> None:
            async with sem:
                for attempt in range(5):
                    try:
                        _, conn = await loop.create_connection(
                            lambda: Conn(self, "member", f"{self.host}:{self.port}"), self.host, self.port
                        )
                        await asyncio.wait_for(conn.ready, 30)
                        conns.append(conn)
                        return
                    except (OSError, asyncio.TimeoutError, ConnectionError):
                        await asyncio.sleep(0.2 * (attempt + 1))
                raise ConnectionError("could not open a member connection")

        await asyncio.gather(*(one() for _ in range(count)))
        return conns

    async def run(self) -> dict:
        args = self.args
        started = time.perf_counter()
        self.members = await self.open(args.members)
        self.member_total = len(self.members)
        n_senders = min(self.member_total, max(1, math.ceil(args.rate / args.max_sender_rate)))
        senders = self.members[:n_senders]
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(1.0)
        texts = [self.text() for _ in range(4096)]
        # The generator's own cyclic GC would pause every connection at once
        # and show up as latency: collect now, then keep it off for the run.
        gc.collect()
        gc.freeze()
        gc.disable()
        # Event-loop lag of the generator itself: if it stalls, every latency grows.
        lag = {"max_ms": 0.0}

        async def watch_lag() -> None:
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lag["max_ms"] = max(lag["max_ms"], (time.perf_counter() - t - 0.01) * 1000)

        lag_task = asyncio.create_task(watch_lag())

        interval = 0.005
        begin = time.perf_counter()
        warm_end = begin + args.warmup
        end = warm_end + args.duration
        cpu0 = wall0 = server_cpu0 = None
        window_ack_start = None
        window_sent: set[str] = set()
        index = 0
        due = 0.0
        last = begin
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            if cpu0 is None and now >= warm_end:
                cpu0, wall0 = cpu_seconds(), now
                server_cpu0 = proc_cpu_seconds(args.server_pid) if args.server_pid else None
                waits0 = (
                    proc_runqueue_wait("self", all_threads=False),
                    proc_runqueue_wait(args.server_pid, all_threads=False) if args.server_pid else None,
                )
                lag["max_ms"] = 0.0
                window_ack_start = len(self.acks)
            due += (now - last) * args.rate
            last = now
            burst = int(due)
            due -= burst
            for _ in range(burst):
                sender = senders[index % n_senders]
                sender.send_message(now, texts[index % len(texts)] + f" n{index}")
                index += 1
                if now >= warm_end:
                    window_sent.add(sender.pending[sender.next_ack - 1][1])
            await asyncio.sleep(interval)
        cpu1, wall1 = cpu_seconds(), time.perf_counter()
        server_cpu1 = proc_cpu_seconds(args.server_pid) if args.server_pid else None
        waits1 = (
            proc_runqueue_wait("self", all_threads=False),
            proc_runqueue_wait(args.server_pid, all_threads=False) if args.server_pid else None,
        )
        generator_lag = lag["max_ms"]
        lag_task.cancel()
        deadline = time.perf_counter() + args.drain
        while time.perf_counter() < deadline:
            outstanding = sum(len(c.pending) for c in senders)
            if outstanding == 0 and all(v <= 0 for v in self.remaining.values()):
                break
            await asyncio.sleep(0.05)
        self.stopping = True
        gc.enable()
        seconds = wall1 - wall0
        self.t0 = wall0
        result = self.summarise(window_sent, seconds)
        result.update(
            connect_seconds=round(connect_seconds, 2),
            senders=n_senders,
            generator_cpu=round((cpu1 - cpu0) / seconds, 3),
            server_cpu=(round((server_cpu1 - server_cpu0) / seconds, 3)
                        if server_cpu0 is not None and server_cpu1 is not None else None),
            # Seconds spent runnable but waiting for a CPU during the window
            # (other work on the machine), and the generator's worst loop lag.
            generator_run_queue_wait_s=(round(waits1[0] - waits0[0], 3) if None not in (waits0[0], waits1[0]) else None),
            server_run_queue_wait_s=(round(waits1[1] - waits0[1], 3) if None not in (waits0[1], waits1[1]) else None),
            generator_max_loop_lag_ms=round(generator_lag, 1),
        )
        for conn in self.members:
            conn.close()
        await asyncio.sleep(0.2)
        return result

    def summarise(self, window_sent: set[str], seconds: float) -> dict:
        args = self.args
        latencies, ack_latencies, unseen = [], [], 0
        by_second: dict[int, list[float]] = {}
        acked_in_window = 0
        for sent_at, acked_at, mid, client_id, _text in self.acks:
            if client_id not in window_sent:
                continue
            acked_in_window += 1
            ack_latencies.append((acked_at - sent_at) * 1000)
            seen = self.all_seen.get(mid)
            if seen is None:
                unseen += 1
                continue
            latency = max(0.0, seen - sent_at) * 1000
            latencies.append(latency)
            by_second.setdefault(int(sent_at - self.t0), []).append(latency)
        latencies.sort()
        ack_latencies.sort()

        def pct(values: list[float], q: float) -> float | None:
            return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else None

        missing = check_database(args.db, self.acks) if args.db else None
        return {
            "url": args.url,
            "label": args.label,
            "members": self.member_total,
            "offered_rate": args.rate,
            "duration": round(seconds, 2),
            "sent_in_window": len(window_sent),
            "acked_in_window": acked_in_window,
            "acked_per_s": round(acked_in_window / seconds, 1),
            "deliveries_per_s": round(acked_in_window * self.member_total / seconds),
            "errors": dict(self.errors),
            "unacked": len(window_sent) - acked_in_window - sum(self.errors.values()),
            "delivered_p50_ms": pct(latencies, 0.50),
            "delivered_p95_ms": pct(latencies, 0.95),
            "delivered_p99_ms": pct(latencies, 0.99),
            "delivered_max_ms": round(latencies[-1], 1) if latencies else None,
            "ack_p50_ms": pct(ack_latencies, 0.50),
            "ack_p99_ms": pct(ack_latencies, 0.99),
            "not_delivered_to_all": unseen,
            "connections_lost": self.lost,
            "acked_total": len(self.acks),
            "missing_in_db": missing,
            # per second of the window (by send time): [messages, p50 ms, max ms]
            "timeline": [
                [len(v), round(sorted(v)[len(v) // 2], 1), round(max(v), 1)]
                for _, v in sorted(by_second.items())
            ],
        }


def check_database(path: str, acks: list[tuple[float, float, int, str, str]]) -> int:
    """How many acked messages are NOT stored with their text and client id."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        con.execute("CREATE TEMP TABLE acked (id INTEGER PRIMARY KEY, client_id TEXT, text TEXT)")
        con.executemany("INSERT OR IGNORE INTO acked VALUES (?, ?, ?)",
                        [(mid, uuid.UUID(cid).hex, text) for _s, _a, mid, cid, text in acks])
        (missing,) = con.execute(
            "SELECT COUNT(*) FROM acked a LEFT JOIN chat_message m ON m.id = a.id "
            "AND m.client_id = a.client_id AND m.text = a.text WHERE m.id IS NULL"
        ).fetchone()
        return int(missing)
    finally:
        con.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--room", default="cats")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rate", type=float, default=150, help="messages/s offered in total")
    parser.add_argument("--max-sender-rate", type=float, default=2.5, help="messages/s per sender connection")
    parser.add_argument("--vocabulary", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--db", default="", help="SQLite file to check every acked message against")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--label", default="")
    parser.add_argument("--json", default="")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop

        result = uvloop.run(LoadGen(args).run())
    except ImportError:  # pragma: no cover
        result = asyncio.run(LoadGen(args).run())
    text = json.dumps(result)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
