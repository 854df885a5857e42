// What one short poll costs Debian's headless Chromium over HTTP/2 and
// TLS, as the server's socket counted it: the calibration of the load
// generator's HTTP/2 client (whose HPACK encoder, h2's, never indexes a
// `cookie` or `:path` value, a policy it takes from nghttp2) against a
// browser's own encoder.
//
//   npm ci --prefix tests/browser
//   PUSHBENCH_BIN=target/release/pushbench node tests/browser/h2-poll-cost.mjs [POLLS] [COOKIE_BYTES]
//
// The page (a document the server served, so same-origin) sets a cookie of
// COOKIE_BYTES (default 256, the `browser` profile's; `session=` then hex,
// as `pushbench_protocol::headers::cookie_value` makes it), then makes
// POLLS (default 50) sequential `fetch("/poll?since=S&client=cal")` calls on
// its one HTTP/2 connection. `/stats?connections=1` before and after gives
// that connection's bytes each way; one more `/stats` call with no poll in
// between measures what a `/stats` call itself adds, which is taken off.
// Prints one JSON line: bytes per poll each way (ciphertext, TLS records
// included, as the load generator's sent/received totals over TLS are).

import { rmSync } from "node:fs";
import { launch, profileDir, startServer, stopServer } from "./chromium.mjs";

const POLLS = Number(process.argv[2] || 50);
const COOKIE_BYTES = Number(process.argv[3] || 256);
const WAIT_MS = 30_000;

function cookieValue(bytes) {
  const name = "session=";
  let value = name.slice(0, Math.min(bytes, name.length));
  while (value.length < bytes) value += "0123456789abcdef"[value.length % 16];
  return value;
}

const { child, url } = await startServer(["--rate", "0", "--tls"]);
const profile = profileDir();
let browser;
try {
  browser = await launch(profile, { timeout: WAIT_MS, ignoreHTTPSErrors: true });
  if (COOKIE_BYTES > 0) {
    const [name, ...rest] = cookieValue(COOKIE_BYTES).split("=");
    await browser.addCookies([{ name, value: rest.join("="), url }]);
  }
  const page = browser.pages()[0] || await browser.newPage();
  await page.goto(url + "/stats", { timeout: WAIT_MS });
  const result = await page.evaluate(async (polls) => {
    const conn = async () => {
      const stats = await (await fetch("/stats?connections=1", { cache: "no-store" })).json();
      // The page's connection: the one the page itself was served on and
      // still open (Chromium keeps one HTTP/2 connection per origin).
      const open = stats.connections.filter((c) => c.open && c.http2);
      return open.reduce((a, c) => ({ read: a.read + c.bytes_read, written: a.written + c.bytes_written }),
        { read: 0, written: 0 });
    };
    const a = await conn();
    const b = await conn();
    for (let i = 0; i < polls; i++) {
      await (await fetch(`/poll?since=0&client=cal`, { cache: "no-store" })).text();
    }
    const c = await conn();
    const statsCall = { read: b.read - a.read, written: b.written - a.written };
    return {
      polls,
      sent_per_poll: (c.read - b.read - statsCall.read) / polls,
      received_per_poll: (c.written - b.written - statsCall.written) / polls,
      stats_call: statsCall,
    };
  }, POLLS);
  console.log(JSON.stringify({ browser: browser.browser()?.version() ?? "chromium", cookie_bytes: COOKIE_BYTES, ...result }));
} finally {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
  await stopServer(child);
}
