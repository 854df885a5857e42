//! `peers.json`: pushbench measured side by side with the tools people use
//! instead (`pushbench peers`, `scripts/peers.sh`), each comparison a ratio
//! of two figures taken in the same run on the same machine.

use serde::{Deserialize, Serialize};

use crate::results::Machine;

/// The version of the `peers.json` format written by this build.
pub const PEERS_VERSION: u32 = 1;

/// One `pushbench peers` run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeersResult {
    /// [`PEERS_VERSION`] of the writer.
    pub version: u32,
    /// The pushbench version that measured.
    pub pushbench_version: String,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    pub finished_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// One entry per figure compared.
    pub comparisons: Vec<PeerComparison>,
}

/// One figure of pushbench against the same figure of a peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerComparison {
    /// What is compared, e.g. `short polling /poll, 50 connections`.
    pub name: String,
    /// A short name for a chart's bar, e.g. `poll requests/s vs wrk`.
    pub label: String,
    /// The figure and its unit, e.g. `requests/s`.
    pub metric: String,
    /// Whether more is better (a rate) or less (a latency).
    pub higher_is_better: bool,
    /// What pushbench's side was (`pushbench run` client, or `pushbench serve`).
    pub pushbench_side: String,
    /// pushbench's figure; the median over rounds when there were several.
    pub pushbench: f64,
    /// The peer, with its version, e.g. `wrk 4.1.0`.
    pub peer: String,
    /// The peer's figure, taken the same way.
    pub peer_value: f64,
    /// How many times better pushbench is: `pushbench / peer` when higher
    /// is better, `peer / pushbench` when lower is; 0 when a side measured 0.
    pub ratio: f64,
    /// The ratio the project aims for, if any.
    pub goal: Option<f64>,
    /// Every round's figures, (pushbench, peer), in the order run.
    pub rounds: Vec<(f64, f64)>,
    /// How it was measured (command lines, load, where the raw data is).
    pub method: String,
}

impl PeerComparison {
    /// The ratio of `ours` to `theirs`, oriented so that above 1 means
    /// pushbench is better.
    pub fn ratio_of(ours: f64, theirs: f64, higher_is_better: bool) -> f64 {
        let (num, den) = if higher_is_better {
            (ours, theirs)
        } else {
            (theirs, ours)
        };
        if num > 0.0 && den > 0.0 {
            num / den
        } else {
            0.0
        }
    }

    /// Whether the ratio reaches the goal (`None` without a goal).
    pub fn meets_goal(&self) -> Option<bool> {
        self.goal.map(|g| self.ratio >= g)
    }
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_point_the_same_way_for_rates_and_latencies() {
        assert_eq!(PeerComparison::ratio_of(90.0, 100.0, true), 0.9);
        assert_eq!(PeerComparison::ratio_of(5.0, 10.0, false), 2.0);
        assert_eq!(PeerComparison::ratio_of(0.0, 10.0, true), 0.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
