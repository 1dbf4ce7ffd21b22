"""Run the /chat benchmark: the site and a bare python-socketio baseline, side by side.

    python bench/chat/run.py --rates 100,150,200,250 --members 200 --duration 15

For each server (the site: uvicorn + Django + SQLite + trending words; the
bare baseline: bench/chat/bare_server.py with python-socketio's stock
manager; optionally `bare-fast`, the same bare server with the site's
task-free client manager) it starts one uvicorn process
pinned to CPU 0 (`taskset -c 0`) and runs bench/chat/loadgen.py pinned to
CPU 1 (`taskset -c 1`) at each offered rate, alternating site and baseline
at each rate so both see the same machine conditions. The site gets a fresh
SQLite database (migrated, so the `cats` room exists) and every acked message
is checked in it afterwards. Results go to bench/chat/results.json; the
sustained rate is the highest offered rate whose messages were all acked and
delivered to every member with p99 send-to-all-delivered <= 200 ms.

`site@N` is the site with CHAT_TICK_MS=N (the group commit's tick), so
ticks can be compared in one interleaved run: `--servers site@10,site@25`.

With `--base-root /path/to/another/checkout`, the kind `site-base` runs that
checkout's site (e.g. the previous main) next to `site`, alternating at each
rate like the other kinds (bench/checkouts.py):

    python bench/chat/run.py --servers site,site-base --base-root ../old --rates 200,300 --repeat 2

Every site server runs with the edge's per-address limits lifted
(bench/checkouts.py BENCH_ENV): the generator's members all come from
127.0.0.1 without a session cookie.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
sys.path.insert(0, str(ROOT))
from bench import checkouts  # noqa: E402

# `--nice -10` (root only) lets the server and the generator win their cores
# from other work on a shared machine; both servers get the same treatment.
NICE: list[str] = []
CPUS = {"server": "0", "generator": "1"}
UVICORN = [PY, "-m", "uvicorn", "--host", "127.0.0.1", "--ws", "websockets-sansio",
           "--ws-per-message-deflate", "false", "--log-level", "warning", "--no-access-log"]
BASE_ROOT: list[Path] = []  # --base-root, for the `-base` kinds


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


class Server:
    def __init__(self, kind: str, port: int, workdir: Path) -> None:
        self.kind, self.port, self.workdir = kind, port, workdir
        self.db = workdir / f"bench-chat-{kind}.sqlite3"
        self.env = {
            **os.environ, "DJANGO_DEBUG": "False", "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
            "DJANGO_ENV_FILE": "", "SQLITE_PATH": str(self.db), "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.proc: subprocess.Popen | None = None

    # `site-loop` / `site-stock`: the site with SOCKETIO_BROADCAST_PATH=loop / stock.
    PATH_KINDS = {"site-loop": "loop", "site-stock": "stock"}

    @property
    def is_site(self) -> bool:
        return checkouts.plain(self.kind).partition("@")[0] in ("site", *self.PATH_KINDS)

    def start(self) -> None:
        base_root = BASE_ROOT[0] if BASE_ROOT else None
        if self.is_site:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.db) + suffix).unlink(missing_ok=True)
            self.env = checkouts.env_for(self.kind, base_root, self.env)
            name, _, tick = checkouts.plain(self.kind).partition("@")
            if name in self.PATH_KINDS:
                self.env["SOCKETIO_BROADCAST_PATH"] = self.PATH_KINDS[name]
            if tick:  # `site@25`: the group commit's CHAT_TICK_MS
                self.env["CHAT_TICK_MS"] = tick
            migrate, cwd = checkouts.manage_command(self.kind, base_root, "migrate", "--noinput", "-v", "0",
                                                    python=PY)
            subprocess.run(migrate, cwd=cwd, env=self.env, check=True)
            cmd, cwd = checkouts.server_command(self.kind, base_root, port=self.port, python=PY)
            ready = f"http://127.0.0.1:{self.port}/healthz"
        else:
            cmd, cwd = [*UVICORN, "--port", str(self.port), "bench.chat.bare_server:app"], ROOT
            if self.kind == "bare-fast":
                self.env["BARE_MANAGER"] = "fast"
            ready = f"http://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=polling"
        log = open(self.workdir / f"{self.kind}.log", "ab")
        self.proc = subprocess.Popen([*NICE, "taskset", "-c", CPUS["server"], *cmd],
                                     cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(ready)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return -1.0


def loadgen(server: Server, rate: float, args: argparse.Namespace) -> dict:
    cmd = [*NICE, "taskset", "-c", CPUS["generator"], PY, str(ROOT / "bench" / "chat" / "loadgen.py"),
           "--url", f"http://127.0.0.1:{server.port}", "--members", str(args.members),
           "--rate", str(rate), "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--server-pid", str(server.proc.pid), "--label", server.kind]
    if server.is_site:
        cmd += ["--db", str(server.db)]
    load_before = loadavg()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.duration * 4 + 120)
    if out.returncode != 0:
        return {"label": server.kind, "offered_rate": rate, "failed": out.stderr[-2000:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The machine is shared: the 1-minute load average before and after each run.
    result["loadavg_before_after"] = [load_before, loadavg()]
    return result


def ok(result: dict) -> bool:
    p99 = result.get("delivered_p99_ms")
    return (not result.get("failed") and p99 is not None and p99 <= 200 and result["unacked"] == 0
            and not result["errors"] and result["not_delivered_to_all"] == 0
            and result.get("missing_in_db") in (None, 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,150,200,250")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--servers", default="site,bare",
                        help="any of site, site-base (the site of --base-root), bare (stock manager), "
                             "bare-fast (the site's manager, nothing else)")
    checkouts.add_argument(parser)
    parser.add_argument("--repeat", type=int, default=1, help="runs per rate and server (best p99 kept)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "chat" / "results.json"))
    parser.add_argument("--nice", type=int, default=0, help="run server and generator under `nice -n N`")
    parser.add_argument("--server-cpu", default="0", help="CPU for the servers; the generator gets the other one")
    args = parser.parse_args()
    if args.base_root:
        BASE_ROOT.append(args.base_root)
    CPUS["server"] = args.server_cpu
    CPUS["generator"] = "1" if args.server_cpu == "0" else "0"
    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
    rates = [float(r) for r in args.rates.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    kinds = args.servers.split(",")
    servers = [Server(kind, 8791 + i, workdir) for i, kind in enumerate(kinds)]
    results: list[dict] = []
    try:
        for server in servers:
            server.start()
        for rate in rates:
            for _ in range(args.repeat):
                for server in servers:
                    result = loadgen(server, rate, args)
                    result["repeat"] = _
                    results.append(result)
                    print(json.dumps(result), flush=True)
                    time.sleep(2)
    finally:
        for server in servers:
            server.stop()
    summary = {}
    every: dict[str, float | None] = {}
    for kind in kinds:
        # A rate counts as sustained when at least one of its repeats passed
        # (the others may have shared the CPU with other work on the machine).
        good = [r["offered_rate"] for r in results if r.get("label") == kind and ok(r)]
        summary[kind] = max(good) if good else None
        # The stricter figure: the highest rate whose every repeat passed, with
        # every lower rate passing too (what the docs quote).
        held = None
        for rate in rates:
            runs = [r for r in results if r.get("label") == kind and r["offered_rate"] == rate]
            if not runs or not all(ok(r) for r in runs):
                break
            held = rate
        every[kind] = held
    if summary.get("site") and summary.get("bare"):
        summary["ratio_site_to_bare"] = round(summary["site"] / summary["bare"], 2)
    report = {"members": args.members, "duration": args.duration, "rates": rates, "nice": args.nice,
              "cpus": dict(CPUS),
              "command": " ".join(sys.argv),
              "cpu_count": os.cpu_count(), "results": results, "sustained": summary,
              "sustained_every_repeat": every,
              "log_dir": str(workdir)}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({"sustained": summary, "sustained_every_repeat": every}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
