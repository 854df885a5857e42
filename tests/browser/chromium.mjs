// What the browser scripts share: `pushbench serve` on a free port and
// Debian's headless chromium launched by playwright-core (no browser
// download) with a fresh profile directory.
//
// Env: PUSHBENCH_BIN (default target/debug/pushbench), CHROMIUM (default
// /usr/bin/chromium).

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = resolve(ROOT, process.env.PUSHBENCH_BIN || "target/debug/pushbench");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Starts `pushbench serve --addr 127.0.0.1:0 ...args`; resolves to { child, url }. */
export function startServer(args) {
  const child = spawn(BIN, ["serve", "--addr", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${BIN} printed no URL within 10 s`)), 10_000);
    child.once("error", (err) => { clearTimeout(timer); reject(new Error(`cannot start ${BIN}: ${err.message}`)); });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${BIN} exited early with ${code}`)); });
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const m = /^pushbench listening on (https?:\/\/\S+)$/.exec(line.trim());
      if (!m) return reject(new Error(`unexpected first line: ${JSON.stringify(line)}`));
      child.removeAllListeners("exit");
      resolvePromise({ child, url: m[1] });
    });
  });
}

/** SIGTERM, then SIGKILL if it lingers; resolves once it is gone. */
export function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => { clearTimeout(kill); resolvePromise(); });
    child.kill("SIGTERM");
  });
}

/** A fresh profile directory (the caller removes it). */
export function profileDir() {
  return mkdtempSync(join(tmpdir(), "pushbench-chromium-"));
}

/** Headless chromium on `profile` (passed as --user-data-dir), with `options`. */
export function launch(profile, options) {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    ...options,
  });
}
