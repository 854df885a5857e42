//! A load generator's clock against the server's, NTP-style: a few
//! `GET /time` exchanges ([`ControlClient::time_sample`](crate::control_client::ControlClient::time_sample)),
//! each with the client's send time `t0`, the server's clock `server` and
//! the client's receipt time `t3`. The exchange with the shortest round
//! trip bounds the server's reading most tightly: it was taken somewhere in
//! `[t0, t3]`, so `offset = server - (t0 + t3) / 2` within `±(t3 - t0) / 2`.
//!
//! An event's `created_at` is the server's clock and its receipt the
//! client's, so a shard adds the offset to every receipt time before it
//! subtracts `created_at` ([`crate::recorder::PhaseRecorder::on_server_clock`]).

use std::time::Instant;

use pushbench_protocol::event::now_us;
use pushbench_protocol::results::ClockEstimate;

/// This machine's wall clock against its monotonic clock since a moment
/// (a phase's start): latencies are wall-clock differences, so a wall
/// clock slewed or stepped meanwhile (by NTP, or a virtual machine's
/// host) shifts them, and a phase records by how much
/// (`PhaseResult::clock_slew_us`).
#[derive(Clone, Copy, Debug)]
pub struct ClockWatch {
    wall_us: u64,
    mono: Instant,
}

impl ClockWatch {
    /// Both clocks now.
    pub fn start() -> Self {
        ClockWatch {
            wall_us: now_us(),
            mono: Instant::now(),
        }
    }

    /// How far the wall clock moved against the monotonic clock since
    /// [`Self::start`], µs.
    pub fn slew_us(&self) -> i64 {
        let elapsed = u64::try_from(self.mono.elapsed().as_micros()).unwrap_or(u64::MAX);
        slew_us(self.wall_us, now_us(), elapsed)
    }
}

/// The wall clock's move from `wall_start_us` to `wall_end_us` less the
/// `mono_elapsed_us` the monotonic clock counted meanwhile (positive: the
/// wall clock ran ahead).
pub fn slew_us(wall_start_us: u64, wall_end_us: u64, mono_elapsed_us: u64) -> i64 {
    let wall = i128::from(wall_end_us) - i128::from(wall_start_us);
    let slew = wall - i128::from(mono_elapsed_us);
    i64::try_from(slew).unwrap_or(if slew < 0 { i64::MIN } else { i64::MAX })
}

/// `GET /time` exchanges a shard makes before its first phase.
pub const CLOCK_SAMPLES: u32 = 16;

/// One exchange, microseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    /// The client's clock as it sent the request.
    pub t0_us: u64,
    /// The server's clock as it answered.
    pub server_us: u64,
    /// The client's clock as the answer arrived.
    pub t3_us: u64,
}

impl ClockSample {
    fn rtt_us(&self) -> u64 {
        self.t3_us.saturating_sub(self.t0_us)
    }
}

/// The estimate from the minimum-RTT sample; `None` without samples.
pub fn estimate(samples: &[ClockSample]) -> Option<ClockEstimate> {
    let best = samples.iter().min_by_key(|s| s.rtt_us())?;
    let t0 = i128::from(best.t0_us);
    let mid2 = t0 + i128::from(best.t0_us.max(best.t3_us));
    // server - (t0 + t3) / 2, rounded to the nearest microsecond.
    let offset2 = 2 * i128::from(best.server_us) - mid2;
    let offset = offset2.div_euclid(2) + offset2.rem_euclid(2);
    Some(ClockEstimate {
        offset_us: i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX }),
        uncertainty_us: best.rtt_us().div_ceil(2),
        samples: u32::try_from(samples.len()).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slew_is_the_wall_clocks_move_less_the_monotonic_one() {
        // In step: no slew.
        assert_eq!(slew_us(1_000_000, 6_000_000, 5_000_000), 0);
        // The wall clock ran 30 ms ahead over 5 s (a slewing VM clock).
        assert_eq!(slew_us(1_000_000, 6_030_000, 5_000_000), 30_000);
        // Stepped back by a second.
        assert_eq!(slew_us(2_000_000, 6_000_000, 5_000_000), -1_000_000);
        // Stepped back before the epoch's start is still a number.
        assert_eq!(slew_us(5_000_000, 0, 1), -5_000_001);
    }

    fn s(t0_us: u64, server_us: u64, t3_us: u64) -> ClockSample {
        ClockSample {
            t0_us,
            server_us,
            t3_us,
        }
    }

    #[test]
    fn the_shortest_round_trip_wins() {
        // The server runs 5,000 µs ahead; the second sample is the tightest.
        let samples = [
            s(1_000, 6_900, 3_000),
            s(10_000, 15_050, 10_100),
            s(20_000, 25_100, 20_800),
        ];
        let e = estimate(&samples).expect("estimate");
        assert_eq!(e.offset_us, 5_000);
        assert_eq!(e.uncertainty_us, 50);
        assert_eq!(e.samples, 3);
    }

    #[test]
    fn a_server_behind_gives_a_negative_offset() {
        let e = estimate(&[s(1_000_000, 700_010, 1_000_021)]).expect("estimate");
        // midpoint 1_000_010.5: -300_000.5 rounds to -300_000.
        assert_eq!(e.offset_us, -300_000);
        assert_eq!(e.uncertainty_us, 11);
    }

    #[test]
    fn the_true_offset_lies_within_the_uncertainty() {
        // Whatever the one-way delays, the truth is within ± RTT/2.
        let truth: i64 = -1_234;
        for (out, back) in [(10u64, 90u64), (90, 10), (50, 50), (0, 100)] {
            let t0 = 1_000_000u64;
            let server = (t0 + out) as i64 + truth;
            let e = estimate(&[s(t0, server as u64, t0 + out + back)]).expect("estimate");
            assert!(
                (e.offset_us - truth).unsigned_abs() <= e.uncertainty_us,
                "{e:?}"
            );
        }
    }

    #[test]
    fn no_samples_no_estimate() {
        assert_eq!(estimate(&[]), None);
    }
}
