// The SVG map of the 52 provinces: paths, a number on each province, the
// Canary Islands inset border, a tooltip on hover and keyboard focus, the
// selection outline and the flash of a changed province. Text only ever goes
// in with textContent.
import { geoPath } from "d3-geo";
import { geoConicConformalSpain } from "d3-composite-projections";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 960;
const PAD = 10;
// Label size on screen in CSS px, whatever the map's size (smaller on a phone).
const labelSize = (shownWidth) => (shownWidth < 480 ? 10 : 12);
const MIN_SIZE = 14; // provinces smaller than this (Ceuta, Melilla) get a round marker
const MARKER_R = 9;

function svgEl(name, attrs = {}) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// Centroid of the largest polygon, so an archipelago or a province with
// exclaves gets its label on its main land.
function labelPoint(path, f) {
  if (f.geometry.type !== "MultiPolygon") return path.centroid(f);
  let best = null;
  let bestArea = -1;
  for (const coordinates of f.geometry.coordinates) {
    const part = { type: "Feature", geometry: { type: "Polygon", coordinates } };
    const area = path.area(part);
    if (area > bestArea) {
      bestArea = area;
      best = part;
    }
  }
  return path.centroid(best);
}

export function createMap(container, { features, interactive = true, onSelect = () => {}, describe, labelPx = labelSize }) {
  const projection = geoConicConformalSpain();
  const collection = { type: "FeatureCollection", features };
  projection.fitExtent([[PAD, PAD], [WIDTH - PAD, 4 * WIDTH]], collection);
  const path = geoPath(projection);
  const border = projection.getCompositionBorders();

  // The drawing's height follows from its bounds (inset border included).
  const [[, y0], [, y1]] = path.bounds(collection);
  const borderYs = (border.match(/-?\d+(\.\d+)?(e-?\d+)?/g) || []).map(Number).filter((_, i) => i % 2 === 1);
  const top = Math.min(y0, ...borderYs) - PAD;
  const bottom = Math.max(y1, ...borderYs) + PAD;
  const height = bottom - top;

  const svg = svgEl("svg", {
    viewBox: `0 ${top.toFixed(1)} ${WIDTH} ${height.toFixed(1)}`,
    class: "vm-svg",
    role: "group",
    "aria-label": container.dataset.label || "",
    preserveAspectRatio: "xMidYMid meet",
  });
  const provincesGroup = svgEl("g", { class: "vm-provinces" });
  const bordersGroup = svgEl("g", { class: "vm-borders", "aria-hidden": "true" });
  const outlineGroup = svgEl("g", { class: "vm-outline", "aria-hidden": "true" });
  const labelsGroup = svgEl("g", { class: "vm-labels", "aria-hidden": "true" });
  bordersGroup.append(svgEl("path", { d: border, class: "vm-inset-border" }));
  svg.append(provincesGroup, bordersGroup, outlineGroup, labelsGroup);

  const tooltip = document.createElement("div");
  tooltip.className = "vm-tooltip";
  tooltip.hidden = true;
  tooltip.setAttribute("role", "tooltip");
  tooltip.id = `${container.id || "vm-map"}-tooltip`;
  const tipName = document.createElement("strong");
  const tipVotes = document.createElement("span");
  tooltip.append(tipName, tipVotes);

  const items = new Map(); // code -> {path, label, d}
  for (const f of features) {
    let d = path(f);
    if (!d) continue;
    // A province too small to see or tap (Ceuta, Melilla: a few pixels) is
    // drawn as a round marker on its place, so it is coloured, clickable and
    // flashes like the others.
    const [[bx0, by0], [bx1, by1]] = path.bounds(f);
    if (bx1 - bx0 < MIN_SIZE && by1 - by0 < MIN_SIZE) {
      const [cx, cy] = [(bx0 + bx1) / 2, (by0 + by1) / 2];
      d = `M${(cx - MARKER_R).toFixed(1)},${cy.toFixed(1)}a${MARKER_R},${MARKER_R} 0 1,0 ${2 * MARKER_R},0`
        + `a${MARKER_R},${MARKER_R} 0 1,0 ${-2 * MARKER_R},0Z`;
    }
    const el = svgEl("path", { d, class: "vm-province", "data-code": f.id });
    if (interactive) {
      el.setAttribute("tabindex", "-1"); // one tab stop for the map: see roving focus below
      el.setAttribute("role", "button");
      el.setAttribute("aria-pressed", "false");
      el.setAttribute("aria-describedby", tooltip.id);
    } else {
      el.setAttribute("role", "img");
    }
    provincesGroup.append(el);
    const [x, y] = labelPoint(path, f);
    const label = svgEl("text", { x: x.toFixed(1), y: y.toFixed(1), class: "vm-label", "data-code": f.id });
    label.textContent = "";
    labelsGroup.append(label);
    items.set(f.id, { path: el, label, d });
  }
  const selection = svgEl("path", { class: "vm-selection", d: "" });
  outlineGroup.append(selection);

  container.replaceChildren(svg, tooltip);

  // Labels keep the same size on screen on a phone and on a projector.
  const resize = () => {
    const shown = svg.getBoundingClientRect().width;
    if (shown > 0) labelsGroup.setAttribute("font-size", ((labelPx(shown) * WIDTH) / shown).toFixed(2));
  };
  resize();
  if ("ResizeObserver" in window) new ResizeObserver(resize).observe(svg);
  else window.addEventListener("resize", resize);

  // Tooltip -------------------------------------------------------------
  let tipCode = null;
  function fillTooltip(code) {
    const { name, text } = describe(code);
    tipName.textContent = name;
    tipVotes.textContent = text;
  }
  function placeTooltip(clientX, clientY) {
    const box = container.getBoundingClientRect();
    tooltip.hidden = false;
    const w = tooltip.offsetWidth;
    const h = tooltip.offsetHeight;
    let left = clientX - box.left + 12;
    let topPx = clientY - box.top - h - 12;
    if (left + w > box.width) left = Math.max(0, clientX - box.left - w - 12);
    if (topPx < 0) topPx = clientY - box.top + 16;
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${topPx}px`;
  }
  function showTooltipAt(code, clientX, clientY) {
    tipCode = code;
    fillTooltip(code);
    placeTooltip(clientX, clientY);
  }
  function showTooltipFor(code) {
    const item = items.get(code);
    if (!item) return;
    const r = item.path.getBoundingClientRect();
    showTooltipAt(code, r.left + r.width / 2, r.top + r.height / 2);
  }
  function hideTooltip() {
    tipCode = null;
    tooltip.hidden = true;
  }

  const codeOf = (target) => (target instanceof Element ? target.closest(".vm-province")?.dataset.code : undefined);
  svg.addEventListener("pointermove", (e) => {
    const code = codeOf(e.target);
    if (code) showTooltipAt(code, e.clientX, e.clientY);
    else if (tipCode && document.activeElement?.dataset?.code !== tipCode) hideTooltip();
  });
  svg.addEventListener("pointerleave", () => {
    const focused = codeOf(document.activeElement);
    if (focused) showTooltipFor(focused);
    else hideTooltip();
  });
  svg.addEventListener("focusin", (e) => {
    const code = codeOf(e.target);
    if (code) showTooltipFor(code);
  });
  svg.addEventListener("focusout", () => hideTooltip());
  // Roving focus: the map is one tab stop (the selected or last focused
  // province); ArrowLeft/ArrowRight, Home/End move between provinces in
  // alphabetical order. ArrowUp/ArrowDown stay free for voting.
  let roving = null;
  function setRoving(code) {
    if (!interactive || !items.has(code) || code === roving) return;
    if (roving) items.get(roving).path.setAttribute("tabindex", "-1");
    items.get(code).path.setAttribute("tabindex", "0");
    roving = code;
  }
  const byName = () => [...items.keys()].sort((a, b) => describe(a).name.localeCompare(describe(b).name, "es"));
  if (interactive) {
    setRoving(byName()[0]);
    svg.addEventListener("focusin", (e) => {
      const code = codeOf(e.target);
      if (code) setRoving(code);
    });
    svg.addEventListener("keydown", (e) => {
      const code = codeOf(e.target);
      if (!code || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      const order = byName();
      const i = order.indexOf(code);
      const next = e.key === "Home" ? 0 : e.key === "End" ? order.length - 1
        : (i + (e.key === "ArrowRight" ? 1 : -1) + order.length) % order.length;
      setRoving(order[next]);
      items.get(order[next]).path.focus();
    });
    svg.addEventListener("click", (e) => {
      const code = codeOf(e.target);
      if (code) onSelect(code, { source: "map" });
    });
    svg.addEventListener("keydown", (e) => {
      const code = codeOf(e.target);
      if (code && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        onSelect(code, { source: "keyboard" });
      }
    });
  }

  // Updates --------------------------------------------------------------
  function paint(code, { color, labelText, ariaLabel, inactive }) {
    const item = items.get(code);
    if (!item) return;
    item.path.style.fill = color;
    item.path.classList.toggle("is-inactive", Boolean(inactive));
    if (inactive && interactive) item.path.setAttribute("aria-disabled", "true");
    else item.path.removeAttribute("aria-disabled");
    item.path.setAttribute("aria-label", ariaLabel);
    item.label.textContent = labelText;
    if (tipCode === code) fillTooltip(code);
  }

  // Restart the flash of every changed province: drop the classes, force one
  // style flush, add them back, so each animation runs from its start.
  function flash(changes) {
    const todo = [];
    for (const { code, direction } of changes) {
      const item = items.get(code);
      if (!item) continue;
      item.path.classList.remove("vm-flash-up", "vm-flash-down");
      item.label.classList.remove("vm-pop");
      todo.push([item, direction === "down" ? "vm-flash-down" : "vm-flash-up"]);
    }
    if (!todo.length) return;
    void svg.getBoundingClientRect();
    for (const [item, cls] of todo) {
      item.path.classList.add(cls);
      item.label.classList.add("vm-pop");
    }
  }
  svg.addEventListener("animationend", (e) => {
    const el = e.target;
    if (!(el instanceof Element)) return;
    if (e.animationName === "vm-flash-up") el.classList.remove("vm-flash-up");
    else if (e.animationName === "vm-flash-down") el.classList.remove("vm-flash-down");
    else if (e.animationName === "vm-pop") el.classList.remove("vm-pop");
  });

  function select(code) {
    for (const [c, item] of items) {
      const on = c === code;
      item.path.classList.toggle("is-selected", on);
      if (interactive) item.path.setAttribute("aria-pressed", on ? "true" : "false");
    }
    selection.setAttribute("d", items.get(code)?.d || "");
    setRoving(code);
  }

  // Names arrived (snapshot): the map's tab stop is the first province by name
  // unless one is selected or focused.
  function refreshOrder() {
    if (!interactive) return;
    const current = roving && items.get(roving).path;
    if (current && (current.classList.contains("is-selected") || current === document.activeElement)) return;
    setRoving(byName()[0]);
  }

  function focus(code) {
    items.get(code)?.path.focus();
  }

  return { svg, codes: [...items.keys()], paint, flash, select, focus, refreshOrder, showTooltipFor, hideTooltip };
}
