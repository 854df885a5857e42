// WebSocket over HTTP/2 (RFC 8441) against `/ws`, driven by Node's own
// `node:http2` client, a peer nobody here wrote: the server must announce
// SETTINGS_ENABLE_CONNECT_PROTOCOL, accept an extended CONNECT with
// `:protocol websocket` (h2c with prior knowledge, and over TLS with ALPN
// `h2`), answer 200, and then carry RFC 6455 frames in the stream's DATA:
// events downstream, the close handshake both ways. Frames are built with
// ws's `Sender.frame` and parsed with ws's `Receiver`, which validates the
// server's side. Malformed extended CONNECTs get a 4xx, never a hang.
//
// Every wait is bounded by TIMEOUT_MS and every loop by a message count.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Receiver, Sender } from 'ws';

import { startServer, withTimeout } from './pushbench.mjs';

const TIMEOUT_MS = 5000;
const EVENTS = 3;

const certDir = mkdtempSync(join(tmpdir(), 'pushbench-h2-'));
const certFile = join(certDir, 'cert.pem');
let server;
before(async () => {
  server = await startServer('--rate', '50', '--payload', '16', '--tls', '--tls-cert-out', certFile);
});
after(async () => {
  await server?.stop();
});

/** An HTTP/2 session, h2c (prior knowledge) or TLS (ALPN h2, the pinned cert). */
async function session(tls) {
  const client = tls
    ? http2.connect(`https://${server.addr}`, { ca: readFileSync(certFile) })
    : http2.connect(`http://${server.addr}`);
  client.on('error', () => {});
  const [settings] = await withTimeout(once(client, 'remoteSettings'), TIMEOUT_MS, 'SETTINGS');
  return { client, settings };
}

/**
 * Opens an extended CONNECT stream with `changes` applied to the usual
 * headers (a `null` value leaves a header out); resolves with the stream
 * and its response headers.
 */
async function connect(client, changes) {
  const headers = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': '/ws?since=0',
    'sec-websocket-version': '13',
    ...changes,
  };
  for (const [name, value] of Object.entries(headers)) if (value === null) delete headers[name];
  const stream = client.request(headers);
  stream.on('error', () => {});
  const [response] = await withTimeout(once(stream, 'response'), TIMEOUT_MS, 'the response');
  return { stream, response };
}

for (const tls of [false, true]) {
  const name = tls ? 'h2 over TLS (ALPN)' : 'h2c (prior knowledge)';

  test(`${name}: extended CONNECT to /ws carries events and the close handshake`, async () => {
    const { client, settings } = await session(tls);
    try {
      assert.equal(settings.enableConnectProtocol, true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL');
      if (tls) assert.equal(client.alpnProtocol, 'h2');
      const { stream, response } = await connect(client, {});
      assert.equal(response[':status'], 200);
      assert.equal(response['sec-websocket-accept'], undefined, 'no RFC 6455 accept key over h2');

      const receiver = new Receiver({ isServer: false, maxPayload: 1 << 20 });
      const messages = [];
      let closed = null;
      const gotEvents = new Promise((resolve) => {
        receiver.on('message', (data) => {
          messages.push(JSON.parse(data.toString()));
          if (messages.length === EVENTS) resolve();
        });
      });
      const gotClose = new Promise((resolve) => {
        receiver.on('conclude', (code) => {
          closed = code;
          resolve();
        });
      });
      stream.on('data', (chunk) => receiver.write(chunk));
      await withTimeout(gotEvents, TIMEOUT_MS, `${EVENTS} events`);
      const seqs = messages.map((m) => m.seq);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `seqs ${seqs}`);
      assert.ok(messages.every((m) => typeof m.payload === 'string' && m.payload.length === 16));

      // A masked close frame (1000) from the client; the server answers
      // with its own close and ends the stream.
      const code = Buffer.alloc(2);
      code.writeUInt16BE(1000);
      stream.write(Buffer.concat(Sender.frame(code, { fin: true, opcode: 8, mask: true, readOnly: false })));
      await withTimeout(gotClose, TIMEOUT_MS, "the server's close frame");
      assert.equal(closed, 1000);
      stream.end();
    } finally {
      client.close();
    }
  });

  test(`${name}: malformed extended CONNECTs get a 4xx`, async () => {
    const { client } = await session(tls);
    try {
      for (const [why, headers] of [
        ['no sec-websocket-version', { 'sec-websocket-version': null }],
        ['sec-websocket-version 8', { 'sec-websocket-version': '8' }],
        ['a foreign origin', { origin: 'http://evil.example' }],
      ]) {
        const { stream, response } = await connect(client, headers);
        const status = response[':status'];
        assert.ok(status >= 400 && status < 500, `${why}: status ${status}`);
        stream.close();
      }
    } finally {
      client.close();
    }
  });
}
