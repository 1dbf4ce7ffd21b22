// The client's copy of the map state and the versioning rule of the protocol:
// a `snapshot` replaces everything; a `votes` delta applies only when its
// version is exactly the last one + 1. A gap means a delta was missed, so the
// caller asks for a fresh snapshot; deltas that arrive meanwhile are kept and
// replayed on top of it when they follow on.
const MAX_PENDING = 500; // deltas kept while waiting for a snapshot (25 s at 20 per second)

export class MapState {
  constructor() {
    this.version = null; // null until the first snapshot
    this.open = true;
    this.viewers = 0;
    this.counts = new Map(); // code -> votes (active provinces only)
    this.names = new Map(); // code -> official name from the server
    this.resyncing = false;
    this.pending = [];
  }

  get ready() {
    return this.version !== null;
  }

  // Returns [{code, before, after}] for provinces whose count changed.
  applySnapshot(snapshot) {
    const changes = [];
    const seen = new Set();
    for (const p of snapshot.provinces || []) {
      if (typeof p.code !== "string" || !Number.isFinite(p.votes)) continue;
      seen.add(p.code);
      const before = this.counts.has(p.code) ? this.counts.get(p.code) : null;
      if (before !== p.votes) changes.push({ code: p.code, before, after: p.votes });
      this.counts.set(p.code, p.votes);
      if (typeof p.name === "string" && p.name) this.names.set(p.code, p.name);
    }
    for (const code of [...this.counts.keys()]) {
      if (!seen.has(code)) {
        changes.push({ code, before: this.counts.get(code), after: null });
        this.counts.delete(code);
      }
    }
    this.version = Number.isInteger(snapshot.version) ? snapshot.version : 0;
    this.open = snapshot.open !== false;
    if (Number.isInteger(snapshot.viewers)) this.viewers = snapshot.viewers;
    this.resyncing = false;
    // Replay deltas that arrived while the snapshot was on its way.
    const queued = this.pending.sort((a, b) => a.version - b.version);
    this.pending = [];
    for (const delta of queued) {
      if (delta.version === this.version + 1) changes.push(...this._apply(delta));
    }
    return changes;
  }

  // Returns {status: "applied"|"stale"|"gap"|"waiting", changes}.
  applyVotes(delta) {
    if (!delta || !Number.isInteger(delta.version) || typeof delta.counts !== "object" || delta.counts === null) {
      return { status: "stale", changes: [] };
    }
    if (!this.ready || this.resyncing) {
      if (this.pending.length >= MAX_PENDING) this.pending.shift();
      this.pending.push(delta);
      return { status: "waiting", changes: [] };
    }
    if (delta.version <= this.version) return { status: "stale", changes: [] };
    if (delta.version !== this.version + 1) {
      this.resyncing = true;
      this.pending.push(delta);
      return { status: "gap", changes: [] };
    }
    return { status: "applied", changes: this._apply(delta) };
  }

  _apply(delta) {
    const changes = [];
    for (const [code, after] of Object.entries(delta.counts)) {
      if (!Number.isFinite(after)) continue;
      const before = this.counts.has(code) ? this.counts.get(code) : null;
      this.counts.set(code, after);
      if (before !== after) changes.push({ code, before, after });
    }
    this.version = delta.version;
    return changes;
  }

  // Called when a resync request failed, so the next delta can trigger another.
  resyncFailed() {
    this.resyncing = false;
  }

  name(code, fallback) {
    return this.names.get(code) || (fallback && fallback.get(code)) || code;
  }

  // Top `n` provinces by votes (ties by name), only active ones.
  top(n, fallbackNames) {
    return [...this.counts.entries()]
      .map(([code, votes]) => ({ code, votes, name: this.name(code, fallbackNames) }))
      .sort((a, b) => b.votes - a.votes || a.name.localeCompare(b.name))
      .slice(0, n);
  }

  total() {
    let sum = 0;
    for (const v of this.counts.values()) sum += v;
    return sum;
  }
}
