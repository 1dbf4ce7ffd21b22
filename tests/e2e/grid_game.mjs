// Two players in the main arena: one presses ArrowRight (or ArrowLeft at the
// right wall), the other page sees the move. Optional screenshots.
import { run, newPage, BASE_URL, PARAMS } from "./browser.mjs";

const arena = PARAMS.arena || "main";

async function joined(page) {
  await page.waitForFunction(() => window.gridGame && window.gridGame.youId && window.gridGame.state, null, { timeout: 15000 });
  return page.evaluate(() => {
    const g = window.gridGame;
    const me = g.state.players.find((p) => p.id === g.youId);
    return { id: g.youId, x: me.x, y: me.y, width: document.querySelectorAll('[role="gridcell"]').length };
  });
}

await run(async (browser) => {
  const viewport = PARAMS.viewport || { width: 1280, height: 800 };
  const a = await newPage(browser, { viewport });
  const b = await newPage(browser, { viewport });
  await a.goto(`${BASE_URL}/game/${arena}/`);
  await b.goto(`${BASE_URL}/game/${arena}/`);
  const youA = await joined(a);
  const youB = await joined(b);
  const cells = youA.width;
  const rows = await a.locator('[role="grid"] [role="row"]').count();
  const columns = await a.evaluate(() => document.querySelectorAll('[role="gridcell"]').length / document.querySelectorAll('[role="row"]').length);
  const key = youA.x < columns - 1 ? "ArrowRight" : "ArrowLeft";
  const expectedX = key === "ArrowRight" ? youA.x + 1 : youA.x - 1;
  await a.locator("#game-board").focus();
  await a.keyboard.press(key);
  // The mover's own page shows it at once (optimistic) and keeps it after the server's state.
  await a.waitForFunction((x) => document.querySelector(".game-cell.is-you")?.dataset.x === String(x), expectedX, { timeout: 15000 });
  // The second page sees the move through the server.
  await b.waitForFunction(
    ([id, x, y]) => {
      const p = window.gridGame.state.players.find((q) => q.id === id);
      return p && p.x === x && p.y === y;
    },
    [youA.id, expectedX, youA.y],
    { timeout: 15000 },
  );
  const cellOnB = await b.evaluate(([x, y]) => {
    const cell = document.querySelector(`.game-cell[data-x="${x}"][data-y="${y}"]`);
    return { hasPlayer: cell.classList.contains("has-player"), label: cell.getAttribute("aria-label") };
  }, [expectedX, youA.y]);
  // WASD and the on-screen buttons move too: each move is waited for in the
  // server's state (down first, unless the bottom wall would stop it).
  const serverAt = (x, y) => a.waitForFunction(([x, y]) => {
    const g = window.gridGame;
    const me = g.state.players.find((p) => p.id === g.youId);
    return me && me.x === x && me.y === y;
  }, [x, y], { timeout: 15000 }).then(() => true, () => false);
  const pad = () => a.locator('.game-pad [data-direction="down"]').click();
  const w = () => a.keyboard.press("w");
  const steps = youA.y < rows - 1 ? [["pad", pad, youA.y + 1], ["w", w, youA.y]] : [["w", w, youA.y - 1], ["pad", pad, youA.y]];
  // The page takes at most one move per MIN_MOVE_MS and ignores the others
  // (nothing is sent): press again until the page shows the move as taken.
  const shownY = () => a.evaluate(() => window.gridGame.shown?.y ?? null);
  async function pressUntilTaken(press, y) {
    for (const deadline = Date.now() + 15000; Date.now() < deadline;) {
      await press();
      if ((await shownY()) === y) return;
      await a.waitForTimeout(50);
    }
  }
  const confirmed = {};
  for (const [name, press, y] of steps) {
    await pressUntilTaken(press, y);
    confirmed[name] = await serverAt(expectedX, y);
  }
  const after = await a.evaluate(() => {
    const g = window.gridGame;
    const me = g.state.players.find((p) => p.id === g.youId);
    return { x: me.x, y: me.y };
  });
  const badge = await a.locator("#connection-badge").getAttribute("data-state");
  if (PARAMS.screenshot) {
    await b.screenshot({ path: PARAMS.screenshot, fullPage: false });
  }
  // A phone: the board fits the screen and a swipe moves the player.
  const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.goto(`${BASE_URL}/game/${arena}/`);
  const youPhone = await joined(phone);
  const phoneFits = await phone.evaluate(() => {
    const r = document.getElementById("game-board").getBoundingClientRect();
    return r.left >= 0 && r.right <= window.innerWidth;
  });
  const swipeRight = youPhone.x < columns - 1;
  await phone.evaluate((dx) => {
    const board = document.getElementById("game-board");
    const r = board.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const touch = (cx) => new Touch({ identifier: 1, target: board, clientX: cx, clientY: y });
    board.dispatchEvent(new TouchEvent("touchstart", { touches: [touch(x)], changedTouches: [touch(x)], bubbles: true }));
    board.dispatchEvent(new TouchEvent("touchend", { touches: [], changedTouches: [touch(x + dx)], bubbles: true }));
  }, swipeRight ? 80 : -80);
  const swipedTo = swipeRight ? youPhone.x + 1 : youPhone.x - 1;
  await phone.waitForFunction(
    ([x]) => {
      const g = window.gridGame;
      const me = g.state.players.find((p) => p.id === g.youId);
      return me && me.x === x;
    },
    [swipedTo],
    { timeout: 15000 },
  );
  const phoneErrors = phone.errors;
  await phone.close();
  if (PARAMS.phoneScreenshot) {
    const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await phone.goto(`${BASE_URL}/game/${arena}/`);
    await joined(phone);
    await phone.screenshot({ path: PARAMS.phoneScreenshot, fullPage: false });
    const fits = await phone.evaluate(() => document.getElementById("game-board").getBoundingClientRect().right <= window.innerWidth);
    if (!fits) throw new Error("the board does not fit a phone screen");
    await phone.close();
  }
  return {
    cells, rows, columns, key, youA, youB, expectedX, cellOnB, confirmed, after, badge, phoneFits,
    swiped: true,
    errors: [...a.errors, ...b.errors, ...phoneErrors],
  };
});
