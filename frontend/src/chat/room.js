// /chat/<slug>/: messages, the live word cloud, the send box and the demo auto
// chat. The rules live in ./state.js (no DOM, no socket); this binds them to
// the page and the socket.
import { connectNamespace, request, uuid4 } from "../lib/socket.js";
import { ngettext } from "../lib/i18n.js";
import { ChatState, MAX_CATCH_UP_PAGES } from "./state.js";
import { feedbackText, nicknameErrorText, renderCloud } from "./view.js";
import { createMessageList } from "./messages_view.js";
import { createAutoChat } from "./auto.js";

export function startRoom(root, config) {
  const $ = (id) => document.getElementById(id);
  const ui = {
    log: $("chat-log"), list: $("chat-messages"), older: $("chat-older"), empty: $("chat-empty"),
    jump: $("chat-jump"), form: $("chat-form"), input: $("chat-input"), counter: $("chat-counter"),
    feedback: $("chat-feedback"), send: $("chat-send"), closedNote: $("chat-closed"),
    membersCount: $("chat-members-count"), membersLabel: $("chat-members-label"),
    nickname: $("chat-nickname"), youTag: $("chat-you-tag"), youStaff: $("chat-you-staff"),
    nickEdit: $("chat-nick-edit"), nickForm: $("chat-nick-form"), nickInput: $("chat-nick-input"),
    nickCancel: $("chat-nick-cancel"), autoSwitch: $("chat-auto"),
    cloud: { cloudEl: $("chat-cloud"), emptyEl: $("chat-cloud-empty"), windowEl: $("chat-cloud-window") },
  };
  const slug = config.room;
  const chat = new ChatState(slug, { maxLength: config.maxLength || 500, open: !ui.closedNote || ui.closedNote.hidden });
  const messages = createMessageList({ log: ui.log, list: ui.list, empty: ui.empty, jump: ui.jump, chat });
  const addMessages = messages.add;
  const auto = createAutoChat({ switchEl: ui.autoSwitch, chat, post: postText, baseMs: config.autoChatMs || 4000 });

  const socket = connectNamespace(config.namespace || "/chat");

  // ----- messages -------------------------------------------------------
  function showPaging() {
    ui.older.hidden = !chat.hasOlder;
  }

  async function loadOlder() {
    const payload = chat.olderRequest();
    if (!payload) return;
    ui.older.disabled = true;
    const ack = await request(socket, "history", payload);
    ui.older.disabled = false;
    if (!ack.ok) return showFeedback(ack.error);
    addMessages(ack.data.messages, { stick: "top" });
    chat.setPaging(ack.data.messages);
    showPaging();
  }

  // After a reconnect: fill the gap between what we had and the join's newest page.
  async function catchUp(lastSeen) {
    for (let page = 0; page < MAX_CATCH_UP_PAGES; page += 1) {
      const payload = chat.catchUpRequest(lastSeen);
      if (!payload) return;
      const ack = await request(socket, "history", payload);
      if (!ack.ok) return;
      const { missing, more } = chat.catchUpPage(lastSeen, ack.data.messages);
      addMessages(missing);
      if (!more) return;
    }
  }

  // ----- trending, members, room state, you ------------------------------
  function showTrending(event) {
    const cloud = chat.applyTrending(event);
    if (!cloud) return;
    renderCloud(ui.cloud, cloud);
    messages.rehighlight();
  }

  function showMembers() {
    ui.membersCount.textContent = String(chat.members);
    ui.membersLabel.textContent = ngettext("person here now", "people here now", chat.members);
  }

  function showOpen() {
    ui.closedNote.hidden = chat.open;
    ui.input.disabled = !chat.open;
    updateCounter();
    if (!chat.open) auto.stop();
  }

  function setOpen(value) {
    chat.setOpen(value);
    showOpen();
  }

  function showYou(data) {
    const you = chat.setYou(data);
    if (!you) return;
    ui.nickname.textContent = you.nickname;
    ui.nickname.style.color = you.color;
    ui.youTag.textContent = you.tag;
    ui.youStaff.hidden = !you.staff;
  }

  function showFeedback(error) {
    ui.feedback.textContent = error ? feedbackText(error) : "";
  }

  // ----- sending ----------------------------------------------------------
  function updateCounter() {
    const box = chat.composer(ui.input.value);
    ui.counter.textContent = box.label;
    ui.counter.classList.toggle("chat-counter-over", box.over);
    ui.send.disabled = !box.canSend;
  }

  async function postText(text, clientId) {
    const ack = await request(socket, "send_message", { room: slug, text, client_id: clientId });
    if (ack.ok) addMessages([ack.data.message], { stick: "bottom" });
    else if (ack.error && ack.error.code === "closed") setOpen(false);
    return ack;
  }

  async function submit() {
    const text = ui.input.value.trim();
    if (!chat.canSubmit(text)) return;
    chat.sending = true;
    updateCounter();
    const clientId = uuid4();
    let ack = await postText(text, clientId);
    // One retry with the same client id: the server stores it at most once.
    if (!ack.ok && ack.error.code === "timeout") ack = await postText(text, clientId);
    chat.sending = false;
    if (ack.ok) ui.input.value = "";
    showFeedback(ack.ok ? null : ack.error);
    updateCounter();
    ui.input.focus();
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  ui.input.addEventListener("input", updateCounter);
  ui.older.addEventListener("click", loadOlder);

  // ----- nickname ---------------------------------------------------------
  ui.nickEdit.addEventListener("click", () => {
    ui.nickForm.hidden = false;
    ui.nickInput.value = ui.nickname.textContent;
    ui.nickInput.focus();
    ui.nickInput.select();
  });
  ui.nickCancel.addEventListener("click", () => {
    ui.nickForm.hidden = true;
  });
  ui.nickForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ack = await request(socket, "set_nickname", { nickname: ui.nickInput.value });
    if (ack.ok) {
      showYou(ack.data);
      ui.nickForm.hidden = true;
      showFeedback(null);
    } else {
      ui.feedback.textContent = nicknameErrorText(ack.error);
    }
  });

  // ----- socket -------------------------------------------------------------
  async function join() {
    const lastSeen = chat.newestId;
    const ack = await request(socket, "join", { room: slug });
    if (!ack.ok) {
      showFeedback(ack.error);
      if (ack.error.code === "not_found") setOpen(false);
      return;
    }
    const { you, messages: newest, trending: words, members } = ack.data;
    chat.applyJoin(ack.data);
    showYou(you);
    if (chat.setMembers(members)) showMembers();
    showOpen();
    showTrending(words);
    const hadNone = chat.size === 0;
    addMessages(newest, { stick: hadNone ? "bottom" : undefined });
    if (hadNone) {
      chat.setPaging(newest);
      showPaging();
    } else if (lastSeen !== null) {
      await catchUp(lastSeen);
    }
    showFeedback(null);
    updateCounter();
    if (config.autoChat) auto.startOnce();
  }

  socket.on("connect", join);
  socket.on("disconnect", () => {
    chat.joined = false;
    updateCounter();
  });
  socket.on("message", (message) => addMessages([message]));
  socket.on("trending", showTrending);
  socket.on("members", (event) => {
    if (chat.applyMembers(event)) showMembers();
  });
  socket.on("message_deleted", (event) => messages.remove(chat.applyDeleted(event)));
  socket.on("history_cleared", (event) => {
    const removed = chat.applyCleared(event);
    if (removed === null) return;
    messages.remove(removed);
    showPaging();
  });
  socket.on("room", (event) => {
    if (chat.applyRoom(event)) showOpen();
  });

  // A hard stop well above the limit (UTF-16 units); the counter shows the real one.
  ui.input.maxLength = chat.maxLength * 2;
  updateCounter();
}
