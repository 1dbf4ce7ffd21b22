// What the live map shows for a MapState (./state.js), as plain data: each
// province's colour, number and accessible label, the legend's labels, the
// leaderboard's rows, and the batch of changes waiting for the next frame.
// No DOM, no socket: node's test runner checks it; ./live.js draws it.
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { makeScale } from "./scale.js";

export const INACTIVE_FILL = "#d5d8dc";

export function votesText(n) {
  return interpolate(ngettext("%(n)s vote", "%(n)s votes", n), { n }, true);
}

// Before the first snapshot every province counts as active (nothing is
// greyed out while loading); after it, only those the server listed.
export function isActive(state, code) {
  return !state.ready || state.counts.has(code);
}

// The tooltip's and the selected panel's {name, text}.
export function describeProvince(state, code, fallbackNames) {
  const name = state.name(code, fallbackNames);
  const text = !state.ready ? gettext("Loading…")
    : isActive(state, code) ? votesText(state.counts.get(code)) : gettext("Not in the vote");
  return { name, text };
}

// What map.paint needs for one province.
export function provincePaint(state, scale, code, fallbackNames) {
  const active = isActive(state, code);
  const votes = state.counts.get(code) ?? 0;
  const name = state.name(code, fallbackNames);
  return {
    color: active ? scale.color(votes) : INACTIVE_FILL,
    labelText: state.ready && active ? String(votes) : "",
    ariaLabel: state.ready ? `${name}: ${active ? votesText(votes) : gettext("Not in the vote")}` : name,
    inactive: !active,
  };
}

// The scale for the current counts (its key changes only when the maximum
// passes a "nice" step, see ./scale.js).
export function scaleFor(state) {
  let max = 0;
  for (const v of state.counts.values()) if (v > max) max = v;
  return makeScale(max);
}

export function legendLabel(bin) {
  if (bin.to === 0) return "0";
  if (bin.to === null) return `≥ ${bin.from}`;
  if (bin.from === bin.to) return String(bin.from);
  return `${bin.from}–${bin.to}`;
}

// The leaderboard: provinces with votes, best first; `empty` says to show
// "no votes yet" (only once the snapshot has come).
export function topRows(state, n, fallbackNames) {
  const rows = state.top(n, fallbackNames).filter((row) => row.votes > 0);
  return { rows, empty: rows.length === 0 && state.ready };
}

// Changes collected between two frames: which provinces to repaint (or all
// of them), and which flash, up or down (the last change of a frame wins).
export class ChangeBatch {
  constructor() {
    this.dirty = new Set();
    this.flashes = new Map();
    this.all = false;
  }

  // `changes` as MapState returns them: [{code, before, after}]. A province
  // flashes only when a known count moved (not when it appears or goes).
  record(changes, { animate = true } = {}) {
    for (const { code, before, after } of changes) {
      this.dirty.add(code);
      if (animate && before !== null && after !== null && before !== after) {
        this.flashes.set(code, after > before ? "up" : "down");
      }
    }
  }

  markAll() {
    this.all = true;
  }

  // Returns {codes: Set | null (null = every province), flashes: [{code, direction}]} and empties the batch.
  take() {
    const out = {
      codes: this.all ? null : new Set(this.dirty),
      flashes: [...this.flashes].map(([code, direction]) => ({ code, direction })),
    };
    this.dirty.clear();
    this.flashes.clear();
    this.all = false;
    return out;
  }
}
