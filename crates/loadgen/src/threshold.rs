//! `--threshold` expressions: `p99<5ms`, `missed=0`, `overhead<1.5`.
//!
//! An expression is `METRIC OP VALUE`. Latency metrics (`p50`, `p90`,
//! `p99`, `p999`, `max`, `mean`, `setup_p99`) take a unit (`us`, `ms`, `s`;
//! bare numbers are microseconds). Every phase must satisfy every threshold.

use std::fmt;
use std::str::FromStr;

use pushbench_protocol::results::PhaseResult;

/// A metric a threshold can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// A latency figure, µs.
    Latency(&'static str),
    /// Missed events.
    Missed,
    /// Duplicated events.
    Duplicated,
    /// Out-of-order events.
    OutOfOrder,
    /// Errors of all kinds.
    Errors,
    /// All bytes / payload bytes.
    Overhead,
    /// Bytes per delivered event.
    BytesPerEvent,
    /// Server CPU µs per delivered event.
    CpuUsPerEvent,
    /// Delivered events per second.
    EventsPerSecond,
    /// Delivered events / (clients x events published in the window): 1
    /// when every client got every event of the window in the window.
    DeliveryRatio,
}

const METRICS: &str = "p50, p90, p99, p999, max, mean, setup_p99, missed, duplicated, out_of_order, errors, overhead, bytes_per_event, cpu_us_per_event, events_per_second, delivery_ratio";

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
}

/// One parsed threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The text as given.
    pub text: String,
    /// What is tested.
    pub metric: Metric,
    /// How.
    pub op: Op,
    /// Against what (µs for latencies).
    pub value: f64,
}

/// A threshold that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}`: {reason}")]
pub struct ThresholdError {
    /// The text as given.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ThresholdError {
            text: text.to_owned(),
            reason,
        };
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let at = compact.find(['<', '>', '=', '!']).ok_or_else(|| {
            err("expected METRIC OP VALUE, e.g. p99<5ms (OP is <, <=, >, >=, = or !=)".into())
        })?;
        let (name, rest) = compact.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("=", Op::Eq),
        ]
        .into_iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (op, v)))
        .ok_or_else(|| err(format!("unknown comparison in `{rest}`")))?;
        let metric = match name {
            "p50" | "p90" | "p99" | "p999" | "max" | "mean" | "setup_p99" => {
                Metric::Latency(match name {
                    "p50" => "p50",
                    "p90" => "p90",
                    "p99" => "p99",
                    "p999" => "p999",
                    "max" => "max",
                    "mean" => "mean",
                    _ => "setup_p99",
                })
            }
            "missed" => Metric::Missed,
            "duplicated" => Metric::Duplicated,
            "out_of_order" => Metric::OutOfOrder,
            "errors" => Metric::Errors,
            "overhead" => Metric::Overhead,
            "bytes_per_event" => Metric::BytesPerEvent,
            "cpu_us_per_event" => Metric::CpuUsPerEvent,
            "events_per_second" => Metric::EventsPerSecond,
            "delivery_ratio" => Metric::DeliveryRatio,
            "" => return Err(err("missing metric before the comparison".into())),
            other => {
                return Err(err(format!(
                    "unknown metric `{other}` (expected one of: {METRICS})"
                )));
            }
        };
        let (number, scale) = if matches!(metric, Metric::Latency(_)) {
            if let Some(n) = value.strip_suffix("us") {
                (n, 1.0)
            } else if let Some(n) = value.strip_suffix("ms") {
                (n, 1e3)
            } else if let Some(n) = value.strip_suffix('s') {
                (n, 1e6)
            } else {
                (value, 1.0)
            }
        } else {
            (value, 1.0)
        };
        let number: f64 = number
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| {
                err(format!(
                    "`{value}` is not a number{}",
                    if matches!(metric, Metric::Latency(_)) {
                        " (units: us, ms, s)"
                    } else {
                        ""
                    }
                ))
            })?;
        Ok(Threshold {
            text: text.to_owned(),
            metric,
            op,
            value: number * scale,
        })
    }
}

impl Threshold {
    /// The phase's value of this metric.
    pub fn measure(&self, phase: &PhaseResult) -> f64 {
        let l = &phase.latency_us;
        match self.metric {
            Metric::Latency(name) => match name {
                "p50" => l.p50 as f64,
                "p90" => l.p90 as f64,
                "p99" => l.p99 as f64,
                "p999" => l.p999 as f64,
                "max" => l.max as f64,
                "mean" => l.mean,
                _ => phase.connections.setup_us.p99 as f64,
            },
            Metric::Missed => phase.events.missed as f64,
            Metric::Duplicated => phase.events.duplicated as f64,
            Metric::OutOfOrder => phase.events.out_of_order as f64,
            Metric::Errors => phase.events.errors.values().sum::<u64>() as f64,
            Metric::Overhead => phase.derived.overhead_ratio,
            Metric::BytesPerEvent => phase.derived.bytes_per_event,
            Metric::CpuUsPerEvent => phase.server.cpu_us_per_event,
            Metric::EventsPerSecond => phase.derived.events_per_second,
            Metric::DeliveryRatio => delivery_ratio(phase),
        }
    }

    /// Whether the phase satisfies this threshold.
    pub fn holds(&self, phase: &PhaseResult) -> bool {
        let v = self.measure(phase);
        match self.op {
            Op::Lt => v < self.value,
            Op::Le => v <= self.value,
            Op::Gt => v > self.value,
            Op::Ge => v >= self.value,
            Op::Eq => v == self.value,
            Op::Ne => v != self.value,
        }
    }
}

/// Delivered events over what the window owed: every client should have
/// received every event published in it. 1 when nothing was published.
pub fn delivery_ratio(phase: &PhaseResult) -> f64 {
    let owed = u64::from(phase.clients) * phase.events.published;
    if owed == 0 {
        1.0
    } else {
        phase.events.delivered as f64 / owed as f64
    }
}

/// One threshold a phase broke.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// The threshold text.
    pub threshold: String,
    /// The phase, e.g. `ws 50 clients 20 ev/s`.
    pub phase: String,
    /// The measured value.
    pub measured: f64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "threshold `{}` violated by {}: measured {}",
            self.threshold, self.phase, self.measured
        )
    }
}

/// Every (threshold, phase) pair that fails.
pub fn violations(thresholds: &[Threshold], phases: &[PhaseResult]) -> Vec<Violation> {
    let mut out = Vec::new();
    for phase in phases {
        for t in thresholds {
            if !t.holds(phase) {
                out.push(Violation {
                    threshold: t.text.clone(),
                    phase: format!(
                        "{} {} clients {} ev/s",
                        phase.transport, phase.clients, phase.rate
                    ),
                    measured: t.measure(phase),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::Transport;
    use pushbench_protocol::results::{
        Connections, Derived, EventCounts, LatencySummary, ServerCost,
    };

    fn phase(p99: u64, missed: u64, overhead: f64) -> PhaseResult {
        PhaseResult {
            transport: Transport::Ws,
            clients: 10,
            rate: 20.0,
            rate_source: Default::default(),
            headers: Default::default(),
            tls: false,
            keep_alive: true,
            http: Default::default(),
            coding: Default::default(),
            link: Default::default(),
            link_measured: None,
            duration_s: 1.0,
            connections: Connections::default(),
            traffic: Default::default(),
            events: EventCounts {
                missed,
                ..EventCounts::default()
            },
            latency_us: LatencySummary {
                p99,
                ..LatencySummary::default()
            },
            derived: Derived {
                overhead_ratio: overhead,
                ..Derived::default()
            },
            server: ServerCost::default(),
            load_generator: Default::default(),
            histogram_log: None,
            setup_traffic: pushbench_protocol::Traffic::default(),
            setup_bytes_per_connection: 0.0,
            incomplete: false,
            outage: Default::default(),
            clock_slew_us: None,
        }
    }

    #[test]
    fn parses_units_and_operators() {
        let t: Threshold = "p99<5ms".parse().expect("parse");
        assert_eq!(
            (t.metric, t.op, t.value),
            (Metric::Latency("p99"), Op::Lt, 5000.0)
        );
        let t: Threshold = "missed = 0".parse().expect("parse");
        assert_eq!((t.metric, t.op, t.value), (Metric::Missed, Op::Eq, 0.0));
        let t: Threshold = "overhead<=1.5".parse().expect("parse");
        assert_eq!((t.op, t.value), (Op::Le, 1.5));
        assert_eq!("max<2s".parse::<Threshold>().map(|t| t.value), Ok(2e6));
        assert_eq!(
            "p50>=250us".parse::<Threshold>().map(|t| t.value),
            Ok(250.0)
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        for (bad, says) in [
            ("p98<5ms", "unknown metric"),
            ("p99", "expected METRIC OP VALUE"),
            ("p99<5 parsecs", "not a number"),
            ("<3", "missing metric"),
            ("missed=lots", "not a number"),
        ] {
            let err = bad.parse::<Threshold>().expect_err(bad);
            assert!(err.to_string().contains(says), "{bad}: {err}");
            assert!(err.to_string().contains(bad.trim()), "{err}");
        }
    }

    #[test]
    fn thresholds_fail_when_they_should() {
        let ts: Vec<Threshold> = ["p99<5ms", "missed=0", "overhead<1.5"]
            .iter()
            .map(|t| t.parse().expect("parse"))
            .collect();
        assert!(violations(&ts, &[phase(4999, 0, 1.4)]).is_empty());
        let v = violations(&ts, &[phase(5000, 3, 1.4), phase(10, 0, 2.0)]);
        let broken: Vec<_> = v
            .iter()
            .map(|v| (v.threshold.as_str(), v.measured))
            .collect();
        assert_eq!(
            broken,
            vec![
                ("p99<5ms", 5000.0),
                ("missed=0", 3.0),
                ("overhead<1.5", 2.0)
            ]
        );
    }
}
