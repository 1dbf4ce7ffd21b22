"""Load generator for the grid game: many players, each moving about 5 times a second.

Speaks Engine.IO v4 / Socket.IO v5 over raw WebSockets (the `websockets`
package) so that one generator core can drive hundreds of players: a `state`
frame is not JSON-decoded, only its `tick` is read.

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
import bisect
import json
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for bench.*
from bench.rawsocket import cpu_used, parse_cpu_pids, trees_cpu_seconds  # noqa: E402

NS = "/grid-game"
TICK_RE = re.compile(r'"tick":(\d+)')
STEPS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
        self.ws = None
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
        await self.ws.send(f'42{NS},{ack_id}{json.dumps([event, payload], separators=(",", ":"))}')
        return await future

    async def reader(self) -> None:
        prefix_state = f'42{NS},["state"'
        prefix_ack = f"43{NS},"
        try:
            async for message in self.ws:
                now = time.perf_counter()
                if message.startswith(prefix_state):
                    match = TICK_RE.search(message, 0, 120)
                    if match:
                        self.ticks.append(int(match.group(1)))
                        self.times.append(now)
                        self.last_state = message
                elif message.startswith(prefix_ack):
                    body = message[len(prefix_ack):]
                    split = body.index("[")
                    future = self.acks.pop(int(body[:split]), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(body[split:])[0])
                elif message == "2":
                    await self.ws.send("3")
        except Exception:
            pass

    async def start(self) -> None:
        url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await connect(url, compression=None, max_size=2**24, ping_interval=None,
                                open_timeout=60)
        opening = await self.ws.recv()
        assert opening.startswith("0"), opening
        await self.ws.send(f"40{NS},")
        reply = await self.ws.recv()
        assert reply.startswith(f"40{NS},"), reply
        self.reader_task = asyncio.create_task(self.reader())
        ack = await self.call("join_game", {"arena": self.arena, "name": f"bot{self.index}"})
        if not ack.get("ok"):
            raise RuntimeError(f"join {self.arena} failed: {ack}")
        you = ack["data"]["you"]
        self.x, self.y = you["x"], you["y"]
        self.width, self.height = ack["data"]["arena"]["width"], ack["data"]["arena"]["height"]

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
    for p in run.players:
        p.reader_task.cancel()
    await asyncio.gather(*(p.ws.close() for p in run.players), return_exceptions=True)
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
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args()))))
