// Colour classes of the choropleth. Class 0 is "no votes"; classes 1..5 split
// 1..top on a square-root scale (votes pile up on a few big provinces, so the
// low end needs the finer classes), where `top` is the current maximum rounded
// up to a "nice" value: the classes change only when the maximum passes one.
export const PALETTE = ["#eef2f6", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
const CLASSES = PALETTE.length - 1;
const NICE = [1, 1.5, 2, 3, 5, 7.5, 10];

export function niceCeil(x) {
  if (!(x > CLASSES)) return CLASSES;
  const pow = 10 ** Math.floor(Math.log10(x));
  for (const m of NICE) if (m * pow >= x) return Math.round(m * pow);
  return 10 * pow;
}

export function makeScale(max) {
  const top = niceCeil(max);
  // Upper bounds of classes 1..4 (class 5 is everything above the last).
  const bounds = [];
  for (let i = 1; i < CLASSES; i++) {
    const b = Math.round(top * (i / CLASSES) ** 2);
    bounds.push(Math.max(b, (bounds[i - 2] ?? 0) + 1));
  }
  const classOf = (v) => {
    if (!(v > 0)) return 0;
    let c = 1;
    for (const b of bounds) if (v > b) c += 1;
    return c;
  };
  const bins = PALETTE.map((color, i) => {
    if (i === 0) return { color, from: 0, to: 0 };
    const from = i === 1 ? 1 : bounds[i - 2] + 1;
    return { color, from, to: i === CLASSES ? null : bounds[i - 1] };
  });
  return { key: top, classOf, color: (v) => PALETTE[classOf(v)], bins };
}
