// When and how often a vote is sent again. Pure: no DOM, no socket, no clock
// or randomness of its own (they are passed in), so Node tests drive it.
//
// The server answers `internal` when it could not store a vote (a database
// blip, a restart) and nothing was committed; with the same `vote_id` a retry
// is counted at most once, so resending is always safe. A `timeout` (no ack)
// is the same: the vote may or may not have been stored, and the same id
// settles it. Every other answer is final (`closed`, `not_found`, `invalid`,
// `rate_limited`: resending would not help, or would add to the flood).
//
// Delays grow exponentially with "equal jitter": half of the step is fixed,
// half random, so a crowd whose votes all failed at the same instant does not
// come back at the same instant, and no retry goes out immediately.

export const VOTE_RETRY = Object.freeze({
  baseMs: 300, // first delay is 150..300 ms
  factor: 2,
  capMs: 5000, // no single wait longer than 5 s
  maxAttempts: 8, // the first send included
  maxTotalMs: 30000, // time spent sending and waiting, not counting time offline
});

export const RETRYABLE = new Set(["internal", "timeout"]);

export function isRetryable(reply) {
  return Boolean(reply && typeof reply === "object" && reply.ok === false && RETRYABLE.has(reply.error?.code));
}

// The wait before retry number `retry` (1 = the first resend).
export function retryDelay(retry, policy = VOTE_RETRY, random = Math.random) {
  const step = Math.min(policy.capMs, policy.baseMs * policy.factor ** Math.max(0, retry - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

// What to do after attempt number `attempt` answered `reply`, having spent
// `spentMs` so far: {retry: false} or {retry: true, delayMs}.
export function nextStep({ attempt, reply, spentMs, policy = VOTE_RETRY, random = Math.random }) {
  if (!isRetryable(reply) || attempt >= policy.maxAttempts) return { retry: false };
  const delayMs = retryDelay(attempt, policy, random);
  if (spentMs + delayMs > policy.maxTotalMs) return { retry: false };
  return { retry: true, delayMs };
}

// Send `payload` until a final answer. `send(payload)` resolves to the ack
// envelope; `ready()` resolves when a send can go out (the socket is
// connected; time spent there is not counted); `onRetry({attempt, delayMs,
// code})` is called before each wait. The SAME payload object, and so the
// same vote_id, goes out every time. Resolves to {reply, attempts, gaveUp}:
// gaveUp is true when the last answer was still retryable.
export async function sendWithRetry(payload, {
  send, ready = async () => {}, sleep, now = Date.now, random = Math.random, policy = VOTE_RETRY,
  onRetry = () => {},
}) {
  let spentMs = 0;
  for (let attempt = 1; ; attempt++) {
    await ready();
    const started = now();
    const reply = await send(payload);
    spentMs += Math.max(0, now() - started);
    const step = nextStep({ attempt, reply, spentMs, policy, random });
    if (!step.retry) return { reply, attempts: attempt, gaveUp: isRetryable(reply) };
    onRetry({ attempt: attempt + 1, delayMs: step.delayMs, code: reply.error.code });
    await sleep(step.delayMs);
    spentMs += step.delayMs;
  }
}
