#!/usr/bin/env node
// pushbench's `socketio` target: Socket.IO 4 on Node, doing only what a
// Socket.IO broadcast server does (no business logic), so pushbench can
// measure Engine.IO's two transports as people deploy them.
//
//   server.mjs [--addr 127.0.0.1:0] [--ping-interval MS]
//
// - Subscribers: any Socket.IO client, on `/socket.io/` (Engine.IO v4):
//   `?EIO=4&transport=polling` (HTTP long polling) or
//   `?EIO=4&transport=websocket` (WebSocket, directly or by upgrade).
// - `POST /publish` with one event's JSON as the body
//   (`{"seq":N,"topic":"t0","created_us":...,"payload":"..."}`): every
//   connected socket gets it as the Socket.IO event `event`, whose one
//   argument is that JSON parsed: `io.emit('event', object)`. An object,
//   not the JSON as a string: Socket.IO writes it with JSON.stringify into
//   the packet, `42["event",{"seq":N,...,"payload":"..."}]`, so the event's
//   JSON reaches the client verbatim (same keys, same order, JSON.parse
//   keeps them) and the payload's bytes are on the wire as they were
//   published; a string argument would be quoted again, every `"` of the
//   envelope escaped, and the classifier would have to unescape it to find
//   the payload. Answers 204; a body that is not a JSON object gets 400
//   and one over MAX_BODY 413, each with a JSON error naming the problem.
// - Anything else: 404 (Socket.IO answers its own path itself).
//
// The first stdout line is `socketio listening on http://HOST:PORT` (the
// port really bound), the second `pid PID` (this process: it is the
// server); SIGTERM or SIGINT closes every socket and exits 0.
import http from 'node:http';
import { Server } from 'socket.io';

// Engine.IO's heartbeat, set here rather than left to the library's
// defaults (25 s / 20 s in socket.io 4.8) so the measured protocol does not
// change under us with a version. pingInterval is how often the server
// pings each client; over polling it also bounds how long an idle poll is
// held (the ping answers it), so it sets the control traffic of an idle
// client: one ping and one pong per interval. 25 s is Socket.IO's default,
// what deployed servers run with. pingTimeout is how long the server waits
// for the pong before dropping the client: 20 s, the default, far above
// the load generator's answer time even under load.
const DEFAULT_PING_INTERVAL_MS = 25_000;
const PING_TIMEOUT_MS = 20_000;
// Longest `/publish` body read: an event is its JSON, a few hundred bytes
// to pushbench's largest payload (1 MiB) plus its envelope.
const MAX_BODY = 2 * 1024 * 1024;
// The event name every published event is emitted under.
const EVENT_NAME = 'event';

const PROGRAM = 'socketio';

function fail(message) {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  process.exit(2);
}

/** `[--addr HOST:PORT] [--ping-interval MS]` (also `--flag=value`). */
function parseArgs(argv) {
  const opts = { addr: '127.0.0.1:0', pingInterval: DEFAULT_PING_INTERVAL_MS };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    if (flag !== '--addr' && flag !== '--ping-interval') {
      fail(`unknown argument ${flag} (usage: start [--addr HOST:PORT] [--ping-interval MS])`);
    }
    if (value === undefined) fail(`${flag} needs a value`);
    if (flag === '--addr') {
      opts.addr = value;
    } else {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms < 100 || ms > 3_600_000) {
        fail(`--ping-interval: expected milliseconds from 100 to 3600000, got ${value}`);
      }
      opts.pingInterval = ms;
    }
  }
  const at = opts.addr.lastIndexOf(':');
  const port = Number(opts.addr.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--addr: expected HOST:PORT, got ${opts.addr}`);
  }
  opts.host = opts.addr.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  opts.port = port;
  return opts;
}

function answer(res, status, body) {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the request body (up to MAX_BODY), then `done(error, text)`. */
function readBody(req, done) {
  const chunks = [];
  let length = 0;
  req.on('data', (chunk) => {
    length += chunk.length;
    if (length <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    if (length > MAX_BODY) return done(413, `body of ${length} bytes is over ${MAX_BODY}`);
    done(null, Buffer.concat(chunks).toString('utf8'));
  });
  req.on('error', () => {});
}

const opts = parseArgs(process.argv.slice(2));

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (req.method !== 'POST' || path !== '/publish') {
    return answer(res, 404, { error: `no route ${req.method} ${path} (POST /publish, /socket.io/)` });
  }
  readBody(req, (status, text) => {
    if (status) return answer(res, status, { error: text });
    let event;
    try {
      event = JSON.parse(text);
    } catch (e) {
      return answer(res, 400, { error: `body is not JSON: ${e.message}` });
    }
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      return answer(res, 400, { error: 'body must be one event, a JSON object' });
    }
    io.emit(EVENT_NAME, event);
    answer(res, 204);
  });
});

const io = new Server(server, {
  pingInterval: opts.pingInterval,
  pingTimeout: PING_TIMEOUT_MS,
  // No client bundle served, no CORS: only the protocol is measured.
  serveClient: false,
  // Uncompressed frames and poll answers, as the other kinds are measured
  // by default (a run's content coding is a variant of its own).
  perMessageDeflate: false,
  httpCompression: false,
});

server.on('error', (e) => fail(`cannot listen on ${opts.addr}: ${e.message}`));
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  process.stdout.write(`${PROGRAM} listening on http://${host}:${port}\npid ${process.pid}\n`);
});

function stop() {
  io.close();
  server.close(() => process.exit(0));
  // Keep-alive connections may hold `close` open: do not wait for them.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
