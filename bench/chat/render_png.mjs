// Render a local HTML file (a chart) to PNG with Debian's Chromium.
import { chromium } from "playwright-core";

const [, , input, output] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 460 } });
  await page.goto(`file://${input}`);
  await page.screenshot({ path: output });
} finally {
  await browser.close();
}
