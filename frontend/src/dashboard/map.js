// The SVG map of the 52 provinces: paths, a number on each province, the
// Canary Islands inset border, a tooltip on hover and keyboard focus, the
// selection outline and the flash of a changed province. What is computed
// rather than drawn lives in ./layout.js. Text only ever goes in with
// textContent.
import { geoPath } from "d3-geo";
import { geoConicConformalSpain } from "d3-composite-projections";
import {
  FLASH_CLASSES, PAD, POP_CLASS, WIDTH, defaultLabelPx, endedClass, flashClass, labelFontSize, mapLayout,
  provinceOrder, rovingTarget,
} from "./layout.js";
import { createTooltip } from "./tooltip.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs = {}) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function createMap(container, { features, interactive = true, onSelect = () => {}, describe, labelPx = defaultLabelPx }) {
  const projection = geoConicConformalSpain();
  projection.fitExtent([[PAD, PAD], [WIDTH - PAD, 4 * WIDTH]], { type: "FeatureCollection", features });
  const border = projection.getCompositionBorders();
  const layout = mapLayout(features, geoPath(projection), border);

  const svg = svgEl("svg", {
    viewBox: layout.viewBox,
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

  const tooltip = createTooltip(container, describe);

  const items = new Map(); // code -> {path, label, d}
  for (const { code, d, label: [x, y] } of layout.items) {
    const el = svgEl("path", { d, class: "vm-province", "data-code": code });
    if (interactive) {
      el.setAttribute("tabindex", "-1"); // one tab stop for the map: see roving focus below
      el.setAttribute("role", "button");
      el.setAttribute("aria-pressed", "false");
      el.setAttribute("aria-describedby", tooltip.el.id);
    } else {
      el.setAttribute("role", "img");
    }
    provincesGroup.append(el);
    const label = svgEl("text", { x, y, class: "vm-label", "data-code": code });
    label.textContent = "";
    labelsGroup.append(label);
    items.set(code, { path: el, label, d });
  }
  const selection = svgEl("path", { class: "vm-selection", d: "" });
  outlineGroup.append(selection);

  container.replaceChildren(svg, tooltip.el);

  // Labels keep the same size on screen on a phone and on a projector.
  const resize = () => {
    const size = labelFontSize(svg.getBoundingClientRect().width, labelPx);
    if (size !== null) labelsGroup.setAttribute("font-size", size);
  };
  resize();
  if ("ResizeObserver" in window) new ResizeObserver(resize).observe(svg);
  else window.addEventListener("resize", resize);

  // Tooltip -------------------------------------------------------------
  function showTooltipFor(code) {
    const item = items.get(code);
    if (item) tooltip.showBy(code, item.path);
  }
  const hideTooltip = tooltip.hide;

  const codeOf = (target) => (target instanceof Element ? target.closest(".vm-province")?.dataset.code : undefined);
  svg.addEventListener("pointermove", (e) => {
    const code = codeOf(e.target);
    if (code) tooltip.showAt(code, e.clientX, e.clientY);
    else if (tooltip.code && document.activeElement?.dataset?.code !== tooltip.code) hideTooltip();
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
  const byName = () => provinceOrder(items.keys(), (code) => describe(code).name);
  if (interactive) {
    setRoving(byName()[0]);
    svg.addEventListener("focusin", (e) => {
      const code = codeOf(e.target);
      if (code) setRoving(code);
    });
    svg.addEventListener("keydown", (e) => {
      const code = codeOf(e.target);
      if (!code || e.altKey || e.ctrlKey || e.metaKey) return;
      const next = rovingTarget(byName(), code, e.key);
      if (!next) return;
      e.preventDefault();
      setRoving(next);
      items.get(next).path.focus();
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
    tooltip.refresh(code);
  }

  // Restart the flash of every changed province: drop the classes, force one
  // style flush, add them back, so each animation runs from its start.
  function flash(changes) {
    const todo = [];
    for (const { code, direction } of changes) {
      const item = items.get(code);
      if (!item) continue;
      item.path.classList.remove(...FLASH_CLASSES);
      item.label.classList.remove(POP_CLASS);
      todo.push([item, flashClass(direction)]);
    }
    if (!todo.length) return;
    void svg.getBoundingClientRect();
    for (const [item, cls] of todo) {
      item.path.classList.add(cls);
      item.label.classList.add(POP_CLASS);
    }
  }
  svg.addEventListener("animationend", (e) => {
    const cls = endedClass(e.animationName);
    if (cls && e.target instanceof Element) e.target.classList.remove(cls);
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
