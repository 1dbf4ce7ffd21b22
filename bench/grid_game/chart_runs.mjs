// Draws a chart of every run in a summary written by bench/grid_game/report.py
// --summary: one group per label (scenario and generator client), one bar per
// run (server and repeat), p99 move-to-seen as the bar, p50 as a line, the
// generator's and the server's CPU (share of their core) under each bar.
//   node bench/grid_game/chart_runs.mjs bench/grid_game/summary-generator.json docs/img/bench-game-generator.png
import { readFileSync } from "node:fs";
import { renderSvgToPng } from "../render_svg.mjs";

const source = process.argv[2] || "bench/grid_game/summary-generator.json";
const out = process.argv[3] || "docs/img/bench-game-generator.png";
const runs = JSON.parse(readFileSync(source, "utf8"));
const labels = [...new Set(runs.map((r) => r.label))];
const colours = { site: "#c8102e", "site-base": "#5b6673", bare: "#8a9099" };
const W = 1000, H = 520, left = 70, right = 20, top = 60, bottom = 130;
const lo = 10, cap = 5000;
const y = (ms) => top + (H - top - bottom) * (1 - (Math.log10(Math.max(lo, Math.min(ms, cap))) - Math.log10(lo)) / (Math.log10(cap) - Math.log10(lo)));
const groupW = (W - left - right) / Math.max(1, labels.length);
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`;
svg += `<rect width="${W}" height="${H}" fill="#fff"/>`;
svg += `<text x="${left}" y="26" font-size="16" font-weight="700">Grid game: p99 move-to-seen (bar), p50 (line), every run; 20 Hz, 5 moves/s each</text>`;
svg += `<text x="${left}" y="45" fill="#5b6673">server on core 0, generator on core 1; log scale; under each bar: generator CPU / server CPU (share of a core)</text>`;
for (const ms of [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) {
  svg += `<line x1="${left}" x2="${W - right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eef0f3"/>`;
  svg += `<text x="${left - 8}" y="${y(ms) + 4}" text-anchor="end" fill="#5b6673">${ms}</text>`;
}
svg += `<text transform="translate(18 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#5b6673">milliseconds (log)</text>`;
svg += `<line x1="${left}" x2="${W - right}" y1="${y(100)}" y2="${y(100)}" stroke="#1b7f3b" stroke-dasharray="6 4" stroke-width="2"/>`;
labels.forEach((label, i) => {
  const group = runs.filter((r) => r.label === label);
  const gx = left + i * groupW;
  const barW = Math.min(56, (groupW - 20) / group.length);
  group.forEach((r, j) => {
    const x = gx + (groupW - barW * group.length) / 2 + j * barW;
    const p99 = r.lost ? Infinity : r.seen_ms["99"];
    svg += `<rect x="${x + 2}" y="${y(p99)}" width="${barW - 4}" height="${y(lo) - y(p99)}" fill="${colours[r.server] || "#333"}"/>`;
    svg += `<line x1="${x + 2}" x2="${x + barW - 2}" y1="${y(r.seen_ms["50"])}" y2="${y(r.seen_ms["50"])}" stroke="#f1bf00" stroke-width="3"/>`;
    svg += `<text x="${x + barW / 2}" y="${y(p99) - 5}" text-anchor="middle" font-size="11">${Number.isFinite(p99) ? Math.round(p99) : "lost"}</text>`;
    svg += `<text x="${x + barW / 2}" y="${H - bottom + 16}" text-anchor="middle" font-size="10" fill="#5b6673">${r.generator_cpu.toFixed(2)}</text>`;
    svg += `<text x="${x + barW / 2}" y="${H - bottom + 28}" text-anchor="middle" font-size="10" fill="#5b6673">${r.server_cpu.toFixed(2)}</text>`;
  });
  const r0 = group[0];
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 44}" text-anchor="middle" font-size="11">${label}</text>`;
  // Scenario and client on lines of their own: narrow groups when there are many.
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 58}" text-anchor="middle" font-size="11">${r0.arenas} × ${r0.players_per_arena}</text>`;
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 72}" text-anchor="middle" font-size="11">client ${r0.client}${r0.loop ? "/" + r0.loop : ""}</text>`;
  const loads = group.map((r) => r.loadavg_before.toFixed(1)).join(" / ");
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 87}" text-anchor="middle" fill="#a86400" font-size="10">load ${loads}</text>`;
});
Object.entries(colours).slice(0, 2).forEach(([name, colour], j) => {
  const x = left + j * 260;
  const text = name === "site" ? "site (this branch)" : "site-base (previous main)";
  svg += `<rect x="${x}" y="${H - 30}" width="14" height="14" fill="${colour}"/><text x="${x + 20}" y="${H - 18}">${text}</text>`;
});
svg += `<line x1="${left + 560}" x2="${left + 580}" y1="${H - 23}" y2="${H - 23}" stroke="#f1bf00" stroke-width="3"/><text x="${left + 586}" y="${H - 18}">p50</text>`;
svg += `<line x1="${left + 640}" x2="${left + 670}" y1="${H - 23}" y2="${H - 23}" stroke="#1b7f3b" stroke-width="2" stroke-dasharray="6 4"/><text x="${left + 676}" y="${H - 18}" fill="#1b7f3b">target p99 100 ms</text>`;
svg += "</svg>";
await renderSvgToPng(svg, { width: W, height: H, out });
console.log(JSON.stringify({ out, runs: runs.length }));
