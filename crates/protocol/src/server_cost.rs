//! What a phase's server cost ([`ServerCost`], per node [`NodeCost`] when
//! the run measured several) and when it could not be reached
//! ([`Outage`]): the server side of a [`PhaseResult`](crate::results::PhaseResult),
//! from `/stats` samples; and what the load generator itself spent
//! ([`LoadGeneratorCost`]), so a reader can tell which side was the limit.

use serde::{Deserialize, Serialize};

/// The moments a phase's server could not be reached. The clients rode
/// them out by reconnecting from their cursors (their failures are in
/// `events.errors` by kind, their new connections in
/// `connections.reconnects`); this is the runner's side of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// `/stats` calls that failed and were retried within the outage grace.
    pub stats_failures: u64,
    /// The longest time `/stats` went unanswered, seconds.
    pub longest_s: f64,
    /// Times the server was found restarted (its `started_us` changed).
    /// Server CPU is then summed per process; what the old process spent
    /// after its last sample is lost.
    pub server_restarts: u64,
}

/// Server process cost during a phase, from `/stats` samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    /// CPU seconds (user + system) spent during the measured window.
    pub cpu_seconds: f64,
    /// CPU microseconds per delivered event.
    pub cpu_us_per_event: f64,
    /// RSS before the phase's clients connected, bytes.
    pub rss_idle_bytes: u64,
    /// Highest RSS seen during the phase, bytes.
    pub rss_max_bytes: u64,
    /// (rss_max - rss_idle) / connections open, bytes.
    pub rss_per_connection_bytes: f64,
    /// Connections the server reported open at the end of the window.
    pub connections_open: u64,
    /// Events the server dropped for slow consumers during the phase.
    pub slow_consumer_drops: u64,
    /// Against several server nodes (`run --target URL1,URL2,...`): each
    /// node's own figures, from its own `/stats`; the figures above are
    /// their sums (`rss_per_connection_bytes` the summed growth over the
    /// summed connections). Absent with one node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeCost>,
}

/// One server node's cost during a phase, from its own `/stats` samples
/// (a node that went down contributes what it last said).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeCost {
    /// The node's URL, as `--target` listed it.
    pub url: String,
    /// CPU seconds (user + system) during the measured window.
    pub cpu_seconds: f64,
    /// RSS before the phase's clients connected, bytes.
    pub rss_idle_bytes: u64,
    /// Highest RSS seen during the phase, bytes.
    pub rss_max_bytes: u64,
    /// (rss_max - rss_idle) / connections open on this node, bytes.
    pub rss_per_connection_bytes: f64,
    /// Connections this node reported open at the end of the window (or
    /// when it last answered).
    pub connections_open: u64,
    /// When this node could not be reached during the phase.
    pub outage: Outage,
}

/// CPU microseconds per delivered event: `cpu_seconds` over `delivered`
/// (0 when nothing was delivered). The one formula of every
/// `cpu_us_per_event`, the server's and the load generator's.
pub fn us_per_event(cpu_seconds: f64, delivered: u64) -> f64 {
    if delivered > 0 {
        cpu_seconds * 1e6 / delivered as f64
    } else {
        0.0
    }
}

/// What the load generator's own process spent during a phase's window,
/// from its `/proc/self/stat` at the window's edges (the same reading the
/// server makes for its `/stats`). All clients of the process share it:
/// a capacity search measures the server only while this stays below the
/// server's own cost per event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadGeneratorCost {
    /// CPU seconds (user + system) during the measured window; summed over
    /// the shards of a merged run.
    pub cpu_seconds: f64,
    /// CPU microseconds per delivered event.
    pub cpu_us_per_event: f64,
}

impl LoadGeneratorCost {
    /// `cpu_seconds` spent to deliver `delivered` events.
    pub fn of(cpu_seconds: f64, delivered: u64) -> Self {
        LoadGeneratorCost {
            cpu_seconds,
            cpu_us_per_event: us_per_event(cpu_seconds, delivered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_per_event_is_cpu_over_delivered() {
        assert_eq!(us_per_event(0.5, 1000), 500.0);
        assert_eq!(us_per_event(0.5, 0), 0.0);
        assert_eq!(LoadGeneratorCost::of(2.0, 4_000_000).cpu_us_per_event, 0.5);
    }
}
