// The searchable province list of the vote page (a combobox: the search box,
// and a listbox of options with their vote counts). The rules (order,
// filter, keyboard) are in ./picker.js; this keeps the DOM in step.
import { activeAfterFilter, enterChoice, listRows, optionVotes, rowMatches, searchQuery, stepActive } from "./picker.js";

// `onChoose(code, {scroll, fromKeyboard})` selects a province.
export function createProvinceList({ list, search, live, getSelected, onChoose }) {
  const options = new Map(); // code -> li
  let activeCode = null;
  const optionEl = (code) => document.getElementById(`vm-opt-${code}`);

  // Scroll the list (and only the list, never the page) so `li` is visible.
  function reveal(li) {
    if (!li || li.hidden) return;
    const box = list.getBoundingClientRect();
    const r = li.getBoundingClientRect();
    if (r.top < box.top) list.scrollTop -= box.top - r.top;
    else if (r.bottom > box.bottom) list.scrollTop += r.bottom - box.bottom;
  }

  function option(code) {
    let li = options.get(code);
    if (li) return li;
    li = document.createElement("li");
    li.id = `vm-opt-${code}`;
    li.dataset.code = code;
    li.setAttribute("role", "option");
    const n = document.createElement("span");
    n.className = "vm-opt-name";
    const v = document.createElement("span");
    v.className = "vm-opt-votes";
    li.append(n, v);
    options.set(code, li);
    return li;
  }

  function render() {
    const selected = getSelected();
    list.replaceChildren(...listRows(live.map.codes, live.nameOf).map(({ code, name, key }) => {
      const li = option(code);
      li.firstChild.textContent = name;
      li.dataset.key = key;
      li.setAttribute("aria-selected", code === selected ? "true" : "false");
      return li;
    }));
    updateVotes(null);
    filter();
  }

  // `codes`: the provinces whose counts changed (null: all of them).
  function updateVotes(codes) {
    for (const [code, li] of options) {
      if (codes && !codes.has(code)) continue;
      const { text, inactive } = optionVotes(live.state, code);
      li.lastChild.textContent = text;
      li.classList.toggle("is-inactive", inactive);
      if (inactive) li.setAttribute("aria-disabled", "true");
      else li.removeAttribute("aria-disabled");
    }
  }

  const visibleCodes = () => [...list.children].filter((li) => !li.hidden).map((li) => li.dataset.code);

  function setActive(code) {
    activeCode = code;
    for (const li of list.children) li.classList.toggle("is-active", li.dataset.code === code);
    if (code) {
      search.setAttribute("aria-activedescendant", `vm-opt-${code}`);
      reveal(optionEl(code));
    } else {
      search.removeAttribute("aria-activedescendant");
    }
  }

  function filter() {
    const query = searchQuery(search.value);
    for (const li of list.children) li.hidden = !rowMatches(li.dataset.key, query);
    const next = activeAfterFilter(visibleCodes(), activeCode, query);
    if (next !== undefined) setActive(next);
  }

  function markSelected(code, { scroll = true } = {}) {
    for (const li of list.children) li.setAttribute("aria-selected", li.dataset.code === code ? "true" : "false");
    if (scroll) reveal(optionEl(code));
  }

  search.addEventListener("input", filter);
  search.addEventListener("keydown", (e) => {
    const visible = visibleCodes();
    if (!visible.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setActive(stepActive(visible, activeCode, e.key === "ArrowDown" ? 1 : -1));
    } else if (e.key === "Enter") {
      e.preventDefault();
      const code = enterChoice(visible, activeCode);
      if (code) onChoose(code, { fromKeyboard: true });
    } else if (e.key === "Escape") {
      search.value = "";
      filter();
    }
  });
  list.addEventListener("click", (e) => {
    const li = e.target instanceof Element ? e.target.closest("li[data-code]") : null;
    if (li) {
      setActive(li.dataset.code);
      onChoose(li.dataset.code, { scroll: false });
    }
  });

  return { render, updateVotes, markSelected };
}
