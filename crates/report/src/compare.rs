//! Two runs side by side: per phase and figure, the change as a ratio, and
//! which "lower is better" figures got worse by more than a threshold.

use std::collections::BTreeMap;

use pushbench_protocol::RunResult;
use pushbench_protocol::results::PhaseResult;

use crate::table::{Align, Table};
use crate::variant_labels::phase_key;

/// One figure compared, read from a phase.
#[derive(Clone, Copy, Debug)]
pub struct Figure {
    /// Short name, as in the tables.
    pub name: &'static str,
    /// Whether a smaller value is an improvement.
    pub lower_is_better: bool,
    read: fn(&PhaseResult) -> f64,
}

/// The figures `compare` shows, in order.
pub const FIGURES: [Figure; 10] = [
    Figure::lower_is_better("B/event", |p| p.derived.bytes_per_event),
    Figure::lower_is_better("B/event sent", |p| p.derived.sent_bytes_per_event),
    Figure::lower_is_better("B/event received", |p| p.derived.received_bytes_per_event),
    Figure::lower_is_better("overhead", |p| p.derived.overhead_ratio),
    Figure::lower_is_better("p50 µs", |p| p.latency_us.p50 as f64),
    Figure::lower_is_better("p99 µs", |p| p.latency_us.p99 as f64),
    Figure::lower_is_better("max µs", |p| p.latency_us.max as f64),
    Figure::lower_is_better("missed", |p| p.events.missed as f64),
    Figure::lower_is_better("CPU µs/event", |p| p.server.cpu_us_per_event),
    Figure::lower_is_better("RSS B/conn", |p| p.server.rss_per_connection_bytes),
];

impl Figure {
    /// A figure whose improvement is a smaller value (every one `compare`
    /// shows so far).
    const fn lower_is_better(name: &'static str, read: fn(&PhaseResult) -> f64) -> Self {
        Figure {
            name,
            lower_is_better: true,
            read,
        }
    }
}

/// One figure of one phase in both runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The phase (`ws 50c@20/s`, `sse 50c@20/s h2 tls gzip`), matched by
    /// transport, clients, rate and variant (see [`phase_key`]).
    pub phase: String,
    /// The figure's name.
    pub figure: &'static str,
    /// Whether a smaller value is an improvement.
    pub lower_is_better: bool,
    /// The value in run A.
    pub a: f64,
    /// The value in run B.
    pub b: f64,
}

impl Change {
    /// `b / a`: 1 is no change; infinite when a figure appears from zero.
    pub fn ratio(&self) -> f64 {
        if self.a == self.b {
            1.0
        } else if self.a == 0.0 {
            f64::INFINITY
        } else {
            self.b / self.a
        }
    }

    /// How many percent worse B is than A (positive) or better (negative).
    pub fn worse_by_percent(&self) -> f64 {
        let change = (self.ratio() - 1.0) * 100.0;
        if self.lower_is_better {
            change
        } else {
            -change
        }
    }
}

/// Two runs compared phase by phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Every figure of every phase both runs measured.
    pub changes: Vec<Change>,
    /// Phases only run A measured.
    pub only_in_a: Vec<String>,
    /// Phases only run B measured.
    pub only_in_b: Vec<String>,
}

/// Compares run `b` against run `a`, matching phases by transport, client
/// count, event rate and variant (HTTP version, TLS, content coding,
/// header profile): an HTTP/2 phase is never compared with an HTTP/1.1 one.
pub fn compare(a: &RunResult, b: &RunResult) -> Comparison {
    let matched = match_phases(a, b);
    let mut changes = Vec::new();
    for (key, phase_a, phase_b) in matched.pairs {
        for figure in FIGURES {
            changes.push(Change {
                phase: key.clone(),
                figure: figure.name,
                lower_is_better: figure.lower_is_better,
                a: (figure.read)(phase_a),
                b: (figure.read)(phase_b),
            });
        }
    }
    Comparison {
        changes,
        only_in_a: matched.only_in_a,
        only_in_b: matched.only_in_b,
    }
}

/// The phases of two runs paired by [`phase_key`], in run A's order.
#[derive(Debug)]
pub struct MatchedPhases<'a> {
    /// The key and the phase in A and in B.
    pub pairs: Vec<(String, &'a PhaseResult, &'a PhaseResult)>,
    /// Keys of the phases only run A measured.
    pub only_in_a: Vec<String>,
    /// Keys of the phases only run B measured.
    pub only_in_b: Vec<String>,
}

/// Pairs the phases of `a` and `b` by transport, client count, event rate
/// and variant ([`phase_key`]).
pub fn match_phases<'a>(a: &'a RunResult, b: &'a RunResult) -> MatchedPhases<'a> {
    let index = |run: &RunResult| -> BTreeMap<String, usize> {
        run.phases
            .iter()
            .enumerate()
            .map(|(i, p)| (phase_key(p), i))
            .collect()
    };
    let (a_index, b_index) = (index(a), index(b));
    let mut pairs = Vec::new();
    let mut only_in_a = Vec::new();
    for phase_a in &a.phases {
        let key = phase_key(phase_a);
        match b_index.get(&key) {
            Some(&j) => pairs.push((key, phase_a, &b.phases[j])),
            None => only_in_a.push(key),
        }
    }
    let only_in_b = b
        .phases
        .iter()
        .map(phase_key)
        .filter(|k| !a_index.contains_key(k))
        .collect();
    MatchedPhases {
        pairs,
        only_in_a,
        only_in_b,
    }
}

impl Comparison {
    /// The figures that got worse by more than `percent` percent.
    pub fn regressions(&self, percent: f64) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.worse_by_percent() > percent)
            .collect()
    }

    /// Whether no figure changed at all.
    pub fn is_unchanged(&self) -> bool {
        self.only_in_a.is_empty()
            && self.only_in_b.is_empty()
            && self.changes.iter().all(|c| c.ratio() == 1.0)
    }

    /// The comparison as a table: phase, figure, A, B, B/A and a verdict.
    pub fn table(&self) -> Table {
        let mut table = Table::new(["phase", "figure", "A", "B", "B/A", "change"]);
        table.align[1] = Align::Left;
        table.align[5] = Align::Left;
        for change in &self.changes {
            let ratio = change.ratio();
            let verdict = if ratio == 1.0 {
                "no change".to_owned()
            } else if ratio.is_infinite() {
                if change.lower_is_better {
                    "worse (was 0)"
                } else {
                    "better (was 0)"
                }
                .to_owned()
            } else {
                let worse = change.worse_by_percent();
                if worse > 0.0 {
                    format!("worse by {worse:.1}%")
                } else {
                    format!("better by {:.1}%", -worse)
                }
            };
            table.push([
                change.phase.clone(),
                change.figure.to_owned(),
                format_value(change.a),
                format_value(change.b),
                if ratio.is_infinite() {
                    "new".to_owned()
                } else {
                    format!("{ratio:.3}")
                },
                verdict,
            ]);
        }
        for phase in &self.only_in_a {
            table.push([phase.as_str(), "(only in A)", "", "", "", ""]);
        }
        for phase in &self.only_in_b {
            table.push([phase.as_str(), "(only in B)", "", "", "", ""]);
        }
        table
    }
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(a: f64, b: f64) -> Change {
        Change {
            phase: "ws".into(),
            figure: "p99 µs",
            lower_is_better: true,
            a,
            b,
        }
    }

    #[test]
    fn ratios_and_percentages() {
        assert_eq!(change(100.0, 100.0).ratio(), 1.0);
        assert_eq!(change(0.0, 0.0).ratio(), 1.0);
        assert_eq!(change(100.0, 150.0).ratio(), 1.5);
        assert_eq!(change(100.0, 150.0).worse_by_percent(), 50.0);
        assert_eq!(change(100.0, 50.0).worse_by_percent(), -50.0);
        assert!(change(0.0, 3.0).ratio().is_infinite());
        assert!(change(0.0, 3.0).worse_by_percent() > 1e9);
    }
}
