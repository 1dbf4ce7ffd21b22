// The map page's pure logic in Node, without a browser: the versioning rule
// (a snapshot replaces everything, a delta applies only at version last+1, a
// gap asks for a snapshot and the deltas that arrive meanwhile are replayed),
// the colour scale, the vote retry with the same vote_id, and the demo bot.
// Run with node's own runner: `npm test` (or `node --test tests/frontend/*.test.mjs`).
import assert from "node:assert/strict";
import { test } from "node:test";

globalThis.window = globalThis.window || {}; // lib/i18n.js looks for Django's catalog there
const { sendVote } = await import("../../frontend/src/dashboard/voter.js");
const { VoteBot } = await import("../../frontend/src/dashboard/bot.js");
import { MapState } from "../../frontend/src/dashboard/state.js";
import { makeScale, niceCeil } from "../../frontend/src/dashboard/scale.js";

const snap = (version, votes, extra = {}) => ({
  version, open: true, viewers: 3,
  provinces: Object.entries(votes).map(([code, v]) => ({ code, name: `P${code}`, votes: v })), ...extra,
});

test("deltas wait for the first snapshot, then replay in order", () => {
  const s = new MapState();
  assert.equal(s.applyVotes({ version: 6, counts: { 28: 2 } }).status, "waiting");
  const changes = s.applySnapshot(snap(5, { 28: 1, "08": 0 }));
  assert.equal(s.version, 6);
  assert.equal(s.counts.get("28"), 2);
  assert.ok(changes.some((c) => c.code === "28" && c.after === 2));
});

test("a delta applies only at version last+1; stale ones are ignored", () => {
  const s = new MapState();
  s.applySnapshot(snap(10, { 28: 5, "08": 1 }));
  assert.equal(s.applyVotes({ version: 11, counts: { 28: 6 } }).status, "applied");
  assert.equal(s.applyVotes({ version: 11, counts: { 28: 99 } }).status, "stale");
  assert.equal(s.applyVotes({ version: 3, counts: { 28: 99 } }).status, "stale");
  assert.equal(s.counts.get("28"), 6);
  const r = s.applyVotes({ version: 12, counts: { "08": 0 } });
  assert.deepEqual(r.changes, [{ code: "08", before: 1, after: 0 }]);
});

test("a gap triggers one resync; the snapshot wins, later deltas replay", () => {
  const s = new MapState();
  s.applySnapshot(snap(1, { 28: 1 }));
  assert.equal(s.applyVotes({ version: 3, counts: { 28: 3 } }).status, "gap");
  assert.equal(s.applyVotes({ version: 4, counts: { 28: 4 } }).status, "waiting");
  s.applySnapshot(snap(3, { 28: 3 }));
  assert.equal(s.version, 4);
  assert.equal(s.counts.get("28"), 4);
  assert.equal(s.applyVotes({ version: 5, counts: { 28: 5 } }).status, "applied");
});

test("a failed resync lets the next gap ask again", () => {
  const s = new MapState();
  s.applySnapshot(snap(1, { 28: 1 }));
  assert.equal(s.applyVotes({ version: 5, counts: { 28: 3 } }).status, "gap");
  s.resyncFailed();
  assert.equal(s.applyVotes({ version: 7, counts: { 28: 3 } }).status, "gap");
});

test("a snapshot after a reset or reconnect replaces everything", () => {
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

test("malformed messages change nothing", () => {
  const s = new MapState();
  s.applySnapshot(snap(2, { 28: 1 }));
  for (const bad of [null, {}, { version: "3", counts: {} }, { version: 3 }, { version: 3, counts: null }]) {
    assert.equal(s.applyVotes(bad).status, "stale");
  }
  s.applyVotes({ version: 3, counts: { 28: "lots" } });
  assert.equal(s.counts.get("28"), 1);
});

test("top-n sorts by votes then name", () => {
  const s = new MapState();
  s.applySnapshot({ version: 1, open: true, viewers: 0, provinces: [
    { code: "01", name: "B", votes: 2 }, { code: "02", name: "A", votes: 2 }, { code: "03", name: "C", votes: 9 },
  ] });
  assert.deepEqual(s.top(2).map((r) => r.code), ["03", "02"]);
});

test("colour scale: nice tops, zero is its own class, bins tile 1..infinity", () => {
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

// A socket double: `script` answers each emit in turn (null = no ack, a timeout).
function fakeSocket(script, { connected = true } = {}) {
  const sent = [];
  const listeners = {};
  const socket = {
    connected,
    once: (event, fn) => { listeners[event] = fn; },
    connect: () => { socket.connected = true; listeners.connect?.(); },
    timeout: () => ({
      emit: (event, payload, cb) => {
        sent.push({ event, payload });
        const answer = script[sent.length - 1];
        if (answer === null || answer === undefined) cb(new Error("operation has timed out"));
        else cb(null, answer);
      },
    }),
  };
  return { socket, sent, listeners };
}

test("a vote that times out is resent with the same uuid4 vote_id", async () => {
  const ok = { ok: true, data: { province: "28", votes: 3, version: 9 } };
  const { socket, sent } = fakeSocket([null, null, ok]);
  const retries = [];
  const reply = await sendVote(socket, "28", "up", { onRetry: (n) => retries.push(n), timeoutMs: 10, backoffMs: 1 });
  assert.equal(reply.ok, true);
  assert.equal(sent.length, 3);
  assert.deepEqual(retries, [2, 3]);
  const ids = new Set(sent.map((m) => m.payload.vote_id));
  assert.equal(ids.size, 1);
  assert.match([...ids][0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(Object.keys(sent[0].payload).sort(), ["direction", "province", "vote_id"]);
});

test("an error ack is final; each vote has its own id", async () => {
  const limited = { ok: false, error: { code: "rate_limited", message: "slow down", retry_after: 0.4 } };
  const { socket, sent } = fakeSocket([limited, limited]);
  const first = await sendVote(socket, "28", "down", { timeoutMs: 10, backoffMs: 1 });
  const second = await sendVote(socket, "28", "down", { timeoutMs: 10, backoffMs: 1 });
  assert.equal(first.error.code, "rate_limited");
  assert.equal(sent.length, 2);
  assert.notEqual(first.voteId, second.voteId);
});

test("a vote made offline waits for the connection, then goes out once", async () => {
  const { socket, sent, listeners } = fakeSocket([{ ok: true, data: { votes: 1 } }], { connected: false });
  let waited = false;
  const pending = sendVote(socket, "08", "up", { onWaiting: () => { waited = true; }, timeoutMs: 10 });
  // It says it waits, waits for "connect", and has sent nothing.
  assert.equal(waited, true);
  assert.equal(typeof listeners.connect, "function");
  assert.equal(sent.length, 0);
  socket.connect();
  assert.equal((await pending).ok, true);
  assert.equal(waited, true);
  assert.equal(sent.length, 1);
});

test("demo bot: intervals around the mean, ~80% up, waits out rate limits", async () => {
  // Drive the bot's timers by hand: record each delay and run the next tick.
  const delays = [];
  const realSetTimeout = globalThis.setTimeout;
  const realNow = Date.now;
  let clock = 1_000_000;
  let next = null;
  globalThis.setTimeout = (fn, ms) => { delays.push(ms); next = () => { clock += ms; return fn(); }; return delays.length; };
  Date.now = () => clock;
  const votes = [];
  const provinces = [];
  let answer = { ok: true, data: {} };
  const bot = new VoteBot({
    meanMs: 1000,
    pickProvince: (current) => (current === "28" ? "08" : "28"),
    vote: async (code, direction) => { votes.push(direction); return answer; },
    onProvince: (code) => provinces.push(code),
  });
  try {
    bot.start();
    for (let i = 0; i < 2000; i++) { const fn = next; next = null; await fn(); }
    const voteDelays = delays.slice(1);
    assert.ok(voteDelays.every((ms) => ms >= 500 && ms <= 1500), "intervals spread 0.5x..1.5x the mean");
    const up = votes.filter((d) => d === "up").length / votes.length;
    assert.ok(up > 0.75 && up < 0.85, `share of up votes ${up}`);
    assert.ok(votes.includes("down"));
    assert.equal(provinces[0], "28");
    // a new province every 3-7 s of (simulated) time
    const elapsed = delays.reduce((a, b) => a + b, 0);
    assert.ok(provinces.length >= elapsed / 7000 - 1 && provinces.length <= elapsed / 3000 + 1, `${provinces.length} changes in ${elapsed} ms`);
    answer = { ok: false, error: { code: "rate_limited", message: "", retry_after: 2.5 } };
    delays.length = 0;
    { const fn = next; next = null; await fn(); }
    assert.ok(delays[0] >= 2500, "waits at least retry_after");
    bot.stop();
    assert.equal(bot.running, false);
  } finally {
    globalThis.setTimeout = realSetTimeout;
    Date.now = realNow;
  }
});
