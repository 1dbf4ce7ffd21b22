// The vote map page (/map/): pick a province on the map or from the list,
// vote with the thumbs buttons or ArrowUp/ArrowDown, see every vote's ack.
// The rules are in dashboard/picker.js (no DOM); this binds them to the page.
import { readJsonScript, request } from "./lib/socket.js";
import { gettext, interpolate } from "./lib/i18n.js";
import { startLiveMap } from "./dashboard/live.js";
import { PROVINCE_CODES } from "./dashboard/provinces.js";
import { sendVote } from "./dashboard/voter.js";
import { VoteBot } from "./dashboard/bot.js";
import { createProvinceList } from "./dashboard/list_view.js";
import {
  arrowVote, botPool, describeError, newStats, pendingFeedback, selectedPanel, tally, voteOutcome,
} from "./dashboard/picker.js";

const config = readJsonScript("vm-config", {}) || {};
const $ = (id) => document.getElementById(id);

const ui = {
  map: $("vm-map"), legend: $("vm-legend"), top: $("vm-top"), closed: $("vm-closed"),
  selectedName: $("vm-selected-name"), selectedVotes: $("vm-selected-votes"), up: $("vm-up"), down: $("vm-down"),
  feedback: $("vm-feedback"), search: $("vm-search"), list: $("vm-list"), bot: $("vm-bot"), botText: $("vm-bot-text"),
  botToggle: $("vm-bot-toggle"), reset: $("vm-reset"), resetFeedback: $("vm-reset-feedback"),
};

let selected = null;

const live = startLiveMap({
  config,
  mapContainer: ui.map,
  legendEl: ui.legend,
  topEl: ui.top,
  onSelect: (code) => select(code),
  onChange: (codes) => {
    if (selected && (!codes || codes.has(selected))) renderSelected();
    list.updateVotes(codes);
  },
  onSnapshot: (state) => {
    ui.closed.hidden = state.open;
    list.render();
  },
});

const list = createProvinceList({
  list: ui.list,
  search: ui.search,
  live,
  getSelected: () => selected,
  onChoose: (code, { scroll = true, fromKeyboard = false } = {}) => {
    select(code, { scroll });
    if (fromKeyboard) ui.up.focus(); // next step: vote (the buttons, or ArrowUp/ArrowDown right there)
  },
});

// Selection ---------------------------------------------------------------
function renderSelected() {
  const { name, text } = selectedPanel(live.state, selected, live.atlas);
  ui.selectedName.textContent = name;
  ui.selectedVotes.textContent = text;
}

function select(code, { scroll = true } = {}) {
  if (!PROVINCE_CODES.includes(code)) return;
  selected = code;
  live.map.select(code);
  renderSelected();
  list.markSelected(code, { scroll });
  ui.up.disabled = false;
  ui.down.disabled = false;
}

// Voting -------------------------------------------------------------------
let feedbackSeq = 0;
const stats = newStats();
window.vmStats = stats;
function showFeedback(el, { text, tone }) {
  el.textContent = text;
  el.dataset.tone = tone;
  el.classList.remove("vm-feedback-pop");
  void el.offsetWidth;
  el.classList.add("vm-feedback-pop");
}

async function vote(direction, { code = selected, bot = false } = {}) {
  if (!code) {
    showFeedback(ui.feedback, { text: gettext("Pick a province first."), tone: "warn" });
    return null;
  }
  const seq = ++feedbackSeq;
  const name = live.nameOf(code);
  const button = direction === "up" ? ui.up : ui.down;
  button.classList.add("is-sending");
  if (!bot) showFeedback(ui.feedback, pendingFeedback("sending", name));
  const reply = await sendVote(live.socket, code, direction, {
    onWaiting: () => {
      if (seq === feedbackSeq) showFeedback(ui.feedback, pendingFeedback("offline", name));
    },
    onRetry: (attempt, { code: reason } = {}) => {
      if (seq === feedbackSeq) showFeedback(ui.feedback, pendingFeedback("retry", name, reason));
    },
  });
  button.classList.remove("is-sending");
  tally(stats, reply);
  const outcome = voteOutcome(direction, name, reply);
  showFeedback(ui.feedback, outcome);
  ui.feedback.dataset.result = outcome.result;
  return reply;
}

ui.up.addEventListener("click", () => vote("up"));
ui.down.addEventListener("click", () => vote("down"));

// ArrowUp / ArrowDown vote for the selected province (or the focused one on
// the map), unless the focus is in a field where the arrows mean something.
document.addEventListener("keydown", (e) => {
  const direction = arrowVote(e);
  if (!direction) return;
  const target = e.target instanceof Element ? e.target : null;
  if (target && target.closest("input, textarea, select, [contenteditable], [role=listbox]")) return;
  const focused = target?.closest?.(".vm-province")?.dataset.code;
  if (focused && focused !== selected) select(focused);
  if (!selected) return;
  e.preventDefault();
  vote(direction);
});

// Demo bot -------------------------------------------------------------------
if (Number.isInteger(config.autoVoteMs) && config.autoVoteMs > 0) {
  const bot = new VoteBot({
    meanMs: config.autoVoteMs,
    pickProvince: (current) => {
      const pool = botPool(live.state, current, PROVINCE_CODES);
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
    showFeedback(ui.resetFeedback, { text: gettext("Resetting…"), tone: "info" });
    const reply = await request(live.socket, "reset_votes", {});
    ui.reset.disabled = false;
    showFeedback(ui.resetFeedback, reply && reply.ok
      ? { text: interpolate(gettext("All votes reset (version %(v)s)."), { v: reply.data?.version }, true), tone: "ok" }
      : { text: describeError(reply?.error), tone: "bad" });
  });
}

list.render();
renderSelected();
