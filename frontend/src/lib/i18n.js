// Django's JavaScript catalog (/jsi18n/, loaded by base.html) defines the
// globals gettext/ngettext/interpolate. These wrappers fall back to English.
export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  return typeof window.ngettext === "function"
    ? window.ngettext(singular, plural, count)
    : count === 1 ? singular : plural;
}

// interpolate("%(n)s votes", {n: 3}, true)
export function interpolate(fmt, values, named = false) {
  if (typeof window.interpolate === "function") return window.interpolate(fmt, values, named);
  if (named) return fmt.replace(/%\(\w+\)s/g, (m) => String(values[m.slice(2, -2)]));
  let i = 0;
  return fmt.replace(/%s/g, () => String(values[i++]));
}
