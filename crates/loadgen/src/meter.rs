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
//! raw frames by [`H2SetupScan`](crate::setup_scan::H2SetupScan): each way, everything up to and including
//! the first HEADERS frame (with its CONTINUATIONs): the client's preface,
//! both SETTINGS frames, their ACKs and WINDOW_UPDATEs sent before it, the
//! first request's HEADERS and the first response's HEADERS.

use std::sync::{Arc, Mutex};

use pushbench_net::counting::Tally;
use pushbench_protocol::h2_classifier::H2Classifier;
use pushbench_protocol::ledger::tcp_ip_header_bytes;
use pushbench_protocol::tls_records::{RecordPart, RecordScanner};
use pushbench_protocol::{
    ByteClass, ByteLedger, Classifier, Direction, HttpVersion, Received, TargetKind, Traffic,
    Transport, WireError, WireEvent, now_us,
};

use crate::lock;
use crate::peer_state::PeerNote;
use crate::recorder::PhaseRecorder;
use crate::setup_scan::SetupScan;
use crate::tcpinfo::ConnectionSegments;

/// Something the classifier decoded, for the client loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// An event or gap, with the time its last byte was read (µs since epoch).
    Message(Received, u64),
    /// An HTTP response head.
    ResponseHead(u16),
    /// An HTTP response body ended; the poll cursor if it was a poll answer.
    ResponseEnd(u16, Option<u64>),
    /// Bytes that should have been an event but were not.
    Malformed(&'static str),
    /// What the server's dialect asks the client to carry on or answer
    /// (boxed: rare, and its strings would make every note, an event's
    /// too, a quarter larger).
    Peer(Box<PeerNote>),
}

/// The classifier of a connection's HTTP version.
#[derive(Debug)]
enum AnyClassifier {
    Http1(Classifier),
    Http2(H2Classifier),
}

impl AnyClassifier {
    /// Feeds bytes; `sink` gets each event with its stream (0 over HTTP/1.1).
    /// Generic, so the booking of each segment is inlined into the parsers.
    fn feed<S: FnMut(u32, WireEvent<'_>)>(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        sink: &mut S,
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

#[derive(Debug)]
struct MeterState {
    classifier: AnyClassifier,
    books: Books,
    /// Scanners for the end of the setup each way.
    heads: SetupScan,
    /// Notes with the stream they came from (0 over HTTP/1.1).
    notes: Vec<(u32, Note)>,
    error: Option<WireError>,
    /// Present on a TLS connection: what the tally below TLS keeps.
    tls: Option<TlsTally>,
}

/// A connection's counts: the socket's, and the same bytes by class.
#[derive(Debug, Default)]
struct Books {
    /// Raw socket counts, sent and received.
    socket: [u64; 2],
    /// Every byte of this connection by class.
    traffic: Traffic,
    /// The part of `traffic` booked while the window was open.
    windowed: Traffic,
    /// The connection's setup: its bytes up to and including the first
    /// response head (the first request or upgrade, and its answer's head).
    setup: Traffic,
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
    /// The same bytes by class, with `tcp_ip` and `retransmitted` from
    /// `segments`.
    pub traffic: Traffic,
    /// The setup part of `traffic` (first request/upgrade and response head).
    pub setup: Traffic,
    /// `TCP_INFO` counts of both ends just before the client closed, when
    /// the kernel could tell them.
    pub segments: Option<ConnectionSegments>,
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
        Self::of_kind(TargetKind::Pushbench, transport, recorder, client_id, tls)
    }

    /// [`Meter::with_tls`] for a connection to a `kind` server over
    /// HTTP/1.1, read in its dialect.
    pub fn of_kind(
        kind: TargetKind,
        transport: Transport,
        recorder: Arc<PhaseRecorder>,
        client_id: usize,
        tls: bool,
    ) -> Self {
        let classifier = AnyClassifier::Http1(Classifier::for_target(kind, transport));
        Self::around(
            classifier,
            transport,
            HttpVersion::Http1,
            recorder,
            client_id,
            tls,
        )
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
        let classifier = match http {
            HttpVersion::Http1 => AnyClassifier::Http1(Classifier::new(transport)),
            HttpVersion::Http2 => AnyClassifier::Http2(H2Classifier::new(transport)),
        };
        Self::around(classifier, transport, http, recorder, client_id, tls)
    }

    fn around(
        classifier: AnyClassifier,
        transport: Transport,
        http: HttpVersion,
        recorder: Arc<PhaseRecorder>,
        client_id: usize,
        tls: bool,
    ) -> Self {
        Meter {
            transport,
            state: Arc::new(Mutex::new(MeterState {
                classifier,
                books: Books::default(),
                heads: SetupScan::new(http),
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
        let mut state = lock(&self.state);
        let MeterState {
            classifier,
            books,
            heads,
            notes,
            error,
            tls,
        } = &mut *state;
        match tls {
            // Over TLS the socket is counted below; this is plaintext,
            // and a read of nothing its end (the server's close_notify).
            Some(tls) => {
                tls.plaintext[index(direction)] += bytes.len() as u64;
                tls.peer_closed |= bytes.is_empty() && direction == Direction::Received;
            }
            None => books.socket[index(direction)] += bytes.len() as u64,
        }
        let class = match direction {
            _ if self.transport == Transport::Ws => ByteClass::Handshake,
            Direction::Sent => ByteClass::RequestHeaders,
            Direction::Received => ByteClass::ResponseHeaders,
        };
        heads.feed(direction, bytes, class, ledger(&mut books.setup, direction));
        let mut sink = |stream: u32, e: WireEvent<'_>| book(stream, e, at, &mut delta, notes);
        if let Err(e) = classifier.feed(direction, bytes, &mut sink) {
            error.get_or_insert(e);
        }
        books.traffic.merge(&delta);
        self.book_window(&delta, &mut books.windowed);
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
        let MeterState { books, tls, .. } = &mut *state;
        let Some(tls) = tls else { return };
        let n = bytes.len() as u64;
        let i = index(direction);
        // A read of nothing is the end of the stream.
        tls.peer_closed |= n == 0 && direction == Direction::Received;
        books.socket[i] += n;
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
            ledger(&mut books.setup, direction).add(ByteClass::TlsHandshake, n);
        }
        books.traffic.merge(&delta);
        self.book_window(&delta, &mut books.windowed);
    }

    /// Books `delta` into the phase's window if it is open, and then into
    /// the connection's `windowed` part too.
    fn book_window(&self, delta: &Traffic, windowed: &mut Traffic) {
        if (delta.total() > 0 || !delta.decoded.is_empty()) && self.recorder.measuring() {
            self.recorder.shard(self.shard).traffic.merge(delta);
            windowed.merge(delta);
        }
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
        let mut notes = Vec::new();
        self.move_notes_for(stream, &mut notes);
        notes.into_iter().map(|(_, note)| note).collect()
    }

    /// [`Meter::take_notes_for`] into `into` (appended, with their stream):
    /// a client that keeps `into` between reads allocates nothing per read.
    pub fn move_notes_for(&self, stream: u32, into: &mut Vec<(u32, Note)>) {
        let mut state = lock(&self.state);
        if into.is_empty() && state.notes.iter().all(|(s, _)| *s == stream) {
            // Every note is the caller's (always over HTTP/1.1): the two
            // buffers trade places.
            std::mem::swap(&mut state.notes, into);
            return;
        }
        into.extend(state.notes.extract_if(.., |(s, _)| *s == stream));
    }

    /// The first protocol error the classifier met, if any.
    pub fn take_error(&self) -> Option<WireError> {
        lock(&self.state).error.take()
    }

    /// The connection ended: books what the classifier still holds and
    /// returns the connection's totals. `segments` are its `TCP_INFO`
    /// counts read just before closing, if known: they become `tcp_ip`
    /// (the client's segments) and `retransmitted` (each direction's
    /// sender: the client's socket for `sent`, the server's for
    /// `received`).
    pub fn finish(&self, segments: Option<ConnectionSegments>) -> ConnectionTotals {
        let mut delta = Traffic::default();
        let mut state = lock(&self.state);
        let MeterState {
            classifier,
            books,
            notes,
            tls,
            ..
        } = &mut *state;
        let Books {
            socket,
            traffic,
            windowed,
            setup,
        } = books;
        let at = now_us();
        classifier
            .finish(&mut |stream: u32, e: WireEvent<'_>| book(stream, e, at, &mut delta, notes));
        if let Some(tls) = tls {
            // Record bodies that gave no plaintext: tickets, close_notify.
            for direction in [Direction::Sent, Direction::Received] {
                let i = index(direction);
                let control = tls.bodies[i].saturating_sub(tls.plaintext[i]);
                ledger(&mut delta, direction).add(ByteClass::TlsRecords, control);
            }
        }
        traffic.merge(&delta);
        self.book_window(&delta, windowed);
        if let Some(both) = segments {
            // The client's SYN goes out and the server's SYN-ACK comes in.
            traffic.sent.tcp_ip = tcp_ip_header_bytes(both.client.out, 1);
            traffic.received.tcp_ip = tcp_ip_header_bytes(both.client.r#in, 1);
            traffic.sent.retransmitted = both.client.retransmitted_bytes;
            traffic.received.retransmitted = both.server.map_or(0, |s| s.retransmitted_bytes);
            // The window's share of the headers and of what was sent
            // again, in proportion to the window's share of the
            // connection's bytes per direction: the kernel's counters are
            // read once per connection, not at the window's edges, so this
            // part is an estimate.
            let share = |part: u64, all: u64, extra: u64| {
                if all == 0 {
                    0
                } else {
                    (extra as f64 * part as f64 / all as f64).round() as u64
                }
            };
            let mut window_extra = Traffic::default();
            for direction in [Direction::Sent, Direction::Received] {
                let all = *ledger(traffic, direction);
                let part = ledger(windowed, direction).total();
                let extra = ledger(&mut window_extra, direction);
                extra.tcp_ip = share(part, all.total(), all.tcp_ip);
                extra.retransmitted = share(part, all.total(), all.retransmitted);
            }
            if !window_extra.sent.is_empty() || !window_extra.received.is_empty() {
                self.recorder.shard(self.shard).traffic.merge(&window_extra);
            }
        }
        ConnectionTotals {
            socket_sent: socket[0],
            socket_received: socket[1],
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

/// Books one classifier event of a read: its bytes into `delta` (the
/// read's, which the caller adds to the connection's and the window's
/// books once), its notes into `notes`. Inlined into the classifier's
/// parsers for the bytes, which come several times per event; the rest
/// is [`note`].
#[inline]
fn book(stream: u32, e: WireEvent<'_>, at: u64, delta: &mut Traffic, notes: &mut Vec<(u32, Note)>) {
    match e {
        WireEvent::Bytes {
            direction,
            class,
            bytes,
        } => ledger(delta, direction).add(class, bytes.len() as u64),
        WireEvent::Decoded { class, bytes } => delta.decoded.add(class, bytes.len() as u64),
        other => note(stream, other, at, notes),
    }
}

/// Books one classifier event that is not bytes into `notes`.
#[inline(never)]
fn note(stream: u32, e: WireEvent<'_>, at: u64, notes: &mut Vec<(u32, Note)>) {
    let note = match e {
        WireEvent::Message(m) => Note::Message(m, at),
        WireEvent::ResponseHead { status } => Note::ResponseHead(status),
        WireEvent::ResponseEnd { status, next } => Note::ResponseEnd(status, next),
        WireEvent::Malformed { reason, .. } => Note::Malformed(reason),
        WireEvent::Peer(signal) => Note::Peer(Box::new(PeerNote::from(signal))),
        WireEvent::Bytes { .. } | WireEvent::Decoded { .. } => return,
    };
    notes.push((stream, note));
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

    fn record(content_type: u8, content: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(content as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0, content));
        r
    }

    #[test]
    fn tls_classes_and_plaintext_add_up_to_the_socket_count() {
        use pushbench_protocol::tls_records::TLS13_RECORD_TRAILER as T;
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
