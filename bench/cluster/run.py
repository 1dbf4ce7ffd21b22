"""The map and the game in cluster mode beside the embedded mode, in one run.

    .venv/bin/python bench/cluster/run.py                       # both parts, every kind, 2 repeats
    .venv/bin/python bench/cluster/run.py --parts map --kinds embedded,cluster-redis --repeat 1 --quick

Kinds (interleaved point by point, so that they share the machine's load):
- `embedded`: one `python -m votemap_site.serve` on PostgreSQL, no queue (the
  same database as the cluster kinds, so the difference is the queue and the
  second process, not SQLite against PostgreSQL);
- `embedded-sqlite`: one process on SQLite, the site's default embedded mode;
- `cluster-redis`: two workers on PostgreSQL + Redis (fan-out, presence, locks);
- `cluster-rabbitmq`: two workers on PostgreSQL + RabbitMQ, no Redis
  (presence and locks in PostgreSQL).

PostgreSQL, Redis and RabbitMQ are instances of the run's own
(tests/own_services.py) on 127.0.0.1, so that every CPU second they use is
the site's: PostgreSQL with its durable defaults (a commit waits for its WAL
flush), Redis without persistence. Each point gets a fresh database (a copy
of a migrated template with the game's arenas) and fresh workers. Nothing is
pinned: the workers, the services and the load generator share the 2 cores,
as a cluster's processes would share a host's; the generator's own CPU is
reported beside.

The generators (bench/dashboard/loadgen.py, bench/grid_game/loadgen.py)
spread their clients over the workers round-robin and read the CPU of every
process tree (each worker, the postmaster with its sessions, the queue
server) over the measured window. Map points: viewers with no votes (the idle
cost), two viewer counts at one vote rate and a low rate, so that a worker's
CPU can be split into an idle part, a part per vote, per delta and per
delivered frame (bench/cluster/capacity.py). Before the points, the
run measures how many WAL flushes a second this disk does (pg_test_fsync),
and before each repeat how long one group commit takes back to back
(bench/cluster/commit_cost.py): with the state row locked from a batch's
first statement to its commit, batches run one at a time site-wide, which
bounds the commits per second of the whole site.

Writes the raw results to bench/results/cluster-<stamp>.json (git-ignored)
and the summary the chart and the capacity model read to
bench/cluster/summary.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
from bench import checkouts  # noqa: E402
from tests import own_services  # noqa: E402  (the test suite's private service instances)

PY = sys.executable
RESULTS = ROOT / "bench" / "results"
SUMMARY = HERE / "summary.json"
KINDS = {
    "embedded": {"workers": 1, "database": "postgres", "queue": None},
    "embedded-sqlite": {"workers": 1, "database": "sqlite", "queue": None},
    "cluster-redis": {"workers": 2, "database": "postgres", "queue": "redis"},
    "cluster-rabbitmq": {"workers": 2, "database": "postgres", "queue": "rabbitmq"},
}
# The game's arenas in the template database (as bench/grid_game/run.py makes them).
ARENAS_SCRIPT = """
from grid_game.models import Arena
Arena.objects.bulk_create([
    Arena(slug=f"bench-a-{i}", name=f"Bench {i}", width=20, height=10, max_players=8, coins=3)
    for i in range(%d)
])
"""


def git_commit(root: Path) -> str | None:
    found = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (found.stdout.strip() + ("+changes" if dirty else "")) if found.returncode == 0 else None


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# The checkout whose site runs (--site-root: another one, e.g. a branch not yet on main).
SITE_ROOT = ROOT


def base_env() -> dict[str, str]:
    """What every server and manage.py of the run gets: nothing of the caller's site settings."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    return {
        **keep, **checkouts.BENCH_ENV,
        "PYTHONPATH": str(SITE_ROOT),
        "DJANGO_DEBUG": "False", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_LOG_LEVEL": "WARNING",
        "SOCKETIO_TRANSPORTS": "websocket",
        "GAME_ANONYMOUS_SEATS": "1000", "GAME_IDLE_SECONDS": "3600",
    }


class Services:
    """The run's PostgreSQL, Redis and RabbitMQ, and its template databases."""

    def __init__(self, stack: contextlib.ExitStack, kinds: list[str], workdir: Path, arenas: int) -> None:
        needs = {KINDS[kind]["queue"] for kind in kinds} | {KINDS[kind]["database"] for kind in kinds}
        self.workdir = workdir
        self.postgres = self.redis = self.rabbitmq = None
        if "postgres" in needs:
            self.postgres = stack.enter_context(own_services.postgres(
                bind="127.0.0.1", trust="127.0.0.1/32", database="votemap_template", durable=True))
            self.prepare({"DATABASE_URL": self.postgres.url}, arenas)
        if "sqlite" in needs:
            self.sqlite_template = workdir / "template.sqlite3"
            self.prepare({"SQLITE_PATH": str(self.sqlite_template), "DATABASE_URL": ""}, arenas)
        if "redis" in needs:
            self.redis = stack.enter_context(own_services.redis(bind="127.0.0.1"))
        if "rabbitmq" in needs:
            self.rabbitmq = stack.enter_context(own_services.rabbitmq(bind="127.0.0.1"))

    @staticmethod
    def prepare(database_env: dict[str, str], arenas: int) -> None:
        env = {**base_env(), **database_env}
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=SITE_ROOT, env=env, check=True,
                       timeout=300)
        subprocess.run([PY, "manage.py", "shell", "-c", ARENAS_SCRIPT % arenas], cwd=SITE_ROOT, env=env,
                       check=True, timeout=120)

    def fresh_database(self, kind: str) -> dict[str, str]:
        """The settings of a new database for one point (a copy of the template)."""
        if KINDS[kind]["database"] == "sqlite":
            path = self.workdir / f"point-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copyfile(self.sqlite_template, path)
            return {"SQLITE_PATH": str(path), "DATABASE_URL": ""}
        import psycopg

        name = f"point_{uuid.uuid4().hex[:10]}"
        admin = self.postgres.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE votemap_template')
        return {"DATABASE_URL": self.postgres.url.rsplit("/", 1)[0] + "/" + name}

    def drop(self, database_env: dict[str, str]) -> None:
        if database_env.get("SQLITE_PATH"):
            for suffix in ("", "-wal", "-shm"):
                Path(database_env["SQLITE_PATH"] + suffix).unlink(missing_ok=True)
            return
        import psycopg

        name = database_env["DATABASE_URL"].rsplit("/", 1)[1]
        with psycopg.connect(self.postgres.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stored_votes(self, database_env: dict[str, str]) -> int:
        if database_env.get("SQLITE_PATH"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(database_env["SQLITE_PATH"])) as conn:
                return conn.execute("SELECT COUNT(*) FROM dashboard_vote").fetchone()[0]
        import psycopg

        with psycopg.connect(database_env["DATABASE_URL"]) as conn:
            return conn.execute("SELECT COUNT(*) FROM dashboard_vote").fetchone()[0]


@contextlib.contextmanager
def workers(kind: str, services: Services, database_env: dict[str, str], workdir: Path) -> Iterator[dict]:
    """The kind's server processes on 127.0.0.1; yields their URLs and the process trees to measure."""
    spec = KINDS[kind]
    env = {**base_env(), **database_env,
           "SOCKETIO_REDIS_CHANNEL": f"bench-cluster-{uuid.uuid4().hex[:8]}",
           "REDIS_KEY_PREFIX": f"bench{uuid.uuid4().hex[:6]}:"}
    pids: dict[str, int] = {}
    if services.postgres is not None and spec["database"] == "postgres":
        pids["postgres"] = services.postgres.pid
    if spec["queue"] == "redis":
        env["REDIS_URL"] = services.redis.url
        pids["redis"] = services.redis.pid
    elif spec["queue"] == "rabbitmq":
        env["MESSAGE_QUEUE_URL"] = services.rabbitmq.url
        pids["rabbitmq"] = services.rabbitmq.pid
    procs: list[subprocess.Popen] = []
    urls = []
    try:
        for index in range(spec["workers"]):
            port = own_services.free_port("127.0.0.1")
            if SITE_ROOT == ROOT:
                cmd, cwd = checkouts.server_command("site", None, port=port, python=PY)
            else:
                cmd, cwd = checkouts.server_command("site-base", SITE_ROOT, port=port, python=PY)
            log = open(workdir / f"{kind}-{port}.log", "ab")
            procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
            log.close()
            urls.append(f"http://127.0.0.1:{port}")
            pids[f"worker{index}"] = procs[-1].pid
        for url, proc in zip(urls, procs, strict=True):
            wait_healthy(url, proc)
        yield {"urls": urls, "pids": pids}
    finally:
        for proc in procs:
            own_services.stop(proc, timeout=15)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"a worker exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


def run_map_point(kind: str, viewers: int, rate: float, services: Services, args, workdir: Path) -> dict:
    database_env = services.fresh_database(kind)
    out = workdir / f"map-{kind}-{viewers}-{int(rate)}-{uuid.uuid4().hex[:6]}.json"
    try:
        with workers(kind, services, database_env, workdir) as running:
            cmd = [PY, str(ROOT / "bench" / "dashboard" / "loadgen.py"), "--url", ",".join(running["urls"]),
                   "--viewers", str(viewers), "--rate", str(rate), "--duration", str(args.duration),
                   "--warmup", str(args.warmup), "--drain", str(args.drain), "--label", kind,
                   "--cpu-pids", ",".join(f"{name}={pid}" for name, pid in running["pids"].items()),
                   "--json", str(out)]
            before = loadavg()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  timeout=args.duration + args.warmup + args.drain + 240)
            after = loadavg()
            if proc.returncode != 0 or not out.exists():
                return {"part": "map", "kind": kind, "viewers": viewers, "offered_rate": rate,
                        "failed": (proc.stderr or proc.stdout)[-2000:], "load_before": before, "load_after": after}
            result = json.loads(out.read_text())
        result["stored_votes"] = services.stored_votes(database_env)
    finally:
        services.drop(database_env)
    result.update(part="map", kind=kind, load_before=before, load_after=after, workers=KINDS[kind]["workers"])
    result.pop("timeline", None)
    return result


def run_game_point(kind: str, services: Services, args, workdir: Path) -> dict:
    database_env = services.fresh_database(kind)
    before = after = None
    try:
        with workers(kind, services, database_env, workdir) as running:
            cmd = [PY, str(ROOT / "bench" / "grid_game" / "loadgen.py"), "--url", ",".join(running["urls"]),
                   "--arenas", str(args.game_arenas), "--players", str(args.game_players),
                   "--rate", str(args.game_rate), "--warmup", str(args.warmup), "--duration", str(args.duration),
                   "--drain", "2",
                   "--cpu-pids", ",".join(f"{name}={pid}" for name, pid in running["pids"].items())]
            before = loadavg()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  timeout=args.duration + args.warmup + 240)
            after = loadavg()
    finally:
        services.drop(database_env)
    if proc.returncode != 0:
        return {"part": "game", "kind": kind, "failed": (proc.stderr or proc.stdout)[-2000:],
                "load_before": before, "load_after": after}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(part="game", kind=kind, load_before=before, load_after=after, workers=KINDS[kind]["workers"])
    return result


def round_trips(services: Services, count: int = 500) -> dict[str, float]:
    """Median µs of one trivial request from Python: `SELECT 1` to PostgreSQL, PING to Redis."""
    import statistics

    found = {}
    if services.postgres is not None:
        import psycopg

        with psycopg.connect(services.postgres.url, autocommit=True) as conn:
            times = []
            for _ in range(count):
                start = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                times.append(time.perf_counter() - start)
        found["postgres_us"] = round(statistics.median(times) * 1e6, 1)
    if services.redis is not None:
        import redis

        client = redis.Redis.from_url(services.redis.url)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            client.ping()
            times.append(time.perf_counter() - start)
        client.close()
        found["redis_us"] = round(statistics.median(times) * 1e6, 1)
    return found


def commit_cost(services: Services, workdir: Path, *, quick: bool) -> dict | None:
    """bench/cluster/commit_cost.py on a fresh PostgreSQL database: the serialised part of a commit."""
    if services.postgres is None:
        return None
    database_env = services.fresh_database("embedded")
    out = workdir / f"commit-{uuid.uuid4().hex[:6]}.json"
    try:
        subprocess.run([PY, str(HERE / "commit_cost.py"), "--json", str(out),
                        *(["--batches", "20"] if quick else [])],
                       cwd=SITE_ROOT, env={**base_env(), **database_env}, check=True, capture_output=True,
                       timeout=600)
    finally:
        services.drop(database_env)
    return json.loads(out.read_text())


def flush_rate(workdir: Path) -> float | None:
    """WAL flushes a second on this disk (pg_test_fsync's fdatasync line, one 8 kB write each)."""
    binaries = own_services.postgres_bin()
    if binaries is None:
        return None
    test = subprocess.run([str(binaries / "pg_test_fsync"), "-s", "1", "-f", str(workdir / "fsync.test")],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r"one 8kB write.*?fdatasync\s+([\d.]+) ops/sec", test.stdout, re.S)
    return float(match.group(1)) if match else None


# ----- the summary (committed; the chart and bench/cluster/capacity.py read it) ----------
def per(value: float | None, count: float | None, scale: float = 1e6) -> float | None:
    return None if value is None or not count else round(value / count * scale, 1)


def summarise(raw: dict) -> dict:
    rows = []
    for p in raw["points"]:
        row = {key: p.get(key) for key in ("part", "kind", "repeat", "workers", "viewers", "offered_rate",
                                           "load_before", "load_after", "failed")}
        row["site_commit"] = raw["meta"].get("site_commit")
        if p.get("failed"):
            rows.append(row)
            continue
        cpu = p.get("cpu_seconds") or {}
        worker_cpu = sum(v for k, v in cpu.items() if k.startswith("worker") and v is not None)
        seconds = p.get("duration") or p.get("duration_s")
        if p["part"] == "map":
            votes = p["acked_in_window"]
            row.update(
                acked_per_s=p["acked_per_s"], deltas_per_s=p["deltas_per_s"],
                delivered_per_s=round(p["delivered_in_window"] / seconds, 1),
                visible_p99_ms=p["visible_p99_ms"], not_visible=p["not_visible_everywhere"],
                errors=p["errors"], unacked=p["unacked"], version_gaps=p["version_gaps"],
                stored_ok=p.get("stored_votes", 0) >= p["acked_total"],
                generator_cpu=p["generator_cpu"],
                cpu_share={k: round(v / seconds, 3) for k, v in cpu.items() if v is not None},
                worker_us_per_vote=per(worker_cpu, votes),
                postgres_us_per_vote=per(cpu.get("postgres"), votes),
                queue_us_per_vote=per(cpu.get("redis", cpu.get("rabbitmq")), votes),
                queue_us_per_delta=per(cpu.get("redis", cpu.get("rabbitmq")), p["deltas_per_s"] * seconds),
                postgres_us_per_delta=per(cpu.get("postgres"), p["deltas_per_s"] * seconds),
                total_us_per_vote=per(sum(v for v in cpu.values() if v is not None), votes),
                worker_cpu_s=round(worker_cpu, 3), votes=votes, deltas=round(p["deltas_per_s"] * seconds),
                delivered=p["delivered_in_window"], seconds=seconds,
            )
        else:
            moves = p["moves"]
            row.update(
                players=p["players"], moves_per_s=p["moves_per_s"], lost=p["lost"], deliveries=p["deliveries"],
                # every player of an arena in every player's state: one arena across the workers
                players_seen=p.get("players_seen"),
                one_arena=bool(p.get("players_seen")) and p["players_seen"][0] == p["players_per_arena"],
                seen_p99_ms=p["seen_ms"].get("99") or p["seen_ms"].get(99), errors=p["errors"],
                states_per_s=round(p["states_in_window"] / seconds, 1), generator_cpu=p["generator_cpu"],
                cpu_share={k: round(v / seconds, 3) for k, v in cpu.items() if v is not None},
                worker_us_per_move=per(worker_cpu, moves),
                worker_us_per_state=per(worker_cpu, p["states_in_window"]),
                postgres_us_per_move=per(cpu.get("postgres"), moves),
                queue_us_per_move=per(cpu.get("redis", cpu.get("rabbitmq")), moves),
                worker_cpu_s=round(worker_cpu, 3), moves=moves, states=p["states_in_window"], seconds=seconds,
            )
        rows.append(row)
    return {"meta": raw["meta"], "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="map,game")
    parser.add_argument("--kinds", default="embedded,cluster-redis,cluster-rabbitmq")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--map-points", default="100:0,100:400,1000:400,100:30",
                        help="viewers:votes/s,...: idle, two viewer counts at one rate and a low rate "
                             "(bench/cluster/capacity.py splits the CPU per vote, per delta, per frame)")
    parser.add_argument("--game-arenas", type=int, default=20)
    parser.add_argument("--game-players", type=int, default=8)
    parser.add_argument("--game-rate", type=float, default=5.0, help="moves/s per player")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=4.0)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--summary", type=Path, default=SUMMARY)
    parser.add_argument("--append", action="store_true",
                        help="add this run's rows to the summary instead of replacing it (its meta under 'appended')")
    parser.add_argument("--site-root", type=Path, default=None,
                        help="run the site of another checkout (its code and migrations; the generators stay ours)")
    args = parser.parse_args()
    if args.site_root is not None:
        global SITE_ROOT
        SITE_ROOT = checkouts.root_for("site-base", args.site_root)
    if args.quick:
        args.map_points, args.game_arenas = "20:0,20:60,60:60,20:15", 2
        args.duration, args.warmup, args.drain = 3.0, 1.0, 2.0
    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")
    parts = [part for part in args.parts.split(",") if part]
    gap = own_services.missing(queue="rabbitmq" if "cluster-rabbitmq" in kinds else "redis")
    if gap:
        parser.error(f"missing: {gap}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "loadavg_start": loadavg(),
            "site_root": str(SITE_ROOT), "site_commit": git_commit(SITE_ROOT),
            "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
            "placement": "nothing pinned: workers, PostgreSQL, the queue and the generator share every core",
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    points: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vm-bench-cluster-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        meta["wal_flushes_per_s"] = None if args.quick else flush_rate(workdir)
        services = Services(stack, kinds, workdir, arenas=args.game_arenas)
        meta["round_trips"] = round_trips(services)
        meta["commit_cost"] = []
        for repeat in range(args.repeat):
            if "map" in parts:
                meta["commit_cost"].append(commit_cost(services, workdir, quick=args.quick))
                print(json.dumps({"commit_cost": meta["commit_cost"][-1]}), flush=True)
            plan = []
            if "map" in parts:
                plan += [("map", tuple(map(float, item.split(":")))) for item in args.map_points.split(",") if item]
            if "game" in parts:
                plan += [("game", None)]
            for part, point_of in plan:
                for kind in kinds:  # interleaved: every kind at this point before the next point
                    try:
                        if part == "map":
                            point = run_map_point(kind, int(point_of[0]), point_of[1], services, args, workdir)
                        else:
                            point = run_game_point(kind, services, args, workdir)
                    except Exception as exc:  # one broken point must not lose the others
                        point = {"part": part, "kind": kind, "failed": repr(exc)[-2000:]}
                    point["repeat"] = repeat
                    points.append(point)
                    brief = {k: point.get(k) for k in ("part", "kind", "viewers", "acked_per_s", "moves_per_s",
                                                       "visible_p99_ms", "seen_ms", "lost", "cpu_seconds",
                                                       "load_before", "load_after", "failed")}
                    print(json.dumps(brief), flush=True)
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["loadavg_end"] = loadavg()
    raw = {"meta": meta, "points": points}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"cluster-{stamp}.json"
    path.write_text(json.dumps(raw, indent=1) + "\n")
    summary = summarise(raw)
    if args.append and args.summary.exists():
        previous = json.loads(args.summary.read_text())
        previous["meta"].setdefault("appended", []).append(summary["meta"])
        previous["rows"] += summary["rows"]
        summary = previous
    args.summary.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"results: {path.relative_to(ROOT)}\nsummary: {args.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
