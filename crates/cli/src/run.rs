//! `pushbench run`: measure every push technique and write the results.
//!
//! Flags override the scenario file, which overrides the defaults
//! ([`Scenario::default`], a matrix that finishes in about a minute).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use pushbench_loadgen::runner::{RunOptions, RunOutcome, files_needed};
use pushbench_loadgen::scenario::{
    MAX_BURST, MAX_PAYLOAD, MAX_POLL_INTERVAL_MS, MAX_RATE, MAX_SECONDS, MAX_TOPICS,
};
use pushbench_loadgen::shard::{Segment, ShardPlan};
use pushbench_loadgen::threshold::{Threshold, violations};
use pushbench_loadgen::{ServerSource, machine, output, scenario};
use pushbench_protocol::{
    ContentCoding, HeaderProfile, HttpVersion, LinkProfile, Scenario, TargetKind, Transport,
};

use crate::flags::{above_zero, decimal, whole};
use crate::link_path::{ServerSide, emulated_path};
use crate::progress::progress_printer;

/// `pushbench run` options.
#[derive(Debug, Parser)]
pub struct Args {
    /// TOML scenario file (any subset of the scenario's fields; flags override it).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Transports to measure (comma-separated: short-poll,long-poll,stream,sse,ws).
    #[arg(long, value_delimiter = ',')]
    pub transports: Option<Vec<Transport>>,
    /// Concurrent clients per phase (comma-separated to sweep).
    #[arg(long, value_delimiter = ',', value_parser = whole::<u32>(1, u32::MAX.into()), allow_negative_numbers = true)]
    pub clients: Option<Vec<u32>>,
    /// Events per second the started server publishes (comma-separated to
    /// sweep); a --target publishes at its own rate.
    #[arg(long, value_delimiter = ',', value_parser = decimal(0.0, MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub rate: Option<Vec<f64>>,
    /// Events the started server publishes back to back, in groups of N
    /// spaced N/rate seconds apart (the average rate stays --rate; 1 =
    /// evenly spaced).
    #[arg(long, value_name = "N", value_parser = whole::<u32>(1, MAX_BURST), allow_negative_numbers = true)]
    pub burst: Option<u32>,
    /// Payload bytes per event.
    #[arg(long, value_parser = whole::<usize>(0, MAX_PAYLOAD), allow_negative_numbers = true)]
    pub payload: Option<usize>,
    /// Topics the generator spreads events over.
    #[arg(long, value_parser = whole::<u32>(1, MAX_TOPICS), allow_negative_numbers = true)]
    pub topics: Option<u32>,
    /// Measured seconds per phase.
    #[arg(long, value_parser = above_zero(MAX_SECONDS, "seconds"), allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Seconds per phase before measuring.
    #[arg(long, value_parser = decimal(0.0, MAX_SECONDS, "seconds"), allow_negative_numbers = true)]
    pub warmup: Option<f64>,
    /// Seconds over which a phase's clients connect.
    #[arg(long, value_parser = decimal(0.0, MAX_SECONDS, "seconds"), allow_negative_numbers = true)]
    pub ramp_up: Option<f64>,
    /// Milliseconds between short polls (0: back to back, as fast as the server answers).
    #[arg(long, value_parser = whole::<u64>(0, MAX_POLL_INTERVAL_MS), allow_negative_numbers = true)]
    pub poll_interval: Option<u64>,
    /// Seconds the server may hold a long poll (at most 300, the longest
    /// hold `pushbench serve` allows).
    #[arg(long, value_parser = whole::<u64>(1, scenario::max_longpoll_timeout_s()), allow_negative_numbers = true)]
    pub longpoll_timeout: Option<u64>,
    /// WebSocket clients ask for binary frames.
    #[arg(long)]
    pub ws_binary: bool,
    /// Spread the clients over N loopback source addresses, 127.0.0.1 to
    /// 127.0.0.N, round robin (0: the system's choice until one address runs
    /// out of ports).
    #[arg(long, value_name = "N", value_parser = whole::<u8>(0, 254), allow_negative_numbers = true)]
    pub source_addresses: Option<u8>,
    /// Request header profiles, one phase each (comma-separated to sweep):
    /// `minimal` (request line and host), `browser` (Chromium 156's headers
    /// with a 256-byte cookie), `browser:N` (an N-byte cookie) or a file of
    /// `Name: value` lines.
    #[arg(long, value_delimiter = ',', value_name = "PROFILE")]
    pub headers: Option<Vec<HeaderProfile>>,
    /// The started server's response header profile: `minimal`, `browser`
    /// (a production site's security and caching headers) or a file.
    #[arg(long, value_name = "PROFILE")]
    pub response_headers: Option<HeaderProfile>,
    /// Plaintext or TLS (https, wss), one phase each (comma-separated to
    /// sweep): `off`, `on`, `off,on`; `--tls` alone is `on`. The started
    /// server gets a self-signed certificate, which the clients pin.
    #[arg(long, value_delimiter = ',', value_name = "off|on", value_parser = parse_on_off, num_args = 0..=1, default_missing_value = "on")]
    pub tls: Option<Vec<bool>>,
    /// HTTP/1.1 keep-alive of short and long polling, one phase each
    /// (comma-separated to sweep): `on` (the default) asks again on the
    /// same connection; `off` sends every poll with `Connection: close` on
    /// a new TCP connection (HTTP/1.0 style). Streaming transports hold
    /// one connection either way: they run once, recorded as `on`.
    /// `off` needs `--http 1.1`.
    #[arg(long, value_delimiter = ',', value_name = "on|off", value_parser = parse_on_off)]
    pub keep_alive: Option<Vec<bool>>,
    /// HTTP versions, one phase each (comma-separated to sweep): `1.1`,
    /// `2` (h2c with prior knowledge in plaintext, ALPN `h2` over TLS,
    /// WebSocket by extended CONNECT), `1.1,2`.
    #[arg(long, value_delimiter = ',', value_name = "1.1|2", value_parser = parse_http)]
    pub http: Option<Vec<HttpVersion>>,
    /// HTTP/2 clients per connection, each on its own stream (clients
    /// 0..K share the first connection, and so on); HTTP/1.1 phases keep
    /// one client per connection.
    #[arg(long, value_name = "K", value_parser = whole::<u32>(1, pushbench_loadgen::h2_client::MAX_H2_STREAMS.into()), allow_negative_numbers = true)]
    pub h2_streams: Option<u32>,
    /// Content codings the clients ask for, one phase each (comma-separated
    /// to sweep): `identity` (or `off`), `gzip`, `br`, e.g.
    /// `identity,gzip,br`. The started server compresses with the coded
    /// ones; WebSocket phases run at identity only (its frames are never
    /// coded: no permessage-deflate on this stack).
    #[arg(long, value_delimiter = ',', value_name = "CODINGS", value_parser = parse_coding)]
    pub compression: Option<Vec<ContentCoding>>,
    /// The network path, one sweep of every other phase each (repeat the
    /// flag or separate with `;` to sweep): `loopback` (the default, no
    /// emulation), `lan`, `cable`, `4g`, `3g`, `satellite`, `lossy`, or
    /// `key=value` parts (`rtt=40ms,jitter=2ms,down=10mbit,up=2mbit,loss=1%,queue=100`),
    /// or a name with parts (`3g,loss=1%`). Any link but `loopback` runs
    /// the clients and the server in network namespaces of their own
    /// (needs root); with --target, the clients reach it at the host's end
    /// of the link.
    #[arg(long, value_delimiter = ';', value_name = "PROFILE", value_parser = crate::link_path::parse_link)]
    pub link: Option<Vec<LinkProfile>>,
    /// Measure a running server (http://host:port) instead of starting one;
    /// the phases record its generator rate from /stats, or the measured
    /// publish rate when it has none. Several URLs, comma-separated (same
    /// scheme), are server nodes sharing one stream (`serve --cluster`):
    /// client i starts on node i mod n and, when its node is down, resumes
    /// from its cursor on the next; each node's /stats gives its own
    /// figures.
    #[arg(long, value_name = "URL[,URL...]", value_parser = parse_target)]
    pub target: Option<String>,
    /// The kind of server --target is: pushbench (default), nchan,
    /// pushpin, socketio, bun or node-ws. Other kinds are published into
    /// by the load generator at the scenario's rate (through their publish
    /// API) and observed from /proc; a technique the kind does not offer
    /// is refused before the run.
    #[arg(long, value_name = "KIND")]
    pub target_kind: Option<TargetKind>,
    /// The process of a --target of another kind whose tree (it and its
    /// children) is the server's CPU and memory; default: the process
    /// listening on the target's port.
    #[arg(long, value_name = "PID", requires = "target_kind")]
    pub target_pid: Option<u32>,
    /// The certificate (PEM) of a --target started with `serve --tls
    /// --tls-cert-out FILE`: its TLS phases pin it.
    #[arg(long, value_name = "FILE")]
    pub target_cert: Option<PathBuf>,
    /// The `pushbench` executable to start as the server (default: this one).
    #[arg(long, value_name = "PATH", value_parser = parse_server_exe)]
    pub server_exe: Option<PathBuf>,
    /// Extra argument for the started `pushbench serve` (repeatable), e.g. `--serve-arg=--skip-every=7`.
    #[arg(long = "serve-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// Output folder (default: bench-results/TIMESTAMP/, a UTC timestamp).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Fail (exit non-zero) when a phase violates this, e.g. `p99<5ms`, `missed=0`, `overhead<1.5` (repeatable).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Skip the charts and report after the run.
    #[arg(long)]
    pub no_report: bool,
    /// Write one JSON line per TCP connection (phase, transport or `control`,
    /// local and server address, socket bytes each way, TCP_INFO segments,
    /// a client's bytes by class) to FILE, to attribute a packet capture
    /// (scripts/verify-wire.sh).
    #[arg(long, value_name = "FILE")]
    pub wire_log: Option<PathBuf>,
    /// Seconds the server may be unreachable (refused connections, /stats
    /// unanswered, e.g. while a --target server restarts) before the run
    /// stops; meanwhile clients reconnect from their cursors with backoff,
    /// and the phase records the outage.
    #[arg(long, value_name = "SECS", default_value_t = pushbench_loadgen::backoff::DEFAULT_GIVE_UP.as_secs_f64(), value_parser = parse_grace)]
    pub outage_grace: f64,
    /// Run shard I of N of the load (0-based: 0/3, 1/3, 2/3, as a
    /// Kubernetes Indexed Job's completion index): a fixed slice of every
    /// phase's clients, against a running --target, on the --start-at
    /// schedule; `pushbench merge` adds the N results into one.
    #[arg(long, value_name = "I/N", value_parser = parse_segment)]
    pub segment: Option<Segment>,
    /// With --segment: when phase 1 starts, on the server's clock, the
    /// same for every shard: Unix seconds or RFC 3339 UTC
    /// (2026-12-04T10:30:00Z). Phase k starts a fixed slot later.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<u64>,
}

/// A `--segment` value.
fn parse_segment(raw: &str) -> Result<Segment, String> {
    raw.parse()
}

/// A `--start-at` value, µs since the Unix epoch.
fn parse_start_at(raw: &str) -> Result<u64, String> {
    pushbench_loadgen::shard::parse_start_at(raw)
}

fn parse_grace(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=3_600.0).contains(&s) => Ok(s),
        _ => Err(format!("expected seconds from 0 to 3600, got `{raw}`")),
    }
}

/// A `--tls` value.
fn parse_on_off(raw: &str) -> Result<bool, String> {
    match raw {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!(
            "expected `on` or `off` (or `off,on` to compare), got `{raw}`"
        )),
    }
}

/// An `--http` value.
fn parse_http(raw: &str) -> Result<HttpVersion, String> {
    raw.parse::<HttpVersion>()
        .map_err(|_| format!("expected `1.1` or `2` (or `1.1,2` to compare), got `{raw}`"))
}

/// A `--compression` value.
fn parse_coding(raw: &str) -> Result<ContentCoding, String> {
    raw.parse::<ContentCoding>().map_err(|e| e.to_string())
}

/// A `--server-exe`: an existing file (whether it runs shows when it starts).
fn parse_server_exe(raw: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(raw);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "expected the path of a pushbench executable, but `{raw}` is no file"
        ))
    }
}

/// A `--target`: one URL or a list of server nodes (`URL1,URL2,...`),
/// checked as the runner will read it.
fn parse_target(raw: &str) -> Result<String, String> {
    match pushbench_loadgen::target::parse_targets(raw) {
        Ok(_) => Ok(raw.to_owned()),
        Err(err) => Err(err.to_string()),
    }
}

impl Args {
    /// The scenario: defaults, then the file, then the flags.
    pub fn scenario(&self) -> anyhow::Result<Scenario> {
        let mut s = match &self.scenario {
            Some(path) => scenario::load(path)?,
            None => Scenario::default(),
        };
        macro_rules! set {
            ($flag:ident => $field:ident) => {
                if let Some(v) = self.$flag.clone() {
                    s.$field = v;
                }
            };
        }
        set!(transports => transports);
        set!(clients => clients);
        set!(rate => rates);
        set!(burst => burst);
        set!(payload => payload);
        set!(topics => topics);
        set!(duration => duration_s);
        set!(warmup => warmup_s);
        set!(ramp_up => ramp_up_s);
        set!(poll_interval => poll_interval_ms);
        set!(longpoll_timeout => longpoll_timeout_s);
        set!(headers => headers);
        set!(response_headers => response_headers);
        set!(source_addresses => source_addresses);
        set!(tls => tls);
        set!(keep_alive => keep_alive);
        set!(http => http);
        set!(h2_streams => h2_streams);
        set!(compression => coding);
        set!(link => link);
        if self.ws_binary {
            s.ws_binary = true;
        }
        if self.target.is_some() {
            s.target = self.target.clone();
        }
        if let Some(kind) = self.target_kind {
            s.target_kind = kind;
        }
        if let Some(cert) = &self.target_cert {
            s.target_cert = Some(cert.display().to_string());
        }
        scenario::validate(&s)?;
        // Header files are read now, so a bad one fails before any server starts.
        pushbench_loadgen::runner::request_profiles(&s)
            .context("--headers (or the scenario's `headers`)")?;
        pushbench_server::response_headers::response_headers(&s.response_headers)
            .map_err(anyhow::Error::msg)
            .context("--response-headers (or the scenario's `response_headers`)")?;
        Ok(s)
    }

    pub(crate) fn thresholds(&self) -> anyhow::Result<Vec<Threshold>> {
        self.thresholds
            .iter()
            .map(|t| {
                t.parse::<Threshold>()
                    .with_context(|| "invalid --threshold")
            })
            .collect()
    }
}

/// Runs `pushbench run`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let setup = args.setup()?;
    let source = setup.source.clone();
    let emulated = setup.emulated.clone();
    let target_pid = setup.target_pid;
    let scenario = setup.scenario.clone();
    if scenario.target.is_some() && !scenario.response_headers.is_minimal() {
        eprintln!(
            "pushbench: warning: --response-headers applies to a server the run starts; \
             the --target server answers with its own headers"
        );
    }
    let shard = args.shard_plan()?;
    let outage_grace = std::time::Duration::from_secs_f64(args.outage_grace);
    let outcome = measure(move |interrupt| async move {
        let opts = RunOptions {
            scenario,
            source,
            interrupt,
            outage_grace,
            emulated,
            target_pid,
        };
        let mut progress = progress_printer(std::io::stderr().is_terminal());
        pushbench_loadgen::runner::run_shard(opts, shard, &mut progress).await
    })?;
    finish(&args, &setup, outcome, &setup.thresholds)
}

/// What a run needs before it starts: checked flags, the scenario, the
/// server and the output folder.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) scenario: Scenario,
    pub(crate) source: ServerSource,
    pub(crate) out: PathBuf,
    pub(crate) thresholds: Vec<Threshold>,
    /// The emulated path of the scenario's links other than `loopback`.
    pub(crate) emulated: Option<std::sync::Arc<dyn pushbench_net::network_path::NetworkPath>>,
    /// The process tree of a `--target` of another kind (`--target-pid`).
    pub(crate) target_pid: Option<u32>,
}

impl Args {
    /// The shard this run is (`--segment`, `--start-at`), checked: a shard
    /// measures a running `--target` and starts on a shared schedule.
    pub(crate) fn shard_plan(&self) -> anyhow::Result<Option<ShardPlan>> {
        let Some(segment) = self.segment else {
            if self.start_at.is_some() {
                bail!("--start-at: only a shard (--segment I/N) runs on a schedule");
            }
            return Ok(None);
        };
        if self.target.is_none() {
            bail!(
                "--segment {segment}: a shard never starts a server; give the running server's --target URL (every shard the same)"
            );
        }
        let Some(start_at_us) = self.start_at else {
            bail!(
                "--segment {segment}: give --start-at TIME (Unix seconds or RFC 3339 UTC, the same for every shard) so the shards start each phase together"
            );
        };
        Ok(Some(ShardPlan {
            segment,
            start_at_us,
            commit: pushbench_loadgen::shard::build_commit(),
        }))
    }

    /// Checks the flags and the open-files limit; finds the server and the
    /// output folder.
    pub(crate) fn setup(&self) -> anyhow::Result<Setup> {
        let thresholds = self.thresholds()?;
        let scenario = self.scenario()?;
        let limit = crate::raise_open_files_limit();
        // A shard opens only its slice of the clients.
        let mut sized = scenario.clone();
        if let Some(segment) = self.segment {
            for c in &mut sized.clients {
                *c = segment.clients(*c, sized.h2_streams).len() as u32 + sized.h2_streams;
            }
        }
        let needed = files_needed(&sized, false);
        if limit > 0 && needed > limit {
            return Err(pushbench_loadgen::Error::TooManyClients {
                clients: u64::from(sized.clients.iter().copied().max().unwrap_or(0)),
                needed,
                limit,
            }
            .into());
        }
        let source = match &scenario.target {
            Some(url) => ServerSource::Target(url.clone()),
            None => ServerSource::Child {
                exe: match &self.server_exe {
                    Some(p) => p.clone(),
                    None => std::env::current_exe().context("finding the pushbench executable")?,
                },
                extra_args: self.serve_args.clone(),
            },
        };
        let side = match &source {
            ServerSource::Target(_) => ServerSide::Host,
            _ => ServerSide::Namespace,
        };
        let emulated = emulated_path(&scenario.link, side)?;
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("bench-results").join(machine::now_folder_stamp()));
        Ok(Setup {
            scenario,
            source,
            out,
            thresholds,
            emulated,
            target_pid: self.target_pid,
        })
    }
}

/// Runs `measure` on a fresh runtime, handing it a receiver that turns true
/// on Ctrl-C (what was measured is then kept and written).
pub(crate) fn measure<T, F, Fut>(measure: F) -> anyhow::Result<T>
where
    F: FnOnce(Option<tokio::sync::watch::Receiver<bool>>) -> Fut,
    Fut: Future<Output = pushbench_loadgen::Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\npushbench: interrupted; writing what was measured");
                let _ = tx.send(true);
            }
        });
        measure(Some(rx)).await
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(outcome)
}

/// Writes what a run measured (results, CSV, histogram logs, the wire log,
/// the report), prints the summary, and fails when the run stopped early or
/// broke a threshold.
pub(crate) fn finish(
    args: &Args,
    setup: &Setup,
    mut outcome: RunOutcome,
    thresholds: &[Threshold],
) -> anyhow::Result<()> {
    let out = &setup.out;
    let results = output::write_run(out, &mut outcome)
        .with_context(|| format!("writing results to {}", out.display()))?;
    if let Some(path) = &args.wire_log {
        output::write_wire_log(path, &outcome.connections)
            .with_context(|| format!("writing the wire log to {}", path.display()))?;
    }
    let result = &outcome.result;
    println!("{}", pushbench_report::terminal_summary(result));
    println!("results: {}", results.display());
    if !args.no_report {
        report_hook(result, out);
    }
    if let Some(error) = &result.error {
        bail!(
            "the run stopped early ({error}); the phases measured so far are in {}",
            results.display()
        );
    }
    let broken = violations(thresholds, &result.phases);
    if !broken.is_empty() {
        for v in &broken {
            eprintln!("pushbench: {v}");
        }
        bail!("{} threshold violation(s)", broken.len());
    }
    Ok(())
}

/// The report hook: charts and reports from the results just written.
/// Owned by the report crate; a failure here never fails the run.
pub(crate) fn report_hook(result: &pushbench_protocol::RunResult, dir: &std::path::Path) {
    match pushbench_report::write_report(result, dir) {
        Ok(files) => println!("report: {} files in {}", files.len(), dir.display()),
        Err(e) => eprintln!("pushbench: warning: the report could not be written: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::progress_line;
    use pushbench_loadgen::phase::Progress;

    fn args(argv: &[&str]) -> Args {
        Args::parse_from(std::iter::once("run").chain(argv.iter().copied()))
    }

    #[test]
    fn no_arguments_is_the_default_matrix() {
        assert_eq!(args(&[]).scenario().expect("scenario"), Scenario::default());
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("pushbench-run-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("s.toml");
        std::fs::write(&file, "clients = [5]\npayload = 16\n").expect("write");
        let s = args(&[
            "--scenario",
            file.to_str().expect("utf8"),
            "--payload",
            "32",
            "--transports",
            "ws,sse",
        ])
        .scenario()
        .expect("scenario");
        assert_eq!(
            (s.clients, s.payload, s.transports),
            (vec![5], 32, vec![Transport::Ws, Transport::Sse])
        );
        std::fs::write(
            &file,
            "headers = \"browser\"\nresponse_headers = \"browser\"\n",
        )
        .expect("write");
        let s = args(&["--scenario", file.to_str().expect("utf8")])
            .scenario()
            .expect("scenario");
        assert_eq!(s.headers, vec![HeaderProfile::BROWSER]);
        assert_eq!(s.response_headers, HeaderProfile::BROWSER);
        let s = args(&[
            "--scenario",
            file.to_str().expect("utf8"),
            "--headers",
            "minimal,browser:0",
        ])
        .scenario()
        .expect("scenario");
        assert_eq!(
            s.headers,
            vec![
                HeaderProfile::Minimal,
                HeaderProfile::Browser { cookie_bytes: 0 }
            ]
        );
        std::fs::write(&file, "clients = [5]\nbogus = 1\n").expect("write");
        let err = args(&["--scenario", file.to_str().expect("utf8")])
            .scenario()
            .expect_err("unknown key");
        assert!(format!("{err:#}").contains("bogus"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_thresholds_name_the_flag() {
        let err = args(&["--threshold", "p99<5 parsecs"])
            .thresholds()
            .expect_err("bad");
        assert!(format!("{err:#}").contains("--threshold"), "{err:#}");
    }

    #[test]
    fn tls_takes_on_off_or_a_sweep() {
        let tls = |argv: &[&str]| args(argv).scenario().expect("scenario").tls;
        assert_eq!(tls(&[]), vec![false]);
        assert_eq!(tls(&["--tls"]), vec![true]);
        assert_eq!(tls(&["--tls", "--clients", "2"]), vec![true]);
        assert_eq!(tls(&["--tls", "off,on"]), vec![false, true]);
        assert_eq!(tls(&["--tls=on"]), vec![true]);
        let err = Args::try_parse_from(["run", "--tls", "maybe"]).expect_err("bad value");
        assert!(err.to_string().contains("--tls"), "{err}");
    }

    #[test]
    fn keep_alive_takes_on_off_or_a_sweep() {
        let s = |argv: &[&str]| args(argv).scenario().map(|s| s.keep_alive);
        assert_eq!(s(&[]).expect("default"), vec![true]);
        assert_eq!(s(&["--keep-alive", "off"]).expect("off"), vec![false]);
        assert_eq!(
            s(&["--keep-alive", "on,off"]).expect("sweep"),
            vec![true, false]
        );
        let err = Args::try_parse_from(["run", "--keep-alive", "maybe"]).expect_err("bad value");
        assert!(err.to_string().contains("--keep-alive"), "{err}");
    }

    #[test]
    fn http_takes_a_version_or_a_sweep_and_h2_streams_a_count() {
        let s = |argv: &[&str]| args(argv).scenario().expect("scenario");
        assert_eq!(s(&[]).http, vec![HttpVersion::Http1]);
        assert_eq!(s(&["--http", "2"]).http, vec![HttpVersion::Http2]);
        let sweep = s(&["--http", "1.1,2", "--h2-streams", "10"]);
        assert_eq!(sweep.http, HttpVersion::ALL.to_vec());
        assert_eq!(sweep.h2_streams, 10);
        let line = progress_line(&Progress {
            phase: 2,
            phases: 4,
            transport: Transport::Sse,
            clients: 20,
            rate: pushbench_loadgen::phase_rate::PhaseRate::scenario(10.0),
            headers: HeaderProfile::Minimal,
            tls: true,
            keep_alive: true,
            http: HttpVersion::Http2,
            h2_streams: 10,
            coding: ContentCoding::Identity,
            link: "loopback".into(),
            stage: "measuring",
            stage_elapsed_s: 0.0,
            stage_length_s: 1.0,
        });
        assert!(line.contains(" tls h2 x10 streams "), "{line}");
        let err = args(&["--h2-streams", "5", "--http", "1.1"])
            .scenario()
            .expect_err("streams over HTTP/1.1");
        assert!(format!("{err:#}").contains("h2_streams"), "{err:#}");
    }

    #[test]
    fn compression_takes_codings_to_sweep() {
        let coding = |argv: &[&str]| args(argv).scenario().expect("scenario").coding;
        assert_eq!(coding(&[]), vec![ContentCoding::Identity]);
        assert_eq!(
            coding(&["--compression", "identity,gzip,br"]),
            ContentCoding::ALL.to_vec()
        );
        assert_eq!(
            coding(&["--compression", "off"]),
            vec![ContentCoding::Identity]
        );
        let err = Args::try_parse_from(["run", "--compression", "zstd"]).expect_err("bad value");
        assert!(err.to_string().contains("--compression"), "{err}");
        let err = args(&["--compression", "gzip", "--transports", "ws"])
            .scenario()
            .expect_err("nothing to measure");
        assert!(format!("{err:#}").contains("coding"), "{err:#}");
    }
}
