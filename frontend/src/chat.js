// Chat pages: the room list (/chat/) and a room (/chat/<slug>/).
import { readJsonScript } from "./lib/socket.js";
import { startRoomList } from "./chat/list.js";
import { startRoom } from "./chat/room.js";

const root = document.getElementById("chat-root");
const config = readJsonScript("chat-config", {});
if (root && root.dataset.page === "room") startRoom(root, config);
else if (root) startRoomList(root, config);
