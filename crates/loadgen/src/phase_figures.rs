//! The figures of a phase that follow from what it measured, as pure
//! functions: the [`Derived`] ratios and rates, and a histogram's
//! [`LatencySummary`]. A phase computes them once its window closes
//! ([`crate::phase`]); `merge` again from the shards' sums
//! ([`crate::shard_merge`]).

use hdrhistogram::Histogram;
use pushbench_protocol::Traffic;
use pushbench_protocol::results::{Connections, Derived, EventCounts, LatencySummary};

/// The figures derived from a phase's traffic, events and connections
/// over its `duration_s` measured seconds.
pub fn derive(
    traffic: &Traffic,
    events: &EventCounts,
    connections: &Connections,
    duration_s: f64,
) -> Derived {
    let per_event = |x: f64| {
        if events.delivered > 0 {
            x / events.delivered as f64
        } else {
            0.0
        }
    };
    let per_second = |n: u64| {
        if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }
    };
    let payload = traffic.payload();
    let ramp = crate::recorder::Ramp {
        first_sessions: connections.first_sessions,
        all_connected_us: connections.all_connected_us,
    };
    Derived {
        bytes_per_event: per_event(traffic.total() as f64),
        sent_bytes_per_event: per_event(traffic.sent.total() as f64),
        received_bytes_per_event: per_event(traffic.received.total() as f64),
        // 0 when nothing was delivered: JSON has no infinity. Payload
        // inside coded bodies counts (decoded), so a coded phase's
        // ratio compares with an identity one's and can fall below 1.
        overhead_ratio: if payload > 0 {
            traffic.total() as f64 / payload as f64
        } else {
            0.0
        },
        compression_ratio: if traffic.received.compressed > 0 {
            traffic.decoded.total() as f64 / traffic.received.compressed as f64
        } else {
            0.0
        },
        events_per_second: per_second(events.delivered),
        responses_per_second: per_second(connections.responses),
        connections_per_second: ramp.per_second(),
    }
}

/// Percentiles for the distribution chart, denser toward 100.
pub const DISTRIBUTION: [f64; 16] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999,
    100.0,
];

/// A histogram's summary (all zeros when empty).
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        distribution: DISTRIBUTION
            .iter()
            .map(|&p| (p, h.value_at_quantile(p / 100.0)))
            .collect(),
    }
}
