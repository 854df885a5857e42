//! The scenario runner: phases, and the collector that merges them into a
//! [`RunResult`].
//!
//! One phase measures one transport at one client count and event rate, in
//! one [`PhaseVariant`] (request header profile, plaintext or TLS):
//!
//! 1. read `/stats`: the start cursor `C0` (its `last_seq`) and the idle RSS;
//! 2. connect the clients over the ramp-up, each asking for everything after
//!    `C0`, wait (up to [`CONNECT_GRACE`]) until every one has its first
//!    session, then let them warm up;
//! 3. the measured window: bytes, deliveries and latencies are recorded only
//!    while it is open; `/stats` is sampled about once a second for CPU and
//!    RSS (and to notice a dead server: a server unreachable for longer
//!    than its outage grace ends the run, a shorter outage is recorded in
//!    the phase's `outage` while the clients reconnect from their cursors);
//! 4. read `/stats` again: the end cursor `C1`; let the clients drain until
//!    each has caught up to `C1` (or the grace runs out), then stop them.
//!
//! `missed` is exact: each client must have received every seq in
//! `(C0, C1]`, whatever the window, so a server that skips seqs is caught
//! with the exact count. `delivered`, bytes and latency are the window's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pushbench_protocol::results::{
    Connections, Derived, EventCounts, LatencySummary, Outage, PhaseResult, ServerCost,
};
use pushbench_protocol::{
    ContentCoding, HeaderProfile, HttpVersion, RESULTS_VERSION, RunResult, Scenario, Traffic,
    Transport,
};
use tokio::sync::watch;

use crate::client::{ClientReport, ClientSpec, Schedule, run_client};
use crate::control_client::{ControlClient, Stats};
use crate::headers::RequestProfile;
use crate::meter::{ConnectionTotals, PhaseRecorder};
use crate::target::{ServerHandle, ServerSource};
use crate::{Error, Result, machine, scenario};

/// How long past the ramp-up a phase waits for its last clients to get
/// their first session before it warms up anyway (the ramp figures then
/// show who was late): 19,000 clients at once connect within 1 s here, and
/// a client that cannot connect must not hold the phase.
pub const CONNECT_GRACE: Duration = Duration::from_secs(10);

/// How often `/stats` is sampled during the window.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

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
    /// (see [`ServerHandle::outage_grace`]).
    pub outage_grace: Duration,
}

/// A progress report for the terminal.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Phase number, from 1.
    pub phase: usize,
    /// Phases in the run.
    pub phases: usize,
    /// The phase's transport.
    pub transport: Transport,
    /// Its clients.
    pub clients: u32,
    /// Its rate.
    pub rate: f64,
    /// Its request header profile.
    pub headers: HeaderProfile,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Its HTTP version.
    pub http: HttpVersion,
    /// HTTP/2: clients per connection (1 over HTTP/1.1).
    pub h2_streams: u32,
    /// The content coding its clients ask for.
    pub coding: ContentCoding,
    /// `connecting`, `warm-up`, `measuring`, `draining` or `done`.
    pub stage: &'static str,
    /// Seconds into the stage, and the stage's planned length.
    pub stage_elapsed_s: f64,
    /// The stage's planned length, seconds.
    pub stage_length_s: f64,
}

/// One phase's result with its raw data.
#[derive(Debug)]
pub struct PhaseOutcome {
    /// The summary written to `results.json`.
    pub result: PhaseResult,
    /// The merged latency histogram of the window.
    pub latency: Histogram<u64>,
    /// Every client connection: local address and what it carried.
    pub connections: Vec<(std::net::SocketAddr, ConnectionTotals)>,
    /// The phase's start cursor `C0`.
    pub start_cursor: u64,
    /// The phase's end cursor `C1`.
    pub end_cursor: u64,
    /// Why the phase was cut short (interrupted, server died); `result` then
    /// holds the partial measurements, marked `incomplete`.
    pub stopped: Option<Error>,
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
            setup_sent: totals.setup.sent.total(),
            setup_received: totals.setup.received.total(),
            segs_out: totals.segments.map(|s| s.out),
            segs_in: totals.segments.map(|s| s.r#in),
            tcp_ip_sent: totals.traffic.sent.tcp_ip,
            tcp_ip_received: totals.traffic.received.tcp_ip,
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
            setup_sent: 0,
            setup_received: 0,
            segs_out: None,
            segs_in: None,
            tcp_ip_sent: 0,
            tcp_ip_received: 0,
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

/// Clients per connection of a phase that speaks `http`: the scenario's
/// `h2_streams` over HTTP/2, 1 over HTTP/1.1.
pub fn h2_streams(s: &Scenario, http: HttpVersion) -> u32 {
    match http {
        HttpVersion::Http1 => 1,
        HttpVersion::Http2 => s.h2_streams.max(1),
    }
}

fn phases_of(s: &Scenario) -> usize {
    let per_load: usize = s
        .coding
        .iter()
        .map(|&coding| {
            s.transports
                .iter()
                .filter(|&&t| coding_applies(t, coding))
                .count()
        })
        .sum();
    per_load * s.clients.len() * s.rates.len() * s.headers.len() * s.tls.len() * s.http.len()
}

/// Whether a phase of `transport` at `coding` is measured: WebSocket
/// messages are never content-coded (permessage-deflate cannot be had on
/// this stack, see `docs/methodology.md`), so a sweep over codings
/// measures WebSocket at identity only, rather than label uncoded frames
/// `gzip`.
pub fn coding_applies(transport: Transport, coding: ContentCoding) -> bool {
    transport != Transport::Ws || coding == ContentCoding::Identity
}

/// What a phase varies besides its transport and load: the request header
/// profile, TLS, the HTTP version and the content coding. Every combination
/// of the scenario's `headers`, `tls`, `http` and `coding` is one variant, and each variant runs every transport, so one more such
/// dimension is one more field here, not one more loop.
#[derive(Clone, Debug)]
pub struct PhaseVariant {
    /// The header profile as the scenario named it.
    pub headers: HeaderProfile,
    /// The same, resolved (a header file read).
    pub request: RequestProfile,
    /// Whether the clients speak TLS.
    pub tls: bool,
    /// The HTTP version they speak.
    pub http: HttpVersion,
    /// The content coding they ask for.
    pub coding: ContentCoding,
}

/// The variants of `s` in run order: header profiles, within each TLS
/// (as the scenario lists it), within that the HTTP versions, and
/// innermost the content codings.
pub fn phase_variants(s: &Scenario) -> Result<Vec<PhaseVariant>> {
    let profiles = request_profiles(s)?;
    let mut variants = Vec::new();
    for (headers, request) in profiles {
        for &tls in &s.tls {
            for &http in &s.http {
                for &coding in &s.coding {
                    variants.push(PhaseVariant {
                        headers: headers.clone(),
                        request: request.clone(),
                        tls,
                        http,
                        coding,
                    });
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
    mut opts: RunOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    scenario::validate(&opts.scenario)?;
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
    let mut error = None;
    let total = phases_of(&scenario);
    let mut index = 0;
    for &rate in &scenario.rates {
        let mut server = match opts.source.start(&scenario, rate).await {
            Ok(mut s) => {
                s.outage_grace = opts.outage_grace;
                s
            }
            Err(e) if phases.is_empty() => return Err(e),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        };
        let control = ControlClient::new(server.addr);
        'phases: for &clients in &scenario.clients {
            for variant in &variants {
                for &transport in &scenario.transports {
                    if !coding_applies(transport, variant.coding) {
                        continue;
                    }
                    index += 1;
                    let label = Progress {
                        phase: index,
                        phases: total,
                        transport,
                        clients,
                        rate,
                        headers: variant.headers.clone(),
                        tls: variant.tls,
                        http: variant.http,
                        h2_streams: h2_streams(&scenario, variant.http),
                        coding: variant.coding,
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
                            http: variant.http,
                            coding: variant.coding,
                        },
                        &mut server,
                        &control,
                        opts.interrupt.as_mut(),
                        &label,
                        progress,
                    )
                    .await
                    {
                        Ok(outcome) => {
                            let number = phases.len() + 1;
                            wire_log.extend(outcome.connections.iter().map(|(local, totals)| {
                                ConnectionRecord::client(
                                    number,
                                    transport,
                                    *local,
                                    server.addr,
                                    totals,
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
        control_traffic.merge(&control.traffic());
        wire_log.extend(
            control
                .connections()
                .iter()
                .map(|c| ConnectionRecord::control(c, server.addr)),
        );
        server.stop().await;
        if error.is_some() {
            break;
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
        capacity: None,
    };
    Ok(RunOutcome {
        result,
        histograms,
        connections: wire_log,
    })
}

/// Waits `length` (or until `done_early` says so, given the time elapsed),
/// reporting progress, watching for interruption and for a dead server (and
/// sampling `/stats` when `samples` is given).
#[allow(clippy::too_many_arguments)]
async fn wait_stage(
    length: Duration,
    stage: &'static str,
    label: &Progress,
    progress: &mut (dyn FnMut(&Progress) + Send),
    interrupt: &mut Option<&mut watch::Receiver<bool>>,
    server: &mut ServerHandle,
    control: &ControlClient,
    outages: &mut Outages,
    mut samples: Option<&mut Vec<Stats>>,
    done_early: Option<&(dyn Fn(Duration) -> bool + Sync)>,
) -> Result<()> {
    let start = Instant::now();
    let tick = Duration::from_millis(250);
    let mut next_sample = start + SAMPLE_EVERY;
    loop {
        let elapsed = start.elapsed();
        progress(&Progress {
            stage,
            stage_elapsed_s: elapsed.as_secs_f64(),
            stage_length_s: length.as_secs_f64(),
            ..label.clone()
        });
        if elapsed >= length || done_early.is_some_and(|done| done(elapsed)) {
            return Ok(());
        }
        if let Some(rx) = interrupt.as_deref()
            && *rx.borrow()
        {
            return Err(Error::Interrupted);
        }
        if let Some(reason) = server.exited() {
            return Err(Error::ServerDied(reason));
        }
        if let Some(samples) = samples.as_deref_mut()
            && Instant::now() >= next_sample
        {
            if let Some(sample) = outages.try_stats(control, server).await? {
                samples.push(sample);
            }
            next_sample += SAMPLE_EVERY;
        }
        let sleep = tick.min(length - elapsed);
        match interrupt.as_deref_mut() {
            Some(rx) => {
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = rx.changed() => {}
                }
            }
            None => tokio::time::sleep(sleep).await,
        }
    }
}

/// What one phase measures: a transport at a client count, an event rate,
/// a request header profile, plaintext or TLS.
#[derive(Clone, Copy, Debug)]
pub struct PhaseSpec<'a> {
    /// The transport.
    pub transport: Transport,
    /// Concurrent clients.
    pub clients: u32,
    /// Events per second the server publishes.
    pub rate: f64,
    /// The request headers.
    pub headers: &'a RequestProfile,
    /// Speak TLS (the server must have been started with it).
    pub tls: bool,
    /// The HTTP version.
    pub http: HttpVersion,
    /// The content coding to ask for.
    pub coding: ContentCoding,
}

/// Runs one phase against a running server.
pub async fn run_phase(
    s: &Scenario,
    phase: PhaseSpec<'_>,
    server: &mut ServerHandle,
    control: &ControlClient,
    interrupt: Option<&mut watch::Receiver<bool>>,
    label: &Progress,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<PhaseOutcome> {
    let PhaseSpec {
        transport,
        clients,
        rate,
        headers,
        tls,
        http,
        coding,
    } = phase;
    let tls = match (tls, &server.tls) {
        (false, _) => None,
        (true, Some(config)) => Some(pushbench_net::tls_config::offering(config, http)),
        (true, None) => {
            return Err(Error::Scenario(format!(
                "a TLS phase needs a server started with TLS; {} was not",
                server.url
            )));
        }
    };
    let mut interrupt = interrupt;
    let mut outages = Outages::new(server.outage_grace);
    let idle = outages.stats(control, server).await?;
    let start_cursor = idle.last_seq;
    let poll_interval = Duration::from_millis(s.poll_interval_ms);
    let spec = Arc::new(ClientSpec {
        transport,
        server: server.addr,
        start_cursor,
        schedule: Schedule::for_transport(transport, poll_interval),
        longpoll_timeout_s: s.longpoll_timeout_s,
        ws_binary: s.ws_binary,
        clients: clients as usize,
        source_addresses: s.source_addresses,
        give_up_after: server.outage_grace,
        headers: crate::headers::with_coding(
            headers.headers(transport, server.addr),
            transport,
            coding,
            s.coding.iter().any(|&c| c != ContentCoding::Identity),
        ),
        tls,
        http,
        coding,
        h2_streams: h2_streams(s, http),
    });
    let recorder = Arc::new(PhaseRecorder::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let ramp = Duration::from_secs_f64(s.ramp_up_s);
    let mut tasks = Vec::with_capacity(clients as usize);
    let mut cursors = Vec::with_capacity(clients as usize);
    for id in 0..clients as usize {
        let delay = ramp.mul_f64(id as f64 / f64::from(clients));
        let progress_cell = Arc::new(AtomicU64::new(start_cursor));
        cursors.push(progress_cell.clone());
        let (spec, recorder, mut stop) = (spec.clone(), recorder.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return ClientReport::default(),
            }
            run_client(spec, id, recorder, progress_cell, stop).await
        }));
    }
    let stop_clients = |tasks: Vec<tokio::task::JoinHandle<ClientReport>>| {
        let _ = stop_tx.send(true);
        async move {
            let mut reports = Vec::with_capacity(tasks.len());
            for task in tasks {
                let abort = task.abort_handle();
                match tokio::time::timeout(Duration::from_secs(5), task).await {
                    Ok(Ok(report)) => reports.push(report),
                    _ => abort.abort(),
                }
            }
            reports
        }
    };

    // The window opens once every client has its first session (or
    // CONNECT_GRACE past the ramp): a client that connects late asks for
    // everything after the phase's start cursor, and its catch-up on that
    // backlog would land in the window as seconds of latency that no
    // broadcast took.
    let all_connected =
        |elapsed: Duration| elapsed >= ramp && recorder.ramp().first_sessions >= u64::from(clients);
    let before = async {
        wait_stage(
            ramp + CONNECT_GRACE,
            "connecting",
            label,
            progress,
            &mut interrupt,
            server,
            control,
            &mut outages,
            None,
            Some(&all_connected),
        )
        .await?;
        let warmup = Duration::from_secs_f64(s.warmup_s);
        wait_stage(
            warmup,
            "warm-up",
            label,
            progress,
            &mut interrupt,
            server,
            control,
            &mut outages,
            None,
            None,
        )
        .await
    };
    if let Err(e) = before.await {
        stop_clients(tasks).await;
        return Err(e);
    }

    let window_start = outages.stats(control, server).await?;
    recorder.set_measuring(true);
    let t0 = Instant::now();
    let mut samples = vec![window_start.clone()];
    let window = Duration::from_secs_f64(s.duration_s);
    let measured = wait_stage(
        window,
        "measuring",
        label,
        progress,
        &mut interrupt,
        server,
        control,
        &mut outages,
        Some(&mut samples),
        None,
    )
    .await;
    recorder.set_measuring(false);
    let duration_s = t0.elapsed().as_secs_f64();
    // A phase cut short keeps what it measured: the last `/stats` sample
    // stands in for the window's end.
    let last_sample = samples.last().cloned().unwrap_or_default();
    let (window_end, stopped) = match measured {
        Ok(()) => match outages.stats(control, server).await {
            Ok(end) => (end, None),
            Err(e) => (last_sample, Some(e)),
        },
        Err(e) => (last_sample, Some(e)),
    };
    samples.push(window_end.clone());
    let end_cursor = window_end.last_seq;

    // Drain: long enough for a short poll and a reconnect to catch up.
    let grace = Duration::from_secs(2).max(poll_interval * 2);
    let drain_start = Instant::now();
    while stopped.is_none()
        && drain_start.elapsed() < grace
        && cursors
            .iter()
            .any(|c| c.load(Ordering::Relaxed) < end_cursor)
    {
        progress(&Progress {
            stage: "draining",
            stage_elapsed_s: drain_start.elapsed().as_secs_f64(),
            stage_length_s: grace.as_secs_f64(),
            ..label.clone()
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reports = stop_clients(tasks).await;
    progress(&Progress {
        stage: "done",
        stage_elapsed_s: 0.0,
        stage_length_s: 0.0,
        ..label.clone()
    });

    let merged = recorder.merged();
    let mut events = EventCounts {
        published: window_end.last_seq.saturating_sub(window_start.last_seq),
        delivered: merged.delivered,
        errors: merged.errors,
        ..EventCounts::default()
    };
    let ramp = recorder.ramp();
    let mut connections = Connections {
        setup_us: summarize(&merged.setup),
        responses: merged.responses,
        first_sessions: ramp.first_sessions,
        all_connected_us: ramp.all_connected_us,
        ..Connections::default()
    };
    let mut conns = Vec::new();
    let mut setup_traffic = Traffic::default();
    let reported = reports.len() as u64;
    for report in reports {
        events.missed += report.tracker.missed(end_cursor);
        events.duplicated += report.tracker.duplicated;
        events.out_of_order += report.tracker.out_of_order;
        events.gaps += report.tracker.gaps;
        connections.opened += report.opened;
        connections.failed += report.failed;
        connections.reconnects += report.opened.saturating_sub(1);
        for (_, totals) in &report.connections {
            setup_traffic.merge(&totals.setup);
        }
        conns.extend(report.connections);
    }
    // A client task that never reported (aborted) missed everything.
    events.missed += (u64::from(clients) - reported.min(u64::from(clients)))
        * end_cursor.saturating_sub(start_cursor);

    let traffic = merged.traffic;
    let setup_bytes_per_connection = if connections.opened > 0 {
        setup_traffic.total() as f64 / connections.opened as f64
    } else {
        0.0
    };
    let route = window_end
        .transports
        .get(transport.name())
        .copied()
        .unwrap_or_default();
    let cpu_seconds = cpu_across_restarts(&samples);
    let rss_max = samples
        .iter()
        .map(|x| x.process.rss_bytes)
        .max()
        .unwrap_or(0);
    let rss_idle = idle.process.rss_bytes;
    let per_event = |x: f64| {
        if events.delivered > 0 {
            x / events.delivered as f64
        } else {
            0.0
        }
    };
    let payload = traffic.payload();
    let per_second = |n: u64| {
        if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }
    };
    let result = PhaseResult {
        transport,
        clients,
        rate,
        headers: label.headers.clone(),
        tls: spec.tls.is_some(),
        http: spec.http,
        coding: spec.coding,
        duration_s,
        connections,
        traffic,
        latency_us: summarize(&merged.latency),
        derived: Derived {
            bytes_per_event: per_event(traffic.total() as f64),
            sent_bytes_per_event: per_event(traffic.sent.total() as f64),
            received_bytes_per_event: per_event(traffic.received.total() as f64),
            // 0 when nothing was delivered: JSON has no infinity. Payload
            // inside coded bodies counts (decoded), so a coded phase's
            // ratio compares with an identity one's and can fall below 1.
            overhead_ratio: if payload > 0 {
                traffic.total() as f64 / payload as f64
            } else {
                0.0
            },
            compression_ratio: if traffic.received.compressed > 0 {
                traffic.decoded.total() as f64 / traffic.received.compressed as f64
            } else {
                0.0
            },
            events_per_second: per_second(events.delivered),
            responses_per_second: per_second(merged.responses),
            connections_per_second: ramp.per_second(),
        },
        server: ServerCost {
            cpu_seconds,
            cpu_us_per_event: per_event(cpu_seconds * 1e6),
            rss_idle_bytes: rss_idle,
            rss_max_bytes: rss_max,
            rss_per_connection_bytes: if route.connections_open > 0 {
                rss_max.saturating_sub(rss_idle) as f64 / route.connections_open as f64
            } else {
                0.0
            },
            connections_open: route.connections_open,
            slow_consumer_drops: window_end
                .slow_consumer_drops
                .saturating_sub(window_start.slow_consumer_drops),
        },
        events,
        histogram_log: None,
        setup_bytes_per_connection,
        setup_traffic,
        incomplete: stopped.is_some(),
        outage: outages.summary(),
    };
    Ok(PhaseOutcome {
        result,
        latency: merged.latency,
        connections: conns,
        start_cursor,
        end_cursor,
        stopped,
    })
}

/// How often `/stats` is asked again while the server does not answer.
const OUTAGE_RETRY: Duration = Duration::from_millis(250);

/// A phase's view of the server's outages: `/stats` calls that failed are
/// tolerated until the server has been unreachable for its outage grace,
/// and counted; a changed `started_us` counts a restart.
#[derive(Debug)]
struct Outages {
    grace: Duration,
    failing_since: Option<Instant>,
    failures: u64,
    longest: Duration,
    restarts: u64,
    started_us: Option<u64>,
}

impl Outages {
    fn new(grace: Duration) -> Self {
        Outages {
            grace,
            failing_since: None,
            failures: 0,
            longest: Duration::ZERO,
            restarts: 0,
            started_us: None,
        }
    }

    /// `/stats`, asked again every [`OUTAGE_RETRY`] while the server is
    /// unreachable, until it answers or the grace runs out.
    async fn stats(&mut self, control: &ControlClient, server: &mut ServerHandle) -> Result<Stats> {
        loop {
            if let Some(stats) = self.try_stats(control, server).await? {
                return Ok(stats);
            }
            tokio::time::sleep(OUTAGE_RETRY).await;
        }
    }

    /// One `/stats` call: `None` when it failed within the grace.
    async fn try_stats(
        &mut self,
        control: &ControlClient,
        server: &mut ServerHandle,
    ) -> Result<Option<Stats>> {
        if let Some(reason) = server.exited() {
            return Err(Error::ServerDied(reason));
        }
        let now = Instant::now();
        match control.stats(false).await {
            Ok(stats) => {
                if let Some(since) = self.failing_since.take() {
                    self.longest = self.longest.max(now - since);
                }
                if stats.started_us != 0 {
                    if self.started_us.is_some_and(|s| s != stats.started_us) {
                        self.restarts += 1;
                    }
                    self.started_us = Some(stats.started_us);
                }
                Ok(Some(stats))
            }
            Err(Error::ServerDied(why)) => {
                self.failures += 1;
                let since = *self.failing_since.get_or_insert(now);
                let down = Instant::now() - since;
                self.longest = self.longest.max(down);
                if down >= self.grace {
                    return Err(Error::ServerDied(format!(
                        "{} has not answered for {:.1} s (the outage grace is {:.1} s): {why}",
                        server.url,
                        down.as_secs_f64(),
                        self.grace.as_secs_f64()
                    )));
                }
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    fn summary(&self) -> Outage {
        let longest = match self.failing_since {
            Some(since) => self.longest.max(since.elapsed()),
            None => self.longest,
        };
        Outage {
            stats_failures: self.failures,
            longest_s: longest.as_secs_f64(),
            server_restarts: self.restarts,
        }
    }
}

/// The server's CPU seconds over consecutive `/stats` samples, summed per
/// server process: a sample from a restarted process (another
/// `started_us`) counts its own CPU since it started, since the old
/// process's counter is gone. What a killed process spent after its last
/// sample cannot be known and is not counted.
pub fn cpu_across_restarts(samples: &[Stats]) -> f64 {
    samples
        .windows(2)
        .map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            if a.started_us == b.started_us {
                (b.process.cpu_seconds - a.process.cpu_seconds).max(0.0)
            } else {
                b.process.cpu_seconds
            }
        })
        .sum()
}

/// Percentiles for the distribution chart, denser toward 100.
pub const DISTRIBUTION: [f64; 16] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999,
    100.0,
];

/// A histogram's summary (all zeros when empty).
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        distribution: DISTRIBUTION
            .iter()
            .map(|&p| (p, h.value_at_quantile(p / 100.0)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(started_us: u64, cpu_seconds: f64) -> Stats {
        Stats {
            started_us,
            process: crate::control_client::ProcessStats {
                cpu_seconds,
                rss_bytes: 0,
            },
            ..Stats::default()
        }
    }

    #[test]
    fn server_cpu_is_summed_per_process_across_a_restart() {
        let samples = [
            sample(1, 10.0),
            sample(1, 10.5),
            sample(2, 0.25),
            sample(2, 0.75),
        ];
        assert!((cpu_across_restarts(&samples) - 1.25).abs() < 1e-9);
        assert_eq!(cpu_across_restarts(&samples[..1]), 0.0);
    }
}
