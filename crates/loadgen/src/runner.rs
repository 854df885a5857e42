//! The scenario runner: phases, and the collector that merges them into a
//! [`RunResult`].
//!
//! One phase measures one transport at one client count and event rate, in
//! one [`PhaseVariant`] (request header profile, plaintext or TLS, HTTP
//! version, content coding) over one link (the outermost loop: its path's
//! server side is where the server starts); [`crate::phase`] runs it. The
//! runner starts the server once per link and rate, runs every phase of the scenario in order
//! against it, and keeps what each measured (a failure mid-run ends the
//! run with what was measured so far). A running `--target` has one rate
//! of its own: the runner measures it once, and the phases record the
//! rate the target really published ([`crate::phase_rate`]).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use pushbench_net::network_path::NetworkPath;
use pushbench_protocol::results::{ClockEstimate, ShardInfo};
use pushbench_protocol::{
    ContentCoding, HeaderProfile, HttpVersion, LinkProfile, RESULTS_VERSION, RunResult, Scenario,
    Traffic, Transport,
};
use tokio::sync::watch;

use crate::clock_offset::{self, CLOCK_SAMPLES};
use crate::control_client::ControlClient;
use crate::meter::ConnectionTotals;
use crate::observed_target::ObservedTarget;
use crate::path_sides::PathSides;
use crate::phase::{PhaseSpec, Progress, run_phase};
use crate::phase_rate::PhaseRate;
use crate::request_headers::RequestProfile;
use crate::shard::{PhaseSchedule, PhaseShard, ShardPlan};
use crate::target::{ServerHandle, ServerSource};
use crate::{Error, Result, machine, scenario};

/// What to run and how.
#[derive(Debug)]
pub struct RunOptions {
    /// The scenario.
    pub scenario: Scenario,
    /// Where the server comes from.
    pub source: ServerSource,
    /// Turns true to interrupt the run (Ctrl-C); what was measured is kept.
    pub interrupt: Option<watch::Receiver<bool>>,
    /// How long the server may be unreachable before the run gives up
    /// (see [`ServerHandle::outage_grace`](crate::target::ServerHandle::outage_grace)).
    pub outage_grace: Duration,
    /// The emulated path the scenario's links other than `loopback` run
    /// over, reconfigured per link (the CLI opens it); `None`: only
    /// `loopback` can run. A `loopback` link always runs over the kernel's
    /// loopback, a path of its own, even in a sweep with emulated links.
    pub emulated: Option<Arc<dyn NetworkPath>>,
    /// The root of a `--target` of another kind's process tree, whose CPU
    /// and memory are its cost (`--target-pid`); `None` finds the process
    /// listening on the target's port.
    pub target_pid: Option<u32>,
}

/// What a run produced: the result (maybe incomplete) and each phase's histogram.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run's result; `complete == false` and `error` set when it stopped early.
    pub result: RunResult,
    /// The latency histogram of each phase, in `result.phases` order.
    pub histograms: Vec<Histogram<u64>>,
    /// Every TCP connection the run made, measured clients and control
    /// calls alike: the wire log (`--wire-log`).
    pub connections: Vec<ConnectionRecord>,
}

/// One TCP connection of a run, as the wire log writes it (one JSON line
/// each): enough to find it in a packet capture by its local port and to
/// compare the capture's bytes and packets with what the socket counted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionRecord {
    /// Phase number, from 1, in `results.json` order; 0 for control calls.
    pub phase: usize,
    /// The transport's name, or `control` for the runner's own calls.
    pub kind: String,

    /// The client's address.
    pub local: std::net::SocketAddr,
    /// The server's address.
    pub server: std::net::SocketAddr,
    /// Bytes written to the socket (client to server).
    pub socket_sent: u64,
    /// Bytes read from the socket (server to client).
    pub socket_received: u64,
    /// The connection's sent bytes as the classifier booked them, every
    /// class added up: `socket_sent` when each byte was booked once.
    pub classes_sent: u64,
    /// The same for the received bytes (`socket_received`).
    pub classes_received: u64,
    /// The setup part of `socket_sent` (first request or upgrade).
    pub setup_sent: u64,
    /// The setup part of `socket_received` (first response head).
    pub setup_received: u64,
    /// `tcpi_segs_out` just before the client closed (teardown excluded).
    pub segs_out: Option<u64>,
    /// `tcpi_segs_in` just before the client closed (teardown excluded).
    pub segs_in: Option<u64>,
    /// IP + TCP header bytes of `segs_out` (the `tcp_ip` class, sent).
    pub tcp_ip_sent: u64,
    /// IP + TCP header bytes of `segs_in` (the `tcp_ip` class, received).
    pub tcp_ip_received: u64,
    /// A client connection's bytes by class, the whole connection (setup
    /// and teardown included): each direction's classes add up to its
    /// socket count. Absent for control calls (every byte `control`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

impl ConnectionRecord {
    /// The record of a measured client connection of phase `phase`.
    pub fn client(
        phase: usize,
        transport: Transport,
        local: std::net::SocketAddr,
        server: std::net::SocketAddr,
        totals: &ConnectionTotals,
    ) -> Self {
        ConnectionRecord {
            phase,
            kind: transport.name().to_owned(),
            local,
            server,
            socket_sent: totals.socket_sent,
            socket_received: totals.socket_received,
            classes_sent: totals.traffic.sent.total(),
            classes_received: totals.traffic.received.total(),
            setup_sent: totals.setup.sent.total(),
            setup_received: totals.setup.received.total(),
            segs_out: totals.segments.map(|s| s.client.out),
            segs_in: totals.segments.map(|s| s.client.r#in),
            tcp_ip_sent: totals.traffic.sent.tcp_ip,
            tcp_ip_received: totals.traffic.received.tcp_ip,
            traffic: Some(totals.traffic),
        }
    }

    fn control(c: &crate::control_client::ControlConnection, server: std::net::SocketAddr) -> Self {
        ConnectionRecord {
            phase: 0,
            kind: "control".to_owned(),
            local: c.local,
            server,
            socket_sent: c.sent,
            socket_received: c.received,
            // Every byte of a control connection is `control`.
            classes_sent: c.sent,
            classes_received: c.received,
            setup_sent: 0,
            setup_received: 0,
            segs_out: None,
            segs_in: None,
            tcp_ip_sent: 0,
            tcp_ip_received: 0,
            traffic: None,
        }
    }
}

/// Open files a scenario needs in this process: one per client plus a
/// margin for control connections, the runtime and stdio; twice the clients
/// when the server runs in-process (both ends of every connection).
pub fn files_needed(scenario: &Scenario, in_process: bool) -> u64 {
    let clients = u64::from(scenario.clients.iter().copied().max().unwrap_or(0));
    clients * if in_process { 2 } else { 1 } + 64
}

/// The scenario rates the runner starts a server for: every one, or only
/// the first against a running target, which publishes at its own rate
/// whatever the scenario asks (a sweep would measure the same thing again).
fn server_rates<'a>(s: &'a Scenario, source: &ServerSource) -> &'a [f64] {
    match source {
        // A server of another kind is published into at each rate.
        ServerSource::Target(_) if s.target_kind.is_pushbench() => &s.rates[..s.rates.len().min(1)],
        _ => &s.rates,
    }
}

/// The rate the phases against a server record: the scenario's `rate` for
/// a server this run started; for a running target, what its `/stats`
/// says (its generator's rate, or measured per window).
async fn phase_rate(
    source: &ServerSource,
    control: &ControlClient,
    rate: f64,
) -> Result<PhaseRate> {
    if control.observed().is_some() {
        // The load generator publishes into it at the scenario's rate.
        return Ok(PhaseRate::scenario(rate));
    }
    match source {
        ServerSource::Target(url) => {
            let stats = control.stats(false).await?;
            let rate = PhaseRate::of_target(stats.generator.as_ref());
            match rate {
                PhaseRate::Measured => tracing::info!(
                    "{url} has no generator of its own: each phase records the measured publish rate of its window"
                ),
                PhaseRate::Known { rate, .. } => {
                    tracing::info!("{url} publishes {rate} ev/s (its /stats generator)")
                }
            }
            Ok(rate)
        }
        _ => Ok(PhaseRate::scenario(rate)),
    }
}

/// The runner's control client for `server`: `/stats` for pushbench's
/// own server; for another kind, after the probe that it is that kind, an
/// [`ObservedTarget`] publishing into it (processes rooted at `pid`).
async fn control_for(
    s: &Scenario,
    server: &ServerHandle,
    pid: Option<u32>,
) -> Result<ControlClient> {
    let kind = s.target_kind;
    if kind.is_pushbench() {
        return Ok(ControlClient::new(server.control_addr));
    }
    // The client that probed goes on observing, so the probe's connection
    // is counted (and logged) with the other control connections.
    let control = ControlClient::new(server.control_addr);
    control.probe(kind).await?;
    let observed = ObservedTarget::new(kind, server.control_addr, pid, s);
    Ok(control.observing(Arc::new(observed)))
}

/// How far ahead `--start-at` may be: a day, so a mistyped date fails at
/// once instead of sleeping for years.
const MAX_START_AHEAD_US: u64 = 86_400_000_000;

/// A shard's clock estimate against the server of `control`, and its
/// schedule on this clock (the plan's start is the server's clock).
async fn shard_clock(
    control: &ControlClient,
    plan: &ShardPlan,
    s: &Scenario,
) -> Result<(ClockEstimate, PhaseSchedule)> {
    let mut samples = Vec::new();
    for _ in 0..CLOCK_SAMPLES {
        samples.push(control.time_sample().await?);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let estimate = clock_offset::estimate(&samples).ok_or_else(|| Error::Server {
        url: format!("http://{}", control.addr()),
        message: "no /time sample".to_owned(),
    })?;
    tracing::info!(
        "shard {}: clock offset to the server {} µs ± {} µs ({} samples)",
        plan.segment,
        estimate.offset_us,
        estimate.uncertainty_us,
        estimate.samples
    );
    let local_start = plan.start_at_us.saturating_add_signed(-estimate.offset_us);
    let now = pushbench_protocol::event::now_us();
    if local_start > now.saturating_add(MAX_START_AHEAD_US) {
        return Err(Error::Scenario(format!(
            "--start-at {} is more than a day ahead (on the server's clock): give the time of this run",
            crate::shard::rfc3339_us(plan.start_at_us)
        )));
    }
    if local_start < now {
        return Err(Error::Scenario(format!(
            "--start-at {} has passed (on the server's clock): give a time in the future",
            crate::shard::rfc3339_us(plan.start_at_us)
        )));
    }
    Ok((estimate, PhaseSchedule::new(s, local_start)))
}

fn phases_of(s: &Scenario, rates: usize) -> usize {
    let per_load: usize = s
        .coding
        .iter()
        .flat_map(|&coding| s.keep_alive.iter().map(move |&k| (coding, k)))
        .map(|(coding, keep_alive)| {
            s.transports
                .iter()
                .filter(|&&t| {
                    scenario::coding_applies(t, coding)
                        && scenario::keep_alive_applies(s, t, keep_alive)
                })
                .count()
        })
        .sum();
    per_load * s.clients.len() * rates * s.headers.len() * s.tls.len() * s.http.len() * s.link.len()
}

/// The path `link` runs over: the kernel's loopback for `loopback`,
/// otherwise `emulated` configured for it.
pub fn path_for(link: &LinkProfile, emulated: Option<&Arc<dyn NetworkPath>>) -> Result<PathSides> {
    if link.is_loopback() {
        return Ok(PathSides::default());
    }
    let path = emulated.ok_or_else(|| {
        Error::Scenario(format!(
            "link {}: needs the link emulator, which this run was not given",
            link.label()
        ))
    })?;
    path.configure(link)
        .map_err(|e| Error::io(format!("configuring link {}", link.label()), e))?;
    Ok(PathSides::new(Arc::clone(path)))
}

/// What a phase varies besides its transport and load: the request header
/// profile, TLS, keep-alive, the HTTP version and the content coding. Every
/// combination of the scenario's `headers`, `tls`, `keep_alive`, `http` and
/// `coding` is one variant, and each variant runs every transport, so one more such
/// dimension is one more field here, not one more loop. The link is not
/// one of them: it is the outermost loop, since the server is started at
/// its path's server side (once per link and rate).
#[derive(Clone, Debug)]
pub struct PhaseVariant {
    /// The header profile as the scenario named it.
    pub headers: HeaderProfile,
    /// The same, resolved (a header file read).
    pub request: RequestProfile,
    /// Whether the clients speak TLS.
    pub tls: bool,
    /// Whether polling clients keep their connection between requests.
    pub keep_alive: bool,
    /// The HTTP version they speak.
    pub http: HttpVersion,
    /// The content coding they ask for.
    pub coding: ContentCoding,
}

/// The variants of `s` in run order: header profiles, within each TLS
/// (as the scenario lists it), within that keep-alive, the HTTP versions, and
/// innermost the content codings.
pub fn phase_variants(s: &Scenario) -> Result<Vec<PhaseVariant>> {
    let profiles = request_profiles(s)?;
    let mut variants = Vec::new();
    for (headers, request) in profiles {
        for &tls in &s.tls {
            for &keep_alive in &s.keep_alive {
                for &http in &s.http {
                    for &coding in &s.coding {
                        variants.push(PhaseVariant {
                            headers: headers.clone(),
                            request: request.clone(),
                            tls,
                            keep_alive,
                            http,
                            coding,
                        });
                    }
                }
            }
        }
    }
    Ok(variants)
}

/// Every request header profile of `s`, resolved (header files read and
/// checked) before the first phase, so a bad file fails the run at once.
pub fn request_profiles(s: &Scenario) -> Result<Vec<(HeaderProfile, RequestProfile)>> {
    s.headers
        .iter()
        .map(|p| {
            RequestProfile::resolve(p)
                .map(|r| (p.clone(), r))
                .map_err(|e| Error::Scenario(format!("headers: {e}")))
        })
        .collect()
}

/// Runs a whole scenario. Errors only on an invalid scenario or a server
/// that cannot be started; a failure mid-run ends in a result with
/// `complete: false`.
pub async fn run_scenario(
    opts: RunOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    run_shard(opts, None, progress).await
}

/// Runs a scenario as one shard of several (`shard`; `None` is
/// [`run_scenario`]): only the shard's slice of every phase's clients,
/// each phase on the shared schedule, latencies on the server's clock
/// (see [`crate::shard`]). A shard measures a running `--target` only, and
/// changes nothing on it (it reads `/stats` and `/time`), so N shards
/// leave the server as one generator would.
pub async fn run_shard(
    mut opts: RunOptions,
    shard: Option<ShardPlan>,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    scenario::validate(&opts.scenario)?;
    if shard.is_some() && !opts.scenario.target_kind.is_pushbench() {
        return Err(Error::Scenario(format!(
            "a shard (--segment) measures pushbench's own server; a {} target is published \
             into by its one load generator",
            opts.scenario.target_kind
        )));
    }
    if shard.is_some() && !matches!(opts.source, ServerSource::Target(_)) {
        return Err(Error::Scenario(
            "a shard (--segment) measures a running server: give its --target URL".to_owned(),
        ));
    }
    let variants = phase_variants(&opts.scenario)?;
    // A bad response header file fails here, not in the child server.
    opts.scenario
        .response_headers
        .response_lines()
        .map_err(|e| Error::Scenario(format!("response_headers: {e}")))?;
    let scenario = opts.scenario.clone();
    let started_at = machine::now_rfc3339();
    let mut phases = Vec::new();
    let mut histograms = Vec::new();
    let mut wire_log = Vec::new();
    let mut control_traffic = Traffic::default();
    let mut publish_traffic = Traffic::default();
    let mut error = None;
    let rates = server_rates(&scenario, &opts.source);
    if rates.len() < scenario.rates.len() {
        tracing::warn!(
            "the rate sweep ({:?} ev/s) does not apply to a --target, which publishes at its own rate: running once",
            scenario.rates
        );
    }
    let total = phases_of(&scenario, rates.len());
    let mut index = 0;
    let mut clock = None;
    let mut schedule: Option<PhaseSchedule> = None;
    'links: for link in &scenario.link {
        let path = match path_for(link, opts.emulated.as_ref()) {
            Ok(path) => path,
            Err(e) if phases.is_empty() => return Err(e),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        };
        for &rate in rates {
            let mut server = match opts.source.start(&scenario, rate, &path).await {
                Ok(mut s) => {
                    s.outage_grace = opts.outage_grace;
                    s
                }
                Err(e) if phases.is_empty() => return Err(e),
                Err(e) => {
                    error = Some(e.to_string());
                    break 'links;
                }
            };
            let ready = async {
                let control = control_for(&scenario, &server, opts.target_pid).await?;
                let rate = phase_rate(&opts.source, &control, rate).await?;
                Ok::<_, Error>((control, rate))
            };
            let (controls, rate) = match ready.await {
                Ok((control, rate)) => {
                    // One more control client per node of a `--target`
                    // list: each node's own `/stats`.
                    let more = server.more_nodes.iter();
                    let more = more.map(|node| ControlClient::new(node.control_addr));
                    (
                        std::iter::once(control).chain(more).collect::<Vec<_>>(),
                        rate,
                    )
                }
                Err(e) => {
                    server.stop().await;
                    if phases.is_empty() {
                        return Err(e);
                    }
                    error = Some(e.to_string());
                    break 'links;
                }
            };
            if let Some(plan) = &shard
                && schedule.is_none()
            {
                match shard_clock(&controls[0], plan, &scenario).await {
                    Ok((estimate, plan_schedule)) => {
                        clock = Some(estimate);
                        schedule = Some(plan_schedule);
                    }
                    Err(e) => {
                        server.stop().await;
                        return Err(e);
                    }
                }
            }
            'phases: for &clients in &scenario.clients {
                for variant in &variants {
                    for &transport in &scenario.transports {
                        if !scenario::coding_applies(transport, variant.coding)
                            || !scenario::keep_alive_applies(
                                &scenario,
                                transport,
                                variant.keep_alive,
                            )
                        {
                            continue;
                        }
                        let keep_alive = scenario::phase_keep_alive(transport, variant.keep_alive);
                        index += 1;
                        let label = Progress {
                            phase: index,
                            phases: total,
                            transport,
                            clients,
                            rate,
                            headers: variant.headers.clone(),
                            tls: variant.tls,
                            keep_alive,
                            http: variant.http,
                            h2_streams: scenario::h2_streams(&scenario, variant.http),
                            coding: variant.coding,
                            link: link.label(),
                            stage: "connecting",
                            stage_elapsed_s: 0.0,
                            stage_length_s: 0.0,
                        };
                        match run_phase(
                            &scenario,
                            PhaseSpec {
                                transport,
                                clients,
                                rate,
                                headers: &variant.request,
                                tls: variant.tls,
                                keep_alive,
                                http: variant.http,
                                coding: variant.coding,
                                shard: shard.as_ref().zip(schedule.as_ref()).map(|(plan, at)| {
                                    PhaseShard {
                                        segment: plan.segment,
                                        times: at.phase(index - 1),
                                        clock_offset_us: clock
                                            .as_ref()
                                            .map_or(0, |c: &ClockEstimate| c.offset_us),
                                    }
                                }),
                            },
                            &mut server,
                            &controls,
                            opts.interrupt.as_mut(),
                            &label,
                            progress,
                        )
                        .await
                        {
                            Ok(outcome) => {
                                let number = phases.len() + 1;
                                wire_log.extend(outcome.connections.iter().map(|c| {
                                    ConnectionRecord::client(
                                        number, transport, c.local, c.server, &c.totals,
                                    )
                                }));
                                phases.push(outcome.result);
                                histograms.push(outcome.latency);
                                if let Some(e) = outcome.stopped {
                                    error = Some(e.to_string());
                                    break 'phases;
                                }
                            }
                            Err(e) => {
                                error = Some(e.to_string());
                                break 'phases;
                            }
                        }
                    }
                }
            }
            for control in &controls {
                control_traffic.merge(&control.traffic());
                publish_traffic.merge(&control.publish_traffic());
                wire_log.extend(
                    control
                        .connections()
                        .iter()
                        .map(|c| ConnectionRecord::control(c, control.addr())),
                );
            }
            server.stop().await;
            if error.is_some() {
                break 'links;
            }
        }
    }
    let result = RunResult {
        version: RESULTS_VERSION,
        pushbench_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        finished_at: machine::now_rfc3339(),
        complete: error.is_none(),
        error,
        machine: machine::this_machine(),
        scenario,
        phases,
        control_traffic,
        publish_traffic,
        capacity: None,
        shard: shard.map(|plan| ShardInfo {
            index: plan.segment.index,
            count: plan.segment.count,
            start_at: crate::shard::rfc3339_us(plan.start_at_us),
            commit: plan.commit,
        }),
        clock,
        merged: None,
    };
    Ok(RunOutcome {
        result,
        histograms,
        connections: wire_log,
    })
}
