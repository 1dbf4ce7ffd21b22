// Two browsers chat in one room: each sees the other's messages, the word
// cloud fills in with the words both used, a message made of HTML is shown as
// text with no script run, and two people with one nickname have two tags.
import { BASE_URL, PARAMS, newPage, run } from "./browser.mjs";

const XSS = "<img src=x onerror=alert(1)>";
const BOB_TEXT = `${XSS} mi gato también`;

await run(async (browser) => {
  const alice = await newPage(browser);
  const bob = await newPage(browser);
  const dialogs = [];
  for (const page of [alice, bob]) page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await alice.addInitScript(() => { window.__xss = 0; });
  await bob.addInitScript(() => { window.__xss = 0; });

  // Room list with live counts.
  await alice.goto(`${BASE_URL}/chat/`);
  await alice.waitForSelector('#connection-badge[data-state="connected"]');
  const listLinks = await alice.$$eval(".chat-room-card a", (as) => as.map((a) => a.getAttribute("href")));

  await alice.goto(`${BASE_URL}/chat/cats/`);
  await bob.goto(`${BASE_URL}/chat/cats/`);
  for (const page of [alice, bob]) {
    await page.waitForSelector('#connection-badge[data-state="connected"]');
    await page.waitForFunction(() => document.getElementById("chat-members-count").textContent === "2");
  }

  // Both take the nickname "Alice", then talk.
  for (const page of [alice, bob]) {
    await page.click("#chat-nick-edit");
    await page.fill("#chat-nick-input", "Alice");
    await page.press("#chat-nick-input", "Enter");
    await page.waitForFunction(() => document.getElementById("chat-nickname").textContent === "Alice");
    await page.waitForFunction(() => /^#[0-9a-z]{4}$/.test(document.getElementById("chat-you-tag").textContent));
  }
  const youTags = [
    await alice.textContent("#chat-you-tag"),
    await bob.textContent("#chat-you-tag"),
  ];

  const sendDisabledWhenEmpty = await alice.$eval("#chat-send", (b) => b.disabled);
  await alice.fill("#chat-input", "   ");
  await alice.press("#chat-input", "Enter");
  await alice.fill("#chat-input", "Mi gato persigue ratones, el gato nunca duerme");
  const counter = await alice.textContent("#chat-counter");
  await alice.press("#chat-input", "Enter");
  await bob.waitForFunction(() => [...document.querySelectorAll(".chat-text")].some((p) => p.textContent.includes("persigue ratones")));
  await bob.fill("#chat-input", BOB_TEXT);
  await bob.click("#chat-send");
  await alice.waitForFunction((text) => [...document.querySelectorAll(".chat-text")].some((p) => p.textContent === text), BOB_TEXT);
  await alice.fill("#chat-input", XSS);
  await alice.press("#chat-input", "Enter");
  await bob.waitForFunction((xss) => [...document.querySelectorAll(".chat-text")].some((p) => p.textContent === xss), XSS);

  // The cloud shows "gato" (used by 2 people) and the messages highlight it.
  await bob.waitForSelector(".chat-word", { timeout: 15000 });
  // Trending is pushed at most once a second: wait until the words both used are in it.
  await bob.waitForFunction(() => {
    const words = [...document.querySelectorAll(".chat-word")].map((w) => w.textContent);
    return words.includes("gato") && words.includes("onerror");
  }, null, { timeout: 10000 });
  const cloud = await bob.$$eval(".chat-word", (ws) => ws.map((w) => ({ word: w.textContent, title: w.title })));
  const highlighted = await bob.$$eval(".chat-hl", (ms) => ms.map((m) => m.textContent));

  // Both messages are on both pages before they are compared.
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.querySelectorAll(".chat-text").length >= 2, null, { timeout: 15000 })
      .catch(() => {});
  }
  const result = {
    listLinks,
    sendDisabledWhenEmpty,
    counter,
    aliceTexts: await alice.$$eval(".chat-text", (ps) => ps.map((p) => p.textContent)),
    bobTexts: await bob.$$eval(".chat-text", (ps) => ps.map((p) => p.textContent)),
    bobAuthors: await bob.$$eval(".chat-author", (as) => as.map((a) => a.textContent)),
    bobTags: await bob.$$eval(".chat-meta .chat-tag", (ts) => ts.map((t) => t.textContent)),
    youTags,
    staffBadges: await bob.$$eval(".chat-meta .chat-staff", (bs) => bs.length),
    imgCount: (await alice.$$eval(".chat-messages img", (i) => i.length)) + (await bob.$$eval(".chat-messages img", (i) => i.length)),
    dialogs,
    cloud,
    highlighted,
    errors: [...alice.errors, ...bob.errors],
  };
  if (PARAMS.screenshot) {
    await bob.setViewportSize({ width: 1280, height: 800 });
    await bob.screenshot({ path: PARAMS.screenshot });
  }
  return result;
});
