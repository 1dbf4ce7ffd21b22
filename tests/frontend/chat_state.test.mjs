// The chat room's pure state (frontend/src/chat/state.js) and text rules
// (frontend/src/chat/text.js) under `node --test`: no browser, no server.
import assert from "node:assert/strict";
import { test } from "node:test";

globalThis.window = globalThis.window || {}; // lib/i18n.js looks for Django's catalog there
import { ChatState, PAGE_SIZE, messageLength, paletteIndex } from "../../frontend/src/chat/state.js";
import { highlightSegments, normalizeWord, safeColor, safeTag } from "../../frontend/src/chat/text.js";

const msg = (id, extra = {}) => ({ id, room: "lobby", text: `m${id}`, author: "ana", ...extra });
const page = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));

test("messages are kept once per id and in id order, whatever order they arrive in", () => {
  const chat = new ChatState("lobby");
  chat.addMessages([msg(5), msg(2)]);
  const { added } = chat.addMessages([msg(9), msg(5), msg(3), msg(9), msg(1)]);
  assert.deepEqual(added.map((a) => a.message.id), [1, 3, 9]);
  assert.deepEqual(chat.ids, [1, 2, 3, 5, 9]);
  assert.equal(chat.size, 5);
  assert.equal(chat.oldestId, 1);
  assert.equal(chat.newestId, 9);
  assert.equal(chat.addMessages([msg(2), msg(3)]).added.length, 0);
});

test("each new message says which one it goes before, so the list stays sorted", () => {
  const chat = new ChatState("lobby");
  chat.addMessages([msg(10), msg(20)]);
  const { added, prepended } = chat.addMessages([msg(30), msg(15), msg(5)]);
  assert.deepEqual(added.map((a) => [a.message.id, a.beforeId]), [[5, 10], [15, 20], [30, null]]);
  assert.equal(prepended, 1);
  // Replaying the insertions on a plain array gives the sorted order.
  const shown = [10, 20];
  const replay = new ChatState("lobby");
  replay.addMessages([msg(10), msg(20)]);
  for (const { message, beforeId } of replay.addMessages([msg(30), msg(15), msg(5), msg(12)]).added) {
    shown.splice(beforeId === null ? shown.length : shown.indexOf(beforeId), 0, message.id);
  }
  assert.deepEqual(shown, [5, 10, 12, 15, 20, 30]);
});

test("a page of older messages all counts as prepended", () => {
  const chat = new ChatState("lobby");
  chat.addMessages(page(51, 100));
  const { added, prepended } = chat.addMessages(page(1, 50));
  assert.equal(added.length, 50);
  assert.equal(prepended, 50);
  assert.equal(chat.addMessages([msg(101)]).prepended, 0);
});

test("messages for another room or malformed ones are ignored", () => {
  const chat = new ChatState("lobby");
  const bad = [null, {}, msg(1, { room: "other" }), msg(2, { text: 3 }), msg(3, { author: null }), { ...msg(4), id: "4" }, msg(4.5)];
  assert.equal(chat.addMessages(bad).added.length, 0);
  assert.equal(chat.addMessages("nope").added.length, 0);
  assert.equal(chat.size, 0);
});

test("deletions and history clearing apply only to this room", () => {
  const chat = new ChatState("lobby");
  chat.addMessages(page(1, 6));
  chat.hasOlder = true;
  assert.deepEqual(chat.applyDeleted({ room: "other", ids: [1] }), []);
  assert.deepEqual(chat.applyDeleted({ room: "lobby", ids: "1" }), []);
  assert.deepEqual(chat.applyDeleted({ room: "lobby", ids: [2, 4, 99] }), [2, 4]);
  assert.deepEqual(chat.ids, [1, 3, 5, 6]);
  assert.equal(chat.applyCleared({ room: "other", up_to_id: 9 }), null);
  assert.equal(chat.applyCleared({ room: "lobby", up_to_id: "5" }), null);
  assert.equal(chat.hasOlder, true);
  assert.deepEqual(chat.applyCleared({ room: "lobby", up_to_id: 5 }), [1, 3, 5]);
  assert.deepEqual(chat.ids, [6]);
  assert.equal(chat.hasOlder, false);
  assert.equal(chat.messages.has(3), false);
});

test("paging: a full page means older ones may exist; the cursor is the oldest id", () => {
  const chat = new ChatState("lobby");
  assert.equal(chat.olderRequest(), null);
  chat.addMessages(page(101, 100 + PAGE_SIZE));
  assert.equal(chat.setPaging(page(101, 100 + PAGE_SIZE)), true);
  assert.deepEqual(chat.olderRequest(), { room: "lobby", before_id: 101, limit: PAGE_SIZE });
  assert.equal(chat.setPaging(page(1, PAGE_SIZE - 1)), false);
  assert.equal(chat.hasOlder, false);
});

test("catch-up after a reconnect asks before the oldest new message and stops when the gap is closed", () => {
  const chat = new ChatState("lobby");
  chat.addMessages(page(1, 10)); // seen before the disconnect
  assert.equal(chat.catchUpRequest(10), null); // nothing new: nothing to check
  chat.addMessages(page(200, 249)); // the join's newest page
  assert.deepEqual(chat.catchUpRequest(10), { room: "lobby", before_id: 200, limit: PAGE_SIZE });
  // A full page, all newer than lastSeen: keep going.
  let step = chat.catchUpPage(10, page(150, 199));
  assert.equal(step.more, true);
  assert.equal(step.missing.length, 50);
  chat.addMessages(step.missing);
  assert.equal(chat.catchUpRequest(10).before_id, 150);
  // The page reaches back to what we had: done.
  step = chat.catchUpPage(10, page(5, 54));
  assert.equal(step.more, false);
  assert.deepEqual(step.missing.map((m) => m.id), page(11, 54).map((m) => m.id));
  // A short page: the gap is closed too.
  assert.equal(chat.catchUpPage(10, page(20, 30)).more, false);
});

test("trending words: only this room's events, highlight set normalised, cloud sorted and sized", () => {
  const chat = new ChatState("lobby");
  assert.equal(chat.applyTrending({ room: "other", words: [] }), null);
  assert.equal(chat.applyTrending({ room: "lobby", words: "x" }), null);
  const cloud = chat.applyTrending({
    room: "lobby", window_seconds: 300,
    words: [{ word: "Zorro", score: 1, count: 1 }, { word: "Árbol", score: 4, count: 3 }, { word: "bad", score: "x" }, null],
  });
  assert.deepEqual([...chat.trending].sort(), ["zorro", "árbol"]);
  assert.deepEqual(cloud.words.map((w) => w.word), ["Árbol", "Zorro"]);
  assert.equal(cloud.words[0].sizeRem, "2.75"); // the top score gets the largest size
  assert.equal(cloud.words[1].sizeRem, "1.80"); // sqrt(1/4) of the range
  assert.equal(cloud.words[0].palette, paletteIndex("Árbol"));
  assert.equal(cloud.windowMinutes, 5);
  assert.equal(chat.applyTrending({ room: "lobby", words: [], window_seconds: 20 }).windowMinutes, 1);
  assert.equal(chat.applyTrending({ room: "lobby", words: [] }).windowMinutes, null);
  assert.equal(chat.trending.size, 0);
});

test("highlighting marks whole trending words, case- and form-insensitively, and keeps every character", () => {
  const trending = new Set([normalizeWord("CAFÉ"), "l'eau"]);
  const text = "Un café, l’eau et cafés: CAFE\u0301!";
  const pieces = highlightSegments(text, trending);
  assert.equal(pieces.map((p) => p.text).join(""), text);
  assert.deepEqual(pieces.filter((p) => p.hl).map((p) => p.text), ["café", "l’eau", "CAFE\u0301"]);
  assert.deepEqual(highlightSegments("plain", new Set()), [{ text: "plain", hl: false }]);
  assert.deepEqual(highlightSegments("no match here", trending), [{ text: "no match here", hl: false }]);
});

test("member count, room events and who you are accept only valid data", () => {
  const chat = new ChatState("lobby");
  assert.equal(chat.applyMembers({ room: "other", count: 4 }), false);
  assert.equal(chat.applyMembers({ room: "lobby", count: "4" }), false);
  assert.equal(chat.members, null);
  assert.equal(chat.applyMembers({ room: "lobby", count: 4 }), true);
  assert.equal(chat.members, 4);
  assert.equal(chat.applyRoom({ slug: "other", open: false }), null);
  assert.equal(chat.open, true);
  assert.deepEqual(chat.applyRoom({ slug: "lobby", open: false, sentences: ["hi", 3, "yo"] }), { open: false });
  assert.deepEqual(chat.sentences, ["hi", "yo"]);
  assert.equal(chat.setYou({ nickname: 5 }), null);
  assert.deepEqual(chat.setYou({ nickname: "ana", color: "red;x", tag: "k3f9", staff: "yes" }),
    { nickname: "ana", color: "#1d232b", tag: "#k3f9", staff: false });
  assert.deepEqual(chat.setYou({ nickname: "bo", color: "#AABBCC", tag: "K3F9", staff: true }),
    { nickname: "bo", color: "#AABBCC", tag: "", staff: true });
  assert.equal(safeTag("k3fi"), ""); // i is not in Crockford's base 32
  assert.equal(safeColor("#12345"), "#1d232b");
});

test("the send box counts code points after NFC and allows sending only when joined, open and idle", () => {
  assert.equal(messageLength("  e\u0301😀  "), 2);
  const chat = new ChatState("lobby", { maxLength: 3 });
  assert.equal(chat.composer("abc").canSend, false); // not joined yet
  chat.applyJoin({ room: { open: true, sentences: ["a"] } });
  assert.deepEqual(chat.composer(" abc "), { length: 3, over: false, label: "3/3", canSend: true });
  assert.deepEqual(chat.composer("abcd"), { length: 4, over: true, label: "4/3", canSend: false });
  assert.equal(chat.canSubmit("abcd"), true); // Enter still sends: the server says why it refuses
  assert.equal(chat.composer("   ").canSend, false);
  chat.sending = true;
  assert.equal(chat.composer("a").canSend, false);
  chat.sending = false;
  assert.equal(chat.setOpen(false), true);
  assert.equal(chat.composer("a").canSend, false);
  assert.equal(chat.canSubmit("a"), false);
});
