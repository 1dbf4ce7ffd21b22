// The README's screenshot of a chat room: three people talk in "Gatos" using
// the room's sample sentences, then the third page is captured.
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

await run(async (browser) => {
  const names = ["Lucía", "Marco", "Ana"];
  const pages = [];
  for (const name of names) {
    const page = await newPage(browser, { viewport: { width: 1280, height: 860 }, locale: "es-ES" });
    await page.goto(`${BASE_URL}/chat/cats/`);
    await page.waitForSelector('#connection-badge[data-state="connected"]');
    await page.click("#chat-nick-edit");
    await page.fill("#chat-nick-input", name);
    await page.press("#chat-nick-input", "Enter");
    await page.waitForFunction((n) => document.getElementById("chat-nickname").textContent === n, name);
    pages.push(page);
  }
  const sentences = PARAMS.sentences || [];
  for (let i = 0; i < sentences.length; i += 1) {
    const page = pages[i % pages.length];
    await page.fill("#chat-input", sentences[i]);
    await page.press("#chat-input", "Enter");
    await page.waitForFunction((n) => document.querySelectorAll(".chat-message").length >= n, i + 1);
    await new Promise((r) => setTimeout(r, 350));
  }
  const shot = pages[2];
  await shot.waitForFunction(() => document.querySelectorAll(".chat-word").length >= 8, null, { timeout: 15000 });
  await shot.fill("#chat-input", "¡Qué buena idea lo del rascador!");
  await new Promise((r) => setTimeout(r, 400));
  await shot.screenshot({ path: PARAMS.path });
  return { words: await shot.$$eval(".chat-word", (ws) => ws.length), errors: pages.flatMap((p) => p.errors) };
});
