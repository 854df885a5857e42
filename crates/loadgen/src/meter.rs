//! The per-connection tally and the per-phase shards it books into.
//!
//! A [`Meter`] sits inside a client's [`CountingStream`](pushbench_server::counting::CountingStream): every byte read or
//! written goes through the wire [`Classifier`] at once, so bytes are booked
//! by class as they cross the socket and decoded messages are stamped with
//! the time their last byte was read (the receipt time for latency).
//!
//! # Over TLS
//! A TLS connection has two tallies: the [`Meter`] itself sits above TLS
//! (it sees the plaintext, which the classifier books into the plaintext
//! classes as over plain TCP), and [`Meter::below_tls`] sits on the socket
//! under TLS (it counts the ciphertext: the socket count) and books what
//! TLS adds, so the classes still add up to the socket count exactly:
//! - until the client's handshake completes ([`Meter::tls_handshake_done`]:
//!   ClientHello to the client's Finished), every socket byte either way is
//!   [`ByteClass::TlsHandshake`]. With TLS 1.3 that is exactly the
//!   handshake's records: the server sends nothing more before it has the
//!   client's Finished.
//! - after it, each record's header and trailer (inner content type and
//!   AEAD tag, [`RecordScanner`]) are [`ByteClass::TlsRecords`] as they
//!   cross the socket; the record bodies are the plaintext the classifier
//!   books. Records that carry no application data (the server's session
//!   tickets, `close_notify` either way) look the same from the ciphertext;
//!   their bodies are the difference between the body bytes and the
//!   plaintext that came out, booked as `tls_records` when the connection
//!   ends (so a ticket sent before the window shows in a window only if its
//!   connection also ended in it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use pushbench_protocol::ledger::tcp_ip_header_bytes;
use pushbench_protocol::tls::{RecordPart, RecordScanner};
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
    /// Present on a TLS connection: what the tally below TLS keeps.
    tls: Option<TlsTally>,
}

/// The part of a TLS connection's bookkeeping below TLS.
#[derive(Debug, Default)]
struct TlsTally {
    /// The client's handshake has completed: bytes from now on are records.
    handshake_done: bool,
    /// Record boundaries, sent and received.
    scanners: [RecordScanner; 2],
    /// Record body bytes after the handshake, sent and received.
    bodies: [u64; 2],
    /// Plaintext bytes the tally above TLS counted, sent and received.
    plaintext: [u64; 2],
    /// The socket under TLS read the server's end of the stream.
    peer_closed: bool,
}

fn index(direction: Direction) -> usize {
    match direction {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
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
        Self::with_tls(transport, recorder, client_id, false)
    }

    /// [`Meter::new`] for a TLS connection when `tls`: the meter then
    /// counts plaintext and [`Meter::below_tls`] the socket (see the
    /// module's "Over TLS").
    pub fn with_tls(
        transport: Transport,
        recorder: Arc<PhaseRecorder>,
        client_id: usize,
        tls: bool,
    ) -> Self {
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
                tls: tls.then(TlsTally::default),
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
                tls,
            } = &mut *state;
            match (tls, direction) {
                // Over TLS the socket is counted below; this is plaintext.
                (Some(tls), _) => tls.plaintext[index(direction)] += bytes.len() as u64,
                (None, Direction::Sent) => socket.0 += bytes.len() as u64,
                (None, Direction::Received) => socket.1 += bytes.len() as u64,
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

    /// The tally for the socket under TLS: counts the ciphertext and books
    /// the TLS classes. Only meaningful for a meter made
    /// [`with_tls`](Meter::with_tls).
    pub fn below_tls(&self) -> BelowTls {
        BelowTls(self.clone())
    }

    /// The client's TLS handshake completed: from now on the socket's
    /// bytes are records, not handshake.
    pub fn tls_handshake_done(&self) {
        if let Some(tls) = lock(&self.state).tls.as_mut() {
            tls.handshake_done = true;
        }
    }

    /// True once the socket under TLS has read the server's end of the
    /// stream (false for a plaintext meter).
    pub fn peer_closed_under_tls(&self) -> bool {
        lock(&self.state)
            .tls
            .as_ref()
            .is_some_and(|t| t.peer_closed)
    }

    fn on_socket_under_tls(&self, direction: Direction, bytes: &[u8]) {
        let mut delta = Traffic::default();
        let mut state = lock(&self.state);
        let MeterState {
            socket,
            traffic,
            windowed,
            setup,
            tls,
            ..
        } = &mut *state;
        let Some(tls) = tls else { return };
        let n = bytes.len() as u64;
        let i = index(direction);
        // A read of nothing is the end of the stream.
        tls.peer_closed |= n == 0 && direction == Direction::Received;
        match direction {
            Direction::Sent => socket.0 += n,
            Direction::Received => socket.1 += n,
        }
        let mut overhead = 0;
        let mut body = 0;
        // rustls rejects a stream that is not TLS records before it could
        // go far; the scanner then books what is left as overhead, so the
        // sum stays exact and the error needs no path of its own.
        let _ = tls.scanners[i].feed(bytes, &mut |part, len, _| match part {
            RecordPart::Body => body += len as u64,
            RecordPart::Header | RecordPart::Trailer => overhead += len as u64,
        });
        if tls.handshake_done {
            tls.bodies[i] += body;
            ledger(&mut delta, direction).add(ByteClass::TlsRecords, overhead);
        } else {
            ledger(&mut delta, direction).add(ByteClass::TlsHandshake, n);
            ledger(setup, direction).add(ByteClass::TlsHandshake, n);
        }
        traffic.merge(&delta);
        if self.book_window(&delta) {
            windowed.merge(&delta);
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
            tls,
            ..
        } = &mut *state;
        let at = now_us();
        classifier.finish(&mut |e: WireEvent<'_>| book(e, at, traffic, &mut delta, notes));
        if let Some(tls) = tls {
            // Record bodies that gave no plaintext: tickets, close_notify.
            for direction in [Direction::Sent, Direction::Received] {
                let i = index(direction);
                let control = tls.bodies[i].saturating_sub(tls.plaintext[i]);
                ledger(&mut delta, direction).add(ByteClass::TlsRecords, control);
                ledger(traffic, direction).add(ByteClass::TlsRecords, control);
            }
        }
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

/// The tally on the socket under TLS ([`Meter::below_tls`]).
#[derive(Clone, Debug)]
pub struct BelowTls(Meter);

impl Tally for BelowTls {
    fn on_read(&self, bytes: &[u8]) {
        self.0.on_socket_under_tls(Direction::Received, bytes);
    }

    fn on_written(&self, bytes: &[u8]) {
        self.0.on_socket_under_tls(Direction::Sent, bytes);
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

    fn record(content_type: u8, content: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(content as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0, content));
        r
    }

    #[test]
    fn tls_classes_and_plaintext_add_up_to_the_socket_count() {
        use pushbench_protocol::tls::TLS13_RECORD_TRAILER as T;
        let recorder = Arc::new(PhaseRecorder::default());
        let meter = Meter::with_tls(Transport::Stream, recorder, 0, true);
        let below = meter.below_tls();
        // Handshake: a ClientHello, then ServerHello, CCS and the encrypted
        // flight (in pieces), then the client's CCS and Finished.
        below.on_written(&record(22, 300));
        let flight = [record(22, 90), record(20, 1), record(23, 700)].concat();
        for piece in flight.chunks(128) {
            below.on_read(piece);
        }
        below.on_written(&[record(20, 1), record(23, 53)].concat());
        meter.tls_handshake_done();
        // A request in one record; a session ticket, then the response head
        // in one record read in two pieces, then close_notify both ways.
        let request = b"GET /stream?since=0 HTTP/1.1\r\nhost: x\r\n\r\n";
        meter.on_written(request);
        below.on_written(&record(23, request.len() + T));
        below.on_read(&record(23, 200));
        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        let response = record(23, head.len() + T);
        below.on_read(&response[..20]);
        below.on_read(&response[20..]);
        meter.on_read(head);
        below.on_written(&record(23, 2 + T));
        below.on_read(&record(23, 2 + T));
        assert!(!meter.peer_closed_under_tls());
        below.on_read(&[]);
        assert!(meter.peer_closed_under_tls());
        let totals = meter.finish(None);

        let (sent, received) = (&totals.traffic.sent, &totals.traffic.received);
        assert_eq!(sent.total(), totals.socket_sent);
        assert_eq!(received.total(), totals.socket_received);
        assert_eq!(sent.tls_handshake, 305 + 6 + 58);
        assert_eq!(received.tls_handshake, 95 + 6 + 705);
        // Request record: header and trailer; close_notify: all of it.
        assert_eq!(sent.tls_records, (5 + T as u64) + (5 + 2 + T as u64));
        // Ticket: all of it; response: header and trailer; close_notify.
        assert_eq!(
            received.tls_records,
            205 + (5 + T as u64) + (5 + 2 + T as u64)
        );
        assert_eq!(sent.request_headers, request.len() as u64);
        assert_eq!(received.response_headers, head.len() as u64);
        // The handshake is part of the setup, beside the first heads.
        assert_eq!(totals.setup.sent.tls_handshake, sent.tls_handshake);
        assert_eq!(
            totals.setup.received.total(),
            received.tls_handshake + head.len() as u64
        );
    }
}
