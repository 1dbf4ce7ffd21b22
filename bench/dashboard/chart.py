"""Charts of a run of bench/dashboard/run.py (matplotlib, from bench/dashboard/requirements.txt).

    .venv/bin/python bench/dashboard/chart.py [bench/dashboard/results/<name>.json]

Without a file, the newest results file that has load points is drawn.

Writes docs/img/bench-map-throughput.png (acked votes/s against offered) and
docs/img/bench-map-latency.png (p99 vote-to-visible against offered) and
docs/img/bench-map-cpu.png (server CPU µs per acked vote), one panel per
viewer count, one line per server kind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "img"
STYLE = {
    "site": ("#1f6feb", "o", "site (coalesced, group commit, task-free broadcast)"),
    "site-stock": ("#8250df", "s", "site with stock python-socketio server/manager"),
    "baseline": ("#cf222e", "^", "once-per-vote python-socketio (talk's design)"),
    "baseline-fast": ("#bf8700", "v", "once-per-vote with the task-free manager"),
    "site@100": ("#0a3069", "D", "site with a 100 ms tick"),
}


def series(points: list[dict], kind: str, viewers: int, key: str) -> tuple[list[float], list[float]]:
    rows = sorted(
        (p["offered_rate"], p.get(key)) for p in points
        if p.get("server_kind") == kind and p.get("viewers") == viewers and "failed" not in p
    )
    return [r for r, _ in rows], [v if v is not None else float("nan") for _, v in rows]


def draw(points: list[dict], key: str, ylabel: str, path: Path, *, target: float | None, log_y: bool,
         diagonal: bool, title: str) -> None:
    viewer_counts = sorted({p["viewers"] for p in points if "failed" not in p})
    kinds = [k for k in STYLE if any(p.get("server_kind") == k for p in points)]
    fig, axes = plt.subplots(1, len(viewer_counts), figsize=(6 * len(viewer_counts), 5.2), squeeze=False)
    for ax, viewers in zip(axes[0], viewer_counts, strict=True):
        top = 0.0
        for kind in kinds:
            xs, ys = series(points, kind, viewers, key)
            if not xs:
                continue
            colour, marker, label = STYLE[kind]
            ax.plot(xs, ys, marker=marker, color=colour, label=label)
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


def main() -> int:
    if len(sys.argv) > 2:
        print(__doc__)
        return 2
    if len(sys.argv) == 2:
        path = Path(sys.argv[1])
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
    draw(points, "acked_per_s", "acked votes/s", OUT / "bench-map-throughput.png", target=3000, log_y=False,
         diagonal=True, title=f"Vote map: acked durable votes/s ({note})")
    draw(points, "visible_p99_ms", "p99 vote-to-visible (ms, log)", OUT / "bench-map-latency.png", target=250,
         log_y=True, diagonal=False, title=f"Vote map: p99 vote-to-visible latency ({note})")
    draw(points, "server_cpu_us_per_vote", "server CPU µs per acked vote (log)", OUT / "bench-map-cpu.png",
         target=None, log_y=True, diagonal=False,
         title=f"Vote map: server CPU time per acked vote, the figure least moved by other load ({note})")
    print(f"wrote {OUT / 'bench-map-throughput.png'}, {OUT / 'bench-map-latency.png'} and {OUT / 'bench-map-cpu.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
