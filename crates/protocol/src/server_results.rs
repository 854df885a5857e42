//! `servers.json`: `pushbench serve` side by side with the servers people
//! run (nginx + Nchan, Pushpin, Socket.IO, Bun, Node + `ws`), every
//! technique each offers measured in one run on one machine
//! (`pushbench servers`, `scripts/servers.sh`); the contract is
//! `schema/servers.schema.json`.
//!
//! Per technique and server: the highest sustained deliveries per second
//! (a capacity search), and at one common load the bytes per event by
//! class, p50/p99, the events missed, server CPU per delivery and RSS per
//! connection. The ratios of `pushbench serve` against each other server
//! are [`PeerComparison`]s, as in `peers.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::peer_results::PeerComparison;
use crate::results::Machine;
use crate::target_kind::TargetKind;
use crate::transport::Transport;

/// The version of the `servers.json` format written by this build.
pub const SERVERS_VERSION: u32 = 1;

/// A rate the load generator's publisher is said to bound: at least this
/// fraction of the rate it reached alone ([`PublisherCeiling`]). Under it
/// the publisher had room to spare, so a failure there is the server's.
pub const PUBLISHER_BOUND_FRACTION: f64 = 0.9;

/// One `pushbench servers` run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServersResult {
    /// [`SERVERS_VERSION`] of the writer.
    pub version: u32,
    /// The pushbench version that measured.
    pub pushbench_version: String,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    pub finished_at: String,
    /// False when the run stopped early (interrupted); what was measured
    /// before is kept.
    pub complete: bool,
    /// Why it stopped early.
    pub error: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// The load every server was given.
    pub settings: ServersSettings,
    /// Every server asked for, `pushbench serve` first, measured or
    /// skipped with the reason.
    pub servers: Vec<ServerEntry>,
    /// One entry per technique measured, in [`Transport::ALL`]'s order.
    pub techniques: Vec<TechniqueResult>,
    /// `pushbench serve` against every other server per technique: the
    /// highest sustained deliveries/s, p99 and CPU per delivery at the
    /// common load, as ratios above 1 when `pushbench serve` is better.
    pub comparisons: Vec<PeerComparison>,
    /// Every run's folder, in the order the runs were made.
    pub order: Vec<String>,
    /// How it was measured, a paragraph each (what differs between
    /// `pushbench serve` and the other servers, and how the runs were
    /// ordered).
    pub method: Vec<String>,
}

/// The load of a `pushbench servers` run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServersSettings {
    /// The techniques asked for.
    pub transports: Vec<Transport>,
    /// Clients of every phase.
    pub clients: u32,
    /// Payload bytes per event.
    pub payload: usize,
    /// Measured seconds of each phase.
    pub duration_s: f64,
    /// Warm-up seconds before each phase's window.
    pub warmup_s: f64,
    /// The common load's rate when given (`--rate`); `None`: 90 % of the
    /// lowest highest-sustained rate of each technique's servers.
    pub rate: Option<f64>,
    /// Rounds at the common load (the servers' order rotates each round;
    /// medians are compared).
    pub rounds: u32,
    /// Whether the capacity searches ran.
    pub capacity: bool,
    /// p99 bound of a sustained phase, milliseconds.
    pub max_p99_ms: f64,
    /// The searches' first rate, events per second.
    pub start_rate: f64,
    /// The highest rate a search may try, events per second.
    pub max_rate: f64,
    /// Bisection steps of each search.
    pub refine_steps: u32,
}

/// One server of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerEntry {
    /// Its kind.
    pub kind: TargetKind,
    /// Its name in tables and charts.
    pub title: String,
    /// How it was started (`pushbench serve`, or its start script).
    pub start: String,
    /// Why it was not measured at all, if it was not.
    pub skipped: Option<String>,
    /// The load generator's publish rate into it alone; `None` for
    /// `pushbench serve` (its own generator publishes) or when not
    /// measured.
    pub publisher_ceiling: Option<PublisherCeiling>,
}

/// How fast the load generator's publisher (one kept-alive connection,
/// one request per event, each waiting for its answer) publishes into a
/// server with one client subscribed: the most it can offer any phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublisherCeiling {
    /// Events the server accepted per second.
    pub events_per_second: f64,
    /// The rate asked for (far above what any search tries).
    pub asked_rate: f64,
    /// The technique of the one client.
    pub transport: Transport,
    /// The run's folder.
    pub run: String,
}

impl PublisherCeiling {
    /// Whether a phase at `rate` asked so much of the publisher that it,
    /// not the server, may be what failed (see [`PUBLISHER_BOUND_FRACTION`]).
    pub fn bounds(&self, rate: f64) -> bool {
        rate >= PUBLISHER_BOUND_FRACTION * self.events_per_second
    }
}

/// One technique across the servers that offer it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TechniqueResult {
    /// The technique.
    pub transport: Transport,
    /// The common load's rate, events per second (`None`: no common load
    /// could be chosen, see `common_rate_source`).
    pub common_rate: Option<f64>,
    /// Where the common rate came from.
    pub common_rate_source: String,
    /// Each server that offers it, in the order its capacity was searched.
    pub servers: Vec<ServerMeasure>,
}

/// One server's figures for one technique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerMeasure {
    /// The server.
    pub kind: TargetKind,
    /// Its capacity search, when one ran and measured something.
    pub capacity: Option<CapacityFigure>,
    /// Its phases at the common load, when they ran.
    pub common: Option<CommonLoad>,
    /// What failed along the way (a server that did not start, a run
    /// that stopped); the figures above are what was measured before.
    pub errors: Vec<String>,
}

/// The highest sustained rate of one server and technique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityFigure {
    /// The highest rate that held, events per second (`None`: none did).
    pub max_rate: Option<f64>,
    /// Deliveries per second at that rate (events x clients).
    pub max_deliveries_per_second: f64,
    /// The lowest rate that did not hold (`None`: every rate tried held,
    /// up to the search's ceiling).
    pub lowest_failed_rate: Option<f64>,
    /// Why that rate did not hold (the criteria it broke).
    pub failed_because: Vec<String>,
    /// Phases the search ran.
    pub steps: u32,
    /// Whether the failing rate asked at least
    /// [`PUBLISHER_BOUND_FRACTION`] of the publisher's ceiling: then the
    /// publisher, not the server, may be the limit (never for
    /// `pushbench serve`, whose generator publishes).
    pub publisher_bound: bool,
    /// The run's folder.
    pub run: String,
}

/// One server and technique at the common load (medians over rounds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommonLoad {
    /// Events per second.
    pub rate: f64,
    /// Clients.
    pub clients: u32,
    /// Events delivered, every round together.
    pub delivered: u64,
    /// Events missed, every round together.
    pub missed: u64,
    /// Events duplicated or out of order, every round together.
    pub duplicated_or_reordered: u64,
    /// Deliveries per second.
    pub deliveries_per_second: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Server CPU per delivered event, microseconds.
    pub cpu_us_per_delivery: f64,
    /// Server RSS per open connection, bytes.
    pub rss_per_connection_bytes: f64,
    /// Bytes per delivered event by class (both directions, the clients'
    /// connections only; classes with no bytes left out).
    pub bytes_per_event: BTreeMap<String, f64>,
    /// The publisher's bytes, both directions, over the whole runs (its
    /// warm-up and drain included), counted apart from the clients' (0
    /// for `pushbench serve`).
    pub publish_bytes: u64,
    /// Whether every round held the criteria of a sustained phase.
    pub held: bool,
    /// The criteria a round broke, with its measured value.
    pub failed: Vec<String>,
    /// Whether the rate asked at least [`PUBLISHER_BOUND_FRACTION`] of the
    /// publisher's ceiling.
    pub publisher_bound: bool,
    /// Each round's folder.
    pub runs: Vec<String>,
}

impl ServersResult {
    /// The server entry of `kind`.
    pub fn server(&self, kind: TargetKind) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.kind == kind)
    }
}

impl ServerMeasure {
    /// Nothing measured yet.
    pub fn new(kind: TargetKind) -> Self {
        ServerMeasure {
            kind,
            capacity: None,
            common: None,
            errors: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publisher_bounds_rates_near_its_ceiling() {
        let ceiling = PublisherCeiling {
            events_per_second: 1000.0,
            asked_rate: 100_000.0,
            transport: Transport::Ws,
            run: "ceiling-node-ws".into(),
        };
        assert!(!ceiling.bounds(899.0));
        assert!(ceiling.bounds(900.0));
        assert!(ceiling.bounds(5000.0));
    }
}
