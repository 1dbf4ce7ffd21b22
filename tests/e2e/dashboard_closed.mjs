// Voting closed by an organiser and a province taken out of the vote: the
// pages say so, and a vote gets the server's answer as visible feedback.
import { BASE_URL, newPage, run } from "./browser.mjs";

await run(async (browser) => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  await page.goto(`${BASE_URL}/map/`);
  await page.waitForSelector("#vm-map[data-version]", { timeout: 15000 });
  const result = {
    closedBanner: await page.isVisible("#vm-closed"),
    closedText: (await page.textContent("#vm-closed")).trim(),
    melilla: await page.evaluate(() => {
      const path = document.querySelector('.vm-province[data-code="52"]');
      return {
        inactive: path.classList.contains("is-inactive"),
        ariaDisabled: path.getAttribute("aria-disabled"),
        label: document.querySelector('.vm-label[data-code="52"]').textContent,
        listed: document.querySelector("#vm-opt-52").getAttribute("aria-disabled"),
      };
    }),
  };
  await page.click('.vm-province[data-code="28"]');
  await page.click("#vm-up");
  await page.waitForSelector("#vm-feedback[data-result]:not([data-result=''])");
  result.closedVote = [await page.getAttribute("#vm-feedback", "data-result"), await page.textContent("#vm-feedback")];

  // Melilla from the searchable list: the server says it is not in the vote.
  await page.fill("#vm-search", "meli");
  await page.press("#vm-search", "Enter");
  result.melillaSelected = await page.textContent("#vm-selected-votes");
  await page.evaluate(() => { document.querySelector("#vm-feedback").dataset.result = ""; });
  await page.click("#vm-down");
  await page.waitForSelector("#vm-feedback[data-result]:not([data-result=''])");
  result.inactiveVote = [await page.getAttribute("#vm-feedback", "data-result"), await page.textContent("#vm-feedback")];

  const present = await newPage(browser, { viewport: { width: 1600, height: 900 } });
  await present.goto(`${BASE_URL}/map/present/`);
  await present.waitForSelector("#vm-map[data-version]", { timeout: 15000 });
  result.presentClosed = await present.isVisible("#vm-closed");
  result.errors = [...page.errors, ...present.errors];
  return result;
});
