// Screenshots for the README: a few demo-bot players and one human view.
// node tests/e2e/grid_game_screenshot.mjs with BASE_URL and E2E_PARAMS
// {"out": "docs/img/screenshot-game.png", "bots": 5, "phone": "docs/img/screenshot-game-phone.png"}
import { run, newPage, BASE_URL, PARAMS } from "./browser.mjs";

await run(async (browser) => {
  const arena = PARAMS.arena || "main";
  const names = ["Lucía", "Marco", "Sofía", "Hugo", "Daniela", "Pablo", "Nora"];
  const bots = [];
  for (let i = 0; i < (PARAMS.bots ?? 5); i += 1) {
    const page = await newPage(browser, { viewport: { width: 800, height: 600 } });
    await page.addInitScript((name) => localStorage.setItem("grid_game.name", name), names[i % names.length]);
    await page.goto(`${BASE_URL}/game/${arena}/?auto_move=${250 + i * 40}`);
    bots.push(page);
  }
  const me = await newPage(browser, { viewport: { width: 1280, height: 760 } });
  await me.addInitScript(() => localStorage.setItem("grid_game.name", "You"));
  await me.goto(`${BASE_URL}/game/${arena}/?auto_move=300`);
  await me.waitForFunction(() => window.gridGame && window.gridGame.youId, null, { timeout: 15000 });
  await me.waitForTimeout(PARAMS.wait ?? 6000);
  await me.screenshot({ path: PARAMS.out || "docs/img/screenshot-game.png" });
  if (PARAMS.phone) {
    const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await phone.goto(`${BASE_URL}/game/${arena}/`);
    await phone.waitForFunction(() => window.gridGame && window.gridGame.youId, null, { timeout: 15000 });
    await phone.waitForTimeout(1500);
    await phone.screenshot({ path: PARAMS.phone });
  }
  if (PARAMS.index) {
    const list = await newPage(browser, { viewport: { width: 1000, height: 600 } });
    await list.goto(`${BASE_URL}/game/`);
    await list.waitForTimeout(1500);
    await list.screenshot({ path: PARAMS.index });
  }
  return { errors: [me, ...bots].flatMap((p) => p.errors) };
});
