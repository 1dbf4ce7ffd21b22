// Two pages of the vote map: the map is drawn (52 provinces, the Canary
// Islands inside the visible SVG), a vote in one page shows in the other,
// changed provinces flash (green up, red down), votes work from the buttons,
// the searchable list and the keyboard, every vote gets feedback from its ack.
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

const sel = (code) => `.vm-province[data-code="${code}"]`;
const label = (page, code) => page.textContent(`.vm-label[data-code="${code}"]`);

async function openMap(browser, options) {
  const page = await newPage(browser, options);
  await page.goto(`${BASE_URL}/map/`);
  await page.waitForSelector('#connection-badge[data-state="connected"]', { timeout: 15000 });
  await page.waitForSelector("#vm-map[data-version]", { timeout: 15000 });
  return page;
}

// Record every flash class added to a province, in the page itself.
async function recordFlashes(page) {
  await page.evaluate(() => {
    window.flashLog = [];
    new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target;
        for (const cls of ["vm-flash-up", "vm-flash-down"]) {
          if (el.classList.contains(cls) && !(r.oldValue || "").split(" ").includes(cls)) {
            window.flashLog.push({ code: el.dataset.code, cls });
          }
        }
      }
    }).observe(document.querySelector(".vm-provinces"), {
      subtree: true, attributes: true, attributeFilter: ["class"], attributeOldValue: true,
    });
  });
}

await run(async (browser) => {
  const a = await openMap(browser, { viewport: { width: 1280, height: 860 } });
  const b = await openMap(browser, { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true }); // a phone
  const result = {};

  // The map: 52 provinces, no Gibraltar, the Canary Islands inside the SVG.
  result.map = await b.evaluate(() => {
    const svg = document.querySelector(".vm-svg").getBoundingClientRect();
    const paths = [...document.querySelectorAll(".vm-province")];
    const inside = (code) => {
      const r = document.querySelector(`.vm-province[data-code="${code}"]`).getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.left >= svg.left && r.right <= svg.right
        && r.top >= svg.top && r.bottom <= svg.bottom && r.right <= window.innerWidth;
    };
    return {
      paths: paths.length,
      codes: paths.map((p) => p.dataset.code).sort(),
      focusable: paths.filter((p) => p.hasAttribute("tabindex") && p.getAttribute("aria-label")).length,
      tabStops: paths.filter((p) => p.getAttribute("tabindex") === "0").length,
      labels: document.querySelectorAll(".vm-label").length,
      canaryInside: inside("35") && inside("38"),
      svgWidth: svg.width,
      viewport: window.innerWidth,
      insetBorder: Boolean(document.querySelector(".vm-inset-border")?.getAttribute("d")),
      legend: document.querySelectorAll("#vm-legend li").length,
    };
  });

  await recordFlashes(b);
  const before = Number(await label(b, "28"));

  // Vote up for Madrid by clicking the map and the thumbs-up button; page B
  // shows the new count (a generous deadline: this checks that the update
  // arrives, not how fast; the speed is measured by bench/dashboard).
  await a.click(sel("28"));
  result.selectedName = await a.textContent("#vm-selected-name");
  await a.click("#vm-up");
  await b.waitForFunction(
    (n) => document.querySelector('.vm-label[data-code="28"]').textContent === String(n),
    before + 1, { timeout: 15000 },
  );
  await a.waitForSelector('#vm-feedback[data-result="ok"]');
  result.upFeedback = await a.textContent("#vm-feedback");

  // Down from the keyboard: focus Madrid on the map, the tooltip shows, ArrowDown votes.
  await a.focus(sel("28"));
  result.tooltip = await a.evaluate(() => {
    const tip = document.querySelector(".vm-tooltip");
    return tip.hidden ? null : tip.textContent;
  });
  await a.evaluate(() => { document.querySelector("#vm-feedback").dataset.result = ""; });
  await a.keyboard.press("ArrowRight"); // the next province by name...
  result.afterArrowRight = await a.evaluate(() => document.activeElement.dataset.code);
  await a.keyboard.press("ArrowLeft"); // ...and back to Madrid
  result.afterArrowLeft = await a.evaluate(() => document.activeElement.dataset.code);
  await a.keyboard.press("ArrowDown");
  await a.waitForSelector('#vm-feedback[data-result="ok"]');
  await b.waitForFunction(
    (n) => document.querySelector('.vm-label[data-code="28"]').textContent === String(n), before, { timeout: 15000 },
  );

  // The searchable list: type, pick with the keyboard, vote with ArrowUp.
  await a.fill("#vm-search", "barc");
  result.visibleOptions = await a.$$eval("#vm-list li:not([hidden])", (lis) => lis.map((li) => li.dataset.code));
  await a.press("#vm-search", "ArrowDown");
  await a.press("#vm-search", "Enter");
  result.selectedFromList = await a.textContent("#vm-selected-name");
  const barcelona = Number(await label(b, "08"));
  result.focusAfterPick = await a.evaluate(() => document.activeElement.id);
  await a.evaluate(() => { document.querySelector("#vm-feedback").dataset.result = ""; });
  await a.keyboard.press("ArrowUp");
  await a.waitForSelector('#vm-feedback[data-result="ok"]');
  await b.waitForFunction(
    (n) => document.querySelector('.vm-label[data-code="08"]').textContent === String(n), barcelona + 1,
    { timeout: 15000 },
  );

  // Several provinces change in one go: all of them flash together.
  const trio = ["33", "39", "48"];
  const trioBefore = await b.evaluate((codes) => codes.map((c) =>
    Number(document.querySelector(`.vm-label[data-code="${c}"]`).textContent)), trio);
  await a.evaluate((codes) => {
    for (const c of codes) {
      document.querySelector(`.vm-province[data-code="${c}"]`).dispatchEvent(new MouseEvent("click", { bubbles: true }));
      document.querySelector("#vm-up").click();
    }
  }, trio);
  await b.waitForFunction(([codes, before]) => codes.every((c, i) =>
    document.querySelector(`.vm-label[data-code="${c}"]`).textContent === String(before[i] + 1)), [trio, trioBefore]);
  result.trioAnimating = await b.evaluate((codes) => codes.filter((c) =>
    document.querySelector(`.vm-province[data-code="${c}"]`).getAnimations()
      .some((an) => an.animationName === "vm-flash-up" && an.playState === "running")), trio);

  // A tap on the phone page votes too (Las Palmas, in the inset).
  // (an archipelago: tap where its number is, on its largest island)
  const spot = await b.evaluate(() => {
    const el = document.querySelector('.vm-label[data-code="35"]');
    el.scrollIntoView({ block: "center" });
    const r = el.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  });
  await b.touchscreen.tap(spot.x, spot.y);
  result.tappedName = await b.textContent("#vm-selected-name");
  const palmas = Number(await label(a, "35"));
  await b.tap("#vm-up");
  await b.waitForSelector('#vm-feedback[data-result="ok"]');
  await a.waitForFunction(
    (n) => document.querySelector('.vm-label[data-code="35"]').textContent === String(n), palmas + 1,
    { timeout: 15000 },
  );

  // A burst past the rate limit: some votes are refused with a retry time,
  // and the pages still agree with each other afterwards.
  await a.click(sel("41"));
  await a.waitForFunction(() => window.vmStats.sent >= 6); // every earlier ack is in
  const okBefore = await a.evaluate(() => window.vmStats.ok);
  const acks = await a.evaluate(async () => {
    const seen = [];
    const feedback = document.querySelector("#vm-feedback");
    const observer = new MutationObserver(() => seen.push([feedback.dataset.result, feedback.textContent]));
    observer.observe(feedback, { attributes: true, attributeFilter: ["data-result"], childList: true });
    const sent = window.vmStats.sent;
    for (let i = 0; i < 40; i++) document.querySelector("#vm-up").click();
    // every one of the 40 votes has its ack (accepted or refused)
    const deadline = Date.now() + 20000;
    while (window.vmStats.sent < sent + 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    observer.disconnect();
    return seen;
  });
  result.limitedFeedback = acks.filter(([r]) => r === "rate_limited").map(([, t]) => t).slice(0, 1);
  await a.waitForFunction(() => window.vmStats.sent >= 46, null, { timeout: 20000 });
  result.okAcks = (await a.evaluate(() => window.vmStats.ok)) - okBefore;
  result.rejected = await a.evaluate(() => window.vmStats.rejected);
  // Both pages show Sevilla's count once the last delta has landed (Sevilla had no votes before).
  const shows = (n) => document.querySelector('.vm-label[data-code="41"]').textContent === String(n);
  await a.waitForFunction(shows, result.okAcks, { timeout: 15000 }).catch(() => {});
  await b.waitForFunction(shows, result.okAcks, { timeout: 15000 }).catch(() => {});
  result.sevilla = [await label(a, "41"), await label(b, "41")];

  // Keyboard only, from the top of a fresh page: Tab reaches the map in one
  // stop, Enter picks the province, ArrowUp votes.
  const c = await openMap(browser, { viewport: { width: 1280, height: 860 } });
  let tabs = 0;
  while (tabs < 30) {
    await c.keyboard.press("Tab");
    tabs += 1;
    if (await c.evaluate(() => document.activeElement.classList.contains("vm-province"))) break;
  }
  result.keyboardOnly = { tabs, province: await c.evaluate(() => document.activeElement.dataset.code) };
  await c.keyboard.press("Enter");
  await c.keyboard.press("ArrowUp");
  await c.waitForSelector('#vm-feedback[data-result="ok"]');
  result.keyboardOnly.feedback = await c.textContent("#vm-feedback");
  await c.keyboard.press("Tab");
  result.keyboardOnly.afterMap = await c.evaluate(() => document.activeElement.id);
  await c.close();

  const flashes = await b.evaluate(() => window.flashLog);
  result.flashed = {
    up28: flashes.some((f) => f.code === "28" && f.cls === "vm-flash-up"),
    down28: flashes.some((f) => f.code === "28" && f.cls === "vm-flash-down"),
    up08: flashes.some((f) => f.code === "08" && f.cls === "vm-flash-up"),
    up41: flashes.filter((f) => f.code === "41" && f.cls === "vm-flash-up").length,
  };
  result.top = await b.$$eval("#vm-top li", (lis) => lis.map((li) => li.dataset.code));
  result.viewers = await a.textContent("[data-vm-viewers]");
  result.errors = [...a.errors, ...b.errors, ...c.errors];
  return result;
});
