// Captures the request heads Debian's headless chromium sends for each push
// technique, as they crossed the server's socket (`/stats?client=ID`), and
// prints them: the source of the load generator's `--headers browser`
// profile (crates/loadgen/src/headers/chromium.txt).
//
//   npm ci --prefix tests/browser
//   PUSHBENCH_BIN=target/debug/pushbench node tests/browser/capture-heads.mjs
//
// A page the server itself served (`/stats`, so the requests are
// same-origin like a real app's) opens, in order, a WebSocket, an
// EventSource, a streaming fetch and a long poll (each holds its
// connection; `--rate 0` keeps the long poll held), then one short-poll
// fetch, all with default options as an app would write them; each lands on
// a fresh connection, so the server keeps its raw head. A cookie is set for
// the origin first so the Cookie header's place shows.

import { rmSync } from "node:fs";
import { launch, profileDir, startServer, stopServer } from "./chromium.mjs";

const WAIT_MS = 20_000;

// Defined in the page (a document the server itself served, so the page is
// same-origin and in the loopback address space like a local app: a
// document fulfilled by playwright's router counts as public and Chromium's
// local-network-access checks then block the WebSocket).
const SCRIPT = `
window.go = async (step) => {
  // Parks the idle kept-alive connections (the document's, and a socket
  // Chromium may have opened ahead) on unlabelled held requests, so every
  // labelled request below opens a fresh connection and the server keeps
  // its raw head (a reused one shows only the parsed head, which the check
  // below refuses). Six per host: two parked, four labelled ones held.
  if (step === "park") { fetch("/longpoll?timeout=60"); fetch("/longpoll?timeout=60&x=2"); }
  if (step === "ws") window.ws = new WebSocket("ws://" + location.host + "/ws?client=cap-ws");
  if (step === "sse") window.es = new EventSource("/sse?client=cap-sse");
  if (step === "stream") fetch("/stream?client=cap-stream").then((r) => r.body.getReader().read());
  if (step === "long-poll") fetch("/longpoll?timeout=30&client=cap-long-poll");
  if (step === "short-poll") await (await fetch("/poll?client=cap-short-poll")).text();
};`;

const { child, url } = await startServer(["--rate", "0"]);
const profile = profileDir();
let browser;
try {
  browser = await launch(profile, { timeout: WAIT_MS });
  await browser.addCookies([{ name: "session", value: "COOKIE", url }]);
  const page = browser.pages()[0] || await browser.newPage();
  await page.goto(url + "/stats", { timeout: WAIT_MS });
  await page.evaluate(SCRIPT);
  const steps = ["park", "ws", "sse", "stream", "long-poll", "short-poll"];
  for (const step of steps) {
    await page.evaluate((s) => window.go(s), step);
    await page.waitForTimeout(300);
  }
  for (const step of steps.slice(1)) {
    const stats = await (await fetch(`${url}/stats?client=cap-${step}`)).json();
    const conn = (stats.connections || [])[0] || {};
    const head = conn.request_head || "";
    // Chromium writes `Host:`; a parsed head (a reused connection) `host:`.
    if (!head.includes("\r\nHost: ")) {
      throw new Error(`${step}: no raw head captured (a reused connection?): ${JSON.stringify(stats)}`);
    }
    console.log(`## ${step}`);
    console.log(head);
  }
  console.log(`## version\n${browser.browser()?.version() ?? "?"}`);
} finally {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
  await stopServer(child);
}
