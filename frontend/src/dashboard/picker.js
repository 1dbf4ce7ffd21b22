// The vote page's rules that are not drawing: the searchable province list
// (order, filter, which option the keyboard is on), the selected panel's
// texts, the feedback for each vote's outcome, the page's vote tally and the
// demo bot's choice of province. No DOM, no socket: node's test runner checks
// it; dashboard.js and ./list_view.js bind it to the page.
import { gettext, interpolate } from "../lib/i18n.js";
import { describeProvince, isActive, votesText } from "./paint.js";

// Accent- and case-insensitive form for searching ("Ávila" ~ "avila").
export function searchKey(text) {
  return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

// The list's rows in alphabetical order (Spanish collation), with their search keys.
export function listRows(codes, nameOf) {
  return [...codes]
    .map((code) => ({ code, name: nameOf(code) }))
    .sort((a, b) => a.name.localeCompare(b.name, "es"))
    .map((row) => ({ ...row, key: searchKey(row.name) }));
}

// The search box's text as it is matched: trimmed, accent- and case-insensitive.
export function searchQuery(text) {
  return searchKey(String(text).trim());
}

// Whether a row (its search key) is shown for `query` (see searchQuery).
export function rowMatches(key, query) {
  return !query || key.includes(query);
}

// After filtering: the option to make active, or undefined to keep the
// current one (still visible). With a query, the first match; without, none.
export function activeAfterFilter(visibleCodes, activeCode, query) {
  if (visibleCodes.includes(activeCode)) return undefined;
  return query && visibleCodes.length ? visibleCodes[0] : null;
}

// ArrowDown (+1) / ArrowUp (-1) in the list: wraps around; from no active
// option, down goes to the first and up to the last.
export function stepActive(visibleCodes, activeCode, step) {
  const n = visibleCodes.length;
  if (!n) return null;
  const index = visibleCodes.indexOf(activeCode);
  const next = index < 0 ? (step > 0 ? 0 : n - 1) : (index + step + n) % n;
  return visibleCodes[next];
}

// Enter in the search box: the active option, or the only one left.
export function enterChoice(visibleCodes, activeCode) {
  return activeCode || (visibleCodes.length === 1 ? visibleCodes[0] : null);
}

// An option's vote count and whether it is greyed out (not in the vote).
export function optionVotes(state, code) {
  const active = isActive(state, code);
  return {
    text: state.ready && active ? String(state.counts.get(code)) : "",
    inactive: !active, // before the snapshot every province counts as active
  };
}

// The selected panel: {name, text}.
export function selectedPanel(state, code, fallbackNames) {
  if (!code) return { name: gettext("Pick a province"), text: gettext("Tap it on the map or find it in the list.") };
  return describeProvince(state, code, fallbackNames);
}

export function describeError(error) {
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

// Feedback while a vote is on its way: kind "sending" | "offline" | "retry"
// (`reason`: the error code that made it retry). Returns {text, tone}.
export function pendingFeedback(kind, name, reason) {
  if (kind === "sending") return { text: interpolate(gettext("Sending your vote for %(name)s…"), { name }, true), tone: "info" };
  if (kind === "offline") {
    return { text: interpolate(gettext("Offline: the vote for %(name)s goes out when the connection is back."), { name }, true), tone: "warn" };
  }
  // `internal`: the server could not store it yet (it says to retry with the same vote_id).
  const text = reason === "internal"
    ? gettext("Saving your vote for %(name)s… retrying.")
    : gettext("No answer yet, sending the vote for %(name)s again…");
  return { text: interpolate(text, { name }, true), tone: "warn" };
}

// The vote's final answer: {text, tone, result} (result goes in data-result).
export function voteOutcome(direction, name, reply) {
  if (reply.ok) {
    const text = direction === "up"
      ? gettext("Vote up counted: %(name)s now has %(votes)s.")
      : gettext("Vote down counted: %(name)s now has %(votes)s.");
    return { text: interpolate(text, { name, votes: votesText(Number(reply.data?.votes) || 0) }, true), tone: "ok", result: "ok" };
  }
  const code = reply.error?.code;
  const text = reply.gaveUp && code === "internal"
    ? interpolate(gettext("Your vote for %(name)s could not be saved after several tries. Please vote again in a moment."), { name }, true)
    : describeError(reply.error);
  return { text, tone: code === "rate_limited" ? "warn" : "bad", result: code || "error" };
}

// The page's tally of its votes by outcome (window.vmStats, handy in the console during a demo).
export function newStats() {
  return { sent: 0, ok: 0, rejected: {} };
}

export function tally(stats, reply) {
  stats.sent += 1;
  if (reply.ok) stats.ok += 1;
  else stats.rejected[reply.error?.code] = (stats.rejected[reply.error?.code] || 0) + 1;
  return stats;
}

// The provinces the demo bot may move to from `current`: the active ones
// once the snapshot is in (every province before), never the current one.
export function botPool(state, current, allCodes) {
  return (state.ready ? [...state.counts.keys()] : allCodes).filter((c) => c !== current);
}

// ArrowUp / ArrowDown vote, without modifiers: "up" | "down" | null.
export function arrowVote(e) {
  if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return null;
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.defaultPrevented) return null;
  return e.key === "ArrowUp" ? "up" : "down";
}
