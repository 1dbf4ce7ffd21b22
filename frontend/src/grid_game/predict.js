// Client-side prediction of your own moves, corrected by the server.
//
// A move is shown at once. Its ack says after which broadcast tick the
// server applied it (`tick`): every `state` with a greater tick includes it.
// When a state arrives, your position is the server's, plus the moves the
// server has not applied yet in that state (unacked, or acked with a tick
// >= the state's), replayed with the same wall rule as the server.

export const STEPS = {
  up: [0, -1],
  down: [0, 1],
  left: [-1, 0],
  right: [1, 0],
};

export function step(pos, direction, width, height) {
  const [dx, dy] = STEPS[direction];
  const x = pos.x + dx;
  const y = pos.y + dy;
  if (x < 0 || y < 0 || x >= width || y >= height) return { x: pos.x, y: pos.y };
  return { x, y };
}

export class Predictor {
  constructor(width, height) {
    this.width = width;
    this.height = height;
    this.pending = []; // {seq, direction, ackTick|null}
    this.seq = 0;
  }

  reset(width = this.width, height = this.height) {
    this.width = width;
    this.height = height;
    this.pending = [];
  }

  // Record a move about to be sent; returns its seq.
  add(direction) {
    this.seq += 1;
    this.pending.push({ seq: this.seq, direction, ackTick: null });
    return this.seq;
  }

  ack(seq, tick) {
    const move = this.pending.find((m) => m.seq === seq);
    if (move) move.ackTick = tick;
  }

  drop(seq) {
    this.pending = this.pending.filter((m) => m.seq !== seq);
  }

  // Your position to show, given the server's position in the state of `tick`.
  predict(serverPos, tick) {
    this.pending = this.pending.filter((m) => m.ackTick === null || m.ackTick >= tick);
    let pos = { x: serverPos.x, y: serverPos.y };
    for (const move of this.pending) pos = step(pos, move.direction, this.width, this.height);
    return pos;
  }
}
