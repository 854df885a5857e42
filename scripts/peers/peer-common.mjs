// What every peer server of scripts/peers/ shares, whatever runs it (Node
// or Bun): its two command lines (`serve`, as `pushbench serve` takes it,
// with its own event generator; `relay`, for scripts/targets/, where
// pushbench publishes every event), pushbench's event protocol (the
// deterministic payload, the event JSON, the ring a client catches up
// from, the gap marker, the NDJSON and SSE framings), the fixed-rate
// schedule, the `POST /publish` body, the `/stats` body and the first
// stdout lines. Each server only adds its own HTTP and WebSocket plumbing.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';


/** Writes `PROGRAM: MESSAGE` to stderr and exits 2 (a usage error). */
export function fail(program, message) {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}

/** The flags each subcommand takes. */
const FLAGS = {
  serve: ['addr', 'rate', 'payload', 'topics', 'ring'],
  relay: ['addr', 'ring'],
};

/**
 * `serve [--addr A] [--rate R] [--payload P] [--topics T] [--ring N]`
 * (also `--flag=value`), as `pushbench serve` takes them, or `relay
 * [--addr A] [--ring N]` (no generator: events arrive by `POST
 * /publish`); anything else is a usage error naming the flag. `argv` is
 * the arguments after the script. `opts.mode` is the subcommand.
 */
export function parseArgs(program, argv) {
  const opts = { addr: '127.0.0.1:0', rate: 10, payload: 128, topics: 1, ring: 10000 };
  const usage = Object.entries(FLAGS)
    .map(([mode, flags]) => `${program} ${mode} ${flags.map((f) => `[--${f} ${f === 'addr' ? 'A' : 'N'}]`).join(' ')}`)
    .join('\n   or: ');
  const mode = argv[0];
  if (!Object.hasOwn(FLAGS, mode ?? '')) fail(program, `usage: ${usage}`);
  const allowed = FLAGS[mode];
  opts.mode = mode;
  for (let i = 1; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    const name = flag.replace(/^--/, '');
    if (!allowed.includes(name) || !flag.startsWith('--')) {
      fail(program, `${mode}: unknown flag ${flag} (allowed: ${allowed.map((f) => `--${f}`).join(', ')})`);
    }
    if (value === undefined) fail(program, `${flag} needs a value`);
    if (name === 'addr') {
      opts.addr = value;
    } else {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) fail(program, `${flag}: expected a number >= 0, got ${value}`);
      opts[name] = n;
    }
  }
  if (mode === 'relay') opts.rate = 0;
  if (opts.ring < 1) fail(program, '--ring: must be at least 1');
  const at = opts.addr.lastIndexOf(':');
  const port = Number(opts.addr.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    fail(program, `--addr: expected HOST:PORT, got ${opts.addr}`);
  }
  opts.host = opts.addr.slice(0, at);
  opts.port = port;
  return opts;
}

/** The payload pushbench's server sends with event `seq`: `len` letters. */
export function payloadFor(seq, len) {
  const start = seq % ALPHABET.length;
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[(start + i) % ALPHABET.length];
  return out;
}

/** Microseconds since the Unix epoch, with sub-millisecond resolution. */
export function nowUs() {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * The events published so far: the last `size` events' JSON, by seq, for
 * clients catching up with `?since=S`. Generated (`append`, `serve`) or
 * published by pushbench (`add`, `relay`: seqs as they come, so the ring
 * keeps each event's seq beside its JSON and skips a seq never added or
 * overwritten).
 */
export class EventLog {
  constructor({ ring, payload, topics }) {
    this.size = ring;
    this.payload = payload;
    this.topics = Math.max(1, topics);
    this.events = new Array(ring);
    this.lastSeq = 0;
  }

  /** Appends the next event, created at `createdUs`; returns its JSON. */
  append(createdUs) {
    const seq = this.lastSeq + 1;
    const json = JSON.stringify({
      seq,
      topic: `t${seq % this.topics}`,
      created_us: createdUs,
      payload: payloadFor(seq, this.payload),
    });
    this.add(seq, json);
    return json;
  }

  /**
   * Keeps event `seq`, whose JSON is `json`, as the last one. A seq below
   * the last starts a new stream (a new `pushbench run` against the same
   * relay publishes from seq 1 again): the ring is emptied first, so no
   * old event is caught up as if it were new.
   */
  add(seq, json) {
    if (seq < this.lastSeq) this.events = new Array(this.size);
    this.events[seq % this.size] = { seq, json };
    this.lastSeq = seq;
  }

  /**
   * What a client that has seen up to `since` gets first: `gap`, the seqs
   * the ring no longer holds (`{from, to}`, or null), then `events`, every
   * held event after `since` (`{seq, json}`), in seq order.
   */
  catchUp(since) {
    const oldest = Math.max(1, this.lastSeq - this.size + 1);
    const gap = since + 1 < oldest ? { from: since + 1, to: oldest - 1 } : null;
    const events = [];
    for (let seq = Math.max(since + 1, oldest); seq <= this.lastSeq; seq++) {
      const held = this.events[seq % this.size];
      if (held?.seq === seq) events.push(held);
    }
    return { gap, events };
  }
}

/** A gap marker as a WebSocket message or an NDJSON line's JSON. */
export function gapJson({ from, to }) {
  return `{"gap":{"from":${from},"to":${to}}}`;
}

/**
 * How each technique frames an event (`{seq, json}`) and a gap, byte for
 * byte as `pushbench serve` does: a WebSocket text message is the JSON; an
 * HTTP stream one NDJSON line; SSE an `id:`/`data:` block, a gap its own
 * `event: gap` block.
 */
export const FRAMING = {
  ws: { event: ({ json }) => json, gap: gapJson },
  stream: { event: ({ json }) => `${json}\n`, gap: (gap) => `${gapJson(gap)}\n` },
  sse: {
    event: ({ seq, json }) => `id: ${seq}\ndata: ${json}\n\n`,
    gap: ({ from, to }) => `event: gap\ndata: {"from":${from},"to":${to}}\n\n`,
  },
};

/** What a new `technique` client gets first after `since`: framed messages. */
export function catchUpFramed(log, technique, since) {
  const { gap, events } = log.catchUp(since);
  const framing = FRAMING[technique];
  const out = gap ? [framing.gap(gap)] : [];
  for (const event of events) out.push(framing.event(event));
  return { messages: out, events: events.length };
}

/** The largest `POST /publish` body taken: one event's JSON. */
export const MAX_PUBLISH_BYTES = 1 << 20;

/**
 * A `POST /publish` body: one event's JSON on one line (pushbench's Event:
 * `{"seq":N,"topic":...,"created_us":...,"payload":...}`), kept
 * verbatim. Returns `{seq, json}`, or `{error}` naming what was expected.
 */
export function parsePublished(text) {
  const expected = 'one event\'s JSON on one line, {"seq":N,...} with N a whole number >= 1';
  if (/[\r\n]/.test(text)) return { error: `body: expected ${expected}, got a line break` };
  let event;
  try {
    event = JSON.parse(text);
  } catch {
    return { error: `body: expected ${expected}, got no JSON` };
  }
  const seq = event?.seq;
  if (!Number.isSafeInteger(seq) || seq < 1) {
    return { error: `body: expected ${expected}` };
  }
  return { seq, json: text };
}

/**
 * Where a subscriber resumes: the `since` query parameter, or for SSE a
 * `Last-Event-ID` header (`lastEventId`, which wins, as in `pushbench
 * serve`). `null` when neither is given (live events only), the seq, or
 * `undefined` when it is not a whole number (a 400).
 */
export function sinceParam(url, lastEventId = null) {
  const since = lastEventId ?? url.searchParams.get('since');
  if (since === null) return null;
  return /^\d+$/.test(since) ? Number(since) : undefined;
}

/**
 * Calls `publish(createdUs)` for every event due at `rate` per second, each
 * stamped with the time it was due (so a stall shows as latency). Returns
 * a function that stops it; a rate of 0 publishes nothing.
 */
export function startSchedule(rate, publish) {
  if (!(rate > 0)) return () => {};
  const startMs = performance.now();
  const startUs = nowUs();
  let sent = 0;
  let timer;
  const tick = () => {
    const due = Math.floor(((performance.now() - startMs) / 1000) * rate);
    while (sent < due) {
      sent += 1;
      publish(startUs + Math.floor((sent / rate) * 1e6));
    }
    const nextMs = startMs + ((sent + 1) / rate) * 1000;
    timer = setTimeout(tick, Math.max(0, nextMs - performance.now()));
  };
  timer = setTimeout(tick, 0);
  return () => clearTimeout(timer);
}

/**
 * `/stats`: the fields the load generator reads, and `server` and `mode`,
 * which name the program (`ws-broadcast`, `bun-broadcast`) and its
 * subcommand (`serve`, `relay`), so a probe tells it from other servers.
 * `transports` maps each technique to `{open, total, delivered}`.
 */
export function statsBody({ server, mode, lastSeq, transports }) {
  const cpu = process.cpuUsage();
  const routes = {};
  for (const [name, { open, total, delivered }] of Object.entries(transports)) {
    routes[name] = { connections_open: open, connections_total: total, events_delivered: delivered };
  }
  return {
    server,
    mode,
    last_seq: lastSeq,
    events_published: lastSeq,
    slow_consumer_drops: 0,
    process: { cpu_seconds: (cpu.user + cpu.system) / 1e6, rss_bytes: process.memoryUsage.rss() },
    transports: routes,
  };
}

/** The 404 body of any other route, as `pushbench serve` answers it. */
export function notFoundBody(method, pathname) {
  return { error: `no route for ${method} ${pathname}`, status: 404 };
}

/** A 400 or 413 body naming what was wrong, as `pushbench serve`'s. */
export function errorBody(status, message) {
  return { error: message, status };
}

/** The 400 message of a `since` or `Last-Event-ID` that is no seq. */
export const BAD_SINCE = 'since: expected a whole number >= 0 (query `since` or header `Last-Event-ID`)';

/**
 * The first stdout line. `serve`: `NAME (RUNTIME) listening on
 * http://HOST:PORT`, as `pushbench run --server-exe` reads it. `relay`:
 * scripts/targets/' contract, `KIND listening on http://HOST:PORT`, then
 * `pid PID` (this process: the start script execs the runtime).
 */
export function announce({ mode, name, kind, runtime, host, port }) {
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}`;
  if (mode === 'relay') {
    process.stdout.write(`${kind} listening on ${url}\npid ${process.pid}\n`);
  } else {
    process.stdout.write(`${name} (${runtime}) listening on ${url}\n`);
  }
}

/** Close code and reason sent to every client on shutdown. */
export const GOING_AWAY = [1001, 'going away'];

/** Runs `shutdown` on SIGTERM or SIGINT, then exits within half a second. */
export function onSignals(shutdown) {
  const stop = () => {
    shutdown();
    setTimeout(() => process.exit(0), 500).unref?.();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
