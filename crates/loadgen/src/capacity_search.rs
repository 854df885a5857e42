//! Capacity: the highest event rate each transport sustains here, and the
//! latency at fractions of it.
//!
//! For one transport at a fixed client count, the search runs one phase per
//! rate, each against a freshly started server: it doubles the rate from a
//! start value until a phase breaks a criterion (missed events, errors,
//! deliveries that fall behind, a p99 over a bound), then bisects between
//! the last rate that held and the first that did not. The criteria are
//! ordinary [`Threshold`]s, so "sustained" means exactly what the results
//! say. Afterwards a phase runs at each load point (e.g. 50 % and 90 % of
//! the highest sustained rate) for the latency at a known load.
//!
//! [`Search`] and [`sustained`] are plain functions of the phases' results;
//! [`find_capacity`] runs them against real servers.

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::results::{Capacity, CapacityStep, LoadPoint, TransportCapacity};
use pushbench_protocol::{Scenario, Transport};
use tokio::sync::watch;

use crate::phase::Progress;
use crate::runner::{RunOptions, RunOutcome, run_scenario};
use crate::target::ServerSource;
use crate::threshold::Threshold;
use crate::{Error, Result};

/// How the rates are chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPolicy {
    /// The first rate tried, events per second.
    pub start_rate: f64,
    /// Never try above this: bounds the work a search can cause.
    pub max_rate: f64,
    /// Never try below this when even the start rate fails.
    pub min_rate: f64,
    /// Bisection steps after the first failure: each halves the interval,
    /// so 3 steps find the limit within an eighth of the last doubling.
    pub refine_steps: u32,
}

impl Default for SearchPolicy {
    fn default() -> Self {
        SearchPolicy {
            start_rate: 20.0,
            max_rate: 100_000.0,
            min_rate: 0.5,
            refine_steps: 3,
        }
    }
}

/// The rate search of one transport: doubling until a failure, then
/// bisection. Feed it each verdict; it answers the next rate to try, or
/// `None` when the limit is found.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    policy: SearchPolicy,
    /// Highest rate that held.
    held: Option<f64>,
    /// Lowest rate that failed.
    failed: Option<f64>,
    refined: u32,
}

impl Search {
    /// A search under `policy`.
    pub fn new(policy: SearchPolicy) -> Self {
        Search {
            policy,
            held: None,
            failed: None,
            refined: 0,
        }
    }

    /// The first rate to try.
    pub fn first(&self) -> f64 {
        self.policy.start_rate.min(self.policy.max_rate)
    }

    /// Records that `rate` held (or not) and answers the next rate to try.
    pub fn next(&mut self, rate: f64, held: bool) -> Option<f64> {
        if held {
            self.held = Some(self.held.map_or(rate, |h| h.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
        match (self.held, self.failed) {
            // Still climbing: double, up to the ceiling.
            (Some(h), None) => {
                let next = (h * 2.0).min(self.policy.max_rate);
                (next > h).then_some(next)
            }
            // Nothing held yet: halve, down to the floor.
            (None, Some(f)) => {
                let next = f / 2.0;
                (next >= self.policy.min_rate).then_some(next)
            }
            (Some(h), Some(f)) => {
                if self.refined >= self.policy.refine_steps {
                    return None;
                }
                self.refined += 1;
                let mid = round_rate((h + f) / 2.0);
                (mid > h && mid < f).then_some(mid)
            }
            (None, None) => Some(self.first()),
        }
    }

    /// The highest rate that held so far.
    pub fn highest_sustained(&self) -> Option<f64> {
        self.held
    }
}

/// Rates keep three significant digits, so the steps read well in tables.
fn round_rate(rate: f64) -> f64 {
    if rate <= 0.0 || !rate.is_finite() {
        return rate;
    }
    let scale = 10f64.powi(2 - rate.log10().floor() as i32);
    (rate * scale).round() / scale
}

/// The default criteria of a sustained phase for `transport`: nothing
/// missed, duplicated, reordered or failed; at least 98 % of the window's
/// events delivered within it (a server or load generator that falls
/// behind delivers less than it owes); and a p99 latency under
/// `max_p99_ms`. Short polling is allowed its poll interval on both: its
/// latency is the wait for the next poll by design, and the events of the
/// window's last interval arrive with the first poll after it.
pub fn default_criteria(
    transport: Transport,
    max_p99_ms: f64,
    poll_interval_ms: u64,
    duration_s: f64,
) -> Vec<Threshold> {
    let interval_ms = match transport {
        Transport::ShortPoll => poll_interval_ms as f64,
        _ => 0.0,
    };
    let edge = (interval_ms / 1e3 / duration_s.max(1e-3)).min(0.5);
    [
        "missed=0".to_owned(),
        "duplicated=0".to_owned(),
        "out_of_order=0".to_owned(),
        "errors=0".to_owned(),
        format!("delivery_ratio>={:.3}", 0.98 - edge),
        format!("p99<{}ms", max_p99_ms + interval_ms),
    ]
    .iter()
    .map(|t| t.parse().expect("the built-in criteria parse"))
    .collect()
}

/// The criteria `phase` broke, each with its measured value; empty when it
/// held. An incomplete phase never holds, nor one that published fewer
/// events than its rate owes the window.
pub fn sustained(phase: &PhaseResult, criteria: &[Threshold]) -> Vec<String> {
    let mut broken: Vec<String> = criteria
        .iter()
        .filter(|t| !t.holds(phase))
        .map(|t| format!("{} (measured {})", t.text, describe(t, phase)))
        .collect();
    if phase.incomplete {
        broken.push("the phase did not complete".to_owned());
    }
    // A phase that published fewer events than its rate owes the window
    // (a server of another kind refusing publishes, a publisher that
    // cannot keep up) did not run at that rate, whatever it delivered:
    // two events of slack for the window's edges.
    let owed = phase.rate * phase.duration_s;
    let published = phase.events.published as f64;
    if phase.rate > 0.0 && (phase.events.published == 0 || published + 2.0 < 0.9 * owed) {
        broken.push(format!(
            "published {} of the {owed:.0} events the rate owes the window",
            phase.events.published
        ));
    }
    broken
}

fn describe(t: &Threshold, phase: &PhaseResult) -> String {
    let v = t.measure(phase);
    match t.metric {
        crate::threshold::Metric::Latency(_) => format!("{:.1} ms", v / 1e3),
        crate::threshold::Metric::DeliveryRatio => format!("{v:.3}"),
        _ => format!("{v}"),
    }
}

/// What a capacity search is asked to do.
#[derive(Debug)]
pub struct CapacityOptions {
    /// The phases' shape: transports, one client count, payload, window...
    /// (`rates` is ignored: the search chooses them).
    pub scenario: Scenario,
    /// Where each step's server comes from: it must take the rate, so not
    /// a running `pushbench serve`; a running server of another kind
    /// (`target_kind`) serves every step, published into at each rate.
    pub source: ServerSource,
    /// How rates are chosen.
    pub policy: SearchPolicy,
    /// The criteria per transport; `None` means [`default_criteria`].
    pub criteria: Option<Vec<Threshold>>,
    /// p99 bound of the default criteria, milliseconds.
    pub max_p99_ms: f64,
    /// Fractions of the highest sustained rate to measure afterwards.
    pub load_points: Vec<f64>,
    /// Measured seconds of each load-point phase (longer than a search
    /// step, for steadier percentiles).
    pub load_point_duration_s: f64,
    /// Turns true to interrupt; what was measured is kept.
    pub interrupt: Option<watch::Receiver<bool>>,
    /// The emulated path of a scenario's link other than `loopback`
    /// (see [`RunOptions::emulated`]).
    pub emulated: Option<std::sync::Arc<dyn pushbench_net::network_path::NetworkPath>>,
    /// The process tree of a `--target` of another kind
    /// (see [`RunOptions::target_pid`]).
    pub target_pid: Option<u32>,
}

/// One step's outcome, for a progress line.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// The transport.
    pub transport: Transport,
    /// `search` or `load point 50 %`.
    pub kind: String,
    /// Its phase's result.
    pub phase: PhaseResult,
    /// The criteria it broke (empty when it held).
    pub failed: Vec<String>,
}

/// Runs the capacity search of every transport of `opts.scenario`: one
/// [`RunOutcome`] holding every phase, with `result.capacity` saying which
/// phase was which. A failure mid-search (server died, interrupted) ends
/// the search there, keeping what was measured.
pub async fn find_capacity(
    opts: CapacityOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
    steps: &mut (dyn FnMut(&StepReport) + Send),
) -> Result<RunOutcome> {
    // A running `pushbench serve` publishes at the rate it was started
    // with; a server of another kind is published into by the load
    // generator, at each step's rate.
    if matches!(opts.source, ServerSource::Target(_)) && opts.scenario.target_kind.is_pushbench() {
        return Err(Error::Scenario(
            "a capacity search starts its own server at every rate; a running target cannot \
             change its rate"
                .to_owned(),
        ));
    }
    let clients = match opts.scenario.clients.as_slice() {
        [one] => *one,
        _ => {
            return Err(Error::Scenario(
                "clients: a capacity search takes exactly one client count".to_owned(),
            ));
        }
    };
    if let Some(f) = opts
        .load_points
        .iter()
        .find(|f| !f.is_finite() || **f <= 0.0 || **f > 1.0)
    {
        return Err(Error::Scenario(format!(
            "load points: each must be a fraction in (0, 1], got {f}"
        )));
    }
    let mut all: Option<RunOutcome> = None;
    let mut capacity = Capacity {
        clients,
        transports: Vec::new(),
    };
    let transports = opts.scenario.transports.clone();
    'transports: for transport in transports {
        let criteria = opts.criteria.clone().unwrap_or_else(|| {
            default_criteria(
                transport,
                opts.max_p99_ms,
                opts.scenario.poll_interval_ms,
                opts.scenario.duration_s,
            )
        });
        let mut record = TransportCapacity {
            transport,
            criteria: criteria.iter().map(|t| t.text.clone()).collect(),
            steps: Vec::new(),
            max_rate: None,
            max_delivered_per_second: 0.0,
            load_points: Vec::new(),
        };
        let mut search = Search::new(opts.policy.clone());
        let mut rate = Some(search.first());
        while let Some(r) = rate {
            let run = Step {
                transport,
                rate: r,
                duration_s: None,
                kind: "search".to_owned(),
                criteria: &criteria,
            };
            let Some((index, failed)) = run.measure(&opts, &mut all, progress, steps).await? else {
                break;
            };
            let held = failed.is_empty();
            record.steps.push(CapacityStep {
                rate: r,
                phase: index,
                sustained: held,
                failed,
            });
            if stopped(&all) {
                break;
            }
            rate = search.next(r, held);
        }
        record.max_rate = search.highest_sustained();
        record.max_delivered_per_second = record
            .steps
            .iter()
            .find(|s| s.sustained && Some(s.rate) == record.max_rate)
            .and_then(|s| all.as_ref()?.result.phases.get(s.phase))
            .map_or(0.0, |p| p.derived.events_per_second);
        if let (Some(max), false) = (record.max_rate, stopped(&all)) {
            for &fraction in &opts.load_points {
                let r = round_rate(max * fraction);
                let run = Step {
                    transport,
                    rate: r,
                    duration_s: Some(opts.load_point_duration_s),
                    kind: format!("load point {:.0} %", fraction * 100.0),
                    criteria: &criteria,
                };
                let Some((index, _)) = run.measure(&opts, &mut all, progress, steps).await? else {
                    break;
                };
                record.load_points.push(LoadPoint {
                    fraction,
                    rate: r,
                    phase: index,
                });
                if stopped(&all) {
                    break;
                }
            }
        }
        capacity.transports.push(record);
        if stopped(&all) {
            break 'transports;
        }
    }
    let mut outcome = all.ok_or_else(|| Error::Scenario("no transport to search".to_owned()))?;
    let mut rates: Vec<f64> = outcome.result.phases.iter().map(|p| p.rate).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    outcome.result.scenario = Scenario {
        rates,
        ..opts.scenario.clone()
    };
    outcome.result.capacity = Some(capacity);
    Ok(outcome)
}

/// Whether every step gets a server of its own (a child or one in this
/// process), so one that gives out under a step's load ends only that step.
fn fresh_server_per_step(source: &ServerSource) -> bool {
    matches!(
        source,
        ServerSource::Child { .. } | ServerSource::InProcess(_)
    )
}

/// Whether the user interrupted the run.
fn interrupted(opts: &CapacityOptions) -> bool {
    opts.interrupt.as_ref().is_some_and(|stop| *stop.borrow())
}

/// Whether the search must end: a step failed (server died, interrupted).
fn stopped(all: &Option<RunOutcome>) -> bool {
    all.as_ref().is_none_or(|a| !a.result.complete)
}

/// One phase of a search or a load point.
struct Step<'a> {
    transport: Transport,
    rate: f64,
    /// The window, when not the scenario's.
    duration_s: Option<f64>,
    /// `search` or `load point 50 %`, for the step report.
    kind: String,
    criteria: &'a [Threshold],
}

impl Step<'_> {
    /// Runs the phase against a fresh server, appends it to `all`, reports
    /// it, and answers its index in `all` with the criteria it broke;
    /// `None` when it measured nothing (its server did not start).
    async fn measure(
        self,
        opts: &CapacityOptions,
        all: &mut Option<RunOutcome>,
        progress: &mut (dyn FnMut(&Progress) + Send),
        steps: &mut (dyn FnMut(&StepReport) + Send),
    ) -> Result<Option<(usize, Vec<String>)>> {
        let base = &opts.scenario;
        let scenario = Scenario {
            transports: vec![self.transport],
            rates: vec![self.rate],
            duration_s: self.duration_s.unwrap_or(base.duration_s),
            ..base.clone()
        };
        let run = run_scenario(
            RunOptions {
                scenario,
                source: opts.source.clone(),
                interrupt: opts.interrupt.clone(),
                outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                emulated: opts.emulated.clone(),
                target_pid: opts.target_pid,
            },
            progress,
        )
        .await;
        let was_complete = all.as_ref().is_none_or(|a| a.result.complete);
        let Some(index) = merge(all, run)? else {
            return Ok(None);
        };
        // A step's own server (a fresh one per step) that stopped
        // answering under its load ends that step, not the search: the
        // next step starts another. What ended it is one of the step's
        // broken criteria; the run stays complete.
        let ended_by_its_server = fresh_server_per_step(&opts.source)
            && was_complete
            && !interrupted(opts)
            && all.as_ref().is_some_and(|a| !a.result.complete);
        let mut ended = None;
        if ended_by_its_server && let Some(all) = all.as_mut() {
            all.result.complete = true;
            ended = all.result.error.take();
        }
        let Some(phase) = all.as_ref().and_then(|a| a.result.phases.get(index)) else {
            return Ok(None);
        };
        let mut failed = sustained(phase, self.criteria);
        if let Some(error) = ended {
            failed.push(format!("its server gave out: {error}"));
        }
        steps(&StepReport {
            transport: self.transport,
            kind: self.kind,
            phase: phase.clone(),
            failed: failed.clone(),
        });
        Ok(Some((index, failed)))
    }
}

/// Appends `step`'s phases, histograms and wire log to `all`; answers the
/// index of the step's (single) phase, or `None` when the step measured
/// nothing (its server did not start: the error is kept in `all`). Only a
/// failure before anything was measured is an error.
fn merge(all: &mut Option<RunOutcome>, step: Result<RunOutcome>) -> Result<Option<usize>> {
    let step = match (step, all.as_mut()) {
        (Ok(step), _) => step,
        (Err(e), None) => return Err(e),
        (Err(e), Some(all)) => {
            all.result.complete = false;
            all.result.error.get_or_insert(e.to_string());
            return Ok(None);
        }
    };
    let measured = !step.result.phases.is_empty();
    let Some(all) = all else {
        *all = Some(step);
        return Ok(measured.then_some(0));
    };
    let index = all.result.phases.len();
    all.result.phases.extend(step.result.phases);
    all.histograms.extend(step.histograms);
    // Phase numbers count from 1 within a run; 0 is a control connection.
    all.connections
        .extend(step.connections.into_iter().map(|mut c| {
            if c.phase > 0 {
                c.phase += index;
            }
            c
        }));
    all.result
        .control_traffic
        .merge(&step.result.control_traffic);
    all.result.finished_at = step.result.finished_at;
    if all.result.error.is_none() {
        all.result.error = step.result.error;
    }
    all.result.complete &= step.result.complete;
    Ok(measured.then_some(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SearchPolicy {
        SearchPolicy {
            start_rate: 10.0,
            max_rate: 1_000.0,
            min_rate: 1.0,
            refine_steps: 3,
        }
    }

    /// Runs a search against a machine that holds every rate up to `limit`.
    fn tried(limit: f64, policy: SearchPolicy) -> (Vec<f64>, Option<f64>) {
        let mut search = Search::new(policy);
        let mut rates = Vec::new();
        let mut rate = Some(search.first());
        while let Some(r) = rate {
            assert!(rates.len() < 50, "the search must end: {rates:?}");
            rates.push(r);
            rate = search.next(r, r <= limit);
        }
        (rates, search.highest_sustained())
    }

    #[test]
    fn doubles_then_bisects_to_the_limit() {
        let (rates, max) = tried(100.0, policy());
        assert_eq!(
            rates,
            vec![10.0, 20.0, 40.0, 80.0, 160.0, 120.0, 100.0, 110.0]
        );
        assert_eq!(max, Some(100.0));
    }

    #[test]
    fn stops_at_the_ceiling_and_the_floor() {
        let (rates, max) = tried(f64::INFINITY, policy());
        assert_eq!(rates.last(), Some(&1_000.0));
        assert_eq!(max, Some(1_000.0));
        let (rates, max) = tried(0.0, policy());
        assert_eq!(rates, vec![10.0, 5.0, 2.5, 1.25]);
        assert_eq!(max, None);
        // A limit below the start: halve until one holds, then bisect up.
        let (rates, max) = tried(3.0, policy());
        assert_eq!(&rates[..3], &[10.0, 5.0, 2.5]);
        assert!(max.is_some_and(|m| (2.5..=3.0).contains(&m)), "{max:?}");
    }

    #[test]
    fn rates_keep_three_significant_digits() {
        assert_eq!(round_rate(1234.5), 1230.0);
        assert_eq!(round_rate(0.123_45), 0.123);
        assert_eq!(round_rate(120.0), 120.0);
    }

    #[test]
    fn criteria_allow_short_polls_their_interval() {
        let ws = default_criteria(Transport::Ws, 100.0, 250, 5.0);
        assert!(ws.iter().any(|t| t.text == "p99<100ms"));
        assert!(ws.iter().any(|t| t.text == "delivery_ratio>=0.980"));
        let poll = default_criteria(Transport::ShortPoll, 100.0, 250, 5.0);
        assert!(poll.iter().any(|t| t.text == "p99<350ms"));
        assert!(poll.iter().any(|t| t.text == "delivery_ratio>=0.930"));
    }
}
