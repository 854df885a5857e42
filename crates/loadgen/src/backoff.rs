//! When a client reconnects after a failure: a bounded, time-based backoff.
//!
//! A server that restarts refuses connections for a moment (a process
//! start, a few tens of milliseconds to seconds). A client that gave up
//! after a fixed number of quick retries would turn that moment into lost
//! events; one that retried at once, forever, would hammer a dead server.
//! So a client waits [`FIRST_DELAY`] after a failure, doubling up to
//! [`MAX_DELAY`], and gives up only when it has been failing, with no good
//! answer in between, for longer than its `give_up_after`
//! ([`DEFAULT_GIVE_UP`] unless the run says otherwise).

use std::time::{Duration, Instant};

/// The first wait after a failure: long enough not to spin on a refusing
/// port, short enough that a quick restart costs almost nothing.
pub const FIRST_DELAY: Duration = Duration::from_millis(50);

/// The longest wait between two attempts: a restarted server is found
/// within a second of coming back.
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// How long a client keeps trying while every attempt fails: a process
/// restart takes well under this, a server gone for longer is not coming
/// back within a benchmark phase.
pub const DEFAULT_GIVE_UP: Duration = Duration::from_secs(10);

/// One client's reconnect state.
#[derive(Clone, Debug)]
pub struct Backoff {
    give_up_after: Duration,
    failing_since: Option<Instant>,
    next: Duration,
    /// Spreads the clients' delays over `[d, 1.44 d]` (by client id), so a
    /// crowd that lost the server at the same moment does not come back in
    /// the same millisecond.
    spread: f64,
}

impl Backoff {
    /// The backoff of client `id`, giving up after `give_up_after` of
    /// failures.
    pub fn new(give_up_after: Duration, id: usize) -> Self {
        Backoff {
            give_up_after,
            failing_since: None,
            next: FIRST_DELAY,
            spread: 1.0 + (id % 8) as f64 / 16.0,
        }
    }

    /// A failure at `now`: how long to wait before the next attempt, or
    /// `None` when the client has been failing for too long and gives up.
    pub fn failed(&mut self, now: Instant) -> Option<Duration> {
        let since = *self.failing_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.give_up_after {
            return None;
        }
        let delay = self.next.mul_f64(self.spread);
        self.next = (self.next * 2).min(MAX_DELAY);
        Some(delay)
    }

    /// The server answered properly: the next failure starts over.
    pub fn succeeded(&mut self) {
        self.failing_since = None;
        self.next = FIRST_DELAY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_and_the_client_gives_up_only_after_the_time() {
        let t0 = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(3), 0);
        let mut at = t0;
        let mut delays = Vec::new();
        while let Some(d) = b.failed(at) {
            delays.push(d.as_millis());
            at += d;
            assert!(delays.len() < 100, "gives up eventually");
        }
        assert_eq!(&delays[..6], [50, 100, 200, 400, 800, 1000]);
        assert!(at - t0 >= Duration::from_secs(3), "{:?}", at - t0);
        assert!(at - t0 < Duration::from_secs(5), "{:?}", at - t0);
    }

    #[test]
    fn a_good_answer_starts_over_and_clients_are_spread() {
        let t0 = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(1), 7);
        assert_eq!(b.failed(t0), Some(Duration::from_micros(71_875)));
        assert!(b.failed(t0 + Duration::from_secs(2)).is_none());
        b.succeeded();
        assert_eq!(
            b.failed(t0 + Duration::from_secs(3)),
            Some(Duration::from_micros(71_875))
        );
    }
}
