#!/usr/bin/env node
// The origin behind Pushpin (scripts/targets/pushpin/start): a small Node
// program, no npm dependencies, that only answers subscriptions with GRIP
// instructions and relays publishes to Pushpin. No business logic.
//
//   origin.mjs --listen 127.0.0.1:0 --publish http://127.0.0.1:P/publish/ [--ring N] [--settle-ms M]
//
// Its first stdout line is `origin listening on http://ADDR`. Pushpin
// proxies every client request to it (route `over_http`, so a WebSocket
// reaches it as WebSocket-over-HTTP); it answers in pushbench's event
// protocol, so a client sees the same bytes as from `pushbench serve`:
//
// - `GET /longpoll?since=S&timeout=T`: events after S at once, as
//   `{"events":[...],"next":N,"gap":null}`; none pending: `Grip-Hold:
//   response` on channel `events` for T seconds, the empty answer as the
//   timeout body.
// - `GET /stream?since=S`: `Grip-Hold: stream`, NDJSON, channel `events`;
//   the events after S as the first body.
// - `GET /sse?since=S` (or `Last-Event-ID`): `Grip-Hold: stream`,
//   `text/event-stream`, channel `sse`; `id: SEQ` / `data: JSON` blocks.
// - `/ws?since=S` (WebSocket-over-HTTP, `application/websocket-events`):
//   on OPEN, the connection is subscribed to `events` by a `c:` control
//   message and sent the events after S.
// - `POST /publish` (one event's JSON, as `pushbench serve` carries it):
//   kept in the ring, then published to Pushpin's HTTP publish endpoint
//   as one item per channel: `http-response` (a poll answer holding the
//   event), `http-stream` (its NDJSON line; on `sse`, its SSE block) and
//   `ws-message` (the event JSON). Answered once Pushpin has taken it.
// - `GET /probe`: who answers, and whether Pushpin is in front (Pushpin
//   signs every request it proxies with `Grip-Sig`). `POST /probe`, what
//   pushbench sends before a run, also begins a new stream: the ring of
//   the last run is emptied, as each run publishes from seq 1 and its
//   clients ask for everything after seq 0.
//
// Nothing is lost between polls or while a stream (re)subscribes: each
// published item carries `id` (the origin's publish number) and `prev-id`,
// each hold names the last id it has seen (`prev-id`), so Pushpin notices
// a hold that missed an item and asks the origin again (a long poll is
// retried, a stream fetches its `Grip-Link` with `Grip-Last`), and the
// origin answers from its ring. WebSocket-over-HTTP has no such recovery
// in Pushpin, and a subscription takes effect a moment after the origin's
// answer: so a new subscription (stream, SSE, WebSocket) is answered only
// between two publish requests, and the next one waits --settle-ms
// (docs/servers/pushpin.md says why and what it costs).
import http from 'node:http';

const PROGRAM = 'pushpin-origin';
// At most this many events in one poll answer (what `pushbench serve`'s
// max_batch does): a client far behind asks again at once.
const MAX_BATCH = 1000;

function fail(message) {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { listen: '127.0.0.1:0', publish: null, ring: 10000, 'settle-ms': 50 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const name = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !(name in opts)) {
      fail(`unknown argument ${flag} (allowed: --listen, --publish, --ring, --settle-ms)`);
    }
    const value = inline ?? argv[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    opts[name] = value;
  }
  if (!opts.publish) fail('--publish URL (Pushpin\'s publish endpoint) is required');
  for (const name of ['ring', 'settle-ms']) {
    const n = Number(opts[name]);
    if (!Number.isInteger(n) || n < 0) fail(`--${name}: expected a whole number >= 0, got ${opts[name]}`);
    opts[name] = n;
  }
  if (opts.ring < 1) fail('--ring: must be at least 1');
  const at = opts.listen.lastIndexOf(':');
  const port = Number(opts.listen.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--listen: expected HOST:PORT, got ${opts.listen}`);
  }
  opts.host = opts.listen.slice(0, at);
  opts.port = port;
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// The ring: published events in order, each with its publish number `n`
// (the GRIP item id, never reused while the origin runs) and its seq.
const ring = [];
let lastN = 0;
let lastSeq = 0;

function append(seq, json) {
  if (seq <= lastSeq) {
    // A new publisher run starts again at seq 1: a new stream.
    ring.length = 0;
  }
  lastN += 1;
  lastSeq = seq;
  ring.push({ n: lastN, seq, json });
  if (ring.length > opts.ring) ring.shift();
}

/**
 * Events after seq `since` (or after publish number `afterN`), up to
 * publish number `uptoN`, and a gap marker when the ring no longer holds
 * some of them.
 */
function backlog({ since, afterN, uptoN = lastN }) {
  const first = ring[0];
  const after = (e) => (afterN === undefined ? e.seq > since : e.n > afterN);
  const events = ring.filter((e) => after(e) && e.n <= uptoN);
  let gap = null;
  if (first && afterN === undefined && since + 1 < first.seq) {
    gap = { from: since + 1, to: first.seq - 1 };
  } else if (first && afterN !== undefined && afterN + 1 < first.n) {
    gap = { from: first.seq - (first.n - afterN - 1), to: first.seq - 1 };
  }
  return { events, gap };
}

const pollBody = (events, next, gap) =>
  `{"events":[${events.map((e) => e.json).join(',')}],"next":${next},"gap":${
    gap ? `{"from":${gap.from},"to":${gap.to}}` : 'null'
  }}`;
const gapJson = (gap) => `{"gap":{"from":${gap.from},"to":${gap.to}}}`;
const ndjson = (e) => `${e.json}\n`;
const sseBlock = (e) => `id: ${e.seq}\ndata: ${e.json}\n\n`;
const sseGap = (gap) => `event: gap\ndata: {"from":${gap.from},"to":${gap.to}}\n\n`;

function reply(res, status, headers, body) {
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function error(res, status, message) {
  reply(res, status, { 'Content-Type': 'application/json' }, JSON.stringify({ error: message }));
}

/** A whole-number parameter, or an error naming it. */
function wholeNumber(raw, name) {
  const n = Number(String(raw).trim());
  if (!/^\d+$/.test(String(raw).trim()) || !Number.isSafeInteger(n)) {
    throw new Error(`${name} must be a whole number, got ${raw}`);
  }
  return n;
}

/**
 * A cursor parameter: absent -> `fallback`, else a seq. A seq ahead of the
 * stream is not an error: pushbench's publisher numbers a run's events
 * from its start time (in microseconds), so its clients ask for what
 * follows a seq not published yet.
 */
function cursor(raw, name, fallback) {
  if (raw === null || raw === undefined) return fallback;
  return wholeNumber(raw, name);
}

/** `Grip-Last: CHANNEL; last-id=N` of a recovery request, as N. */
function gripLast(req, channel) {
  const header = req.headers['grip-last'];
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const [name, ...params] = part.split(';').map((s) => s.trim());
    const id = params.find((p) => p.startsWith('last-id='));
    if (name === channel && id) return Number(id.slice('last-id='.length));
  }
  return undefined;
}

function longPoll(req, res, url) {
  const since = cursor(url.searchParams.get('since'), 'since', lastSeq);
  const timeout = wholeNumber(url.searchParams.get('timeout') ?? '30', 'timeout');
  const { events, gap } = backlog({ since });
  if (events.length > 0 || gap) {
    const batch = events.slice(0, MAX_BATCH);
    const next = batch.length > 0 ? batch[batch.length - 1].seq : since;
    reply(res, 200, { 'Content-Type': 'application/json' }, pollBody(batch, next, gap));
    return;
  }
  // The client has every event up to lastSeq (some maybe not yet taken by
  // Pushpin): an item it already has does not follow prev-id=lastN, so
  // Pushpin retries the poll rather than deliver it twice.
  reply(
    res,
    200,
    {
      'Content-Type': 'application/json',
      'Grip-Hold': 'response',
      'Grip-Channel': `events; prev-id=${lastN}`,
      'Grip-Timeout': String(timeout),
    },
    pollBody([], since, null),
  );
}

/**
 * A stream hold on `channel`, its first body the events after the cursor
 * (or after `Grip-Last`, when Pushpin recovers what the stream missed).
 */
function streamHold(req, res, url, { channel, contentType, since, line, gapLine }) {
  const afterN = gripLast(req, channel);
  whenSubscribable(() => {
    const upto = { uptoN: forwardedN };
    const { events, gap } = backlog(afterN === undefined ? { since, ...upto } : { afterN, ...upto });
    const body = (gap ? gapLine(gap) : '') + events.map(line).join('');
    const at = events.length > 0 ? events[events.length - 1].seq : since;
    reply(
      res,
      200,
      {
        'Content-Type': contentType,
        'Cache-Control': 'no-cache',
        'Grip-Hold': 'stream',
        'Grip-Channel': `${channel}; prev-id=${forwardedN}`,
        // Where Pushpin asks (with `Grip-Last`) for what a stream missed.
        'Grip-Link': `<${url.pathname}?since=${at}>; rel=next`,
      },
      body,
    );
  });
}

/** WebSocket-over-HTTP events (`TYPE[ HEXLEN]\r\n[CONTENT\r\n]`) of a body. */
function wsEvents(body) {
  const out = [];
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) break;
    const [type, hex] = body.subarray(at, eol).toString('latin1').split(' ');
    at = eol + 2;
    let content = null;
    if (hex !== undefined) {
      const len = parseInt(hex, 16);
      content = body.subarray(at, at + len);
      at += len + 2;
    }
    out.push({ type, content });
  }
  return out;
}

/** One WebSocket-over-HTTP event; `content` a string (UTF-8) or bytes. */
function wsEvent(type, content) {
  if (content === undefined) return Buffer.from(`${type}\r\n`);
  const bytes = Buffer.from(content);
  return Buffer.concat([Buffer.from(`${type} ${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
}

function webSocket(req, res, url, body) {
  const events = wsEvents(body);
  const open = events.some((ev) => ev.type === 'OPEN');
  const since = open ? cursor(url.searchParams.get('since'), 'since', lastSeq) : 0;
  const answer = () => {
    const headers = { 'Content-Type': 'application/websocket-events' };
    const out = [];
    for (const ev of events) {
      if (ev.type === 'OPEN') {
        const { events: backlogEvents, gap } = backlog({ since, uptoN: forwardedN });
        out.push(wsEvent('OPEN'));
        out.push(wsEvent('TEXT', 'c:{"type":"subscribe","channel":"events"}'));
        // With the GRIP extension, a message to the client is `m:`-prefixed.
        if (gap) out.push(wsEvent('TEXT', `m:${gapJson(gap)}`));
        for (const e of backlogEvents) out.push(wsEvent('TEXT', `m:${e.json}`));
        // Control messages (`c:`) need the GRIP extension on the OPEN answer.
        headers['Sec-WebSocket-Extensions'] = 'grip';
      } else if (ev.type === 'CLOSE') {
        // Echo the client's close (its status code, two bytes) to close.
        out.push(wsEvent('CLOSE', ev.content ?? undefined));
      }
      // TEXT/BINARY from the client, PING, PONG, DISCONNECT: nothing to say.
    }
    reply(res, 200, headers, Buffer.concat(out));
  };
  if (open) whenSubscribable(answer);
  else answer();
}

// Publishing: each event into the ring at once, then to Pushpin in order,
// one request at a time (Pushpin's sequencer expects each channel's items
// in prev-id order), every waiting event in one request.
const pending = [];
let forwarding = false;
// The last publish number Pushpin has taken, and whether a publish
// request to it is under way.
let forwardedN = 0;
let inFlight = false;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// A new subscription (a stream, an SSE stream, a WebSocket) is answered
// with the events Pushpin has taken (up to forwardedN), never while a
// publish request is under way, and the next publish request waits
// --settle-ms after the answer: by then Pushpin has subscribed the
// connection, so the next event reaches it live, not in a gap.
let publishNotBefore = 0;
const subscribers = [];

function whenSubscribable(answer) {
  if (!inFlight) {
    answer();
    publishNotBefore = Math.max(publishNotBefore, performance.now() + opts['settle-ms']);
  } else {
    subscribers.push(answer);
  }
}

function items(e) {
  const ids = { id: String(e.n), 'prev-id': String(e.n - 1) };
  return [
    {
      channel: 'events',
      ...ids,
      formats: {
        'http-response': { body: pollBody([e], e.seq, null) },
        'http-stream': { content: ndjson(e) },
        'ws-message': { content: e.json },
      },
    },
    { channel: 'sse', ...ids, formats: { 'http-stream': { content: sseBlock(e) } } },
  ];
}

function postToPushpin(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      opts.publish,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          res.statusCode >= 200 && res.statusCode < 300
            ? resolve()
            : reject(new Error(`Pushpin's publish endpoint answered ${res.statusCode}: ${Buffer.concat(chunks)}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function forward() {
  if (forwarding) return;
  forwarding = true;
  while (pending.length > 0) {
    const wait = publishNotBefore - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const batch = pending.splice(0, 500);
    const body = JSON.stringify({ items: batch.flatMap((p) => items(p.event)) });
    inFlight = true;
    try {
      await postToPushpin(body);
      forwardedN = batch[batch.length - 1].event.n;
      for (const p of batch) p.done(null);
    } catch (e) {
      for (const p of batch) p.done(e);
    }
    inFlight = false;
    for (const answer of subscribers.splice(0)) whenSubscribable(answer);
  }
  forwarding = false;
}

function publish(req, res, body) {
  const text = body.toString('utf8').trim();
  let event;
  try {
    event = JSON.parse(text);
  } catch {
    return error(res, 400, 'publish: the body must be one event\'s JSON');
  }
  if (!event || !Number.isSafeInteger(event.seq) || event.seq < 1) {
    return error(res, 400, 'publish: the event needs a seq (a whole number >= 1)');
  }
  // The event's JSON as published; one line, as NDJSON and SSE need it.
  append(event.seq, text.includes('\n') ? JSON.stringify(event) : text);
  const entry = ring[ring.length - 1];
  pending.push({
    event: entry,
    done: (e) => (e ? error(res, 502, e.message) : reply(res, 200, { 'Content-Type': 'application/json' }, `{"seq":${entry.seq}}`)),
  });
  forward();
}

/** The ring's events are of an earlier run: a new one starts at seq 1. */
function newStream() {
  ring.length = 0;
  lastSeq = 0;
}

function probe(req, res) {
  const body = JSON.stringify({
    origin: 'pushbench-grip-origin',
    via_pushpin: req.headers['grip-sig'] !== undefined,
    last_seq: lastSeq,
  });
  reply(res, 200, { 'Content-Type': 'application/json' }, body);
}

function route(req, res, body) {
  const url = new URL(req.url, 'http://origin');
  const key = `${req.method} ${url.pathname}`;
  switch (key) {
    case 'GET /longpoll':
      return longPoll(req, res, url);
    case 'GET /stream': {
      const since = cursor(url.searchParams.get('since'), 'since', lastSeq);
      return streamHold(req, res, url, {
        channel: 'events',
        contentType: 'application/x-ndjson',
        since,
        line: ndjson,
        gapLine: (g) => `${gapJson(g)}\n`,
      });
    }
    case 'GET /sse': {
      const last = req.headers['last-event-id'];
      const since =
        last !== undefined
          ? cursor(last, 'Last-Event-ID', lastSeq)
          : cursor(url.searchParams.get('since'), 'since', lastSeq);
      return streamHold(req, res, url, {
        channel: 'sse',
        contentType: 'text/event-stream',
        since,
        line: sseBlock,
        gapLine: sseGap,
      });
    }
    case 'POST /ws':
      return webSocket(req, res, url, body);
    case 'POST /publish':
      return publish(req, res, body);
    case 'POST /probe':
      newStream();
      return probe(req, res);
    case 'GET /probe':
    case 'GET /':
      return probe(req, res);
    default:
      return error(res, 404, `no route for ${req.method} ${url.pathname}`);
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      route(req, res, Buffer.concat(chunks));
    } catch (e) {
      error(res, 400, e.message);
    }
  });
});
// No idle timeout on Pushpin's connections to the origin, and so no
// `Keep-Alive` header, which Pushpin would pass on in a WebSocket's 101.
server.keepAliveTimeout = 0;
server.on('error', (e) => fail(`--listen ${opts.listen}: ${e.message}`));
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  process.stdout.write(`origin listening on http://${address}:${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
