// The arena page's client state, without DOM or socket: plain data in (acks
// and events as the server sends them), plain data out, so node's test runner
// checks every rule. grid_game/arena.js binds it to the page.
//
// Rules kept here:
// - a `state` counts only for this arena and only when its tick is newer than
//   the last one shown (broadcasts can arrive out of order after a reconnect);
// - your own moves are shown at once (predicted) and corrected by each state
//   the server sends (./predict.js says how);
// - moves are throttled under the server's rate, and only sent while seated
//   in an open arena;
// - the scoreboard: by score, ties by symbol, the first 20.
import { Predictor } from "./predict.js";
import { botDirection } from "./bot.js";

// Held keys repeat about 30 times a second; the server allows about 15 moves
// a second per connection. Keep under it instead of collecting refusals.
export const MIN_MOVE_MS = 75;
export const SCOREBOARD_SIZE = 20;

// By score (highest first), ties by symbol, the first `size`.
export function scoreboard(players, youId, size = SCOREBOARD_SIZE) {
  return [...players]
    .sort((a, b) => b.score - a.score || a.symbol.localeCompare(b.symbol))
    .slice(0, size)
    .map((p) => ({ ...p, isYou: p.id === youId }));
}

export class ArenaState {
  constructor({ slug, width, height, open = true }) {
    this.slug = slug;
    this.youId = null;
    this.spectating = false;
    this.lastTick = -1;
    this.state = null; // last server state
    this.shown = null; // your position as shown (predicted)
    this.lastScore = 0;
    this.open = open;
    this.lastMoveAt = -Infinity;
    // Not enumerable: the page exposes this object (window.gridGame) as a
    // plain read-only view of what it shows.
    Object.defineProperty(this, "predictor", { value: new Predictor(width, height), enumerable: false });
  }

  // Your player in the last state, as the server has it; null when not seated.
  you() {
    if (!this.state || !this.youId) return null;
    return this.state.players.find((p) => p.id === this.youId) || null;
  }

  // The players to draw: yours at its predicted position.
  players() {
    if (!this.state) return [];
    return this.state.players.map((p) => (p.id === this.youId && this.shown ? { ...p, ...this.shown } : p));
  }

  // A `state` broadcast (or the one in the join's ack). Returns null when it
  // is ignored (another arena, not newer), else {closed, reopened}: whether
  // the arena has just closed or opened again.
  applyState(state) {
    if (!state || state.arena !== this.slug || !Number.isInteger(state.tick) || state.tick <= this.lastTick) return null;
    this.lastTick = state.tick;
    this.state = state;
    const wasOpen = this.open;
    this.open = state.open !== false;
    this._predict();
    return { closed: !this.open, reopened: this.open && !wasOpen };
  }

  // The join's ack: seated (data.you) or watching; a fresh start for ticks
  // and predictions. Returns what applyState returns for its state.
  applyJoin(data) {
    this.youId = data.you ? data.you.id : null;
    this.spectating = !data.you;
    this.predictor.reset(data.arena.width, data.arena.height);
    this.lastTick = -1;
    return this.applyState(data.state);
  }

  // `seat_lost`: true when it is for this arena (then you watch).
  applySeatLost(event) {
    if (!event || event.arena !== this.slug) return false;
    this.youId = null;
    this.spectating = true;
    return true;
  }

  // Start a move at time `now` (ms): returns its seq to send, or null when it
  // must not go out (not seated, closed, offline, or too soon after the last).
  startMove(direction, now, { connected = true } = {}) {
    const me = this.you();
    if (!me || !this.open || !connected) return null;
    if (now - this.lastMoveAt < MIN_MOVE_MS) return null;
    this.lastMoveAt = now;
    const seq = this.predictor.add(direction);
    this._predict();
    return seq;
  }

  // The server applied the move after broadcast tick `tick`.
  moveAcked(seq, tick) {
    this.predictor.ack(seq, tick);
  }

  // The server refused the move: it is no longer shown.
  moveRefused(seq) {
    this.predictor.drop(seq);
    this._predict();
  }

  // Returns the new score when yours went up since the last call, else null.
  takeScoreGain() {
    const me = this.you();
    if (!me) return null;
    const gained = me.score > this.lastScore ? me.score : null;
    this.lastScore = me.score;
    return gained;
  }

  scoreboard() {
    return scoreboard(this.players(), this.youId);
  }

  // The demo bot's next move from where you are shown, or null.
  botMove() {
    const me = this.you();
    if (!me || !this.state) return null;
    return botDirection(this.shown ? { ...me, ...this.shown } : me, this.state.coins) || null;
  }

  _predict() {
    const me = this.you();
    this.shown = me ? this.predictor.predict(me, this.state.tick) : null;
  }
}
