// DOM builders of the chat room: a message item, the word cloud, the texts of
// error acks. Untrusted text goes in through textContent and text nodes only.
import { gettext, ngettext, interpolate } from "../lib/i18n.js";
import { appendHighlighted, formatTime, safeColor, safeTag } from "./text.js";

function staffBadge() {
  const badge = document.createElement("span");
  badge.className = "chat-staff";
  badge.textContent = gettext("staff");
  badge.title = gettext("A member of the site's staff");
  return badge;
}

// Returns {li, body}: `body` is refilled when the trending words change.
export function buildMessageItem(message) {
  const li = document.createElement("li");
  li.className = "chat-message";
  li.dataset.id = String(message.id);
  const meta = document.createElement("div");
  meta.className = "chat-meta";
  const author = document.createElement("span");
  author.className = "chat-author";
  author.style.color = safeColor(message.color);
  author.textContent = message.author;
  // Who it really is: the tag and colour follow the sender, not the name.
  const tag = document.createElement("span");
  tag.className = "chat-tag";
  tag.textContent = safeTag(message.tag);
  tag.title = gettext("Tag of this sender: two people with the same nickname have different tags");
  meta.append(author, tag);
  if (message.staff === true) meta.append(staffBadge());
  const time = document.createElement("time");
  time.className = "chat-time";
  time.dateTime = message.created_at;
  const when = formatTime(message.created_at);
  time.textContent = when.short;
  time.title = when.full;
  meta.append(time);
  const body = document.createElement("p");
  body.className = "chat-text";
  li.append(meta, body);
  return { li, body };
}

export function renderBody(body, text, trending) {
  body.replaceChildren();
  appendHighlighted(body, text, trending);
}

// `cloud` is what ChatState.applyTrending returns.
export function renderCloud({ cloudEl, emptyEl, windowEl }, cloud) {
  const items = cloud.words.map((w) => {
    const span = document.createElement("span");
    span.className = `chat-word chat-word-${w.palette}`;
    span.setAttribute("role", "listitem");
    span.textContent = w.word;
    span.style.fontSize = `${w.sizeRem}rem`;
    span.title = interpolate(
      ngettext("%(word)s: used by %(count)s person", "%(word)s: used by %(count)s people", w.count),
      { word: w.word, count: w.count }, true,
    );
    span.dataset.count = String(w.count);
    return span;
  });
  cloudEl.replaceChildren(...items);
  emptyEl.hidden = items.length > 0;
  if (cloud.windowMinutes !== null) {
    windowEl.textContent = interpolate(
      ngettext("Most used in the last minute", "Most used in the last %(minutes)s minutes", cloud.windowMinutes),
      { minutes: cloud.windowMinutes }, true,
    );
  }
}

// The text shown for an error ack of join / history / send_message.
export function feedbackText(error) {
  const texts = {
    rate_limited: gettext("Slow down a little: too many messages."),
    closed: gettext("This room is closed."),
    invalid: gettext("That message can't be sent."),
    timeout: gettext("No answer from the server"),
    not_joined: gettext("Reconnecting to the room…"),
  };
  return texts[error.code] || error.message || gettext("Something went wrong.");
}

// The text shown for an error ack of set_nickname.
export function nicknameErrorText(error) {
  if (error.reason === "nickname_reserved") return gettext("That nickname is reserved for the site's staff: choose another.");
  return error.code === "invalid" ? gettext("A nickname has 1 to 32 printable characters.") : error.message;
}
