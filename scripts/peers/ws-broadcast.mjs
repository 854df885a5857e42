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
// The protocol itself is in peer-common.mjs, shared with bun-broadcast.js.
import http from 'node:http';
import { WebSocketServer } from 'ws';

import * as peer from './peer-common.mjs';

const opts = peer.parseServeArgs('ws-broadcast', process.argv.slice(2));
const log = new peer.EventLog(opts);
let delivered = 0;
let connectionsTotal = 0;
const live = new Set();

function publish(createdUs) {
  const json = log.append(createdUs);
  for (const ws of live) {
    ws.send(json);
    delivered += 1;
  }
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && url.pathname === '/stats') {
    const counts = { lastSeq: log.lastSeq, open: live.size, total: connectionsTotal, delivered };
    return json(res, 200, peer.statsBody(counts));
  }
  json(res, 404, peer.notFoundBody(req.method, url.pathname));
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  const since = peer.sinceParam(url);
  if (url.pathname !== '/ws' || since === undefined) {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    connectionsTotal += 1;
    // Catch up from the ring (synchronously, so no live event slips in
    // between), then join the broadcast.
    if (since !== null) {
      const [messages, events] = log.catchUp(since);
      for (const m of messages) ws.send(m);
      delivered += events;
    }
    live.add(ws);
    ws.on('close', () => live.delete(ws));
    ws.on('error', () => live.delete(ws));
  });
});

let stopSchedule = () => {};
server.listen(opts.port, opts.host, () => {
  const { address, port } = server.address();
  peer.announce('ws-broadcast', `node ${process.version}, ws`, address, port);
  stopSchedule = peer.startSchedule(opts.rate, publish);
});

peer.onSignals(() => {
  stopSchedule();
  for (const ws of live) ws.close(...peer.GOING_AWAY);
  server.close();
});
