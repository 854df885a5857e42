#!/usr/bin/env node
// A small WebSocket broadcast server on Node's `ws`: the kind of server
// people write instead of pushbench's, so pushbench can measure it under
// the same load (scripts/peers.sh, `pushbench peers`).
//
// It speaks pushbench's event protocol and takes `pushbench serve`'s
// command line, so `pushbench run --server-exe` and `pushbench capacity`
// start and drive it exactly like `pushbench serve`:
//
//   ws-broadcast.mjs serve --addr 127.0.0.1:0 --rate R --payload P --topics T --ring N
//
// - events `{"seq":N,"topic":"tK","created_us":...,"payload":"..."}`, with
//   the same deterministic payload and the same fixed-rate schedule (each
//   event stamped with the time it was due, so a stall shows as latency);
// - `GET /ws?since=S`: the ring's events after S (or a gap marker), then
//   every new event, one text frame each, sent to each client in turn with
//   `ws.send` (what a typical broadcast loop does; `ws` buffers for a slow
//   client without bound, unlike pushbench's shared bounded queue);
// - `GET /stats`: the fields the load generator reads (last_seq, the
//   process's CPU seconds and RSS, open connections).
//
// The first line on stdout is `... listening on http://ADDR`, as pushbench's.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function fail(message) {
  process.stderr.write(`ws-broadcast: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { addr: '127.0.0.1:0', rate: 10, payload: 128, topics: 1, ring: 10000 };
  const args = argv.slice(2);
  if (args[0] !== 'serve') fail('usage: ws-broadcast.mjs serve [--addr A] [--rate R] [--payload P] [--topics T] [--ring N]');
  for (let i = 1; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = inline ?? args[++i];
    const name = flag.replace(/^--/, '');
    if (!(name in opts)) fail(`unknown flag ${flag} (allowed: --addr, --rate, --payload, --topics, --ring)`);
    if (value === undefined) fail(`${flag} needs a value`);
    if (name === 'addr') {
      opts.addr = value;
    } else {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) fail(`${flag}: expected a number >= 0, got ${value}`);
      opts[name] = n;
    }
  }
  if (opts.ring < 1) fail('--ring: must be at least 1');
  return opts;
}

const opts = parseArgs(process.argv);

function payloadFor(seq, len) {
  const start = seq % ALPHABET.length;
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[(start + i) % ALPHABET.length];
  return out;
}

// Microseconds since the Unix epoch, with sub-millisecond resolution.
function nowUs() {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

// The ring: the last `opts.ring` events' JSON, by seq.
const ring = new Array(opts.ring);
let lastSeq = 0;
let delivered = 0;
let connectionsTotal = 0;
const live = new Set();

function eventAt(seq) {
  return ring[seq % opts.ring];
}

function publish(createdUs) {
  lastSeq += 1;
  const seq = lastSeq;
  const json = JSON.stringify({
    seq,
    topic: `t${seq % Math.max(1, opts.topics)}`,
    created_us: createdUs,
    payload: payloadFor(seq, opts.payload),
  });
  ring[seq % opts.ring] = json;
  for (const ws of live) {
    ws.send(json);
    delivered += 1;
  }
}

// Fixed-rate schedule: publish what is due, stamped with when it was due.
function startGenerator() {
  if (!(opts.rate > 0)) return;
  const startMs = performance.now();
  const startUs = nowUs();
  let sent = 0;
  const tick = () => {
    const due = Math.floor(((performance.now() - startMs) / 1000) * opts.rate);
    while (sent < due) {
      sent += 1;
      publish(startUs + Math.floor((sent / opts.rate) * 1e6));
    }
    const nextMs = startMs + ((sent + 1) / opts.rate) * 1000;
    timer = setTimeout(tick, Math.max(0, nextMs - performance.now()));
  };
  let timer = setTimeout(tick, 0);
  return () => clearTimeout(timer);
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && url.pathname === '/stats') {
    const cpu = process.cpuUsage();
    return json(res, 200, {
      last_seq: lastSeq,
      events_published: lastSeq,
      slow_consumer_drops: 0,
      process: { cpu_seconds: (cpu.user + cpu.system) / 1e6, rss_bytes: process.memoryUsage.rss() },
      transports: {
        ws: { connections_open: live.size, connections_total: connectionsTotal, events_delivered: delivered },
      },
    });
  }
  json(res, 404, { error: `no route for ${req.method} ${url.pathname}`, status: 404 });
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  const since = url.searchParams.get('since');
  if (url.pathname !== '/ws' || (since !== null && !/^\d+$/.test(since))) {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    connectionsTotal += 1;
    // Catch up from the ring (synchronously, so no live event slips in
    // between), then join the broadcast.
    if (since !== null) {
      const after = Number(since);
      const oldest = Math.max(1, lastSeq - opts.ring + 1);
      if (after + 1 < oldest) {
        ws.send(`{"gap":{"from":${after + 1},"to":${oldest - 1}}}`);
      }
      for (let seq = Math.max(after + 1, oldest); seq <= lastSeq; seq++) {
        ws.send(eventAt(seq));
        delivered += 1;
      }
    }
    live.add(ws);
    ws.on('close', () => live.delete(ws));
    ws.on('error', () => live.delete(ws));
  });
});

const [host, port] = (() => {
  const at = opts.addr.lastIndexOf(':');
  if (at < 0) fail(`--addr: expected HOST:PORT, got ${opts.addr}`);
  return [opts.addr.slice(0, at), Number(opts.addr.slice(at + 1))];
})();

let stopGenerator = () => {};
server.listen(port, host, () => {
  const { address, port: bound } = server.address();
  process.stdout.write(`ws-broadcast (node ${process.version}, ws) listening on http://${address}:${bound}\n`);
  stopGenerator = startGenerator() ?? stopGenerator;
});

function shutdown() {
  stopGenerator();
  for (const ws of live) ws.close(1001, 'going away');
  server.close();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
