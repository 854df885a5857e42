//! Servers side by side (`pushbench servers`): `pushbench serve` and the
//! servers of the other target kinds, every technique each offers, in one
//! run on one machine, into a `servers.json`
//! ([`pushbench_protocol::server_results`]).
//!
//! Per technique, in [`Transport::ALL`]'s order, the servers that offer it:
//! 1. a capacity search each ([`crate::capacity_search`]): the highest
//!    sustained deliveries per second;
//! 2. then every server at one common load (`--rate`, or 90 % of the lowest
//!    highest-sustained rate among them, so all of them held it), in
//!    rounds: bytes per event by class, p50/p99, events missed, server CPU
//!    per delivery, RSS per connection.
//!
//! `pushbench serve` is started as `pushbench run` starts it (a child per
//! rate, its own generator publishing). Every other server is started by
//! its start script ([`KindProcess`]) for each search and each common-load
//! phase, and stopped after; the load generator publishes into it (one
//! request per event, [`crate::publisher`]), so before anything else the
//! publisher's own ceiling into each server is measured, and a search whose
//! failing rate came near it is marked publisher-bound.
//!
//! The order of the servers rotates per technique (capacity) and per round
//! (common load, reversed), so no server always runs first on a machine
//! warmed by the one before ([`capacity_order`], [`common_order`]).
//! Deciding the order, the common rate and the figures are plain functions
//! of the phases' results; [`run_servers`] runs them.

use std::path::PathBuf;

use pushbench_protocol::peer_results::{PeerComparison, median};
use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::server_results::{
    CapacityFigure, CommonLoad, PublisherCeiling, SERVERS_VERSION, ServerEntry, ServerMeasure,
    ServersResult, ServersSettings, TechniqueResult,
};
use pushbench_protocol::{ByteClass, ByteLedger, Scenario, TargetKind, Traffic, Transport};
use tokio::sync::watch;

use crate::capacity_search::{
    CapacityOptions, SearchPolicy, default_criteria, find_capacity, sustained,
};
use crate::kind_process::KindProcess;
use crate::peer_runs::comparison;
use crate::phase::Progress;
use crate::runner::{RunOptions, RunOutcome, run_scenario};
use crate::target::ServerSource;
use crate::{Error, Result, machine};

/// Warm-up seconds before every phase's window.
pub const WARMUP_S: f64 = 1.0;

/// Ramp-up seconds of every phase: the clients connect over it.
pub const RAMP_UP_S: f64 = 0.5;

/// The common load's rate when neither `--rate` nor a capacity search
/// chose one (`--no-capacity`), events per second: low enough for any
/// server here to hold with a few hundred clients.
pub const DEFAULT_COMMON_RATE: f64 = 50.0;

/// The common load, as a fraction of the lowest highest-sustained rate of
/// a technique's servers: under every server's limit, near enough to it
/// to show how each behaves when busy.
pub const COMMON_FRACTION: f64 = 0.9;

/// What to compare, and how hard.
#[derive(Clone, Debug)]
pub struct ServersOptions {
    /// The `pushbench` executable (its `serve` is the reference).
    pub pushbench_exe: PathBuf,
    /// The other servers, in the order asked, each with its start script.
    pub kinds: Vec<(TargetKind, PathBuf)>,
    /// The techniques asked for.
    pub transports: Vec<Transport>,
    /// Clients of every phase.
    pub clients: u32,
    /// The common load's rate; `None` derives it (see [`common_rate`]).
    pub rate: Option<f64>,
    /// Rounds at the common load.
    pub rounds: u32,
    /// Payload bytes per event.
    pub payload: usize,
    /// Measured seconds of each phase.
    pub duration_s: f64,
    /// Whether to run the capacity searches.
    pub capacity: bool,
    /// The searches' rates.
    pub policy: SearchPolicy,
    /// p99 bound of a sustained phase, milliseconds.
    pub max_p99_ms: f64,
    /// Turns true to interrupt; what was measured is kept.
    pub interrupt: Option<watch::Receiver<bool>>,
}

/// What the run reports as it goes.
#[allow(missing_debug_implementations)]
pub struct ServersHooks<'a> {
    /// Each phase's progress.
    pub progress: &'a mut (dyn FnMut(&Progress) + Send),
    /// A line per step.
    pub note: &'a mut (dyn FnMut(&str) + Send),
    /// Each run as it finishes, by its folder name: written at once, so a
    /// run that stops later keeps it.
    pub run_done: &'a mut (dyn FnMut(&str, RunOutcome) + Send),
}

/// The servers that offer `transport`, in the order their capacity is
/// searched: `servers` (pushbench's own first) rotated left by the
/// technique's index among those run, so each server in turn runs first.
pub fn capacity_order(
    servers: &[TargetKind],
    transport: Transport,
    index: usize,
) -> Vec<TargetKind> {
    let mut offering: Vec<TargetKind> = servers
        .iter()
        .copied()
        .filter(|k| k.offers_transport(transport))
        .collect();
    if !offering.is_empty() {
        let n = offering.len();
        offering.rotate_left(index % n);
    }
    offering
}

/// The order of common-load round `round` (from 0): the capacity order
/// reversed (the server searched last, on the warmest machine, goes first),
/// rotated left by the round.
pub fn common_order(capacity_order: &[TargetKind], round: u32) -> Vec<TargetKind> {
    let mut order: Vec<TargetKind> = capacity_order.iter().rev().copied().collect();
    if !order.is_empty() {
        let n = order.len();
        order.rotate_left(round as usize % n);
    }
    order
}

/// The common load's rate and where it came from: `asked`, else
/// [`COMMON_FRACTION`] of the lowest highest-sustained rate in `sustained`
/// (rounded, at least 1), else [`DEFAULT_COMMON_RATE`] when no search ran;
/// `None` when searches ran and none sustained anything.
pub fn common_rate(asked: Option<f64>, searched: bool, sustained: &[f64]) -> (Option<f64>, String) {
    if let Some(rate) = asked {
        return (Some(rate), "--rate".to_owned());
    }
    if !searched {
        return (
            Some(DEFAULT_COMMON_RATE),
            "the default without capacity searches".to_owned(),
        );
    }
    match sustained.iter().copied().min_by(f64::total_cmp) {
        Some(lowest) => (
            Some((lowest * COMMON_FRACTION).max(1.0).round()),
            format!(
                "{:.0} % of the lowest highest-sustained rate ({lowest} ev/s)",
                COMMON_FRACTION * 100.0
            ),
        ),
        None => (None, "no server sustained any rate".to_owned()),
    }
}

/// The capacity figure of a search's result (`run` is its folder).
pub fn capacity_figure(
    outcome: &RunOutcome,
    run: &str,
    ceiling: Option<&PublisherCeiling>,
) -> Option<CapacityFigure> {
    let searched = outcome.result.capacity.as_ref()?.transports.first()?;
    let failed = searched
        .steps
        .iter()
        .filter(|s| !s.sustained)
        .min_by(|a, b| a.rate.total_cmp(&b.rate));
    let lowest_failed_rate = failed.map(|s| s.rate);
    Some(CapacityFigure {
        max_rate: searched.max_rate,
        max_deliveries_per_second: searched.max_delivered_per_second,
        lowest_failed_rate,
        failed_because: failed.map(|s| s.failed.clone()).unwrap_or_default(),
        steps: searched.steps.len() as u32,
        publisher_bound: match (lowest_failed_rate, ceiling) {
            (Some(rate), Some(c)) => c.bounds(rate),
            _ => false,
        },
        run: run.to_owned(),
    })
}

/// The bytes per event by class of `traffic` over `delivered` events, both
/// directions together; classes with no bytes left out.
pub fn bytes_by_class(
    traffic: &Traffic,
    delivered: u64,
) -> std::collections::BTreeMap<String, f64> {
    let mut both = ByteLedger::default();
    both.merge(&traffic.sent);
    both.merge(&traffic.received);
    ByteClass::ALL
        .into_iter()
        .filter(|&c| both.get(c) > 0)
        .map(|c| {
            (
                c.name().to_owned(),
                both.get(c) as f64 / delivered.max(1) as f64,
            )
        })
        .collect()
}

/// One common-load round of one server: its phase, the publisher's bytes
/// (empty for `pushbench serve`) and its folder.
#[derive(Clone, Debug)]
pub struct Round {
    /// The phase.
    pub phase: PhaseResult,
    /// The run's `publish_traffic`.
    pub publish: Traffic,
    /// The run's folder.
    pub run: String,
}

/// A server's common load from its rounds, judged by `criteria`.
pub fn common_load(
    rounds: &[Round],
    criteria: &[crate::threshold::Threshold],
    ceiling: Option<&PublisherCeiling>,
) -> Option<CommonLoad> {
    let first = rounds.first()?;
    let each = |f: &dyn Fn(&PhaseResult) -> f64| {
        median(&rounds.iter().map(|r| f(&r.phase)).collect::<Vec<_>>())
    };
    let sum = |f: &dyn Fn(&PhaseResult) -> u64| rounds.iter().map(|r| f(&r.phase)).sum::<u64>();
    let mut traffic = Traffic::default();
    let mut publish = Traffic::default();
    for r in rounds {
        traffic.merge(&r.phase.traffic);
        publish.merge(&r.publish);
    }
    let delivered = sum(&|p| p.events.delivered);
    let mut failed: Vec<String> = Vec::new();
    for r in rounds {
        for f in sustained(&r.phase, criteria) {
            if !failed.contains(&f) {
                failed.push(f);
            }
        }
    }
    let rate = first.phase.rate;
    Some(CommonLoad {
        rate,
        clients: first.phase.clients,
        delivered,
        missed: sum(&|p| p.events.missed),
        duplicated_or_reordered: sum(&|p| p.events.duplicated + p.events.out_of_order),
        deliveries_per_second: each(&|p| p.derived.events_per_second),
        p50_ms: each(&|p| p.latency_us.p50 as f64 / 1e3),
        p99_ms: each(&|p| p.latency_us.p99 as f64 / 1e3),
        cpu_us_per_delivery: each(&|p| p.server.cpu_us_per_event),
        rss_per_connection_bytes: each(&|p| p.server.rss_per_connection_bytes),
        bytes_per_event: bytes_by_class(&traffic, delivered),
        publish_bytes: publish.total(),
        held: failed.is_empty(),
        failed,
        publisher_bound: ceiling.is_some_and(|c| c.bounds(rate)),
        runs: rounds.iter().map(|r| r.run.clone()).collect(),
    })
}

/// `pushbench serve` against every other server of `technique`: the
/// highest sustained deliveries/s (goal 1: at least as many), then p99 and
/// CPU per delivery at the common load (p99's goal 1: no slower; CPU for
/// information), each round's pair kept.
pub fn technique_comparisons(
    technique: &TechniqueResult,
    rounds: &[(TargetKind, Vec<Round>)],
    settings: &ServersSettings,
    ceilings: &[(TargetKind, PublisherCeiling)],
) -> Vec<PeerComparison> {
    let t = technique.transport;
    let n = settings.clients;
    let find = |k: TargetKind| technique.servers.iter().find(|s| s.kind == k);
    let rounds_of = |k: TargetKind| {
        rounds
            .iter()
            .find(|(kind, _)| *kind == k)
            .map(|(_, r)| r.as_slice())
    };
    let Some(ours) = find(TargetKind::Pushbench) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for theirs in technique
        .servers
        .iter()
        .filter(|s| s.kind != TargetKind::Pushbench)
    {
        let k = theirs.kind;
        let vs = k.title();
        if let (Some(a), Some(b)) = (&ours.capacity, &theirs.capacity)
            && a.max_rate.is_some()
            && b.max_rate.is_some()
        {
            let ceiling = ceilings.iter().find(|(c, _)| *c == k).map(|(_, c)| c);
            let bound = match (b.publisher_bound, ceiling) {
                (true, Some(c)) => format!(
                    "; PUBLISHER-BOUND: {vs} failed at {} ev/s, at least {:.0} % of the {:.0} ev/s \
                     the publisher reached into it alone, so the publisher may be the limit",
                    b.lowest_failed_rate.unwrap_or_default(),
                    pushbench_protocol::server_results::PUBLISHER_BOUND_FRACTION * 100.0,
                    c.events_per_second
                ),
                (false, Some(c)) => format!(
                    "; the publisher reached {:.0} ev/s into {vs} alone",
                    c.events_per_second
                ),
                _ => String::new(),
            };
            out.push(comparison(
                (
                    &format!("{t}, {n} clients: highest sustained deliveries/s"),
                    &format!("{t} deliveries/s vs {vs}"),
                ),
                "deliveries/s",
                true,
                "pushbench serve",
                (
                    &[a.max_deliveries_per_second],
                    &[b.max_deliveries_per_second],
                ),
                vs,
                Some(1.0),
                format!(
                    "capacity searches (doubling from {} ev/s, at most {}, then {} bisection \
                     steps; sustained = nothing missed or failed, >= 98 % delivered in the \
                     window, p99 < {} ms); folders {} and {}{bound}",
                    settings.start_rate,
                    settings.max_rate,
                    settings.refine_steps,
                    settings.max_p99_ms,
                    a.run,
                    b.run
                ),
            ));
        }
        let (Some(a), Some(b)) = (rounds_of(TargetKind::Pushbench), rounds_of(k)) else {
            continue;
        };
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let rate = a[0].phase.rate;
        let folders: Vec<&str> = a.iter().chain(b).map(|r| r.run.as_str()).collect();
        let method = format!(
            "`pushbench run --transports {t} --clients {n} --rate {rate} --payload {}` \
             against each server, {} round(s) in alternating order, medians compared; folders {}",
            settings.payload,
            a.len().min(b.len()),
            folders.join(", ")
        );
        let p99 = |r: &[Round]| {
            r.iter()
                .map(|r| r.phase.latency_us.p99 as f64 / 1e3)
                .collect::<Vec<_>>()
        };
        let cpu = |r: &[Round]| {
            r.iter()
                .map(|r| r.phase.server.cpu_us_per_event)
                .collect::<Vec<_>>()
        };
        for (what, label, metric, (ours, theirs), goal) in [
            ("p99 latency", "p99", "p99 ms", (p99(a), p99(b)), Some(1.0)),
            (
                "server CPU per delivery",
                "CPU/delivery",
                "CPU µs/delivery",
                (cpu(a), cpu(b)),
                None,
            ),
        ] {
            out.push(comparison(
                (
                    &format!("{t}, {rate} ev/s to {n} clients: {what}"),
                    &format!("{t} {label} vs {vs}"),
                ),
                metric,
                false,
                "pushbench serve",
                (&ours, &theirs),
                vs,
                goal,
                method.clone(),
            ));
        }
    }
    out
}

/// The rate the publisher's ceiling is measured at: far above any rate the
/// searches try and any one connection's round trips allow, so the
/// publisher sends back to back and what the server accepts is its limit.
pub fn ceiling_rate(policy: &SearchPolicy) -> f64 {
    (policy.max_rate * 2.0).max(100_000.0)
}

/// How the run was measured, a paragraph each, for `servers.json` and
/// `servers.md`.
pub fn method_text(settings: &ServersSettings, ceiling_asked: f64) -> Vec<String> {
    let s = settings;
    let mut text = vec![
        format!(
            "Every server gets the same load: {} clients of each technique it offers, {}-byte \
             payloads, {} s measured after a {} s warm-up (the clients connect over {} s \
             before it). `pushbench serve` is started as `pushbench run` starts it: a child \
             process per rate whose own generator creates the events. Every other server is \
             started by its start script (`scripts/targets/<kind>/start`) and published into \
             by the load generator over HTTP: one publish request per event, on one kept-alive \
             connection, each waiting for its answer before the next, stamped with the time it \
             was due. Its CPU and memory are read from /proc, for the process tree rooted at \
             the pid its script printed. The publisher's bytes are counted apart from the \
             clients' and are not in the bytes per event.",
            s.clients, s.payload, s.duration_s, s.warmup_s, RAMP_UP_S
        ),
        format!(
            "The publisher's ceiling: into each other server, with one client subscribed, the \
             load generator was asked for {ceiling_asked} ev/s; what the server accepted per \
             second is the most the publisher can offer any phase (less with many clients, \
             when the server is busier). A capacity whose first failing rate, or a common \
             load whose rate, is at least {:.0} % of that ceiling is marked publisher-bound: \
             there the publisher, not the server, may be the limit.",
            pushbench_protocol::server_results::PUBLISHER_BOUND_FRACTION * 100.0
        ),
        "Order: techniques in the order short-poll, long-poll, stream, sse, ws; for the i-th \
         technique the servers' capacity searches run in the list's order rotated by i, the \
         common-load phases in the reverse of that order, rotated by one more each round, \
         so no server always runs first on a machine the one before has warmed."
            .to_owned(),
    ];
    if s.capacity {
        text.push(format!(
            "Capacity: per technique and server, rates doubling from {} ev/s (at most {}), \
             then {} bisection steps; a rate is sustained when nothing is missed, duplicated, \
             reordered or failed, at least 98 % of the window's events are delivered within \
             it, and p99 < {} ms (short polling adds its poll interval). `pushbench serve` is \
             started afresh for every step (its rate is a flag); another server is started \
             once per search and serves every step, published into at each step's rate.",
            s.start_rate, s.max_rate, s.refine_steps, s.max_p99_ms
        ));
    }
    text.push(match s.rate {
        Some(rate) => format!("Common load: {rate} ev/s (--rate), {} round(s).", s.rounds),
        None if s.capacity => format!(
            "Common load: per technique, {:.0} % of the lowest highest-sustained rate among \
             its servers, so every server is measured at a load all of them held; {} round(s), \
             medians compared.",
            COMMON_FRACTION * 100.0,
            s.rounds
        ),
        None => format!(
            "Common load: {DEFAULT_COMMON_RATE} ev/s (no capacity search ran), {} round(s).",
            s.rounds
        ),
    });
    text
}

/// Runs the comparison; a server that cannot start, or a run that fails,
/// is recorded (skipped, or an error beside what was measured) and the
/// rest go on. Each run is handed to `hooks.run_done` as it finishes.
pub async fn run_servers(
    opts: ServersOptions,
    hooks: &mut ServersHooks<'_>,
) -> Result<ServersResult> {
    let settings = ServersSettings {
        transports: opts.transports.clone(),
        clients: opts.clients,
        payload: opts.payload,
        duration_s: opts.duration_s,
        warmup_s: WARMUP_S,
        rate: opts.rate,
        rounds: opts.rounds.max(1),
        capacity: opts.capacity,
        max_p99_ms: opts.max_p99_ms,
        start_rate: opts.policy.start_rate,
        max_rate: opts.policy.max_rate,
        refine_steps: opts.policy.refine_steps,
    };
    let method = method_text(&settings, ceiling_rate(&opts.policy));
    let mut run = ServersRun {
        opts: &opts,
        hooks,
        ceilings: Vec::new(),
        result: ServersResult {
            version: SERVERS_VERSION,
            pushbench_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: machine::now_rfc3339(),
            finished_at: String::new(),
            complete: true,
            error: None,
            machine: machine::this_machine(),
            settings,
            servers: Vec::new(),
            techniques: Vec::new(),
            comparisons: Vec::new(),
            order: Vec::new(),
            method,
        },
    };
    run.list_servers();
    run.ceilings().await;
    let mut index = 0;
    for t in Transport::ALL
        .into_iter()
        .filter(|t| opts.transports.contains(t))
    {
        if run.stopped() {
            break;
        }
        if run.technique(index, t).await {
            index += 1;
        }
    }
    if run.stopped() {
        run.result.complete = false;
        run.result
            .error
            .get_or_insert_with(|| "interrupted".to_owned());
    }
    run.result.finished_at = machine::now_rfc3339();
    Ok(run.result)
}

/// A server started for one run: where the runner finds it.
#[derive(Debug)]
struct Launched {
    scenario: Scenario,
    source: ServerSource,
    pid: Option<u32>,
    process: Option<KindProcess>,
}

impl Launched {
    async fn stop(self) {
        if let Some(p) = self.process {
            p.stop().await;
        }
    }
}

/// The state of a run in progress.
struct ServersRun<'o, 'h> {
    opts: &'o ServersOptions,
    hooks: &'o mut ServersHooks<'h>,
    ceilings: Vec<(TargetKind, PublisherCeiling)>,
    result: ServersResult,
}

impl ServersRun<'_, '_> {
    fn stopped(&self) -> bool {
        self.opts.interrupt.as_ref().is_some_and(|rx| *rx.borrow())
    }

    fn note(&mut self, line: &str) {
        (self.hooks.note)(line);
    }

    fn done(&mut self, name: &str, outcome: RunOutcome) {
        self.result.order.push(name.to_owned());
        (self.hooks.run_done)(name, outcome);
    }

    fn skip(&mut self, kind: TargetKind, why: String) {
        self.note(&format!("servers: {} skipped: {why}", kind.title()));
        if let Some(s) = self.result.servers.iter_mut().find(|s| s.kind == kind) {
            s.skipped = Some(why);
        }
    }

    /// The servers' entries; a kind without its start script, or offering
    /// none of the techniques asked, is skipped with the reason.
    fn list_servers(&mut self) {
        self.result.servers.push(ServerEntry {
            kind: TargetKind::Pushbench,
            title: TargetKind::Pushbench.title().to_owned(),
            start: "pushbench serve (a child per rate)".to_owned(),
            skipped: None,
            publisher_ceiling: None,
        });
        let opts = self.opts;
        for (kind, script) in &opts.kinds {
            self.result.servers.push(ServerEntry {
                kind: *kind,
                title: kind.title().to_owned(),
                start: format!("{} --addr 127.0.0.1:0", script.display()),
                skipped: None,
                publisher_ceiling: None,
            });
            if !script.is_file() {
                self.skip(*kind, format!("no start script at {}", script.display()));
            } else if !opts.transports.iter().any(|t| kind.offers_transport(*t)) {
                let offered: Vec<&str> = kind.offers().iter().map(|t| t.name()).collect();
                self.skip(
                    *kind,
                    format!(
                        "offers none of the techniques asked (it offers {})",
                        offered.join(", ")
                    ),
                );
            }
        }
    }

    /// The servers still measured, pushbench's own first.
    fn measured(&self) -> Vec<TargetKind> {
        self.result
            .servers
            .iter()
            .filter(|s| s.skipped.is_none())
            .map(|s| s.kind)
            .collect()
    }

    fn ceiling_of(&self, kind: TargetKind) -> Option<&PublisherCeiling> {
        self.ceilings
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| c)
    }

    /// The phases' shape for `transport` at `clients`.
    fn scenario(&self, transport: Transport, clients: u32, rate: f64) -> Scenario {
        Scenario {
            transports: vec![transport],
            clients: vec![clients],
            rates: vec![rate],
            payload: self.opts.payload,
            duration_s: self.opts.duration_s,
            warmup_s: WARMUP_S,
            ramp_up_s: RAMP_UP_S,
            ..Scenario::default()
        }
    }

    /// Starts `kind` for one run of `scenario` (`pushbench serve` is
    /// started by the runner itself, per rate).
    async fn launch(&self, kind: TargetKind, scenario: Scenario) -> Result<Launched> {
        if kind.is_pushbench() {
            return Ok(Launched {
                scenario,
                source: ServerSource::Child {
                    exe: self.opts.pushbench_exe.clone(),
                    extra_args: Vec::new(),
                },
                pid: None,
                process: None,
            });
        }
        let script = self
            .opts
            .kinds
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| Error::Scenario(format!("no start script for {kind}")))?;
        let process = KindProcess::start(kind, &script).await?;
        Ok(Launched {
            scenario: Scenario {
                target: Some(process.url.clone()),
                target_kind: kind,
                ..scenario
            },
            source: ServerSource::Target(process.url.clone()),
            pid: Some(process.pid),
            process: Some(process),
        })
    }

    /// One `pushbench run` of `scenario` against a fresh `kind` server.
    async fn run_once(&mut self, kind: TargetKind, scenario: Scenario) -> Result<RunOutcome> {
        let launched = self.launch(kind, scenario).await?;
        let run = run_scenario(
            RunOptions {
                scenario: launched.scenario.clone(),
                source: launched.source.clone(),
                interrupt: self.opts.interrupt.clone(),
                outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                emulated: None,
                target_pid: launched.pid,
            },
            &mut *self.hooks.progress,
        )
        .await;
        launched.stop().await;
        run
    }

    /// The publisher's ceiling into every other server; a server whose
    /// start script fails here is skipped.
    async fn ceilings(&mut self) {
        let asked = ceiling_rate(&self.opts.policy);
        for kind in self.measured() {
            if kind.is_pushbench() || self.stopped() {
                continue;
            }
            let Some(&transport) = Transport::ALL
                .iter()
                .find(|t| self.opts.transports.contains(t) && kind.offers_transport(**t))
            else {
                continue;
            };
            let name = format!("ceiling-{kind}");
            self.note(&format!(
                "servers: the publisher's ceiling into {}: {asked} ev/s asked, 1 {transport} client",
                kind.title()
            ));
            let run = self
                .run_once(kind, self.scenario(transport, 1, asked))
                .await;
            match run {
                Err(e @ Error::ServerDied(_)) | Err(e @ Error::Io { .. }) => {
                    self.skip(kind, format!("did not start: {e}"));
                }
                Err(e) => self.skip(kind, format!("the publisher's ceiling: {e}")),
                Ok(outcome) => {
                    let ceiling = outcome.result.phases.first().map(|p| PublisherCeiling {
                        events_per_second: p.events.published as f64 / p.duration_s.max(1e-9),
                        asked_rate: asked,
                        transport,
                        run: name.clone(),
                    });
                    if let Some(c) = ceiling {
                        self.note(&format!(
                            "servers: the publisher reached {:.0} ev/s into {}",
                            c.events_per_second,
                            kind.title()
                        ));
                        if let Some(s) = self.result.servers.iter_mut().find(|s| s.kind == kind) {
                            s.publisher_ceiling = Some(c.clone());
                        }
                        self.ceilings.push((kind, c));
                    }
                    self.done(&name, outcome);
                }
            }
        }
    }

    /// Everything of one technique; false when no server offers it.
    async fn technique(&mut self, index: usize, transport: Transport) -> bool {
        let order = capacity_order(&self.measured(), transport, index);
        if order.is_empty() {
            return false;
        }
        let mut tech = TechniqueResult {
            transport,
            common_rate: None,
            common_rate_source: String::new(),
            servers: order.iter().map(|k| ServerMeasure::new(*k)).collect(),
        };
        if self.opts.capacity {
            for (i, &kind) in order.iter().enumerate() {
                if self.stopped() {
                    break;
                }
                match self.capacity(kind, transport).await {
                    Ok(figure) => tech.servers[i].capacity = figure,
                    Err(e) => tech.servers[i].errors.push(format!("capacity search: {e}")),
                }
            }
        }
        let sustained: Vec<f64> = tech
            .servers
            .iter()
            .filter_map(|s| s.capacity.as_ref()?.max_rate)
            .collect();
        let (rate, source) = common_rate(self.opts.rate, self.opts.capacity, &sustained);
        tech.common_rate = rate;
        tech.common_rate_source = source;
        let mut rounds: Vec<(TargetKind, Vec<Round>)> =
            order.iter().map(|k| (*k, Vec::new())).collect();
        if let Some(rate) = rate {
            let total = self.opts.rounds.max(1);
            'rounds: for round in 0..total {
                for kind in common_order(&order, round) {
                    if self.stopped() {
                        break 'rounds;
                    }
                    let measured = self.common(kind, transport, rate, (round, total)).await;
                    let i = order.iter().position(|k| *k == kind).unwrap_or_default();
                    match measured {
                        Ok(r) => rounds[i].1.push(r),
                        Err(e) => tech.servers[i].errors.push(format!("common load: {e}")),
                    }
                }
            }
        }
        let criteria = default_criteria(
            transport,
            self.opts.max_p99_ms,
            Scenario::default().poll_interval_ms,
            self.opts.duration_s,
        );
        for (i, (kind, r)) in rounds.iter().enumerate() {
            tech.servers[i].common = common_load(r, &criteria, self.ceiling_of(*kind));
        }
        self.result.comparisons.extend(technique_comparisons(
            &tech,
            &rounds,
            &self.result.settings,
            &self.ceilings,
        ));
        self.result.techniques.push(tech);
        true
    }

    /// The capacity search of `kind` for `transport`.
    async fn capacity(
        &mut self,
        kind: TargetKind,
        transport: Transport,
    ) -> Result<Option<CapacityFigure>> {
        let name = format!("capacity-{transport}-{kind}");
        self.note(&format!(
            "servers: {transport} capacity search against {}",
            kind.title()
        ));
        let base = self.scenario(transport, self.opts.clients, self.opts.policy.start_rate);
        let launched = self.launch(kind, base).await?;
        let title = kind.title();
        let note = &mut *self.hooks.note;
        let run = find_capacity(
            CapacityOptions {
                scenario: launched.scenario.clone(),
                source: launched.source.clone(),
                policy: self.opts.policy.clone(),
                criteria: None,
                max_p99_ms: self.opts.max_p99_ms,
                load_points: Vec::new(),
                load_point_duration_s: self.opts.duration_s,
                interrupt: self.opts.interrupt.clone(),
                emulated: None,
                target_pid: launched.pid,
            },
            &mut *self.hooks.progress,
            &mut |s| {
                note(&format!(
                    "servers: {title} {transport} @ {} ev/s x {}: {:.0} deliveries/s, p99 {:.1} ms{}",
                    s.phase.rate,
                    s.phase.clients,
                    s.phase.derived.events_per_second,
                    s.phase.latency_us.p99 as f64 / 1e3,
                    if s.failed.is_empty() {
                        ", held".to_owned()
                    } else {
                        format!(", not sustained: {}", s.failed.join("; "))
                    }
                ))
            },
        )
        .await;
        launched.stop().await;
        let run = run?;
        let figure = capacity_figure(&run, &name, self.ceiling_of(kind));
        let stopped_early =
            (!run.result.complete).then(|| run.result.error.clone().unwrap_or_default());
        self.done(&name, run);
        match stopped_early {
            Some(why) if figure.as_ref().is_none_or(|f| f.max_rate.is_none()) => {
                Err(Error::Scenario(format!("stopped: {why} (see {name}/)")))
            }
            _ => Ok(figure),
        }
    }

    /// One common-load round of `kind` (`round` of `total`).
    async fn common(
        &mut self,
        kind: TargetKind,
        transport: Transport,
        rate: f64,
        (round, total): (u32, u32),
    ) -> Result<Round> {
        let name = if total > 1 {
            format!("common-{transport}-{kind}-{}", round + 1)
        } else {
            format!("common-{transport}-{kind}")
        };
        self.note(&format!(
            "servers: {transport} at {rate} ev/s x {} against {} ({name})",
            self.opts.clients,
            kind.title()
        ));
        let outcome = self
            .run_once(kind, self.scenario(transport, self.opts.clients, rate))
            .await?;
        let phase = outcome.result.phases.first().cloned();
        let publish = outcome.result.publish_traffic.clone();
        let why = outcome.result.error.clone().unwrap_or_default();
        self.done(&name, outcome);
        let phase = phase
            .ok_or_else(|| Error::Scenario(format!("{name}: the phase measured nothing: {why}")))?;
        Ok(Round {
            phase,
            publish,
            run: name,
        })
    }
}
