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

/**
 * Waits (at most WAIT_MS) until all five panels have WANT_EVENTS events and
 * meet `also`; their state then.
 */
async function livePanels(page, also) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const panels = await readPanels(page);
    const done = panels.length === TRANSPORTS.length &&
      panels.every((p) => p.received >= WANT_EVENTS && also(p));
    if (done) return panels;
    if (Date.now() > deadline) {
      assert.fail(`after ${WAIT_MS / 1000} s the panels are not all live: ${JSON.stringify(panels, null, 1)}`);
    }
    await page.waitForTimeout(250);
  }
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
    const panels = await livePanels(page, (p) => p.bytesDown > 0 && p.bytesUp > 0);

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

// The same page over HTTPS, where Chromium negotiates HTTP/2 by ALPN and
// carries every technique over it: fetches and EventSource as streams, and
// the WebSocket as an extended CONNECT (RFC 8441), because the server
// announces SETTINGS_ENABLE_CONNECT_PROTOCOL. The certificate is the
// server's self-signed one, made at start, so the context ignores HTTPS
// errors (loopback only).
test("over HTTPS the page runs every transport on HTTP/2, the WebSocket by extended CONNECT", { timeout: 90_000 }, async () => {
  const { child, url } = await startServer(["--rate", "20", "--tls"]);
  assert.match(url, /^https:\/\//);
  const profile = profileDir();
  let browser;
  try {
    browser = await launch(profile, { timeout: WAIT_MS, ignoreHTTPSErrors: true });
    const page = browser.pages()[0] || await browser.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await page.goto(url + "/", { timeout: WAIT_MS });
    const panels = await livePanels(page, () => true);
    for (const p of panels) assert.equal(p.missed, 0, `${p.transport} missed events`);
    // Every connection that carried a request is HTTP/2 over TLS. Over
    // HTTP/2 one connection carries several techniques (its `transport` is
    // the first route it served, its label the latest request's), so a
    // WebSocket that had fallen back to HTTP/1.1 would show as a connection
    // of its own, tagged `ws`, without `http2`.
    const stats = await page.evaluate(async () => (await fetch("/stats?connections=1", { cache: "no-store" })).json());
    const used = (stats.connections || []).filter((c) => c.transport);
    assert.ok(used.length > 0, "connections in /stats");
    for (const c of used) {
      assert.equal(c.tls, true, `TLS: ${JSON.stringify(c)}`);
      assert.equal(c.http2, true, `HTTP/2: ${JSON.stringify(c)}`);
    }
    assert.deepEqual(errors, [], "no uncaught errors in the page");
  } finally {
    if (browser) await browser.close();
    await stopServer(child);
    rmSync(profile, { recursive: true, force: true });
  }
});
