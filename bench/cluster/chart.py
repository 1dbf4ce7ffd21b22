"""Draw bench/cluster/summary.json as docs/img/bench-cluster.png (SVG rendered by Chromium).

    .venv/bin/python bench/cluster/chart.py [--summary bench/cluster/summary.json] [--out <png>]

Left: CPU per acked vote at the busiest map point (most viewers), stacked by
process (the workers, PostgreSQL, the queue), one bar per kind and repeat,
with the deltas a second each made. Right: p99 vote-to-last-viewer at each
loaded map point, one bar per kind and repeat.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = [("worker_us_per_vote", "workers", "#1f6feb"), ("postgres_us_per_vote", "PostgreSQL", "#8250df"),
         ("queue_us_per_vote", "queue (Redis / RabbitMQ)", "#bf8700")]
KIND_COLOURS = {"embedded": "#1b7f3b", "embedded-sqlite": "#57ab5a", "cluster-redis": "#c8102e",
                "cluster-rabbitmq": "#0b57d0"}


def nice_step(top: float) -> float:
    """A grid step of 1, 2 or 5 times a power of ten giving at most 6 lines up to `top`."""
    magnitude = 10 ** math.floor(math.log10(max(top, 1e-9) / 6))
    return next(m * magnitude for m in (1, 2, 5, 10) if top / (m * magnitude) <= 6)


def svg(summary: dict) -> str:
    rows = [r for r in summary["rows"] if r["part"] == "map" and not r.get("failed") and r["offered_rate"]]
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    repeats = sorted({r["repeat"] for r in rows})
    W, H, ph = 1100, 460, 300
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           'font-size="12">', f'<rect width="{W}" height="{H}" fill="#fff"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
           'Vote map: embedded (1 process) and cluster (2 workers), same run, 2 cores shared by everything</text>']
    # Left: stacked CPU per vote at the busiest point.
    busiest = max(r["viewers"] for r in rows)
    rate = max(r["offered_rate"] for r in rows if r["viewers"] == busiest)
    left = [r for r in rows if r["viewers"] == busiest and r["offered_rate"] == rate]
    px, py, pw = 70, 70, 440
    top = max(sum(r.get(key) or 0 for key, _, _ in PARTS) for r in left) * 1.15 or 1
    out.append(f'<text x="{px + pw / 2}" y="{py - 22}" text-anchor="middle" font-weight="bold">'
               f'CPU µs per acked vote, {busiest:,} viewers, {rate:.0f} votes/s</text>')
    out.append(f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    step, value = nice_step(top), 0.0
    while value <= top:
        y = py + ph - value / top * ph
        out.append(f'<line x1="{px}" x2="{px + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{px - 6}" y="{y + 4:.1f}" text-anchor="end">{value:,.0f}</text>')
        value += step
    slot = pw / max(1, len(kinds) * len(repeats))
    for i, kind in enumerate(kinds):
        for j, repeat in enumerate(repeats):
            row = next((r for r in left if r["kind"] == kind and r["repeat"] == repeat), None)
            if row is None:
                continue
            x = px + (i * len(repeats) + j) * slot + slot * 0.2
            base = 0.0
            for key, _, colour in PARTS:
                part = row.get(key) or 0
                y0, y1 = py + ph - base / top * ph, py + ph - (base + part) / top * ph
                out.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{slot * 0.6:.1f}" height="{y0 - y1:.1f}" '
                           f'fill="{colour}"/>')
                base += part
            out.append(f'<text x="{x + slot * 0.3:.1f}" y="{py + ph - base / top * ph - 4:.1f}" '
                       f'text-anchor="middle">{row["deltas_per_s"]:.0f}/s</text>')
        out.append(f'<text x="{px + (i + 0.5) * len(repeats) * slot:.1f}" y="{py + ph + 16}" '
                   f'text-anchor="middle">{kind}</text>')
    out.append(f'<text x="{px + pw / 2}" y="{py + ph + 32}" text-anchor="middle" fill="#555">'
               'one bar per repeat; above each bar the deltas per second</text>')
    for n, (_, label, colour) in enumerate(PARTS):
        out.append(f'<rect x="{px + n * 150}" y="{H - 30}" width="14" height="10" fill="{colour}"/>')
        out.append(f'<text x="{px + n * 150 + 20}" y="{H - 21}">{label}</text>')
    # Right: p99 per point.
    qx, qw = 610, 440
    points = sorted({(r["viewers"], r["offered_rate"]) for r in rows})
    top = max((r["visible_p99_ms"] or 0) for r in rows) * 1.15 or 1
    out.append(f'<text x="{qx + qw / 2}" y="{py - 22}" text-anchor="middle" font-weight="bold">'
               'p99 vote-to-last-viewer, ms</text>')
    out.append(f'<rect x="{qx}" y="{py}" width="{qw}" height="{ph}" fill="none" stroke="#999"/>')
    step, value = nice_step(top), 0.0
    while value <= top:
        y = py + ph - value / top * ph
        out.append(f'<line x1="{qx}" x2="{qx + qw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{qx - 6}" y="{y + 4:.1f}" text-anchor="end">{value:,.0f}</text>')
        value += step
    group = qw / max(1, len(points))
    bar = group * 0.8 / max(1, len(kinds) * len(repeats))
    for g, (viewers, offered) in enumerate(points):
        for i, kind in enumerate(kinds):
            for j, repeat in enumerate(repeats):
                row = next((r for r in rows if (r["viewers"], r["offered_rate"]) == (viewers, offered)
                            and r["kind"] == kind and r["repeat"] == repeat), None)
                if row is None or row["visible_p99_ms"] is None:
                    continue
                x = qx + g * group + group * 0.1 + (i * len(repeats) + j) * bar
                y = py + ph - row["visible_p99_ms"] / top * ph
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" height="{py + ph - y:.1f}" '
                           f'fill="{KIND_COLOURS.get(kind, "#666")}" fill-opacity="{1 - 0.35 * j:.2f}"/>')
        out.append(f'<text x="{qx + (g + 0.5) * group:.1f}" y="{py + ph + 16}" text-anchor="middle">'
                   f'{viewers:,} viewers, {offered:.0f}/s</text>')
    for n, kind in enumerate(kinds):
        out.append(f'<rect x="{qx + n * 150}" y="{H - 30}" width="14" height="10" '
                   f'fill="{KIND_COLOURS.get(kind, "#666")}"/>')
        out.append(f'<text x="{qx + n * 150 + 20}" y="{H - 21}">{kind}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", default=str(ROOT / "bench" / "cluster" / "summary.json"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "bench-cluster.png"))
    args = parser.parse_args()
    summary = json.loads(Path(args.summary).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "chart.html"
        page.write_text(f"<!doctype html><html><body style='margin:0'>{svg(summary)}</body></html>")
        subprocess.run(["node", str(ROOT / "bench" / "chat" / "render_png.mjs"), str(page),
                        str(Path(args.out).resolve())], cwd=ROOT, check=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
