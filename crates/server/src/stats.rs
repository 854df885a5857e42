//! `/stats`: per-route connection, event and byte counts, and the process's
//! own CPU time and memory.

use std::sync::atomic::{AtomicU64, Ordering};

pub use pushbench_net::process_tree::{parse_cpu_seconds, parse_vm_rss};
use serde::Serialize;

use crate::hub::Hub;
use crate::listener::{ClosedTotals, ConnSnapshot, Registry};
use crate::route::Route;

/// Counters the handlers bump, per route.
#[derive(Debug, Default)]
pub struct Counters {
    connections_total: [AtomicU64; Route::COUNT],
    events_delivered: [AtomicU64; Route::COUNT],
    /// Events live subscribers lost because they fell behind the whole ring
    /// (they got a gap marker for them).
    pub slow_consumer_drops: AtomicU64,
    /// Times a live subscriber fell more than the queue behind and was
    /// resynced from the ring.
    pub slow_consumer_resyncs: AtomicU64,
    /// Requests refused because the connection limit was reached.
    pub connections_refused: AtomicU64,
    /// Connections closed because their request head did not arrive within
    /// the header timeout (slowloris).
    pub header_timeouts: AtomicU64,
    /// Connections closed because a write stalled past the send timeout (a
    /// client that stopped reading).
    pub send_timeouts: AtomicU64,
    /// Requests that were not valid HTTP/1.1 or whose head was too large.
    pub malformed_requests: AtomicU64,
    /// Connections that ended in any other error (reset, cut mid-message).
    pub connection_errors: AtomicU64,
}

impl Counters {
    /// A connection started serving `route`.
    pub fn connection_opened(&self, route: Route) {
        self.connections_total[route.index_usize()].fetch_add(1, Ordering::Relaxed);
    }

    /// Books a connection that ended in `err`, and says which way it ended.
    pub fn connection_error(&self, err: &hyper::Error) -> ConnectionEnd {
        let end = ConnectionEnd::of(err);
        let counter = match end {
            ConnectionEnd::HeaderTimeout => &self.header_timeouts,
            ConnectionEnd::Malformed => &self.malformed_requests,
            ConnectionEnd::SendTimeout => &self.send_timeouts,
            ConnectionEnd::Error => &self.connection_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        end
    }

    /// `n` events were handed to a client of `route`.
    pub fn delivered(&self, route: Route, n: u64) {
        self.events_delivered[route.index_usize()].fetch_add(n, Ordering::Relaxed);
    }

    /// Events delivered on `route` so far.
    #[cfg(test)]
    pub fn delivered_on(&self, route: Route) -> u64 {
        self.events_delivered[route.index_usize()].load(Ordering::Relaxed)
    }
}

/// Whether an HTTP/2 connection ended because the client broke the
/// protocol: h2 noticed it and sent a GOAWAY or RST_STREAM (not one the
/// client sent, not an I/O error): the HTTP/2 form of a malformed request.
fn is_http2_violation(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_library();
        }
        source = e.source();
    }
    false
}

/// How a connection that hyper ended with an error ended, as `/stats`
/// counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// No complete request head within `--header-timeout`.
    HeaderTimeout,
    /// A request hyper could not parse, or an HTTP/2 protocol violation.
    Malformed,
    /// A write stalled for `--send-timeout`: the client stopped reading.
    SendTimeout,
    /// Anything else (a reset, a broken pipe).
    Error,
}

impl ConnectionEnd {
    /// Which way `err` ended its connection.
    pub fn of(err: &hyper::Error) -> Self {
        if err.is_timeout() {
            ConnectionEnd::HeaderTimeout
        } else if err.is_parse() || err.is_parse_too_large() || is_http2_violation(err) {
            ConnectionEnd::Malformed
        } else if is_timed_out(err) {
            ConnectionEnd::SendTimeout
        } else {
            ConnectionEnd::Error
        }
    }
}

/// Whether an error was caused by an I/O timeout somewhere in its chain.
pub fn is_timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Per-route figures in `/stats`.
#[derive(Debug, Default, Serialize, Clone, Copy, PartialEq, Eq)]
pub struct RouteStats {
    /// Connections open now.
    pub connections_open: u64,
    /// Connections ever used for this route.
    pub connections_total: u64,
    /// Events handed to clients.
    pub events_delivered: u64,
    /// Bytes read from clients (socket count, open and closed connections).
    pub bytes_read: u64,
    /// Bytes written to clients (socket count, open and closed connections).
    pub bytes_written: u64,
}

/// The process's own resource use, from `/proc/self`.
#[derive(Debug, Default, Serialize, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU seconds since start.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// The built-in generator as this server was configured, in `/stats`, so a
/// load generator measuring it (`run --target`) records the rate the
/// server really published rather than one it assumed.
#[derive(Debug, Default, Serialize, Clone, Copy, PartialEq)]
pub struct GeneratorStats {
    /// Events per second of the built-in generator; 0 when it is off
    /// (events then come only from publishers).
    pub rate: f64,
    /// Events it publishes back to back, the groups spaced `burst / rate`
    /// apart (1: evenly spaced).
    pub burst: u32,
    /// Payload bytes of each generated event.
    pub payload: usize,
    /// Topics the generator spreads its events over.
    pub topics: u32,
}

impl GeneratorStats {
    /// The generator `config` describes.
    pub fn of(config: &crate::ServerConfig) -> Self {
        GeneratorStats {
            rate: config.rate,
            burst: config.burst,
            payload: config.payload,
            topics: config.topics,
        }
    }
}

/// The whole `/stats` answer.
#[derive(Debug, Serialize)]
pub struct StatsReport {
    /// Highest seq assigned.
    pub last_seq: u64,
    /// Events published by this process (skipped seqs excluded; events a
    /// journal restored are not counted).
    pub events_published: u64,
    /// When this server started, µs since the Unix epoch; a change between
    /// two answers means the server was restarted.
    pub started_us: u64,
    /// Journal writes that failed (always 0 without `--journal`).
    pub journal_errors: u64,
    /// See [`Counters::slow_consumer_drops`].
    pub slow_consumer_drops: u64,
    /// See [`Counters::slow_consumer_resyncs`].
    pub slow_consumer_resyncs: u64,
    /// See [`Counters::connections_refused`].
    pub connections_refused: u64,
    /// See [`Counters::header_timeouts`].
    pub header_timeouts: u64,
    /// See [`Counters::send_timeouts`].
    pub send_timeouts: u64,
    /// See [`Counters::malformed_requests`].
    pub malformed_requests: u64,
    /// See [`Counters::connection_errors`].
    pub connection_errors: u64,
    /// Connections open now, all routes.
    pub connections_open: u64,
    /// CPU and memory.
    pub process: ProcessStats,
    /// The built-in generator's settings.
    pub generator: GeneratorStats,
    /// Per route, keyed by route name.
    pub transports: std::collections::BTreeMap<&'static str, RouteStats>,
    /// Per connection (open, then recently closed), only when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<Vec<ConnSnapshot>>,
    /// `--cluster` only: this node's link to the cluster's Redis (absent
    /// on a lone server, whose report is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterStats>,
}

/// Builds the per-route table from connection snapshots and closed totals.
pub fn route_table(
    counters: &Counters,
    open: &[ConnSnapshot],
    closed: &[ClosedTotals; Route::COUNT],
) -> std::collections::BTreeMap<&'static str, RouteStats> {
    let mut rows = [RouteStats::default(); Route::COUNT];
    for (i, row) in rows.iter_mut().enumerate() {
        row.connections_total = counters.connections_total[i].load(Ordering::Relaxed);
        row.events_delivered = counters.events_delivered[i].load(Ordering::Relaxed);
        row.bytes_read = closed[i].bytes_read;
        row.bytes_written = closed[i].bytes_written;
    }
    for conn in open {
        let route = conn.transport.map_or(Route::Other, Route::for_name);
        let row = &mut rows[route.index_usize()];
        row.connections_open += 1;
        row.bytes_read += conn.bytes_read;
        row.bytes_written += conn.bytes_written;
    }
    Route::all()
        .into_iter()
        .map(|r| (r.name(), rows[r.index_usize()]))
        .collect()
}

/// Collects the full report.
pub fn report(
    counters: &Counters,
    registry: &Registry,
    hub: &Hub,
    generator: GeneratorStats,
    with_connections: bool,
) -> StatsReport {
    let (open, closed) = registry.snapshot();
    let transports = route_table(counters, &open, &closed);
    let connections_open = open.len() as u64;
    let connections = with_connections.then(|| {
        let mut all = open;
        all.extend(registry.recently_closed());
        all
    });
    StatsReport {
        last_seq: hub.last_seq(),
        events_published: hub.published(),
        started_us: hub.started_us(),
        journal_errors: hub.journal_errors(),
        slow_consumer_drops: counters.slow_consumer_drops.load(Ordering::Relaxed),
        slow_consumer_resyncs: counters.slow_consumer_resyncs.load(Ordering::Relaxed),
        connections_refused: counters.connections_refused.load(Ordering::Relaxed),
        header_timeouts: counters.header_timeouts.load(Ordering::Relaxed),
        send_timeouts: counters.send_timeouts.load(Ordering::Relaxed),
        malformed_requests: counters.malformed_requests.load(Ordering::Relaxed),
        connection_errors: counters.connection_errors.load(Ordering::Relaxed),
        connections_open,
        process: process_stats(),
        generator,
        transports,
        connections,
        cluster: None,
    }
}

/// Reads this process's CPU time and RSS from `/proc/self`; zeros elsewhere.
/// The parsers are `pushbench_net::process_tree`'s, shared with the load
/// generator's view of servers of other kinds.
pub fn process_stats() -> ProcessStats {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    ProcessStats {
        cpu_seconds: parse_cpu_seconds(&stat).unwrap_or(0.0),
        rss_bytes: parse_vm_rss(&status).unwrap_or(0),
    }
}
