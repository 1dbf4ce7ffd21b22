"""What an attack costs a well-behaved voter: a benchmark, not a test.

    .venv/bin/python bench/hostile.py                      # every attack, 2 repeats
    .venv/bin/python bench/hostile.py --attacks none,big-frame --seconds 5 --repeat 1
    .venv/bin/python bench/hostile.py --kinds site,site-base --base-root ../old   # also the previous code

For each attack, a fresh site server (`python -m votemap_site.serve`, the
edge at its default limits, a freshly migrated SQLite database) runs pinned
to CPU 0. Well-behaved voters (a separate process pinned to CPU 1, each with
a session cookie from a page view like a browser, so never limited by
address) vote at a steady rate within their limit and time every vote's ack;
the attacker (this process, also on CPU 1, cookie-less from 127.0.0.1 like a
script) runs for `--seconds` while the voters' acks are measured. The
server's RSS is read before the attack, every 50 ms during it (peak), and
`--settle` seconds after it stopped. The `none` phase is the same without
an attacker: the baseline, in the same run.

Attacks (each kept up for the whole phase: when the server closes the
attacking connection, the attacker opens a new one, as a script would):

- ns-reconnect: one connection votes as fast as acks come back, re-sending
  the namespace CONNECT after every 5 votes (before the edge, each CONNECT
  brought a full rate-limit bucket);
- non-reading: 4 connections that never read their socket ask for the map
  snapshot 4 times a second each and send blind PONGs, so replies back up in
  the server;
- big-frame: a 1 MiB WebSocket frame on a fresh connection, again and again;
- malformed: 200 malformed Socket.IO packets on a connection, again and again;
- idle-sessions: 50 Engine.IO sessions that never join a namespace, held open;
- snapshot-loop: `--loopers` (200) clients, each with a session of its own
  like 200 browsers (so no address limit applies), ask for the map snapshot
  again and again, each as soon as its previous answer came;
- reconnect-loop: as many such clients reload the map in a loop: a new
  Engine.IO connection, the namespace CONNECT (an identity lookup and the
  snapshot the server sends), close, again.
  The two loops' sessions are made before the phase starts; each is the
  load of issue target 5 (no request class starves another): the voters'
  ack p99 must stay within the budget.

Prints a markdown table; raw results go to bench/results/hostile-<stamp>.json
(git-ignored). The raw clients are tests/rawio.py's; tests/core/test_edge.py
asserts the outcomes, this measures them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import checkouts  # noqa: E402
from bench.rawsocket import cpu_seconds  # noqa: E402
from tests.rawio import NonReadingSocket, RawSocketIO  # noqa: E402

PY = sys.executable
MAP = "/map-dashboard"
SERVER_CPU, CLIENT_CPU = "0", "1"
RESULTS = ROOT / "bench" / "results"
ATTACKS = ("none", "ns-reconnect", "non-reading", "big-frame", "malformed", "idle-sessions",
           "snapshot-loop", "reconnect-loop")
MALFORMED = ["42/lobby,5", "49", f"42{MAP},[", f"42{MAP},7", "4x", f"43{MAP},"]


def vote_payload(n: int) -> dict:
    return {"province": f"{1 + n % 52:02d}", "direction": "up" if n % 3 else "down", "vote_id": str(uuid.uuid4())}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ----- the server --------------------------------------------------------------------
class Site:
    def __init__(self, kind: str, base_root: Path | None, workdir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        template = workdir / f"template-{kind}.sqlite3"
        env = {
            **os.environ, "DJANGO_DEBUG": "False", "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DATABASE_URL": "", "REDIS_URL": "",
        }
        # The edge's limits stay at their defaults: they are what is measured.
        env = checkouts.env_for(kind, base_root, env, lift_address_limits=False)
        if not template.exists():
            cmd, cwd = checkouts.manage_command(kind, base_root, "migrate", "--noinput", "-v", "0", python=PY)
            subprocess.run(cmd, cwd=cwd, env={**env, "SQLITE_PATH": str(template)}, check=True, timeout=300)
        db = workdir / f"{kind}-{self.port}.sqlite3"
        shutil.copyfile(template, db)
        env["SQLITE_PATH"] = str(db)
        cmd, cwd = checkouts.server_command(kind, base_root, port=self.port, python=PY)
        self.log_path = workdir / f"{kind}-{self.port}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, *cmd], cwd=cwd, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)

    def rss_kib(self) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


# ----- the well-behaved voters (their own process) -----------------------------------
def session_cookie(url: str) -> str:
    """The session cookie a browser gets from its first page view."""
    with urllib.request.urlopen(f"{url}/map/", timeout=10) as resp:
        for header in resp.headers.get_all("Set-Cookie") or []:
            if header.startswith("sessionid="):
                return header.split(";", 1)[0]
    raise RuntimeError("the map page set no session cookie")


async def voters_main(args: argparse.Namespace) -> None:
    """Vote at a steady rate; time the acks between the parent's `start` and `stop`."""
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "stop")

    clients = []
    for _ in range(args.voters):
        cookie = await asyncio.to_thread(session_cookie, args.voters_url)
        client = await RawSocketIO.open(args.voters_url, headers={"Cookie": cookie})
        await client.connect_namespace(MAP)
        clients.append(client)
    threading.Thread(target=read_stdin, daemon=True).start()
    measuring = False
    acks: list[float] = []
    refused: dict[str, int] = {}
    lost = sent = 0
    pending: set[asyncio.Task] = set()

    async def one(client: RawSocketIO, n: int) -> None:
        nonlocal lost
        counted = measuring
        start = time.perf_counter()
        try:
            ack = await client.call(MAP, "vote", vote_payload(n), timeout=args.ack_timeout)
        except (TimeoutError, ConnectionError):
            if counted:
                lost += 1
            return
        if counted:
            acks.append(1000 * (time.perf_counter() - start))
            if not ack.get("ok"):
                code = (ack.get("error") or {}).get("code", "?")
                refused[code] = refused.get(code, 0) + 1

    print("ready", flush=True)
    interval = 1.0 / args.vote_rate
    n = 0
    next_at = time.perf_counter()
    while True:
        try:
            command = commands.get_nowait()
        except asyncio.QueueEmpty:
            command = None
        if command == "start":
            measuring = True
        elif command == "stop":
            break
        for client in clients:
            n += 1
            sent += measuring
            task = asyncio.create_task(one(client, n))
            pending.add(task)
            task.add_done_callback(pending.discard)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    measuring_sent = sent
    if pending:
        await asyncio.wait(pending, timeout=args.ack_timeout + 1)
    print(json.dumps({"sent": measuring_sent, "acked": len(acks), "lost": lost, "refused": refused,
                      "ack_p50_ms": pct(acks, 0.50), "ack_p99_ms": pct(acks, 0.99),
                      "ack_max_ms": round(max(acks), 1) if acks else None,
                      "closed": sum(c.closed.is_set() for c in clients)}), flush=True)
    for client in clients:
        await client.close()


# ----- the attacks ------------------------------------------------------------------
async def _open(url: str, stats: dict) -> RawSocketIO | None:
    try:
        client = await RawSocketIO.open(url)
    except Exception:  # refused by the per-address limit, or a handshake cut short
        stats["refused_opens"] = stats.get("refused_opens", 0) + 1
        await asyncio.sleep(0.05)
        return None
    stats["connections"] = stats.get("connections", 0) + 1
    return client


async def _finish(client: RawSocketIO, stats: dict, *, wait: float = 0.0) -> None:
    if wait:
        await client.wait_closed(wait)
    if client.closed.is_set():
        stats["closed_by_server"] = stats.get("closed_by_server", 0) + 1
        code = str(client.close_code)
        codes = stats.setdefault("close_codes", {})
        codes[code] = codes.get(code, 0) + 1
    await client.close()


async def attack_ns_reconnect(url: str, stop: asyncio.Event, stats: dict) -> None:
    stats["votes_accepted"] = stats["votes_refused"] = 0
    n = 0
    while not stop.is_set():
        client = await _open(url, stats)
        if client is None:
            continue
        try:
            await client.connect_namespace(MAP)
            while not stop.is_set() and not client.closed.is_set():
                n += 1
                ack = await client.call(MAP, "vote", vote_payload(n), timeout=3)
                stats["votes_accepted" if ack.get("ok") else "votes_refused"] += 1
                if n % 5 == 0:
                    await client.disconnect_namespace(MAP)
                    await client.connect_namespace(MAP)
        except (ConnectionError, TimeoutError):
            pass
        await _finish(client, stats)


def _non_reading_loop(host: str, port: int, stop: threading.Event, stats: dict, lock: threading.Lock) -> None:
    n = 0
    while not stop.is_set():
        try:
            sock = NonReadingSocket(host, port)
        except (OSError, AssertionError, ConnectionError):
            with lock:
                stats["refused_opens"] = stats.get("refused_opens", 0) + 1
            stop.wait(0.05)
            continue
        with lock:
            stats["connections"] = stats.get("connections", 0) + 1
        alive = sock.send_text(f"40{MAP},")
        while alive and not stop.is_set():
            n += 1
            alive = (sock.send_text(f'42{MAP},{n}["get_snapshot",{{}}]') and sock.send_text("3")
                     and not sock.server_closed())
            stop.wait(0.25)
        if not alive:
            with lock:
                stats["closed_by_server"] = stats.get("closed_by_server", 0) + 1
        sock.close()


async def attack_non_reading(url: str, stop: asyncio.Event, stats: dict) -> None:
    port = int(url.rsplit(":", 1)[1])
    halt, lock = threading.Event(), threading.Lock()
    threads = [asyncio.to_thread(_non_reading_loop, "127.0.0.1", port, halt, stats, lock) for _ in range(4)]
    waiter = asyncio.gather(*threads)
    await stop.wait()
    halt.set()
    await waiter


async def attack_big_frame(url: str, stop: asyncio.Event, stats: dict) -> None:
    frame = "4" + "x" * (1 << 20)
    while not stop.is_set():
        client = await _open(url, stats)
        if client is None:
            continue
        try:
            await client.connect_namespace(MAP)
            stats["frames"] = stats.get("frames", 0) + await client.send(frame)
        except (ConnectionError, TimeoutError):
            pass
        await _finish(client, stats, wait=5)


async def attack_malformed(url: str, stop: asyncio.Event, stats: dict) -> None:
    while not stop.is_set():
        client = await _open(url, stats)
        if client is None:
            continue
        try:
            await client.connect_namespace(MAP)
            for i in range(200):
                if not await client.send(MALFORMED[i % len(MALFORMED)]):
                    break
                stats["packets"] = stats.get("packets", 0) + 1
        except (ConnectionError, TimeoutError):
            pass
        await _finish(client, stats, wait=5)


async def attack_idle_sessions(url: str, stop: asyncio.Event, stats: dict) -> None:
    held: list[RawSocketIO] = []
    while not stop.is_set():
        for client in [c for c in held if c.closed.is_set()]:
            held.remove(client)
            await _finish(client, stats)
        while len(held) < 50 and not stop.is_set():
            client = await _open(url, stats)
            if client is None:
                break
            held.append(client)
        stats["held_max"] = max(stats.get("held_max", 0), len(held))
        await asyncio.sleep(0.1)
    for client in held:
        await client.close()


async def _looper_sessions(url: str, count: int) -> list[str]:
    """One session cookie per looper, made before the phase (like browsers that loaded the page)."""
    cookies = []
    for _ in range(count):
        cookies.append(await asyncio.to_thread(session_cookie, url))
    return cookies


async def _loop_each(cookies: list[str], stop: asyncio.Event, body) -> None:
    async def looper(cookie: str) -> None:
        while not stop.is_set():
            try:
                await body(cookie)
            except (ConnectionError, TimeoutError, OSError):
                await asyncio.sleep(0.05)

    await asyncio.gather(*[looper(cookie) for cookie in cookies])


async def attack_snapshot_loop(url: str, stop: asyncio.Event, stats: dict, *, cookies: list[str]) -> None:
    stats["snapshots"] = stats["failed"] = 0

    async def body(cookie: str) -> None:
        client = await RawSocketIO.open(url, headers={"Cookie": cookie})
        stats["connections"] = stats.get("connections", 0) + 1
        try:
            await client.connect_namespace(MAP)
            while not stop.is_set() and not client.closed.is_set():
                ack = await client.call(MAP, "get_snapshot", {}, timeout=10)
                if ack.get("ok"):
                    stats["snapshots"] += 1
                else:  # the edge's per-connection limit (rate_limited), or a server error
                    stats["failed"] += 1
                    code = (ack.get("error") or {}).get("code", "?")
                    stats[f"failed_{code}"] = stats.get(f"failed_{code}", 0) + 1
        finally:
            await _finish(client, stats)

    await _loop_each(cookies, stop, body)


async def attack_reconnect_loop(url: str, stop: asyncio.Event, stats: dict, *, cookies: list[str]) -> None:
    stats["reconnects"] = 0

    async def body(cookie: str) -> None:
        client = await RawSocketIO.open(url, headers={"Cookie": cookie})
        try:
            # CONNECT, then the snapshot the server sends (whether before or after its CONNECT reply).
            await client.send(f"40{MAP},")
            await client.wait_for(lambda text: text.startswith(f'42{MAP},["snapshot"'), timeout=10)
            stats["reconnects"] += 1
        finally:
            await client.close()

    await _loop_each(cookies, stop, body)


LOOPS = {"snapshot-loop": attack_snapshot_loop, "reconnect-loop": attack_reconnect_loop}

ATTACK = {"ns-reconnect": attack_ns_reconnect, "non-reading": attack_non_reading, "big-frame": attack_big_frame,
          "malformed": attack_malformed, "idle-sessions": attack_idle_sessions}


# ----- one phase: a fresh server, the voters, one attack -----------------------------
async def phase(kind: str, attack: str, args: argparse.Namespace, workdir: Path) -> dict:
    site = Site(kind, args.base_root, workdir)
    load_before = loadavg()
    voters = await asyncio.create_subprocess_exec(
        "taskset", "-c", CLIENT_CPU, PY, str(Path(__file__).resolve()), "--voters-url", site.url,
        "--voters", str(args.voters), "--vote-rate", str(args.vote_rate), "--ack-timeout", str(args.ack_timeout),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )
    stats: dict = {}
    try:
        line = await asyncio.wait_for(voters.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"voters did not start: {line!r}; see {site.log_path}")
        attacker = ATTACK.get(attack)
        if attack in LOOPS:
            attacker = functools.partial(LOOPS[attack], cookies=await _looper_sessions(site.url, args.loopers))
        await asyncio.sleep(args.warmup)
        rss_before = site.rss_kib()
        peak = rss_before or 0
        stop = asyncio.Event()
        cpu0 = cpu_seconds()
        voters.stdin.write(b"start\n")
        await voters.stdin.drain()
        task = asyncio.create_task(attacker(site.url, stop, stats)) if attacker is not None else None
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            peak = max(peak, site.rss_kib() or 0)
            await asyncio.sleep(0.05)
        voters.stdin.write(b"stop\n")
        await voters.stdin.drain()
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 30)
        attacker_cpu = cpu_seconds() - cpu0
        measured = json.loads((await asyncio.wait_for(voters.stdout.readline(), 30)).decode())
        await asyncio.sleep(args.settle)
        rss_after = site.rss_kib()
        alive = site.proc.poll() is None
    finally:
        if voters.returncode is None:
            try:
                voters.stdin.close()
                await asyncio.wait_for(voters.wait(), 10)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                voters.kill()
                await voters.wait()
        site.stop()
    return {"kind": kind, "attack": attack, **measured, "rss_before_kib": rss_before, "rss_peak_kib": peak,
            "rss_after_kib": rss_after, "server_alive": alive, "attacker": stats,
            "attacker_cpu": round(attacker_cpu / args.seconds, 3), "load_before": load_before,
            "load_after": loadavg()}


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def table(rows: list[dict]) -> str:
    out = ["| server | attack | repeat | votes acked / sent | refused | lost | ack p50 ms | ack p99 ms "
           "| RSS before / peak / after MiB | attacker | load before → after |",
           "|" + "|".join(["---"] * 11) + "|"]
    for r in rows:
        attacker = ", ".join(f"{k} {v}" for k, v in r["attacker"].items() if k != "close_codes")
        codes = r["attacker"].get("close_codes")
        if codes:
            attacker += "; close codes " + ", ".join(f"{k}×{v}" for k, v in sorted(codes.items()))
        refused = ", ".join(f"{k} {v}" for k, v in r["refused"].items()) or "0"
        out.append(
            f"| {r['kind']} | {r['attack']} | {r['repeat']} | {r['acked']} / {r['sent']} | {refused} | {r['lost']} "
            f"| {r['ack_p50_ms']} | {r['ack_p99_ms']} "
            f"| {mib(r['rss_before_kib'])} / {mib(r['rss_peak_kib'])} / {mib(r['rss_after_kib'])} "
            f"| {attacker or '-'} | {r['load_before'][0]} → {r['load_after'][0]} |"
        )
    return "\n".join(out)


async def main_async(args: argparse.Namespace) -> int:
    kinds = [k for k in args.kinds.split(",") if k]
    attacks = [a for a in args.attacks.split(",") if a]
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise SystemExit(f"unknown attack {unknown}; choose from {', '.join(ATTACKS)}")
    stamp = args.name or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "load": loadavg(),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        for repeat in range(args.repeat):
            for attack in attacks:
                for kind in kinds:  # interleaved: the kinds share the machine's background load
                    row = await phase(kind, attack, args, Path(tmp))
                    row["repeat"] = repeat
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["load_end"] = loadavg()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"hostile-{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print()
    print(table(rows))
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default="site", help="site, and site-base with --base-root")
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each attack")
    parser.add_argument("--warmup", type=float, default=2.0, help="voting before the attack starts")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after the attack before the last RSS")
    parser.add_argument("--voters", type=int, default=4, help="well-behaved voters, each with its own session")
    parser.add_argument("--vote-rate", type=float, default=8.0,
                        help="votes per second per voter (the limit is 10, burst 20)")
    parser.add_argument("--ack-timeout", type=float, default=5.0, help="a vote not acked within it counts as lost")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--loopers", type=int, default=200,
                        help="clients of snapshot-loop and reconnect-loop, each with its own session")
    parser.add_argument("--name", default="", help="results file name (default: a UTC time stamp)")
    parser.add_argument("--voters-url", default="", help=argparse.SUPPRESS)  # the voters' own process
    checkouts.add_argument(parser)
    args = parser.parse_args()
    if args.voters_url:
        asyncio.run(voters_main(args))
        return 0
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
