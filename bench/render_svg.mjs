// Renders an SVG chart string to a PNG with Debian's Chromium (playwright-core),
// so the benchmark charts need no plotting library.
import { chromium } from "playwright-core";

export async function renderSvgToPng(svg, { width, height, out }) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.locator("svg").screenshot({ path: out });
  } finally {
    await browser.close();
  }
}
