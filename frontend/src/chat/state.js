// The chat room's client state, without DOM or socket: plain data in (acks
// and events as the server sends them), plain data out (what changed), so
// node's test runner checks every rule. chat/room.js binds it to the page.
//
// Rules kept here:
// - messages are known once per id and kept ordered by id, whatever order
//   they arrive in (live, history pages, the join's newest page, acks);
// - events for another room, or malformed ones, change nothing;
// - paging: a full page means there may be older messages;
// - after a reconnect, the gap between the newest message seen before and
//   the join's newest page is filled page by page (bounded);
// - trending words: which words are highlighted, and how the cloud shows them;
// - the send box: length counted as the server counts it (code points after
//   NFC), and when sending is allowed.
import { normalizeWord, safeColor, safeTag } from "./text.js";

export const PAGE_SIZE = 50;
export const MAX_CATCH_UP_PAGES = 10;

// First index in the sorted array `ids` whose value is greater than `id`.
function upperBound(ids, id) {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid] > id) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// A word's colour class in the cloud: stable for the same word.
export function paletteIndex(word) {
  let h = 0;
  for (const ch of word) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 8;
}

// Length of a message as the server counts it: Unicode code points after NFC.
export function messageLength(text) {
  return [...String(text).trim().normalize("NFC")].length;
}

export class ChatState {
  constructor(slug, { maxLength = 500, pageSize = PAGE_SIZE, open = true } = {}) {
    this.slug = slug;
    this.maxLength = maxLength;
    this.pageSize = pageSize;
    this.messages = new Map(); // id -> message
    this.ids = []; // known ids, ascending
    this.trending = new Set(); // normalised trending words
    this.members = null;
    this.you = null;
    this.open = open;
    this.joined = false;
    this.sending = false;
    this.hasOlder = false;
    this.sentences = [];
  }

  validMessage(m) {
    return Boolean(m) && Number.isInteger(m.id) && m.room === this.slug && typeof m.text === "string"
      && typeof m.author === "string";
  }

  get size() {
    return this.ids.length;
  }

  get oldestId() {
    return this.ids.length ? this.ids[0] : null;
  }

  get newestId() {
    return this.ids.length ? this.ids[this.ids.length - 1] : null;
  }

  // Add a batch (any order; duplicates, unknown rooms and malformed ones are
  // ignored). Returns {added: [{message, beforeId}], prepended}: in ascending
  // id order, each new message goes right before the message `beforeId`
  // (null: at the end); `prepended` counts those that went above everything
  // that was there before the batch.
  addMessages(batch) {
    const list = Array.isArray(batch) ? batch : [];
    const seen = new Set();
    const fresh = list
      .filter((m) => this.validMessage(m) && !this.messages.has(m.id) && !seen.has(m.id) && seen.add(m.id))
      .sort((a, b) => a.id - b.id);
    const firstBefore = this.oldestId;
    const added = [];
    let prepended = 0;
    for (const message of fresh) {
      const at = upperBound(this.ids, message.id);
      const beforeId = at < this.ids.length ? this.ids[at] : null;
      this.ids.splice(at, 0, message.id);
      this.messages.set(message.id, message);
      if (beforeId !== null && beforeId === firstBefore) prepended += 1;
      added.push({ message, beforeId });
    }
    return { added, prepended };
  }

  // Remove the messages whose id matches; returns the removed ids.
  removeWhere(predicate) {
    const removed = this.ids.filter((id) => predicate(id));
    if (removed.length === 0) return [];
    const gone = new Set(removed);
    this.ids = this.ids.filter((id) => !gone.has(id));
    for (const id of removed) this.messages.delete(id);
    return removed;
  }

  // `message_deleted`: returns the removed ids (none for another room or bad input).
  applyDeleted(event) {
    if (!event || event.room !== this.slug || !Array.isArray(event.ids)) return [];
    const ids = new Set(event.ids);
    return this.removeWhere((id) => ids.has(id));
  }

  // `history_cleared`: returns the removed ids, or null when the event is not
  // for this room or is malformed (then nothing changes at all).
  applyCleared(event) {
    if (!event || event.room !== this.slug || !Number.isInteger(event.up_to_id)) return null;
    this.hasOlder = false;
    return this.removeWhere((id) => id <= event.up_to_id);
  }

  // A page of history arrived (older messages, or the join's newest ones):
  // a full page means there may be more before it.
  setPaging(page) {
    this.hasOlder = Array.isArray(page) && page.length === this.pageSize;
    return this.hasOlder;
  }

  // The `history` request to load the page before the oldest message, or null.
  olderRequest() {
    const before = this.oldestId;
    return before === null ? null : { room: this.slug, before_id: before, limit: this.pageSize };
  }

  // After a reconnect: the request that checks the gap between `lastSeen`
  // (the newest id before the disconnect) and the oldest id after it, or
  // null when there is nothing after `lastSeen` to check against.
  catchUpRequest(lastSeen) {
    const at = upperBound(this.ids, lastSeen);
    if (at >= this.ids.length) return null;
    return { room: this.slug, before_id: this.ids[at], limit: this.pageSize };
  }

  // The answer to a catch-up request: the messages to add (newer than
  // `lastSeen`) and whether the gap may still have more in it.
  catchUpPage(lastSeen, page) {
    const list = Array.isArray(page) ? page : [];
    const missing = list.filter((m) => m && m.id > lastSeen);
    return { missing, more: missing.length === list.length && list.length >= this.pageSize };
  }

  // `trending` (also in the join's ack): returns the cloud to draw, or null
  // when the event is not for this room or malformed. Words come out sorted
  // alphabetically, each with its size (rem) and palette class.
  applyTrending(event) {
    if (!event || event.room !== this.slug || !Array.isArray(event.words)) return null;
    const words = event.words.filter((w) => w && typeof w.word === "string" && Number.isFinite(w.score));
    this.trending = new Set(words.map((w) => normalizeWord(w.word)));
    const max = Math.max(...words.map((w) => w.score), 1e-9);
    const cloud = [...words].sort((a, b) => a.word.localeCompare(b.word)).map((w) => ({
      word: w.word,
      count: w.count,
      palette: paletteIndex(w.word),
      sizeRem: (0.85 + Math.sqrt(Math.max(0, w.score) / max) * 1.9).toFixed(2),
    }));
    const windowMinutes = Number.isInteger(event.window_seconds)
      ? Math.max(1, Math.round(event.window_seconds / 60)) : null;
    return { words: cloud, windowMinutes };
  }

  // `members`: true when the count changed to a valid one.
  applyMembers(event) {
    if (!event || event.room !== this.slug) return false;
    return this.setMembers(event.count);
  }

  setMembers(count) {
    if (!Number.isInteger(count)) return false;
    this.members = count;
    return true;
  }

  // Who you are (join ack, set_nickname ack): only what is safe to show.
  setYou(you) {
    if (!you || typeof you.nickname !== "string") return null;
    this.you = { nickname: you.nickname, color: safeColor(you.color), tag: safeTag(you.tag), staff: you.staff === true };
    return this.you;
  }

  // Returns true when the room has just closed (the auto chat stops then).
  setOpen(value) {
    this.open = value !== false;
    return !this.open;
  }

  // `room`: sentences for the auto chat and the open flag; null when not ours.
  applyRoom(event) {
    if (!event || event.slug !== this.slug) return null;
    if (Array.isArray(event.sentences)) this.sentences = event.sentences.filter((s) => typeof s === "string");
    this.setOpen(event.open);
    return { open: this.open };
  }

  // The join's ack: everything but the messages, which go through addMessages.
  applyJoin(data) {
    this.joined = true;
    const room = (data && data.room) || {};
    this.sentences = Array.isArray(room.sentences) ? room.sentences.filter((s) => typeof s === "string") : [];
    this.setOpen(room.open);
  }

  // The send box: the counter to show and whether the button is enabled.
  composer(text) {
    const length = messageLength(text);
    const over = length > this.maxLength;
    return {
      length,
      over,
      label: `${length}/${this.maxLength}`,
      canSend: this.canSubmit(text) && !over,
    };
  }

  // Whether Enter / submit sends `text` now. Over-long text still goes (the
  // button is disabled, but Enter sends it): the server's "invalid" says why.
  canSubmit(text) {
    return this.open && this.joined && !this.sending && String(text).trim().length > 0;
  }
}
