//! One phase: a transport at one client count and event rate, in one
//! variant of the scenario (`runner::PhaseVariant`: request header profile,
//! plaintext or TLS, HTTP version, content coding), run by a `Phase`
//! whose stages are its methods:
//!
//! 1. read `/stats`: the start cursor `C0` (its `last_seq`) and the idle RSS;
//! 2. ramp-up (`Phase::ramp_up`): connect the clients over the ramp-up,
//!    each asking for everything after `C0`, wait (up to [`CONNECT_GRACE`])
//!    until every one has its first session; then warm up
//!    (`Phase::warm_up`);
//! 3. the measured window (`Phase::measure`): bytes, deliveries and
//!    latencies are recorded only while it is open; `/stats` is sampled
//!    about once a second for CPU and RSS (and to notice a dead server: a
//!    server unreachable for longer than its outage grace ends the run, a
//!    shorter outage is recorded in the phase's `outage` while the clients
//!    reconnect from their cursors, see `Outages`);
//! 4. read `/stats` again: the end cursor `C1`; drain (`Phase::drain`):
//!    let the clients catch up to `C1` (or the grace runs out), then stop
//!    them;
//! 5. collect (`Phase::collect`): merge the shards and the clients'
//!    reports into the [`PhaseResult`].
//!
//! `missed` is exact: each client must have received every seq in
//! `(C0, C1]`, whatever the window, so a server that skips seqs is caught
//! with the exact count. `delivered`, bytes and latency are the window's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pushbench_net::network_path::PathCounts;
use pushbench_net::process_tree::own_cpu_seconds;
use pushbench_protocol::link_measured::LinkMeasured;
use pushbench_protocol::results::{
    Connections, EventCounts, LoadGeneratorCost, PhaseResult, ServerCost,
};
use pushbench_protocol::server_cost::us_per_event;
use pushbench_protocol::{ContentCoding, HeaderProfile, HttpVersion, Scenario, Traffic, Transport};
use tokio::sync::watch;

use crate::client_spec::{ClientSpec, Schedule};
use crate::clock_offset::ClockWatch;
use crate::control_client::{ControlClient, Stats};
use crate::node_watch::{NodeWatch, cluster_cost};
use crate::path_sides::path_delta_of;
use crate::phase_clients::Clients;
use crate::phase_rate::PhaseRate;
use crate::recorder::PhaseRecorder;
use crate::request_headers::RequestProfile;
use crate::session::{ClientConnection, ClientReport};
use crate::shard::{PhaseShard, Segment};
use crate::target::ServerHandle;
use crate::tcpinfo::retransmits;
use crate::{Error, Result, scenario};

pub use crate::node_watch::cpu_across_restarts;
pub use crate::phase_figures::{DISTRIBUTION, derive, summarize};

/// How long past the ramp-up a phase waits for its last clients to get
/// their first session before it warms up anyway (the ramp figures then
/// show who was late): 19,000 clients at once connect within 1 s here, and
/// a client that cannot connect must not hold the phase.
pub const CONNECT_GRACE: Duration = Duration::from_secs(10);

/// How long after the ramp-up the load generator starts publishing into
/// a server of another kind: a client's first session counts as opened
/// when its connection is (or its WebSocket upgraded), and its first
/// request needs a moment more to be registered by the server.
pub const SUBSCRIBE_SETTLE: Duration = Duration::from_millis(250);

/// How often `/stats` is sampled during the window.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

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
    /// Its rate (known, or measured once the window closes).
    pub rate: PhaseRate,
    /// Its request header profile.
    pub headers: HeaderProfile,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Whether its clients keep their connection between polls.
    pub keep_alive: bool,
    /// Its HTTP version.
    pub http: HttpVersion,
    /// HTTP/2: clients per connection (1 over HTTP/1.1).
    pub h2_streams: u32,
    /// The content coding its clients ask for.
    pub coding: ContentCoding,
    /// The label of the link it runs over (`loopback`, `3g`, ...).
    pub link: String,
    /// `waiting` (a shard, for its slot on the schedule), `connecting`,
    /// `warm-up`, `measuring`, `draining` or `done`.
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
    /// Every client connection: its addresses and what it carried.
    pub connections: Vec<ClientConnection>,
    /// The phase's start cursor `C0`.
    pub start_cursor: u64,
    /// The phase's end cursor `C1`.
    pub end_cursor: u64,
    /// Why the phase was cut short (interrupted, server died); `result` then
    /// holds the partial measurements, marked `incomplete`.
    pub stopped: Option<Error>,
}

/// What one phase measures: a transport at a client count, an event rate,
/// a request header profile, plaintext or TLS.
#[derive(Clone, Copy, Debug)]
pub struct PhaseSpec<'a> {
    /// The transport.
    pub transport: Transport,
    /// Concurrent clients.
    pub clients: u32,
    /// Events per second the server publishes, or how they are measured.
    pub rate: PhaseRate,
    /// The request headers.
    pub headers: &'a RequestProfile,
    /// Speak TLS (the server must have been started with it).
    pub tls: bool,
    /// Keep the connection between polls (HTTP/1.1 keep-alive); false: a
    /// new connection and `Connection: close` per request.
    pub keep_alive: bool,
    /// The HTTP version.
    pub http: HttpVersion,
    /// The content coding to ask for.
    pub coding: ContentCoding,
    /// When the run is one shard of several (`run --segment`): its slice
    /// of the clients, the phase's times on the shared schedule and the
    /// clock offset; `None` runs every client at once.
    pub shard: Option<PhaseShard>,
}

/// Runs one phase against a running server.
pub async fn run_phase(
    s: &Scenario,
    spec: PhaseSpec<'_>,
    server: &mut ServerHandle,
    controls: &[ControlClient],
    interrupt: Option<&mut watch::Receiver<bool>>,
    label: &Progress,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<PhaseOutcome> {
    let tls = match (spec.tls, &server.tls) {
        (false, _) => None,
        (true, Some(config)) => Some(pushbench_net::tls_config::offering(config, spec.http)),
        (true, None) => {
            return Err(Error::Scenario(format!(
                "a TLS phase needs a server started with TLS; {} was not",
                server.url
            )));
        }
    };
    let control = controls
        .first()
        .ok_or_else(|| Error::Scenario("a phase needs the server's control client".to_owned()))?;
    let clock = ClockWatch::start();
    let mut phase = Phase {
        s,
        spec,
        nodes: NodeWatch::new(controls, server.outage_grace),
        server,
        control,
        interrupt,
        label,
        progress,
    };
    if let Some(shard) = spec.shard {
        phase.wait_until(shard.times.start_us, "waiting").await?;
    }
    let idle = phase.stats().await?;
    let path_before = phase.server.path.path().counts();
    let group = scenario::h2_streams(s, spec.http);
    let segment = spec.shard.map_or(Segment::WHOLE, |shard| shard.segment);
    let specs = phase
        .server
        .nodes()
        .iter()
        .map(|node| phase.client_spec(node.addr, idle.last_seq, tls.clone()))
        .collect();
    let mut clients = Clients::start(
        specs,
        segment.clients(spec.clients, group),
        phase.ramp(),
        spec.shard.map_or(0, |shard| shard.clock_offset_us),
    );
    let before = match phase.ramp_up(&clients).await {
        Ok(()) => {
            phase.start_publishing().await;
            phase.warm_up().await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = before {
        phase.stop_publishing().await;
        clients.stop().await;
        return Err(e);
    }
    let window = phase.measure(&clients.recorder).await;
    phase.stop_publishing().await;
    let window = window?;
    if window.stopped.is_none() {
        phase.drain(&clients, window.end.last_seq).await;
    }
    let reports = clients.stop().await;
    phase.report("done", Duration::ZERO, Duration::ZERO);
    let path_delta = phase.server.path.path().counts().since(path_before);
    let mut outcome = phase.collect(&clients, reports, &idle, window, path_delta);
    outcome.result.clock_slew_us = Some(clock.slew_us());
    log_phase_end(&outcome.result);
    Ok(outcome)
}

/// One phase while it runs: what its stages share.
struct Phase<'a> {
    s: &'a Scenario,
    spec: PhaseSpec<'a>,
    server: &'a mut ServerHandle,
    control: &'a ControlClient,
    /// Turns true to interrupt the run (Ctrl-C).
    interrupt: Option<&'a mut watch::Receiver<bool>>,
    /// The phase's progress line; each stage fills in its own part.
    label: &'a Progress,
    progress: &'a mut (dyn FnMut(&Progress) + Send),
    /// The server's nodes (one, or those of a `--target` list), their
    /// `/stats` and their outages over the phase.
    nodes: NodeWatch<'a>,
}

/// What the measured window saw.
struct Window {
    /// `/stats` as the window opened.
    start: Stats,
    /// `/stats` as it closed: the end cursor `C1` is its `last_seq`.
    end: Stats,
    /// Every `/stats` sample, `start` to `end`.
    samples: Vec<Stats>,
    /// How long the window was open, seconds.
    duration_s: f64,
    /// CPU seconds the load generator's process spent while it was open.
    load_generator_cpu_s: f64,
    /// Why the window was cut short (interrupted, server died).
    stopped: Option<Error>,
}

impl Phase<'_> {
    /// `/stats`, through the phase's outages.
    async fn stats(&mut self) -> Result<Stats> {
        self.nodes.stats(self.server).await
    }

    /// Reports `stage`, `elapsed` into its planned `length`.
    fn report(&mut self, stage: &'static str, elapsed: Duration, length: Duration) {
        (self.progress)(&Progress {
            stage,
            stage_elapsed_s: elapsed.as_secs_f64(),
            stage_length_s: length.as_secs_f64(),
            ..self.label.clone()
        });
    }

    /// The ramp-up: the clients start spread over it.
    fn ramp(&self) -> Duration {
        Duration::from_secs_f64(self.s.ramp_up_s)
    }

    /// What every client of the phase on the node at `addr` shares, asking
    /// for everything after `start_cursor`, over TLS with `tls` when given.
    fn client_spec(
        &self,
        addr: SocketAddr,
        start_cursor: u64,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> ClientSpec {
        let (s, server, transport) = (self.s, &self.server, self.spec.transport);
        ClientSpec {
            transport,
            kind: s.target_kind,
            server: addr,
            start_cursor,
            schedule: Schedule::for_transport(transport, self.poll_interval()),
            longpoll_timeout_s: s.longpoll_timeout_s,
            ws_binary: s.ws_binary,
            clients: self.spec.clients as usize,
            source_addresses: s.source_addresses,
            give_up_after: server.outage_grace,
            headers: crate::request_headers::with_coding(
                self.spec.headers.headers(transport, addr),
                transport,
                self.spec.coding,
                s.coding.iter().any(|&c| c != ContentCoding::Identity),
            ),
            tls,
            keep_alive: self.spec.keep_alive,
            http: self.spec.http,
            coding: self.spec.coding,
            h2_streams: scenario::h2_streams(s, self.spec.http),
            path: server.path.clone(),
        }
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.s.poll_interval_ms)
    }

    /// The ramp-up stage. The window opens once every client has its first
    /// session (or [`CONNECT_GRACE`] past the ramp): a client that connects
    /// late asks for everything after the phase's start cursor, and its
    /// catch-up on that backlog would land in the window as seconds of
    /// latency that no broadcast took.
    /// A shard's clients connect until its schedule's warm-up, the
    /// ramp-up's end at the earliest.
    async fn ramp_up(&mut self, clients: &Clients) -> Result<()> {
        let (ramp, recorder, n) = (self.ramp(), &clients.recorder, clients.count());
        let all_connected =
            |elapsed: Duration| elapsed >= ramp && recorder.ramp().first_sessions >= n;
        let limit = match self.spec.shard {
            Some(shard) => until(shard.times.warm_up_us).max(ramp),
            None => ramp + CONNECT_GRACE,
        };
        self.wait(limit, "connecting", None, Some(&all_connected))
            .await
    }

    /// A server of another kind: the load generator publishes this
    /// phase's events into it from now on, once every client's first
    /// request has had [`SUBSCRIBE_SETTLE`] to reach it (its subscription
    /// has no cursor to catch up from: what is published before it
    /// registers is not its to receive). The phase's start cursor is the
    /// last seq published before, so `missed` counts exactly.
    async fn start_publishing(&mut self) {
        let Some(observed) = self.control.observed() else {
            return;
        };
        let PhaseRate::Known { rate, .. } = self.spec.rate else {
            return;
        };
        tokio::time::sleep(SUBSCRIBE_SETTLE).await;
        observed.publisher.start(observed.plan(rate)).await;
    }

    /// Stops what [`Phase::start_publishing`] started.
    async fn stop_publishing(&mut self) {
        if let Some(observed) = self.control.observed() {
            observed.publisher.stop().await;
        }
    }

    /// The warm-up stage: clients connected, nothing recorded yet. A
    /// shard's lasts until its schedule opens the window.
    async fn warm_up(&mut self) -> Result<()> {
        match self.spec.shard {
            Some(shard) => self.wait_until(shard.times.window_us, "warm-up").await,
            None => {
                let warmup = Duration::from_secs_f64(self.s.warmup_s);
                self.wait(warmup, "warm-up", None, None).await
            }
        }
    }

    /// Waits until `at_us` on this clock (µs since the epoch), reporting
    /// `stage`; a shard that is already late says so and goes on.
    async fn wait_until(&mut self, at_us: u64, stage: &'static str) -> Result<()> {
        let now = pushbench_protocol::event::now_us();
        if now > at_us + 50_000 {
            tracing::warn!(
                "phase {}: {stage} ends {:.3} s late on the shared schedule (the slot was too short)",
                self.label.phase,
                (now - at_us) as f64 / 1e6
            );
        }
        self.wait(until(at_us), stage, None, None).await
    }

    /// The measured window. A window cut short keeps what it measured: the
    /// last `/stats` sample stands in for the window's end.
    async fn measure(&mut self, recorder: &PhaseRecorder) -> Result<Window> {
        let mut start = self.stats().await?;
        // A server of another kind: the publisher's cursor is read right
        // at the flag, not when the stand-in for `/stats` (a connect,
        // /proc) began or ended, so the window owes exactly the events
        // published while the clients counted.
        let cursor = || self.control.observed().map(|o| o.publisher.last_seq());
        if let Some(seq) = cursor() {
            start.last_seq = seq;
        }
        let own_cpu = || own_cpu_seconds().unwrap_or(0.0);
        let cpu_at_start = own_cpu();
        recorder.set_measuring(true);
        let t0 = Instant::now();
        let mut samples = vec![start.clone()];
        let length = Duration::from_secs_f64(self.s.duration_s);
        let measured = self
            .wait(length, "measuring", Some(&mut samples), None)
            .await;
        recorder.set_measuring(false);
        let load_generator_cpu_s = (own_cpu() - cpu_at_start).max(0.0);
        let end_cursor = cursor();
        let duration_s = t0.elapsed().as_secs_f64();
        let last_sample = samples.last().cloned().unwrap_or_default();
        let (mut end, stopped) = match measured {
            Ok(()) => match self.stats().await {
                Ok(end) => (end, None),
                Err(e) => (last_sample, Some(e)),
            },
            Err(e) => (last_sample, Some(e)),
        };
        if let (Some(seq), None) = (end_cursor, &stopped) {
            end.last_seq = seq;
        }
        samples.push(end.clone());
        Ok(Window {
            start,
            end,
            samples,
            duration_s,
            load_generator_cpu_s,
            stopped,
        })
    }

    /// The drain: until every client has caught up to `end_cursor`, or
    /// long enough for a short poll and a reconnect to catch up.
    async fn drain(&mut self, clients: &Clients, end_cursor: u64) {
        let grace = Duration::from_secs(2).max(self.poll_interval() * 2);
        let start = Instant::now();
        while start.elapsed() < grace && clients.behind(end_cursor) {
            self.report("draining", start.elapsed(), grace);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits `length` (or until `done_early` says so, given the time
    /// elapsed), reporting progress, watching for interruption and for a
    /// dead server (and sampling `/stats` when `samples` is given).
    async fn wait(
        &mut self,
        length: Duration,
        stage: &'static str,
        mut samples: Option<&mut Vec<Stats>>,
        done_early: Option<&(dyn Fn(Duration) -> bool + Sync)>,
    ) -> Result<()> {
        let start = Instant::now();
        let tick = Duration::from_millis(250);
        let mut next_sample = start + SAMPLE_EVERY;
        loop {
            let elapsed = start.elapsed();
            self.report(stage, elapsed, length);
            if elapsed >= length || done_early.is_some_and(|done| done(elapsed)) {
                return Ok(());
            }
            if let Some(rx) = self.interrupt.as_deref()
                && *rx.borrow()
            {
                return Err(Error::Interrupted);
            }
            if let Some(reason) = self.server.exited() {
                return Err(Error::ServerDied(reason));
            }
            if let Some(samples) = samples.as_deref_mut()
                && Instant::now() >= next_sample
            {
                if let Some(sample) = self.nodes.try_stats(self.server).await? {
                    samples.push(sample);
                }
                next_sample += SAMPLE_EVERY;
            }
            let sleep = tick.min(length - elapsed);
            match self.interrupt.as_deref_mut() {
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

    /// Collect: the shards merged, and the clients' `reports` added up
    /// (`idle` is `/stats` before the clients started), into the phase's
    /// result.
    fn collect(
        &mut self,
        clients: &Clients,
        reports: Vec<ClientReport>,
        idle: &Stats,
        window: Window,
        path_delta: PathCounts,
    ) -> PhaseOutcome {
        let transport = self.spec.transport;
        let count = clients.ids.len() as u32;
        let spec = clients.spec();
        let (start_cursor, end_cursor) = (spec.start_cursor, window.end.last_seq);
        let (window_start, window_end) = (&window.start, &window.end);
        let merged = clients.recorder.merged();
        let mut events = EventCounts {
            published: window_end.last_seq.saturating_sub(window_start.last_seq),
            delivered: merged.delivered,
            errors: merged.errors,
            ..EventCounts::default()
        };
        let ramp = clients.recorder.ramp();
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
            connections.moved_reconnects += report.moved;
            for connection in &report.connections {
                setup_traffic.merge(&connection.totals.setup);
            }
            conns.extend(report.connections);
        }
        // A client task that never reported (aborted) missed everything.
        events.missed += (u64::from(count) - reported.min(u64::from(count)))
            * end_cursor.saturating_sub(start_cursor);

        let duration_s = window.duration_s;
        let (rate, rate_source) = self.spec.rate.recorded(events.published, duration_s);
        let samples = &window.samples;
        let traffic = merged.traffic;
        let setup_bytes_per_connection = if connections.opened > 0 {
            setup_traffic.total() as f64 / connections.opened as f64
        } else {
            0.0
        };
        let mut route = window_end
            .transports
            .get(transport.name())
            .copied()
            .unwrap_or_default();
        if route.connections_open == 0 {
            // A server that does not count per route (another kind, seen
            // from `/proc`): its connections all together.
            route.connections_open = window_end.connections_open;
        }
        let cpu_seconds = cpu_across_restarts(samples);
        let rss_max = samples
            .iter()
            .map(|x| x.process.rss_bytes)
            .max()
            .unwrap_or(0);
        let rss_idle = idle.process.rss_bytes;
        let derived = derive(&traffic, &events, &connections, duration_s);
        let slow_consumer_drops = window_end
            .slow_consumer_drops
            .saturating_sub(window_start.slow_consumer_drops);
        let server = if window_end.nodes.is_empty() {
            ServerCost {
                cpu_seconds,
                cpu_us_per_event: us_per_event(cpu_seconds, events.delivered),
                rss_idle_bytes: rss_idle,
                rss_max_bytes: rss_max,
                rss_per_connection_bytes: if route.connections_open > 0 {
                    rss_max.saturating_sub(rss_idle) as f64 / route.connections_open as f64
                } else {
                    0.0
                },
                connections_open: route.connections_open,
                slow_consumer_drops,
                nodes: Vec::new(),
            }
        } else {
            let urls: Vec<String> = self.server.nodes().into_iter().map(|n| n.url).collect();
            cluster_cost(
                &urls,
                transport.name(),
                idle,
                samples,
                &self.nodes.per_node(),
                events.delivered,
                slow_consumer_drops,
            )
        };
        let result = PhaseResult {
            transport,
            clients: count,
            rate,
            rate_source,
            headers: self.label.headers.clone(),
            tls: spec.tls.is_some(),
            keep_alive: spec.keep_alive,
            http: spec.http,
            coding: spec.coding,
            link: self.server.path.profile(),
            link_measured: Some(LinkMeasured {
                connect_us: summarize(&merged.connect).into(),
                retransmits: retransmits(conns.iter().filter_map(|c| c.totals.segments)),
                path: (!self.server.path.is_loopback()).then(|| path_delta_of(path_delta)),
            }),
            duration_s,
            connections,
            traffic,
            latency_us: summarize(&merged.latency),
            derived,
            server,
            load_generator: LoadGeneratorCost::of(window.load_generator_cpu_s, events.delivered),
            events,
            histogram_log: None,
            setup_bytes_per_connection,
            setup_traffic,
            incomplete: window.stopped.is_some(),
            outage: self.nodes.summary(),
            clock_slew_us: None,
        };
        PhaseOutcome {
            result,
            latency: merged.latency,
            connections: conns,
            start_cursor,
            end_cursor,
            stopped: window.stopped,
        }
    }
}

/// The time from now until `at_us` on this clock (zero if past).
fn until(at_us: u64) -> Duration {
    Duration::from_micros(at_us.saturating_sub(pushbench_protocol::event::now_us()))
}

/// One line when a phase ends with something a reader must not miss:
/// events lost, duplicated or reordered (a warning), client errors by kind.
fn log_phase_end(result: &PhaseResult) {
    let events = &result.events;
    let name = result.transport.name();
    if events.missed + events.duplicated + events.out_of_order > 0 {
        tracing::warn!(
            "{name} phase: {} missed, {} duplicated, {} out of order of {} delivered",
            events.missed,
            events.duplicated,
            events.out_of_order,
            events.delivered
        );
    }
    if !events.errors.is_empty() {
        let kinds: Vec<String> = events
            .errors
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        tracing::info!("{name} phase: client errors: {}", kinds.join(", "));
    }
    if let Some(slew) = result.notable_clock_slew_us() {
        tracing::warn!(
            "{name} phase: the wall clock moved {:.1} ms against the monotonic clock: \
             its latencies are shifted by up to that",
            slew as f64 / 1e3
        );
    }
}
