//! Peers: pushbench side by side with the tools people use instead, every
//! comparison measured in the same run on the same machine.
//!
//! - **Short polling as fast as possible** against one `pushbench serve`
//!   (no events, so every answer is the same empty poll): pushbench's own
//!   client (`run` with a zero poll interval) against `wrk` and `h2load
//!   --h1`, the same connection count, in alternating rounds; the figure is
//!   requests answered per second.
//! - **WebSocket fan-out**: the same pushbench load (a capacity search,
//!   [`crate::capacity_search`]) against `pushbench serve` and against each
//!   broadcast server of `scripts/peers/` ([`WsPeer`]: Node with `ws`, and
//!   Bun's `Bun.serve` pub/sub; each takes `serve`'s command line and
//!   speaks the same event protocol): the highest sustained deliveries per
//!   second, then p99 latency and server CPU per event at a load both held.
//!
//! The parsers of the external tools' output are plain functions, tested
//! on their real output.

// One piece: both comparisons fill one `PeersOutcome` from one
// `PeersOptions` through the same `comparison` builder, tool runner and
// interrupt check; a fan-out module would import them back from here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pushbench_protocol::peer_results::{PEERS_VERSION, PeerComparison, PeersResult, median};
use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{Scenario, Transport};
use tokio::process::Command;
use tokio::sync::watch;

use crate::capacity_search::{CapacityOptions, SearchPolicy, find_capacity};
use crate::phase::Progress;
use crate::runner::{RunOptions, RunOutcome, run_scenario};
use crate::target::ServerSource;
use crate::{Error, Result, machine};

/// What to compare, and how hard.
#[derive(Clone, Debug)]
pub struct PeersOptions {
    /// The `pushbench` executable (its `serve` is the server under test).
    pub pushbench_exe: PathBuf,
    /// The WebSocket broadcast servers the fan-out is compared with, each
    /// with the executable started as `serve`; empty skips the fan-out.
    pub ws_peers: Vec<(WsPeer, PathBuf)>,
    /// The `wrk` executable.
    pub wrk: String,
    /// The `h2load` executable.
    pub h2load: String,
    /// Connections of the short-polling comparison (every tool the same).
    pub poll_connections: u32,
    /// Seconds each tool polls per round.
    pub poll_seconds: f64,
    /// Rounds of the short-polling comparison: the tools alternate, and
    /// the median of the rounds is compared, so a passing disturbance of
    /// the machine does not decide the ratio.
    pub rounds: u32,
    /// Threads of `wrk` and `h2load`: as many as pushbench's runtime has
    /// workers (the machine's cores), so no side has more parallelism.
    pub threads: u32,
    /// WebSocket clients of the fan-out.
    pub ws_clients: u32,
    /// Measured seconds of each fan-out phase.
    pub ws_seconds: f64,
    /// The fan-out capacity search.
    pub ws_policy: SearchPolicy,
    /// Rounds of the fan-out: each round searches every server's capacity
    /// once, in turn, then measures each pair at the common load; the
    /// medians are compared (a search's result moves by a bisection step
    /// or more between runs on a shared machine).
    pub ws_rounds: u32,
    /// Extra arguments of `pushbench serve` (e.g. `--workers 1`).
    pub serve_args: Vec<String>,
    /// p99 bound of a sustained fan-out phase, milliseconds.
    pub max_p99_ms: f64,
    /// Payload bytes per event.
    pub payload: usize,
    /// Turns true to interrupt; what was measured is kept.
    pub interrupt: Option<watch::Receiver<bool>>,
}

/// What a peers run produced: the comparisons, and every pushbench run
/// behind them (to be written beside `peers.json`).
#[derive(Debug)]
pub struct PeersOutcome {
    /// `peers.json`.
    pub result: PeersResult,
    /// Each pushbench run, by a folder name (`ws-pushbench`, ...).
    pub runs: Vec<(String, RunOutcome)>,
    /// Each external tool's raw output, by a file name (`wrk-1.txt`, ...).
    pub logs: Vec<(String, String)>,
    /// Comparisons that could not be made, and why.
    pub skipped: Vec<String>,
}

/// `Requests/sec:` of a `wrk` run; `None` when wrk also reports non-2xx
/// answers or socket errors (its rate would then count failures).
pub fn parse_wrk(output: &str) -> Option<f64> {
    if output.contains("Non-2xx or 3xx responses") || output.contains("Socket errors") {
        return None;
    }
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The `req/s` of h2load's `finished in 3.00s, 55621.33 req/s, ...` line;
/// `None` unless its `requests:` line reports every request succeeded.
pub fn parse_h2load(output: &str) -> Option<f64> {
    let clean = output
        .lines()
        .find(|l| l.starts_with("requests:"))
        .is_some_and(|l| l.contains(" 0 failed, 0 errored, 0 timeout"));
    if !clean {
        return None;
    }
    let line = output.lines().find(|l| l.starts_with("finished in"))?;
    line.split(',')
        .find_map(|part| part.trim().strip_suffix(" req/s"))
        .and_then(|v| v.trim().parse().ok())
}

/// The first line a tool prints for `--version` (wrk prints it and exits 1).
async fn version_of(exe: &str, arg: &str) -> Option<String> {
    let out = Command::new(exe).arg(arg).output().await.ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let first = String::from_utf8_lossy(&text).lines().next()?.to_owned();
    // `wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer`: the
    // name and version are enough.
    let short = first.split(" [").next().unwrap_or(&first);
    let short = short.split(" Copyright").next().unwrap_or(short);
    Some(short.trim().to_owned())
}

/// Runs `exe args` for at most `limit`; its stdout and stderr together.
async fn run_tool(exe: &str, args: &[String], limit: Duration) -> Result<String> {
    let child = Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, child)
        .await
        .map_err(|_| Error::Scenario(format!("`{exe}` did not finish within {limit:?}")))?
        .map_err(|e| Error::io(format!("running `{exe}`"), e))?;
    let text = format!(
        "$ {exe} {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(Error::Scenario(format!(
            "`{exe}` failed ({}): {}",
            out.status,
            text.lines().last().unwrap_or("")
        )));
    }
    Ok(text)
}

/// Runs every comparison; one that cannot be made (a tool missing, a
/// server that does not start) is skipped with its reason, the rest go on.
pub async fn run_peers(
    opts: PeersOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
    note: &mut (dyn FnMut(&str) + Send),
) -> Result<PeersOutcome> {
    let started_at = machine::now_rfc3339();
    let mut outcome = PeersOutcome {
        result: PeersResult {
            version: PEERS_VERSION,
            pushbench_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at,
            finished_at: String::new(),
            machine: machine::this_machine(),
            comparisons: Vec::new(),
        },
        runs: Vec::new(),
        logs: Vec::new(),
        skipped: Vec::new(),
    };
    if let Err(e) = short_polling(&opts, &mut outcome, progress, note).await {
        outcome.skipped.push(format!("short polling: {e}"));
    }
    if opts.ws_peers.is_empty() {
        outcome
            .skipped
            .push("WebSocket fan-out: no peer server given".to_owned());
    } else if let Err(e) = fan_out(&opts, &mut outcome, progress, note).await {
        outcome.skipped.push(format!("WebSocket fan-out: {e}"));
    }
    outcome.result.finished_at = machine::now_rfc3339();
    Ok(outcome)
}

fn interrupted(opts: &PeersOptions) -> bool {
    opts.interrupt.as_ref().is_some_and(|rx| *rx.borrow())
}

/// The short-polling comparison: pushbench's client, wrk and h2load in
/// alternating rounds against one `pushbench serve --rate 0`.
async fn short_polling(
    opts: &PeersOptions,
    outcome: &mut PeersOutcome,
    progress: &mut (dyn FnMut(&Progress) + Send),
    note: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    let scenario = Scenario {
        transports: vec![Transport::ShortPoll],
        clients: vec![opts.poll_connections],
        rates: vec![0.0],
        payload: opts.payload,
        duration_s: opts.poll_seconds,
        warmup_s: 1.0,
        ramp_up_s: 0.0,
        poll_interval_ms: 0,
        ..Scenario::default()
    };
    let source = ServerSource::Child {
        exe: opts.pushbench_exe.clone(),
        extra_args: Vec::new(),
    };
    let server = source
        .start(&scenario, 0.0, &crate::path_sides::PathSides::default())
        .await?;
    let url = format!("{}/poll?since=0", server.url);
    let (c, t) = (
        opts.poll_connections,
        opts.threads.clamp(1, opts.poll_connections),
    );
    let secs = opts.poll_seconds.ceil().max(1.0) as u64;
    let limit = Duration::from_secs(secs + 30);
    let wrk_args: Vec<String> = [
        format!("-t{t}"),
        format!("-c{c}"),
        format!("-d{secs}s"),
        "--timeout".into(),
        "10s".into(),
        url.clone(),
    ]
    .into();
    let h2load_args: Vec<String> = [
        "--h1".into(),
        format!("-t{t}"),
        format!("-c{c}"),
        "-D".into(),
        secs.to_string(),
        url.clone(),
    ]
    .into();
    let wrk_version = version_of(&opts.wrk, "--version").await;
    let h2load_version = version_of(&opts.h2load, "--version").await;
    let mut ours = Vec::new();
    let mut wrk = Vec::new();
    let mut h2load = Vec::new();
    let result = async {
        for round in 1..=opts.rounds.max(1) {
            if interrupted(opts) {
                return Err(Error::Interrupted);
            }
            if wrk_version.is_some() {
                note(&format!("peers: round {round}: wrk {}", wrk_args.join(" ")));
                let text = run_tool(&opts.wrk, &wrk_args, limit).await?;
                wrk.push(parse_wrk(&text).ok_or_else(|| {
                    Error::Scenario(format!(
                        "wrk reported errors or no `Requests/sec:`: {}",
                        text.lines().last().unwrap_or("")
                    ))
                })?);
                outcome.logs.push((format!("wrk-{round}.txt"), text));
            }
            note(&format!(
                "peers: round {round}: pushbench run --transports short-poll --poll-interval 0 \
                 --clients {c} --duration {secs}"
            ));
            let run = run_scenario(
                RunOptions {
                    scenario: Scenario {
                        duration_s: secs as f64,
                        target: Some(server.url.clone()),
                        ..scenario.clone()
                    },
                    source: ServerSource::Target(server.url.clone()),
                    interrupt: opts.interrupt.clone(),
                    outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                    emulated: None,
                    target_pid: None,
                },
                progress,
            )
            .await?;
            let phase = run.result.phases.first().ok_or_else(|| {
                Error::Scenario(format!(
                    "the pushbench polling run measured nothing: {}",
                    run.result.error.clone().unwrap_or_default()
                ))
            })?;
            ours.push(phase.derived.responses_per_second);
            outcome.runs.push((format!("poll-pushbench-{round}"), run));
            if h2load_version.is_some() {
                note(&format!(
                    "peers: round {round}: h2load {}",
                    h2load_args.join(" ")
                ));
                let text = run_tool(&opts.h2load, &h2load_args, limit).await?;
                h2load.push(parse_h2load(&text).ok_or_else(|| {
                    Error::Scenario(
                        "h2load reported failed requests or no `finished in ..., N req/s`"
                            .to_owned(),
                    )
                })?);
                outcome.logs.push((format!("h2load-{round}.txt"), text));
            }
        }
        Ok(())
    }
    .await;
    server.stop().await;
    let name = format!("short polling GET /poll, {c} connections, back to back");
    let pushbench_side = "pushbench run (its client, counting and classifying every byte)";
    let method = |tool: &str, args: &[String]| {
        format!(
            "one `pushbench serve --rate 0` (every answer an empty poll); per round, \
             `{tool} {}` and `pushbench run --target URL --transports short-poll \
             --poll-interval 0 --clients {c} --duration {secs} --warmup 1`, alternating; \
             median of {} rounds",
            args.join(" "),
            ours.len()
        )
    };
    for (tool, version, theirs, args, goal, label) in [
        (
            "wrk",
            &wrk_version,
            &wrk,
            &wrk_args,
            Some(0.9),
            "poll requests/s vs wrk",
        ),
        (
            "h2load",
            &h2load_version,
            &h2load,
            &h2load_args,
            None,
            "poll requests/s vs h2load",
        ),
    ] {
        match version {
            None => outcome
                .skipped
                .push(format!("{name} against {tool}: `{tool}` is not installed")),
            Some(_) if theirs.is_empty() || ours.is_empty() => {}
            Some(version) => outcome.result.comparisons.push(comparison(
                (&name, label),
                "requests/s",
                true,
                pushbench_side,
                (&ours, theirs),
                version,
                goal,
                method(tool, args),
            )),
        }
    }
    result
}

/// Builds a comparison from every round's figures (medians compared).
#[allow(clippy::too_many_arguments)]
pub(crate) fn comparison(
    (name, label): (&str, &str),
    metric: &str,
    higher_is_better: bool,
    pushbench_side: &str,
    (ours, theirs): (&[f64], &[f64]),
    peer: &str,
    goal: Option<f64>,
    method: String,
) -> PeerComparison {
    let (a, b) = (median(ours), median(theirs));
    PeerComparison {
        name: name.to_owned(),
        label: label.to_owned(),
        metric: metric.to_owned(),
        higher_is_better,
        pushbench_side: pushbench_side.to_owned(),
        pushbench: a,
        peer: peer.to_owned(),
        peer_value: b,
        ratio: PeerComparison::ratio_of(a, b, higher_is_better),
        goal,
        rounds: ours.iter().copied().zip(theirs.iter().copied()).collect(),
        method,
    }
}

/// A WebSocket broadcast server of `scripts/peers/` that pushbench's
/// fan-out is compared with; each takes `serve`'s command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsPeer {
    /// Node with the `ws` package (`ws-broadcast.mjs`): one `ws.send` per
    /// client per event, what a typical broadcast loop does.
    Node,
    /// Bun's `Bun.serve` pub/sub on uWebSockets (`bun-broadcast`): one
    /// `server.publish` per event.
    Bun,
}

impl WsPeer {
    /// Every peer, in the order compared.
    pub const ALL: [WsPeer; 2] = [WsPeer::Node, WsPeer::Bun];

    /// Its name in flags and folders: `node`, `bun`.
    pub fn key(self) -> &'static str {
        match self {
            WsPeer::Node => "node",
            WsPeer::Bun => "bun",
        }
    }

    /// Its name in chart labels and messages.
    pub fn short_name(self) -> &'static str {
        match self {
            WsPeer::Node => "Node ws",
            WsPeer::Bun => "Bun",
        }
    }

    /// The executable started as `serve`, from the repository root.
    pub fn default_exe(self) -> &'static str {
        match self {
            WsPeer::Node => "scripts/peers/ws-broadcast.mjs",
            WsPeer::Bun => "scripts/peers/bun-broadcast",
        }
    }

    /// The ratios aimed for: highest sustained deliveries/s, then p99 and
    /// server CPU per event at the common load. Twice Node's `ws`; at
    /// least Bun's on all three (issue 18).
    fn goals(self) -> [Option<f64>; 3] {
        match self {
            WsPeer::Node => [Some(2.0), Some(2.0), None],
            WsPeer::Bun => [Some(1.0), Some(1.0), Some(1.0)],
        }
    }

    /// The peer with its versions, or why it cannot run: its runtime and
    /// package are installed beside `exe` by `npm ci --prefix DIR`.
    async fn describe(self, exe: &Path) -> Result<String> {
        let dir = exe.parent().unwrap_or(Path::new("."));
        let missing = |what: &str| {
            Error::Scenario(format!(
                "{what} is not installed beside {} (npm ci --prefix {})",
                exe.display(),
                dir.display()
            ))
        };
        let package = |name: &str| {
            std::fs::read(dir.join("node_modules").join(name).join("package.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["version"].as_str().map(str::to_owned))
        };
        match self {
            WsPeer::Node => {
                let node = version_of("node", "--version")
                    .await
                    .ok_or_else(|| Error::Scenario("`node` is not installed".to_owned()))?;
                let ws = package("ws").ok_or_else(|| missing("the Node `ws` package"))?;
                Ok(format!("Node {node} + ws {ws} broadcast server"))
            }
            WsPeer::Bun => {
                // The launcher runs $BUN, else the npm package's binary.
                let bun = std::env::var("BUN")
                    .unwrap_or_else(|_| dir.join("node_modules/.bin/bun").display().to_string());
                let version = version_of(&bun, "--version")
                    .await
                    .ok_or_else(|| missing("`bun` (the npm package `bun`)"))?;
                Ok(format!("Bun {version} Bun.serve pub/sub broadcast server"))
            }
        }
    }
}

impl std::str::FromStr for WsPeer {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        WsPeer::ALL
            .into_iter()
            .find(|p| p.key() == s)
            .ok_or_else(|| format!("unknown peer `{s}` (known: node, bun)"))
    }
}

/// The fan-out comparisons, in rounds: per round one capacity search
/// against `pushbench serve` and one against each peer, in turn; then per
/// peer and round both at 90 % of the lower of the two median sustained
/// rates. A peer that cannot run is skipped with its reason; the others go
/// on.
async fn fan_out(
    opts: &PeersOptions,
    outcome: &mut PeersOutcome,
    progress: &mut (dyn FnMut(&Progress) + Send),
    note: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    let mut peers = Vec::new();
    for (peer, exe) in &opts.ws_peers {
        match peer.describe(exe).await {
            Ok(described) => peers.push(Peer {
                peer: *peer,
                exe,
                described,
                found: Vec::new(),
                failed: None,
            }),
            Err(e) => outcome.skipped.push(format!(
                "WebSocket fan-out against {}: {e}",
                peer.short_name()
            )),
        }
    }
    if peers.is_empty() {
        return Ok(());
    }
    let scenario = Scenario {
        transports: vec![Transport::Ws],
        clients: vec![opts.ws_clients],
        payload: opts.payload,
        duration_s: opts.ws_seconds,
        warmup_s: 1.0,
        ramp_up_s: 0.5,
        ..Scenario::default()
    };
    let fan = FanOut {
        opts,
        scenario: &scenario,
    };
    let rounds = opts.ws_rounds.max(1);
    let mut ours = Vec::new();
    for round in 1..=rounds {
        let ours_exe = (opts.pushbench_exe.as_path(), &opts.serve_args[..]);
        let folder = round_folder("ws-capacity-pushbench", round);
        ours.push(
            fan.capacity(&folder, ours_exe, outcome, progress, note)
                .await?,
        );
        for peer in peers.iter_mut().filter(|p| p.failed.is_none()) {
            let folder = round_folder(&format!("ws-capacity-{}", peer.peer.key()), round);
            match fan
                .capacity(&folder, (peer.exe, &[]), outcome, progress, note)
                .await
            {
                Ok(found) => peer.found.push(found),
                Err(Error::Interrupted) => return Err(Error::Interrupted),
                Err(e) => peer.failed = Some(e),
            }
        }
    }
    for peer in peers {
        if let Some(e) = peer.failed {
            outcome.skipped.push(format!(
                "WebSocket fan-out against {}: {e}",
                peer.peer.short_name()
            ));
            continue;
        }
        match fan.against(&ours, &peer, outcome, progress, note).await {
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => outcome.skipped.push(format!(
                "WebSocket fan-out against {}: {e}",
                peer.peer.short_name()
            )),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// A round's folder: the name itself for the first round, `NAME-R` after.
fn round_folder(name: &str, round: u32) -> String {
    if round == 1 {
        name.to_owned()
    } else {
        format!("{name}-{round}")
    }
}

/// A peer of the fan-out, with what its searches found.
#[derive(Debug)]
struct Peer<'a> {
    peer: WsPeer,
    exe: &'a Path,
    described: String,
    /// Each round's (highest sustained rate, deliveries/s there).
    found: Vec<(f64, f64)>,
    /// Why a search failed; the peer is then left out.
    failed: Option<Error>,
}

/// The load every fan-out run shares.
#[derive(Debug)]
struct FanOut<'a> {
    opts: &'a PeersOptions,
    scenario: &'a Scenario,
}

impl FanOut<'_> {
    /// The capacity search against `exe` with its extra `serve` arguments
    /// (written to `folder`): its highest sustained rate and deliveries
    /// per second.
    async fn capacity(
        &self,
        folder: &str,
        (exe, extra_args): (&Path, &[String]),
        outcome: &mut PeersOutcome,
        progress: &mut (dyn FnMut(&Progress) + Send),
        note: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(f64, f64)> {
        if interrupted(self.opts) {
            return Err(Error::Interrupted);
        }
        note(&format!(
            "peers: WebSocket fan-out capacity search: {folder}"
        ));
        let run = find_capacity(
            CapacityOptions {
                scenario: self.scenario.clone(),
                source: ServerSource::Child {
                    exe: exe.to_path_buf(),
                    extra_args: extra_args.to_vec(),
                },
                policy: self.opts.ws_policy.clone(),
                criteria: None,
                max_p99_ms: self.opts.max_p99_ms,
                load_points: Vec::new(),
                load_point_duration_s: self.opts.ws_seconds,
                interrupt: self.opts.interrupt.clone(),
                emulated: None,
                target_pid: None,
            },
            progress,
            &mut |s| {
                note(&format!(
                    "peers: {folder} @ {} ev/s x {}: {:.0} deliveries/s, p99 {:.1} ms{}",
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
        .await?;
        let found = run
            .result
            .capacity
            .as_ref()
            .and_then(|c| c.transports.first())
            .map(|t| (t.max_rate, t.max_delivered_per_second));
        outcome.runs.push((folder.to_owned(), run));
        match found {
            Some((Some(rate), delivered)) => Ok((rate, delivered)),
            _ => Err(Error::Scenario(format!(
                "no rate was sustained (see {folder}/)"
            ))),
        }
    }

    /// One phase of `exe` (with its extra `serve` arguments) at `rate`
    /// (folder `FOLDER`).
    async fn phase_at(
        &self,
        rate: f64,
        (folder, exe, extra_args): (String, &Path, &[String]),
        outcome: &mut PeersOutcome,
        progress: &mut (dyn FnMut(&Progress) + Send),
        note: &mut (dyn FnMut(&str) + Send),
    ) -> Result<PhaseResult> {
        let n = self.opts.ws_clients;
        note(&format!(
            "peers: WebSocket fan-out at {rate} ev/s x {n}: {folder}"
        ));
        let run = run_scenario(
            RunOptions {
                scenario: Scenario {
                    rates: vec![rate],
                    ..self.scenario.clone()
                },
                source: ServerSource::Child {
                    exe: exe.to_path_buf(),
                    extra_args: extra_args.to_vec(),
                },
                interrupt: self.opts.interrupt.clone(),
                outage_grace: crate::backoff::DEFAULT_GIVE_UP,
                emulated: None,
                target_pid: None,
            },
            progress,
        )
        .await?;
        let phase = run.result.phases.first().cloned().ok_or_else(|| {
            Error::Scenario(format!(
                "{folder}: the common-load phase measured nothing: {}",
                run.result.error.clone().unwrap_or_default()
            ))
        })?;
        outcome.runs.push((folder, run));
        Ok(phase)
    }

    /// `pushbench serve` (each round's sustained rate and deliveries/s in
    /// `ours`) against one peer (its searches done): per round both at
    /// 90 % of the lower of the two median sustained rates, alternating;
    /// three comparisons of medians.
    async fn against(
        &self,
        ours: &[(f64, f64)],
        peer: &Peer<'_>,
        outcome: &mut PeersOutcome,
        progress: &mut (dyn FnMut(&Progress) + Send),
        note: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let opts = self.opts;
        let key = peer.peer.key();
        let rates = |found: &[(f64, f64)]| median(&found.iter().map(|f| f.0).collect::<Vec<_>>());
        let common = (rates(ours).min(rates(&peer.found)) * 0.9).max(1.0).round();
        let mine = format!("ws-common-pushbench-vs-{key}");
        let mut phases = (Vec::new(), Vec::new());
        for round in 1..=opts.ws_rounds.max(1) {
            let ours_run = (
                round_folder(&mine, round),
                opts.pushbench_exe.as_path(),
                &opts.serve_args[..],
            );
            phases.0.push(
                self.phase_at(common, ours_run, outcome, progress, note)
                    .await?,
            );
            let theirs_run = (
                round_folder(&format!("ws-common-{key}"), round),
                peer.exe,
                &[][..],
            );
            phases.1.push(
                self.phase_at(common, theirs_run, outcome, progress, note)
                    .await?,
            );
        }
        let described = peer.described.as_str();
        let delivered = |found: &[(f64, f64)]| found.iter().map(|f| f.1).collect::<Vec<_>>();
        let (ours_delivered, theirs_delivered) = (delivered(ours), delivered(&peer.found));
        let serve: String = opts.serve_args.iter().map(|a| format!(" {a}")).collect();
        let n = opts.ws_clients;
        let [goal_rate, goal_p99, goal_cpu] = peer.peer.goals();
        let vs = peer.peer.short_name();
        outcome.result.comparisons.push(comparison(
            (
                &format!("WebSocket fan-out to {n} clients: highest sustained deliveries/s"),
                &format!("ws fan-out deliveries/s vs {vs}"),
            ),
            "deliveries/s",
            true,
            "pushbench serve",
            (&ours_delivered, &theirs_delivered),
            described,
            goal_rate,
            format!(
                "`pushbench capacity --transports ws --clients {n} --payload {} --duration {}` \
                 against `pushbench serve{serve}` and the peer (a fresh one per rate; doubling from {} ev/s, then {} \
                 bisection steps; sustained = nothing missed or failed, >= 98 % delivered in \
                 the window, p99 < {} ms), {} rounds, servers in turn, medians compared; \
                 folders ws-capacity-pushbench*/ and ws-capacity-{key}*/",
                opts.payload,
                opts.ws_seconds,
                opts.ws_policy.start_rate,
                opts.ws_policy.refine_steps,
                opts.max_p99_ms,
                opts.ws_rounds.max(1)
            ),
        ));
        let method = format!(
            "`pushbench run --transports ws --clients {n} --rate {common} --payload {} \
             --duration {}` against `pushbench serve{serve}` and the peer (90 % of the lower \
             of the two median sustained rates), once per round; folders {mine}*/ and \
             ws-common-{key}*/",
            opts.payload, opts.ws_seconds
        );
        let name = format!("WebSocket fan-out, {common} ev/s to {n} clients");
        let p99 = |side: &[PhaseResult]| -> Vec<f64> {
            side.iter().map(|p| p.latency_us.p99 as f64 / 1e3).collect()
        };
        let cpu = |side: &[PhaseResult]| -> Vec<f64> {
            side.iter().map(|p| p.server.cpu_us_per_event).collect()
        };
        for (what, label, metric, (a, b), goal) in [
            (
                "p99 latency",
                "p99",
                "p99 ms",
                (p99(&phases.0), p99(&phases.1)),
                goal_p99,
            ),
            (
                "server CPU per delivered event",
                "server CPU/event",
                "CPU µs/event",
                (cpu(&phases.0), cpu(&phases.1)),
                goal_cpu,
            ),
        ] {
            outcome.result.comparisons.push(comparison(
                (&format!("{name}: {what}"), &format!("ws {label} vs {vs}")),
                metric,
                false,
                "pushbench serve",
                (&a, &b),
                described,
                goal,
                method.clone(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real output of Debian's wrk 4.1.0 and h2load 1.52.0 against
    /// `pushbench serve --rate 0` (h2load's progress lines left out).
    const WRK: &str = "Running 3s test @ http://127.0.0.1:37475/poll?since=0
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   837.31us  684.87us  12.71ms   89.61%
    Req/Sec    31.08k     6.64k   46.27k    73.33%
  185518 requests in 3.00s, 24.95MB read
Requests/sec:  61802.03
Transfer/sec:      8.31MB
";

    const H2LOAD: &str = "starting benchmark...
Application protocol: http/1.1
finished in 3.00s, 55621.33 req/s, 7.48MB/s
requests: 166864 total, 166914 started, 166864 done, 166864 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 166864 2xx, 0 3xx, 0 4xx, 0 5xx
";

    #[test]
    fn ws_peers_are_named_by_their_keys() {
        for peer in WsPeer::ALL {
            assert_eq!(peer.key().parse::<WsPeer>(), Ok(peer));
            assert!(peer.default_exe().starts_with("scripts/peers/"));
        }
        let err = "deno".parse::<WsPeer>().expect_err("unknown");
        assert!(err.contains("deno") && err.contains("node, bun"), "{err}");
    }

    #[test]
    fn tool_outputs_parse() {
        assert_eq!(parse_wrk(WRK), Some(61802.03));
        assert_eq!(parse_h2load(H2LOAD), Some(55621.33));
        assert_eq!(parse_wrk("garbage"), None);
        assert_eq!(parse_h2load("finished in 5.00s, lots req/s"), None);
        // A rate that counts failures is no figure to compare.
        let failing_wrk = WRK.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        assert_eq!(parse_wrk(&failing_wrk), None);
        let failing_h2load = H2LOAD.replace("0 failed, 0 errored", "3 failed, 0 errored");
        assert_eq!(parse_h2load(&failing_h2load), None);
    }
}
