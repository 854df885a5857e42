// What the Node suites share: a `pushbench serve` child and bounded waits.
// (Not a test file: `node --test node/` runs only `*.test.mjs`.)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts `pushbench serve --addr 127.0.0.1:0 ARGS` ($PUSHBENCH_BIN) and reads
 * its address from the first stdout line (`http://` or, with `--tls`,
 * `https://`).
 */
export async function startServer(...args) {
  const bin = process.env.PUSHBENCH_BIN;
  if (!bin) throw new Error('set PUSHBENCH_BIN to the pushbench binary');
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await withTimeout(once(lines, 'line'), 20000, 'pushbench serve to print its address');
  const match = /^pushbench listening on (https?):\/\/(.+)$/.exec(first[0]);
  assert.ok(match, `unexpected first line: ${first[0]}`);
  const [, scheme, addr] = match;
  const ws = scheme === 'https' ? 'wss' : 'ws';
  return {
    child,
    addr,
    origin: `${scheme}://${addr}`,
    url: (path) => `${ws}://${addr}${path}`,
    terminate: () => child.exitCode === null && child.kill('SIGTERM'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const [code] = await once(child, 'exit');
      clearTimeout(timer);
      return code;
    },
  };
}
