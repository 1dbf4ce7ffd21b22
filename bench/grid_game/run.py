"""Run one grid game benchmark: a server pinned to core 0, the generator to core 1.

    .venv/bin/python bench/grid_game/run.py --server site --arenas 50 --players 8
    .venv/bin/python bench/grid_game/run.py --server bare --arenas 1 --players 256

--server site        the site (votemap_site, its configured client manager)
--server site-stock  the site with python-socketio's stock AsyncManager
--server bare        bench/grid_game/bare_server.py (stock python-socketio, no Django)
--server site-base   the site of another checkout (--base-root, e.g. the previous
                     main), through bench/checkouts.py

Several servers (`--server site,site-base`) and `--repeat N` run the servers
one after the other, N rounds, so that they share the machine's background
load; compare them as ratios within one invocation:

    .venv/bin/python bench/grid_game/run.py --server site,site-base --base-root ../old --repeat 2

Every site server runs with the edge's per-address limits lifted
(bench/checkouts.py BENCH_ENV) and GAME_ANONYMOUS_SEATS high: the generator's
players all come from 127.0.0.1 without a session cookie.

The site runs against a fresh SQLite file with arenas created through the ORM
(`bench-a-<n>`: 20x10, 8 players, 3 coins; `bench-crowd`: 32x32, up to 1000
players, 10 coins; the bare server also uses 32x32 for the crowd and
20x10 otherwise). Each run appends its figures to bench/grid_game/results.json.
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
RESULTS = Path(__file__).with_name("results.json")
SERVERS = ("site", "site-stock", "bare", "site-base", "site-stock-base")
sys.path.insert(0, str(ROOT))
from bench import checkouts  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_env(db_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "SQLITE_PATH": str(db_path),
        "REDIS_URL": "",
        "GAME_IDLE_SECONDS": "3600",
        # The load generator's clients have no session cookie: lift the cap on
        # anonymous seats so every simulated player gets one.
        "GAME_ANONYMOUS_SEATS": "1000",
    }


def prepare_site(kind: str, base_root: Path | None, env: dict[str, str], arenas: int, crowd: bool) -> None:
    db_path = Path(env["SQLITE_PATH"])
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    migrate, cwd = checkouts.manage_command(kind, base_root, "migrate", "--noinput", "-v", "0", python=PY)
    subprocess.run(migrate, cwd=cwd, env=env, check=True)
    script = f"""
from grid_game.models import Arena
Arena.objects.bulk_create([
    Arena(slug=f"bench-a-{{i}}", name=f"Bench {{i}}", width=20, height=10, max_players=8, coins=3)
    for i in range({arenas})
])
Arena.objects.create(slug="bench-crowd", name="Crowd", width=32, height=32, max_players=1000, coins=10)
"""
    shell, cwd = checkouts.manage_command(kind, base_root, "shell", "-c", script, python=PY)
    subprocess.run(shell, cwd=cwd, env=env, check=True)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="site", help="one or several (comma-separated) of " + ", ".join(SERVERS))
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the servers")
    parser.add_argument("--arenas", type=int, default=50)
    parser.add_argument("--players", type=int, default=8)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--sample-every", type=int, default=1)
    parser.add_argument("--label", default="")
    parser.add_argument("--client", choices=("skim", "raw", "websockets"), default="skim",
                        help="the generator's WebSocket client (bench/grid_game/loadgen.py)")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the generator's event loop")
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--generator-core", default="1")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON file the runs are appended to")
    checkouts.add_argument(parser)
    args = parser.parse_args()
    servers = [k for k in args.server.split(",") if k]
    unknown = [k for k in servers if k not in SERVERS]
    if unknown:
        parser.error(f"unknown server {unknown}; choose from {', '.join(SERVERS)}")
    for repeat in range(args.repeat):
        for kind in servers:
            result = run_one(kind, args)
            result["repeat"] = repeat
            results = json.loads(args.results.read_text()) if args.results.exists() else []
            results.append(result)
            args.results.write_text(json.dumps(results, indent=1) + "\n")
            print(json.dumps(result, indent=1), flush=True)


def run_one(kind: str, args: argparse.Namespace) -> dict:
    crowd = args.arenas == 1
    load_before = os.getloadavg()[0]
    port = free_port()
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    stats_path = tmp / f"bench-game-stats-{port}.json"
    log_path = tmp / f"bench-game-server-{port}.log"
    cwd = ROOT
    if kind == "bare":
        env = {**os.environ, "BARE_WIDTH": "32" if crowd else "20", "BARE_HEIGHT": "32" if crowd else "10"}
        cmd = [PY, "-m", "uvicorn", "bench.grid_game.bare_server:app", "--host", "127.0.0.1",
               "--port", str(port), "--lifespan", "on", "--ws", "websockets-sansio",
               "--ws-per-message-deflate", "false", "--no-access-log", "--log-level", "warning"]
    else:
        env = checkouts.env_for(kind, args.base_root, site_env(tmp / f"bench-game-{kind}.sqlite3"))
        prepare_site(kind, args.base_root, env, args.arenas if not crowd else 0, crowd)
        env["BENCH_STATS_PATH"] = str(stats_path)
        if checkouts.plain(kind) == "site-stock":
            env["BENCH_MANAGER"] = "stock"
        cmd, cwd = checkouts.server_command(kind, args.base_root, port=port, python=PY,
                                            app="bench.grid_game.site_app:application")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(["taskset", "-c", args.server_core, *cmd], cwd=cwd, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, server)
        gen = ["taskset", "-c", args.generator_core, PY, str(ROOT / "bench/grid_game/loadgen.py"),
               "--url", f"http://127.0.0.1:{port}", "--arenas", str(args.arenas), "--players", str(args.players),
               "--rate", str(args.rate), "--warmup", str(args.warmup), "--duration", str(args.duration),
               "--sample-every", str(args.sample_every), "--server-pid", str(server.pid),
               "--client", args.client, "--loop", args.loop]
        if crowd:
            gen += ["--arena", "bench-crowd"]
        if kind != "bare":
            gen += ["--stats-file", str(stats_path)]
        proc = subprocess.run(gen, cwd=ROOT, capture_output=True, text=True,
                              timeout=args.warmup + args.duration + 300)
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(proc.returncode)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
    manager = None
    if stats_path.exists():
        manager = json.loads(stats_path.read_text()).get("manager")
        stats_path.unlink()
    result.update({
        "server": kind,
        "manager": manager or ("AsyncManager (stock)" if kind == "bare" else None),
        "label": args.label,
        "hz": float(os.environ.get("GAME_TICK_HZ", "20")),
        "command": " ".join(sys.argv[1:]),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return result


if __name__ == "__main__":
    main()
