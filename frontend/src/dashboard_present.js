// Presenter view (/map/present/): the live map for a projector, with the
// leaderboard, the viewer count and the QR code of the voting page (made on
// the server). Nothing to click: it only watches.
import { readJsonScript } from "./lib/socket.js";
import { startLiveMap } from "./dashboard/live.js";

const config = readJsonScript("vm-config", {}) || {};
const closed = document.getElementById("vm-closed");

startLiveMap({
  config,
  mapContainer: document.getElementById("vm-map"),
  legendEl: document.getElementById("vm-legend"),
  topEl: document.getElementById("vm-top"),
  interactive: false,
  labelPx: (shown) => Math.max(12, Math.min(20, shown / 60)), // readable from the back of the room
  onSnapshot: (state) => {
    closed.hidden = state.open;
  },
});
