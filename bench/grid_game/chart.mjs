// Draws docs/img/bench-game.png from bench/grid_game/results.json: p99 and p50
// move-to-seen-by-all-others latency per scenario, the site against the bare
// python-socketio tick server, with the 100 ms target. Rendered by Debian's
// Chromium through playwright-core (no plotting library needed).
//   node bench/grid_game/chart.mjs [label | best] [out.png]
import { readFileSync } from "node:fs";
import { renderSvgToPng } from "../render_svg.mjs";

const label = process.argv[2] || "final";
const out = process.argv[3] || "docs/img/bench-game.png";
const results = JSON.parse(readFileSync(new URL("./results.json", import.meta.url)));
// label "best": for each server and scenario, the run whose server waited
// least for its core (runs on core 0 only: labels other than swapped/smoke/probe).
const chosen = new Map();
for (const r of results) {
  const key = `${r.server}|${r.arenas}|${r.players_per_arena}`;
  if (label === "best") {
    if (["swapped", "smoke", "probe"].includes(r.label) || r.server_runqueue_wait == null) continue;
    const have = chosen.get(key);
    if (!have || r.server_runqueue_wait < have.server_runqueue_wait) chosen.set(key, r);
  } else if (r.label === label) {
    chosen.set(key, r); // latest wins
  }
}
const scenarios = [...new Set([...chosen.values()].map((r) => `${r.arenas}|${r.players_per_arena}`))]
  .sort((a, b) => {
    const [aa, ap] = a.split("|").map(Number);
    const [ba, bp] = b.split("|").map(Number);
    return (aa === 1) - (ba === 1) || aa * ap - ba * bp;
  });
const servers = [["site", "#c8102e", "site (Django + /grid-game)"], ["bare", "#5b6673", "bare python-socketio tick server"]];
const W = 1000, H = 500, left = 70, right = 20, top = 60, bottom = 100;
const lo = 10, cap = 5000; // log scale
const y = (ms) => top + (H - top - bottom) * (1 - (Math.log10(Math.max(lo, Math.min(ms, cap))) - Math.log10(lo)) / (Math.log10(cap) - Math.log10(lo)));
const groupW = (W - left - right) / Math.max(1, scenarios.length);
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`;
svg += `<rect width="${W}" height="${H}" fill="#fff"/>`;
svg += `<text x="${left}" y="26" font-size="16" font-weight="700">Grid game: move seen by all other players, p99 (bar) and p50 (line), 20 Hz, 5 moves/s each</text>`;
svg += `<text x="${left}" y="45" fill="#5b6673">server on core 0, generator on core 1; log scale; ${label === "best" ? "least-contended run of each; " : ""}"core wait": share of the run the server waited for its core</text>`;
for (const ms of [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) {
  svg += `<line x1="${left}" x2="${W - right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eef0f3"/>`;
  svg += `<text x="${left - 8}" y="${y(ms) + 4}" text-anchor="end" fill="#5b6673">${ms}</text>`;
}
svg += `<text transform="translate(18 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#5b6673">milliseconds (log)</text>`;
svg += `<line x1="${left}" x2="${W - right}" y1="${y(100)}" y2="${y(100)}" stroke="#1b7f3b" stroke-dasharray="6 4" stroke-width="2"/>`;

scenarios.forEach((key, i) => {
  const [arenas, players] = key.split("|").map(Number);
  const gx = left + i * groupW;
  const barW = Math.min(46, groupW / 3);
  servers.forEach(([server, colour], j) => {
    const r = chosen.get(`${server}|${key}`);
    if (!r) return;
    const x = gx + groupW / 2 - barW + j * barW;
    const p99 = r.lost ? Infinity : r.seen_ms["99"];
    const p50 = r.seen_ms["50"];
    svg += `<rect x="${x + 2}" y="${y(p99)}" width="${barW - 4}" height="${y(lo) - y(p99)}" fill="${colour}"/>`;
    svg += `<line x1="${x + 2}" x2="${x + barW - 2}" y1="${y(p50)}" y2="${y(p50)}" stroke="#f1bf00" stroke-width="3"/>`;
    const text = Number.isFinite(p99) ? `${Math.round(p99)}` : "lost";
    svg += `<text x="${x + barW / 2}" y="${y(p99) - 5}" text-anchor="middle" font-size="11">${text}</text>`;
  });
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 20}" text-anchor="middle">${arenas} × ${players}</text>`;
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 36}" text-anchor="middle" fill="#5b6673">${arenas * players} players</text>`;
  const waits = servers.map(([server]) => chosen.get(`${server}|${key}`)).filter(Boolean)
    .map((r) => `${Math.round(100 * (r.server_runqueue_wait ?? 0))}%`).join(" / ");
  svg += `<text x="${gx + groupW / 2}" y="${H - bottom + 52}" text-anchor="middle" fill="#a86400" font-size="11">core wait ${waits}</text>`;
});
servers.forEach(([, colour, name], j) => {
  const x = left + j * 260;
  svg += `<rect x="${x}" y="${H - 30}" width="14" height="14" fill="${colour}"/><text x="${x + 20}" y="${H - 18}">${name}</text>`;
});
svg += `<line x1="${left + 620}" x2="${left + 640}" y1="${H - 23}" y2="${H - 23}" stroke="#f1bf00" stroke-width="3"/><text x="${left + 646}" y="${H - 18}">p50</text>`;
svg += `<line x1="${left + 700}" x2="${left + 730}" y1="${H - 23}" y2="${H - 23}" stroke="#1b7f3b" stroke-width="2" stroke-dasharray="6 4"/><text x="${left + 736}" y="${H - 18}" fill="#1b7f3b">target p99 100 ms</text>`;
svg += "</svg>";

await renderSvgToPng(svg, { width: W, height: H, out });
console.log(JSON.stringify({ out, scenarios: scenarios.length }));
