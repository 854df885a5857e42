//! Whether two runs of one scenario measured the same thing: a merged
//! N-shard run against a 1-process run (`pushbench compare --equivalence`).
//!
//! Two runs are two windows of the server's event stream, at different
//! moments, so raw totals differ by the events published in each window.
//! Every figure is therefore normalised first (per client, per delivered
//! event, per response or per connection) and then held to a stated
//! [`Allowance`]:
//!
//! - **exact**: the clients, the losses (missed, duplicated, out of order,
//!   gaps, errors, failed connections: 0 in a lossless run), connections
//!   per client of a kept-alive phase, the payload bytes per delivered
//!   event (every event carries the scenario's payload);
//! - **a few bytes**: bytes that spell a seq (framing per event, headers
//!   per response, setup bytes per connection) may differ by
//!   [`SEQ_DIGIT_BYTES`], since one window's seqs can have one digit more
//!   than the other's;
//! - **window edges**: delivered events per client per published event
//!   within 2 / published, since a client may count one event at each
//!   edge of its window beyond `published`;
//! - **histogram precision**: latency percentiles within the histograms'
//!   3 significant digits (each value within 1/1000 of itself);
//! - **timing, not judged**: what follows the clock or the batching of
//!   events rather than the events (TCP/IP headers, control traffic,
//!   HTTP/2 frame headers, TLS records, coded bodies, events published):
//!   shown, never called equal or not.
//!
//! [`equivalence`] is pure (two results in, the checks out);
//! [`Equivalence::table`] renders them with a verdict per figure and
//! [`Equivalence::verdicts`] one per phase.

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ByteClass, ByteLedger, RunResult};

use crate::compare::match_phases;
use crate::table::{Align, Table};

/// Bytes per event, response or connection that a seq written in them
/// may add between two windows: one more digit in each place a seq is
/// spelled (an SSE `id:` line and the JSON envelope; a chunk-size line's
/// hex digits; a resume cursor in a request), three at most.
pub const SEQ_DIGIT_BYTES: f64 = 3.0;

/// Relative precision of the latency histograms: 3 significant digits.
pub const HISTOGRAM_PRECISION: f64 = 1e-3;

/// How far apart a figure of the two runs may be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Allowance {
    /// Must be equal.
    Exact,
    /// May differ by this much, in the figure's unit.
    Within(f64),
    /// A latency percentile: each side within [`HISTOGRAM_PRECISION`] of
    /// its true value.
    Precision,
    /// Follows timing, not the events: shown, not judged.
    Timing,
}

impl Allowance {
    /// The largest difference allowed between `a` and `b`; `None` when
    /// the figure is not judged.
    pub fn bound(self, a: f64, b: f64) -> Option<f64> {
        match self {
            Allowance::Exact => Some(0.0),
            Allowance::Within(d) => Some(d),
            Allowance::Precision => Some((a.abs() + b.abs()) * HISTOGRAM_PRECISION),
            Allowance::Timing => None,
        }
    }
}

/// What kind of figure a check is, for the phase's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An event or connection count.
    Count,
    /// Bytes of one class and direction.
    Bytes,
    /// A latency percentile.
    Latency,
}

/// One figure of one phase in both runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The phase, as [`phase_key`](crate::variant_labels::phase_key).
    pub phase: String,
    /// The figure, with its normalisation (`framing received / event`).
    pub figure: String,
    /// Count, bytes or latency.
    pub kind: Kind,
    /// Run A's value (the 1-process run).
    pub a: f64,
    /// Run B's value (the merged run).
    pub b: f64,
    /// How far apart they may be.
    pub allowance: Allowance,
    /// Why that allowance.
    pub why: &'static str,
}

impl Check {
    /// Whether the two values are within the allowance; `None` when the
    /// figure is not judged.
    pub fn holds(&self) -> Option<bool> {
        let bound = self.allowance.bound(self.a, self.b)?;
        // Normalised figures are ratios of whole numbers: a difference
        // below 1e-9 is the division's rounding, not the runs'.
        Some((self.a - self.b).abs() <= bound + 1e-9)
    }

    /// The verdict's words.
    pub fn verdict(&self) -> String {
        match self.holds() {
            None => format!("not judged ({})", self.why),
            Some(true) if self.a == self.b => "equal".to_owned(),
            Some(true) => format!("within allowance ({})", self.why),
            Some(false) if self.kind == Kind::Latency => format!(
                "beyond precision: B/A {:.3} (a measured difference)",
                self.b / self.a.max(1.0)
            ),
            Some(false) => format!("DIFFERS ({})", self.why),
        }
    }
}

/// Two runs' checks, phase by phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Equivalence {
    /// Every check of every phase both runs measured.
    pub checks: Vec<Check>,
    /// Phases only run A measured.
    pub only_in_a: Vec<String>,
    /// Phases only run B measured.
    pub only_in_b: Vec<String>,
}

/// The checks of run `b` (merged) against run `a` (1 process).
pub fn equivalence(a: &RunResult, b: &RunResult) -> Equivalence {
    let matched = match_phases(a, b);
    let mut checks = Vec::new();
    for (key, pa, pb) in matched.pairs {
        let mut push =
            |figure: String, kind, read: &dyn Fn(&PhaseResult) -> f64, allowance, why| {
                checks.push(Check {
                    phase: key.clone(),
                    figure,
                    kind,
                    a: read(pa),
                    b: read(pb),
                    allowance,
                    why,
                });
            };
        phase_checks(pa, pb, &mut push);
    }
    Equivalence {
        checks,
        only_in_a: matched.only_in_a,
        only_in_b: matched.only_in_b,
    }
}

type Push<'a> = dyn FnMut(String, Kind, &dyn Fn(&PhaseResult) -> f64, Allowance, &'static str) + 'a;

const LOSSLESS: &str = "a lossless run has none";
const EDGES: &str = "a client may count one event at each window edge";

/// The checks of one phase pair, in table order.
fn phase_checks(pa: &PhaseResult, pb: &PhaseResult, push: &mut Push<'_>) {
    use Allowance::{Exact, Precision, Timing, Within};
    push(
        "clients".into(),
        Kind::Count,
        &|p| f64::from(p.clients),
        Exact,
        "the scenario's",
    );
    push(
        "published (server, in the window)".into(),
        Kind::Count,
        &|p| p.events.published as f64,
        Timing,
        "two windows of the server's clock",
    );
    let fewest_published = pa.events.published.min(pb.events.published).max(1) as f64;
    push(
        "delivered / client / published".into(),
        Kind::Count,
        &|p| {
            p.events.delivered as f64
                / (f64::from(p.clients.max(1)) * p.events.published.max(1) as f64)
        },
        Within(2.0 / fewest_published),
        EDGES,
    );
    let losses: [(&str, Count); 6] = [
        ("missed", |p| p.events.missed),
        ("duplicated", |p| p.events.duplicated),
        ("out of order", |p| p.events.out_of_order),
        ("gaps", |p| p.events.gaps),
        ("errors", |p| p.events.errors.values().sum()),
        ("connections failed", |p| p.connections.failed),
    ];
    for (name, read) in losses {
        push(
            name.into(),
            Kind::Count,
            &|p| read(p) as f64,
            Exact,
            LOSSLESS,
        );
    }
    let (opened_rule, opened_why) = if pa.keep_alive && pb.keep_alive {
        (Exact, "one connection per client, kept")
    } else {
        (Timing, "a new connection per poll")
    };
    push(
        "connections opened / client".into(),
        Kind::Count,
        &|p| p.connections.opened as f64 / f64::from(p.clients.max(1)),
        opened_rule,
        opened_why,
    );
    for (direction, side) in [("sent", sent as Side), ("received", received as Side)] {
        for class in ByteClass::ALL {
            let (per, unit, allowance, why) = steady_rule(class);
            let read = move |p: &PhaseResult| ratio(side(&p.traffic).get(class), per(p));
            if read(pa) == 0.0 && read(pb) == 0.0 {
                continue;
            }
            let figure = format!("{} {direction} / {unit}", class.name());
            push(figure, Kind::Bytes, &read, allowance, why);
        }
        let read = move |p: &PhaseResult| ratio(side(&p.traffic).tcp_ip, p.events.delivered);
        if read(pa) != 0.0 || read(pb) != 0.0 {
            push(
                format!("tcp_ip {direction} / event"),
                Kind::Bytes,
                &read,
                Timing,
                "segments carry what was ready",
            );
        }
        for class in ByteClass::ALL {
            let read = move |p: &PhaseResult| {
                ratio(side(&p.setup_traffic).get(class), p.connections.opened)
            };
            if read(pa) == 0.0 && read(pb) == 0.0 {
                continue;
            }
            let figure = format!("setup {} {direction} / connection", class.name());
            push(
                figure,
                Kind::Bytes,
                &read,
                Within(SEQ_DIGIT_BYTES),
                if class == ByteClass::TlsHandshake {
                    "a DER-encoded signature's length varies by a byte or two"
                } else {
                    "a resume cursor's digits"
                },
            );
        }
    }
    let percentiles: [(&str, Count); 3] = [
        ("latency p50 µs", |p| p.latency_us.p50),
        ("latency p99 µs", |p| p.latency_us.p99),
        ("latency max µs", |p| p.latency_us.max),
    ];
    for (name, read) in percentiles {
        push(
            name.into(),
            Kind::Latency,
            &|p| read(p) as f64,
            Precision,
            "3 significant digits",
        );
    }
}

/// A whole-number figure read from a phase.
type Count = fn(&PhaseResult) -> u64;

type Side = fn(&pushbench_protocol::Traffic) -> &ByteLedger;

fn sent(t: &pushbench_protocol::Traffic) -> &ByteLedger {
    &t.sent
}

fn received(t: &pushbench_protocol::Traffic) -> &ByteLedger {
    &t.received
}

fn ratio(bytes: u64, per: u64) -> f64 {
    if per == 0 {
        0.0
    } else {
        bytes as f64 / per as f64
    }
}

/// How a class of the measured window is normalised and held: per
/// delivered event, or per response for the header classes (a poll's
/// headers come with each answer, not with each event).
fn steady_rule(
    class: ByteClass,
) -> (
    fn(&PhaseResult) -> u64,
    &'static str,
    Allowance,
    &'static str,
) {
    let per_event: Count = |p| p.events.delivered;
    let per_response: Count = |p| p.connections.responses;
    match class {
        ByteClass::Payload => (
            per_event,
            "event",
            Allowance::Exact,
            "the scenario's payload",
        ),
        ByteClass::Framing => (
            per_event,
            "event",
            Allowance::Within(SEQ_DIGIT_BYTES),
            "seq digits",
        ),
        ByteClass::Handshake | ByteClass::RequestHeaders | ByteClass::ResponseHeaders => (
            per_response,
            "response",
            Allowance::Within(SEQ_DIGIT_BYTES),
            "cursor and length digits",
        ),
        ByteClass::TlsHandshake => (
            per_response,
            "response",
            Allowance::Timing,
            "handshakes follow new connections",
        ),
        ByteClass::Control => (
            per_event,
            "event",
            Allowance::Timing,
            "pings and keep-alives follow the clock",
        ),
        ByteClass::H2Frames | ByteClass::TlsRecords => (
            per_event,
            "event",
            Allowance::Timing,
            "events sent together share a frame or record",
        ),
        ByteClass::Compressed => (
            per_event,
            "event",
            Allowance::Timing,
            "a coded stream compresses across the events sent together",
        ),
    }
}

/// One phase's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseVerdict {
    /// The phase.
    pub phase: String,
    /// Counts and bytes that differ beyond their allowance (empty: the
    /// same).
    pub unequal: Vec<String>,
    /// Latency percentiles beyond the histograms' precision.
    pub latency_beyond_precision: Vec<String>,
}

impl PhaseVerdict {
    /// The verdict's words.
    pub fn words(&self) -> String {
        let counts = if self.unequal.is_empty() {
            "counts and bytes: the same".to_owned()
        } else {
            format!(
                "counts and bytes: NOT the same ({})",
                self.unequal.join(", ")
            )
        };
        let latency = if self.latency_beyond_precision.is_empty() {
            "latency: within the histograms' precision".to_owned()
        } else {
            format!(
                "latency: {} differ beyond the histograms' precision (separate runs: run-to-run noise, not rounding)",
                self.latency_beyond_precision.join(", ")
            )
        };
        format!("{counts}; {latency}")
    }
}

impl Equivalence {
    /// One verdict per phase, in run A's order.
    pub fn verdicts(&self) -> Vec<PhaseVerdict> {
        let mut verdicts: Vec<PhaseVerdict> = Vec::new();
        for check in &self.checks {
            if verdicts.last().is_none_or(|v| v.phase != check.phase) {
                verdicts.push(PhaseVerdict {
                    phase: check.phase.clone(),
                    unequal: Vec::new(),
                    latency_beyond_precision: Vec::new(),
                });
            }
            let Some(verdict) = verdicts.last_mut() else {
                continue;
            };
            if check.holds() == Some(false) {
                match check.kind {
                    Kind::Latency => verdict.latency_beyond_precision.push(check.figure.clone()),
                    Kind::Count | Kind::Bytes => verdict.unequal.push(check.figure.clone()),
                }
            }
        }
        verdicts
    }

    /// Whether every count and byte figure of every phase is within its
    /// allowance and both runs measured the same phases.
    pub fn counts_and_bytes_equal(&self) -> bool {
        self.only_in_a.is_empty()
            && self.only_in_b.is_empty()
            && self.verdicts().iter().all(|v| v.unequal.is_empty())
    }

    /// The checks as a table: phase, figure, A, B, |B - A|, allowed
    /// difference and verdict.
    pub fn table(&self) -> Table {
        let mut table = Table::new(["phase", "figure", "A", "B", "|B-A|", "allowed", "verdict"]);
        table.align[1] = Align::Left;
        table.align[6] = Align::Left;
        for check in &self.checks {
            let allowed = match check.allowance.bound(check.a, check.b) {
                None => "-".to_owned(),
                Some(bound) => format_value(bound),
            };
            table.push([
                check.phase.clone(),
                check.figure.clone(),
                format_value(check.a),
                format_value(check.b),
                format_value((check.a - check.b).abs()),
                allowed,
                check.verdict(),
            ]);
        }
        for phase in &self.only_in_a {
            table.push([phase.as_str(), "(only in A)", "", "", "", "", ""]);
        }
        for phase in &self.only_in_b {
            table.push([phase.as_str(), "(only in B)", "", "", "", "", ""]);
        }
        table
    }
}

/// Whole numbers as such, the rest to 4 significant decimals.
fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunResult {
        serde_json::from_str(include_str!("../tests/fixtures/results.json"))
            .unwrap_or_else(|e| panic!("the fixture: {e}"))
    }

    #[test]
    fn a_run_is_equivalent_to_itself() {
        let run = fixture();
        let eq = equivalence(&run, &run);
        assert!(eq.counts_and_bytes_equal(), "{}", eq.table().to_text());
        assert_eq!(eq.verdicts().len(), run.phases.len());
        for v in eq.verdicts() {
            assert!(v.latency_beyond_precision.is_empty(), "{v:?}");
        }
        assert!(
            eq.checks
                .iter()
                .all(|c| c.holds().is_none() || c.verdict() == "equal")
        );
    }

    #[test]
    fn a_missed_event_or_a_payload_byte_is_not_the_same() {
        let a = fixture();
        let mut b = a.clone();
        b.phases[0].events.missed += 1;
        b.phases[1].traffic.received.payload += 1;
        let eq = equivalence(&a, &b);
        assert!(!eq.counts_and_bytes_equal());
        let verdicts = eq.verdicts();
        assert_eq!(verdicts[0].unequal, ["missed"]);
        assert!(
            verdicts[1].unequal[0].starts_with("payload received"),
            "{:?}",
            verdicts[1]
        );
        assert!(verdicts[2].unequal.is_empty());
    }

    #[test]
    fn a_seq_digit_or_a_window_edge_is_within_allowance() {
        let a = fixture();
        let mut b = a.clone();
        let p = &mut b.phases[0];
        // One more digit in every event's seq...
        p.traffic.received.framing += p.events.delivered;
        // ...and one client counted an event at a window edge.
        p.events.delivered += 1;
        p.traffic.received.framing += 40;
        p.traffic.received.payload = a.phases[0].traffic.received.payload
            / a.phases[0].events.delivered.max(1)
            * p.events.delivered;
        let eq = equivalence(&a, &b);
        let verdicts = eq.verdicts();
        assert!(verdicts[0].unequal.is_empty(), "{}", eq.table().to_text());
    }

    #[test]
    fn latency_is_held_to_the_histograms_precision() {
        let a = fixture();
        let mut b = a.clone();
        let p99 = a.phases[0].latency_us.p99;
        b.phases[0].latency_us.p99 = p99 + p99 / 2000;
        b.phases[1].latency_us.p99 = a.phases[1].latency_us.p99 * 2;
        let verdicts = equivalence(&a, &b).verdicts();
        assert!(verdicts[0].latency_beyond_precision.is_empty());
        assert_eq!(verdicts[1].latency_beyond_precision, ["latency p99 µs"]);
        assert!(verdicts[1].unequal.is_empty(), "latency is not a count");
        assert!(verdicts[1].words().contains("run-to-run noise"));
    }

    #[test]
    fn timing_figures_are_shown_but_not_judged() {
        let a = fixture();
        let mut b = a.clone();
        b.phases[0].events.published += 5;
        b.phases[0].traffic.received.tcp_ip += 1_000;
        let eq = equivalence(&a, &b);
        let published = eq
            .checks
            .iter()
            .find(|c| c.figure.starts_with("published"))
            .expect("published shown");
        assert_eq!(published.holds(), None);
        assert!(published.verdict().starts_with("not judged"));
        assert!(
            eq.verdicts()[0]
                .unequal
                .iter()
                .all(|f| !f.contains("tcp_ip"))
        );
    }
}
