//! Where a phase's clients book what they measured: the measuring flag,
//! the per-worker [`Shard`]s (added together once, at the end of the phase)
//! and the connection [`Ramp`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use pushbench_protocol::Traffic;

use crate::lock;

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
    /// TCP connect time (SYN out to SYN-ACK in), µs, every connection of
    /// the phase.
    pub connect: Histogram<u64>,
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
            connect: new_histogram(),
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
    /// Server clock minus this clock, µs: 0 unless this run is a shard
    /// that measured it ([`crate::clock_offset`]).
    clock_offset_us: i64,
}

impl Default for PhaseRecorder {
    fn default() -> Self {
        PhaseRecorder {
            measuring: AtomicBool::new(false),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            started: Instant::now(),
            first_sessions: AtomicU64::new(0),
            last_first_session_us: AtomicU64::new(0),
            clock_offset_us: 0,
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
    /// A recorder whose receipt times are moved onto the server's clock by
    /// `offset_us` (server minus this clock).
    pub fn with_clock_offset(offset_us: i64) -> Self {
        PhaseRecorder {
            clock_offset_us: offset_us,
            ..PhaseRecorder::default()
        }
    }

    /// A receipt time `at` (this clock, µs) on the server's clock, the
    /// clock of an event's `created_at`.
    pub fn on_server_clock(&self, at: u64) -> u64 {
        at.saturating_add_signed(self.clock_offset_us)
    }

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

    /// Records a TCP connect of client `id` that took `took`.
    pub fn connected(&self, id: usize, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // Clamped, never dropped (see MAX_LATENCY_US); at least 1 µs.
        self.shard(id)
            .connect
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
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
            let _ = all.connect.add(&shard.connect);
            for (kind, n) in &shard.errors {
                *all.errors.entry(kind.clone()).or_default() += n;
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_move_onto_the_servers_clock_only_with_an_offset() {
        assert_eq!(PhaseRecorder::default().on_server_clock(1_000), 1_000);
        let behind = PhaseRecorder::with_clock_offset(-300);
        assert_eq!(behind.on_server_clock(1_000), 700);
        assert_eq!(behind.on_server_clock(100), 0, "saturates, never wraps");
        assert_eq!(
            PhaseRecorder::with_clock_offset(250).on_server_clock(1_000),
            1_250
        );
    }
}
