"""Run the vote map benchmark: the site against the once-per-vote baseline, side by side.

    .venv/bin/python bench/dashboard/run.py                 # the full matrix
    .venv/bin/python bench/dashboard/run.py --quick         # a short smoke run
    .venv/bin/python bench/dashboard/run.py --memory-only   # RSS per idle connection

For every viewer count and offered vote rate, each server kind is started
fresh (a copy of a freshly migrated SQLite database for the site) pinned to
CPU 0 with `taskset -c 0`, and bench/dashboard/loadgen.py runs pinned to CPU 1
(`taskset -c 1`). Kinds are interleaved point by point, so both see the same
background load on this shared machine; compare ratios from one run, not
absolute figures across runs.

Server kinds:
- `site`: the real site (`votemap_site.asgi:application`: validation, rate
  limits, group commit to SQLite per tick, coalesced deltas, the task-free
  client manager);
- `site-loop`: the site with SOCKETIO_BROADCAST_PATH=loop (python-socketio's and
  engine.io's public API in one task-free loop, no direct frames);
- `site-stock`: the same with python-socketio's stock `AsyncManager`
  (bench/dashboard/stock_manager_asgi.py), to isolate the broadcast path;
- `baseline`: bench/dashboard/baseline_server.py, one broadcast per vote with
  the stock manager (the talk's design);
- `baseline-fast`: the same with the task-free manager.

A site kind may carry a tick: `site@100` runs the site with
DASHBOARD_TICK_MS=100 (the default tick is the site's setting, 50 ms).

With `--base-root /path/to/another/checkout`, `site-base` (and
`site-stock-base`, `site-base@100`) run that checkout's site, e.g. the
previous main, interleaved with `site` point by point (bench/checkouts.py):

    .venv/bin/python bench/dashboard/run.py --kinds site,site-base --base-root ../old \
        --rates "1000:2000,3000" --repeat 2 --no-memory

Every site server runs with the edge's per-address limits lifted
(bench/checkouts.py BENCH_ENV): the generator's clients all come from
127.0.0.1 without a session cookie.

Writes bench/dashboard/results/<stamp>.json (every point, machine load) and
prints a markdown table; bench/dashboard/chart.py draws the PNG charts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
from bench import checkouts  # noqa: E402

PY = sys.executable
RESULTS = HERE / "results"
SERVER_CPU = "0"
CLIENT_CPU = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit(want: int = 65536) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def site_env(sqlite_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "False",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SQLITE_PATH": str(sqlite_path),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    return env


def make_template_db(workdir: Path, kind: str, base_root: Path | None) -> Path:
    """A freshly migrated database of the kind's checkout (its migrations)."""
    template = workdir / ("template-base.sqlite3" if checkouts.is_base(kind) else "template.sqlite3")
    if not template.exists():
        cmd, cwd = checkouts.manage_command(kind, base_root, "migrate", "--noinput", "-v", "0", python=PY)
        subprocess.run(cmd, cwd=cwd, env=checkouts.env_for(kind, base_root, site_env(template)),
                       check=True, timeout=300)
    return template


class Server:
    """One server process pinned to CPU 0."""

    def __init__(self, kind: str, workdir: Path, base_root: Path | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        self.db: Path | None = None
        self.log_path = workdir / f"{kind.replace('@', '-')}-{self.port}.log"
        base, _, tick = checkouts.plain(kind).partition("@")
        cwd = ROOT
        if base in ("site", "site-stock", "site-loop"):
            self.db = workdir / f"{kind.replace('@', '-')}-{self.port}.sqlite3"
            shutil.copyfile(make_template_db(workdir, kind, base_root), self.db)
            env = checkouts.env_for(kind, base_root, site_env(self.db))
            if tick:
                env["DASHBOARD_TICK_MS"] = str(int(tick))
            if base == "site-loop":  # the public-API broadcast loop instead of direct frames
                env["SOCKETIO_BROADCAST_PATH"] = "loop"
                base = "site"
            app = checkouts.SITE_APP if base == "site" else "bench.dashboard.stock_manager_asgi:application"
            cmd, cwd = checkouts.server_command(kind, base_root, port=self.port, app=app, python=PY)
        elif kind in ("baseline", "baseline-fast"):
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            cmd = [PY, str(HERE / "baseline_server.py"), "--port", str(self.port),
                   "--manager", "fast" if kind == "baseline-fast" else "stock"]
        else:
            raise ValueError(kind)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *cmd], cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/socket.io/?EIO=4&transport=polling", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not start; see {self.log_path}")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_point(server: Server, viewers: int, rate: float, args: argparse.Namespace, workdir: Path) -> dict:
    out = workdir / f"point-{server.kind.replace('@', '-')}-{viewers}-{int(rate)}.json"
    cmd = [
        "taskset", "-c", CLIENT_CPU, PY, str(HERE / "loadgen.py"),
        "--url", server.url, "--viewers", str(viewers), "--rate", str(rate),
        "--duration", str(args.duration), "--warmup", str(args.warmup), "--drain", str(args.drain),
        "--server-pid", str(server.proc.pid), "--label", server.kind, "--json", str(out),
    ]
    acked_out = out.with_suffix(".acked")
    if server.db is not None:
        cmd += ["--db", str(server.db), "--acked-out", str(acked_out)]
    load_before = loadavg()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=args.duration + args.warmup + args.drain + 180)
    if proc.returncode != 0 or not out.exists():
        return {"label": server.kind, "viewers": viewers, "offered_rate": rate,
                "failed": (proc.stderr or proc.stdout)[-2000:]}
    result = json.loads(out.read_text())
    result["server_kind"] = server.kind
    result["load_before"] = load_before
    result["load_after"] = loadavg()
    result["server_rss_kib"] = server.rss_kib() if server.proc.poll() is None else None
    result["_acked_file"] = str(acked_out) if acked_out.exists() else None
    return result


def recheck_after_stop(point: dict) -> None:
    """The acked vote_ids looked up again once the server has stopped (its connections
    closed, the WAL checkpointed): `missing_after_stop` must be 0 like `missing_in_db`."""
    path, db = point.pop("_acked_file", None), point.pop("db_path", None)
    if not path or not db:
        return
    sys.path.insert(0, str(HERE))
    import loadgen

    ids = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    point["missing_after_stop"] = loadgen.check_database(db, ids)


async def hold_idle_connections(url: str, count: int, hold: float, measure) -> dict:
    sys.path.insert(0, str(HERE))
    import loadgen

    args = loadgen.parse_args(["--url", url, "--viewers", str(count), "--rate", "0"])
    gen = loadgen.LoadGen(args)
    conns = await gen.open("viewer", count)
    await asyncio.sleep(hold)
    after = measure()
    for conn in conns:
        conn.close()
    await asyncio.sleep(0.5)
    return {"opened": len(conns), "rss_after_kib": after}


def memory_point(kind: str, workdir: Path, base_root: Path | None, count: int) -> dict:
    server = Server(kind, workdir, base_root)
    try:
        # Warm up (imports, first snapshot, caches), then measure the idle baseline.
        asyncio.run(hold_idle_connections(server.url, 20, 1.0, server.rss_kib))
        time.sleep(1.0)
        before = server.rss_kib()
        held = asyncio.run(hold_idle_connections(server.url, count, 3.0, server.rss_kib))
        per_conn = (held["rss_after_kib"] - before) / max(1, held["opened"])
        return {"kind": kind, "connections": held["opened"], "rss_before_kib": before,
                "rss_after_kib": held["rss_after_kib"], "kib_per_connection": round(per_conn, 1)}
    finally:
        server.stop()


def markdown_table(points: list[dict]) -> str:
    head = ("| server | viewers | voters | offered/s | acked/s | p50 ms | p95 ms | p99 ms | ack p99 ms "
            "| not visible | unacked | errors | deltas/s | server CPU | server CPU wait | CPU µs/vote | generator CPU "
            "| missing in DB | load |")
    lines = [head, "|" + "|".join(["---"] * 19) + "|"]
    for p in points:
        if "failed" in p:
            lines.append(f"| {p['label']} | {p['viewers']} | | {p['offered_rate']:.0f} | failed | | | | | | | | | | | | | | |")
            continue
        errors = ", ".join(f"{k} {v}" for k, v in p["errors"].items()) or "0"
        missing = "n/a" if p["missing_in_db"] is None else p["missing_in_db"]
        wait = "-" if p.get("server_cpu_wait") is None else f"{p['server_cpu_wait']:.0%}"

        def ms(value):
            return "-" if value is None else f"{value:.0f}"

        lines.append(
            f"| {p['server_kind']} | {p['viewers']} | {p['voters']} | {p['offered_rate']:.0f} | {p['acked_per_s']:.0f} "
            f"| {ms(p['visible_p50_ms'])} | {ms(p['visible_p95_ms'])} | {ms(p['visible_p99_ms'])} | {ms(p['ack_p99_ms'])} "
            f"| {p['not_visible_everywhere']} | {p['unacked']} | {errors} | {p['deltas_per_s']} "
            f"| {p['server_cpu']:.0%} | {wait} | {p.get('server_cpu_us_per_vote', '-')} | {p['generator_cpu']:.0%} "
            f"| {missing} | {p['load_before'][0]} |"
        )
    return "\n".join(lines)


def parse_rates(spec: str) -> dict[int, list[float]]:
    """"100:500,1000;1000:500,1000" -> {100: [500, 1000], 1000: [500, 1000]}"""
    table: dict[int, list[float]] = {}
    for part in spec.split(";"):
        if part.strip():
            viewers, rates = part.split(":")
            table[int(viewers)] = [float(r) for r in rates.split(",") if r]
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description="vote map benchmark runner")
    parser.add_argument("--kinds", default="site,baseline", help="comma-separated server kinds")
    parser.add_argument("--rates", default="100:500,1000,2000,3000,4000;1000:500,1000,2000,3000,4000",
                        help="viewers:rate,rate;... for the site kinds")
    parser.add_argument("--baseline-rates", default="100:50,100,200,500,1000;1000:10,25,50,100,500",
                        help="viewers:rate,... for the baseline kinds")
    parser.add_argument("--kind-rates", default="{}",
                        help='JSON {"kind": "viewers:rate,...;..."} overriding the rates of one kind')
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--memory-connections", type=int, default=2000)
    parser.add_argument("--memory-kinds", default="site,baseline")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole matrix this many times")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--name", default="", help="results file name (default: a UTC time stamp)")
    checkouts.add_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.rates = "100:500"
        args.baseline_rates = "100:100"
        args.duration, args.warmup, args.drain = 4.0, 1.0, 3.0
        args.memory_connections = 200

    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    nofile = raise_fd_limit()
    kinds = [k for k in args.kinds.split(",") if k]
    site_rates, baseline_rates = parse_rates(args.rates), parse_rates(args.baseline_rates)
    per_kind = {
        kind: (parse_rates(spec) if kind in json.loads(args.kind_rates) else
               baseline_rates if kind.startswith("baseline") else site_rates)
        for kind in kinds for spec in [json.loads(args.kind_rates).get(kind, "")]
    }
    stamp = args.name or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "uptime_load": loadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "nofile": list(nofile),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    points: list[dict] = []
    memory: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vm-bench-") as tmp:
        workdir = Path(tmp)
        if not args.memory_only:
            for repeat in range(args.repeat):
                viewer_counts = sorted({v for table in per_kind.values() for v in table})
                for viewers in viewer_counts:
                    # Interleave kinds at each rate so they share the machine's background load.
                    rates = sorted({r for table in per_kind.values() for r in table.get(viewers, [])})
                    for rate in rates:
                        for kind in kinds:
                            if rate not in per_kind[kind].get(viewers, []):
                                continue
                            server = Server(kind, workdir, args.base_root)
                            try:
                                point = run_point(server, viewers, rate, args, workdir)
                            finally:
                                server.stop()
                            if server.db is not None:
                                point["db_path"] = str(server.db)
                                recheck_after_stop(point)
                            point.pop("_acked_file", None)
                            point["repeat"] = repeat
                            points.append(point)
                            brief = {k: point.get(k) for k in ("server_kind", "viewers", "offered_rate", "acked_per_s",
                                                               "visible_p99_ms", "server_cpu", "server_cpu_wait",
                                                               "generator_cpu", "missing_in_db", "missing_after_stop",
                                                               "failed")}
                            print(json.dumps(brief), flush=True)
        if not args.no_memory:
            for kind in [k for k in args.memory_kinds.split(",") if k]:
                result = memory_point(kind, workdir, args.base_root, args.memory_connections)
                memory.append(result)
                print(json.dumps(result), flush=True)
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["uptime_load_end"] = loadavg()
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "points": points, "memory": memory}, indent=1) + "\n")
    print()
    print(markdown_table(points))
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
