"""The capacity model, from the measured figures of bench/cluster/summary.json.

    .venv/bin/python bench/cluster/capacity.py [--summary bench/cluster/summary.json] [--viewers 1000]

Prints, for each repeat of the run (a figure means something only if it holds
in both), the fitted costs and, for several sizes, the vote rate and the
audience each shared resource allows and which one runs out first.

Costs fitted per kind and repeat from the map points: one idle point (viewers
connected, no votes) and three loaded ones (two viewer counts at one rate, a
low rate), least squares on what each loaded point used above the idle one:

    worker CPU per process = idle + a * votes/s per process + k * deltas/s + b * frames/s per process
    PostgreSQL CPU         = idle + p * votes/s + p_commit * commits/s   (a commit per delta)
    queue CPU              = idle + q * deltas/s     (q: 1 publish + N deliveries of each delta)

`a` is a vote's cost in a worker (receive, validate, batch, commit, ack),
`k` what a worker spends on each delta it handles (in a cluster every delta
of every worker comes back to every worker over the queue: the "single
channel that every process decodes"), `b` a `votes` frame written to a
client. Negative fits (noise) are clamped to 0. The idle parts (ticks,
watcher and presence polls, heartbeats) are charged per process.

The sizes: N worker processes, one per core (8 and 32 cores on one host; 4
hosts of 8 and 4 of 32 cores), PostgreSQL and the queue on cores of their
own. What the model knows about the site's design, from dashboard/sockets.py:

- every worker commits its own batch once per tick (T = 1000 / tick_ms a
  second) and broadcasts its own delta, so the site makes up to N * T deltas a
  second and EVERY viewer receives all of them: D = N*T*(1 - exp(-R/(N*T)))
  (Poisson votes over N workers; a worker with no vote in a tick commits nothing);
- the commit-order lock is held from before a batch's transaction until its
  delta is published, and the transaction locks the state row from its first
  statement to its commit, so batches run one at a time site-wide: the
  commit path. A batch takes what bench/cluster/commit_cost.py measured back
  to back (the transaction, its WAL flush and the worker's own code: t0 per
  batch + t1 per vote, a line through its medians) plus LOCK_ROUND_TRIPS
  round trips to the queue (lock, publish, release; PostgreSQL's advisory
  lock without Redis); between hosts each of these and of the transaction's
  statements takes a LAN round trip longer;
- Redis runs its commands on one core; the queue's work grows with deltas x
  (1 + N) (each delta is published once and delivered to every process).

When the batches no longer fit in a second they queue for the lock, grow,
and a vote waits for a round of all N workers' batches: the commit path is
then at its limit when that round reaches COMMIT_ROUND_BUDGET (half the
map's 250 ms budget).

Limits: a process at 1 core; the commit path at 1 second per second (or
the round at its budget);
PostgreSQL's CPU at its host's cores (`--db-cores`, an assumption); the
queue at 1 core (Redis runs commands on one thread; a RabbitMQ queue is one
Erlang process). Between hosts each round trip takes `--lan-rtt-us` more (an
assumption: this machine has one host). The figures are upper bounds at
full use; plan for about 70 %.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK_ROUND_TRIPS = 3  # around each batch: take the commit-order lock, publish the delta, release
# Once commits queue for the lock, a vote waits for a whole round of the N workers' batches:
# half the map's 250 ms vote-to-visible budget may go to that wait.
COMMIT_ROUND_BUDGET = 0.125
TICKS_PER_S = 20.0  # DASHBOARD_TICK_MS = 50
SIZES = [  # (label, hosts, worker processes)
    ("this machine (2 cores)", 1, 2),
    ("1 host, 8 cores", 1, 8),
    ("1 host, 32 cores", 1, 32),
    ("4 hosts x 8 cores", 4, 32),
    ("4 hosts x 32 cores", 4, 128),
]


def solve(rows: list[list[float]], values: list[float]) -> list[float]:
    """Least squares (normal equations, Gaussian elimination): x minimising |rows x - values|."""
    n = len(rows[0])
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    atb = [sum(r[i] * v for r, v in zip(rows, values, strict=True)) for i in range(n)]
    m = [ata[i] + [atb[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-18:
            raise ValueError("the points do not determine the costs (vary viewers and rate)")
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                m[r] = [a - factor * b for a, b in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def clamp(value: float) -> float:
    return max(value, 0.0)


def fit(rows: list[dict]) -> dict:
    """The costs of one kind in one repeat (CPU seconds per unit; negative fits clamped to 0)."""
    n = rows[0]["workers"]
    idle = [r for r in rows if not r["offered_rate"]]
    loaded = [r for r in rows if r["offered_rate"]]
    if len(idle) != 1 or len(loaded) < 3:
        raise ValueError("needs one idle point and three loaded ones (bench/cluster/run.py --map-points)")
    idle = idle[0]

    def share(row: dict, name: str) -> float | None:
        return row["cpu_share"].get(name)

    def queue_share(row: dict) -> float | None:
        return share(row, "redis") if share(row, "redis") is not None else share(row, "rabbitmq")

    votes = [r["votes"] / r["seconds"] for r in loaded]
    deltas_s = [r["deltas"] / r["seconds"] for r in loaded]
    frames = [r["delivered"] / r["seconds"] for r in loaded]
    w_idle = idle["worker_cpu_s"] / idle["seconds"] / n
    a, k, b = solve([[v / n, d, f / n] for v, d, f in zip(votes, deltas_s, frames, strict=True)],
                    [r["worker_cpu_s"] / r["seconds"] / n - w_idle for r in loaded])
    costs = {"workers": n, "w_idle": w_idle, "a": clamp(a), "k": clamp(k), "b": clamp(b)}
    if share(idle, "postgres") is not None:
        p, p_commit = solve([[v, d] for v, d in zip(votes, deltas_s, strict=True)],
                            [share(r, "postgres") - share(idle, "postgres") for r in loaded])
        costs.update(p_idle=share(idle, "postgres") / n, p=clamp(p), p_commit=clamp(p_commit))
    if queue_share(idle) is not None:
        (q,) = solve([[d] for d in deltas_s], [queue_share(r) - queue_share(idle) for r in loaded])
        costs.update(q_idle=queue_share(idle) / n, q_unit=clamp(q) / (1 + n))
    return costs


def deltas(n: int, rate: float) -> float:
    return n * TICKS_PER_S * (1 - math.exp(-rate / (n * TICKS_PER_S)))


def commit_line(measured: dict) -> tuple[float, float]:
    """(seconds per batch, seconds per vote in it): a line through commit_cost.py's medians."""
    sizes = sorted(int(size) for size in measured["batch_seconds"])
    t0, t1 = solve([[1.0, size] for size in sizes], [measured["batch_seconds"][str(size)] for size in sizes])
    return max(t0, 0.0), max(t1, 0.0)


def limits(costs: dict, *, n: int, viewers: float, rate: float, lock_rtt: float, lan_rtt: float,
           db_cores: float) -> dict[str, float]:
    """Use of each shared resource (1.0 = full) at this size and load."""
    d = deltas(n, rate)
    # Each process commits its own share of the deltas and handles every delta of every process.
    own, handled = costs.get("c_own", costs["k"]), costs.get("c_recv", 0.0)
    used = {"a process": costs["w_idle"] + costs["a"] * rate / n + own * d / n + handled * d
            + costs["b"] * viewers * d / n}
    if "commit" in costs:
        t0, t1, round_trips = costs["commit"]
        # A batch: its transaction (measured back to back), the lock and the publish around it,
        # and between hosts every one of their round trips a LAN round trip longer.
        per_batch = t0 + LOCK_ROUND_TRIPS * lock_rtt + (round_trips + LOCK_ROUND_TRIPS) * lan_rtt
        if d * per_batch + t1 * rate <= 1:
            used["the commit path"] = d * per_batch + t1 * rate  # every worker commits every tick
        else:
            # Saturated: batches run back to back and grow; a worker commits once per round of
            # all N, which must stay within COMMIT_ROUND_BUDGET (1.0 at the budget).
            spare = 1 - t1 * rate
            used["the commit path"] = float("inf") if spare <= 0 else n * per_batch / spare / COMMIT_ROUND_BUDGET
    if "p" in costs:
        used[f"PostgreSQL's CPU ({db_cores:g} cores)"] = (
            costs["p_idle"] * n + costs["p_commit"] * d + costs["p"] * rate) / db_cores
    if "q_unit" in costs:
        used["the queue (one core)"] = costs["q_idle"] * n + costs["q_unit"] * d * (1 + n)
    return used


def max_under(fn, lo: float, hi: float) -> float:
    """The largest x in [lo, hi] with fn(x) <= 1 (fn grows with x); hi if none is over."""
    if fn(hi) <= 1:
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fn(mid) <= 1 else (lo, mid)
    return lo


def report(summary: dict, *, viewers: int, target_rate: float, lan_rtt_us: float, db_cores: float) -> str:
    meta = summary["meta"]
    trips = meta.get("round_trips") or {}
    lan_rtt = lan_rtt_us * 1e-6
    rows = [r for r in summary["rows"] if r["part"] == "map" and not r.get("failed")]
    out = [f"Measured: WAL flushes/s on this disk {meta.get('wal_flushes_per_s') or 0:.0f}; one round trip from "
           f"Python to PostgreSQL {trips.get('postgres_us', 0):.0f} µs, to Redis {trips.get('redis_us', 0):.0f} µs. "
           f"Assumed: +{lan_rtt_us:.0f} µs per round trip between hosts, PostgreSQL on {db_cores:g} cores.", ""]
    repeats = sorted({r["repeat"] for r in rows})
    commits = meta.get("commit_cost") or []
    out.append("One group commit back to back (bench/cluster/commit_cost.py), ms per batch of 1 / 5 / 20 / 100 "
               "votes, per repeat: " + " ; ".join(
                   " / ".join(f"{v * 1e3:.1f}" for v in c["batch_seconds"].values()) for c in commits if c)
               + f" ({commits[0]['round_trips'] if commits and commits[0] else '?'} round trips to the database)")
    out.append("")
    fits: dict[tuple[str, int], dict] = {}
    for kind in sorted({r["kind"] for r in rows}):
        for repeat in repeats:
            mine = [r for r in rows if r["kind"] == kind and r["repeat"] == repeat]
            if len(mine) >= 4:
                costs = fit(mine)
                if repeat < len(commits) and commits[repeat]:
                    costs["commit"] = (*commit_line(commits[repeat]), commits[repeat]["round_trips"])
                    queue_rtt = trips.get("redis_us" if kind == "cluster-redis" else "postgres_us", 0.0)
                    costs["lock_rtt"] = queue_rtt * 1e-6
                fits[(kind, repeat)] = costs
    out.append("Cluster / embedded, measured side by side (repeat " + " / ".join(map(str, repeats)) + "):")
    out.append("")
    out.append("| point | kind | CPU per vote, all processes | workers' CPU per vote | workers' CPU per frame "
               "| PostgreSQL CPU per vote | deltas/s | p99 vote-to-last-viewer | queue CPU per vote, µs |")
    out.append("|---|---|---|---|---|---|---|---|---|")

    def ratio(a, b) -> str:
        return "-" if a is None or not b else f"{a / b:.2f}"

    for viewers_n, offered in sorted({(r["viewers"], r["offered_rate"]) for r in rows if r["offered_rate"]}):
        for kind in sorted({r["kind"] for r in rows if r["kind"] != "embedded"}):
            cells = {key: [] for key in ("total", "worker", "frame", "pg", "deltas", "p99", "queue")}
            for repeat in repeats:
                def pick(k, repeat=repeat):
                    return next((r for r in rows if r["kind"] == k and r["repeat"] == repeat
                                 and (r["viewers"], r["offered_rate"]) == (viewers_n, offered)), None)

                mine, base = pick(kind), pick("embedded")
                if mine is None or base is None:
                    continue
                cells["total"].append(ratio(mine["total_us_per_vote"], base["total_us_per_vote"]))
                cells["worker"].append(ratio(mine["worker_us_per_vote"], base["worker_us_per_vote"]))
                cells["frame"].append(ratio(mine["worker_cpu_s"] / mine["delivered"],
                                            base["worker_cpu_s"] / base["delivered"]))
                cells["pg"].append(ratio(mine["postgres_us_per_vote"], base["postgres_us_per_vote"]))
                cells["deltas"].append(ratio(mine["deltas_per_s"], base["deltas_per_s"]))
                cells["p99"].append(ratio(mine["visible_p99_ms"], base["visible_p99_ms"]))
                cells["queue"].append(f"{mine['queue_us_per_vote']:.0f}" if mine["queue_us_per_vote"] else "-")
            out.append(f"| {viewers_n:,} viewers, {offered:.0f} votes/s | {kind} | "
                       + " | ".join(" / ".join(v) for v in cells.values()) + " |")
    out.append("")
    out.append("Fitted costs, µs (repeat " + " / ".join(map(str, repeats)) + "):")
    out.append("")
    out.append("| kind | processes | idle, per process (µs/s) | per vote a | per delta handled k "
               "| per frame b "
               "| PostgreSQL idle per process (µs/s) | PostgreSQL per vote | per commit "
               "| queue idle per process (µs/s) | queue per delta and process |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in sorted({k for k, _ in fits}):
        got = [fits[(kind, r)] for r in repeats if (kind, r) in fits]

        def col(key: str, got=got) -> str:
            return " / ".join("-" if key not in c else f"{c[key] * 1e6:.1f}" for c in got)

        out.append(f"| {kind} | {got[0]['workers']} | {col('w_idle')} | {col('a')} | {col('k')} | {col('b')} "
                   f"| {col('p_idle')} | {col('p')} | {col('p_commit')} | {col('q_idle')} "
                   f"| {col('q_unit')} |")
    out.append("")
    cluster = [k for k in sorted({k for k, _ in fits}) if k.startswith("cluster")]
    for (kind, repeat), costs in fits.items():
        # Split k: a cluster worker commits 1/N of the deltas (each costing what one costs the
        # embedded process, where every delta is its own) and handles all of them from the queue.
        embedded = fits.get(("embedded", repeat))
        if kind.startswith("cluster") and embedded is not None:
            costs["c_own"] = embedded["k"]
            costs["c_recv"] = clamp(costs["k"] - embedded["k"] / costs["workers"])
    if cluster:
        out.append("Per delta in a cluster worker, µs: committing its own (the embedded k) / handling one "
                   "from the queue (k - own / N): " + " ; ".join(
                       f"{kind} " + " / ".join(f"{fits[(kind, r)].get('c_own', 0) * 1e6:.0f} / "
                                               f"{fits[(kind, r)].get('c_recv', 0) * 1e6:.0f}"
                                               for r in repeats if (kind, r) in fits) for kind in cluster))
        out.append("")
    for kind in cluster:
        costs_by_repeat = [fits[(kind, r)] for r in repeats if (kind, r) in fits]
        names = list(limits(costs_by_repeat[0], n=2, viewers=1, rate=1, lock_rtt=0, lan_rtt=0,
                            db_cores=db_cores))
        out.append(f"## Model from {kind} (repeat " + " / ".join(map(str, repeats)) + ")")
        out.append("")
        out.append(f"Max votes/s with {viewers:,} viewers that each limit allows, and max viewers at "
                   f"{target_rate:,.0f} votes/s:")
        out.append("")
        out.append("| size | " + " | ".join(f"votes/s: {name}" for name in names)
                   + " | first to saturate | viewers at the target rate | first to saturate |")
        out.append("|---" * (len(names) + 4) + "|")
        for label, hosts, n in SIZES:
            by_rate_all, by_viewers_all = [], []
            for costs in costs_by_repeat:
                def use(name: str, viewers: float, rate: float, costs=costs, n=n, hosts=hosts) -> float:
                    return limits(costs, n=n, viewers=viewers, rate=rate, lock_rtt=costs.get("lock_rtt", 0.0),
                                  lan_rtt=lan_rtt if hosts > 1 else 0.0, db_cores=db_cores)[name]

                by_rate_all.append({name: max_under(lambda r, name=name: use(name, viewers, r), 1, 1e6)
                                    for name in names})
                by_viewers_all.append({name: max_under(lambda v, name=name: use(name, v, target_rate), 0, 1e7)
                                       for name in names})
            cells = [" / ".join(fmt(by_rate[name], 1e6) for by_rate in by_rate_all) for name in names]
            first_rate = " / ".join(dict.fromkeys(min(b, key=b.get) for b in by_rate_all))
            viewers_cell = " / ".join(fmt(min(b.values()), 1e7) for b in by_viewers_all)
            first_viewers = " / ".join(dict.fromkeys(min(b, key=b.get) for b in by_viewers_all))
            out.append(f"| {label}, {n} processes | " + " | ".join(cells)
                       + f" | {first_rate} | {viewers_cell} | {first_viewers} |")
        out.append("")
    game = [r for r in summary["rows"] if r["part"] == "game" and not r.get("failed")]
    if game:
        out.append("## game, µs per move and per state frame (worker CPU), per repeat")
        out.append("| kind | one arena across workers | per move | per state frame | p99 move-to-seen ms |")
        out.append("|---|---|---|---|---|")
        for kind in sorted({r["kind"] for r in game}):
            mine = sorted((r for r in game if r["kind"] == kind), key=lambda r: r["repeat"])
            out.append(f"| {kind} | {' / '.join('yes' if r['one_arena'] else 'NO' for r in mine)} "
                       f"| {' / '.join(str(r['worker_us_per_move']) for r in mine)} "
                       f"| {' / '.join(str(r['worker_us_per_state']) for r in mine)} "
                       f"| {' / '.join(str(r['seen_p99_ms']) for r in mine)} |")
        if not all(r["one_arena"] for r in game if r["workers"] > 1):
            out.append("")
            out.append("The game's cluster rows are not one game: each worker ran its own copy of an arena "
                       "(players saw only the players of their own worker), so no cluster model "
                       "for the game.")
    return "\n".join(out)


def fmt(value: float, cap: float) -> str:
    return "unbounded" if value >= cap else f"{value:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", type=Path, default=HERE / "summary.json")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=3000.0, help="the vote rate of the viewers column")
    parser.add_argument("--lan-rtt-us", type=float, default=150.0,
                        help="extra round-trip time between hosts (an assumption: not measured here)")
    parser.add_argument("--db-cores", type=float, default=8.0,
                        help="cores of PostgreSQL's host (an assumption)")
    args = parser.parse_args()
    print(report(json.loads(args.summary.read_text()), viewers=args.viewers, target_rate=args.rate,
                 lan_rtt_us=args.lan_rtt_us, db_cores=args.db_cores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
