// Sending a vote: each vote gets a uuid4 `vote_id`; when the ack does not come
// (timeout, connection lost) the same vote is sent again with the same id once
// the socket is connected, so the server counts it once.
import { request, uuid4 } from "../lib/socket.js";

const ACK_TIMEOUT_MS = 4000;
const MAX_ATTEMPTS = 6;

function whenConnected(socket) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve) => socket.once("connect", resolve));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves to the final ack envelope. `onRetry(attempt)` is called before each
// resend and `onWaiting()` when the vote waits for the connection, so the page
// can say so.
export async function sendVote(
  socket, province, direction, { onRetry = () => {}, onWaiting = () => {}, timeoutMs = ACK_TIMEOUT_MS, backoffMs = 250 } = {},
) {
  const payload = { province, direction, vote_id: uuid4() };
  let reply = null;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) {
      onRetry(attempt);
      await sleep(Math.min(backoffMs * 2 ** (attempt - 2), 3000));
    }
    if (!socket.connected) {
      onWaiting();
      await whenConnected(socket);
    }
    reply = await request(socket, "vote", payload, timeoutMs);
    if (!reply || typeof reply !== "object") {
      reply = { ok: false, error: { code: "internal", message: "" } };
      break;
    }
    if (reply.ok || reply.error?.code !== "timeout") break;
  }
  return { ...reply, voteId: payload.vote_id };
}
