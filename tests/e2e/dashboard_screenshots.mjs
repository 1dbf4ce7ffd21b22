// Screenshots of the vote map for the README (docs/img/screenshot-map*.png),
// taken from a running server that already has some votes:
//   BASE_URL=http://127.0.0.1:8000 node tests/e2e/dashboard_screenshots.mjs
// E2E_PARAMS='{"outDir": "..."}' changes where they go (default docs/img).
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

const outDir = PARAMS.outDir || new URL("../../docs/img/", import.meta.url).pathname;

async function openMap(browser, path, options) {
  const page = await newPage(browser, options);
  await page.goto(`${BASE_URL}${path}`);
  await page.waitForSelector('#connection-badge[data-state="connected"]', { timeout: 15000 });
  await page.waitForSelector("#vm-map[data-version]", { timeout: 15000 });
  await page.waitForTimeout(800);
  return page;
}

await run(async (browser) => {
  const shots = [];

  // Desktop: Madrid selected, a vote just counted (its flash running), a tooltip.
  const desk = await openMap(browser, "/map/", { viewport: { width: 1366, height: 900 } });
  await desk.click('.vm-province[data-code="28"]');
  await desk.click("#vm-up");
  await desk.waitForSelector('#vm-feedback[data-result="ok"]');
  await desk.hover('.vm-label[data-code="41"]', { force: true }).catch(() => {});
  const sevilla = await desk.evaluate(() => {
    const r = document.querySelector('.vm-label[data-code="41"]').getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 + 12 };
  });
  await desk.mouse.move(sevilla.x, sevilla.y);
  await desk.waitForTimeout(150);
  await desk.screenshot({ path: `${outDir}screenshot-map.png` });
  shots.push("screenshot-map.png");

  // Phone: map on top, controls below.
  const phone = await openMap(browser, "/map/", {
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const spot = await phone.evaluate(() => {
    const r = document.querySelector('.vm-label[data-code="08"]').getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 + 8 };
  });
  await phone.touchscreen.tap(spot.x, spot.y);
  await phone.tap("#vm-up");
  await phone.waitForSelector('#vm-feedback[data-result="ok"]');
  await phone.screenshot({ path: `${outDir}screenshot-map-phone.png`, fullPage: true });
  shots.push("screenshot-map-phone.png");

  // Presenter view on a projector-sized screen.
  const present = await openMap(browser, "/map/present/", { viewport: { width: 1920, height: 1080 } });
  await present.screenshot({ path: `${outDir}screenshot-map-present.png` });
  shots.push("screenshot-map-present.png");

  return { shots, errors: [desk, phone, present].flatMap((p) => p.errors) };
});
