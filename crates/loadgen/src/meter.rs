//! The per-connection tally and the per-phase shards it books into.
//!
//! A [`Meter`] sits inside a client's [`CountingStream`](pushbench_net::counting::CountingStream): every byte read or
//! written goes through the wire [`Classifier`] at once, so bytes are booked
//! by class as they cross the socket and decoded messages are stamped with
//! the time their last byte was read (the receipt time for latency).
//!
//! Content-coded bodies (gzip, br) are booked twice, in two ledgers: their
//! wire bytes as `compressed` in the classes (which still add up to the
//! socket count), and the classes of what they decode to in
//! [`Traffic::decoded`], which the classifier reports as
//! [`WireEvent::Decoded`] and which no total includes.
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
//!
//! # Over HTTP/2
//! An HTTP/2 connection's meter holds the HTTP/2 classifier
//! ([`H2Classifier`]) instead of the HTTP/1.1 one; it sees the raw frames
//! (above TLS when TLS) and books them by the HTTP/2 rule (frame headers
//! `h2_frames`, HPACK blocks as headers, DATA payloads through the
//! transport's body parser, other frames `control`). Several clients may
//! share the connection, one stream each: every note carries the stream it
//! came from and each client takes its own ([`Meter::take_notes_for`]);
//! the connection's bytes are booked once, into the shard of the client
//! that opened it. The setup ([`ConnectionTotals::setup`]) is found on the
//! raw frames by [`H2SetupScan`]: each way, everything up to and including
//! the first HEADERS frame (with its CONTINUATIONs): the client's preface,
//! both SETTINGS frames, their ACKs and WINDOW_UPDATEs sent before it, the
//! first request's HEADERS and the first response's HEADERS.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use pushbench_net::counting::Tally;
use pushbench_protocol::h2::H2Classifier;
use pushbench_protocol::ledger::tcp_ip_header_bytes;
use pushbench_protocol::tls::{RecordPart, RecordScanner};
use pushbench_protocol::{
    ByteClass, ByteLedger, Classifier, Direction, HttpVersion, Received, Traffic, Transport,
    WireError, WireEvent, now_us,
};

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
    /// The phase's shared HTTP/2 connections (`h2_streams` clients each).
    h2_groups: crate::h2::Groups,
}

impl Default for PhaseRecorder {
    fn default() -> Self {
        PhaseRecorder {
            measuring: AtomicBool::new(false),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            started: Instant::now(),
            first_sessions: AtomicU64::new(0),
            last_first_session_us: AtomicU64::new(0),
            h2_groups: crate::h2::Groups::default(),
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

    /// The shared HTTP/2 connection of group `index` (clients
    /// `index * h2_streams ..`), made on first use.
    pub fn h2_group(&self, index: usize) -> Arc<crate::h2::Group> {
        self.h2_groups.get(index)
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

/// The classifier of a connection's HTTP version.
#[derive(Debug)]
enum AnyClassifier {
    Http1(Classifier),
    Http2(H2Classifier),
}

impl AnyClassifier {
    /// Feeds bytes; `sink` gets each event with its stream (0 over HTTP/1.1).
    fn feed(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        sink: &mut dyn FnMut(u32, WireEvent<'_>),
    ) -> Result<(), WireError> {
        match self {
            AnyClassifier::Http1(c) => c.feed(direction, bytes, &mut |e| sink(0, e)),
            AnyClassifier::Http2(c) => c.feed(direction, bytes, &mut |id, e| sink(id, e)),
        }
    }

    fn finish(&mut self, sink: &mut dyn FnMut(u32, WireEvent<'_>)) {
        match self {
            AnyClassifier::Http1(c) => c.finish(&mut |e| sink(0, e)),
            AnyClassifier::Http2(c) => c.finish(&mut |id, e| sink(id, e)),
        }
    }
}

/// Where a connection's setup ends, each way.
#[derive(Debug)]
enum SetupScan {
    /// HTTP/1.1: the first head (sent, received).
    Http1([HeadScan; 2]),
    /// HTTP/2: up to the first HEADERS frame (sent, received).
    Http2(Box<[H2SetupScan; 2]>),
}

#[derive(Debug)]
struct MeterState {
    classifier: AnyClassifier,
    /// Raw socket counts, (sent, received).
    socket: (u64, u64),
    /// Every byte of this connection by class.
    traffic: Traffic,
    /// The part of `traffic` booked while the window was open.
    windowed: Traffic,
    /// The connection's setup: its bytes up to and including the first
    /// response head (the first request or upgrade, and its answer's head).
    setup: Traffic,
    /// Scanners for the end of the setup each way.
    heads: SetupScan,
    /// Notes with the stream they came from (0 over HTTP/1.1).
    notes: Vec<(u32, Note)>,
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
    /// The server closed: the socket under TLS read its end of the
    /// stream, or TLS its `close_notify` (the plaintext's end).
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
        Self::speaking(transport, HttpVersion::Http1, recorder, client_id, tls)
    }

    /// [`Meter::with_tls`] for a connection that speaks `http` (see the
    /// module's "Over HTTP/2").
    pub fn speaking(
        transport: Transport,
        http: HttpVersion,
        recorder: Arc<PhaseRecorder>,
        client_id: usize,
        tls: bool,
    ) -> Self {
        let (classifier, heads) = match http {
            HttpVersion::Http1 => (
                AnyClassifier::Http1(Classifier::new(transport)),
                SetupScan::Http1([HeadScan::default(); 2]),
            ),
            HttpVersion::Http2 => (
                AnyClassifier::Http2(H2Classifier::new(transport)),
                SetupScan::Http2(Box::new([H2SetupScan::client(), H2SetupScan::server()])),
            ),
        };
        Meter {
            transport,
            state: Arc::new(Mutex::new(MeterState {
                classifier,
                socket: (0, 0),
                traffic: Traffic::default(),
                windowed: Traffic::default(),
                setup: Traffic::default(),
                heads,
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
                // Over TLS the socket is counted below; this is plaintext,
                // and a read of nothing its end (the server's close_notify).
                (Some(tls), _) => {
                    tls.plaintext[index(direction)] += bytes.len() as u64;
                    tls.peer_closed |= bytes.is_empty() && direction == Direction::Received;
                }
                (None, Direction::Sent) => socket.0 += bytes.len() as u64,
                (None, Direction::Received) => socket.1 += bytes.len() as u64,
            }
            let (class, ledger) = match direction {
                Direction::Sent => (ByteClass::RequestHeaders, &mut setup.sent),
                Direction::Received => (ByteClass::ResponseHeaders, &mut setup.received),
            };
            let class = if self.transport == Transport::Ws {
                ByteClass::Handshake
            } else {
                class
            };
            match heads {
                SetupScan::Http1(scans) => ledger.add(class, scans[index(direction)].feed(bytes)),
                SetupScan::Http2(scans) => scans[index(direction)].feed(bytes, class, ledger),
            }
            let mut sink =
                |stream: u32, e: WireEvent<'_>| book(stream, e, at, traffic, &mut delta, notes);
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

    /// True once the server has closed a TLS connection: the socket under
    /// TLS read its end of the stream, or TLS its `close_notify` (false
    /// for a plaintext meter).
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
        if (delta.total() > 0 || !delta.decoded.is_empty()) && self.recorder.measuring() {
            self.recorder.shard(self.shard).traffic.merge(delta);
            return true;
        }
        false
    }

    /// Takes the messages and response boundaries decoded so far.
    pub fn take_notes(&self) -> Vec<Note> {
        std::mem::take(&mut lock(&self.state).notes)
            .into_iter()
            .map(|(_, note)| note)
            .collect()
    }

    /// Takes the notes of HTTP/2 stream `stream` decoded so far (0: the
    /// connection's own), leaving the other streams' for their clients.
    pub fn take_notes_for(&self, stream: u32) -> Vec<Note> {
        let mut state = lock(&self.state);
        if state.notes.iter().all(|(s, _)| *s != stream) {
            return Vec::new();
        }
        // Over HTTP/1.1 (and on an HTTP/2 connection of one client) every
        // note is the caller's: no partition needed.
        let notes = std::mem::take(&mut state.notes);
        if notes.iter().all(|(s, _)| *s == stream) {
            return notes.into_iter().map(|(_, note)| note).collect();
        }
        let (mine, others): (Vec<_>, Vec<_>) = notes.into_iter().partition(|(s, _)| *s == stream);
        state.notes = others;
        mine.into_iter().map(|(_, note)| note).collect()
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
        classifier.finish(&mut |stream: u32, e: WireEvent<'_>| {
            book(stream, e, at, traffic, &mut delta, notes)
        });
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

/// The HTTP/2 frame types and flags the setup scan looks at (RFC 9113).
const H2_HEADERS: u8 = 0x1;
const H2_SETTINGS: u8 = 0x4;
const H2_CONTINUATION: u8 = 0x9;
const H2_ACK: u8 = 0x1;
const H2_END_HEADERS: u8 = 0x4;
const H2_PADDED: u8 = 0x8;
const H2_PRIORITY: u8 = 0x20;

/// Finds an HTTP/2 connection's setup in one direction of its raw bytes:
/// everything up to and including the first HEADERS frame and its
/// CONTINUATIONs (the HTTP/1.1 analog is the first head), booked by the
/// HTTP/2 byte-class rule: the client's preface and the first SETTINGS
/// frame `handshake`; other frames before the HEADERS (SETTINGS ACK,
/// WINDOW_UPDATE) `control`; the HEADERS frame's 9-byte header, pad-length
/// byte, priority fields and padding `h2_frames`; its header block the
/// headers class (`handshake` for an extended CONNECT). Like `HeadScan`
/// it reads the bytes themselves, so it does not depend on how the
/// classifier books an exchange (an empty poll is control as a whole).
#[derive(Clone, Debug)]
pub struct H2SetupScan {
    /// Preface bytes still to come (24 from the client, 0 from the server).
    preface: usize,
    /// The current frame's header, as far as read.
    header: [u8; 9],
    header_len: usize,
    /// The current frame's body still to come: (class, bytes) in order.
    body: Vec<(ByteClass, usize)>,
    /// The next body byte is a HEADERS frame's pad length.
    pad_length_next: bool,
    /// The current frame is the last of the first header block.
    ends_setup: bool,
    settings_seen: bool,
    done: bool,
}

impl H2SetupScan {
    /// The scan of what the client sends (it starts with the preface).
    pub fn client() -> Self {
        H2SetupScan {
            preface: pushbench_protocol::h2::PREFACE.len(),
            ..Self::server()
        }
    }

    /// The scan of what the server sends.
    pub fn server() -> Self {
        H2SetupScan {
            preface: 0,
            header: [0; 9],
            header_len: 0,
            body: Vec::new(),
            pad_length_next: false,
            ends_setup: false,
            settings_seen: false,
            done: false,
        }
    }

    /// Whether the setup has been read in full.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds bytes, booking those of the setup into `ledger`; `headers` is
    /// the class of the header block.
    pub fn feed(&mut self, mut bytes: &[u8], headers: ByteClass, ledger: &mut ByteLedger) {
        while !self.done && !bytes.is_empty() {
            if self.preface > 0 {
                let n = self.preface.min(bytes.len());
                ledger.add(ByteClass::Handshake, n as u64);
                self.preface -= n;
                bytes = &bytes[n..];
                continue;
            }
            if self.pad_length_next {
                // The block shrinks by the padding, which follows it.
                self.pad_length_next = false;
                let pad = usize::from(bytes[0]);
                if let Some((_, block)) = self.body.iter_mut().find(|(c, _)| *c == headers) {
                    let pad = pad.min(*block);
                    *block -= pad;
                    self.body.push((ByteClass::H2Frames, pad));
                }
            }
            if let Some((class, left)) = self.body.first_mut() {
                let n = (*left).min(bytes.len());
                ledger.add(*class, n as u64);
                *left -= n;
                bytes = &bytes[n..];
                if *left == 0 {
                    self.body.remove(0);
                }
            } else {
                let n = (9 - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len < 9 {
                    continue;
                }
                self.header_len = 0;
                let class = self.frame_started(headers);
                ledger.add(class, 9);
            }
            self.body.retain(|(_, n)| *n > 0);
            if self.body.is_empty() && self.header_len == 0 && self.ends_setup {
                self.done = true;
            }
        }
    }

    /// A frame header was read: plans its body, returns the header's class.
    fn frame_started(&mut self, headers: ByteClass) -> ByteClass {
        let h = self.header;
        let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
        let (kind, flags) = (h[3], h[4]);
        self.body.clear();
        match kind {
            H2_SETTINGS if !self.settings_seen && flags & H2_ACK == 0 => {
                self.settings_seen = true;
                self.body.push((ByteClass::Handshake, len));
                ByteClass::Handshake
            }
            H2_HEADERS | H2_CONTINUATION => {
                self.ends_setup = flags & H2_END_HEADERS != 0;
                let padded = kind == H2_HEADERS && flags & H2_PADDED != 0;
                let priority = if kind == H2_HEADERS && flags & H2_PRIORITY != 0 {
                    5
                } else {
                    0
                };
                let fixed = (usize::from(padded) + priority).min(len);
                self.pad_length_next = padded && len > 0;
                self.body.push((ByteClass::H2Frames, fixed));
                self.body.push((headers, len - fixed));
                ByteClass::H2Frames
            }
            _ => {
                self.body.push((ByteClass::Control, len));
                ByteClass::Control
            }
        }
    }
}

fn book(
    stream: u32,
    e: WireEvent<'_>,
    at: u64,
    traffic: &mut Traffic,
    delta: &mut Traffic,
    notes: &mut Vec<(u32, Note)>,
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
        WireEvent::Decoded { class, bytes } => {
            traffic.decoded.add(class, bytes.len() as u64);
            delta.decoded.add(class, bytes.len() as u64);
        }
        WireEvent::Message(m) => notes.push((stream, Note::Message(m, at))),
        WireEvent::ResponseHead { status } => notes.push((stream, Note::ResponseHead(status))),
        WireEvent::ResponseEnd { status, next } => {
            notes.push((stream, Note::ResponseEnd(status, next)))
        }
        WireEvent::Malformed { reason, .. } => notes.push((stream, Note::Malformed(reason))),
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

    fn frame(kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend([kind, flags, 0, 0, 0, 1]);
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn the_h2_setup_ends_with_the_first_header_block_in_any_split() {
        // Preface, SETTINGS (6 bytes), WINDOW_UPDATE, HEADERS without
        // END_HEADERS, CONTINUATION with it, then a DATA frame after.
        let sent = [
            pushbench_protocol::h2::PREFACE.to_vec(),
            frame(H2_SETTINGS, 0, &[0; 6]),
            frame(0x8, 0, &[0, 0, 1, 0]),
            frame(H2_HEADERS, 0, &[1; 10]),
            frame(H2_CONTINUATION, H2_END_HEADERS, &[2; 5]),
            frame(0x0, 0x1, b"after"),
        ]
        .concat();
        for chunk in [sent.len(), 1, 7] {
            let mut ledger = ByteLedger::default();
            let mut scan = H2SetupScan::client();
            for piece in sent.chunks(chunk) {
                scan.feed(piece, ByteClass::RequestHeaders, &mut ledger);
            }
            assert!(scan.done());
            assert_eq!(ledger.get(ByteClass::Handshake), 24 + 9 + 6, "{chunk}");
            assert_eq!(ledger.get(ByteClass::Control), 9 + 4);
            assert_eq!(ledger.get(ByteClass::H2Frames), 18);
            assert_eq!(ledger.get(ByteClass::RequestHeaders), 15);
            assert_eq!(ledger.total(), (sent.len() - 9 - 5) as u64);
        }
        // A server's padded HEADERS: the pad-length byte and padding are
        // frame overhead; a SETTINGS ACK before it is control.
        let mut padded = vec![3];
        padded.extend([7; 4]);
        padded.extend([0; 3]);
        let received = [
            frame(H2_SETTINGS, 0, &[]),
            frame(H2_SETTINGS, H2_ACK, &[]),
            frame(H2_HEADERS, H2_END_HEADERS | H2_PADDED, &padded),
        ]
        .concat();
        let mut ledger = ByteLedger::default();
        let mut scan = H2SetupScan::server();
        scan.feed(&received, ByteClass::ResponseHeaders, &mut ledger);
        assert!(scan.done());
        assert_eq!(ledger.get(ByteClass::Handshake), 9);
        assert_eq!(ledger.get(ByteClass::Control), 9);
        assert_eq!(ledger.get(ByteClass::H2Frames), 9 + 1 + 3);
        assert_eq!(ledger.get(ByteClass::ResponseHeaders), 4);
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
