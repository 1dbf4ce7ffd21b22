// The map page's vote retry policy (frontend/src/dashboard/retry.js) and its
// use by sendVote, under `node --test` (no browser, no server): a vote the
// server could not store (`internal`) or did not ack (`timeout`) is sent
// again with the SAME vote_id, with growing, jittered, capped delays, and
// only a bounded number of times.
import assert from "node:assert/strict";
import test from "node:test";

globalThis.window = globalThis.window || {}; // lib/i18n.js looks for Django's catalog there
const { VOTE_RETRY, isRetryable, nextStep, retryDelay, sendWithRetry } = await import(
  "../../frontend/src/dashboard/retry.js"
);
const { sendVote } = await import("../../frontend/src/dashboard/voter.js");

const INTERNAL = { ok: false, error: { code: "internal", message: "the vote could not be stored; retry with the same vote_id" } };
const OK = { ok: true, data: { province: "28", votes: 4, version: 12 } };

// A scripted sender and a fake clock: `sleep` advances the clock instead of waiting.
function harness(answers, { sendMs = 0 } = {}) {
  const sent = [];
  const waits = [];
  let clock = 0;
  return {
    sent,
    waits,
    deps: {
      send: async (payload) => {
        sent.push({ ...payload });
        clock += sendMs;
        return answers[Math.min(sent.length - 1, answers.length - 1)];
      },
      sleep: async (ms) => { waits.push(ms); clock += ms; },
      now: () => clock,
      random: () => 0.5,
    },
  };
}

test("an internal answer is retried, with the same vote_id, until it is stored", async () => {
  const { sent, deps } = harness([INTERNAL, INTERNAL, OK]);
  const payload = { province: "28", direction: "up", vote_id: "9f1c0a52-8a5e-4c3e-9a40-1b2c3d4e5f60" };
  const result = await sendWithRetry(payload, deps);
  assert.equal(result.reply, OK);
  assert.equal(result.attempts, 3);
  assert.equal(result.gaveUp, false);
  assert.equal(sent.length, 3, "does not give up on the first internal");
  for (const message of sent) {
    assert.equal(message.vote_id, payload.vote_id, "every attempt carries the first vote_id");
    assert.equal(message.province, "28");
    assert.equal(message.direction, "up");
  }
});

test("sendVote keeps one uuid4 vote_id across internal and timeout answers", async () => {
  const script = [INTERNAL, null, INTERNAL, OK]; // null: no ack (timeout)
  const sent = [];
  const socket = {
    connected: true,
    once: () => {},
    timeout: () => ({
      emit: (event, payload, cb) => {
        sent.push({ event, payload: { ...payload } });
        const answer = script[sent.length - 1];
        if (answer === null) cb(new Error("operation has timed out"));
        else cb(null, answer);
      },
    }),
  };
  const retries = [];
  const reply = await sendVote(socket, "28", "up", {
    timeoutMs: 5, backoffMs: 1, onRetry: (attempt, info) => retries.push([attempt, info.code]),
  });
  assert.equal(reply.ok, true);
  assert.equal(sent.length, 4);
  assert.deepEqual(retries, [[2, "internal"], [3, "timeout"], [4, "internal"]]);
  const ids = new Set(sent.map((m) => m.payload.vote_id));
  assert.equal(ids.size, 1, "the vote_id never changes between attempts");
  assert.match([...ids][0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(reply.voteId, [...ids][0]);
  assert.ok(sent.every((m) => m.event === "vote"));
});

test("it gives up after the maximum number of attempts and says so", async () => {
  const { sent, deps } = harness([INTERNAL]);
  const result = await sendWithRetry({ vote_id: "x" }, deps);
  assert.equal(sent.length, VOTE_RETRY.maxAttempts);
  assert.equal(result.attempts, VOTE_RETRY.maxAttempts);
  assert.equal(result.gaveUp, true);
  assert.equal(result.reply.error.code, "internal");
});

test("it gives up when the time budget is spent, counting slow answers too", async () => {
  const { sent, deps } = harness([INTERNAL], { sendMs: 4000 });
  const result = await sendWithRetry({ vote_id: "x" }, deps);
  assert.equal(result.gaveUp, true);
  assert.ok(sent.length < VOTE_RETRY.maxAttempts, `${sent.length} attempts`);
  const total = deps.now();
  assert.ok(total <= VOTE_RETRY.maxTotalMs + 4000, `${total} ms`);
});

test("time waiting for the connection does not count against the budget", async () => {
  const { sent, deps } = harness([INTERNAL, OK]);
  let offline = true;
  const result = await sendWithRetry({ vote_id: "x" }, {
    ...deps,
    ready: async () => { if (offline) { await deps.sleep(10 * VOTE_RETRY.maxTotalMs); offline = false; } },
  });
  assert.equal(result.reply, OK);
  assert.equal(sent.length, 2);
});

test("final answers are not retried", async () => {
  for (const code of ["closed", "not_found", "invalid", "rate_limited", "forbidden"]) {
    const { sent, deps } = harness([{ ok: false, error: { code, message: "no" } }]);
    const result = await sendWithRetry({ vote_id: "x" }, deps);
    assert.equal(sent.length, 1, code);
    assert.equal(result.gaveUp, false, code);
  }
  const { sent, deps } = harness([OK]);
  assert.equal((await sendWithRetry({ vote_id: "x" }, deps)).reply, OK);
  assert.equal(sent.length, 1);
  for (const bad of [null, undefined, "oops", { ok: false }, { ok: true }]) assert.equal(isRetryable(bad), false);
});

test("delays grow exponentially, are jittered within [step/2, step] and capped", () => {
  for (let retry = 1; retry <= 12; retry++) {
    const step = Math.min(VOTE_RETRY.capMs, VOTE_RETRY.baseMs * 2 ** (retry - 1));
    assert.equal(retryDelay(retry, VOTE_RETRY, () => 0), Math.round(step / 2));
    assert.equal(retryDelay(retry, VOTE_RETRY, () => 0.999999), Math.round(step / 2 + (0.999999 * step) / 2));
    for (let i = 0; i < 200; i++) {
      const d = retryDelay(retry, VOTE_RETRY, Math.random);
      assert.ok(d >= step / 2 - 1 && d <= step && d <= VOTE_RETRY.capMs, `${retry}: ${d}`);
    }
  }
  // Jitter: the same retry gets different delays for different voters.
  const seen = new Set(Array.from({ length: 50 }, () => retryDelay(3)));
  assert.ok(seen.size > 1);
  assert.ok(retryDelay(2, VOTE_RETRY, () => 0.5) > retryDelay(1, VOTE_RETRY, () => 0.5));
});

test("nextStep: never retries past the attempts or the time budget", () => {
  const policy = { ...VOTE_RETRY, maxAttempts: 3, maxTotalMs: 1000 };
  assert.equal(nextStep({ attempt: 1, reply: INTERNAL, spentMs: 0, policy }).retry, true);
  assert.equal(nextStep({ attempt: 3, reply: INTERNAL, spentMs: 0, policy }).retry, false);
  assert.equal(nextStep({ attempt: 1, reply: INTERNAL, spentMs: 999, policy }).retry, false);
  assert.equal(nextStep({ attempt: 1, reply: OK, spentMs: 0, policy }).retry, false);
});
