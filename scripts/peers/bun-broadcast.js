// The same WebSocket broadcast server as ws-broadcast.mjs, on Bun:
// `Bun.serve` with its built-in pub/sub (uWebSockets underneath), the
// fastest fan-out a JavaScript server commonly gets, so pushbench can
// measure itself against it under the same load (`pushbench peers`).
//
// Started through the `bun-broadcast` launcher beside it (which runs the
// `bun` that `npm ci --prefix scripts/peers` installs), it takes `pushbench
// serve`'s command line and speaks pushbench's event protocol, exactly as
// the Node peer does (peer-common.mjs holds both):
//
//   bun-broadcast serve --addr 127.0.0.1:0 --rate R --payload P --topics T --ring N
//
// - `GET /ws?since=S`: the ring's events after S (or a gap marker), each
//   sent to this client alone, then the client subscribes to one topic
//   and every new event is one `server.publish` to all subscribers (Bun
//   frames it once and writes it to each socket; a socket over Bun's
//   backpressure limit drops the message, which the load generator
//   counts as missed);
// - `GET /stats`: the fields the load generator reads;
// - a `/ws` upgrade with a bad `since`, or to any other path: 400; any
//   other request: 404 with a JSON body; shutdown (SIGTERM, SIGINT) closes
//   every client with 1001 "going away".
//
// No pings and no idle timeout (Bun's defaults send pings and close idle
// sockets after 120 s): neither Node's `ws` nor `pushbench serve` do, and
// every byte on the wire is accounted for by class.
import * as peer from './peer-common.mjs';

const TOPIC = 'events';

const opts = peer.parseServeArgs('bun-broadcast', process.argv.slice(2));
const log = new peer.EventLog(opts);
let delivered = 0;
let connectionsTotal = 0;
const live = new Set();

const server = Bun.serve({
  hostname: opts.host,
  port: opts.port,
  fetch(req, server) {
    const url = new URL(req.url);
    if (req.headers.get('upgrade') !== null) {
      const since = peer.sinceParam(url);
      if (url.pathname === '/ws' && since !== undefined && server.upgrade(req, { data: { since } })) {
        return undefined;
      }
      return new Response(null, { status: 400, headers: { connection: 'close' } });
    }
    if (req.method === 'GET' && url.pathname === '/stats') {
      const counts = { lastSeq: log.lastSeq, open: live.size, total: connectionsTotal, delivered };
      return Response.json(peer.statsBody(counts));
    }
    return Response.json(peer.notFoundBody(req.method, url.pathname), { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    sendPings: false,
    idleTimeout: 0,
    open(ws) {
      connectionsTotal += 1;
      // Catch up from the ring (synchronously, so no live event slips in
      // between), then join the broadcast.
      const { since } = ws.data;
      if (since !== null) {
        const [messages, events] = log.catchUp(since);
        for (const m of messages) ws.send(m);
        delivered += events;
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

peer.announce('bun-broadcast', `bun ${Bun.version}, Bun.serve pub/sub`, server.hostname, server.port);

const stopSchedule = peer.startSchedule(opts.rate, (createdUs) => {
  server.publish(TOPIC, log.append(createdUs));
  delivered += live.size;
});

peer.onSignals(() => {
  stopSchedule();
  for (const ws of live) ws.close(...peer.GOING_AWAY);
  server.stop();
});
