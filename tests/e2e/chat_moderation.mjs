// A message deleted by a moderator disappears from the page; a room closed in
// the admin shows its notice and refuses the send box.
import { writeFileSync } from "node:fs";
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

await run(async (browser) => {
  const page = await newPage(browser);
  await page.goto(`${BASE_URL}/chat/dogs/`);
  await page.waitForSelector('#connection-badge[data-state="connected"]');
  await page.waitForFunction(() => document.querySelectorAll(".chat-message").length === 2);
  writeFileSync(PARAMS.ready, "ready");
  await page.waitForFunction(() => document.querySelectorAll(".chat-message").length === 1, null, { timeout: 10000 });
  const left = await page.$$eval(".chat-text", (ps) => ps.map((p) => p.textContent));
  writeFileSync(PARAMS.deleted, "seen");
  await page.waitForSelector("#chat-closed:not([hidden])", { timeout: 10000 });
  return {
    left,
    inputDisabled: await page.$eval("#chat-input", (el) => el.disabled),
    sendDisabled: await page.$eval("#chat-send", (el) => el.disabled),
    errors: page.errors,
  };
});
