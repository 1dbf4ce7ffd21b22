// The arena page's pure state (frontend/src/grid_game/state.js) under
// `node --test`: tick ordering, seats, predicted moves corrected by the
// server's state, the move throttle and the scoreboard. No browser, no server.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ArenaState, MIN_MOVE_MS, scoreboard } from "../../frontend/src/grid_game/state.js";

const player = (id, x, y, extra = {}) => ({ id, name: id, symbol: id[0].toUpperCase(), score: 0, x, y, ...extra });
const state = (tick, players, extra = {}) => ({ arena: "main", tick, open: true, players, coins: [], players_online: players.length, ...extra });
const joinAck = (you, st) => ({ you: you ? { id: you } : null, arena: { width: 10, height: 8 }, state: st });

function seated(x = 4, y = 4) {
  const game = new ArenaState({ slug: "main", width: 10, height: 8 });
  game.applyJoin(joinAck("ana", state(1, [player("ana", x, y), player("bob", 0, 0)])));
  return game;
}

test("a state counts only for this arena and only when its tick is newer", () => {
  const game = seated();
  assert.equal(game.applyState(state(1, [player("ana", 9, 9)])), null); // same tick
  assert.equal(game.applyState(state(5, [player("ana", 5, 4)], { arena: "other" })), null);
  assert.equal(game.applyState(state("7", [player("ana", 5, 4)])), null);
  assert.equal(game.applyState(null), null);
  assert.deepEqual(game.applyState(state(3, [player("ana", 5, 4)])), { closed: false, reopened: false });
  assert.equal(game.applyState(state(2, [player("ana", 0, 0)])), null); // late, out of order
  assert.equal(game.lastTick, 3);
  assert.deepEqual(game.shown, { x: 5, y: 4 });
});

test("a join starts ticks afresh and says whether you are seated or watching", () => {
  const game = seated();
  game.applyState(state(40, [player("ana", 1, 1)]));
  // After a reconnect the server's ticks may start lower (a new owner process).
  game.applyJoin(joinAck(null, state(2, [player("bob", 3, 3)])));
  assert.equal(game.lastTick, 2);
  assert.equal(game.youId, null);
  assert.equal(game.spectating, true);
  assert.equal(game.you(), null);
  assert.equal(game.shown, null);
  assert.equal(game.startMove("up", 1000), null); // watching: no move goes out
});

test("your move shows at once, and the server's state corrects it", () => {
  const game = seated(4, 4);
  const seq = game.startMove("right", 1000);
  assert.equal(typeof seq, "number");
  assert.deepEqual(game.shown, { x: 5, y: 4 });
  const drawn = game.players().find((p) => p.id === "ana");
  assert.deepEqual([drawn.x, drawn.y], [5, 4]);
  assert.deepEqual(game.you(), player("ana", 4, 4)); // the server's copy is untouched
  game.moveAcked(seq, 1); // applied after tick 1: the state of tick 2 has it
  // The server put you elsewhere (a wall, a collision): its state wins.
  game.applyState(state(2, [player("ana", 4, 5)]));
  assert.deepEqual(game.shown, { x: 4, y: 5 });
});

test("unacked moves are replayed on top of each new state", () => {
  const game = seated(4, 4);
  game.startMove("up", 1000);
  game.startMove("up", 1000 + MIN_MOVE_MS);
  game.applyState(state(2, [player("ana", 4, 4)])); // neither applied yet
  assert.deepEqual(game.shown, { x: 4, y: 2 });
});

test("a refused move is no longer shown", () => {
  const game = seated(4, 4);
  const seq = game.startMove("left", 1000);
  assert.deepEqual(game.shown, { x: 3, y: 4 });
  game.moveRefused(seq);
  assert.deepEqual(game.shown, { x: 4, y: 4 });
});

test("moves are throttled, and none go out when closed or offline", () => {
  const game = seated();
  assert.notEqual(game.startMove("up", 1000), null);
  assert.equal(game.startMove("up", 1000 + MIN_MOVE_MS - 1), null);
  assert.notEqual(game.startMove("up", 1000 + MIN_MOVE_MS), null);
  assert.equal(game.startMove("up", 5000, { connected: false }), null);
  assert.deepEqual(game.applyState(state(2, [player("ana", 4, 4)], { open: false })), { closed: true, reopened: false });
  assert.equal(game.startMove("up", 9000), null);
  assert.deepEqual(game.applyState(state(3, [player("ana", 4, 4)])), { closed: false, reopened: true });
});

test("losing your seat makes you a spectator, only for this arena", () => {
  const game = seated();
  assert.equal(game.applySeatLost({ arena: "other" }), false);
  assert.equal(game.youId, "ana");
  assert.equal(game.applySeatLost({ arena: "main", reason: "idle" }), true);
  assert.equal(game.youId, null);
  assert.equal(game.spectating, true);
});

test("the scoreboard orders by score, ties by symbol, keeps 20 and marks you", () => {
  const players = [player("cid", 0, 0, { score: 2 }), player("ana", 0, 0, { score: 2 }), player("bob", 0, 0, { score: 7 })];
  assert.deepEqual(scoreboard(players, "cid").map((p) => [p.id, p.isYou]), [["bob", false], ["ana", false], ["cid", true]]);
  const many = Array.from({ length: 30 }, (_, i) => player(`p${String(i).padStart(2, "0")}`, 0, 0, { score: i, symbol: String(i) }));
  const top = scoreboard(many, null);
  assert.equal(top.length, 20);
  assert.equal(top[0].score, 29);
  assert.equal(top[19].score, 10);
});

test("a score gain is reported once", () => {
  const game = seated();
  assert.equal(game.takeScoreGain(), null);
  game.applyState(state(2, [player("ana", 4, 4, { score: 3 })]));
  assert.equal(game.takeScoreGain(), 3);
  assert.equal(game.takeScoreGain(), null);
  game.applyState(state(3, [player("ana", 4, 4, { score: 1 })])); // a reset: no cheer
  assert.equal(game.takeScoreGain(), null);
});
