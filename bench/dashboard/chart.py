"""Charts of a run of bench/dashboard/run.py (matplotlib, from bench/dashboard/requirements.txt).

    .venv/bin/python bench/dashboard/chart.py [bench/dashboard/results/<name>.json]
    .venv/bin/python bench/dashboard/chart.py --summarize bench/dashboard/summaries/<name>.json \
        bench/dashboard/results/<run>.json [more runs...]
    .venv/bin/python bench/dashboard/chart.py --prefix bench-map-durable bench/dashboard/summaries/<name>.json

Without a file, the newest results file that has load points is drawn.
`--summarize` writes the committed summary of one or more raw results files
(git-ignored): every point's figures and the machine's load, nothing else,
so the charts in docs/ can be redrawn from what is committed. `--prefix`
names the PNG files (default `bench-map`). With several repeats of a kind,
each repeat is its own line. `--svg SUMMARY OUT.png` draws the three panels
in one PNG without matplotlib (an SVG rendered by Chromium through
bench/render_svg.mjs, as the other benchmarks' charts are).

Writes docs/img/bench-map-throughput.png (acked votes/s against offered) and
docs/img/bench-map-latency.png (p99 vote-to-visible against offered) and
docs/img/bench-map-cpu.png (server CPU µs per acked vote), one panel per
viewer count, one line per server kind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import math
import subprocess
import tempfile

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # bench/dashboard/requirements.txt not installed: --svg still works
    plt = None

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "img"
STYLE = {
    "site": ("#1f6feb", "o", "site (coalesced, group commit, task-free broadcast)"),
    "site-stock": ("#8250df", "s", "site with stock python-socketio server/manager"),
    "baseline": ("#cf222e", "^", "once-per-vote python-socketio (talk's design)"),
    "baseline-fast": ("#bf8700", "v", "once-per-vote with the task-free manager"),
    "site@100": ("#0a3069", "D", "site with a 100 ms tick"),
    "site-base": ("#6e7781", "x", "site before the change (site-base, same run)"),
}
# What a summary keeps of each point (bench/dashboard/loadgen.py and run.py write them).
SUMMARY_KEYS = (
    "server_kind", "viewers", "voters", "offered_rate", "repeat", "acked_per_s", "unacked", "errors",
    "visible_p50_ms", "visible_p95_ms", "visible_p99_ms", "ack_p99_ms", "deltas_per_s", "server_cpu",
    "server_cpu_wait", "server_cpu_us_per_vote", "generator_cpu", "missing_in_db", "acked_total",
    "load_before", "load_after", "failed",
)


def series(points: list[dict], kind: str, viewers: int, key: str,
           repeat: int | None = None) -> tuple[list[float], list[float]]:
    rows = sorted(
        (p["offered_rate"], p.get(key)) for p in points
        if p.get("server_kind") == kind and p.get("viewers") == viewers and not p.get("failed")
        and (repeat is None or p.get("repeat", 0) == repeat)
    )
    return [r for r, _ in rows], [v if v is not None else float("nan") for _, v in rows]


def draw(points: list[dict], key: str, ylabel: str, path: Path, *, target: float | None, log_y: bool,
         diagonal: bool, title: str) -> None:
    viewer_counts = sorted({p["viewers"] for p in points if not p.get("failed")})
    kinds = [k for k in STYLE if any(p.get("server_kind") == k for p in points)]
    fig, axes = plt.subplots(1, len(viewer_counts), figsize=(6 * len(viewer_counts), 5.2), squeeze=False)
    for ax, viewers in zip(axes[0], viewer_counts, strict=True):
        top = 0.0
        for kind in kinds:
            repeats = sorted({p.get("repeat", 0) for p in points if p.get("server_kind") == kind})
            for repeat in repeats:
                xs, ys = series(points, kind, viewers, key, repeat if len(repeats) > 1 else None)
                if not xs:
                    continue
                colour, marker, label = STYLE[kind]
                if len(repeats) > 1:
                    label = f"{label}, repeat {repeat + 1}"
                ax.plot(xs, ys, marker=marker, color=colour, label=label,
                        linestyle="-" if repeat == repeats[0] else "--")
                top = max(top, max(xs))
        if diagonal and top:
            ax.plot([0, top], [0, top], color="#999", linestyle=":", linewidth=1, label="acked = offered")
        if target is not None:
            ax.axhline(target, color="#2da44e", linestyle="--", linewidth=1, label=f"target {target:g}")
        if log_y:
            ax.set_yscale("log")
        ax.set_title(f"{viewers} viewers")
        ax.set_xlabel("offered votes/s")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    handles: dict[str, object] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summarize(out: Path, sources: list[Path]) -> None:
    """The committed summary of raw results files: their points' figures and the load."""
    runs, points = [], []
    for source in sources:
        data = json.loads(source.read_text())
        meta = data["meta"]
        runs.append({"file": source.name, "started": meta.get("started"), "finished": meta.get("finished"),
                     "load_start": meta.get("uptime_load"), "load_end": meta.get("uptime_load_end"),
                     "args": meta.get("args")})
        points += [{k: p[k] for k in SUMMARY_KEYS if k in p} | {"run": source.name} for p in data["points"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    loads = [r["load_start"] for r in runs if r["load_start"]]
    out.write_text(json.dumps({"meta": {"summary_of": runs, "uptime_load": loads[0] if loads else None},
                               "points": points}, indent=1) + "\n")
    print(f"wrote {out} ({len(points)} points from {len(runs)} runs)")


SVG_PANELS = (
    ("acked_per_s", "acked votes/s", False),
    ("visible_p99_ms", "p99 vote-to-visible ms (log)", True),
    ("server_cpu_us_per_vote", "server CPU µs per acked vote", False),
)


def svg_chart(points: list[dict], title: str, target: float) -> str:
    """The three panels as one SVG (no plotting library), one line per kind and repeat."""
    width, height, pw, ph, top = 1500, 520, 400, 330, 70
    kinds = [k for k in STYLE if any(p.get("server_kind") == k for p in points)]
    rates = sorted({p["offered_rate"] for p in points if not p.get("failed")})
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="14">{title}</text>']
    for i, (key, label, log) in enumerate(SVG_PANELS):
        x0 = 80 + i * (pw + 90)
        values = [p[key] for p in points if p.get(key) is not None and not p.get("failed")]
        if key == "visible_p99_ms":
            values.append(250)
        lo, hi = (min(values), max(values)) if values else (0, 1)
        if log:
            lo, hi = math.log10(max(1.0, lo * 0.8)), math.log10(hi * 1.25)
        else:
            lo, hi = 0.0, max(hi * 1.1, target * 1.05 if key == "acked_per_s" else 0)

        def fx(rate: float, x0: float = x0) -> float:
            return x0 + pw * (rates.index(rate) + 0.5) / len(rates)

        def fy(v: float, lo: float = lo, hi: float = hi, log: bool = log) -> float:
            v = math.log10(max(v, 1e-9)) if log else v
            return top + ph - ph * (v - lo) / (hi - lo or 1)

        out.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top - 8}" text-anchor="middle">{label}</text>')
        for rate in rates:
            out.append(f'<text x="{fx(rate)}" y="{top + ph + 16}" text-anchor="middle">{rate:g}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 34}" text-anchor="middle">offered votes/s</text>')
        for n in range(5):
            v = lo + (hi - lo) * n / 4
            shown = 10 ** v if log else v
            y = top + ph - ph * n / 4
            out.append(f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{shown:,.0f}</text>')
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{y}" y2="{y}" stroke="#eee"/>')
        line = {"acked_per_s": target, "visible_p99_ms": 250}.get(key)
        if line is not None and (10 ** lo if log else lo) <= line <= (10 ** hi if log else hi):
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{fy(line)}" y2="{fy(line)}" stroke="#2da44e" '
                       f'stroke-dasharray="6,4"/><text x="{x0 + pw - 4}" y="{fy(line) - 4}" fill="#2da44e" '
                       f'text-anchor="end">target {line:g}</text>')
        for kind in kinds:
            colour = STYLE[kind][0]
            repeats = sorted({p.get("repeat", 0) for p in points if p.get("server_kind") == kind})
            for repeat in repeats:
                rows = sorted((p["offered_rate"], p[key]) for p in points
                              if p.get("server_kind") == kind and p.get("repeat", 0) == repeat
                              and p.get(key) is not None and not p.get("failed"))
                dash = "" if repeat == repeats[0] else ' stroke-dasharray="5,3"'
                path = " ".join(f"{fx(r):.1f},{fy(v):.1f}" for r, v in rows)
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                           f'stroke-width="2"{dash}/>')
                out += [f'<circle cx="{fx(r):.1f}" cy="{fy(v):.1f}" r="3" fill="{colour}"/>' for r, v in rows]
    for j, kind in enumerate(kinds):
        x = 80 + j * 520
        out.append(f'<line x1="{x}" x2="{x + 30}" y1="{height - 40}" y2="{height - 40}" '
                   f'stroke="{STYLE[kind][0]}" stroke-width="2"/>'
                   f'<text x="{x + 36}" y="{height - 36}">{STYLE[kind][2]} (dashed: repeat 2)</text>')
    out.append("</svg>")
    return "\n".join(out)


def draw_svg(points: list[dict], out: Path, title: str, target: float) -> None:
    """Rendered to PNG by Chromium (bench/render_svg.mjs), like the other benchmarks' charts."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "chart.svg"
        source.write_text(svg_chart(points, title, target))
        script = (f"import {{ renderSvgToPng }} from '{ROOT / 'bench' / 'render_svg.mjs'}';"
                  f"import {{ readFileSync }} from 'node:fs';"
                  f"await renderSvgToPng(readFileSync('{source}', 'utf8'),"
                  f" {{ width: 1500, height: 520, out: '{out}' }});")
        subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, check=True, timeout=120)


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--svg"]:  # one PNG of three panels, without matplotlib
        if len(args) != 3:
            print(__doc__)
            return 2
        data = json.loads(Path(args[1]).read_text())
        load = data["meta"].get("uptime_load")
        draw_svg(data["points"], Path(args[2]), f"Vote map, 1,000 viewers: site against site-base, same runs "
                 f"(server on CPU 0, generator on CPU 1; load average at start {load})", target=5000)
        print(f"wrote {args[2]}")
        return 0
    if args[:1] == ["--summarize"]:
        if len(args) < 3:
            print(__doc__)
            return 2
        summarize(Path(args[1]), [Path(a) for a in args[2:]])
        return 0
    prefix = "bench-map"
    if args[:1] == ["--prefix"] and len(args) >= 2:
        prefix, args = args[1], args[2:]
    if len(args) > 1:
        print(__doc__)
        return 2
    if len(args) == 1:
        path = Path(args[0])
    else:
        candidates = sorted(
            (p for p in (ROOT / "bench" / "dashboard" / "results").glob("*.json")
             if json.loads(p.read_text()).get("points")),
            key=lambda p: p.stat().st_mtime,
        )
        if not candidates:
            print("no results with load points in bench/dashboard/results/")
            return 1
        path = candidates[-1]
    data = json.loads(path.read_text())
    points = data["points"]
    load = data["meta"].get("uptime_load")
    note = f"server on CPU 0, generator on CPU 1; load average at start {load}"
    throughput, latency, cpu = (OUT / f"{prefix}-{name}.png" for name in ("throughput", "latency", "cpu"))
    target = 5000 if prefix != "bench-map" else 3000
    draw(points, "acked_per_s", "acked votes/s", throughput, target=target, log_y=False,
         diagonal=True, title=f"Vote map: acked durable votes/s ({note})")
    draw(points, "visible_p99_ms", "p99 vote-to-visible (ms, log)", latency, target=250,
         log_y=True, diagonal=False, title=f"Vote map: p99 vote-to-visible latency ({note})")
    draw(points, "server_cpu_us_per_vote", "server CPU µs per acked vote (log)", cpu,
         target=None, log_y=True, diagonal=False,
         title=f"Vote map: server CPU time per acked vote, the figure least moved by other load ({note})")
    print(f"wrote {throughput}, {latency} and {cpu}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
