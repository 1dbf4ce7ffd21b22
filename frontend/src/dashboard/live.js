// What the voting page and the presenter view share: the socket, the state
// with its versioning (./state.js), the map's colours and numbers, the
// legend, the top-5 leaderboard and the viewer count (./paint.js computes
// them). Repaints are batched once per frame.
import { connectNamespace, request } from "../lib/socket.js";
import { gettext, ngettext } from "../lib/i18n.js";
import { createMap } from "./map.js";
import { atlasNames, provinceFeatures } from "./provinces.js";
import { makeScale } from "./scale.js";
import { MapState } from "./state.js";
import { ChangeBatch, describeProvince, isActive, legendLabel, provincePaint, scaleFor, topRows, votesText } from "./paint.js";
import { textSpan } from "../lib/dom.js";

const SNAPSHOT_FALLBACK_MS = 3000;

export { votesText };

export function startLiveMap({
  config, mapContainer, legendEl, topEl, topSize = 5, interactive = true, labelPx,
  onSelect = () => {}, onChange = () => {}, onSnapshot = () => {},
}) {
  const features = provinceFeatures();
  const atlas = atlasNames(features);
  const state = new MapState();
  let scale = makeScale(0);

  const nameOf = (code) => state.name(code, atlas);
  const describe = (code) => describeProvince(state, code, atlas);
  const map = createMap(mapContainer, { features, interactive, onSelect, describe, labelPx });
  const socket = connectNamespace(config.namespace);

  function renderLegend() {
    if (!legendEl) return;
    legendEl.replaceChildren(...scale.bins.map((bin) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "vm-swatch";
      swatch.style.background = bin.color;
      swatch.setAttribute("aria-hidden", "true");
      const text = document.createElement("span");
      text.textContent = legendLabel(bin);
      li.append(swatch, text);
      return li;
    }));
  }

  function renderTop() {
    if (!topEl) return;
    const { rows, empty } = topRows(state, topSize, atlas);
    const items = rows.map((row) => {
      const li = document.createElement("li");
      li.dataset.code = row.code;
      const votes = textSpan("vm-top-votes", row.votes);
      votes.setAttribute("aria-label", votesText(row.votes));
      li.append(textSpan("vm-top-name", row.name), votes);
      return li;
    });
    if (empty) {
      const li = document.createElement("li");
      li.className = "vm-top-empty";
      li.textContent = gettext("No votes yet: be the first!");
      items.push(li);
    }
    topEl.replaceChildren(...items);
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
    const next = scaleFor(state);
    if (next.key === scale.key) return false;
    scale = next;
    renderLegend();
    return true;
  }

  // Batching -----------------------------------------------------------
  const batch = new ChangeBatch();
  let scheduled = false;
  function flush() {
    scheduled = false;
    if (rescale()) batch.markAll();
    const { codes, flashes } = batch.take();
    for (const code of codes ?? map.codes) map.paint(code, provincePaint(state, scale, code, atlas));
    map.flash(flashes);
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
  function record(changes, options) {
    batch.record(changes, options);
    schedule();
  }

  // Protocol -----------------------------------------------------------
  let snapshotTimer = null;
  function applySnapshot(snapshot) {
    if (!snapshot || typeof snapshot !== "object" || !Array.isArray(snapshot.provinces)) return;
    clearTimeout(snapshotTimer);
    const first = !state.ready;
    const changes = state.applySnapshot(snapshot);
    batch.markAll();
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
  batch.markAll();
  schedule();

  return { socket, state, map, atlas, nameOf, isActive: (code) => isActive(state, code), features };
}
