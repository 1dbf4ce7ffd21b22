// Arrow keys, W A S D, the on-screen pad and swipes all call onMove(direction).
const KEYS = {
  ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
  w: "up", s: "down", a: "left", d: "right", W: "up", S: "down", A: "left", D: "right",
};

export function bindControls({ board, pad, onMove }) {
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    const direction = KEYS[event.key];
    if (!direction) return;
    event.preventDefault();
    onMove(direction);
  });
  for (const button of pad.querySelectorAll("[data-direction]")) {
    button.addEventListener("click", () => onMove(button.dataset.direction));
  }
  let start = null;
  board.addEventListener("touchstart", (event) => {
    if (event.touches.length === 1) start = { x: event.touches[0].clientX, y: event.touches[0].clientY };
  }, { passive: true });
  board.addEventListener("touchend", (event) => {
    if (!start || event.changedTouches.length < 1) return;
    const dx = event.changedTouches[0].clientX - start.x;
    const dy = event.changedTouches[0].clientY - start.y;
    start = null;
    if (Math.max(Math.abs(dx), Math.abs(dy)) < 24) return;
    if (Math.abs(dx) > Math.abs(dy)) onMove(dx > 0 ? "right" : "left");
    else onMove(dy > 0 ? "down" : "up");
  }, { passive: true });
}
