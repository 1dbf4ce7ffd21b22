// The map's tooltip: a province's name and votes next to the pointer or the
// focused province. Where it goes is computed in ./layout.js; text goes in
// with textContent.
import { tooltipPosition } from "./layout.js";

export function createTooltip(container, describe) {
  const el = document.createElement("div");
  el.className = "vm-tooltip";
  el.hidden = true;
  el.setAttribute("role", "tooltip");
  el.id = `${container.id || "vm-map"}-tooltip`;
  const name = document.createElement("strong");
  const votes = document.createElement("span");
  el.append(name, votes);
  let shown = null; // the code it shows, or null

  function fill(code) {
    const { name: n, text } = describe(code);
    name.textContent = n;
    votes.textContent = text;
  }

  function showAt(code, clientX, clientY) {
    shown = code;
    fill(code);
    const box = container.getBoundingClientRect();
    el.hidden = false; // shown first, so it has a size to place
    const { left, top } = tooltipPosition({ clientX, clientY, box, w: el.offsetWidth, h: el.offsetHeight });
    el.style.left = `${left}px`;
    el.style.top = `${top}px`;
  }

  // Next to an element (a focused province): at its centre.
  function showBy(code, target) {
    const r = target.getBoundingClientRect();
    showAt(code, r.left + r.width / 2, r.top + r.height / 2);
  }

  function hide() {
    shown = null;
    el.hidden = true;
  }

  // A province's numbers changed: refresh the text if it is the one shown.
  function refresh(code) {
    if (shown === code) fill(code);
  }

  return { el, showAt, showBy, hide, refresh, get code() { return shown; } };
}
