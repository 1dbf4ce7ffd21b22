// Shared launcher for browser tests: Debian's Chromium through playwright-core
// (never a downloaded browser), with the flags this network-less machine needs.
import { chromium } from "playwright-core";

export const BASE_URL = process.env.BASE_URL;
export const PARAMS = JSON.parse(process.env.E2E_PARAMS || "{}");

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

// A page that records console errors and uncaught exceptions.
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ locale: "en-US", ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on("console", (msg) => { if (msg.type() === "error") page.errors.push(msg.text()); });
  page.on("pageerror", (err) => page.errors.push(String(err)));
  return page;
}

// Run `body(browser)`, print its result as the last line of JSON, exit non-zero on error.
export async function run(body) {
  const browser = await launch();
  try {
    const result = await body(browser);
    console.log(JSON.stringify(result ?? {}));
  } catch (err) {
    console.error(err && err.stack ? err.stack : String(err));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
