// Unit tests of peer-common.mjs, the protocol the Bun and Node peers
// share (run: node --test scripts/peers/; crates/cli/tests/it/
// target_bun_node.rs runs them under `cargo test`). Byte-exact: the
// framings must be `pushbench serve`'s, whose parsers read them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'node:test';

import * as peer from './peer-common.mjs';

const EVENT = '{"seq":7,"topic":"t0","created_us":1700000000000001,"payload":"hello"}';

test('each technique frames an event and a gap as pushbench serve does', () => {
  const event = { seq: 7, json: EVENT };
  assert.equal(peer.FRAMING.ws.event(event), EVENT);
  assert.equal(peer.FRAMING.stream.event(event), `${EVENT}\n`);
  assert.equal(peer.FRAMING.sse.event(event), `id: 7\ndata: ${EVENT}\n\n`);
  const gap = { from: 1, to: 3 };
  assert.equal(peer.FRAMING.ws.gap(gap), '{"gap":{"from":1,"to":3}}');
  assert.equal(peer.FRAMING.stream.gap(gap), '{"gap":{"from":1,"to":3}}\n');
  assert.equal(peer.FRAMING.sse.gap(gap), 'event: gap\ndata: {"from":1,"to":3}\n\n');
});

test('a generated event is pushbench serve\'s JSON with its payload', () => {
  const log = new peer.EventLog({ ring: 4, payload: 5, topics: 2 });
  assert.equal(log.append(1700000000000001), '{"seq":1,"topic":"t1","created_us":1700000000000001,"payload":"BCDEF"}');
  assert.equal(log.lastSeq, 1);
});

test('a client catches up from the ring, after a gap marker when it fell behind', () => {
  const log = new peer.EventLog({ ring: 3, payload: 0, topics: 1 });
  for (let seq = 1; seq <= 5; seq++) log.add(seq, `{"seq":${seq}}`);
  assert.deepEqual(peer.catchUpFramed(log, 'sse', 3), {
    messages: ['id: 4\ndata: {"seq":4}\n\n', 'id: 5\ndata: {"seq":5}\n\n'],
    events: 2,
  });
  assert.deepEqual(peer.catchUpFramed(log, 'ws', 0), {
    messages: ['{"gap":{"from":1,"to":2}}', '{"seq":3}', '{"seq":4}', '{"seq":5}'],
    events: 3,
  });
  assert.deepEqual(peer.catchUpFramed(log, 'stream', 5), { messages: [], events: 0 });
});

test('published seqs are kept as they come: one never published is skipped', () => {
  const log = new peer.EventLog({ ring: 8, payload: 0, topics: 1 });
  log.add(1, '{"seq":1}');
  log.add(3, '{"seq":3}');
  assert.deepEqual(log.catchUp(0).events, [
    { seq: 1, json: '{"seq":1}' },
    { seq: 3, json: '{"seq":3}' },
  ]);
  // The same seq again (a publish retried) replaces it.
  log.add(3, '{"seq":3,"retried":true}');
  assert.deepEqual(log.catchUp(2).events, [{ seq: 3, json: '{"seq":3,"retried":true}' }]);
  // A publisher that starts again from 1 starts a new stream: the old
  // events are gone, even once the new stream passes their seqs.
  log.add(1, '{"seq":1,"again":true}');
  assert.equal(log.lastSeq, 1);
  assert.deepEqual(log.catchUp(0).events, [{ seq: 1, json: '{"seq":1,"again":true}' }]);
  log.add(2, '{"seq":2,"again":true}');
  log.add(4, '{"seq":4,"again":true}');
  assert.deepEqual(log.catchUp(0).events.map((e) => e.json), [
    '{"seq":1,"again":true}',
    '{"seq":2,"again":true}',
    '{"seq":4,"again":true}',
  ]);
});

test('a published body is one event\'s JSON, kept verbatim', () => {
  assert.deepEqual(peer.parsePublished(EVENT), { seq: 7, json: EVENT });
  const expected = 'one event\'s JSON on one line, {"seq":N,...} with N a whole number >= 1';
  assert.deepEqual(peer.parsePublished('{"seq":0}'), { error: `body: expected ${expected}` });
  assert.deepEqual(peer.parsePublished('{"seq":1.5}'), { error: `body: expected ${expected}` });
  assert.deepEqual(peer.parsePublished('[1]'), { error: `body: expected ${expected}` });
  assert.deepEqual(peer.parsePublished('null'), { error: `body: expected ${expected}` });
  assert.deepEqual(peer.parsePublished('{"seq":'), { error: `body: expected ${expected}, got no JSON` });
  assert.deepEqual(peer.parsePublished('{"seq":1}\n'), { error: `body: expected ${expected}, got a line break` });
});

test('since comes from the query, or for SSE from Last-Event-ID', () => {
  const url = (q) => new URL(`http://x/sse${q}`);
  assert.equal(peer.sinceParam(url('')), null);
  assert.equal(peer.sinceParam(url('?since=12')), 12);
  assert.equal(peer.sinceParam(url('?since=-1')), undefined);
  assert.equal(peer.sinceParam(url('?since=12'), '40'), 40);
  assert.equal(peer.sinceParam(url(''), 'abc'), undefined);
});

test('/stats names the program, its mode and each technique\'s counts', () => {
  const stats = peer.statsBody({
    server: 'bun-broadcast',
    mode: 'relay',
    lastSeq: 9,
    transports: { sse: { open: 1, total: 2, delivered: 3 } },
  });
  assert.equal(stats.server, 'bun-broadcast');
  assert.equal(stats.mode, 'relay');
  assert.equal(stats.last_seq, 9);
  assert.deepEqual(stats.transports, { sse: { connections_open: 1, connections_total: 2, events_delivered: 3 } });
});

test('each command line refuses a flag it does not take, naming it', () => {
  const program = fileURLToPath(new URL('./ws-broadcast.mjs', import.meta.url));
  const run = (...args) => spawnSync(process.execPath, [program, ...args], { encoding: 'utf8' });
  const relay = run('relay', '--rate', '5');
  assert.equal(relay.status, 2);
  assert.equal(relay.stderr, 'ws-broadcast: relay: unknown flag --rate (allowed: --addr, --ring)\n');
  const nothing = run();
  assert.equal(nothing.status, 2);
  assert.match(nothing.stderr, /usage: ws-broadcast serve .*\n {3}or: ws-broadcast relay \[--addr A\] \[--ring N\]\n/);
  assert.equal(run('relay', '--addr', 'nowhere').stderr, 'ws-broadcast: --addr: expected HOST:PORT, got nowhere\n');
});
