// /chat/<slug>/: messages, the live word cloud, the send box and the demo auto chat.
import { connectNamespace, request, uuid4 } from "../lib/socket.js";
import { gettext, ngettext, interpolate } from "../lib/i18n.js";
import { appendHighlighted, formatTime, normalizeWord, safeColor, safeTag } from "./text.js";

const PAGE_SIZE = 50;
const MAX_CATCH_UP_PAGES = 10;
const NEAR_BOTTOM_PX = 48;

export function startRoom(root, config) {
  const slug = config.room;
  const maxLength = config.maxLength || 500;
  const $ = (id) => document.getElementById(id);
  const log = $("chat-log");
  const list = $("chat-messages");
  const older = $("chat-older");
  const empty = $("chat-empty");
  const jump = $("chat-jump");
  const form = $("chat-form");
  const input = $("chat-input");
  const counter = $("chat-counter");
  const feedback = $("chat-feedback");
  const send = $("chat-send");
  const closedNote = $("chat-closed");
  const membersCount = $("chat-members-count");
  const membersLabel = $("chat-members-label");
  const nicknameEl = $("chat-nickname");
  const youTag = $("chat-you-tag");
  const youStaff = $("chat-you-staff");
  const nickEdit = $("chat-nick-edit");
  const nickForm = $("chat-nick-form");
  const nickInput = $("chat-nick-input");
  const nickCancel = $("chat-nick-cancel");
  const autoSwitch = $("chat-auto");
  const cloud = $("chat-cloud");
  const cloudEmpty = $("chat-cloud-empty");
  const cloudWindow = $("chat-cloud-window");

  // id -> {message, li, body}; the list is kept sorted by id.
  const messages = new Map();
  let trending = new Set();
  let joined = false;
  let open = !closedNote || closedNote.hidden;
  let sending = false;
  let sentences = [];
  let autoTimer = null;
  let autoIndex = Math.floor(Math.random() * 1000);
  let hasOlder = false;

  const socket = connectNamespace(config.namespace || "/chat");

  // ----- messages -------------------------------------------------------
  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;
  }

  function renderBody(entry) {
    entry.body.replaceChildren();
    appendHighlighted(entry.body, entry.message.text, trending);
  }

  function buildItem(message) {
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
    return { message, li, body };
  }

  function staffBadge() {
    const badge = document.createElement("span");
    badge.className = "chat-staff";
    badge.textContent = gettext("staff");
    badge.title = gettext("A member of the site's staff");
    return badge;
  }

  function validMessage(m) {
    return m && Number.isInteger(m.id) && m.room === slug && typeof m.text === "string"
      && typeof m.author === "string";
  }

  // Insert messages (any order, duplicates ignored) keeping the list sorted by id.
  function addMessages(batch, { stick } = {}) {
    const wasAtBottom = nearBottom();
    const fresh = batch.filter((m) => validMessage(m) && !messages.has(m.id)).sort((a, b) => a.id - b.id);
    if (fresh.length === 0) return 0;
    const firstBefore = list.firstElementChild;
    const heightBefore = log.scrollHeight;
    const topBefore = log.scrollTop;
    let prepended = 0;
    for (const message of fresh) {
      const entry = buildItem(message);
      renderBody(entry);
      messages.set(message.id, entry);
      // Find the first existing item with a larger id (usually none: append).
      let next = null;
      const lastEl = list.lastElementChild;
      if (lastEl && Number(lastEl.dataset.id) > message.id) {
        next = [...list.children].find((el) => Number(el.dataset.id) > message.id) || null;
      }
      list.insertBefore(entry.li, next);
      if (next && next === firstBefore) prepended += 1;
    }
    empty.hidden = messages.size > 0;
    if (stick === "top" || (prepended === fresh.length && !wasAtBottom)) {
      // Older messages went above: keep what the reader was looking at in place.
      log.scrollTop = topBefore + (log.scrollHeight - heightBefore);
    } else if (wasAtBottom || stick === "bottom") {
      log.scrollTop = log.scrollHeight;
      jump.hidden = true;
    } else {
      jump.hidden = false;
    }
    return fresh.length;
  }

  function removeMessages(predicate) {
    for (const [id, entry] of messages) {
      if (predicate(id)) {
        entry.li.remove();
        messages.delete(id);
      }
    }
    empty.hidden = messages.size > 0;
  }

  function oldestId() {
    const first = list.firstElementChild;
    return first ? Number(first.dataset.id) : null;
  }

  function newestId() {
    const last = list.lastElementChild;
    return last ? Number(last.dataset.id) : null;
  }

  async function loadOlder() {
    const before = oldestId();
    if (before === null) return;
    older.disabled = true;
    const ack = await request(socket, "history", { room: slug, before_id: before, limit: PAGE_SIZE });
    older.disabled = false;
    if (!ack.ok) return showFeedback(ack.error);
    addMessages(ack.data.messages, { stick: "top" });
    hasOlder = ack.data.messages.length === PAGE_SIZE;
    older.hidden = !hasOlder;
  }

  // After a reconnect: fill the gap between what we had and the join's newest 50.
  async function catchUp(lastSeen) {
    for (let page = 0; page < MAX_CATCH_UP_PAGES; page += 1) {
      const ids = [...messages.keys()].filter((id) => id > lastSeen).sort((a, b) => a - b);
      if (ids.length === 0) return;
      const before = ids[0];
      // Is anything missing between lastSeen and `before`?
      const ack = await request(socket, "history", { room: slug, before_id: before, limit: PAGE_SIZE });
      if (!ack.ok) return;
      const missing = ack.data.messages.filter((m) => m.id > lastSeen);
      addMessages(missing);
      if (missing.length < ack.data.messages.length || ack.data.messages.length < PAGE_SIZE) return;
    }
  }

  // ----- trending words -------------------------------------------------
  function paletteIndex(word) {
    let h = 0;
    for (const ch of word) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return h % 8;
  }

  function renderTrending(event) {
    if (!event || event.room !== slug || !Array.isArray(event.words)) return;
    const words = event.words.filter((w) => w && typeof w.word === "string" && Number.isFinite(w.score));
    trending = new Set(words.map((w) => normalizeWord(w.word)));
    const max = Math.max(...words.map((w) => w.score), 1e-9);
    const items = [...words].sort((a, b) => a.word.localeCompare(b.word)).map((w) => {
      const span = document.createElement("span");
      span.className = `chat-word chat-word-${paletteIndex(w.word)}`;
      span.setAttribute("role", "listitem");
      span.textContent = w.word;
      const ratio = Math.sqrt(Math.max(0, w.score) / max);
      span.style.fontSize = `${(0.85 + ratio * 1.9).toFixed(2)}rem`;
      span.title = interpolate(
        ngettext("%(word)s: used by %(count)s person", "%(word)s: used by %(count)s people", w.count),
        { word: w.word, count: w.count }, true,
      );
      span.dataset.count = String(w.count);
      return span;
    });
    cloud.replaceChildren(...items);
    cloudEmpty.hidden = items.length > 0;
    if (Number.isInteger(event.window_seconds)) {
      const minutes = Math.max(1, Math.round(event.window_seconds / 60));
      cloudWindow.textContent = interpolate(
        ngettext("Most used in the last minute", "Most used in the last %(minutes)s minutes", minutes),
        { minutes }, true,
      );
    }
    for (const entry of messages.values()) renderBody(entry);
  }

  // ----- members, room state, you --------------------------------------
  function setMembers(count) {
    if (!Number.isInteger(count)) return;
    membersCount.textContent = String(count);
    membersLabel.textContent = ngettext("person here now", "people here now", count);
  }

  function setOpen(value) {
    open = value !== false;
    closedNote.hidden = open;
    input.disabled = !open;
    updateCounter();
    if (!open) stopAuto();
  }

  function setYou(you) {
    if (!you || typeof you.nickname !== "string") return;
    nicknameEl.textContent = you.nickname;
    nicknameEl.style.color = safeColor(you.color);
    youTag.textContent = safeTag(you.tag);
    youStaff.hidden = you.staff !== true;
  }

  function showFeedback(error) {
    if (!error) {
      feedback.textContent = "";
      return;
    }
    const texts = {
      rate_limited: gettext("Slow down a little: too many messages."),
      closed: gettext("This room is closed."),
      invalid: gettext("That message can't be sent."),
      timeout: gettext("No answer from the server"),
      not_joined: gettext("Reconnecting to the room…"),
    };
    feedback.textContent = texts[error.code] || error.message || gettext("Something went wrong.");
  }

  // ----- sending ----------------------------------------------------------
  function trimmed() {
    return input.value.trim();
  }

  function updateCounter() {
    // Counted as the server counts: Unicode code points after NFC.
    const length = [...trimmed().normalize("NFC")].length;
    counter.textContent = `${length}/${maxLength}`;
    counter.classList.toggle("chat-counter-over", length > maxLength);
    send.disabled = !open || !joined || sending || length === 0 || length > maxLength;
  }

  async function postText(text, clientId) {
    const ack = await request(socket, "send_message", { room: slug, text, client_id: clientId });
    if (ack.ok) addMessages([ack.data.message], { stick: "bottom" });
    else if (ack.error && ack.error.code === "closed") setOpen(false);
    return ack;
  }

  async function submit() {
    const text = trimmed();
    if (!text || sending || !open || !joined) return;
    sending = true;
    updateCounter();
    const clientId = uuid4();
    let ack = await postText(text, clientId);
    // One retry with the same client id: the server stores it at most once.
    if (!ack.ok && ack.error.code === "timeout") ack = await postText(text, clientId);
    sending = false;
    if (ack.ok) {
      input.value = "";
      showFeedback(null);
    } else {
      showFeedback(ack.error);
    }
    updateCounter();
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", updateCounter);
  older.addEventListener("click", loadOlder);
  jump.addEventListener("click", () => {
    log.scrollTop = log.scrollHeight;
    jump.hidden = true;
  });
  log.addEventListener("scroll", () => {
    if (nearBottom()) jump.hidden = true;
  });

  // ----- nickname ---------------------------------------------------------
  nickEdit.addEventListener("click", () => {
    nickForm.hidden = false;
    nickInput.value = nicknameEl.textContent;
    nickInput.focus();
    nickInput.select();
  });
  nickCancel.addEventListener("click", () => {
    nickForm.hidden = true;
  });
  nickForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ack = await request(socket, "set_nickname", { nickname: nickInput.value });
    if (ack.ok) {
      setYou(ack.data);
      nickForm.hidden = true;
      showFeedback(null);
    } else if (ack.error.reason === "nickname_reserved") {
      feedback.textContent = gettext("That nickname is reserved for the site's staff: choose another.");
    } else {
      feedback.textContent = ack.error.code === "invalid"
        ? gettext("A nickname has 1 to 32 printable characters.")
        : ack.error.message;
    }
  });

  // ----- the demo's auto chat --------------------------------------------
  function stopAuto() {
    if (autoTimer) clearTimeout(autoTimer);
    autoTimer = null;
    autoSwitch.checked = false;
  }

  function scheduleAuto() {
    const base = config.autoChatMs || 4000;
    autoTimer = setTimeout(async () => {
      if (!autoSwitch.checked) return;
      if (joined && open && sentences.length > 0) {
        const text = sentences[autoIndex % sentences.length];
        autoIndex += 1;
        await postText(text, uuid4());
      }
      if (autoSwitch.checked) scheduleAuto();
    }, base * (0.75 + Math.random() * 0.5));
  }

  autoSwitch.addEventListener("change", () => {
    if (autoSwitch.checked && open) scheduleAuto();
    else stopAuto();
  });

  // ----- socket -------------------------------------------------------------
  async function join() {
    const lastSeen = newestId();
    const ack = await request(socket, "join", { room: slug });
    if (!ack.ok) {
      showFeedback(ack.error);
      if (ack.error.code === "not_found") setOpen(false);
      return;
    }
    joined = true;
    const { room, you, messages: newest, trending: words, members } = ack.data;
    sentences = Array.isArray(room.sentences) ? room.sentences.filter((s) => typeof s === "string") : [];
    setYou(you);
    setMembers(members);
    setOpen(room.open);
    renderTrending(words);
    const hadNone = messages.size === 0;
    addMessages(newest, { stick: hadNone ? "bottom" : undefined });
    if (hadNone) {
      hasOlder = newest.length === PAGE_SIZE;
      older.hidden = !hasOlder;
    } else if (lastSeen !== null) {
      await catchUp(lastSeen);
    }
    showFeedback(null);
    updateCounter();
    if (config.autoChat && !autoSwitch.dataset.started) {
      autoSwitch.dataset.started = "1";
      autoSwitch.checked = true;
      scheduleAuto();
    }
  }

  socket.on("connect", join);
  socket.on("disconnect", () => {
    joined = false;
    updateCounter();
  });
  socket.on("message", (message) => addMessages([message]));
  socket.on("trending", renderTrending);
  socket.on("members", (event) => {
    if (event && event.room === slug) setMembers(event.count);
  });
  socket.on("message_deleted", (event) => {
    if (!event || event.room !== slug || !Array.isArray(event.ids)) return;
    const ids = new Set(event.ids);
    removeMessages((id) => ids.has(id));
  });
  socket.on("history_cleared", (event) => {
    if (!event || event.room !== slug || !Number.isInteger(event.up_to_id)) return;
    removeMessages((id) => id <= event.up_to_id);
    older.hidden = true;
  });
  socket.on("room", (event) => {
    if (!event || event.slug !== slug) return;
    if (Array.isArray(event.sentences)) sentences = event.sentences.filter((s) => typeof s === "string");
    setOpen(event.open);
  });

  // A hard stop well above the limit (UTF-16 units); the counter shows the real one.
  input.maxLength = maxLength * 2;
  updateCounter();
}
