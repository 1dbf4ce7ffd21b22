// Colour classes of the choropleth. Class 0 is "no votes"; classes 1..5 cover
// (0, step], (step, 2 step], ... with a "nice" step (1, 2 or 5 x 10^n) chosen
// so the current maximum falls in the last class.
export const PALETTE = ["#eef2f6", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
const CLASSES = PALETTE.length - 1;

export function niceStep(x) {
  if (!(x > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * pow >= x) return Math.max(1, m * pow);
  return 10 * pow;
}

export function makeScale(max) {
  const step = niceStep(Math.max(max, CLASSES) / CLASSES);
  const classOf = (v) => (!(v > 0) ? 0 : Math.min(CLASSES, Math.ceil(v / step)));
  const bins = PALETTE.map((color, i) => {
    if (i === 0) return { color, from: 0, to: 0 };
    const from = (i - 1) * step + 1;
    return { color, from, to: i === CLASSES ? null : i * step };
  });
  return { step, classOf, color: (v) => PALETTE[classOf(v)], bins };
}
