"""Server CPU per new map connection, by the size of the audience already connected.

    .venv/bin/python bench/dashboard/connect_cost.py --kinds site,site-base --base-root ../base \
        --steps 2000,2000,2000,2000,2000 --repeat 2 --name connect-cost

For each kind a fresh site server is started on CPU 0 (bench/dashboard/run.py's
`Server`), and this process, on CPU 1, opens the audience in steps: each step
connects its viewers (WebSocket transport, a `/map-dashboard` CONNECT, the
`snapshot`) with at most `--concurrency` set-ups in flight, keeps them open, and
reads the server's CPU (`/proc/<pid>/stat`) before and after. Reported per step:
the audience before it, wall time, connections per second and the server's CPU
per connection. No votes are cast, so the figure is the connection's own cost
(HTTP upgrade, Engine.IO handshake, the edge, the namespace CONNECT, the
snapshot, the viewer count) and how it grows, or not, with the audience: the
`viewers` pushes a join causes are part of it. The generator's own CPU is
reported too, so a generator-limited step can be told apart.

Writes bench/dashboard/results/<name>.json (git-ignored) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
from bench import checkouts  # noqa: E402
from bench.dashboard.run import CLIENT_CPU, RESULTS, Server, loadavg, raise_fd_limit  # noqa: E402
from bench.rawsocket import RawSocketIOConnection, cpu_seconds, proc_cpu_seconds  # noqa: E402

NAMESPACE = "/map-dashboard"


class Viewer(RawSocketIOConnection):
    """Opens Engine.IO, joins the map, and resolves `joined` on its snapshot."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.joined = asyncio.get_running_loop().create_future()

    def on_text(self, payload: bytes, now: float) -> None:
        kind = payload[:1]
        if kind == b"0":  # Engine.IO OPEN
            if not self.ready.done():
                self.ready.set_result(now)
            self.send_text(f"40{NAMESPACE},")
        elif kind == b"2":  # PING
            self.send_text("3")
        elif payload.startswith(b'42' + NAMESPACE.encode() + b',["snapshot"') and not self.joined.done():
            self.joined.set_result(now)
        elif payload.startswith(b"44") and not self.joined.done():
            self.joined.set_exception(ConnectionError(payload[:200].decode(errors="replace")))

    def on_lost(self) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError("closed before its snapshot"))


async def connect_one(port: int) -> Viewer:
    loop = asyncio.get_running_loop()
    _, viewer = await loop.create_connection(lambda: Viewer(f"127.0.0.1:{port}"), "127.0.0.1", port)
    await asyncio.wait_for(viewer.joined, 60)
    return viewer


async def connect_step(port: int, count: int, concurrency: int) -> tuple[list[Viewer], int]:
    gate = asyncio.Semaphore(concurrency)
    failed = 0

    async def one() -> Viewer | None:
        nonlocal failed
        async with gate:
            try:
                return await connect_one(port)
            except (OSError, ConnectionError, asyncio.TimeoutError):
                failed += 1
                return None

    viewers = await asyncio.gather(*(one() for _ in range(count)))
    return [v for v in viewers if v is not None], failed


async def measure(server: Server, steps: list[int], concurrency: int, settle: float) -> list[dict]:
    pid = server.proc.pid
    open_viewers: list[Viewer] = []
    rows = []
    try:
        for count in steps:
            await asyncio.sleep(settle)  # the previous step's viewers pushes and sweeps die down
            before, gen_before, started = proc_cpu_seconds(pid), cpu_seconds(), time.perf_counter()
            joined, failed = await connect_step(server.port, count, concurrency)
            wall = time.perf_counter() - started
            after, gen_after = proc_cpu_seconds(pid), cpu_seconds()
            rows.append({
                "audience_before": len(open_viewers), "joined": len(joined), "failed": failed,
                "wall_s": round(wall, 2), "joined_per_s": round(len(joined) / wall, 1) if wall else None,
                "server_cpu_ms_per_conn": (round(1000 * (after - before) / len(joined), 2)
                                           if joined and after is not None and before is not None else None),
                "server_cpu": round((after - before) / wall, 3) if wall and after is not None else None,
                "generator_cpu": round((gen_after - gen_before) / wall, 3) if wall else None,
                "load": loadavg(),
            })
            open_viewers.extend(joined)
            print(json.dumps({"kind": server.kind, **rows[-1]}), flush=True)
    finally:
        for viewer in open_viewers:
            viewer.close()
        await asyncio.sleep(0.5)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="site")
    parser.add_argument("--steps", default="2000,2000,2000,2000,2000", help="viewers connected per step")
    parser.add_argument("--concurrency", type=int, default=256, help="set-ups in flight at once")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before each step")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--name", default="")
    checkouts.add_argument(parser)
    args = parser.parse_args()
    if os.environ.get("VOTEMAP_CONNECT_COST_CHILD") != "1":
        # Re-run pinned to the generator's CPU (the server is pinned by Server).
        env = {**os.environ, "VOTEMAP_CONNECT_COST_CHILD": "1"}
        raise SystemExit(subprocess.call(["taskset", "-c", CLIENT_CPU, sys.executable, *sys.argv], env=env))
    raise_fd_limit(1 << 17)
    steps = [int(x) for x in args.steps.split(",") if x]
    kinds = [k for k in args.kinds.split(",") if k]
    results = []
    with tempfile.TemporaryDirectory(prefix="connect-cost-") as tmp:
        for repeat in range(args.repeat):
            for kind in kinds:
                server = Server(kind, Path(tmp), args.base_root)
                try:
                    rows = asyncio.run(measure(server, steps, args.concurrency, args.settle))
                finally:
                    server.stop()
                results.append({"kind": kind, "repeat": repeat, "steps": rows})
    RESULTS.mkdir(exist_ok=True)
    name = args.name or time.strftime("connect-cost-%Y%m%d-%H%M%S", time.gmtime())
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"command": sys.argv[1:], "runs": results}, indent=1))
    print("\n| server | repeat | audience before | joined | failed | s | joined/s | server CPU ms/conn "
          "| server CPU | generator CPU | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in results:
        for row in run["steps"]:
            print(f"| {run['kind']} | {run['repeat']} | {row['audience_before']} | {row['joined']} | {row['failed']} "
                  f"| {row['wall_s']} | {row['joined_per_s']} | {row['server_cpu_ms_per_conn']} "
                  f"| {row['server_cpu']} | {row['generator_cpu']} | {row['load'][0]} |")
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
