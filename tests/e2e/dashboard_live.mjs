// The vote map beyond one vote: the presenter view follows the votes of the
// demo bot (`?auto_vote=`), a page that loses its connection converges
// through the snapshot when it comes back and delivers the vote it queued,
// and a staff page resets the votes for everyone.
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

async function open(browser, path, options = {}) {
  const page = await newPage(browser, { viewport: { width: 1280, height: 860 }, ...options });
  await page.goto(`${BASE_URL}${path}`);
  await page.waitForSelector('#connection-badge[data-state="connected"]', { timeout: 15000 });
  await page.waitForSelector("#vm-map[data-version]", { timeout: 15000 });
  return page;
}

await run(async (browser) => {
  const result = {};
  const present = await open(browser, "/map/present/", { viewport: { width: 1920, height: 1080 } });
  result.present = await present.evaluate(() => {
    const qr = document.querySelector("img.vm-qr");
    return {
      paths: document.querySelectorAll(".vm-province").length,
      focusable: document.querySelectorAll(".vm-province[tabindex]").length,
      qrLoaded: qr.complete && qr.naturalWidth > 0,
      qrAlt: qr.alt,
      url: document.querySelector(".vm-join-url").textContent.trim(),
    };
  });

  // The demo bot votes on its own, up and down, and the presenter follows.
  const bot = await open(browser, "/map/?auto_vote=100");
  await bot.waitForFunction(() => window.vmBot && window.vmBot.stats.up >= 5 && window.vmBot.stats.down >= 1,
    null, { timeout: 40000 });
  await bot.click("#vm-bot-toggle"); // pause it
  result.botText = await bot.textContent("#vm-bot-text");
  result.botStats = await bot.evaluate(() => ({ ...window.vmBot.stats, running: window.vmBot.running }));
  // A vote still in flight when the bot paused can land on both pages a little
  // later: wait until the bot's page and the presenter agree on the total.
  const mapTotal = () => bot.evaluate(
    () => [...document.querySelectorAll(".vm-label")].reduce((s, el) => s + Number(el.textContent || 0), 0));
  const presentTotal = () => present.evaluate(() => document.querySelector("[data-vm-total]").textContent);
  let botTotal = await mapTotal();
  let shown = await presentTotal();
  for (const deadline = Date.now() + 20000; shown !== String(botTotal) && Date.now() < deadline;) {
    await bot.waitForTimeout(50);
    botTotal = await mapTotal();
    shown = await presentTotal();
  }
  result.botTotal = botTotal;
  result.presentTotal = shown;
  result.presentTop = await present.$$eval("#vm-top li[data-code]", (lis) => lis.length);
  result.presentViewers = Number(await present.textContent("[data-vm-viewers]"));

  // Offline: the page notices, a vote made meanwhile waits; elsewhere votes go on.
  const a = await open(browser, "/map/");
  const b = await open(browser, "/map/");
  await a.click('.vm-province[data-code="15"]');
  await b.click('.vm-province[data-code="15"]');
  // Start from a count both pages agree on, at the same version (each has its
  // snapshot and every delta so far), so that "+4" below is exact.
  const view = async (page) => [await page.getAttribute("#vm-map", "data-version"),
    await page.textContent('.vm-label[data-code="15"]')];
  for (const deadline = Date.now() + 20000; Date.now() < deadline;) {
    const [va, vb] = [await view(a), await view(b)];
    if (va[0] !== null && va[0] === vb[0] && va[1] === vb[1]) break;
    await a.waitForTimeout(50);
  }
  const start = Number(await a.textContent('.vm-label[data-code="15"]'));
  await a.context().setOffline(true);
  await a.waitForSelector('#connection-badge:not([data-state="connected"])', { timeout: 10000 });
  result.offlineBadge = await a.getAttribute("#connection-badge", "data-state");
  await a.click("#vm-up"); // queued until the connection is back
  for (let i = 0; i < 3; i++) {
    await b.click("#vm-up");
    await b.waitForFunction((n) => window.vmStats.ok === n, i + 1);
  }
  await a.context().setOffline(false);
  await a.waitForSelector('#connection-badge[data-state="connected"]', { timeout: 20000 });
  await a.waitForSelector('#vm-feedback[data-result="ok"]', { timeout: 20000 });
  const converged = (n) => document.querySelector('.vm-label[data-code="15"]').textContent === String(n);
  // Wait for both pages to show the expected count; on a timeout the Python side
  // reports what each page showed instead of a bare timeout.
  for (const page of [a, b]) {
    await page.waitForFunction(converged, start + 4, { timeout: 15000 }).catch(() => {});
  }
  result.afterReconnect = {
    a: Number(await a.textContent('.vm-label[data-code="15"]')),
    b: Number(await b.textContent('.vm-label[data-code="15"]')),
    expected: start + 4,
    aStats: await a.evaluate(() => window.vmStats),
    versions: [await a.getAttribute("#vm-map", "data-version"), await b.getAttribute("#vm-map", "data-version")],
  };

  // Staff: the reset button empties the map for everyone.
  const staff = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  await staff.context().addCookies([{ name: PARAMS.cookieName, value: PARAMS.staffSession, url: BASE_URL }]);
  await staff.goto(`${BASE_URL}/map/`);
  await staff.waitForSelector("#vm-map[data-version]", { timeout: 15000 });
  result.visitorHasReset = (await a.$("#vm-reset")) !== null;
  staff.on("dialog", (dialog) => dialog.accept());
  await staff.click("#vm-reset");
  await staff.waitForSelector('#vm-reset-feedback[data-tone="ok"]', { timeout: 10000 });
  result.resetFeedback = await staff.textContent("#vm-reset-feedback");
  await present.waitForFunction(() => document.querySelector("[data-vm-total]").textContent === "0", null, { timeout: 15000 });
  await a.waitForFunction(() => [...document.querySelectorAll(".vm-label")].every((el) => el.textContent === "0"),
    null, { timeout: 15000 });
  result.presentTopAfterReset = await present.$$eval("#vm-top li[data-code]", (lis) => lis.length);

  result.errors = [present, bot, a, b, staff].flatMap((p) => p.errors)
    // the offline page logs its failed reconnection attempts; anything else counts
    .filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket connection to .* failed/.test(e));
  return result;
});
