// Landing page: live counts of each app's connections from the /lobby namespace.
import { connectNamespace } from "./lib/socket.js";

const socket = connectNamespace("/lobby");
socket.on("stats", (stats) => {
  for (const el of document.querySelectorAll("[data-stat]")) {
    const value = stats[el.dataset.stat];
    if (Number.isInteger(value)) el.textContent = String(value);
  }
});
