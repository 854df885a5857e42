#!/usr/bin/env node
// A small WebSocket broadcast server on Node's `ws`: the kind of server
// people write instead of pushbench's, so pushbench can measure it under
// the same load (scripts/peers.sh, `pushbench peers`), and the `node-ws`
// target kind (scripts/targets/node-ws/start, `pushbench run
// --target-kind node-ws`).
//
// It speaks pushbench's event protocol, with two command lines:
//
//   ws-broadcast.mjs serve --addr 127.0.0.1:0 --rate R --payload P --topics T --ring N
//   ws-broadcast.mjs relay --addr 127.0.0.1:0 --ring N
//
// `serve` takes `pushbench serve`'s command line, so `pushbench run
// --server-exe` and `pushbench capacity` start and drive it exactly like
// `pushbench serve`: its own generator makes the events, with the same
// deterministic payload and the same fixed-rate schedule (each event
// stamped with the time it was due, so a stall shows as latency).
// `relay` makes none: pushbench publishes each event, and it relays it.
//
// - events `{"seq":N,"topic":"tK","created_us":...,"payload":"..."}`;
// - `POST /publish` (relay only): the body, one event's JSON, is kept in
//   the ring and sent verbatim to every subscriber; answers `{"seq":N}`;
// - `GET /ws?since=S`: the ring's events after S (or a gap marker), then
//   every new event, one text frame each, sent to each client in turn with
//   `ws.send` (what a typical broadcast loop does; `ws` buffers for a slow
//   client without bound, unlike pushbench's shared bounded queue);
// - `GET /stats`: the fields the load generator reads (last_seq, the
//   process's CPU seconds and RSS, open connections), and `server:
//   "ws-broadcast"` with its `mode`, by which a probe recognises it.
//
// The first stdout line is `... listening on http://ADDR` (relay: `node-ws
// listening on ...`, then `pid PID`). The protocol itself is in
// peer-common.mjs, shared with bun-broadcast.js.
import http from 'node:http';
import { WebSocketServer } from 'ws';

import * as peer from './peer-common.mjs';

const opts = peer.parseArgs('ws-broadcast', process.argv.slice(2));
const log = new peer.EventLog(opts);
const ws = { open: 0, total: 0, delivered: 0 };
const live = new Set();

/** Sends one event's JSON to every live client. */
function broadcast(json) {
  for (const client of live) client.send(json);
  ws.delivered += live.size;
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `POST /publish`: one event's JSON, relayed (at most MAX_PUBLISH_BYTES). */
function publish(req, res) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= peer.MAX_PUBLISH_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > peer.MAX_PUBLISH_BYTES) {
      return reply(res, 413, peer.errorBody(413, `body: over ${peer.MAX_PUBLISH_BYTES} bytes`));
    }
    const event = peer.parsePublished(Buffer.concat(chunks).toString('utf8'));
    if (event.error) return reply(res, 400, peer.errorBody(400, event.error));
    log.add(event.seq, event.json);
    broadcast(event.json);
    reply(res, 200, { seq: event.seq });
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && url.pathname === '/stats') {
    ws.open = live.size;
    const stats = { server: 'ws-broadcast', mode: opts.mode, lastSeq: log.lastSeq, transports: { ws } };
    return reply(res, 200, peer.statsBody(stats));
  }
  if (opts.mode === 'relay' && req.method === 'POST' && url.pathname === '/publish') {
    return publish(req, res);
  }
  reply(res, 404, peer.notFoundBody(req.method, url.pathname));
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  const since = peer.sinceParam(url);
  if (url.pathname !== '/ws' || since === undefined) {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (client) => {
    ws.total += 1;
    // Catch up from the ring (synchronously, so no live event slips in
    // between), then join the broadcast.
    if (since !== null) {
      const { messages, events } = peer.catchUpFramed(log, 'ws', since);
      for (const m of messages) client.send(m);
      ws.delivered += events;
    }
    live.add(client);
    client.on('close', () => live.delete(client));
    client.on('error', () => live.delete(client));
  });
});

let stopSchedule = () => {};
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  const runtime = `node ${process.version}, ws`;
  peer.announce({ mode: opts.mode, name: 'ws-broadcast', kind: 'node-ws', runtime, host: address, port });
  stopSchedule = peer.startSchedule(opts.rate, (createdUs) => broadcast(log.append(createdUs)));
});

peer.onSignals(() => {
  stopSchedule();
  for (const client of live) client.close(...peer.GOING_AWAY);
  server.close();
});
