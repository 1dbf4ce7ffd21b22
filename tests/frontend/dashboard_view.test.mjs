// The map pages' pure modules under `node --test` (no browser, no server):
// the map's layout (frontend/src/dashboard/layout.js), what the live map
// shows for a state (paint.js), and the vote page's list, texts and tally
// (picker.js).
import assert from "node:assert/strict";
import { test } from "node:test";

globalThis.window = globalThis.window || {}; // lib/i18n.js looks for Django's catalog there
const layout = await import("../../frontend/src/dashboard/layout.js");
const paint = await import("../../frontend/src/dashboard/paint.js");
const picker = await import("../../frontend/src/dashboard/picker.js");
const { MapState } = await import("../../frontend/src/dashboard/state.js");
const { makeScale } = await import("../../frontend/src/dashboard/scale.js");

// A planar stand-in for d3-geo's path generator: coordinates are already
// screen units; rings are [[x, y], ...].
function rings(f) {
  const g = f.geometry;
  return g.type === "MultiPolygon" ? g.coordinates.map((poly) => poly[0]) : [g.coordinates[0]];
}
function ringArea(ring) {
  let a = 0;
  for (let i = 0; i < ring.length - 1; i++) a += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return Math.abs(a) / 2;
}
const fakePath = Object.assign((f) => (f.empty ? null : `M${rings(f)[0].map((p) => p.join(",")).join("L")}Z`), {
  bounds(obj) {
    const pts = (obj.type === "FeatureCollection" ? obj.features : [obj]).flatMap((f) => rings(f).flat());
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    return [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
  },
  area: (f) => rings(f).reduce((sum, r) => sum + ringArea(r), 0),
  centroid(f) {
    const r = rings(f)[0].slice(0, -1);
    return [r.reduce((s, p) => s + p[0], 0) / r.length, r.reduce((s, p) => s + p[1], 0) / r.length];
  },
});
const square = (x, y, size) => [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]];
const poly = (id, x, y, size) => ({ type: "Feature", id, geometry: { type: "Polygon", coordinates: [square(x, y, size)] } });

test("layout: the extent includes the inset border; tiny provinces become round markers", () => {
  const features = [
    poly("28", 100, 50, 200),
    poly("51", 400, 300, 4), // Ceuta-sized: a marker
    { type: "Feature", id: "07", geometry: { type: "Polygon", coordinates: [[[500, 100], [504, 100], [504, 300], [500, 300], [500, 100]]] } }, // thin but long: drawn as it is
    { ...poly("99", 0, 0, 1), empty: true }, // nothing to draw: left out
  ];
  const { viewBox, items } = layout.mapLayout(features, fakePath, "M10,-30L30,600");
  // The extent is that of every feature and of the border, plus the padding.
  assert.equal(viewBox, `0 -40.0 ${layout.WIDTH} 650.0`);
  assert.deepEqual(items.map((i) => i.code), ["28", "51", "07"]);
  assert.ok(items[2].d.startsWith("M500,100L504,100"));
  assert.ok(items[0].d.startsWith("M100,50"));
  assert.equal(items[1].d, layout.markerPath(402, 302));
  assert.match(items[1].d, /^M393\.0,302\.0a9,9 0 1,0 18,0a9,9 0 1,0 -18,0Z$/);
  assert.deepEqual(items[0].label, ["200.0", "150.0"]);
  // Without a border the drawing ends at the provinces' bounds (+ pad).
  assert.equal(layout.mapLayout([poly("28", 100, 50, 200)], fakePath, "").viewBox, `0 40.0 ${layout.WIDTH} 220.0`);
});

test("layout: a province in several parts gets its number on its largest part", () => {
  const islands = {
    type: "Feature", id: "35",
    geometry: { type: "MultiPolygon", coordinates: [[square(0, 0, 10)], [square(100, 100, 60)], [square(300, 0, 20)]] },
  };
  assert.deepEqual(layout.labelPoint(fakePath, islands), [130, 130]);
  assert.deepEqual(layout.mapLayout([islands], fakePath).items[0].label, ["130.0", "130.0"]);
});

test("layout: roving focus moves in name order, wraps, and leaves other keys alone", () => {
  const names = { a: "Ávila", b: "Zamora", c: "Álava", d: "Badajoz" };
  const order = layout.provinceOrder(Object.keys(names), (c) => names[c]);
  assert.deepEqual(order, ["c", "a", "d", "b"]);
  // Spanish order: ñ comes after n.
  const es = { n: "Ñora", u: "Nules", o: "Oviedo" };
  assert.deepEqual(layout.provinceOrder(["n", "u", "o"], (c) => es[c]), ["u", "n", "o"]);
  assert.equal(layout.rovingTarget(order, "a", "ArrowRight"), "d");
  assert.equal(layout.rovingTarget(order, "b", "ArrowRight"), "c");
  assert.equal(layout.rovingTarget(order, "c", "ArrowLeft"), "b");
  assert.equal(layout.rovingTarget(order, "d", "Home"), "c");
  assert.equal(layout.rovingTarget(order, "a", "End"), "b");
  assert.equal(layout.rovingTarget(order, "a", "ArrowUp"), null); // voting keys
  assert.equal(layout.rovingTarget(order, "a", "Enter"), null);
});

test("layout: tooltip flips at the edges; label size stays constant on screen; flash classes", () => {
  const box = { left: 0, top: 0, width: 500 };
  assert.deepEqual(layout.tooltipPosition({ clientX: 100, clientY: 200, box, w: 80, h: 40 }), { left: 112, top: 148 });
  assert.deepEqual(layout.tooltipPosition({ clientX: 480, clientY: 200, box, w: 80, h: 40 }), { left: 388, top: 148 });
  assert.deepEqual(layout.tooltipPosition({ clientX: 100, clientY: 20, box, w: 80, h: 40 }), { left: 112, top: 36 });
  assert.deepEqual(layout.tooltipPosition({ clientX: 50, clientY: 20, box: { left: 0, top: 0, width: 100 }, w: 80, h: 40 }), { left: 0, top: 36 });
  assert.equal(layout.labelFontSize(0), null);
  assert.equal(layout.labelFontSize(960), "12.00");
  assert.equal(layout.labelFontSize(320), "30.00"); // 10 px on a phone
  assert.equal(layout.labelFontSize(480, () => 16), "32.00");
  assert.equal(layout.flashClass("down"), "vm-flash-down");
  assert.equal(layout.flashClass("up"), "vm-flash-up");
  assert.equal(layout.endedClass("vm-pop"), "vm-pop");
  assert.equal(layout.endedClass("vm-flash-down"), "vm-flash-down");
  assert.equal(layout.endedClass("fade"), null);
});

const snap = (votes) => ({ version: 1, open: true, viewers: 0, provinces: Object.entries(votes).map(([code, v]) => ({ code, name: `P${code}`, votes: v })) });

test("paint: loading, active and inactive provinces", () => {
  const state = new MapState();
  const scale = makeScale(0);
  const atlas = new Map([["28", "Madrid"], ["41", "Sevilla"]]);
  assert.deepEqual(paint.provincePaint(state, scale, "28", atlas), { color: scale.color(0), labelText: "", ariaLabel: "Madrid", inactive: false });
  assert.deepEqual(paint.describeProvince(state, "28", atlas), { name: "Madrid", text: "Loading…" });
  state.applySnapshot(snap({ 28: 12 }));
  const big = paint.scaleFor(state);
  assert.equal(big.key, makeScale(12).key);
  assert.deepEqual(paint.provincePaint(state, big, "28", atlas), { color: big.color(12), labelText: "12", ariaLabel: "P28: 12 votes", inactive: false });
  assert.deepEqual(paint.provincePaint(state, big, "41", atlas), { color: paint.INACTIVE_FILL, labelText: "", ariaLabel: "Sevilla: Not in the vote", inactive: true });
  assert.equal(paint.describeProvince(state, "41", atlas).text, "Not in the vote");
  assert.equal(paint.votesText(1), "1 vote");
});

test("paint: legend labels, leaderboard rows and its empty state", () => {
  assert.deepEqual(makeScale(54).bins.map(paint.legendLabel), ["0", "1–3", "4–12", "13–27", "28–48", "≥ 49"]);
  assert.equal(paint.legendLabel({ from: 2, to: 2 }), "2");
  const state = new MapState();
  assert.deepEqual(paint.topRows(state, 5), { rows: [], empty: false }); // still loading: no "no votes yet"
  state.applySnapshot(snap({ "01": 0, "02": 0 }));
  assert.deepEqual(paint.topRows(state, 5), { rows: [], empty: true });
  state.applySnapshot(snap({ "01": 3, "02": 0, "03": 9 }));
  const { rows, empty } = paint.topRows(state, 5);
  assert.equal(empty, false);
  assert.deepEqual(rows.map((r) => r.code), ["03", "01"]); // no zero rows
});

test("paint: a change batch repaints what changed and flashes only moved counts, last change wins", () => {
  const batch = new paint.ChangeBatch();
  batch.record([{ code: "28", before: 1, after: 2 }, { code: "08", before: null, after: 0 }, { code: "41", before: 3, after: 3 }]);
  batch.record([{ code: "28", before: 2, after: 1 }]);
  batch.record([{ code: "07", before: 1, after: 5 }], { animate: false });
  let out = batch.take();
  assert.deepEqual([...out.codes].sort(), ["07", "08", "28", "41"]);
  assert.deepEqual(out.flashes, [{ code: "28", direction: "down" }]);
  out = batch.take();
  assert.deepEqual([...out.codes], []);
  assert.deepEqual(out.flashes, []);
  batch.record([{ code: "28", before: 0, after: 4 }]);
  batch.markAll();
  out = batch.take();
  assert.equal(out.codes, null);
  assert.deepEqual(out.flashes, [{ code: "28", direction: "up" }]);
  assert.notEqual(batch.take().codes, null); // "all" lasts one frame
});

test("picker: rows in Spanish name order, filtered accent- and case-insensitively", () => {
  const names = { "05": "Ávila", "01": "Araba/Álava", "28": "Madrid", "06": "Badajoz" };
  const rows = picker.listRows(Object.keys(names), (c) => names[c]);
  assert.deepEqual(rows.map((r) => r.code), ["01", "05", "06", "28"]);
  assert.equal(rows[1].key, "avila");
  const q = picker.searchQuery("  ÁVI ");
  assert.equal(q, "avi");
  assert.deepEqual(rows.filter((r) => picker.rowMatches(r.key, q)).map((r) => r.code), ["05"]);
  assert.deepEqual(rows.filter((r) => picker.rowMatches(r.key, picker.searchQuery(" "))).length, 4);
  assert.equal(picker.searchKey("ÑANDÚ"), "nandu");
});

test("picker: which option the keyboard is on", () => {
  const visible = ["a", "b", "c"];
  assert.equal(picker.stepActive(visible, null, 1), "a");
  assert.equal(picker.stepActive(visible, null, -1), "c");
  assert.equal(picker.stepActive(visible, "c", 1), "a");
  assert.equal(picker.stepActive(visible, "a", -1), "c");
  assert.equal(picker.stepActive(visible, "a", 1), "b");
  assert.equal(picker.stepActive([], "a", 1), null);
  assert.equal(picker.activeAfterFilter(visible, "b", "x"), undefined); // still visible: kept
  assert.equal(picker.activeAfterFilter(["c"], "b", "x"), "c"); // filtered out: first match
  assert.equal(picker.activeAfterFilter(visible, "z", ""), null); // no query: none
  assert.equal(picker.enterChoice(["c"], null), "c");
  assert.equal(picker.enterChoice(visible, null), null);
  assert.equal(picker.enterChoice(visible, "b"), "b");
});

test("picker: vote feedback texts, tones and the tally", () => {
  assert.deepEqual(picker.voteOutcome("up", "Madrid", { ok: true, data: { votes: 3 } }),
    { text: "Vote up counted: Madrid now has 3 votes.", tone: "ok", result: "ok" });
  assert.equal(picker.voteOutcome("down", "Madrid", { ok: true, data: {} }).text, "Vote down counted: Madrid now has 0 votes.");
  const limited = picker.voteOutcome("up", "Madrid", { ok: false, error: { code: "rate_limited", retry_after: 0.42 } });
  assert.deepEqual(limited, { text: "Too many votes: try again in 0.4 s.", tone: "warn", result: "rate_limited" });
  assert.equal(picker.describeError({ code: "rate_limited" }), "Too many votes: slow down a little.");
  assert.match(picker.voteOutcome("up", "Madrid", { ok: false, gaveUp: true, error: { code: "internal" } }).text, /could not be saved after several tries/);
  assert.equal(picker.voteOutcome("up", "M", { ok: false, error: { code: "internal" } }).text, "Something went wrong on the server.");
  assert.deepEqual(picker.voteOutcome("up", "M", { ok: false }), { text: "Something went wrong on the server.", tone: "bad", result: "error" });
  assert.equal(picker.pendingFeedback("retry", "M", "internal").text, "Saving your vote for M… retrying.");
  assert.equal(picker.pendingFeedback("retry", "M", "timeout").text, "No answer yet, sending the vote for M again…");
  assert.equal(picker.pendingFeedback("offline", "M").tone, "warn");
  const stats = picker.newStats();
  picker.tally(stats, { ok: true });
  picker.tally(stats, { ok: false, error: { code: "closed" } });
  picker.tally(stats, { ok: false, error: { code: "closed" } });
  assert.deepEqual(stats, { sent: 3, ok: 1, rejected: { closed: 2 } });
});

test("picker: selected panel, option counts, bot pool and the voting keys", () => {
  const state = new MapState();
  assert.equal(picker.selectedPanel(state, null).name, "Pick a province");
  assert.deepEqual(picker.optionVotes(state, "28"), { text: "", inactive: false });
  assert.deepEqual(picker.botPool(state, "01", ["01", "02", "03"]), ["02", "03"]);
  state.applySnapshot(snap({ 28: 4, "08": 1 }));
  assert.deepEqual(picker.selectedPanel(state, "28", new Map()), { name: "P28", text: "4 votes" });
  assert.deepEqual(picker.optionVotes(state, "28"), { text: "4", inactive: false });
  assert.deepEqual(picker.optionVotes(state, "41"), { text: "", inactive: true });
  assert.deepEqual(picker.botPool(state, "28", ["01", "02", "03"]), ["08"]);
  assert.equal(picker.arrowVote({ key: "ArrowUp" }), "up");
  assert.equal(picker.arrowVote({ key: "ArrowDown" }), "down");
  assert.equal(picker.arrowVote({ key: "ArrowDown", shiftKey: true }), null);
  assert.equal(picker.arrowVote({ key: "ArrowUp", defaultPrevented: true }), null);
  assert.equal(picker.arrowVote({ key: "ArrowLeft" }), null);
});
