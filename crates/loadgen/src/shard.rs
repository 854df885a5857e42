//! One shard of a run split over several load generators (`run --segment
//! I/N`): which clients of each phase it runs ([`Segment::clients`]) and
//! when each phase starts on the shared wall-clock schedule
//! ([`PhaseSchedule`]), so that N shards together generate the load of one
//! generator.
//!
//! Segments are 0-based, as a Kubernetes Indexed Job's completion index:
//! `0/3`, `1/3`, `2/3`. Shard I runs the contiguous client ids
//! `[floor(C*I/N), floor(C*(I+1)/N))` of a phase of C clients, cut at
//! HTTP/2 connection groups (clients `0..K` share a connection, so a group
//! is never split between shards). The slices of all shards are disjoint
//! and their union is `0..C`: the clients of the 1-process run, each once.

use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use pushbench_protocol::Scenario;

/// Slice I of N of every phase's clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Which slice, from 0.
    pub index: u32,
    /// How many slices.
    pub count: u32,
}

impl Segment {
    /// The whole load: one slice of one.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// The client ids of this slice of a phase of `total` clients, kept in
    /// groups of `group` (HTTP/2 clients per connection; 1 otherwise).
    pub fn clients(self, total: u32, group: u32) -> Range<u32> {
        let group = u64::from(group.max(1));
        let total = u64::from(total);
        let groups = total.div_ceil(group);
        let cut = |i: u32| {
            let g = groups * u64::from(i) / u64::from(self.count.max(1));
            u32::try_from((g * group).min(total)).unwrap_or(u32::MAX)
        };
        cut(self.index)..cut(self.index + 1)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Segment {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let bad = || format!("expected I/N with 0 <= I < N (0-based: 0/3, 1/3, 2/3), got `{raw}`");
        let (i, n) = raw.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Segment { index, count })
    }
}

/// A moment as `--start-at` gives it, in microseconds since the Unix
/// epoch: Unix seconds (`1796000000`, `1796000000.5`) or RFC 3339 UTC
/// (`2026-12-04T10:30:00Z`, with optional fraction).
pub fn parse_start_at(raw: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "expected Unix seconds (e.g. 1796000000) or an RFC 3339 UTC time (e.g. 2026-12-04T10:30:00Z), got `{raw}`"
        )
    };
    if let Ok(secs) = raw.parse::<f64>() {
        return if (0.0..1e12).contains(&secs) {
            Ok((secs * 1e6).round() as u64)
        } else {
            Err(bad())
        };
    }
    let body = raw
        .strip_suffix('Z')
        .or_else(|| raw.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let (date, time) = body.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let mut d = date.splitn(3, '-');
    let (y, mo, day) = match (d.next(), d.next(), d.next()) {
        (Some(y), Some(m), Some(dd)) => (num(y)?, num(m)?, num(dd)?),
        _ => return Err(bad()),
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (h, mi, s) = match (t.next(), t.next(), t.next()) {
        (Some(h), Some(m), Some(s)) => (num(h)?, num(m)?, num(s)?),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let micros = if frac.is_empty() {
        0
    } else if frac.len() <= 6 && frac.bytes().all(|b| b.is_ascii_digit()) {
        num(frac)? * 10u32.pow(6 - frac.len() as u32)
    } else {
        return Err(bad());
    };
    let days = days_from_civil(i64::from(y), mo, day);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(secs * 1_000_000 + u64::from(micros))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// days-from-civil, the inverse of `machine`'s civil-from-days).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 UTC of `us` microseconds since the Unix epoch, to the microsecond.
pub fn rfc3339_us(us: u64) -> String {
    let secs = crate::machine::rfc3339(us / 1_000_000);
    let base = secs.trim_end_matches('Z');
    format!("{base}.{:06}Z", us % 1_000_000)
}

/// How long past the ramp-up a shard's clients have to connect before the
/// warm-up starts on the schedule (a late client is then counted late, as
/// with [`CONNECT_GRACE`](crate::phase::CONNECT_GRACE) in a 1-process run).
pub const SHARD_CONNECT_SLACK: Duration = Duration::from_secs(2);

/// What a phase needs after its measured window on the schedule: the
/// closing `/stats`, stopping the clients, collecting.
pub const SHARD_TAIL: Duration = Duration::from_secs(3);

/// The shared wall-clock schedule of a sharded run: phase `k` (from 0, in
/// run order) starts at `start_at + k * slot`, its warm-up at
/// `ramp-up + SHARD_CONNECT_SLACK` after that, its measured window
/// `warm-up` later. Times are this generator's clock (the server's
/// `--start-at` minus the clock offset), microseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseSchedule {
    /// Phase 0's start on this generator's clock.
    pub start_us: u64,
    /// One phase's slot.
    pub slot: Duration,
    /// From a phase's start to its warm-up.
    pub connect: Duration,
    /// From a phase's start to its measured window.
    pub window: Duration,
}

/// When one phase's stages begin, on this generator's clock (µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseTimes {
    /// The phase starts: idle `/stats`, then the clients' ramp-up.
    pub start_us: u64,
    /// The warm-up starts (connecting ends).
    pub warm_up_us: u64,
    /// The measured window opens.
    pub window_us: u64,
}

impl PhaseSchedule {
    /// The schedule of `s` starting at `start_us` (local clock).
    pub fn new(s: &Scenario, start_us: u64) -> Self {
        let secs = |x: f64| Duration::from_secs_f64(x.max(0.0));
        let connect = secs(s.ramp_up_s) + SHARD_CONNECT_SLACK;
        let window = connect + secs(s.warmup_s);
        let drain = Duration::from_secs(2).max(Duration::from_millis(s.poll_interval_ms) * 2);
        PhaseSchedule {
            start_us,
            slot: window + secs(s.duration_s) + drain + SHARD_TAIL,
            connect,
            window,
        }
    }

    /// The times of phase `k` (from 0).
    pub fn phase(&self, k: usize) -> PhaseTimes {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let start_us = self
            .start_us
            .saturating_add(us(self.slot).saturating_mul(k as u64));
        PhaseTimes {
            start_us,
            warm_up_us: start_us.saturating_add(us(self.connect)),
            window_us: start_us.saturating_add(us(self.window)),
        }
    }
}

/// How a run is one shard of several.
#[derive(Clone, Debug)]
pub struct ShardPlan {
    /// Its slice.
    pub segment: Segment,
    /// Phase 1's start on the server's clock, µs since the epoch.
    pub start_at_us: u64,
    /// The commit the generator was built from.
    pub commit: String,
}

/// The git commit this crate was built from (`unknown` outside git).
pub fn build_commit() -> String {
    match env!("PUSHBENCH_COMMIT") {
        "" => "unknown".to_owned(),
        c => c.to_owned(),
    }
}

/// What a phase of a shard needs: its segment, its times on the schedule
/// (this generator's clock), and the clock offset its latencies get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseShard {
    /// The slice of the clients.
    pub segment: Segment,
    /// When its stages begin.
    pub times: PhaseTimes,
    /// Server clock minus this clock, µs, added to every receipt time.
    pub clock_offset_us: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slices_are_disjoint_and_cover_every_client_once() {
        for total in [0u32, 1, 2, 3, 7, 10, 100, 1001] {
            for group in [1u32, 3, 8] {
                for count in 1u32..=5 {
                    let mut seen = vec![0u32; total as usize];
                    let mut next = 0;
                    for index in 0..count {
                        let r = Segment { index, count }.clients(total, group);
                        assert_eq!(r.start, next, "contiguous: {total} {group} {index}/{count}");
                        next = r.end;
                        if r.start < total && r.start > 0 {
                            assert_eq!(r.start % group, 0, "cut at a group boundary");
                        }
                        for id in r {
                            seen[id as usize] += 1;
                        }
                    }
                    assert!(seen.iter().all(|&n| n == 1), "{total} {group} {count}");
                }
            }
        }
        assert_eq!(Segment::WHOLE.clients(50, 1), 0..50);
        assert_eq!(Segment { index: 1, count: 3 }.clients(10, 1), 3..6);
    }

    #[test]
    fn segments_parse_0_based_and_refuse_the_rest() {
        assert_eq!("1/3".parse(), Ok(Segment { index: 1, count: 3 }));
        assert_eq!("0/1".parse(), Ok(Segment::WHOLE));
        for bad in ["3/3", "1/0", "1", "a/3", "-1/3", "1/3/4", ""] {
            let err = bad.parse::<Segment>().expect_err(bad);
            assert!(err.contains("0-based"), "{err}");
        }
        assert_eq!(Segment { index: 2, count: 4 }.to_string(), "2/4");
    }

    #[test]
    fn start_times_parse_as_unix_seconds_or_rfc3339() {
        assert_eq!(parse_start_at("0"), Ok(0));
        assert_eq!(parse_start_at("1.5"), Ok(1_500_000));
        assert_eq!(parse_start_at("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_start_at("2026-12-04T10:30:00Z"),
            Ok(1_796_380_200_000_000)
        );
        assert_eq!(
            parse_start_at("2000-02-29T23:59:59.25Z"),
            Ok(951_868_799_250_000)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-12-04T10:30:00",
            "-5",
            "2026-12-04T10:30:00.1234567Z",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
        let t = 1_796_380_200_123_456;
        assert_eq!(parse_start_at(&rfc3339_us(t)), Ok(t));
    }

    #[test]
    fn every_phase_has_its_slot_on_the_schedule() {
        let s = Scenario {
            ramp_up_s: 1.0,
            warmup_s: 0.5,
            duration_s: 4.0,
            poll_interval_ms: 250,
            ..Scenario::default()
        };
        let plan = PhaseSchedule::new(&s, 1_000_000);
        // 1 ramp + 2 slack + 0.5 warm-up + 4 window + 2 drain + 3 tail.
        assert_eq!(plan.slot, Duration::from_millis(12_500));
        let p1 = plan.phase(1);
        assert_eq!(p1.start_us, 13_500_000);
        assert_eq!(p1.warm_up_us, 16_500_000);
        assert_eq!(p1.window_us, 17_000_000);
    }
}
