//! The per-connection tally and the per-phase shards it books into.
//!
//! A [`Meter`] sits inside a client's [`CountingStream`](pushbench_server::counting::CountingStream): every byte read or
//! written goes through the wire [`Classifier`] at once, so bytes are booked
//! by class as they cross the socket and decoded messages are stamped with
//! the time their last byte was read (the receipt time for latency).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use pushbench_protocol::ledger::tcp_ip_header_bytes;
use pushbench_protocol::{
    ByteClass, ByteLedger, Classifier, Direction, Received, Traffic, Transport, WireError,
    WireEvent, now_us,
};
use pushbench_server::counting::Tally;

use crate::tcpinfo::Segments;

/// Locks a mutex, ignoring poisoning: the data are plain counters, still
/// meaningful after a panicking holder.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Highest latency the histograms track, microseconds: an hour. Larger
/// values are clamped, never dropped, so `count` stays exact.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A new latency histogram (3 significant digits, 1 µs to an hour).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

/// What one worker shard collected while the window was open.
#[derive(Debug)]
pub struct Shard {
    /// Bytes booked while measuring.
    pub traffic: Traffic,
    /// Events received while measuring.
    pub delivered: u64,
    /// HTTP responses read to their end while measuring.
    pub responses: u64,
    /// Latency, creation to receipt, µs.
    pub latency: Histogram<u64>,
    /// Connection setup time, µs (every connection of the phase).
    pub setup: Histogram<u64>,
    /// Errors by kind (every error of the phase).
    pub errors: BTreeMap<String, u64>,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            traffic: Traffic::default(),
            delivered: 0,
            responses: 0,
            latency: new_histogram(),
            setup: new_histogram(),
            errors: BTreeMap::new(),
        }
    }
}

/// Shards per phase: clients record into `id % SHARDS`, so no single lock is
/// shared by all clients; merged once at the end of the phase.
pub const SHARDS: usize = 16;

/// The collector of one phase: the measuring flag, the shards, and the
/// connection ramp (when each client's first session opened).
#[derive(Debug)]
pub struct PhaseRecorder {
    measuring: AtomicBool,
    shards: Vec<Mutex<Shard>>,
    /// When the phase's clients were started: the origin of the ramp.
    started: Instant,
    /// Clients whose first session has opened.
    first_sessions: AtomicU64,
    /// Microseconds after `started` when the latest first session opened.
    last_first_session_us: AtomicU64,
}

impl Default for PhaseRecorder {
    fn default() -> Self {
        PhaseRecorder {
            measuring: AtomicBool::new(false),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            started: Instant::now(),
            first_sessions: AtomicU64::new(0),
            last_first_session_us: AtomicU64::new(0),
        }
    }
}

/// How fast a phase's clients got their first session open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ramp {
    /// Clients whose first session opened.
    pub first_sessions: u64,
    /// Microseconds from the phase's start to the last of them.
    pub all_connected_us: u64,
}

impl Ramp {
    /// First sessions per second over the ramp (0 when nothing opened).
    pub fn per_second(&self) -> f64 {
        if self.all_connected_us == 0 {
            0.0
        } else {
            self.first_sessions as f64 * 1e6 / self.all_connected_us as f64
        }
    }
}

impl PhaseRecorder {
    /// Opens or closes the measured window.
    pub fn set_measuring(&self, on: bool) {
        self.measuring.store(on, Ordering::SeqCst);
    }

    /// Whether the measured window is open.
    pub fn measuring(&self) -> bool {
        self.measuring.load(Ordering::SeqCst)
    }

    /// The shard of client `id`.
    pub fn shard(&self, id: usize) -> MutexGuard<'_, Shard> {
        lock(&self.shards[id % self.shards.len()])
    }

    /// Counts an error of `kind` for client `id`.
    pub fn error(&self, id: usize, kind: impl Into<String>) {
        *self.shard(id).errors.entry(kind.into()).or_default() += 1;
    }

    /// Notes that a client's first session of the phase just opened.
    pub fn first_session_opened(&self) {
        let us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.first_sessions.fetch_add(1, Ordering::Relaxed);
        self.last_first_session_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The connection ramp so far.
    pub fn ramp(&self) -> Ramp {
        Ramp {
            first_sessions: self.first_sessions.load(Ordering::Relaxed),
            all_connected_us: self.last_first_session_us.load(Ordering::Relaxed),
        }
    }

    /// All shards added together.
    pub fn merged(&self) -> Shard {
        let mut all = Shard::default();
        for shard in &self.shards {
            let shard = lock(shard);
            all.traffic.merge(&shard.traffic);
            all.delivered += shard.delivered;
            all.responses += shard.responses;
            // Both histograms have the same bounds, so `add` cannot fail.
            let _ = all.latency.add(&shard.latency);
            let _ = all.setup.add(&shard.setup);
            for (kind, n) in &shard.errors {
                *all.errors.entry(kind.clone()).or_default() += n;
            }
        }
        all
    }
}

/// Something the classifier decoded, for the client loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// An event or gap, with the time its last byte was read (µs since epoch).
    Message(Received, u64),
    /// An HTTP response head.
    ResponseHead(u16),
    /// An HTTP response body ended; the poll cursor if it was a poll answer.
    ResponseEnd(u16, Option<u64>),
    /// Bytes that should have been an event but were not.
    Malformed(&'static str),
}

#[derive(Debug)]
struct MeterState {
    classifier: Classifier,
    /// Raw socket counts, (sent, received).
    socket: (u64, u64),
    /// Every byte of this connection by class.
    traffic: Traffic,
    /// The part of `traffic` booked while the window was open.
    windowed: Traffic,
    /// The connection's setup: its bytes up to and including the first
    /// response head (the first request or upgrade, and its answer's head).
    setup: Traffic,
    /// Scanners for the end of the first head each way: sent, received.
    heads: [HeadScan; 2],
    notes: Vec<Note>,
    error: Option<WireError>,
}

/// The tally of one client connection. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct Meter {
    transport: Transport,
    state: Arc<Mutex<MeterState>>,
    recorder: Arc<PhaseRecorder>,
    shard: usize,
}

/// What a finished connection carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionTotals {
    /// Bytes written to the socket.
    pub socket_sent: u64,
    /// Bytes read from the socket.
    pub socket_received: u64,
    /// The same bytes by class, with `tcp_ip` from `segments`.
    pub traffic: Traffic,
    /// The setup part of `traffic` (first request/upgrade and response head).
    pub setup: Traffic,
    /// `TCP_INFO` segment counts just before the client closed, when the
    /// kernel could tell them.
    pub segments: Option<Segments>,
}

impl Meter {
    /// A meter for one connection of `transport`, booking into `recorder`'s
    /// shard for client `client_id`.
    pub fn new(transport: Transport, recorder: Arc<PhaseRecorder>, client_id: usize) -> Self {
        Meter {
            transport,
            state: Arc::new(Mutex::new(MeterState {
                classifier: Classifier::new(transport),
                socket: (0, 0),
                traffic: Traffic::default(),
                windowed: Traffic::default(),
                setup: Traffic::default(),
                heads: [HeadScan::default(); 2],
                notes: Vec::new(),
                error: None,
            })),
            recorder,
            shard: client_id,
        }
    }

    fn on_bytes(&self, direction: Direction, bytes: &[u8]) {
        let at = now_us();
        let mut delta = Traffic::default();
        {
            let mut state = lock(&self.state);
            let MeterState {
                classifier,
                socket,
                traffic,
                windowed,
                setup,
                heads,
                notes,
                error,
            } = &mut *state;
            match direction {
                Direction::Sent => socket.0 += bytes.len() as u64,
                Direction::Received => socket.1 += bytes.len() as u64,
            }
            let (scan, class, ledger) = match direction {
                Direction::Sent => (&mut heads[0], ByteClass::RequestHeaders, &mut setup.sent),
                Direction::Received => (
                    &mut heads[1],
                    ByteClass::ResponseHeaders,
                    &mut setup.received,
                ),
            };
            let class = if self.transport == Transport::Ws {
                ByteClass::Handshake
            } else {
                class
            };
            ledger.add(class, scan.feed(bytes));
            let mut sink = |e: WireEvent<'_>| book(e, at, traffic, &mut delta, notes);
            if let Err(e) = classifier.feed(direction, bytes, &mut sink) {
                error.get_or_insert(e);
            }
            if self.book_window(&delta) {
                windowed.merge(&delta);
            }
        }
    }

    /// Books `delta` into the phase's window if it is open; says whether it did.
    fn book_window(&self, delta: &Traffic) -> bool {
        if delta.total() > 0 && self.recorder.measuring() {
            self.recorder.shard(self.shard).traffic.merge(delta);
            return true;
        }
        false
    }

    /// Takes the messages and response boundaries decoded so far.
    pub fn take_notes(&self) -> Vec<Note> {
        std::mem::take(&mut lock(&self.state).notes)
    }

    /// The first protocol error the classifier met, if any.
    pub fn take_error(&self) -> Option<WireError> {
        lock(&self.state).error.take()
    }

    /// The connection ended: books what the classifier still holds and
    /// returns the connection's totals. `segments` are its `TCP_INFO`
    /// counts read just before closing, if known: they become `tcp_ip`.
    pub fn finish(&self, segments: Option<Segments>) -> ConnectionTotals {
        let mut delta = Traffic::default();
        let mut state = lock(&self.state);
        let MeterState {
            classifier,
            socket,
            traffic,
            windowed,
            setup,
            notes,
            ..
        } = &mut *state;
        let at = now_us();
        classifier.finish(&mut |e: WireEvent<'_>| book(e, at, traffic, &mut delta, notes));
        if self.book_window(&delta) {
            windowed.merge(&delta);
        }
        if let Some(segments) = segments {
            // The client's SYN goes out and the server's SYN-ACK comes in.
            traffic.sent.tcp_ip = tcp_ip_header_bytes(segments.out, 1);
            traffic.received.tcp_ip = tcp_ip_header_bytes(segments.r#in, 1);
            // The window's share of the headers, in proportion to the
            // window's share of the connection's bytes per direction: the
            // kernel's counters are read once per connection, not at the
            // window's edges, so this part is an estimate.
            let share = |part: u64, all: u64, headers: u64| {
                if all == 0 {
                    0
                } else {
                    (headers as f64 * part as f64 / all as f64).round() as u64
                }
            };
            let mut window_headers = Traffic::default();
            window_headers.sent.tcp_ip = share(
                windowed.sent.total(),
                traffic.sent.total(),
                traffic.sent.tcp_ip,
            );
            window_headers.received.tcp_ip = share(
                windowed.received.total(),
                traffic.received.total(),
                traffic.received.tcp_ip,
            );
            if window_headers.sent.tcp_ip + window_headers.received.tcp_ip > 0 {
                self.recorder
                    .shard(self.shard)
                    .traffic
                    .merge(&window_headers);
            }
        }
        ConnectionTotals {
            socket_sent: socket.0,
            socket_received: socket.1,
            traffic: *traffic,
            setup: *setup,
            segments,
        }
    }
}

fn ledger(traffic: &mut Traffic, direction: Direction) -> &mut ByteLedger {
    match direction {
        Direction::Sent => &mut traffic.sent,
        Direction::Received => &mut traffic.received,
    }
}

/// Finds the end of the first HTTP head (`\r\n\r\n`) in one direction of
/// a connection's raw bytes: the setup is the first request (or upgrade)
/// and the first response head, found on the bytes themselves so it does not
/// depend on how the classifier books an exchange (polls are booked whole,
/// and an empty one as control).
#[derive(Clone, Copy, Debug, Default)]
struct HeadScan {
    /// The last bytes seen, newest in the low byte.
    tail: u32,
    done: bool,
}

impl HeadScan {
    /// Feeds bytes; returns how many of them belong to the first head.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        if self.done {
            return 0;
        }
        for (i, &b) in bytes.iter().enumerate() {
            self.tail = (self.tail << 8) | u32::from(b);
            if self.tail == u32::from_be_bytes(*b"\r\n\r\n") {
                self.done = true;
                return i as u64 + 1;
            }
        }
        bytes.len() as u64
    }
}

fn book(
    e: WireEvent<'_>,
    at: u64,
    traffic: &mut Traffic,
    delta: &mut Traffic,
    notes: &mut Vec<Note>,
) {
    match e {
        WireEvent::Bytes {
            direction,
            class,
            bytes,
        } => {
            ledger(traffic, direction).add(class, bytes.len() as u64);
            ledger(delta, direction).add(class, bytes.len() as u64);
        }
        WireEvent::Message(m) => notes.push(Note::Message(m, at)),
        WireEvent::ResponseHead { status } => notes.push(Note::ResponseHead(status)),
        WireEvent::ResponseEnd { status, next } => notes.push(Note::ResponseEnd(status, next)),
        WireEvent::Malformed { reason, .. } => notes.push(Note::Malformed(reason)),
    }
}

impl Tally for Meter {
    fn on_read(&self, bytes: &[u8]) {
        self.on_bytes(Direction::Received, bytes);
    }

    fn on_written(&self, bytes: &[u8]) {
        self.on_bytes(Direction::Sent, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_head_ends_at_the_blank_line_in_any_split() {
        let head = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let mut whole = HeadScan::default();
        assert_eq!(
            whole.feed(&[&head[..], b"body"].concat()),
            head.len() as u64
        );
        assert_eq!(whole.feed(b"GET / HTTP/1.1\r\n\r\n"), 0);
        let mut split = HeadScan::default();
        let counted: u64 = head.iter().map(|b| split.feed(&[*b])).sum();
        assert_eq!(counted, head.len() as u64);
        assert_eq!(split.feed(b"more"), 0);
    }
}
