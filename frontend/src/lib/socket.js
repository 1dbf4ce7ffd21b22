// One place that opens Socket.IO connections for every page: same origin,
// the session cookie goes along, and the header badge shows the state.
import { io } from "socket.io-client";
import { gettext } from "./i18n.js";

const badge = () => document.getElementById("connection-badge");

export function setBadge(state) {
  const el = badge();
  if (!el) return;
  el.dataset.state = state;
  el.textContent = el.dataset[`label${state[0].toUpperCase()}${state.slice(1)}`] || gettext(state);
}

// Connect to a namespace ("/map-dashboard", "/chat", ...). The server sends a
// snapshot on every (re)connect, so pages only listen for it.
export function connectNamespace(namespace, options = {}) {
  // The server says which transports it accepts (WebSocket alone behind
  // several workers); WebSocket first, long-polling as the fallback.
  const configured = (document.body.dataset.socketTransports || "websocket,polling")
    .split(",").filter((t) => t === "websocket" || t === "polling");
  // A namespace may have a Socket.IO path of its own (GAME_SOCKETIO_PATH).
  const paths = readJsonScript("socket-paths", {}) || {};
  const socket = io(namespace, {
    transports: configured.length ? configured : ["websocket", "polling"],
    ...(typeof paths[namespace] === "string" ? { path: paths[namespace] } : {}),
    withCredentials: true,
    reconnectionDelayMax: 5000,
    ...options,
  });
  setBadge("reconnecting");
  socket.on("connect", () => setBadge("connected"));
  socket.on("disconnect", () => setBadge(navigator.onLine ? "reconnecting" : "offline"));
  socket.io.on("reconnect_attempt", () => setBadge(navigator.onLine ? "reconnecting" : "offline"));
  socket.io.on("reconnect_failed", () => setBadge("offline"));
  socket.on("connect_error", () => setBadge(navigator.onLine ? "reconnecting" : "offline"));
  window.addEventListener("offline", () => setBadge("offline"));
  window.addEventListener("online", () => setBadge(socket.connected ? "connected" : "reconnecting"));
  return socket;
}

// Emit with an acknowledgement and a timeout. Resolves to the envelope
// {ok: true, data} or {ok: false, error: {code, message}}; a timeout becomes
// {ok: false, error: {code: "timeout"}} so callers handle one shape.
export function request(socket, event, payload = {}, timeoutMs = 5000) {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, response) => {
      if (err) resolve({ ok: false, error: { code: "timeout", message: gettext("No answer from the server") } });
      else resolve(response);
    });
  });
}

// Read data passed with {{ value|json_script:"id" }}.
export function readJsonScript(id, fallback = null) {
  const el = document.getElementById(id);
  if (!el) return fallback;
  try {
    return JSON.parse(el.textContent);
  } catch {
    return fallback;
  }
}

// A random UUID v4 for idempotency keys (vote_id, client_id).
export function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
