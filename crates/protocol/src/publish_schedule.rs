//! When a fixed-rate publisher's events are due ([`PublishSchedule`]):
//! `pushbench serve`'s generator, and the load generator's publisher into
//! servers of other kinds, follow the same schedule.
//!
//! Events come in groups of `burst`, published back to back, the groups
//! spaced `burst / rate` seconds apart, so the average rate stays `rate`.
//! A burst of 1 is the even spacing of `1 / rate`; a larger one gives
//! several events within one round trip, the case where long polling must
//! re-issue its request before it can see the later events (RFC 6202,
//! section 2.2).

/// When the generator's events are due, counted from its start: event `n`
/// (1-based) belongs to group `ceil(n / burst)`, and group `g` is due at
/// `g * burst / rate` seconds. Every event of a group is due at the same
/// moment, so all of them are stamped with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PublishSchedule {
    rate: f64,
    burst: u64,
}

impl PublishSchedule {
    /// `rate` events per second (greater than 0) in groups of `burst` (0
    /// counts as 1).
    pub fn new(rate: f64, burst: u32) -> Self {
        PublishSchedule {
            rate,
            burst: u64::from(burst.max(1)),
        }
    }

    /// Events due by `elapsed_s` seconds after the start: whole groups only.
    pub fn due_by(&self, elapsed_s: f64) -> u64 {
        (elapsed_s * self.rate / self.burst as f64) as u64 * self.burst
    }

    /// Seconds after the start at which event `n` (1-based) is due.
    pub fn due_at_s(&self, n: u64) -> f64 {
        (n.div_ceil(self.burst) * self.burst) as f64 / self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_is_the_even_spacing() {
        let even = PublishSchedule::new(100.0, 1);
        let times: Vec<f64> = (1..=3).map(|n| even.due_at_s(n)).collect();
        assert_eq!(times, [0.01, 0.02, 0.03]);
        assert_eq!(even.due_by(0.0099), 0);
        assert_eq!(even.due_by(0.025), 2);
        assert_eq!(PublishSchedule::new(100.0, 0), even, "0 counts as 1");
    }

    #[test]
    fn a_burst_publishes_its_events_together_at_the_average_rate() {
        // 100 ev/s in fives: five at 50 ms, five at 100 ms, ...
        let bursts = PublishSchedule::new(100.0, 5);
        let times: Vec<f64> = (1..=11).map(|n| bursts.due_at_s(n)).collect();
        assert_eq!(
            times,
            [0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15]
        );
        assert_eq!(bursts.due_by(0.049), 0, "nothing before the first group");
        assert_eq!(bursts.due_by(0.05), 5, "the whole group at once");
        assert_eq!(bursts.due_by(0.099), 5);
        assert_eq!(bursts.due_by(1.0), 100, "the average rate is kept");
    }
}
