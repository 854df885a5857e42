// The same broadcast server as ws-broadcast.mjs, on Bun: `Bun.serve` with
// its built-in pub/sub (uWebSockets underneath), the fastest fan-out a
// JavaScript server commonly gets, so pushbench can measure itself against
// it under the same load (`pushbench peers`), and the `bun` target kind
// (scripts/targets/bun/start, `pushbench run --target-kind bun`).
//
// Started through the `bun-broadcast` launcher beside it (which runs the
// `bun` that `npm ci --prefix scripts/peers` installs), it speaks
// pushbench's event protocol with the Node peer's two command lines
// (peer-common.mjs holds both):
//
//   bun-broadcast serve --addr 127.0.0.1:0 --rate R --payload P --topics T --ring N
//   bun-broadcast relay --addr 127.0.0.1:0 --ring N
//
// `serve` generates the events itself, as `pushbench serve --rate` does;
// `relay` generates none: pushbench publishes each one.
//
// - `POST /publish` (relay only): the body, one event's JSON, is kept in
//   the ring and sent verbatim to every subscriber; answers `{"seq":N}`;
// - `GET /ws?since=S`: the ring's events after S (or a gap marker), each
//   sent to this client alone, then the client subscribes to one topic
//   and every new event is one `server.publish` to all subscribers (Bun
//   frames it once and writes it to each socket; a socket over Bun's
//   backpressure limit drops the message, which the load generator
//   counts as missed);
// - `GET /stream?since=S`: HTTP streaming, a `ReadableStream` body in
//   chunked encoding, one NDJSON line per event; `GET /sse?since=S` (or
//   `Last-Event-ID: S`): Server-Sent Events, `id: SEQ` and `data: JSON`
//   per event. Both catch up from the ring like `/ws` (with nothing to
//   catch up, a body opens with an empty line or an SSE comment: see
//   STREAMING), and every new event is framed once and enqueued on each
//   open body; a body with
//   more than QUEUE_LIMIT chunks queued (a client that stopped reading)
//   is ended and counted in `slow_consumer_drops`, so memory stays
//   bounded, as in `pushbench serve`;
// - `GET /stats`: the fields the load generator reads, and `server:
//   "bun-broadcast"` with its `mode`, by which a probe recognises it;
// - a `/ws` upgrade with a bad `since`, or to any other path: 400; any
//   other request: 404 with a JSON body; shutdown (SIGTERM, SIGINT) closes
//   every client with 1001 "going away" and ends every stream.
//
// No pings, no SSE keep-alive comments and no idle timeout (Bun's
// defaults send pings and close idle sockets after 120 s, idle HTTP
// connections after 10 s): neither Node's `ws` nor `pushbench serve` do,
// and every byte on the wire is accounted for by class.
import * as peer from './peer-common.mjs';

const TOPIC = 'events';

/**
 * Chunks a streaming body may hold unsent before its client counts as a
 * slow consumer and is dropped: `pushbench serve`'s default per-client
 * queue (`--queue 1024`), so both bound memory alike.
 */
const QUEUE_LIMIT = 1024;

/**
 * The HTTP techniques: their path, content type, and the opener written
 * when a new body has nothing to catch up. Bun sends the status line and
 * our headers at once but holds the rest of the head (`Date`,
 * `Transfer-Encoding`, the blank line) until the body's first chunk
 * (oven-sh/bun PR #33660, open), so a client would not see the response
 * begin until the first event; the opener is the smallest chunk each
 * format ignores: an empty NDJSON line, an SSE comment (both `control`).
 */
const STREAMING = {
  '/stream': { technique: 'stream', contentType: 'application/x-ndjson', opener: '\n' },
  '/sse': { technique: 'sse', contentType: 'text/event-stream', opener: ':\n\n' },
};

const opts = peer.parseArgs('bun-broadcast', process.argv.slice(2));
const log = new peer.EventLog(opts);
const counts = {
  ws: { open: 0, total: 0, delivered: 0 },
  stream: { open: 0, total: 0, delivered: 0 },
  sse: { open: 0, total: 0, delivered: 0 },
};
/** The open streaming bodies' controllers, by technique. */
const bodies = { stream: new Set(), sse: new Set() };
/** The open WebSockets (to close them on shutdown). */
const live = new Set();
let slowConsumerDrops = 0;

function json(status, body) {
  return Response.json(body, { status });
}

/** Enqueues `chunk` on a body, or ends the body of a client gone slow. */
function enqueue(technique, controller, chunk) {
  if (controller.desiredSize < -QUEUE_LIMIT) {
    bodies[technique].delete(controller);
    slowConsumerDrops += 1;
    controller.close();
    return;
  }
  controller.enqueue(chunk);
}

/** Sends event `seq` (its JSON) to every subscriber of every technique. */
function broadcast(seq, eventJson) {
  server.publish(TOPIC, eventJson);
  counts.ws.delivered += live.size;
  for (const [technique, open] of Object.entries(bodies)) {
    if (open.size === 0) continue;
    const chunk = peer.FRAMING[technique].event({ seq, json: eventJson });
    for (const controller of open) enqueue(technique, controller, chunk);
    counts[technique].delivered += open.size;
  }
}

/** A streaming body for a new `technique` client that has seen `since`. */
function subscribe({ technique, contentType, opener }, since) {
  const open = bodies[technique];
  let mine;
  const body = new ReadableStream({
    start(controller) {
      mine = controller;
      counts[technique].total += 1;
      // Catch up (synchronously, so no live event slips in between),
      // then join the broadcast.
      const { messages, events } = since === null ? { messages: [], events: 0 } : peer.catchUpFramed(log, technique, since);
      for (const m of messages.length > 0 ? messages : [opener]) controller.enqueue(m);
      counts[technique].delivered += events;
      open.add(controller);
    },
    cancel() {
      open.delete(mine);
    },
  });
  return new Response(body, { headers: { 'content-type': contentType, 'cache-control': 'no-cache' } });
}

/** `POST /publish`: one event's JSON, relayed. */
async function publish(req) {
  const event = peer.parsePublished(await req.text());
  if (event.error) return json(400, peer.errorBody(400, event.error));
  log.add(event.seq, event.json);
  broadcast(event.seq, event.json);
  return json(200, { seq: event.seq });
}

function stats() {
  counts.ws.open = live.size;
  counts.stream.open = bodies.stream.size;
  counts.sse.open = bodies.sse.size;
  const body = peer.statsBody({ server: 'bun-broadcast', mode: opts.mode, lastSeq: log.lastSeq, transports: counts });
  body.slow_consumer_drops = slowConsumerDrops;
  return Response.json(body);
}

const server = Bun.serve({
  hostname: opts.host,
  port: opts.port,
  // Streams and SSE stay open without traffic between events.
  idleTimeout: 0,
  // One event's JSON; Bun answers 413 to a larger body.
  maxRequestBodySize: peer.MAX_PUBLISH_BYTES,
  fetch(req, server) {
    const url = new URL(req.url);
    if (req.headers.get('upgrade') !== null) {
      const since = peer.sinceParam(url);
      if (url.pathname === '/ws' && since !== undefined && server.upgrade(req, { data: { since } })) {
        return undefined;
      }
      return new Response(null, { status: 400, headers: { connection: 'close' } });
    }
    const streaming = STREAMING[url.pathname];
    if (req.method === 'GET' && streaming) {
      const lastEventId = streaming.technique === 'sse' ? req.headers.get('last-event-id') : null;
      const since = peer.sinceParam(url, lastEventId);
      if (since === undefined) return json(400, peer.errorBody(400, peer.BAD_SINCE));
      return subscribe(streaming, since);
    }
    if (req.method === 'GET' && url.pathname === '/stats') return stats();
    if (opts.mode === 'relay' && req.method === 'POST' && url.pathname === '/publish') return publish(req);
    return json(404, peer.notFoundBody(req.method, url.pathname));
  },
  websocket: {
    perMessageDeflate: false,
    sendPings: false,
    idleTimeout: 0,
    open(ws) {
      counts.ws.total += 1;
      // Catch up from the ring (synchronously, so no live event slips in
      // between), then join the broadcast.
      const { since } = ws.data;
      if (since !== null) {
        const { messages, events } = peer.catchUpFramed(log, 'ws', since);
        for (const m of messages) ws.send(m);
        counts.ws.delivered += events;
      }
      ws.subscribe(TOPIC);
      live.add(ws);
    },
    message() {},
    close(ws) {
      live.delete(ws);
    },
  },
});

const stopSchedule = peer.startSchedule(opts.rate, (createdUs) => {
  const eventJson = log.append(createdUs);
  broadcast(log.lastSeq, eventJson);
});

peer.onSignals(() => {
  stopSchedule();
  for (const ws of live) ws.close(...peer.GOING_AWAY);
  for (const open of Object.values(bodies)) {
    for (const controller of open) controller.close();
    open.clear();
  }
  server.stop();
});

// The address last: a SIGTERM sent as soon as it is printed must find the
// handlers above (else it kills the process, exit 143).
const runtime = `bun ${Bun.version}, Bun.serve pub/sub`;
peer.announce({ mode: opts.mode, name: 'bun-broadcast', kind: 'bun', runtime, host: server.hostname, port: server.port });
