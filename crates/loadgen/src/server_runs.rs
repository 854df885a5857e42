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
//! warmed by the one before. Deciding the order, the common rate and the
//! figures are plain functions of the phases' results
//! ([`crate::server_figures`]); [`run_servers`] runs the phases.

use std::path::PathBuf;

use pushbench_protocol::server_results::{
    CapacityFigure, PublisherCeiling, SERVERS_VERSION, ServerEntry, ServerMeasure, ServersResult,
    ServersSettings, TechniqueResult,
};
use pushbench_protocol::{Scenario, TargetKind, Transport};
use tokio::sync::watch;

use crate::capacity_search::{CapacityOptions, SearchPolicy, default_criteria, find_capacity};
use crate::kind_process::KindProcess;
use crate::phase::Progress;
use crate::runner::{RunOptions, RunOutcome, run_scenario};
use crate::server_figures::{
    RAMP_UP_S, Round, WARMUP_S, capacity_figure, capacity_order, ceiling_rate, common_load,
    common_order, common_rate, method_text, technique_comparisons,
};
use crate::target::ServerSource;
use crate::{Error, Result, machine};

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
        let publish = outcome.result.publish_traffic;
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
