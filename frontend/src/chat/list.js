// /chat/: the open rooms with live member counts.
import { connectNamespace, request } from "../lib/socket.js";
import { gettext, ngettext } from "../lib/i18n.js";

function setCount(card, count) {
  const number = card.querySelector("[data-members]");
  const label = card.querySelector("[data-members-label]");
  if (number) number.textContent = String(count);
  if (label) label.textContent = ngettext("person here now", "people here now", count);
}

function roomCard(room) {
  const li = document.createElement("li");
  li.className = "card chat-room-card";
  li.dataset.room = room.slug;
  const link = document.createElement("a");
  link.href = `/chat/${encodeURIComponent(room.slug)}/`;
  const h2 = document.createElement("h2");
  h2.textContent = room.name;
  link.append(h2);
  const desc = document.createElement("p");
  desc.className = "chat-room-desc";
  desc.textContent = room.description;
  const count = document.createElement("p");
  count.className = "count";
  const number = document.createElement("span");
  number.dataset.members = "";
  const label = document.createElement("span");
  label.dataset.membersLabel = "";
  count.append(number, " ", label);
  li.append(link, desc, count);
  setCount(li, room.members);
  return li;
}

export function startRoomList(root, config) {
  const list = root.querySelector("#chat-room-list");
  const socket = connectNamespace(config.namespace || "/chat");

  async function refresh() {
    const ack = await request(socket, "list_rooms", {});
    if (!ack.ok) return;
    list.replaceChildren(...ack.data.rooms.map(roomCard));
    if (ack.data.rooms.length === 0) {
      const empty = document.createElement("li");
      empty.className = "card chat-empty";
      empty.textContent = gettext("No rooms are open right now.");
      list.append(empty);
    }
  }

  socket.on("connect", refresh);
  socket.on("members", (event) => {
    if (!event || typeof event.room !== "string") return;
    const card = [...list.querySelectorAll(".chat-room-card")].find((el) => el.dataset.room === event.room);
    if (card && Number.isInteger(event.count)) setCount(card, event.count);
  });
  socket.on("room", () => refresh());
}
