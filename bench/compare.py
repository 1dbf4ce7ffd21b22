"""Ratios of one kind to another from side-by-side runs (default: site / site-base).

    .venv/bin/python bench/compare.py --map bench/dashboard/results/<name>.json \\
        --chat <chat results>.json --game <grid game results>.json

Reads the raw output of bench/dashboard/run.py, bench/chat/run.py and
bench/grid_game/run.py run with `--kinds/--servers site,site-base
--base-root ...` and prints, per scenario and repeat, the ratio of the two
kinds' throughput achieved, p99 latency and server CPU per unit of work
(vote, message, move), with both kinds' figures and the machine's 1-minute
load before each point. A ratio only means something next to its repeat: on
a shared machine, trust a figure that holds in every repeat.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else round(a / b, 3)


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def per_unit(cpu: float | None, rate: float | None) -> float | None:
    """Server CPU in µs per unit of work (vote, message, move)."""
    return None if cpu is None or not rate else round(cpu / rate * 1e6, 1)


def map_rows(path: Path) -> list[dict]:
    out = []
    for p in json.loads(path.read_text())["points"]:
        if "failed" in p:
            continue
        out.append({"scenario": f"map {p['viewers']} viewers @ {p['offered_rate']:.0f} votes/s",
                    "kind": p["server_kind"], "repeat": p.get("repeat", 0), "throughput": p["acked_per_s"],
                    "p99": p["visible_p99_ms"], "cpu_per_unit": p.get("server_cpu_us_per_vote"),
                    "server_cpu": p["server_cpu"], "cpu_wait": p.get("server_cpu_wait"),
                    "load": p["load_before"][0]})
    return out


def chat_rows(path: Path) -> list[dict]:
    report = json.loads(path.read_text())
    out = []
    for r in report["results"]:
        if r.get("failed"):
            continue
        out.append({"scenario": f"chat {report['members']} members @ {r['offered_rate']:.0f} msgs/s",
                    "kind": r["label"], "repeat": r.get("repeat", 0), "throughput": r["acked_per_s"],
                    "p99": r["delivered_p99_ms"], "cpu_per_unit": per_unit(r.get("server_cpu"), r["acked_per_s"]),
                    "server_cpu": r.get("server_cpu"),
                    "cpu_wait": (None if r.get("server_run_queue_wait_s") is None
                                 else round(r["server_run_queue_wait_s"] / r["duration"], 3)),
                    "load": r["loadavg_before_after"][0]})
    return out


def game_rows(path: Path) -> list[dict]:
    out = []
    for r in json.loads(path.read_text()):
        out.append({"scenario": f"game {r['arenas']} arena(s) x {r['players_per_arena']}",
                    "kind": r["server"], "repeat": r.get("repeat", 0), "throughput": r["moves_per_s"],
                    "p99": r["seen_ms"]["99"], "cpu_per_unit": per_unit(r.get("server_cpu"), r["moves_per_s"]),
                    "server_cpu": r.get("server_cpu"), "cpu_wait": r.get("server_runqueue_wait"),
                    "load": r["loadavg_before"]})
    return out


def table(rows: list[dict], kind: str, against: str) -> str:
    by: dict[tuple[str, int], dict[str, dict]] = {}
    for r in rows:
        by.setdefault((r["scenario"], r["repeat"]), {})[r["kind"]] = r
    lines = [
        f"| scenario | repeat | throughput {kind}/{against} | p99 {kind}/{against} | CPU per unit {kind}/{against} "
        f"| {kind}: achieved/s, p99 ms, CPU µs/unit | {against}: achieved/s, p99 ms, CPU µs/unit "
        "| server CPU wait | load before |",
        "|" + "|".join(["---"] * 9) + "|",
    ]
    for (scenario, repeat), kinds in by.items():
        a, b = kinds.get(kind), kinds.get(against)
        if a is None or b is None:
            continue
        wait = f"{fmt(a['cpu_wait'])} / {fmt(b['cpu_wait'])}"
        lines.append(
            f"| {scenario} | {repeat + 1} | {fmt(ratio(a['throughput'], b['throughput']))} "
            f"| {fmt(ratio(a['p99'], b['p99']))} | {fmt(ratio(a['cpu_per_unit'], b['cpu_per_unit']))} "
            f"| {a['throughput']:.0f}, {fmt(a['p99'], 0)}, {fmt(a['cpu_per_unit'], 0)} "
            f"| {b['throughput']:.0f}, {fmt(b['p99'], 0)}, {fmt(b['cpu_per_unit'], 0)} "
            f"| {wait} | {a['load']:.2f} / {b['load']:.2f} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict], kind: str, against: str) -> str:
    """One row per scenario, the repeats side by side."""
    by: dict[str, dict[int, dict[str, dict]]] = {}
    for r in rows:
        by.setdefault(r["scenario"], {}).setdefault(r["repeat"], {})[r["kind"]] = r
    lines = [
        f"| scenario | throughput {kind}/{against} | p99 {kind}/{against} | CPU per unit {kind}/{against} "
        f"| {kind} p99 ms | {against} p99 ms | server CPU wait | load before |",
        "|" + "|".join(["---"] * 8) + "|",
    ]
    for scenario, repeats in by.items():
        pairs = [(k[kind], k[against]) for _, k in sorted(repeats.items()) if kind in k and against in k]
        if not pairs:
            continue

        def cells(key: str, digits: int = 2) -> str:
            return ", ".join(fmt(ratio(a[key], b[key]), digits) for a, b in pairs)

        lines.append(
            f"| {scenario} | {cells('throughput')} | {cells('p99')} | {cells('cpu_per_unit')} "
            f"| {', '.join(fmt(a['p99'], 0) for a, _ in pairs)} | {', '.join(fmt(b['p99'], 0) for _, b in pairs)} "
            f"| {', '.join(fmt(a['cpu_wait']) + '/' + fmt(b['cpu_wait']) for a, b in pairs)} "
            f"| {', '.join(f'{a['load']:.1f}' for a, _ in pairs)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--map", type=Path, action="append", default=[])
    parser.add_argument("--chat", type=Path, action="append", default=[])
    parser.add_argument("--game", type=Path, action="append", default=[])
    parser.add_argument("--kind", default="site")
    parser.add_argument("--against", default="site-base")
    parser.add_argument("--summary", action="store_true", help="one row per scenario, repeats side by side")
    args = parser.parse_args()
    rows = ([r for p in args.map for r in map_rows(p)] + [r for p in args.chat for r in chat_rows(p)]
            + [r for p in args.game for r in game_rows(p)])
    print((summary if args.summary else table)(rows, args.kind, args.against))


if __name__ == "__main__":
    main()
