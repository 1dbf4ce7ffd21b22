"""Markdown table of bench/grid_game/results.json (runs with a given label).

    .venv/bin/python bench/grid_game/report.py --label final --since 2026-11-25T09:09:00Z
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="final")
    parser.add_argument("--since", default="")
    args = parser.parse_args()
    rows = [r for r in json.loads(RESULTS.read_text()) if r["label"] == args.label and r["when"] >= args.since]
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
