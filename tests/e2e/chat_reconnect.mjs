// A page that loses its connection catches up on what it missed (more than
// the 50 messages `join` returns) without duplicating anything.
import { writeFileSync } from "node:fs";
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

await run(async (browser) => {
  const page = await newPage(browser);
  await page.goto(`${BASE_URL}/chat/dogs/`);
  await page.waitForSelector('#connection-badge[data-state="connected"]');
  await page.waitForFunction((n) => document.querySelectorAll(".chat-message").length === n, PARAMS.before);
  await page.evaluate(() => {
    window.__badgeStates = [];
    new MutationObserver(() => window.__badgeStates.push(document.getElementById("connection-badge").dataset.state))
      .observe(document.getElementById("connection-badge"), { attributes: true });
  });
  writeFileSync(PARAMS.ready, "ready");
  // The server drops the connection; the page reconnects and catches up.
  // (the outage may be too short to see the badge change)
  await page.waitForSelector('#connection-badge[data-state="connected"]', { timeout: 15000 });
  await page.waitForFunction((n) => document.querySelectorAll(".chat-message").length >= n, PARAMS.after, { timeout: 15000 })
    .catch(() => {});
  // A barrier rather than a pause: the page's own message comes back on the
  // same connection after anything the catch-up still had in flight.
  await page.fill("#chat-input", PARAMS.last);
  await page.press("#chat-input", "Enter");
  await page.waitForFunction((text) => [...document.querySelectorAll(".chat-text")].some((p) => p.textContent === text),
    PARAMS.last, { timeout: 15000 }).catch(() => {});
  return {
    ids: await page.$$eval(".chat-message", (lis) => lis.map((li) => Number(li.dataset.id))),
    lastText: await page.$$eval(".chat-text", (ps) => ps.at(-1)?.textContent ?? null),
    errors: page.errors,
    badge: await page.getAttribute("#connection-badge", "data-state"),
    badgeStates: await page.evaluate(() => window.__badgeStates),
  };
});
