"""Draw a /chat benchmark as docs/img/bench-chat.png (SVG rendered by Chromium).

    python bench/chat/chart.py --results bench/chat/results.json \
        --summary bench/chat/summary/chat-200.json --out docs/img/bench-chat.png
    python bench/chat/chart.py --summary bench/chat/summary/chat-200.json --out docs/img/bench-chat.png

With `--results` (run.py's raw output, not in git) it first writes `--summary`:
the command, the machine's load and every run's figures without the
per-second timelines, small enough to commit. The chart is always drawn
from the summary, so a committed summary redraws the committed chart.

Left: p99 send-to-all-delivered latency against the offered rate (log scale,
the WORST repeat per rate: what held in every repeat), with the 200 ms line.
Right: messages/s acked against offered (worst repeat). Site in red, the site
of `--base-root` (`site-base`, e.g. the previous main) in black, bare
python-socketio (stock manager) in grey, bare with the site's broadcast
manager in blue; other kinds (`site@N`, ...) in further colours.
"""

import argparse
import json
import math
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLORS = {"site": "#c8102e", "site-base": "#111111", "bare": "#6b7280", "bare-fast": "#0b57d0"}
EXTRA_COLORS = ("#1b7f3b", "#a14800", "#7b3fc4", "#00707a")
LABELS = {"site": "site /chat (Django, SQLite, trending)", "site-base": "site before (--base-root)",
          "bare": "bare python-socketio (stock manager)", "bare-fast": "bare, site's broadcast manager"}
NO_RESULT_MS = 20000.0  # a run with nothing delivered is drawn at the top of the scale


def kinds_of(report: dict) -> list[str]:
    kinds: list[str] = []
    for r in report["results"]:
        if r.get("label") and r["label"] not in kinds:
            kinds.append(r["label"])
    return kinds


def color(kind: str, kinds: list[str]) -> str:
    if kind in COLORS:
        return COLORS[kind]
    extra = [k for k in kinds if k not in COLORS]
    return EXTRA_COLORS[extra.index(kind) % len(EXTRA_COLORS)]


def worst(results: list[dict], kind: str) -> list[dict]:
    """Per rate, the repeat with the highest p99 (a failed or undelivered run counts as worst)."""
    rows: dict[float, dict] = {}
    for r in results:
        if r.get("label") != kind:
            continue
        p99 = NO_RESULT_MS if r.get("failed") or r.get("delivered_p99_ms") is None else r["delivered_p99_ms"]
        row = {"offered_rate": r["offered_rate"], "delivered_p99_ms": p99, "acked_per_s": r.get("acked_per_s", 0)}
        rate = r["offered_rate"]
        if rate not in rows or p99 > rows[rate]["delivered_p99_ms"]:
            rows[rate] = row
    return [rows[k] for k in sorted(rows)]


def svg(report: dict) -> str:
    W, H = 1100, 460
    pw, ph = 440, 320
    panels = [(70, 60), (610, 60)]
    rates = report["rates"]
    rmin, rmax = 0, max(rates) * 1.05
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="13">',
           f'<rect width="{W}" height="{H}" fill="#fff"/>',
           f'<text x="{W/2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">'
           f'/chat benchmark: one room, {report["members"]} members, server on one core</text>']

    def x_of(px, rate):
        return px + (rate - rmin) / (rmax - rmin) * pw

    # Left panel: p99 latency, log scale 1 ms .. 20 s.
    px, py = panels[0]
    lo, hi = math.log10(1), math.log10(20000)

    def y_lat(ms):
        ms = max(1.0, min(20000.0, ms))
        return py + ph - (math.log10(ms) - lo) / (hi - lo) * ph

    out.append(f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for ms in (1, 10, 100, 1000, 10000):
        y = y_lat(ms)
        out.append(f'<line x1="{px}" x2="{px+pw}" y1="{y}" y2="{y}" stroke="#eee"/>')
        out.append(f'<text x="{px-6}" y="{y+4}" text-anchor="end">{ms:g}</text>')
    y200 = y_lat(200)
    out.append(f'<line x1="{px}" x2="{px+pw}" y1="{y200}" y2="{y200}" stroke="#1b7f3b" stroke-dasharray="6 4"/>')
    out.append(f'<text x="{px+pw-4}" y="{y200-5}" text-anchor="end" fill="#1b7f3b">200 ms</text>')
    out.append(f'<text x="{px+pw/2}" y="{py-10}" text-anchor="middle" font-weight="bold">p99 send-to-all-delivered (ms, log)</text>')
    # Right panel: acked/s vs offered.
    qx, qy = panels[1]

    def y_rate(v):
        return qy + ph - v / rmax * ph

    out.append(f'<rect x="{qx}" y="{qy}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    out.append(f'<line x1="{x_of(qx, 0)}" y1="{y_rate(0)}" x2="{x_of(qx, rmax)}" y2="{y_rate(rmax)}" stroke="#ccc" stroke-dasharray="4 4"/>')
    out.append(f'<text x="{qx+pw/2}" y="{qy-10}" text-anchor="middle" font-weight="bold">messages/s acked (all stored)</text>')
    step = 50 if rmax <= 500 else 100
    for v in range(0, int(rmax) + 1, step):
        y = y_rate(v)
        out.append(f'<line x1="{qx}" x2="{qx+pw}" y1="{y}" y2="{y}" stroke="#f0f0f0"/>')
        out.append(f'<text x="{qx-6}" y="{y+4}" text-anchor="end">{v}</text>')
    for panel in panels:
        for rate in rates:
            out.append(f'<text x="{x_of(panel[0], rate)}" y="{panel[1]+ph+18}" text-anchor="middle">{rate:g}</text>')
        out.append(f'<text x="{panel[0]+pw/2}" y="{panel[1]+ph+38}" text-anchor="middle">offered messages/s</text>')
    kinds = kinds_of(report)
    for kind in reversed(kinds):
        rows = worst(report["results"], kind)
        if not rows:
            continue
        pts = " ".join(f'{x_of(px, r["offered_rate"]):.1f},{y_lat(r["delivered_p99_ms"]):.1f}' for r in rows)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color(kind, kinds)}" stroke-width="2.5"/>')
        for r in rows:
            out.append(f'<circle cx="{x_of(px, r["offered_rate"]):.1f}" cy="{y_lat(r["delivered_p99_ms"]):.1f}" r="4" fill="{color(kind, kinds)}"/>')
        pts = " ".join(f'{x_of(qx, r["offered_rate"]):.1f},{y_rate(r["acked_per_s"]):.1f}' for r in rows)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color(kind, kinds)}" stroke-width="2.5"/>')
        for r in rows:
            out.append(f'<circle cx="{x_of(qx, r["offered_rate"]):.1f}" cy="{y_rate(r["acked_per_s"]):.1f}" r="4" fill="{color(kind, kinds)}"/>')
    ly = H - 22
    for i, kind in enumerate(kinds):
        lx = 60 + i * (1000 // max(1, len(kinds)))
        label = LABELS.get(kind, kind)
        out.append(f'<rect x="{lx}" y="{ly-10}" width="22" height="6" fill="{color(kind, kinds)}"/>')
        out.append(f'<text x="{lx+30}" y="{ly-3}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out)


SUMMARY_FIELDS = (
    "label", "offered_rate", "repeat", "members", "senders", "duration", "acked_per_s", "deliveries_per_s",
    "delivered_p50_ms", "delivered_p99_ms", "delivered_max_ms", "ack_p99_ms", "unacked", "errors",
    "not_delivered_to_all", "missing_in_db", "connections_lost", "server_cpu", "generator_cpu",
    "server_run_queue_wait_s", "generator_run_queue_wait_s", "generator_max_loop_lag_ms",
    "loadavg_before_after", "failed",
)


def summarise(report: dict) -> dict:
    keep = ("members", "duration", "rates", "nice", "cpus", "command", "cpu_count", "sustained",
            "sustained_every_repeat")
    summary = {key: report.get(key) for key in keep}
    summary["results"] = [
        {key: r[key] for key in SUMMARY_FIELDS if key in r} for r in report["results"]
    ]
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=None, help="run.py's raw output, summarised into --summary first")
    parser.add_argument("--summary", default=str(ROOT / "bench" / "chat" / "summary" / "chat-200.json"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "bench-chat.png"))
    args = parser.parse_args()
    if args.results:
        Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
        summary = summarise(json.loads(Path(args.results).read_text()))
        Path(args.summary).write_text(json.dumps(summary, indent=1) + "\n")
    report = json.loads(Path(args.summary).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "chart.html"
        page.write_text(f"<!doctype html><html><body style='margin:0'>{svg(report)}</body></html>")
        subprocess.run(["node", str(ROOT / "bench" / "chat" / "render_png.mjs"), str(page), str(Path(args.out).resolve())],
                       cwd=ROOT, check=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
