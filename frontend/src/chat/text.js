// Text utilities for the chat. User text only ever reaches the DOM through
// text nodes and textContent: highlighting builds <mark> elements around
// text nodes, never HTML strings.

// Words as the server sees them (chat/trending.py): runs of letters, marks and
// digits, with inner apostrophes; compared NFC + lower case.
const WORD_RE = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*/gu;

export function normalizeWord(word) {
  return word.normalize("NFC").toLowerCase().normalize("NFC").replace(/’/g, "'");
}

// Split `text` into [{text, hl}] pieces: `hl` marks a word found in
// `trending` (a Set of normalised words). Pure, so node tests check it.
export function highlightSegments(text, trending) {
  if (!trending || trending.size === 0) return text ? [{ text, hl: false }] : [];
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(WORD_RE)) {
    if (!trending.has(normalizeWord(match[0]))) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index), hl: false });
    pieces.push({ text: match[0], hl: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last), hl: false });
  return pieces;
}

// Append `text` to `parent`, wrapping trending words in <mark class="chat-hl">.
export function appendHighlighted(parent, text, trending) {
  for (const piece of highlightSegments(text, trending)) {
    if (!piece.hl) {
      parent.append(document.createTextNode(piece.text));
      continue;
    }
    const mark = document.createElement("mark");
    mark.className = "chat-hl";
    mark.textContent = piece.text;
    parent.append(mark);
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// The reader's local time of an ISO 8601 UTC timestamp.
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return { short: "", full: "" };
  return { short: timeFormat.format(date), full: fullFormat.format(date) };
}

// Only colours the server could have sent (#rrggbb) are applied.
export function safeColor(value) {
  return typeof value === "string" && /^#[0-9a-fA-F]{6}$/.test(value) ? value : "#1d232b";
}

// A sender's tag as the server makes it (4 characters of Crockford's base 32,
// chat/senders.py), shown as "#k3f9"; anything else is shown as nothing.
export function safeTag(value) {
  return typeof value === "string" && /^[0-9a-hjkmnp-tv-z]{4}$/.test(value) ? `#${value}` : "";
}
