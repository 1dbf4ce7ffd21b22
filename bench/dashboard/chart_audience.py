"""Summary and chart of bench/dashboard/audience.py runs (plain SVG: no plotting library).

    .venv/bin/python bench/dashboard/chart_audience.py results/audience-10k.json results/audience-vs-base.json

Reads the raw results files (git-ignored), writes the committed summary
bench/dashboard/summaries/audience.json (the figures docs/benchmarks.md
quotes, every repeat with its machine load) and draws
docs/img/bench-map-audience.svg from that summary alone:
left, p99 vote-to-last-viewer of the steady points; middle, server CPU per
joined connection in the storms; right, the steady viewers' longest wait
between two deltas, in a quiet window and during the storm.
With `--from-summary` it redraws from the committed summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from html import escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SUMMARY = HERE / "summaries" / "audience.json"
OUT = ROOT / "docs" / "img" / "bench-map-audience.svg"
COLOURS = {"site": "#1f6feb", "site-base": "#cf222e"}
STEADY_KEYS = ("viewers", "offered_rate", "acked_per_s", "visible_p50_ms", "visible_p99_ms", "ack_p99_ms",
               "deltas_per_s", "server_cpu", "server_cpu_wait", "generator_cpu", "generator_limited",
               "connect_seconds", "missing_in_db", "connections_lost", "not_visible_everywhere", "unacked",
               "server_rss_kib", "load_before", "load_after", "repeat")


def summarise(paths: list[Path]) -> dict:
    steady, storms, memory = [], [], []
    runs = []
    for path in paths:
        data = json.loads(path.read_text())
        runs.append({"file": path.name, "started": data["meta"]["started"], "load": data["meta"]["uptime_load"],
                     "load_end": data["meta"].get("uptime_load_end"), "args": data["meta"]["args"]})
        for p in data["points"]:
            if "failed" in p:
                (storms if p.get("storm_size") else steady).append(
                    {"run": path.name, "kind": p["server_kind"], "viewers": p["viewers"], "failed": True})
                continue
            row = {"run": path.name, "kind": p["server_kind"], **{k: p.get(k) for k in STEADY_KEYS}}
            if p.get("storm"):
                row["storm"] = p["storm"]
                storms.append(row)
            else:
                steady.append(row)
        for m in data.get("memory", []):
            memory.append({"run": path.name, **m})
    return {"runs": runs, "steady": steady, "storms": storms, "memory": memory}


def label(row: dict) -> str:
    if "storm" in row:
        s = row["storm"]
        return f"{row['kind']}\n{row['viewers']}+{s['connections']} at {s['offered_rate']:.0f}/s"
    return f"{row['kind']}\n{row['viewers']} viewers, {row['offered_rate']:.0f}/s"


PANEL_W, PANEL_H, PAD = 420, 330, 54


def panel(x0: int, rows: list[dict], series: list[tuple[str, list[float | None]]], ylabel: str, title: str,
          target: float | None = None) -> list[str]:
    """One bar panel: a group per point (kind, load), a bar per repeat and series."""
    out = [f'<text x="{x0 + PANEL_W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">'
           f'{escape(title)}</text>']
    values = [v for _, vs in series for v in vs if v is not None]
    top = max(values + ([target * 1.15] if target else []) + [1.0]) * 1.1
    plot_h = PANEL_H - PAD - 40
    y0 = 30 + plot_h

    def y(v: float) -> float:
        return y0 - plot_h * v / top

    out.append(f'<line x1="{x0 + PAD}" y1="{y0}" x2="{x0 + PANEL_W - 10}" y2="{y0}" stroke="black"/>')
    out.append(f'<line x1="{x0 + PAD}" y1="30" x2="{x0 + PAD}" y2="{y0}" stroke="black"/>')
    for k in range(5):
        v = top * k / 4
        out.append(f'<text x="{x0 + PAD - 4}" y="{y(v) + 4:.0f}" text-anchor="end" font-size="10">{v:.0f}</text>')
    out.append(f'<text x="{x0 + 12}" y="{30 + plot_h / 2}" font-size="11" text-anchor="middle" '
               f'transform="rotate(-90 {x0 + 12} {30 + plot_h / 2})">{escape(ylabel)}</text>')
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(label(row), []).append(i)
    if not groups:
        return out
    group_w = (PANEL_W - PAD - 20) / len(groups)
    per_group = len(series) * max(len(v) for v in groups.values())
    bar_w = group_w * 0.8 / per_group
    for g, (name, idx) in enumerate(groups.items()):
        gx = x0 + PAD + 10 + g * group_w
        n = 0
        for s_index, (_, vs) in enumerate(series):
            for i in idx:
                v = vs[i]
                colour = COLOURS.get(rows[i]["kind"], "#555")
                opacity = 1.0 if s_index == len(series) - 1 else 0.4
                if v is not None:
                    bx = gx + n * bar_w
                    out.append(f'<rect x="{bx:.1f}" y="{y(v):.1f}" width="{bar_w * 0.9:.1f}" '
                               f'height="{y0 - y(v):.1f}" fill="{colour}" fill-opacity="{opacity}"/>')
                    out.append(f'<text x="{bx + bar_w * 0.45:.1f}" y="{y(v) - 3:.1f}" font-size="9" '
                               f'text-anchor="middle">{v:.0f}</text>')
                n += 1
        for line, text in enumerate(name.split("\n")):
            out.append(f'<text x="{gx + group_w * 0.4:.1f}" y="{y0 + 14 + 12 * line}" font-size="10" '
                       f'text-anchor="middle">{escape(text)}</text>')
    if target is not None:
        out.append(f'<line x1="{x0 + PAD}" y1="{y(target):.1f}" x2="{x0 + PANEL_W - 10}" y2="{y(target):.1f}" '
                   f'stroke="black" stroke-dasharray="5,4"/>')
        out.append(f'<text x="{x0 + PANEL_W - 12}" y="{y(target) - 4:.1f}" font-size="10" text-anchor="end">'
                   f'budget {target:g} ms</text>')
    for k, (series_name, _) in enumerate(series):
        opacity = 1.0 if k == len(series) - 1 else 0.4
        ly = PANEL_H - 14 + 0 * k
        lx = x0 + PAD + k * 190
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="#555" fill-opacity="{opacity}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" font-size="10">{escape(series_name)}</text>')
    return out


def draw(summary: dict) -> None:
    steady = [r for r in summary["steady"] if not r.get("failed")]
    storms = [r for r in summary["storms"] if not r.get("failed")]
    parts = panel(0, steady, [("p99, each repeat", [r["visible_p99_ms"] for r in steady])],
                  "ms", "Steady audience: p99 vote-to-last-viewer", target=250)
    parts += panel(PANEL_W, storms, [
        ("net of the quiet rate", [r["storm"].get("excess_cpu_ms_per_connection") for r in storms]),
        ("all server CPU / joined", [r["storm"].get("server_cpu_ms_per_connection") for r in storms]),
    ], "server CPU ms per connection", "Join storm: server CPU per connection")
    parts += panel(2 * PANEL_W, storms, [
        ("quiet window before", [r["storm"].get("quiet_gap_max_ms") for r in storms]),
        ("during the storm", [r["storm"].get("storm_gap_max_ms") for r in storms]),
    ], "ms", "Steady viewers: longest wait between deltas")
    legend = " ".join(f'<tspan fill="{c}">■ {escape(k)}</tspan>' for k, c in COLOURS.items())
    width, height = 3 * PANEL_W, PANEL_H + 24
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
           + "".join(parts)
           + f'<text x="{width / 2}" y="{height - 4}" font-size="11" text-anchor="middle">{legend} '
             f'(server on one core, generator on the other; every repeat is a bar)</text></svg>\n')
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(svg)
    print(f"wrote {OUT.relative_to(ROOT)}")


def tables(summary: dict) -> str:
    """Markdown tables of the summary (quoted in docs/benchmarks.md)."""
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    lines = ["| server | viewers | offered/s | acked/s | p50 ms | p99 ms | deltas/s | server CPU | CPU wait "
             "| generator CPU | connect s | missing in DB | load |", "|" + "---|" * 13]
    for r in summary["steady"]:
        if r.get("failed"):
            lines.append(f"| {r['kind']} | {r['viewers']} | failed |" + " |" * 10)
            continue
        lines.append(
            f"| {r['kind']} | {r['viewers']} | {r['offered_rate']:.0f} | {r['acked_per_s']:.0f} "
            f"| {ms(r['visible_p50_ms'])} | {ms(r['visible_p99_ms'])} | {r['deltas_per_s']} "
            f"| {r['server_cpu']:.0%} | {r['server_cpu_wait']:.0%} | {r['generator_cpu']:.0%} "
            f"| {r['connect_seconds']} | {r['missing_in_db']} | {r['load_before'][0]} |")
    lines += ["", "| server | watching | votes/s | joining | at /s | took s | joined/s | join p50 ms | join p99 ms "
              "| server CPU ms/conn (all) | net of quiet rate | longest delta gap quiet / storm ms | vote p99 ms "
              "| generator CPU | load |", "|" + "---|" * 15]
    for r in summary["storms"]:
        if r.get("failed"):
            lines.append(f"| {r['kind']} | {r['viewers']} | failed |" + " |" * 12)
            continue
        s = r["storm"]
        lines.append(
            f"| {r['kind']} | {r['viewers']} | {r['offered_rate']:.0f} | {s['connections']} "
            f"| {s['offered_rate']:.0f} | {s['seconds']:.0f} | {s['joined_per_s']:.0f} | {ms(s['join_p50_ms'])} "
            f"| {ms(s['join_p99_ms'])} | {s.get('server_cpu_ms_per_connection')} "
            f"| {s.get('excess_cpu_ms_per_connection')} | {ms(s['quiet_gap_max_ms'])} / {ms(s['storm_gap_max_ms'])} "
            f"| {ms(r['visible_p99_ms'])} | {r['generator_cpu']:.0%} | {r['load_before'][0]} |")
    if summary["memory"]:
        lines += ["", "| server | idle connections | KiB per connection |", "|---|---|---|"]
        lines += [f"| {m['kind']} | {m['connections']} | {m['kib_per_connection']} |" for m in summary["memory"]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--from-summary":
        summary = json.loads(SUMMARY.read_text())
    else:
        summary = summarise([Path(a) if Path(a).exists() else HERE / a for a in argv])
        SUMMARY.parent.mkdir(exist_ok=True)
        SUMMARY.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {SUMMARY.relative_to(ROOT)}")
    draw(summary)
    print(tables(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
