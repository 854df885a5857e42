//! The per-connection tally and the per-phase shards it books into.
//!
//! A [`Meter`] sits inside a client's [`CountingStream`]: every byte read or
//! written goes through the wire [`Classifier`] at once, so bytes are booked
//! by class as they cross the socket and decoded messages are stamped with
//! the time their last byte was read (the receipt time for latency).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hdrhistogram::Histogram;
use pushbench_protocol::{
    ByteLedger, Classifier, Direction, Received, Traffic, Transport, WireError, WireEvent, now_us,
};
use pushbench_server::counting::Tally;

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
            latency: new_histogram(),
            setup: new_histogram(),
            errors: BTreeMap::new(),
        }
    }
}

/// Shards per phase: clients record into `id % SHARDS`, so no single lock is
/// shared by all clients; merged once at the end of the phase.
pub const SHARDS: usize = 16;

/// The collector of one phase: the measuring flag and the shards.
#[derive(Debug)]
pub struct PhaseRecorder {
    measuring: AtomicBool,
    shards: Vec<Mutex<Shard>>,
}

impl Default for PhaseRecorder {
    fn default() -> Self {
        PhaseRecorder {
            measuring: AtomicBool::new(false),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
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

    /// All shards added together.
    pub fn merged(&self) -> Shard {
        let mut all = Shard::default();
        for shard in &self.shards {
            let shard = lock(shard);
            all.traffic.merge(&shard.traffic);
            all.delivered += shard.delivered;
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
    notes: Vec<Note>,
    error: Option<WireError>,
}

/// The tally of one client connection. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct Meter {
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
    /// The same bytes by class.
    pub traffic: Traffic,
}

impl Meter {
    /// A meter for one connection of `transport`, booking into `recorder`'s
    /// shard for client `client_id`.
    pub fn new(transport: Transport, recorder: Arc<PhaseRecorder>, client_id: usize) -> Self {
        Meter {
            state: Arc::new(Mutex::new(MeterState {
                classifier: Classifier::new(transport),
                socket: (0, 0),
                traffic: Traffic::default(),
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
                notes,
                error,
            } = &mut *state;
            match direction {
                Direction::Sent => socket.0 += bytes.len() as u64,
                Direction::Received => socket.1 += bytes.len() as u64,
            }
            let mut sink = |e: WireEvent<'_>| book(e, at, traffic, &mut delta, notes);
            if let Err(e) = classifier.feed(direction, bytes, &mut sink) {
                error.get_or_insert(e);
            }
        }
        self.book_window(&delta);
    }

    fn book_window(&self, delta: &Traffic) {
        if delta.total() > 0 && self.recorder.measuring() {
            self.recorder.shard(self.shard).traffic.merge(delta);
        }
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
    /// returns the connection's totals.
    pub fn finish(&self) -> ConnectionTotals {
        let mut delta = Traffic::default();
        let totals = {
            let mut state = lock(&self.state);
            let MeterState {
                classifier,
                socket,
                traffic,
                notes,
                ..
            } = &mut *state;
            let at = now_us();
            classifier.finish(&mut |e: WireEvent<'_>| book(e, at, traffic, &mut delta, notes));
            ConnectionTotals {
                socket_sent: socket.0,
                socket_received: socket.1,
                traffic: *traffic,
            }
        };
        self.book_window(&delta);
        totals
    }
}

fn ledger(traffic: &mut Traffic, direction: Direction) -> &mut ByteLedger {
    match direction {
        Direction::Sent => &mut traffic.sent,
        Direction::Received => &mut traffic.received,
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
