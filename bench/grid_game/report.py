"""Markdown tables of bench/grid_game/results.json.

    .venv/bin/python bench/grid_game/report.py --label final --since 2026-11-25T09:09:00Z
    .venv/bin/python bench/grid_game/report.py --least-contended   # per scenario, all labels
    .venv/bin/python bench/grid_game/report.py --results bench/grid_game/results-gameperf.json \
        --summary bench/grid_game/summary-generator.json --labels crowd512-websockets,crowd512-raw,arenas100x8-raw
    .venv/bin/python bench/grid_game/report.py --runs-table --results bench/grid_game/summary-headroom.json

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


SUMMARY_FIELDS = ("label", "server", "repeat", "client", "loop", "arenas", "players_per_arena", "moves_per_s",
                  "lost", "errors", "seen_ms", "ack_ms", "states_per_s", "states_in_window", "server_cpu",
                  "generator_cpu", "server_us_per_move", "generator_us_per_state", "generator_us_per_move",
                  "server_runqueue_wait", "generator_runqueue_wait", "server_gc", "loadavg_before",
                  "loadavg_after", "when", "command")


def write_summary(results: list[dict], labels: list[str], out: Path) -> None:
    rows = [{k: r.get(k) for k in SUMMARY_FIELDS} for r in results if r["label"] in labels]
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{len(rows)} runs -> {out}")


def runs_table(rows: list[dict]) -> None:
    """One line per run of a summary (or results) file, in its order."""
    print("| run | server | repeat | moves/s | seen p50 | p99 | lost | ack p99 | server CPU | server µs/move "
          "| generator CPU | generator µs/state | generator µs/move | server / generator core wait | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def us(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f}"

    for r in rows:
        client = f"{r.get('client')}/{r.get('loop') or 'asyncio'}"
        print(f"| {r['label']}: {r['arenas']} × {r['players_per_arena']}, {client} | {r['server']} "
              f"| {r['repeat']} "
              f"| {r['moves_per_s']:,.0f} | {r['seen_ms']['50']:.0f} ms | **{r['seen_ms']['99']:.0f} ms** "
              f"| {r['lost']} | {r['ack_ms']['99']:.0f} ms | {r['server_cpu']:.2f} "
              f"| {us(r.get('server_us_per_move'))} "
              f"| {r['generator_cpu']:.2f} | {us(r.get('generator_us_per_state'))} "
              f"| {us(r.get('generator_us_per_move'))} "
              f"| {100 * r['server_runqueue_wait']:.0f} % / {100 * r['generator_runqueue_wait']:.0f} % "
              f"| {r['loadavg_before']:.1f} |")


def ratios(rows: list[dict]) -> None:
    """site / site-base within each label and repeat (the two ran back to back)."""
    print("| run | repeat | p99 site / base | server µs per move site / base | generator CPU site / base |")
    print("|---|---|---|---|---|")
    pairs: dict[tuple[str, int], dict[str, dict]] = {}
    for r in rows:
        pairs.setdefault((r["label"], r["repeat"]), {})[r["server"]] = r
    for (label, repeat), pair in pairs.items():
        site, base = pair.get("site"), pair.get("site-base")
        if not site or not base:
            continue

        def ratio(key, sub=None):  # type: ignore[no-untyped-def]
            a, b = (site[key][sub], base[key][sub]) if sub else (site.get(key), base.get(key))
            return "–" if not a or not b else f"{a / b:.2f}"

        print(f"| {label} | {repeat} | {ratio('seen_ms', '99')} | {ratio('server_us_per_move')} "
              f"| {ratio('generator_cpu')} |")


def client_ratios(rows: list[dict]) -> None:
    """The skimming client against the websockets one, per scenario, server and repeat."""
    print("| scenario | server | repeat | generator µs/state skim / websockets "
          "| generator CPU skim / websockets "
          "| p99 skim / websockets |")
    print("|---|---|---|---|---|---|")
    runs: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        runs.setdefault((r["arenas"], r["players_per_arena"], r["server"], r["repeat"]), {})[r["client"]] = r
    for (arenas, players, server, repeat), by_client in runs.items():
        new, old = by_client.get("skim"), by_client.get("websockets")
        if not new or not old:
            continue
        per_state = (f"{new['generator_us_per_state']:.0f} / {old['generator_us_per_state']:.0f} µs = "
                     f"{new['generator_us_per_state'] / old['generator_us_per_state']:.2f}")
        print(f"| {arenas} × {players} | {server} | {repeat} | {per_state} "
              f"| {new['generator_cpu'] / old['generator_cpu']:.2f} "
              f"| {new['seen_ms']['99'] / old['seen_ms']['99']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="final")
    parser.add_argument("--since", default="")
    parser.add_argument("--least-contended", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--summary", type=Path, help="write the chosen runs' figures (--labels) to this JSON file")
    parser.add_argument("--labels", default="", help="comma-separated labels, for --summary")
    parser.add_argument("--runs-table", action="store_true",
                        help="one table line per run of --results (e.g. a summary file)")
    args = parser.parse_args()
    if args.runs_table:
        rows = json.loads(args.results.read_text())
        runs_table(rows)
        print()
        ratios(rows)
        print()
        client_ratios(rows)
        return
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
