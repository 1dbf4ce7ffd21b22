// An arena closed in the admin tells the players on the page.
import { run, newPage, BASE_URL } from "./browser.mjs";

await run(async (browser) => {
  const page = await newPage(browser);
  await page.goto(`${BASE_URL}/game/main/`);
  await page.waitForFunction(() => window.gridGame && window.gridGame.youId, null, { timeout: 15000 });
  console.log("JOINED");
  await page.waitForFunction(() => window.gridGame.open === false, null, { timeout: 30000 });
  const notice = await page.locator("#game-notice").textContent();
  const noticeVisible = await page.locator("#game-notice").isVisible();
  const joinHidden = await page.locator("#game-join").isHidden();
  return { notice, noticeVisible, joinHidden, errors: page.errors };
});
