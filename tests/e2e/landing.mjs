// The landing page renders without console errors and its connection badge
// turns to "connected" once the /lobby socket is up.
import { BASE_URL, newPage, run } from "./browser.mjs";

await run(async (browser) => {
  const page = await newPage(browser);
  await page.goto(`${BASE_URL}/`);
  await page.waitForSelector('#connection-badge[data-state="connected"]', { timeout: 10000 });
  const badgeText = await page.textContent("#connection-badge");
  // Choosing Spanish in the language menu switches the page at once.
  await Promise.all([page.waitForNavigation(), page.selectOption("#lang-select", "es")]);
  const spanishHeading = await page.textContent("h1");
  return {
    badgeText,
    spanishHeading,
    links: await page.$$eval("main a", (as) => as.map((a) => a.getAttribute("href"))),
    errors: page.errors,
    title: await page.title(),
  };
});
