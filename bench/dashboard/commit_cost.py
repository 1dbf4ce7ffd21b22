"""What one group commit costs next to a busy event loop: this checkout against another.

    .venv/bin/python bench/dashboard/commit_cost.py --base-root ../base --batch 250 --batches 200

The map's batch (`dashboard.services.vote_cast_batch`) runs on a database
thread while the event loop keeps the GIL busy. Python's sqlite3 releases and
re-takes the GIL around every statement step, and each re-take may wait for the
other thread to let go, so the number of steps per batch might matter as much as
the work in them. This runs the batch of each checkout (`site`: this one;
`site-base`: --base-root's) on a thread, in a fresh SQLite database in WAL
mode (the site's settings), pinned to one CPU (`taskset -c 0`), in three
conditions, interleaved kind by kind:

- idle: nothing else runs;
- busy-loop: the main thread does what an event loop under load does, short
  pieces of Python work with a system call in between (one `select` per
  ~20 µs of work, like a socket write per recipient);
- spin: the main thread never makes a system call (the worst case: the
  batch only gets the GIL back when the interpreter forces a switch, every
  5 ms).

Prints per batch the wall time (p50, p99) and the main thread's progress
while batches ran (work units per second, against the same thread with no
batches), and writes bench/dashboard/results/commit-<stamp>.json
(git-ignored). Every stored vote is counted at the end (must equal the
votes sent).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE / "results"
MODES = ("idle", "busy-loop", "spin")


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(args.root))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "votemap_site.settings", "DJANGO_ENV_FILE": "", "DATABASE_URL": "",
        "SQLITE_PATH": args.db, "DJANGO_DEBUG": "False", "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "REDIS_URL": "", "DJANGO_LOG_LEVEL": "WARNING",
    })
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    from dashboard import services
    from dashboard.models import Vote

    services.provinces_seed()
    codes = [f"{n:02d}" for n in range(1, 53)]
    sent = 0

    def batch(i: int) -> list:
        return [services.VoteRequest(vote_id=uuid.uuid4(), province=codes[(i * 7 + j) % 52],
                                     direction="up" if j % 4 else "down", voter="bench")
                for j in range(args.batch)]

    def unit() -> None:  # a piece of an event loop's work: Python, then a system call
        sum(range(300))

    def main_thread_rate(seconds: float, syscalls: bool) -> float:
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            unit()
            if syscalls:
                select.select([], [], [], 0)
            n += 1
        return n / seconds

    out = {}
    for mode in MODES:
        walls: list[float] = []
        done = threading.Event()
        plan = [batch(i) for i in range(args.batches)]

        def writer(plan=plan, walls=walls, done=done) -> None:
            for requests in plan:
                t = time.perf_counter()
                services.vote_cast_batch(requests=requests)
                walls.append(1000 * (time.perf_counter() - t))
                time.sleep(args.gap / 1000)  # the tick between batches
            connections.close_all()
            done.set()

        alone = main_thread_rate(1.0, mode == "busy-loop") if mode != "idle" else None
        thread = threading.Thread(target=writer)
        started = time.perf_counter()
        thread.start()
        n = 0
        if mode == "idle":
            thread.join()
        else:
            while not done.is_set():
                unit()
                if mode == "busy-loop":
                    select.select([], [], [], 0)
                n += 1
            thread.join()
        elapsed = time.perf_counter() - started
        sent += args.batch * args.batches
        walls.sort()
        out[mode] = {
            "batch_ms_p50": round(statistics.median(walls), 2),
            "batch_ms_p99": round(walls[min(len(walls) - 1, int(0.99 * len(walls)))], 2),
            "batch_ms_mean": round(statistics.fmean(walls), 2),
            "main_rate_alone": round(alone) if alone else None,
            "main_rate_during": round(n / elapsed) if mode != "idle" else None,
        }
    out["stored"] = Vote.objects.count()
    out["sent"] = sent
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-root", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=250, help="votes per batch (5,000/s at a 50 ms tick)")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--gap", type=float, default=5.0, help="ms between batches")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--name", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    kinds = [("site", ROOT)] + ([("site-base", args.base_root.resolve())] if args.base_root else [])
    rows = []
    meta = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "load": os.getloadavg(),
            "args": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="vm-commit-") as tmp:
        for repeat in range(args.repeat):
            for kind, root in kinds:
                db = str(Path(tmp) / f"{kind}-{repeat}.sqlite3")
                load = os.getloadavg()[0]
                proc = subprocess.run(
                    ["taskset", "-c", "0", sys.executable, str(Path(__file__).resolve()), "--child",
                     "--root", str(root), "--db", db, "--batch", str(args.batch),
                     "--batches", str(args.batches), "--gap", str(args.gap)],
                    cwd=root, capture_output=True, text=True, timeout=900,
                )
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr[-3000:])
                row = {"kind": kind, "repeat": repeat, "load_before": round(load, 2),
                       **json.loads(proc.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(json.dumps(row), flush=True)
    meta["load_end"] = os.getloadavg()
    stamp = args.name or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"commit-{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print()
    print("| kind | repeat | mode | batch ms p50 | p99 | main thread during / alone | stored / sent | load |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        for mode in MODES:
            m = row[mode]
            share = "-" if not m["main_rate_alone"] else f"{m['main_rate_during'] / m['main_rate_alone']:.0%}"
            print(f"| {row['kind']} | {row['repeat'] + 1} | {mode} | {m['batch_ms_p50']} "
                  f"| {m['batch_ms_p99']} "
                  f"| {share} | {row['stored']} / {row['sent']} | {row['load_before']} |")
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
