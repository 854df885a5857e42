// RFC 6455 edge cases against `/echo` and `/ws`, driven by Node's `ws`.
//
// Well-formed traffic goes through ws's public API (including `send(data,
// { fin: false })` for fragments). Malformed frames are built with ws's own
// framing, `Sender.frame(data, { opcode, fin, mask, rsv1 })`, with the first
// header byte patched where `frame` has no option for it (RSV2/RSV3), and
// written to the connection's socket. The server's close frame is read back
// through ws, whose receiver validates the server's side of the exchange.
//
// The case names match the Python suite's, so the two tables line up.
// `CONFORMANCE_MARKDOWN=results-node.md node --test node/` writes the table.
//
// Every wait is bounded by TIMEOUT_MS and every loop by a message count.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync, readFileSync } from 'node:fs';
import WebSocket, { Sender } from 'ws';

import { startServer, withTimeout } from './pushbench.mjs';

const TIMEOUT_MS = 5000;
const MAX_PAYLOAD = 131072;
const SIZES = [0, 125, 126, 127, 65535, 65536];
const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

let server;
before(async () => {
  server = await startServer(
    '--rate', '50', '--payload', '16',
    '--max-payload', String(MAX_PAYLOAD), '--max-frame', String(MAX_PAYLOAD),
  );
});
after(async () => {
  await server?.stop();
});

// --- helpers ---------------------------------------------------------------------

/** A client connection with an inbox, so no message or close is missed. */
class Peer {
  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.waiters = [];
    this.errors = [];
    ws.on('message', (data, isBinary) => this.push({ data, isBinary }));
    ws.on('error', (err) => this.errors.push(err));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString(), frameReceived: ws._closeFrameReceived });
        this.push(null);
      });
    });
  }

  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.inbox.push(item);
  }

  /** The next message ({ data, isBinary }); fails on close or timeout. */
  async next() {
    const item = this.inbox.length
      ? this.inbox.shift()
      : await withTimeout(new Promise((r) => this.waiters.push(r)), TIMEOUT_MS, 'a message');
    if (item === null) throw new Error(`closed before a message: ${JSON.stringify(await this.closed)}`);
    return item;
  }

  /** Writes raw bytes below ws, as if ws had framed them. */
  raw(...frames) {
    this.ws._socket.write(Buffer.concat(frames));
  }

  /** The close code the server sent (1006 if it sent no close frame). */
  async closeCode() {
    const closed = await withTimeout(this.closed, TIMEOUT_MS, 'the close');
    if (!closed.frameReceived) {
      throw new Error(`the server closed TCP without a close frame (${this.errors.join('; ')})`);
    }
    return closed.code;
  }
}

/** An open connection; `onUpgrade` sees the server's 101 response. */
async function open(url, { perMessageDeflate = false, onUpgrade } = {}) {
  const ws = new WebSocket(url, { perMessageDeflate, maxPayload: 0 });
  if (onUpgrade) ws.once('upgrade', onUpgrade);
  const peer = new Peer(ws);
  await withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    TIMEOUT_MS,
    `the upgrade of ${url}`,
  );
  return peer;
}

function frame(opcode, data, { fin = true, mask = true, rsv1 = false } = {}) {
  const payload = Buffer.from(data); // a copy: frame() masks in place
  return Buffer.concat(Sender.frame(payload, { opcode, fin, mask, rsv1, readOnly: false }));
}

function patch(raw, { setBits = 0, clearBits = 0, opcode } = {}) {
  const out = Buffer.from(raw);
  out[0] = (out[0] | setBits) & ~clearBits & 0xff;
  if (opcode !== undefined) out[0] = (out[0] & 0xf0) | opcode;
  return out;
}

function u16(code) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return b;
}

async function violation(path, ...frames) {
  const peer = await open(server.url(path));
  peer.raw(...frames);
  return peer.closeCode();
}

async function echoOnce(message, options) {
  const peer = await open(server.url('/echo'));
  peer.ws.send(message, options);
  const got = await peer.next();
  peer.ws.close();
  return got;
}

// --- cases with expected / observed, for the table ---------------------------

const rows = [];

/** A named case: `body` returns what it observed, and asserts. */
function conformance(name, expected, body) {
  test(name, { timeout: 30000 }, async () => {
    const row = { name, expected, observed: '', result: 'fail' };
    rows.push(row);
    const observe = (what) => {
      row.observed = what;
    };
    await body(observe);
    row.result = 'pass';
  });
}

function expectClose(observe, code, expected) {
  observe(`close ${code}`);
  assert.equal(code, expected);
}

after(() => {
  const target = process.env.CONFORMANCE_MARKDOWN;
  if (!target) return;
  const version = JSON.parse(readFileSync(new URL('../node_modules/ws/package.json', import.meta.url))).version;
  const passed = rows.filter((r) => r.result === 'pass').length;
  const lines = [
    `Node ${process.version}, ws ${version}: ${passed} passed, ${rows.length - passed} failed`,
    '',
    '| case | expected | observed | result |',
    '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.name}\` | ${r.expected} | ${r.observed} | ${r.result === 'pass' ? 'pass' : '**FAILED**'} |`),
  ];
  writeFileSync(target, lines.join('\n') + '\n');
});

// --- echo ----------------------------------------------------------------------------

for (const size of SIZES) {
  conformance(`test_echo_text[${size}]`, 'echoed as one text message', async (observe) => {
    const message = 'é'.repeat(Math.floor(size / 2)) + 'a'.repeat(size % 2);
    assert.equal(Buffer.byteLength(message), size);
    const got = await echoOnce(message);
    observe(got.isBinary ? 'binary' : `text, ${got.data.length} bytes`);
    assert.equal(got.isBinary, false);
    assert.equal(got.data.toString(), message);
  });
}

for (const size of SIZES) {
  conformance(`test_echo_binary[${size}]`, 'echoed as one binary message', async (observe) => {
    const message = randomBytes(size);
    const got = await echoOnce(message);
    observe(got.isBinary ? `binary, ${got.data.length} bytes` : 'text');
    assert.equal(got.isBinary, true);
    assert.deepEqual(got.data, message);
  });
}

// --- fragmentation ---------------------------------------------------------------------

conformance('test_fragmented_text', '3 text fragments echoed as the whole message', async (observe) => {
  const peer = await open(server.url('/echo'));
  peer.ws.send('frag', { fin: false, binary: false });
  peer.ws.send('ment', { fin: false, binary: false });
  peer.ws.send('ed', { fin: true, binary: false });
  const got = await peer.next();
  observe(JSON.stringify(got.data.toString()));
  assert.equal(got.isBinary, false);
  assert.equal(got.data.toString(), 'fragmented');
  peer.ws.close();
});

conformance('test_fragmented_binary', '3 binary fragments echoed as the whole message', async (observe) => {
  const peer = await open(server.url('/echo'));
  peer.ws.send(Buffer.from([0, 1]), { fin: false, binary: true });
  peer.ws.send(Buffer.from([2]), { fin: false, binary: true });
  peer.ws.send(Buffer.from([3, 255]), { fin: true, binary: true });
  const got = await peer.next();
  observe(got.data.toString('hex'));
  assert.equal(got.isBinary, true);
  assert.deepEqual(got.data, Buffer.from([0, 1, 2, 3, 255]));
  peer.ws.close();
});

conformance(
  'test_fragmented_utf8_split_codepoint',
  'echoed (a code point split across fragments is valid)',
  async (observe) => {
    const euro = Buffer.from('€');
    const peer = await open(server.url('/echo'));
    peer.raw(
      frame(OP.TEXT, Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]), { fin: false }),
      frame(OP.CONT, Buffer.concat([euro.subarray(1), Buffer.from('b')])),
    );
    const got = await peer.next();
    observe(JSON.stringify(got.data.toString()));
    assert.equal(got.data.toString(), 'a€b');
    peer.ws.close();
  },
);

conformance(
  'test_ping_between_fragments',
  "pong with the ping's payload, then the whole message",
  async (observe) => {
    const peer = await open(server.url('/echo'));
    const pong = once(peer.ws, 'pong');
    peer.ws.send('before-', { fin: false, binary: false });
    peer.ws.ping('between');
    peer.ws.send('after', { fin: true, binary: false });
    const [pongData] = await withTimeout(pong, TIMEOUT_MS, 'the pong');
    assert.equal(pongData.toString(), 'between');
    const got = await peer.next();
    observe(`pong, then ${JSON.stringify(got.data.toString())}`);
    assert.equal(got.data.toString(), 'before-after');
    peer.ws.close();
  },
);

// --- ping / pong -------------------------------------------------------------------------

for (const size of [0, 1, 125]) {
  conformance(`test_ping_payload[${size}]`, 'pong with the same payload', async (observe) => {
    const peer = await open(server.url('/echo'));
    const payload = randomBytes(size);
    const pong = once(peer.ws, 'pong');
    peer.ws.ping(payload);
    const [got] = await withTimeout(pong, TIMEOUT_MS, 'the pong');
    observe(`pong, ${got.length} bytes`);
    assert.deepEqual(got, payload);
    peer.ws.close();
  });
}

conformance('test_unsolicited_pong', 'ignored; the connection goes on', async (observe) => {
  const peer = await open(server.url('/echo'));
  peer.ws.pong('unasked');
  peer.ws.send('still here');
  const got = await peer.next();
  observe(JSON.stringify(got.data.toString()));
  assert.equal(got.data.toString(), 'still here');
  peer.ws.close();
});

// --- close handshake ---------------------------------------------------------------------------

for (const path of ['/echo', '/ws']) {
  for (const [code, reason] of [[1000, ''], [4000, 'bye']]) {
    conformance(
      `test_client_close[${path}-${code}-${reason}]`,
      'server answers the close (same code, or 1000)',
      async (observe) => {
        const peer = await open(server.url(path));
        peer.ws.close(code, reason);
        const closed = await withTimeout(peer.closed, TIMEOUT_MS, 'the close');
        observe(`close ${closed.code} ${JSON.stringify(closed.reason)}`);
        assert.ok(closed.frameReceived, 'the server answered with a close frame');
        assert.ok([code, 1000].includes(closed.code), `close ${closed.code}`);
      },
    );
  }
}

conformance(
  'test_permessage_deflate_offer_declined',
  'permessage-deflate offered and declined: no extension, frames uncompressed',
  async (observe) => {
    // ws offers `permessage-deflate; client_max_window_bits` by default;
    // pushbench negotiates no extension, so the 101 carries none and the
    // events arrive as plain frames (ws fails a frame with RSV1 set).
    let answered;
    const peer = await open(server.url('/ws'), {
      perMessageDeflate: true,
      onUpgrade: (res) => {
        answered = res.headers['sec-websocket-extensions'];
      },
    });
    const { ws } = peer;
    const event = JSON.parse((await peer.next()).data.toString());
    observe(`answered ${answered ?? 'no extension'}, ws.extensions ${JSON.stringify(ws.extensions)}, event uncompressed`);
    assert.equal(answered, undefined);
    assert.equal(ws.extensions, '');
    assert.ok(event.seq > 0);
    ws.close();
  },
);

conformance('test_server_shutdown', 'close 1001 on both /echo and /ws, exit 0', async (observe) => {
  const own = await startServer('--rate', '20');
  try {
    const echo = await open(own.url('/echo'));
    const ws = await open(own.url('/ws'));
    echo.ws.send('up');
    assert.equal((await echo.next()).data.toString(), 'up');
    own.terminate();
    const codes = [await echo.closeCode(), await ws.closeCode()];
    const [status] = await withTimeout(once(own.child, 'exit'), 10000, 'the server to exit');
    observe(`close ${codes[0]} / ${codes[1]}, exit ${status}`);
    assert.deepEqual(codes, [1001, 1001]);
    assert.equal(status, 0);
  } finally {
    await own.stop();
  }
});

for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
  conformance(`test_close_invalid_code[${code}]`, 'close 1002', async (observe) => {
    const close = frame(OP.CLOSE, Buffer.concat([u16(code), Buffer.from('nope')]));
    expectClose(observe, await violation('/echo', close), 1002);
  });
}

conformance('test_close_one_byte_payload', 'close 1002', async (observe) => {
  expectClose(observe, await violation('/echo', frame(OP.CLOSE, Buffer.from([3]))), 1002);
});

conformance('test_close_reason_invalid_utf8', 'close 1007', async (observe) => {
  const close = frame(OP.CLOSE, Buffer.concat([u16(1000), Buffer.from([0xce, 0xba, 0xff])]));
  expectClose(observe, await violation('/echo', close), 1007);
});

// --- invalid UTF-8, too big --------------------------------------------------------------------------

// "κόσμε" then a UTF-16 surrogate (ED A0 80), which UTF-8 forbids.
const INVALID_UTF8 = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')]);

for (const path of ['/echo', '/ws']) {
  conformance(`test_text_invalid_utf8[${path}]`, 'close 1007', async (observe) => {
    expectClose(observe, await violation(path, frame(OP.TEXT, INVALID_UTF8)), 1007);
  });
}

conformance('test_text_invalid_utf8_fragmented', 'close 1007', async (observe) => {
  const first = frame(OP.TEXT, INVALID_UTF8.subarray(0, 8), { fin: false });
  const rest = frame(OP.CONT, INVALID_UTF8.subarray(8));
  expectClose(observe, await violation('/echo', first, rest), 1007);
});

conformance(
  'test_text_invalid_utf8_first_fragment_fails_fast',
  'close 1007 before the message ends (fails fast per frame)',
  async (observe) => {
    // The final fragment is never sent: only a check per frame can close.
    expectClose(observe, await violation('/echo', frame(OP.TEXT, INVALID_UTF8, { fin: false })), 1007);
  },
);

for (const path of ['/echo', '/ws']) {
  conformance(`test_message_too_big[${path}]`, 'close 1009', async (observe) => {
    const peer = await open(server.url(path));
    peer.ws.send('x'.repeat(MAX_PAYLOAD + 1));
    expectClose(observe, await peer.closeCode(), 1009);
  });
}

conformance('test_fragmented_message_too_big', 'close 1009', async (observe) => {
  const half = 'x'.repeat(MAX_PAYLOAD / 2 + 1);
  const peer = await open(server.url('/echo'));
  peer.ws.send(half, { fin: false, binary: false });
  peer.ws.send(half, { fin: true, binary: false });
  expectClose(observe, await peer.closeCode(), 1009);
});

// --- framing violations ------------------------------------------------------------------------------------

for (const path of ['/echo', '/ws']) {
  conformance(`test_unmasked_client_frame[${path}]`, 'close 1002', async (observe) => {
    expectClose(observe, await violation(path, frame(OP.TEXT, 'unmasked', { mask: false })), 1002);
  });
}

for (const bit of [1, 2, 3]) {
  conformance(`test_rsv_bit_without_extension[${bit}]`, 'close 1002', async (observe) => {
    // ws's frame() sets RSV1 itself; RSV2 and RSV3 are patched in.
    const bad = bit === 1
      ? frame(OP.TEXT, 'reserved', { rsv1: true })
      : patch(frame(OP.TEXT, 'reserved'), { setBits: 0x80 >> bit });
    expectClose(observe, await violation('/echo', bad), 1002);
  });
}

for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
  conformance(`test_reserved_opcode[${opcode}]`, 'close 1002', async (observe) => {
    expectClose(observe, await violation('/echo', frame(opcode, 'x')), 1002);
  });
}

conformance('test_control_frame_payload_over_125', 'close 1002', async (observe) => {
  expectClose(observe, await violation('/echo', frame(OP.PING, Buffer.alloc(126, 'p'))), 1002);
});

conformance('test_fragmented_control_frame', 'close 1002', async (observe) => {
  const bad = frame(OP.PING, 'half', { fin: false });
  expectClose(observe, await violation('/echo', bad, frame(OP.CONT, 'rest')), 1002);
});

conformance('test_continuation_without_start', 'close 1002', async (observe) => {
  expectClose(observe, await violation('/echo', frame(OP.CONT, 'orphan')), 1002);
});

for (const [label, opcode] of [['text', OP.TEXT], ['binary', OP.BINARY]]) {
  conformance(`test_data_frame_inside_fragmented_message[${label}]`, 'close 1002', async (observe) => {
    const start = frame(OP.TEXT, 'start', { fin: false });
    expectClose(observe, await violation('/echo', start, frame(opcode, 'intruder')), 1002);
  });
}

// --- /ws: events and upstream messages ---------------------------------------------------------------------

async function firstMessages(path, count) {
  const peer = await open(server.url(path));
  const out = [];
  for (let i = 0; i < count; i++) out.push(await peer.next());
  peer.ws.close();
  return out;
}

const consecutive = (seqs) => seqs.every((s, i) => s === seqs[0] + i);

conformance('test_ws_events_are_json_in_seq_order', 'valid JSON text frames, seq consecutive', async (observe) => {
  const messages = await firstMessages('/ws', 20);
  assert.ok(messages.every((m) => !m.isBinary), 'every frame is a text frame');
  const events = messages.map((m) => JSON.parse(m.data.toString()));
  for (const e of events) {
    assert.deepEqual(Object.keys(e).sort(), ['created_us', 'payload', 'seq', 'topic']);
    assert.ok(Number.isInteger(e.seq) && Number.isInteger(e.created_us));
    assert.equal(e.payload.length, 16);
  }
  const seqs = events.map((e) => e.seq);
  observe(`20 events, seq ${seqs[0]}..${seqs.at(-1)}`);
  assert.ok(consecutive(seqs), `seqs ${seqs}`);
});

conformance(
  'test_ws_binary_format',
  'binary frames (seq, created_us, topic, payload), seq consecutive',
  async (observe) => {
    const messages = await firstMessages('/ws?format=binary', 20);
    assert.ok(messages.every((m) => m.isBinary), 'every frame is a binary frame');
    const seqs = messages.map(({ data }) => {
      const topicLen = data.readUInt16BE(16);
      assert.ok(data.readBigUInt64BE(8) > 0n, 'created_us');
      assert.equal(data.length, 18 + topicLen + 16, 'header + topic + 16-byte payload');
      return Number(data.readBigUInt64BE(0));
    });
    observe(`20 binary events, seq ${seqs[0]}..${seqs.at(-1)}`);
    assert.ok(consecutive(seqs), `seqs ${seqs}`);
  },
);

conformance('test_ws_since_resumes', '?since=S replays from S+1', async (observe) => {
  const [first] = await firstMessages('/ws', 1);
  const since = Math.max(JSON.parse(first.data.toString()).seq - 5, 0);
  const [resumed] = await firstMessages(`/ws?since=${since}`, 1);
  const got = JSON.parse(resumed.data.toString()).seq;
  observe(`since=${since} -> first seq ${got}`);
  assert.equal(got, since + 1);
});

conformance(
  'test_ws_upstream_message_is_published',
  'published, seen on a second connection with topic upstream',
  async (observe) => {
    const token = `node-${randomBytes(8).toString('hex')}`;
    const watcher = await open(server.url('/ws'));
    const sender = await open(server.url('/ws'));
    // A first event proves the watcher's subscription is live, so the token
    // cannot be published before it.
    await watcher.next();
    sender.ws.send(token);
    let event;
    for (let i = 0; i < 500 && !event; i++) {
      const e = JSON.parse((await watcher.next()).data.toString());
      if (e.payload === token) event = e;
    }
    watcher.ws.close();
    sender.ws.close();
    assert.ok(event, 'the upstream message never arrived');
    observe(`seq ${event.seq} topic ${JSON.stringify(event.topic)}`);
    assert.equal(event.topic, 'upstream');
  },
);

conformance('test_ws_upstream_binary_not_utf8', 'close 1003 (upstream binary must be UTF-8)', async (observe) => {
  const peer = await open(server.url('/ws'));
  peer.ws.send(Buffer.from([0xff, 0xfe]));
  expectClose(observe, await peer.closeCode(), 1003);
});
