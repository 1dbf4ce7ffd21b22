"""Markdown tables of bench/grid_game/results.json.

    .venv/bin/python bench/grid_game/report.py --label final --since 2026-11-25T09:09:00Z
    .venv/bin/python bench/grid_game/report.py --least-contended   # per scenario, all labels
    .venv/bin/python bench/grid_game/report.py --results bench/grid_game/results-gameperf.json \
        --summary bench/grid_game/summary-generator.json --labels crowd512-websockets,crowd512-raw,arenas100x8-raw

--summary writes the figures of the chosen runs (a committed file, unlike the
raw results) that bench/grid_game/chart_runs.mjs draws.
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")


SCENARIOS = [(50, 8, "50 arenas × 8 (400 players)"), (100, 8, "100 arenas × 8 (800 players)"),
             (1, 256, "1 arena × 256"), (1, 384, "1 arena × 384"), (1, 512, "1 arena × 512"), (1, 600, "1 arena × 600"),
             (1, 768, "1 arena × 768")]


def least_contended(results: list[dict], per_cell: int = 4) -> None:
    """Per scenario and server, the runs whose server waited least for its core."""
    runs: dict[tuple, list] = {}
    for r in results:
        if r["label"] in ("smoke", "probe", "swapped") or r.get("server_runqueue_wait") is None:
            continue
        key = (r["arenas"], r["players_per_arena"], r["server"])
        runs.setdefault(key, []).append((r["server_runqueue_wait"], r["seen_ms"]["99"], r["when"][11:16]))

    def cell(key: tuple) -> str:
        chosen = sorted(runs.get(key, []))[:per_cell]
        if not chosen:
            return "not run"
        parts = []
        for wait, p99, when in chosen:
            text = f"{p99:,.0f} ms"
            parts.append(f"{'**' + text + '**' if p99 <= 100 else text} ({wait * 100:.0f} %, {when})")
        return "; ".join(parts)

    print("| scenario | site: p99 (server core wait, UTC) for its least-contended runs | bare tick server: the same |")
    print("|---|---|---|")
    for arenas, players, label in SCENARIOS:
        print(f"| {label} | {cell((arenas, players, 'site'))} | {cell((arenas, players, 'bare'))} |")


SUMMARY_FIELDS = ("label", "server", "repeat", "client", "arenas", "players_per_arena", "moves_per_s", "lost",
                  "errors", "seen_ms", "ack_ms", "states_per_s", "server_cpu", "generator_cpu",
                  "server_runqueue_wait", "generator_runqueue_wait", "loadavg_before", "loadavg_after", "when",
                  "command")


def write_summary(results: list[dict], labels: list[str], out: Path) -> None:
    rows = [{k: r.get(k) for k in SUMMARY_FIELDS} for r in results if r["label"] in labels]
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{len(rows)} runs -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="final")
    parser.add_argument("--since", default="")
    parser.add_argument("--least-contended", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--summary", type=Path, help="write the chosen runs' figures (--labels) to this JSON file")
    parser.add_argument("--labels", default="", help="comma-separated labels, for --summary")
    args = parser.parse_args()
    if args.summary:
        write_summary(json.loads(args.results.read_text()), args.labels.split(","), args.summary)
        return
    if args.least_contended:
        least_contended(json.loads(args.results.read_text()))
        return
    rows = [r for r in json.loads(args.results.read_text()) if r["label"] == args.label and r["when"] >= args.since]
    print("| server (manager) | arenas × players | moves/s | seen p50 | p99 | p99.9 | lost | ack p99 "
          "| server CPU | server CPU per move | gen. CPU | server run-queue wait | gen. run-queue wait "
          "| tick work / emit per tick (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        tl = r.get("tick_loop") or {}
        loop = f"{tl['work_us_per_tick']} µs / {tl['emit_us_per_tick']} µs" if tl else "n/a"
        s = r["seen_ms"]
        print(f"| {r['server']} ({r['manager']}) | {r['arenas']} × {r['players_per_arena']} | {r['moves_per_s']} "
              f"| {s['50']} | **{s['99']}** | {s['99.9']} | {r['lost']} | {r['ack_ms']['99']} "
              f"| {r['server_cpu']} | {round(1e6 * r['server_cpu'] / r['moves_per_s'])} µs "
              f"| {r['generator_cpu']} | {r['server_runqueue_wait']} "
              f"| {r['generator_runqueue_wait']} | {loop} |")


if __name__ == "__main__":
    main()
