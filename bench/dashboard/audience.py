"""The vote map with a large audience: steady viewers at a vote rate, and the join storm.

    .venv/bin/python bench/dashboard/audience.py                       # the default points
    .venv/bin/python bench/dashboard/audience.py --kinds site,site-base --base-root ../main-before \\
        --steady "10000:1000" --storms "5000:1000:10000:200" --repeat 2 --name audience

Each point starts a fresh server of the kind (bench/dashboard/run.py's Server:
pinned to CPU 0, a copy of a freshly migrated SQLite database) and runs
bench/dashboard/loadgen.py pinned to CPU 1; kinds are interleaved point by
point. Points:

- `--steady "VIEWERS:RATE,..."`: VIEWERS connected and reading for the whole
  run, RATE votes/s offered (loadgen's vote-to-last-viewer latency);
- `--storms "VIEWERS:RATE:N:PER_S,..."`: VIEWERS steady viewers and RATE votes/s,
  then N more viewers connect at PER_S per second (`loadgen.py --storm`):
  server CPU per joined connection, join times, and how long the steady
  viewers' counts stalled during the storm against a quiet window before it;
- `--memory "N,..."`: RSS per idle connection with N connections (run.py's
  memory point).

This runner and loadgen.py raise their own soft limit of open files
(`resource.setrlimit`, up to the hard limit; 10,000 sockets need more than the
usual 1,024); the server inherits it. The generator's own CPU is in every
point: a point where it is above 90 % is marked `generator_limited`.

Writes bench/dashboard/results/<name>.json (git-ignored); chart_audience.py
draws the charts from it and writes the committed summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
import run  # noqa: E402
from bench import checkouts  # noqa: E402

GENERATOR_LIMIT = 0.90


def loadgen_point(server: run.Server, args: argparse.Namespace, workdir: Path, *, viewers: int, rate: float,
                  storm: int = 0, storm_rate: float = 0.0) -> dict:
    name = f"{server.kind.replace('@', '-')}-{viewers}-{int(rate)}-{storm}"
    out = workdir / f"point-{name}.json"
    cmd = [
        "taskset", "-c", run.CLIENT_CPU, run.PY, str(HERE / "loadgen.py"),
        "--url", server.url, "--viewers", str(viewers), "--rate", str(rate),
        "--duration", str(args.duration), "--warmup", str(args.warmup), "--drain", str(args.drain),
        "--connect-concurrency", str(args.connect_concurrency),
        "--server-pid", str(server.proc.pid), "--label", server.kind, "--json", str(out),
    ]
    if storm:
        cmd += ["--storm", str(storm), "--storm-rate", str(storm_rate)]
    if server.db is not None:
        cmd += ["--db", str(server.db)]
    load_before = run.loadavg()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0 or not out.exists():
        return {"label": server.kind, "server_kind": server.kind, "viewers": viewers, "offered_rate": rate,
                "storm_size": storm, "failed": (proc.stderr or proc.stdout)[-2000:]}
    result = json.loads(out.read_text())
    result.update(server_kind=server.kind, load_before=load_before, load_after=run.loadavg(),
                  storm_size=storm, point="storm" if storm else "steady",
                  server_rss_kib=server.rss_kib() if server.proc.poll() is None else None)
    result["generator_limited"] = result.get("generator_cpu", 0) > GENERATOR_LIMIT
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="site")
    parser.add_argument("--steady", default="5000:1000;10000:1000", help='"VIEWERS:RATE,RATE;..."')
    parser.add_argument("--storms", default="5000:1000:10000:200",
                        help='"VIEWERS:RATE:N:PER_S,..." (steady viewers, votes/s, storm size, storm rate)')
    parser.add_argument("--memory", default="", help='"N,..." idle connections for RSS per connection')
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--connect-concurrency", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per point at most")
    parser.add_argument("--base-max-viewers", type=int, default=0,
                        help="-base kinds skip points with more connections than this (0: none skipped); "
                             "the code before may take minutes to connect a large audience")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--name", default="")
    checkouts.add_argument(parser)
    args = parser.parse_args()

    os.sched_setaffinity(0, {int(run.CLIENT_CPU)})
    nofile = run.raise_fd_limit()
    kinds = [k for k in args.kinds.split(",") if k]
    steady = run.parse_rates(args.steady)
    storms = [tuple(float(x) for x in spec.split(":")) for spec in args.storms.split(",") if spec.strip()]
    stamp = args.name or "audience-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run.RESULTS.mkdir(exist_ok=True)
    meta = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "uptime_load": run.loadavg(),
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
        "nofile": list(nofile),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    points: list[dict] = []
    memory: list[dict] = []

    def skip(kind: str, connections: int) -> bool:
        return checkouts.is_base(kind) and 0 < args.base_max_viewers < connections

    def record(point: dict, repeat: int) -> None:
        point["repeat"] = repeat
        points.append(point)
        brief = {k: point.get(k) for k in ("server_kind", "point", "viewers", "offered_rate", "acked_per_s",
                                           "visible_p99_ms", "server_cpu", "generator_cpu", "missing_in_db",
                                           "storm", "load_before", "failed")}
        print(json.dumps(brief), flush=True)

    with tempfile.TemporaryDirectory(prefix="vm-audience-") as tmp:
        workdir = Path(tmp)
        for repeat in range(args.repeat):
            for viewers, rates in sorted(steady.items()):
                for rate in rates:
                    for kind in kinds:
                        if skip(kind, viewers):
                            continue
                        server = run.Server(kind, workdir, args.base_root)
                        try:
                            record(loadgen_point(server, args, workdir, viewers=viewers, rate=rate), repeat)
                        finally:
                            server.stop()
            for viewers, rate, size, per_s in storms:
                for kind in kinds:
                    if skip(kind, int(viewers + size)):
                        continue
                    server = run.Server(kind, workdir, args.base_root)
                    try:
                        record(loadgen_point(server, args, workdir, viewers=int(viewers), rate=rate,
                                             storm=int(size), storm_rate=per_s), repeat)
                    finally:
                        server.stop()
            for count in [int(c) for c in args.memory.split(",") if c.strip()]:
                for kind in kinds:
                    result = run.memory_point(kind, workdir, args.base_root, count)
                    result["repeat"] = repeat
                    memory.append(result)
                    print(json.dumps(result), flush=True)
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["uptime_load_end"] = run.loadavg()
    path = run.RESULTS / f"{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "points": points, "memory": memory}, indent=1) + "\n")
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
