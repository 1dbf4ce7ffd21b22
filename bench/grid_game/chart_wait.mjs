// docs/img/bench-game-wait.png: every run's p99 against the share of the run
// the server waited for its core (other processes on a shared machine).
//   node bench/grid_game/chart_wait.mjs [out.png]
import { readFileSync } from "node:fs";
import { renderSvgToPng } from "../render_svg.mjs";

const out = process.argv[2] || "docs/img/bench-game-wait.png";
const results = JSON.parse(readFileSync(new URL("./results.json", import.meta.url)))
  .filter((r) => r.server_runqueue_wait !== null && r.server_runqueue_wait !== undefined && r.label !== "smoke");
const colours = { site: "#c8102e", bare: "#5b6673", "site-stock": "#f1a000" };
const W = 900, H = 480, left = 70, right = 30, top = 60, bottom = 80;
const lo = 20, hi = 5000;
const x = (w) => left + (W - left - right) * w;
const y = (ms) => top + (H - top - bottom) * (1 - (Math.log10(Math.max(lo, Math.min(ms, hi))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)));
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`;
svg += `<rect width="${W}" height="${H}" fill="#fff"/>`;
svg += `<text x="${left}" y="26" font-size="16" font-weight="700">Grid game: p99 move-to-seen against the server's wait for its core</text>`;
svg += `<text x="${left}" y="45" fill="#5b6673">every run in bench/grid_game/results.json; circle = arenas of 8, square = one crowded arena</text>`;
for (const ms of [20, 50, 100, 200, 500, 1000, 2000, 5000]) {
  svg += `<line x1="${left}" x2="${W - right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eef0f3"/>`;
  svg += `<text x="${left - 8}" y="${y(ms) + 4}" text-anchor="end" fill="#5b6673">${ms}</text>`;
}
for (let w = 0; w <= 1.0001; w += 0.1) {
  svg += `<line x1="${x(w)}" x2="${x(w)}" y1="${top}" y2="${H - bottom}" stroke="#f3f4f6"/>`;
  svg += `<text x="${x(w)}" y="${H - bottom + 18}" text-anchor="middle" fill="#5b6673">${Math.round(w * 100)}%</text>`;
}
svg += `<text x="${(left + W - right) / 2}" y="${H - bottom + 40}" text-anchor="middle" fill="#5b6673">server run-queue wait (share of the 20 s window)</text>`;
svg += `<text transform="translate(18 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#5b6673">p99 ms (log)</text>`;
svg += `<line x1="${left}" x2="${W - right}" y1="${y(100)}" y2="${y(100)}" stroke="#1b7f3b" stroke-dasharray="6 4" stroke-width="2"/>`;
for (const r of results) {
  const cx = x(r.server_runqueue_wait);
  const cy = y(r.lost ? hi : r.seen_ms["99"]);
  const c = colours[r.server] || "#000";
  svg += r.arenas === 1
    ? `<rect x="${cx - 5}" y="${cy - 5}" width="10" height="10" fill="${c}" fill-opacity=".85"/>`
    : `<circle cx="${cx}" cy="${cy}" r="6" fill="${c}" fill-opacity=".85"/>`;
}
let lx = left;
for (const [name, c] of Object.entries(colours)) {
  svg += `<circle cx="${lx + 6}" cy="${H - 18}" r="6" fill="${c}"/><text x="${lx + 18}" y="${H - 14}">${name}</text>`;
  lx += 130;
}
svg += `<line x1="${lx}" x2="${lx + 30}" y1="${H - 18}" y2="${H - 18}" stroke="#1b7f3b" stroke-dasharray="6 4" stroke-width="2"/><text x="${lx + 36}" y="${H - 14}" fill="#1b7f3b">target 100 ms</text>`;
svg += "</svg>";
await renderSvgToPng(svg, { width: W, height: H, out });
console.log(JSON.stringify({ out, runs: results.length }));
