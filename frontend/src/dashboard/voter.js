// Sending a vote: each vote gets one uuid4 `vote_id`. When the ack does not
// come (timeout) or the server could not store the vote (`internal`: a
// database blip, a restart), the same vote, with the same id, is sent again
// with backoff (dashboard/retry.js), once the socket is connected, so the
// server counts it once.
import { request, uuid4 } from "../lib/socket.js";
import { VOTE_RETRY, sendWithRetry } from "./retry.js";

const ACK_TIMEOUT_MS = 4000;

function whenConnected(socket) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve) => socket.once("connect", resolve));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves to the final ack envelope plus `voteId`, `attempts` and `gaveUp`
// (true when the server still could not store the vote after every retry).
// `onRetry(attempt, {delayMs, code})` is called before each resend and
// `onWaiting()` when the vote waits for the connection, so the page can say so.
export async function sendVote(
  socket, province, direction,
  { onRetry = () => {}, onWaiting = () => {}, timeoutMs = ACK_TIMEOUT_MS, backoffMs = VOTE_RETRY.baseMs, policy = {} } = {},
) {
  const payload = { province, direction, vote_id: uuid4() };
  const { reply, attempts, gaveUp } = await sendWithRetry(payload, {
    send: (p) => request(socket, "vote", p, timeoutMs),
    ready: async () => {
      if (!socket.connected) {
        onWaiting();
        await whenConnected(socket);
      }
    },
    sleep,
    policy: { ...VOTE_RETRY, baseMs: backoffMs, ...policy },
    onRetry: ({ attempt, delayMs, code }) => onRetry(attempt, { delayMs, code }),
  });
  const envelope = reply && typeof reply === "object" ? reply : { ok: false, error: { code: "internal", message: "" } };
  return { ...envelope, voteId: payload.vote_id, attempts, gaveUp };
}
