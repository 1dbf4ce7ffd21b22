// The arena list: players online per arena, refreshed every few seconds.
import { connectNamespace, request } from "../lib/socket.js";

export function startList() {
  const list = document.getElementById("arena-list");
  if (!list) return;
  const socket = connectNamespace("/grid-game");
  async function refresh() {
    if (!socket.connected) return;
    const response = await request(socket, "list_arenas", {});
    if (!response.ok) return;
    for (const arena of response.data.arenas) {
      const card = list.querySelector(`[data-arena="${CSS.escape(arena.slug)}"]`);
      const online = card && card.querySelector('[data-role="online"]');
      if (online) online.textContent = String(arena.players_online);
    }
  }
  socket.on("connect", refresh);
  setInterval(refresh, 3000);
}
