// The vote map page (/map/): pick a province on the map or from the list,
// vote with the thumbs buttons or ArrowUp/ArrowDown, see every vote's ack.
import { readJsonScript, request } from "./lib/socket.js";
import { gettext, interpolate } from "./lib/i18n.js";
import { startLiveMap, votesText } from "./dashboard/live.js";
import { PROVINCE_CODES, searchKey } from "./dashboard/provinces.js";
import { sendVote } from "./dashboard/voter.js";
import { VoteBot } from "./dashboard/bot.js";

const config = readJsonScript("vm-config", {}) || {};
const $ = (id) => document.getElementById(id);

const ui = {
  map: $("vm-map"),
  legend: $("vm-legend"),
  top: $("vm-top"),
  closed: $("vm-closed"),
  selectedName: $("vm-selected-name"),
  selectedVotes: $("vm-selected-votes"),
  up: $("vm-up"),
  down: $("vm-down"),
  feedback: $("vm-feedback"),
  search: $("vm-search"),
  list: $("vm-list"),
  bot: $("vm-bot"),
  botText: $("vm-bot-text"),
  botToggle: $("vm-bot-toggle"),
  reset: $("vm-reset"),
  resetFeedback: $("vm-reset-feedback"),
};

let selected = null;

// Scroll the list (and only the list, never the page) so `li` is visible.
function revealInList(li) {
  if (!li || li.hidden) return;
  const box = ui.list.getBoundingClientRect();
  const r = li.getBoundingClientRect();
  if (r.top < box.top) ui.list.scrollTop -= box.top - r.top;
  else if (r.bottom > box.bottom) ui.list.scrollTop += r.bottom - box.bottom;
}

const live = startLiveMap({
  config,
  mapContainer: ui.map,
  legendEl: ui.legend,
  topEl: ui.top,
  onSelect: (code) => select(code),
  onChange: (codes) => {
    if (selected && (!codes || codes.has(selected))) renderSelected();
    updateListVotes(codes);
  },
  onSnapshot: (state) => {
    ui.closed.hidden = state.open;
    renderList();
  },
});

// Selection ---------------------------------------------------------------
function renderSelected() {
  if (!selected) {
    ui.selectedName.textContent = gettext("Pick a province");
    ui.selectedVotes.textContent = gettext("Tap it on the map or find it in the list.");
    return;
  }
  ui.selectedName.textContent = live.nameOf(selected);
  ui.selectedVotes.textContent = !live.state.ready
    ? gettext("Loading…")
    : live.isActive(selected) ? votesText(live.state.counts.get(selected)) : gettext("Not in the vote");
}

function select(code, { scroll = true } = {}) {
  if (!PROVINCE_CODES.includes(code)) return;
  selected = code;
  live.map.select(code);
  renderSelected();
  for (const li of ui.list.children) li.setAttribute("aria-selected", li.dataset.code === code ? "true" : "false");
  if (scroll) revealInList($(`vm-opt-${code}`));
  ui.up.disabled = false;
  ui.down.disabled = false;
}

// Searchable list (combobox + listbox) -------------------------------------
const options = new Map(); // code -> li
let activeCode = null;

function renderList() {
  const rows = live.map.codes
    .map((code) => ({ code, name: live.nameOf(code) }))
    .sort((a, b) => a.name.localeCompare(b.name, "es"));
  const items = rows.map(({ code, name }) => {
    let li = options.get(code);
    if (!li) {
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
    }
    li.firstChild.textContent = name;
    li.dataset.key = searchKey(name);
    li.setAttribute("aria-selected", code === selected ? "true" : "false");
    return li;
  });
  ui.list.replaceChildren(...items);
  updateListVotes(null);
  filterList();
}

function updateListVotes(codes) {
  for (const [code, li] of options) {
    if (codes && !codes.has(code)) continue;
    const active = live.isActive(code);
    li.lastChild.textContent = live.state.ready && active ? String(live.state.counts.get(code)) : "";
    li.classList.toggle("is-inactive", live.state.ready && !active);
    if (live.state.ready && !active) li.setAttribute("aria-disabled", "true");
    else li.removeAttribute("aria-disabled");
  }
}

function visibleOptions() {
  return [...ui.list.children].filter((li) => !li.hidden);
}

function setActive(code) {
  activeCode = code;
  for (const li of ui.list.children) li.classList.toggle("is-active", li.dataset.code === code);
  if (code) {
    ui.search.setAttribute("aria-activedescendant", `vm-opt-${code}`);
    revealInList($(`vm-opt-${code}`));
  } else {
    ui.search.removeAttribute("aria-activedescendant");
  }
}

function filterList() {
  const query = searchKey(ui.search.value.trim());
  for (const li of ui.list.children) li.hidden = Boolean(query) && !li.dataset.key.includes(query);
  const visible = visibleOptions();
  if (!visible.some((li) => li.dataset.code === activeCode)) setActive(query && visible.length ? visible[0].dataset.code : null);
}

ui.search.addEventListener("input", filterList);
ui.search.addEventListener("keydown", (e) => {
  const visible = visibleOptions();
  if (!visible.length) return;
  const index = visible.findIndex((li) => li.dataset.code === activeCode);
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    const step = e.key === "ArrowDown" ? 1 : -1;
    const next = index < 0 ? (step > 0 ? 0 : visible.length - 1) : (index + step + visible.length) % visible.length;
    setActive(visible[next].dataset.code);
  } else if (e.key === "Enter") {
    e.preventDefault();
    const code = activeCode || (visible.length === 1 ? visible[0].dataset.code : null);
    if (code) {
      select(code);
      ui.up.focus(); // next step: vote (the buttons, or ArrowUp/ArrowDown right there)
    }
  } else if (e.key === "Escape") {
    ui.search.value = "";
    filterList();
  }
});
ui.list.addEventListener("click", (e) => {
  const li = e.target instanceof Element ? e.target.closest("li[data-code]") : null;
  if (li) {
    setActive(li.dataset.code);
    select(li.dataset.code, { scroll: false });
  }
});

// Voting -------------------------------------------------------------------
let feedbackSeq = 0;
// Tally of this page's votes by outcome (handy in the console during a demo).
const stats = { sent: 0, ok: 0, rejected: {} };
window.vmStats = stats;
function showFeedback(el, text, tone) {
  el.textContent = text;
  el.dataset.tone = tone;
  el.classList.remove("vm-feedback-pop");
  void el.offsetWidth;
  el.classList.add("vm-feedback-pop");
}

function describeError(error) {
  const code = error?.code;
  if (code === "rate_limited") {
    const seconds = Number(error.retry_after);
    return Number.isFinite(seconds) && seconds > 0
      ? interpolate(gettext("Too many votes: try again in %(s)s s."), { s: seconds.toFixed(1) }, true)
      : gettext("Too many votes: slow down a little.");
  }
  if (code === "closed") return gettext("Voting is closed right now.");
  if (code === "not_found") return gettext("This province is not in the vote.");
  if (code === "timeout") return gettext("No answer from the server: the vote was not confirmed.");
  if (code === "invalid") return gettext("The vote was not accepted.");
  if (code === "forbidden") return gettext("You are not allowed to do that.");
  return gettext("Something went wrong on the server.");
}

async function vote(direction, { code = selected, bot = false } = {}) {
  if (!code) {
    showFeedback(ui.feedback, gettext("Pick a province first."), "warn");
    return null;
  }
  const seq = ++feedbackSeq;
  const name = live.nameOf(code);
  const button = direction === "up" ? ui.up : ui.down;
  button.classList.add("is-sending");
  if (!bot) showFeedback(ui.feedback, interpolate(gettext("Sending your vote for %(name)s…"), { name }, true), "info");
  const reply = await sendVote(live.socket, code, direction, {
    onWaiting: () => {
      if (seq === feedbackSeq) {
        showFeedback(ui.feedback, interpolate(gettext("Offline: the vote for %(name)s goes out when the connection is back."), { name }, true), "warn");
      }
    },
    onRetry: (attempt, { code: reason } = {}) => {
      if (seq !== feedbackSeq) return;
      // `internal`: the server could not store it yet (it says to retry with the same vote_id).
      const text = reason === "internal"
        ? gettext("Saving your vote for %(name)s… retrying.")
        : gettext("No answer yet, sending the vote for %(name)s again…");
      showFeedback(ui.feedback, interpolate(text, { name }, true), "warn");
    },
  });
  button.classList.remove("is-sending");
  stats.sent += 1;
  if (reply.ok) stats.ok += 1;
  else stats.rejected[reply.error?.code] = (stats.rejected[reply.error?.code] || 0) + 1;
  if (reply.ok) {
    const votes = reply.data?.votes;
    const text = direction === "up"
      ? gettext("Vote up counted: %(name)s now has %(votes)s.")
      : gettext("Vote down counted: %(name)s now has %(votes)s.");
    showFeedback(ui.feedback, interpolate(text, { name, votes: votesText(Number(votes) || 0) }, true), "ok");
    ui.feedback.dataset.result = "ok";
  } else {
    const text = reply.gaveUp && reply.error?.code === "internal"
      ? interpolate(gettext("Your vote for %(name)s could not be saved after several tries. Please vote again in a moment."), { name }, true)
      : describeError(reply.error);
    showFeedback(ui.feedback, text, reply.error?.code === "rate_limited" ? "warn" : "bad");
    ui.feedback.dataset.result = reply.error?.code || "error";
  }
  return reply;
}

ui.up.addEventListener("click", () => vote("up"));
ui.down.addEventListener("click", () => vote("down"));

// ArrowUp / ArrowDown vote for the selected province (or the focused one on
// the map), unless the focus is in a field where the arrows mean something.
document.addEventListener("keydown", (e) => {
  if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.defaultPrevented) return;
  const target = e.target instanceof Element ? e.target : null;
  if (target && target.closest("input, textarea, select, [contenteditable], [role=listbox]")) return;
  const focused = target?.closest?.(".vm-province")?.dataset.code;
  if (focused && focused !== selected) select(focused);
  if (!selected) return;
  e.preventDefault();
  vote(e.key === "ArrowUp" ? "up" : "down");
});

// Demo bot -------------------------------------------------------------------
if (Number.isInteger(config.autoVoteMs) && config.autoVoteMs > 0) {
  const bot = new VoteBot({
    meanMs: config.autoVoteMs,
    pickProvince: (current) => {
      const pool = (live.state.ready ? [...live.state.counts.keys()] : PROVINCE_CODES).filter((c) => c !== current);
      return pool.length ? pool[Math.floor(Math.random() * pool.length)] : current;
    },
    vote: (code, direction) => vote(direction, { code, bot: true }),
    onProvince: (code) => select(code),
  });
  ui.bot.hidden = false;
  const label = () => {
    ui.botText.textContent = interpolate(
      bot.running ? gettext("Demo bot: one vote about every %(ms)s ms.") : gettext("Demo bot paused."),
      { ms: config.autoVoteMs }, true,
    );
    ui.botToggle.textContent = bot.running ? gettext("Pause demo bot") : gettext("Resume demo bot");
    ui.botToggle.setAttribute("aria-pressed", bot.running ? "false" : "true");
  };
  ui.botToggle.addEventListener("click", () => {
    if (bot.running) bot.stop();
    else bot.start();
    label();
  });
  bot.start();
  label();
  window.vmBot = bot; // for the demo: inspect bot.stats in the console
}

// Staff: reset ------------------------------------------------------------------
if (config.isStaff && ui.reset) {
  ui.reset.addEventListener("click", async () => {
    if (!window.confirm(gettext("Reset every province's votes to 0 for everyone?"))) return;
    ui.reset.disabled = true;
    showFeedback(ui.resetFeedback, gettext("Resetting…"), "info");
    const reply = await request(live.socket, "reset_votes", {});
    ui.reset.disabled = false;
    if (reply && reply.ok) {
      showFeedback(ui.resetFeedback, interpolate(gettext("All votes reset (version %(v)s)."), { v: reply.data?.version }, true), "ok");
    } else {
      showFeedback(ui.resetFeedback, describeError(reply?.error), "bad");
    }
  });
}

renderList();
renderSelected();
