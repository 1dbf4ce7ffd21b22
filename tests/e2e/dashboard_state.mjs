// The map page's versioning rule and colour scale, in Node without a browser:
// a snapshot replaces everything, a delta applies only at version last+1, a
// gap asks for a snapshot and the deltas that arrive meanwhile are replayed.
import assert from "node:assert/strict";
import { MapState } from "../../frontend/src/dashboard/state.js";
import { makeScale, niceCeil } from "../../frontend/src/dashboard/scale.js";

const snap = (version, votes, extra = {}) => ({
  version, open: true, viewers: 3,
  provinces: Object.entries(votes).map(([code, v]) => ({ code, name: `P${code}`, votes: v })), ...extra,
});
const checks = [];
const check = (name, fn) => { fn(); checks.push(name); };

check("deltas wait for the first snapshot, then replay in order", () => {
  const s = new MapState();
  assert.equal(s.applyVotes({ version: 6, counts: { 28: 2 } }).status, "waiting");
  const changes = s.applySnapshot(snap(5, { 28: 1, "08": 0 }));
  assert.equal(s.version, 6);
  assert.equal(s.counts.get("28"), 2);
  assert.ok(changes.some((c) => c.code === "28" && c.after === 2));
});

check("a delta applies only at version last+1; stale ones are ignored", () => {
  const s = new MapState();
  s.applySnapshot(snap(10, { 28: 5, "08": 1 }));
  assert.equal(s.applyVotes({ version: 11, counts: { 28: 6 } }).status, "applied");
  assert.equal(s.applyVotes({ version: 11, counts: { 28: 99 } }).status, "stale");
  assert.equal(s.applyVotes({ version: 3, counts: { 28: 99 } }).status, "stale");
  assert.equal(s.counts.get("28"), 6);
  const r = s.applyVotes({ version: 12, counts: { "08": 0 } });
  assert.deepEqual(r.changes, [{ code: "08", before: 1, after: 0 }]);
});

check("a gap triggers one resync; the snapshot wins, later deltas replay", () => {
  const s = new MapState();
  s.applySnapshot(snap(1, { 28: 1 }));
  assert.equal(s.applyVotes({ version: 3, counts: { 28: 3 } }).status, "gap");
  assert.equal(s.applyVotes({ version: 4, counts: { 28: 4 } }).status, "waiting");
  s.applySnapshot(snap(3, { 28: 3 }));
  assert.equal(s.version, 4);
  assert.equal(s.counts.get("28"), 4);
  assert.equal(s.applyVotes({ version: 5, counts: { 28: 5 } }).status, "applied");
});

check("a failed resync lets the next gap ask again", () => {
  const s = new MapState();
  s.applySnapshot(snap(1, { 28: 1 }));
  assert.equal(s.applyVotes({ version: 5, counts: { 28: 3 } }).status, "gap");
  s.resyncFailed();
  assert.equal(s.applyVotes({ version: 7, counts: { 28: 3 } }).status, "gap");
});

check("a snapshot after a reset or reconnect replaces everything", () => {
  const s = new MapState();
  s.applySnapshot(snap(4, { 28: 9, "08": 2, 41: 1 }));
  const changes = s.applySnapshot(snap(9, { 28: 0, "08": 0 }, { open: false, viewers: 7 }));
  assert.equal(s.version, 9);
  assert.equal(s.open, false);
  assert.equal(s.viewers, 7);
  assert.equal(s.counts.has("41"), false); // no longer active
  assert.deepEqual(changes.map((c) => c.code).sort(), ["08", "28", "41"]);
  assert.equal(s.total(), 0);
});

check("malformed messages change nothing", () => {
  const s = new MapState();
  s.applySnapshot(snap(2, { 28: 1 }));
  for (const bad of [null, {}, { version: "3", counts: {} }, { version: 3 }, { version: 3, counts: null }]) {
    assert.equal(s.applyVotes(bad).status, "stale");
  }
  s.applyVotes({ version: 3, counts: { 28: "lots" } });
  assert.equal(s.counts.get("28"), 1);
});

check("top-n sorts by votes then name", () => {
  const s = new MapState();
  s.applySnapshot({ version: 1, open: true, viewers: 0, provinces: [
    { code: "01", name: "B", votes: 2 }, { code: "02", name: "A", votes: 2 }, { code: "03", name: "C", votes: 9 },
  ] });
  assert.deepEqual(s.top(2).map((r) => r.code), ["03", "02"]);
});

check("colour scale: nice tops, zero is its own class, bins tile 1..infinity", () => {
  assert.equal(niceCeil(0), 5);
  assert.equal(niceCeil(6), 8);
  assert.equal(niceCeil(54), 75);
  assert.equal(niceCeil(100), 100);
  assert.equal(niceCeil(101), 150);
  for (const max of [0, 1, 4, 5, 6, 17, 54, 99, 100, 101, 12345, 1e9]) {
    const sc = makeScale(max);
    assert.equal(sc.classOf(0), 0);
    assert.ok(max === 0 || sc.classOf(max) >= 1);
    assert.equal(sc.bins.length, 6);
    // consecutive bins, each value in the bin of its class
    for (let i = 2; i < 6; i++) assert.equal(sc.bins[i].from, sc.bins[i - 1].to + 1);
    assert.equal(sc.bins[5].to, null);
    for (const v of [1, 2, 3, max, Math.floor(max / 2), max * 3]) {
      if (!(v > 0)) continue;
      const bin = sc.bins[sc.classOf(v)];
      assert.ok(v >= bin.from && (bin.to === null || v <= bin.to), `${v} in ${JSON.stringify(bin)}`);
    }
    for (let v = 1; v <= Math.min(max, 500); v++) assert.ok(sc.classOf(v) >= sc.classOf(v - 1));
  }
  assert.deepEqual(makeScale(54).bins.map((b) => [b.from, b.to]), [[0, 0], [1, 3], [4, 12], [13, 27], [28, 48], [49, null]]);
});

console.log(JSON.stringify({ checks }));
