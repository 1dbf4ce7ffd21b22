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

// Full screen for the projector (F or the button); Escape leaves it.
const fullscreen = document.getElementById("vm-fullscreen");
if (fullscreen && document.fullscreenEnabled) {
  fullscreen.hidden = false;
  const toggle = () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else document.documentElement.requestFullscreen().catch(() => {});
  };
  fullscreen.addEventListener("click", toggle);
  document.addEventListener("keydown", (e) => {
    if ((e.key === "f" || e.key === "F") && !e.altKey && !e.ctrlKey && !e.metaKey) toggle();
  });
  document.addEventListener("fullscreenchange", () => {
    fullscreen.textContent = document.fullscreenElement ? fullscreen.dataset.labelExit : fullscreen.dataset.labelEnter;
  });
}
