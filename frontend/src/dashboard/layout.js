// What the map computes that is not drawing: the drawing's extent, each
// province's outline (or a round marker when it is too small to see or tap),
// where its number goes, the keyboard order, the tooltip's place and the
// flash classes. No DOM: plain numbers and strings in and out, so node's test
// runner checks it; dashboard/map.js turns it into SVG. `path` is a d3-geo
// path generator (callable, with bounds/centroid/area), passed in.

export const WIDTH = 960;
export const PAD = 10;
export const MIN_SIZE = 14; // provinces smaller than this (Ceuta, Melilla) get a round marker
export const MARKER_R = 9;

// Label size on screen in CSS px, whatever the map's size (smaller on a phone).
export const defaultLabelPx = (shownWidth) => (shownWidth < 480 ? 10 : 12);

// The SVG font size that shows labels at `labelPx(shown)` CSS px when the
// drawing (WIDTH units wide) is shown `shown` px wide; null before layout.
export function labelFontSize(shown, labelPx = defaultLabelPx, width = WIDTH) {
  return shown > 0 ? ((labelPx(shown) * width) / shown).toFixed(2) : null;
}

// A closed circle of radius `r` around (cx, cy) as SVG path data.
export function markerPath(cx, cy, r = MARKER_R) {
  return `M${(cx - r).toFixed(1)},${cy.toFixed(1)}a${r},${r} 0 1,0 ${2 * r},0`
    + `a${r},${r} 0 1,0 ${-2 * r},0Z`;
}

// Centroid of the largest polygon, so an archipelago or a province with
// exclaves gets its label on its main land.
export function labelPoint(path, f) {
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

// The y coordinates in SVG path data (every second number).
function pathYs(d) {
  return (d.match(/-?\d+(\.\d+)?(e-?\d+)?/g) || []).map(Number).filter((_, i) => i % 2 === 1);
}

// Returns {viewBox, items: [{code, d, label: [x, y]}]}. The drawing's height
// follows from its bounds, the inset border (`border`, path data) included.
export function mapLayout(features, path, border = "", { width = WIDTH, pad = PAD, minSize = MIN_SIZE, markerR = MARKER_R } = {}) {
  const [[, y0], [, y1]] = path.bounds({ type: "FeatureCollection", features });
  const borderYs = pathYs(border);
  const top = Math.min(y0, ...borderYs) - pad;
  const bottom = Math.max(y1, ...borderYs) + pad;
  const height = bottom - top;
  const items = [];
  for (const f of features) {
    let d = path(f);
    if (!d) continue;
    // A province too small to see or tap (Ceuta, Melilla: a few pixels) is
    // drawn as a round marker on its place, so it is coloured, clickable and
    // flashes like the others.
    const [[bx0, by0], [bx1, by1]] = path.bounds(f);
    if (bx1 - bx0 < minSize && by1 - by0 < minSize) d = markerPath((bx0 + bx1) / 2, (by0 + by1) / 2, markerR);
    const [x, y] = labelPoint(path, f);
    items.push({ code: f.id, d, label: [x.toFixed(1), y.toFixed(1)] });
  }
  return { viewBox: `0 ${top.toFixed(1)} ${width} ${height.toFixed(1)}`, top, height, items };
}

// Provinces in alphabetical order of their names (Spanish collation).
export function provinceOrder(codes, nameOf) {
  return [...codes].sort((a, b) => nameOf(a).localeCompare(nameOf(b), "es"));
}

// Roving focus: the province a key moves to from `code` in `order`, or null
// for keys the map leaves alone (ArrowUp/ArrowDown vote).
export function rovingTarget(order, code, key) {
  const i = order.indexOf(code);
  if (i < 0 || !order.length) return null;
  if (key === "Home") return order[0];
  if (key === "End") return order[order.length - 1];
  if (key === "ArrowRight") return order[(i + 1) % order.length];
  if (key === "ArrowLeft") return order[(i - 1 + order.length) % order.length];
  return null;
}

// The tooltip's top-left corner inside the container `box` ({left, top,
// width}), for a pointer at (clientX, clientY) and a tooltip w x h: above and
// to the right, flipped left at the right edge and below at the top edge.
export function tooltipPosition({ clientX, clientY, box, w, h }) {
  let left = clientX - box.left + 12;
  let top = clientY - box.top - h - 12;
  if (left + w > box.width) left = Math.max(0, clientX - box.left - w - 12);
  if (top < 0) top = clientY - box.top + 16;
  return { left, top };
}

export const FLASH_CLASSES = ["vm-flash-up", "vm-flash-down"];
export const POP_CLASS = "vm-pop";

export function flashClass(direction) {
  return direction === "down" ? "vm-flash-down" : "vm-flash-up";
}

// The class an ended animation leaves behind (to remove), or null.
export function endedClass(animationName) {
  return [...FLASH_CLASSES, POP_CLASS].includes(animationName) ? animationName : null;
}
