//! One direction of the emulated link as a pure function of time: what
//! happens to a packet that arrives at a given instant with a given size.
//! No sockets, no clock: the caller passes the time (nanoseconds since
//! the link opened), so the arithmetic is tested on its own.
//!
//! The model is Mahimahi's `mm-link` behind `mm-delay`: a packet is
//! dropped at random with probability `loss`; otherwise it joins a
//! drop-tail bottleneck queue of `queue_packets` packets, is serialized
//! at the direction's rate (departure = max(arrival, previous departure)
//! plus size * 8 / rate), then propagates for the one-way delay (RTT / 2)
//! plus a uniform jitter, and is never delivered before the packet ahead
//! of it (no reordering).

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The parameters of one direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionParams {
    /// Propagation delay, nanoseconds.
    pub one_way_ns: u64,
    /// The delay varies uniformly within plus or minus this, nanoseconds.
    pub jitter_ns: u64,
    /// Serialization rate, bits per second; `None`: not limited.
    pub rate_bps: Option<u64>,
    /// Probability that a packet is dropped, 0 to 1.
    pub loss: f64,
    /// Packets the bottleneck holds (the one being serialized included);
    /// 0: not limited.
    pub queue_packets: u32,
}

/// What becomes of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Dropped by the random loss.
    RandomDrop,
    /// Dropped because the bottleneck queue was full.
    QueueDrop,
    /// Delivered at this time, nanoseconds since the link opened.
    Deliver(u64),
}

/// One direction's state: the parameters, the packets still in the
/// bottleneck (their departure times), and the last departure and
/// delivery, which later packets may not precede.
#[derive(Debug)]
pub struct Scheduler {
    params: DirectionParams,
    rng: StdRng,
    /// Departure times of the packets not yet serialized, oldest first.
    in_queue: VecDeque<u64>,
    last_departure: u64,
    last_delivery: u64,
}

impl Scheduler {
    /// A direction with `params`, its random draws seeded by `seed`.
    pub fn new(params: DirectionParams, seed: u64) -> Scheduler {
        Scheduler {
            params,
            rng: StdRng::seed_from_u64(seed),
            in_queue: VecDeque::new(),
            last_departure: 0,
            last_delivery: 0,
        }
    }

    /// The parameters in force.
    pub fn params(&self) -> DirectionParams {
        self.params
    }

    /// New parameters for the packets that arrive from now on; packets
    /// already scheduled keep their times, and later ones still follow
    /// them.
    pub fn set_params(&mut self, params: DirectionParams) {
        self.params = params;
    }

    /// A packet of `size` bytes arrives at `now` (ns since the link
    /// opened; calls come in time order).
    pub fn arrive(&mut self, now: u64, size: usize) -> Verdict {
        let p = self.params;
        if p.loss > 0.0 && self.rng.random::<f64>() < p.loss {
            return Verdict::RandomDrop;
        }
        while self
            .in_queue
            .front()
            .is_some_and(|&departure| departure <= now)
        {
            self.in_queue.pop_front();
        }
        let departure = match p.rate_bps {
            Some(rate) if rate > 0 => {
                if p.queue_packets > 0 && self.in_queue.len() >= p.queue_packets as usize {
                    return Verdict::QueueDrop;
                }
                let start = now.max(self.last_departure);
                let departure = start.saturating_add(serialization_ns(size, rate));
                self.in_queue.push_back(departure);
                departure
            }
            _ => now,
        };
        self.last_departure = departure;
        let delay = if p.jitter_ns > 0 {
            let jitter = i128::from(p.jitter_ns);
            let offset = self.rng.random_range(-jitter..=jitter);
            u64::try_from((i128::from(p.one_way_ns) + offset).max(0)).unwrap_or(0)
        } else {
            p.one_way_ns
        };
        let delivery = departure.saturating_add(delay).max(self.last_delivery);
        self.last_delivery = delivery;
        Verdict::Deliver(delivery)
    }
}

/// Nanoseconds a packet of `size` bytes takes at `rate_bps` bits per
/// second, rounded up.
pub fn serialization_ns(size: usize, rate_bps: u64) -> u64 {
    let bits = size as u128 * 8 * 1_000_000_000;
    let rate = u128::from(rate_bps.max(1));
    u64::try_from(bits.div_ceil(rate)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn params() -> DirectionParams {
        DirectionParams {
            one_way_ns: 10 * MS,
            jitter_ns: 0,
            rate_bps: None,
            loss: 0.0,
            queue_packets: 0,
        }
    }

    #[test]
    fn serialization_time_is_size_over_rate() {
        // 1500 bytes at 12 Mbit/s: 12,000 bits in 1 ms.
        assert_eq!(serialization_ns(1500, 12_000_000), MS);
        // Rounded up: 1 byte at 3 bit/s is 8/3 s.
        assert_eq!(serialization_ns(1, 3), 2_666_666_667);
    }

    #[test]
    fn an_unlimited_link_only_delays() {
        let mut s = Scheduler::new(params(), 1);
        assert_eq!(s.arrive(0, 1500), Verdict::Deliver(10 * MS));
        assert_eq!(s.arrive(0, 1500), Verdict::Deliver(10 * MS));
        assert_eq!(s.arrive(5 * MS, 60), Verdict::Deliver(15 * MS));
    }

    #[test]
    fn packets_are_serialized_back_to_back_at_the_rate() {
        let mut s = Scheduler::new(
            DirectionParams {
                rate_bps: Some(12_000_000),
                ..params()
            },
            1,
        );
        // Three full packets at once: departures 1, 2, 3 ms.
        assert_eq!(s.arrive(0, 1500), Verdict::Deliver(11 * MS));
        assert_eq!(s.arrive(0, 1500), Verdict::Deliver(12 * MS));
        assert_eq!(s.arrive(0, 1500), Verdict::Deliver(13 * MS));
        // After the link went idle, a packet starts at its own arrival.
        assert_eq!(s.arrive(20 * MS, 750), Verdict::Deliver(30 * MS + MS / 2));
    }

    #[test]
    fn a_full_queue_drops_the_tail_and_drains_with_time() {
        let mut s = Scheduler::new(
            DirectionParams {
                rate_bps: Some(12_000_000),
                queue_packets: 2,
                ..params()
            },
            1,
        );
        assert!(matches!(s.arrive(0, 1500), Verdict::Deliver(_)));
        assert!(matches!(s.arrive(0, 1500), Verdict::Deliver(_)));
        assert_eq!(s.arrive(0, 1500), Verdict::QueueDrop);
        // At 1 ms the first packet has left: room for one more.
        assert_eq!(s.arrive(MS, 1500), Verdict::Deliver(13 * MS));
        assert_eq!(s.arrive(MS, 1500), Verdict::QueueDrop);
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_reorders() {
        let mut s = Scheduler::new(
            DirectionParams {
                jitter_ns: 4 * MS,
                ..params()
            },
            7,
        );
        // Dense packets (0.1 ms apart): the no-reordering rule holds
        // later ones behind earlier ones.
        let mut last = 0;
        for i in 0..2000u64 {
            let now = i * 100_000;
            let Verdict::Deliver(at) = s.arrive(now, 100) else {
                panic!("no loss set");
            };
            assert!(at >= last, "reordered at packet {i}");
            assert!(at <= now + 14 * MS, "beyond delay + jitter at packet {i}");
            last = at;
        }
        // Sparse packets (20 ms apart) never wait for one another: their
        // delays cover most of the +-4 ms band.
        let mut spread = (u64::MAX, 0);
        for i in 0..500u64 {
            let now = 1_000 * MS + i * 20 * MS;
            let Verdict::Deliver(at) = s.arrive(now, 100) else {
                panic!("no loss set");
            };
            let delay = at - now;
            assert!((6 * MS..=14 * MS).contains(&delay), "{delay}");
            spread = (spread.0.min(delay), spread.1.max(delay));
        }
        assert!(spread.0 < 7 * MS && spread.1 > 13 * MS, "{spread:?}");
    }

    #[test]
    fn loss_is_close_to_the_probability_and_reproducible_by_seed() {
        let lossy = DirectionParams {
            loss: 0.1,
            ..params()
        };
        let drops = |seed| {
            let mut s = Scheduler::new(lossy, seed);
            (0..20_000)
                .filter(|_| s.arrive(0, 100) == Verdict::RandomDrop)
                .count()
        };
        let n = drops(42);
        // Binomial: mean 2000, sigma about 42; 5 sigma.
        assert!((1790..=2210).contains(&n), "{n}");
        assert_eq!(n, drops(42));
        assert_ne!(n, drops(43));
    }

    #[test]
    fn new_parameters_apply_to_later_packets_without_reordering() {
        let mut s = Scheduler::new(params(), 1);
        assert_eq!(s.arrive(0, 100), Verdict::Deliver(10 * MS));
        s.set_params(DirectionParams {
            one_way_ns: MS,
            ..params()
        });
        assert_eq!(s.params().one_way_ns, MS);
        // A shorter delay may not overtake the packet still in flight.
        assert_eq!(s.arrive(MS, 100), Verdict::Deliver(10 * MS));
        assert_eq!(s.arrive(20 * MS, 100), Verdict::Deliver(21 * MS));
    }
}
