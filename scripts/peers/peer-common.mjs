// What every peer server of scripts/peers/ shares, whatever runs it (Node
// or Bun): `pushbench serve`'s command line, pushbench's event protocol
// (the deterministic payload, the event JSON, the ring a client catches up
// from, the gap marker), the fixed-rate schedule, the `/stats` body and the
// first stdout line. Each server only adds its own WebSocket plumbing.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const FLAGS = ['addr', 'rate', 'payload', 'topics', 'ring'];

/** Writes `PROGRAM: MESSAGE` to stderr and exits 2 (a usage error). */
export function fail(program, message) {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}

/**
 * `serve [--addr A] [--rate R] [--payload P] [--topics T] [--ring N]`
 * (also `--flag=value`), as `pushbench serve` takes them; anything else is
 * a usage error naming the flag. `argv` is the arguments after the script.
 */
export function parseServeArgs(program, argv) {
  const opts = { addr: '127.0.0.1:0', rate: 10, payload: 128, topics: 1, ring: 10000 };
  const usage = FLAGS.map((f) => `[--${f} ${f === 'addr' ? 'A' : 'N'}]`).join(' ');
  if (argv[0] !== 'serve') fail(program, `usage: ${program} serve ${usage}`);
  for (let i = 1; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    const name = flag.replace(/^--/, '');
    if (!FLAGS.includes(name) || !flag.startsWith('--')) {
      fail(program, `unknown flag ${flag} (allowed: ${FLAGS.map((f) => `--${f}`).join(', ')})`);
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
 * clients catching up with `?since=S`.
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
    this.lastSeq += 1;
    const seq = this.lastSeq;
    const json = JSON.stringify({
      seq,
      topic: `t${seq % this.topics}`,
      created_us: createdUs,
      payload: payloadFor(seq, this.payload),
    });
    this.events[seq % this.size] = json;
    return json;
  }

  /**
   * What a client that has seen up to `since` gets first: a gap marker if
   * the ring no longer holds the next event, then every held event after
   * `since`, one message each. The second value counts the events.
   */
  catchUp(since) {
    const oldest = Math.max(1, this.lastSeq - this.size + 1);
    const messages = [];
    if (since + 1 < oldest) messages.push(`{"gap":{"from":${since + 1},"to":${oldest - 1}}}`);
    for (let seq = Math.max(since + 1, oldest); seq <= this.lastSeq; seq++) {
      messages.push(this.events[seq % this.size]);
    }
    return [messages, messages.length - (since + 1 < oldest ? 1 : 0)];
  }
}

/**
 * The `since` query parameter of a `/ws` URL: `null` when absent, the
 * number, or `undefined` when it is not a whole number (a 400).
 */
export function sinceParam(url) {
  const since = url.searchParams.get('since');
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

/** `/stats`: the fields the load generator reads. */
export function statsBody({ lastSeq, open, total, delivered }) {
  const cpu = process.cpuUsage();
  return {
    last_seq: lastSeq,
    events_published: lastSeq,
    slow_consumer_drops: 0,
    process: { cpu_seconds: (cpu.user + cpu.system) / 1e6, rss_bytes: process.memoryUsage.rss() },
    transports: {
      ws: { connections_open: open, connections_total: total, events_delivered: delivered },
    },
  };
}

/** The 404 body of any other route, as `pushbench serve` answers it. */
export function notFoundBody(method, pathname) {
  return { error: `no route for ${method} ${pathname}`, status: 404 };
}

/** The first stdout line, `NAME (RUNTIME) listening on http://HOST:PORT`. */
export function announce(name, runtime, host, port) {
  const shown = host.includes(':') ? `[${host}]` : host;
  process.stdout.write(`${name} (${runtime}) listening on http://${shown}:${port}\n`);
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
