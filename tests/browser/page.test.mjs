// The teaching page in a real browser: Debian's headless chromium, driven by
// playwright-core (no browser download), against `pushbench serve`.
//
//   npm ci --prefix tests/browser
//   PUSHBENCH_BIN=target/debug/pushbench node --test tests/browser/
//
// Env: PUSHBENCH_BIN (default target/debug/pushbench), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT=1 writes docs/images/teaching-page.png.

import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT, launch, profileDir, startServer, stopServer } from "./chromium.mjs";

const TRANSPORTS = ["short-poll", "long-poll", "stream", "sse", "ws"];
const PATHS = { "short-poll": "/poll", "long-poll": "/longpoll", stream: "/stream", sse: "/sse", ws: "/ws" };
/** Events every panel must receive; at 20 events/s that is about a second. */
const WANT_EVENTS = 20;
/** Bound on every wait: CI must fail, not hang. */
const WAIT_MS = 30_000;

/** Every panel's live counters, as the page keeps them in data attributes. */
function readPanels(page) {
  return page.$$eval("[data-transport].panel", (panels) => panels.map((p) => ({
    transport: p.dataset.transport,
    received: Number(p.dataset.received),
    missed: Number(p.dataset.missed),
    bytesDown: p.dataset.bytesDown === "" ? null : Number(p.dataset.bytesDown),
    bytesUp: p.dataset.bytesUp === "" ? null : Number(p.dataset.bytesUp),
    requestHead: p.querySelector('[data-h="request"]').textContent,
    responseHead: p.querySelector('[data-h="response"]').textContent,
  })));
}

test("the teaching page receives every event through all five transports", { timeout: 90_000 }, async () => {
  const { child, url } = await startServer(["--rate", "20"]);
  const profile = profileDir();
  let browser;
  try {
    // A fresh profile directory each run (playwright passes it as --user-data-dir).
    browser = await launch(profile, { timeout: WAIT_MS, viewport: { width: 1480, height: 1000 } });
    const page = browser.pages()[0] || await browser.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await page.goto(url + "/", { timeout: WAIT_MS });

    // Every panel receives, and every panel's byte counts arrive from /stats.
    let panels = [];
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      panels = await readPanels(page);
      const done = panels.length === TRANSPORTS.length &&
        panels.every((p) => p.received >= WANT_EVENTS && p.bytesDown > 0 && p.bytesUp > 0);
      if (done) break;
      if (Date.now() > deadline) {
        assert.fail(`after ${WAIT_MS / 1000} s the panels are not all live: ${JSON.stringify(panels, null, 1)}`);
      }
      await page.waitForTimeout(250);
    }

    assert.deepEqual(panels.map((p) => p.transport).sort(), [...TRANSPORTS].sort());
    for (const p of panels) {
      assert.equal(p.missed, 0, `${p.transport} missed events`);
      // The server-counted bytes (refreshed about once a second, so they may
      // trail the live event count): at least a response head went down.
      assert.ok(p.bytesDown > 100 && p.bytesUp > 50, `${p.transport}: ${p.bytesDown} down, ${p.bytesUp} up`);
      // The head shown is the transport's own request: the page kept the
      // techniques on connections of their own.
      assert.match(p.requestHead, new RegExp(`^GET ${PATHS[p.transport]}\\?`), `${p.transport} request head`);
      assert.match(p.responseHead, /^HTTP\/1\.1 (200|101) /, `${p.transport} response head`);
    }
    assert.deepEqual(errors, [], "no uncaught errors in the page");

    if (process.env.SCREENSHOT === "1") {
      // Let a few more events and a stats round land, for a fuller picture.
      await page.waitForTimeout(4_000);
      const out = join(ROOT, "docs", "images", "teaching-page.png");
      mkdirSync(dirname(out), { recursive: true });
      await page.screenshot({ path: out, fullPage: true });
      console.log(`screenshot: ${out}`);
    }
  } finally {
    if (browser) await browser.close();
    await stopServer(child);
    rmSync(profile, { recursive: true, force: true });
  }
});
