// What the voting page and the presenter view share: the socket, the state
// with its versioning, the map's colours and numbers, the legend, the top-5
// leaderboard and the viewer count. Repaints are batched once per frame.
import { connectNamespace, request } from "../lib/socket.js";
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { createMap } from "./map.js";
import { atlasNames, provinceFeatures } from "./provinces.js";
import { makeScale } from "./scale.js";
import { MapState } from "./state.js";
import { textSpan } from "../lib/dom.js";

const INACTIVE_FILL = "#d5d8dc";
const SNAPSHOT_FALLBACK_MS = 3000;

export function votesText(n) {
  return interpolate(ngettext("%(n)s vote", "%(n)s votes", n), { n }, true);
}

export function startLiveMap({
  config, mapContainer, legendEl, topEl, topSize = 5, interactive = true, labelPx,
  onSelect = () => {}, onChange = () => {}, onSnapshot = () => {},
}) {
  const features = provinceFeatures();
  const atlas = atlasNames(features);
  const state = new MapState();
  let scale = makeScale(0);

  const isActive = (code) => !state.ready || state.counts.has(code);
  const nameOf = (code) => state.name(code, atlas);
  const describe = (code) => ({
    name: nameOf(code),
    text: !state.ready ? gettext("Loading…") : isActive(code) ? votesText(state.counts.get(code)) : gettext("Not in the vote"),
  });

  const map = createMap(mapContainer, { features, interactive, onSelect, describe, labelPx });
  const socket = connectNamespace(config.namespace);

  function paint(code) {
    const active = isActive(code);
    const votes = state.counts.get(code) ?? 0;
    const name = nameOf(code);
    map.paint(code, {
      color: active ? scale.color(votes) : INACTIVE_FILL,
      labelText: state.ready && active ? String(votes) : "",
      ariaLabel: state.ready
        ? `${name}: ${active ? votesText(votes) : gettext("Not in the vote")}`
        : name,
      inactive: !active,
    });
  }

  function renderLegend() {
    if (!legendEl) return;
    const items = scale.bins.map((bin) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "vm-swatch";
      swatch.style.background = bin.color;
      swatch.setAttribute("aria-hidden", "true");
      const text = document.createElement("span");
      if (bin.to === 0) text.textContent = "0";
      else if (bin.to === null) text.textContent = `≥ ${bin.from}`;
      else if (bin.from === bin.to) text.textContent = String(bin.from);
      else text.textContent = `${bin.from}–${bin.to}`;
      li.append(swatch, text);
      return li;
    });
    legendEl.replaceChildren(...items);
  }

  function renderTop() {
    if (!topEl) return;
    const rows = state.top(topSize, atlas).filter((row) => row.votes > 0).map((row) => {
      const li = document.createElement("li");
      li.dataset.code = row.code;
      const name = textSpan("vm-top-name", row.name);
      const votes = textSpan("vm-top-votes", row.votes);
      votes.setAttribute("aria-label", votesText(row.votes));
      li.append(name, votes);
      return li;
    });
    if (!rows.length && state.ready) {
      const li = document.createElement("li");
      li.className = "vm-top-empty";
      li.textContent = gettext("No votes yet: be the first!");
      rows.push(li);
    }
    topEl.replaceChildren(...rows);
  }

  function renderViewers() {
    for (const el of document.querySelectorAll("[data-vm-viewers]")) el.textContent = String(state.viewers);
    for (const el of document.querySelectorAll("[data-vm-viewers-label]")) {
      el.textContent = ngettext("viewer now", "viewers now", state.viewers);
    }
    for (const el of document.querySelectorAll("[data-vm-total]")) el.textContent = String(state.total());
  }

  // Returns true when the colour classes changed (then every province repaints).
  function rescale() {
    let max = 0;
    for (const v of state.counts.values()) if (v > max) max = v;
    const next = makeScale(max);
    if (next.key === scale.key) return false;
    scale = next;
    renderLegend();
    return true;
  }

  // Batching -----------------------------------------------------------
  const dirty = new Set();
  const flashes = new Map();
  let all = false;
  let scheduled = false;
  function flush() {
    scheduled = false;
    if (rescale()) all = true;
    for (const code of all ? map.codes : dirty) paint(code);
    map.flash([...flashes].map(([code, direction]) => ({ code, direction })));
    const codes = all ? null : new Set(dirty);
    dirty.clear();
    flashes.clear();
    all = false;
    renderTop();
    renderViewers();
    if (state.ready) mapContainer.dataset.version = String(state.version);
    onChange(codes);
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    if (document.hidden) setTimeout(flush, 100);
    else requestAnimationFrame(flush);
  }
  function record(changes, { animate = true } = {}) {
    for (const { code, before, after } of changes) {
      dirty.add(code);
      if (animate && before !== null && after !== null && before !== after) {
        flashes.set(code, after > before ? "up" : "down");
      }
    }
    schedule();
  }

  // Protocol -----------------------------------------------------------
  let snapshotTimer = null;
  function applySnapshot(snapshot) {
    if (!snapshot || typeof snapshot !== "object" || !Array.isArray(snapshot.provinces)) return;
    clearTimeout(snapshotTimer);
    const first = !state.ready;
    const changes = state.applySnapshot(snapshot);
    all = true;
    record(changes, { animate: !first });
    map.refreshOrder();
    onSnapshot(state);
  }

  async function resync() {
    const reply = await request(socket, "get_snapshot", {});
    if (reply && reply.ok) applySnapshot(reply.data);
    else state.resyncFailed();
  }

  socket.on("snapshot", applySnapshot);
  socket.on("votes", (delta) => {
    const { status, changes } = state.applyVotes(delta);
    if (status === "gap") resync();
    else if (changes.length) record(changes);
  });
  socket.on("viewers", (msg) => {
    if (msg && Number.isInteger(msg.count)) {
      state.viewers = msg.count;
      schedule();
    }
  });
  socket.on("connect", () => {
    // The server sends a snapshot on every connect; ask if it does not come.
    clearTimeout(snapshotTimer);
    snapshotTimer = setTimeout(resync, SNAPSHOT_FALLBACK_MS);
  });
  socket.on("disconnect", () => {
    // Deltas after a reconnect wait for the snapshot that comes with it.
    state.resyncing = true;
  });

  renderLegend();
  all = true;
  schedule();

  return { socket, state, map, atlas, nameOf, isActive, features };
}
