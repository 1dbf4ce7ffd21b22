"""Load generator for `/map-dashboard`: viewers, voters, vote-to-visible latency.

Speaks Engine.IO v4 + Socket.IO v5 over raw WebSockets (an asyncio Protocol
per connection, hand-written RFC 6455 framing, uvloop), so one process can
hold thousands of connections and tens of thousands of messages a second
without being the bottleneck; its own CPU use is measured and reported.

    python bench/dashboard/loadgen.py --url http://127.0.0.1:8000 \
        --viewers 1000 --rate 3000 --duration 10 --json out.json

- `--viewers` connections only listen (no session cookie: anonymous).
- ceil(rate / max-voter-rate) voter connections send `vote` (`up`, random
  province, a fresh uuid4 `vote_id`) open-loop, round-robin, so each sends
  at most `--max-voter-rate` (default 8) votes/s. Voters receive the
  broadcasts too, like every phone in the room.
- Vote-to-visible latency of a vote: from sending it until the LAST viewer
  has received a `votes` delta whose absolute count for that province is at
  least the count the vote's ack reported (votes are only `up`, so counts
  never fall; the ack's count includes the vote). Matching is done after the
  run against the recorded delta stream, so acks and deltas may arrive in
  any order.
- `--db` (a SQLite file) checks afterwards that every acked `vote_id` is in
  `dashboard_vote`.
- `--url` may list several servers (comma-separated: the workers of a
  cluster); viewers and voters are spread over them round-robin, so a vote
  is visible only when it reached the viewers of every server.
- `--cpu-pids name=pid,...` reports the CPU seconds each process tree used in
  the measured window (`cpu_seconds`: a server, PostgreSQL's postmaster with
  its sessions, Redis...); `delivered_in_window` counts the `votes` frames
  every connection received in it.
- `--connect-rate` paces opening connections (per second; 0: as fast as
  `--connect-concurrency` allows).
- `--storm N` (the join storm, the moment the QR code goes up): after the
  warm-up, while the steady viewers watch and the voters vote, N more viewer
  connections open at `--storm-rate` per second. The measured window is the
  storm (from its first connection until the last has its snapshot). Reported:
  how long it took, each join's time to its snapshot, the server's CPU per
  joined connection (`/proc/<pid>/stat` before and after, also net of the
  server's CPU rate measured for as long just before the storm), and for the
  steady viewers the longest wait between two `votes` deltas during the storm
  next to the same figure in the quiet window before it (the stall). Latency
  figures are over the steady viewers only.

Prints one JSON object (and writes it to `--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import json
import math
import random
import resource
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
    cpu_used,
    mask_frame,
    parse_cpu_pids,
    proc_cpu_seconds,
    proc_runqueue_wait,
    trees_cpu_seconds,
)

NAMESPACE = "/map-dashboard"
NS_PREFIX = NAMESPACE + ","
PROVINCES = [f"{n:02d}" for n in range(1, 53)]
# Sent: Engine.IO MESSAGE ("4") + Socket.IO CONNECT ("0") to the namespace.
OPEN_NS = ("40" + NS_PREFIX).encode()
# Received, after the Engine.IO "4": the Socket.IO packet type and namespace.
CONNECTED_PREFIX = ("0" + NS_PREFIX).encode()
EVENT_PREFIX = ("2" + NS_PREFIX).encode()
ACK_PREFIX = ("3" + NS_PREFIX).encode()
ERROR_PREFIX = ("4" + NS_PREFIX).encode()
VOTES_PREFIX = EVENT_PREFIX + b'["votes",'
SNAPSHOT_PREFIX = EVENT_PREFIX + b'["snapshot",'















class Conn(RawSocketIOConnection):
    """One Socket.IO client of the generator (WebSocket framing in bench/rawsocket.py)."""

    def __init__(self, gen: "LoadGen", role: str, host: str) -> None:
        super().__init__(host)
        self.gen = gen
        self.role = role
        self.last_version: int | None = None
        self.next_ack = 0
        self.pending: dict[int, tuple[float, str, str]] = {}
        # longest wait between two `votes` deltas since `gap_from` (steady viewers)
        self.last_delta_at = 0.0
        self.max_gap = 0.0
        # versions of deltas received before the snapshot (the page keeps and replays them)
        self.early: list[int] = []
        # set-up phases (perf_counter): started, TCP connected, Engine.IO OPEN received, snapshot received
        self.t_start = self.t_made = self.t_open = self.t_snapshot = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t_made = time.perf_counter()
        super().connection_made(transport)

    def on_lost(self) -> None:
        self.gen.on_lost(self)

    # ----- Engine.IO / Socket.IO ----------------------------------------------
    def on_text(self, payload: bytes, now: float) -> None:
        kind = payload[:1]
        if kind == b"4":
            if payload.startswith(VOTES_PREFIX, 1):
                self.gen.on_votes(self, payload, now)
            elif payload.startswith(ACK_PREFIX, 1):
                self.gen.on_ack(self, payload, now)
            elif payload.startswith(SNAPSHOT_PREFIX, 1):
                self.gen.on_snapshot(self, payload, now)
            elif payload.startswith(CONNECTED_PREFIX, 1):
                pass  # namespace connected; the snapshot follows
            elif payload.startswith(ERROR_PREFIX, 1):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(payload.decode()))
        elif kind == b"2":  # Engine.IO ping
            self.transport.write(mask_frame(1, b"3"))
        elif kind == b"0":  # Engine.IO open
            self.t_open = now
            self.transport.write(mask_frame(1, OPEN_NS))
        elif kind == b"1":
            self.transport.close()

    def send_vote(self, now: float) -> str:
        ack_id = self.next_ack
        self.next_ack += 1
        vote_id = str(uuid.uuid4())
        province = random.choice(PROVINCES)
        self.pending[ack_id] = (now, vote_id, province)
        self.send_text(
            f'42{NS_PREFIX}{ack_id}["vote",{{"province":"{province}","direction":"up","vote_id":"{vote_id}"}}]'
        )
        return vote_id


class LoadGen:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.targets = []  # (host, port) of each server, connections round-robin over them
        for url in args.url.split(","):
            parts = urlsplit(url.strip())
            self.targets.append((parts.hostname or "127.0.0.1", parts.port or 80))
        self.opened = 0
        self.counting = False  # inside the measured window
        self.delivered = 0
        self.viewers: list[Conn] = []
        self.voters: list[Conn] = []
        # delta stream: version -> (first receive time, counts); completion per version
        self.deltas: dict[int, dict[str, int]] = {}
        self.remaining: dict[int, int] = {}
        self.all_seen: dict[int, float] = {}
        self.first_seen: dict[int, float] = {}
        self.parsed: dict[bytes, int] = {}
        self.snapshot_counts: dict[str, int] | None = None
        self.snapshot_version = 0
        self.viewer_total = 0
        self.gaps = 0
        self.lost = 0
        self.acks: list[tuple[float, float, str, int, int, str]] = []
        self.errors: Counter[str] = Counter()
        self.sent = 0
        self.stopping = False

    # ----- callbacks from connections -------------------------------------
    def on_snapshot(self, conn: Conn, payload: bytes, now: float) -> None:
        data = json.loads(payload[1 + len(EVENT_PREFIX) :])[1]
        version = data["version"]
        # Like the page (frontend/src/dashboard/state.js): deltas that arrived before the
        # snapshot and follow on from it are applied on top of it, not counted as gaps.
        for early in sorted(conn.early):
            if early == version + 1:
                version = early
        conn.early = []
        conn.last_version = version
        if self.snapshot_counts is None:
            self.snapshot_counts = {p["code"]: p["votes"] for p in data["provinces"]}
            self.snapshot_version = data["version"]
        if not conn.ready.done():
            conn.t_snapshot = now
            conn.ready.set_result(None)

    def on_votes(self, conn: Conn, payload: bytes, now: float) -> None:
        version = self.parsed.get(payload)
        if version is None:
            data = json.loads(payload[1 + len(EVENT_PREFIX) :])[1]
            version = data["version"]
            if version not in self.deltas:
                self.deltas[version] = data["counts"]
                self.first_seen[version] = now
                self.remaining[version] = self.viewer_total
            if len(self.parsed) > 256:
                self.parsed.clear()
            self.parsed[payload] = version
        if self.counting:
            self.delivered += 1
        last = conn.last_version
        if last is None and not conn.ready.done():
            conn.early.append(version)
        elif last is not None and version != last + 1 and version > last:
            self.gaps += 1
        conn.last_version = version
        if conn.role == "viewer":
            if now - conn.last_delta_at > conn.max_gap:
                conn.max_gap = now - conn.last_delta_at
            conn.last_delta_at = now
            left = self.remaining[version] - 1
            self.remaining[version] = left
            if left == 0:
                self.all_seen[version] = now

    def on_ack(self, conn: Conn, payload: bytes, now: float) -> None:
        body = payload[1 + len(ACK_PREFIX) :]
        bracket = body.find(b"[")
        ack_id = int(body[:bracket])
        sent_at, vote_id, province = conn.pending.pop(ack_id)
        envelope = json.loads(body[bracket:])[0]
        if envelope.get("ok"):
            data = envelope["data"]
            self.acks.append((sent_at, now, province, data["votes"], data["version"], vote_id))
        else:
            self.errors[envelope.get("error", {}).get("code", "?")] += 1

    def on_lost(self, conn: Conn) -> None:
        if not self.stopping:
            self.lost += 1

    # ----- phases ------------------------------------------------------------
    async def open(self, role: str, count: int, *, rate: float = 0.0,
                   join_times: list[float] | None = None) -> list[Conn]:
        """Open `count` connections, at most `rate` starts per second (0: unpaced),
        at most --connect-concurrency at a time; `join_times` gets each one's
        seconds from its start to its snapshot."""
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(self.args.connect_concurrency)
        conns: list[Conn] = []

        async def one(start_at: float) -> None:
            delay = start_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            host, port = self.targets[self.opened % len(self.targets)]
            self.opened += 1
            async with sem:
                for attempt in range(5):
                    started = time.perf_counter()
                    try:
                        _, conn = await loop.create_connection(
                            lambda: Conn(self, role, f"{host}:{port}"), host, port
                        )
                        await asyncio.wait_for(conn.ready, 30)
                        conns.append(conn)
                        if join_times is not None:
                            join_times.append(time.perf_counter() - started)
                            conn.t_start = started
                        return
                    except (OSError, asyncio.TimeoutError, ConnectionError):
                        await asyncio.sleep(0.2 * (attempt + 1))
                raise ConnectionError(f"could not open a {role} connection")

        first = time.perf_counter()
        await asyncio.gather(*(one(first + (i / rate if rate > 0 else 0.0)) for i in range(count)))
        return conns

    async def run(self) -> dict:
        args = self.args
        self.stopping = False
        started = time.perf_counter()
        n_voters = max(1, math.ceil(args.rate / args.max_voter_rate)) if args.rate > 0 else 0
        self.viewers = await self.open("viewer", args.viewers, rate=args.connect_rate)
        self.viewer_total = len(self.viewers)
        self.voters = await self.open("voter", n_voters, rate=args.connect_rate) if n_voters else []
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(1.0)  # let connect-time snapshots and `viewers` settle
        # A collection in the generator would delay every receive time stamp and show
        # up as server latency: freeze what exists and keep the collector off while
        # measuring (the generator makes almost no cyclic garbage).
        gc.collect()
        gc.freeze()
        gc.disable()

        interval = 0.005
        cpu_pids = parse_cpu_pids(args.cpu_pids)
        trees0: dict[str, float | None] = {}
        begin = time.perf_counter()
        warm_end = begin + args.warmup
        end = warm_end + args.duration
        storm: asyncio.Task[list[Conn]] | None = None
        storm_info: dict = {}
        if args.storm:
            # A quiet window as long as the storm is expected to take, then the storm;
            # the measured window is the storm itself.
            expected = args.storm / args.storm_rate if args.storm_rate > 0 else 10.0
            quiet_start = begin + args.warmup
            warm_end = quiet_start + min(expected, args.duration)
            end = float("inf")
            storm_info["quiet_start"] = quiet_start
        cpu0 = wall0 = None
        server_cpu0 = server_wait0 = None
        sent_in_window: list[str] = []
        window_first = None
        index = 0
        due = 0.0
        last = begin
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            if args.storm:
                if "quiet_cpu0" not in storm_info and now >= storm_info["quiet_start"]:
                    storm_info["quiet_cpu0"] = proc_cpu_seconds(args.server_pid) if args.server_pid else None
                    storm_info["quiet_t0"] = now
                    for viewer in self.viewers:
                        viewer.max_gap = 0.0
                if storm is None and now >= warm_end:
                    storm_info["quiet_cpu1"] = proc_cpu_seconds(args.server_pid) if args.server_pid else None
                    storm_info["quiet_t1"] = now
                    storm_info["quiet_gaps"] = [v.max_gap for v in self.viewers]
                    for viewer in self.viewers:
                        viewer.max_gap = 0.0
                    storm_info["join_times"] = []
                    storm = asyncio.ensure_future(self.open(
                        "storm", args.storm, rate=args.storm_rate, join_times=storm_info["join_times"]))
                elif storm is not None and storm.done() and end == float("inf"):
                    end = now  # the window ends when the last storm connection has its snapshot
            if cpu0 is None and now >= warm_end:
                cpu0, wall0 = cpu_seconds(), now
                server_cpu0 = proc_cpu_seconds(args.server_pid) if args.server_pid else None
                server_wait0 = proc_runqueue_wait(args.server_pid) if args.server_pid else None
                trees0 = trees_cpu_seconds(cpu_pids)
                window_first = len(self.acks)
                self.counting = True
            due += (now - last) * args.rate
            last = now
            burst = int(due)
            due -= burst
            for _ in range(burst):
                voter = self.voters[index % n_voters]
                index += 1
                vote_id = voter.send_vote(now)
                self.sent += 1
                if now >= warm_end:
                    sent_in_window.append(vote_id)
            await asyncio.sleep(interval)
        cpu1, wall1 = cpu_seconds(), time.perf_counter()
        server_cpu1 = proc_cpu_seconds(args.server_pid) if args.server_pid else None
        server_wait1 = proc_runqueue_wait(args.server_pid) if args.server_pid else None
        trees1 = trees_cpu_seconds(cpu_pids)
        self.counting = False
        acks_at_end = len(self.acks)
        storm_conns: list[Conn] = []
        if storm is not None:
            storm_conns = storm.result()
            storm_info["storm_gaps"] = [v.max_gap for v in self.viewers]
            storm_info["storm_cpu"] = (
                server_cpu1 - server_cpu0 if server_cpu0 is not None and server_cpu1 is not None else None)
        # Drain: wait for outstanding acks and for the last deltas to reach every viewer.
        drain_deadline = time.perf_counter() + args.drain
        while time.perf_counter() < drain_deadline:
            outstanding = sum(len(v.pending) for v in self.voters)
            if outstanding == 0 and self._all_delivered():
                break
            await asyncio.sleep(0.05)
        self.stopping = True
        gc.enable()
        measured_seconds = wall1 - wall0
        result = self.summarise(sent_in_window, wall0, wall1, measured_seconds)
        result.update(
            connect_seconds=round(connect_seconds, 2),
            voters=n_voters,
            generator_cpu=round((cpu1 - cpu0) / measured_seconds, 3),
            server_cpu=(
                round((server_cpu1 - server_cpu0) / measured_seconds, 3)
                if server_cpu0 is not None and server_cpu1 is not None else None
            ),
            # share of the window the server was runnable but waiting for its CPU
            server_cpu_wait=(
                round((server_wait1 - server_wait0) / measured_seconds, 3)
                if server_wait0 is not None and server_wait1 is not None else None
            ),
            acks_received_in_window_per_s=round((acks_at_end - window_first) / measured_seconds, 1),
            delivered_in_window=self.delivered,
            cpu_seconds=cpu_used(trees0, trees1),
        )
        # Server CPU time per acked vote: comparable across runs even when the shared
        # machine gives the server less than a whole core.
        if result["server_cpu"] is not None and result["acked_per_s"]:
            result["server_cpu_us_per_vote"] = round(result["server_cpu"] / result["acked_per_s"] * 1e6, 1)
        if storm is not None:
            result["storm"] = self.storm_summary(storm_info, storm_conns, measured_seconds)
        for conn in self.viewers + self.voters + storm_conns:
            conn.close()
        await asyncio.sleep(0.2)
        return result

    def storm_summary(self, info: dict, conns: list[Conn], seconds: float) -> dict:
        """The join storm's figures (see the module docstring)."""
        joins = sorted(info["join_times"])
        quiet_gaps = sorted(info["quiet_gaps"])
        storm_gaps = sorted(info["storm_gaps"])

        def pct(values: list[float], q: float, scale: float = 1000.0) -> float | None:
            if not values:
                return None
            return round(values[min(len(values) - 1, int(q * len(values)))] * scale, 1)

        joined = len(conns)

        def phase(a: str, b: str) -> float | None:
            values = sorted(getattr(c, b) - getattr(c, a) for c in conns
                            if getattr(c, a, 0.0) and getattr(c, b, 0.0))
            return pct(values, 0.50)

        out = {
            "connections": joined,
            "offered_rate": self.args.storm_rate,
            "seconds": round(seconds, 2),
            "joined_per_s": round(joined / seconds, 1) if seconds else None,
            "join_p50_ms": pct(joins, 0.50),
            "join_p99_ms": pct(joins, 0.99),
            "join_max_ms": round(joins[-1] * 1000, 1) if joins else None,
            # median of each set-up phase: TCP connect (the server's accept queue), HTTP upgrade
            # and Engine.IO handshake, Socket.IO namespace connect until the snapshot
            "phase_tcp_p50_ms": phase("t_start", "t_made"),
            "phase_upgrade_open_p50_ms": phase("t_made", "t_open"),
            "phase_namespace_snapshot_p50_ms": phase("t_open", "t_snapshot"),
            # per steady viewer: the longest wait between two deltas, quiet window vs storm
            "quiet_gap_p50_ms": pct(quiet_gaps, 0.50),
            "quiet_gap_max_ms": round(quiet_gaps[-1] * 1000, 1) if quiet_gaps else None,
            "storm_gap_p50_ms": pct(storm_gaps, 0.50),
            "storm_gap_p99_ms": pct(storm_gaps, 0.99),
            "storm_gap_max_ms": round(storm_gaps[-1] * 1000, 1) if storm_gaps else None,
        }
        storm_cpu = info.get("storm_cpu")
        if storm_cpu is not None and joined:
            quiet_cpu0, quiet_cpu1 = info.get("quiet_cpu0"), info.get("quiet_cpu1")
            quiet_rate = ((quiet_cpu1 - quiet_cpu0) / (info["quiet_t1"] - info["quiet_t0"])
                          if quiet_cpu0 is not None and quiet_cpu1 is not None else 0.0)
            out.update(
                server_cpu_s=round(storm_cpu, 2),
                quiet_server_cpu=round(quiet_rate, 3),
                server_cpu_ms_per_connection=round(storm_cpu / joined * 1000, 2),
                # minus what the server spent at its quiet rate (the steady viewers and votes)
                excess_cpu_ms_per_connection=round(
                    max(0.0, storm_cpu - quiet_rate * seconds) / joined * 1000, 2),
            )
        return out

    def _all_delivered(self) -> bool:
        return all(left <= 0 for left in self.remaining.values())

    def summarise(self, sent_in_window: list[str], t0: float, t1: float, seconds: float) -> dict:
        args = self.args
        window_ids = set(sent_in_window)
        # Per province: versions in order with the absolute count after each delta.
        per_province: dict[str, tuple[list[int], list[int]]] = {}
        for version in sorted(self.deltas):
            for code, count in self.deltas[version].items():
                counts, versions = per_province.setdefault(code, ([], []))
                counts.append(count)
                versions.append(version)
        latencies: list[float] = []
        by_second: dict[int, list[float]] = {}
        unseen = 0
        acked_in_window = []
        for sent_at, acked_at, province, votes, _version, vote_id in self.acks:
            if vote_id not in window_ids:
                continue
            acked_in_window.append(vote_id)
            counts, versions = per_province.get(province, ([], []))
            i = bisect.bisect_left(counts, votes)
            seen_at = None
            # the first delta carrying a count >= the ack's, completed by every viewer
            while i < len(counts):
                seen_at = self.all_seen.get(versions[i])
                if seen_at is not None:
                    break
                i += 1
            if seen_at is None:
                unseen += 1
                continue
            latency = max(0.0, seen_at - sent_at) * 1000
            latencies.append(latency)
            by_second.setdefault(int(sent_at - t0), []).append(latency)
        ack_latencies = sorted(
            (acked_at - sent_at) * 1000 for sent_at, acked_at, *_rest, vote_id in self.acks if vote_id in window_ids
        )
        latencies.sort()

        def pct(values: list[float], q: float) -> float | None:
            if not values:
                return None
            return round(values[min(len(values) - 1, int(q * len(values)))], 1)

        missing_in_db = None
        if args.db:
            missing_in_db = check_database(args.db, [a[5] for a in self.acks])
        versions_in_window = [v for v, t in self.first_seen.items() if t0 <= t < t1]
        return {
            "url": args.url,
            "label": args.label,
            "viewers": self.viewer_total,
            "offered_rate": args.rate,
            "duration": round(seconds, 2),
            "sent_in_window": len(sent_in_window),
            "acked_in_window": len(acked_in_window),
            "acked_per_s": round(len(acked_in_window) / seconds, 1),
            "errors": dict(self.errors),
            "unacked": len(sent_in_window) - len(acked_in_window) - sum(self.errors.values()),
            "visible_p50_ms": pct(latencies, 0.50),
            "visible_p95_ms": pct(latencies, 0.95),
            "visible_p99_ms": pct(latencies, 0.99),
            "visible_max_ms": round(latencies[-1], 1) if latencies else None,
            "ack_p50_ms": pct(ack_latencies, 0.50),
            "ack_p99_ms": pct(ack_latencies, 0.99),
            "not_visible_everywhere": unseen,
            "deltas_per_s": round(len(versions_in_window) / seconds, 1),
            "version_gaps": self.gaps,
            "connections_lost": self.lost,
            "acked_total": len(self.acks),
            "missing_in_db": missing_in_db,
            # per second of the window (by send time): [votes, p50 ms, max ms]
            "timeline": [
                [len(v), round(sorted(v)[len(v) // 2], 1), round(max(v), 1)]
                for _, v in sorted(by_second.items())
            ],
        }


def check_database(path: str, vote_ids: list[str]) -> int:
    """How many acked vote_ids are NOT in dashboard_vote (Django stores UUIDs as 32 hex digits)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        con.execute("CREATE TEMP TABLE acked (id TEXT PRIMARY KEY)")
        con.executemany("INSERT OR IGNORE INTO acked VALUES (?)", [(uuid.UUID(v).hex,) for v in vote_ids])
        (missing,) = con.execute(
            "SELECT COUNT(*) FROM acked WHERE id NOT IN (SELECT vote_id FROM dashboard_vote)"
        ).fetchone()
        return int(missing)
    finally:
        con.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500, help="votes/s offered in total")
    parser.add_argument("--max-voter-rate", type=float, default=8.0, help="votes/s per voter connection")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for late acks/deltas")
    parser.add_argument("--connect-concurrency", type=int, default=64)
    parser.add_argument("--connect-rate", type=float, default=0.0,
                        help="new connections per second while setting up (0: unpaced)")
    parser.add_argument("--storm", type=int, default=0,
                        help="join storm: this many more viewers connect during the window")
    parser.add_argument("--storm-rate", type=float, default=500.0, help="storm connections per second")
    parser.add_argument("--db", default="", help="SQLite file to check every acked vote_id against")
    parser.add_argument("--server-pid", type=int, default=0, help="measure this process's CPU too")
    parser.add_argument("--cpu-pids", default="", help="name=pid,...: process trees whose CPU to report")
    parser.add_argument("--label", default="")
    parser.add_argument("--json", default="", help="also write the result here")
    parser.add_argument("--acked-out", default="",
                        help="write every acked vote_id here, one a line (run.py checks them again after the stop)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 65536)) if hard != resource.RLIM_INFINITY else max(soft, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    gen = LoadGen(args)
    try:
        import uvloop

        result = uvloop.run(gen.run())
    except ImportError:  # pragma: no cover
        result = asyncio.run(gen.run())
    if args.acked_out:
        with open(args.acked_out, "w") as fh:
            fh.writelines(f"{ack[5]}\n" for ack in gen.acks)
    text = json.dumps(result)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
