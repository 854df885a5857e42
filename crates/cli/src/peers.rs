//! `pushbench peers`: pushbench side by side with `wrk`, `h2load --h1` and
//! the broadcast servers of `scripts/peers/` (Node `ws`, Bun), each
//! comparison a ratio measured in this one run; writes `peers.json`,
//! `peers.md`, a chart, every pushbench run behind the figures and the
//! tools' raw output.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use pushbench_loadgen::capacity_search::SearchPolicy;
use pushbench_loadgen::peer_runs::{PeersOptions, WsPeer, run_peers};
use pushbench_loadgen::{machine, output};

use pushbench_loadgen::scenario::MAX_PAYLOAD;

use crate::flags::whole;
use crate::progress::progress_printer;

/// `pushbench peers` options.
#[derive(Debug, Parser)]
pub struct Args {
    /// Output folder (default: bench-results/DATE-peers/, the UTC date).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Connections of the short-polling comparison (the same for every tool).
    #[arg(
        long,
        default_value_t = 50,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub connections: u32,
    /// Seconds each tool polls per round.
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub poll_duration: f64,
    /// Rounds of the polling comparison (tools alternate; medians compared).
    #[arg(
        long,
        default_value_t = 3,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub rounds: u32,
    /// WebSocket clients of the fan-out comparison.
    #[arg(
        long,
        default_value_t = 100,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub ws_clients: u32,
    /// Measured seconds of each fan-out phase.
    #[arg(
        long,
        default_value_t = 4.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub ws_duration: f64,
    /// First rate of the fan-out capacity searches, events per second.
    #[arg(
        long,
        default_value_t = 25.0,
        value_name = "EV_PER_S",
        allow_negative_numbers = true
    )]
    pub ws_start_rate: f64,
    /// Highest rate the fan-out searches may try, events per second.
    #[arg(
        long,
        default_value_t = 100_000.0,
        value_name = "EV_PER_S",
        allow_negative_numbers = true
    )]
    pub ws_max_rate: f64,
    /// Bisection steps of each fan-out search.
    #[arg(
        long,
        default_value_t = 3,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub ws_refine: u32,
    /// Rounds of the fan-out: per round every server's capacity is searched
    /// once, in turn, and each pair runs once at the common load; medians
    /// are compared.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = whole::<u32>(1, 20), allow_negative_numbers = true)]
    pub ws_rounds: u32,
    /// An extra argument of the measured `pushbench serve` (repeatable),
    /// e.g. `--serve-arg=--workers=1` to run it on one thread like Bun.
    #[arg(long = "serve-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// p99 bound of a sustained fan-out phase, milliseconds.
    #[arg(
        long,
        default_value_t = 100.0,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub max_p99: f64,
    /// Payload bytes per event.
    #[arg(long, default_value_t = 128, value_name = "BYTES", value_parser = whole::<usize>(0, MAX_PAYLOAD), allow_negative_numbers = true)]
    pub payload: usize,
    /// The broadcast servers the WebSocket fan-out is compared with, in
    /// order: `node` (Node + `ws`), `bun` (`Bun.serve` pub/sub).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "node,bun",
        value_name = "PEERS"
    )]
    pub ws_peers: Vec<WsPeer>,
    /// The Node `ws` broadcast server (needs `npm ci --prefix scripts/peers`).
    #[arg(long, default_value = WsPeer::Node.default_exe(), value_name = "PATH")]
    pub node_server: PathBuf,
    /// The Bun broadcast server's launcher (needs `npm ci --prefix scripts/peers`).
    #[arg(long, default_value = WsPeer::Bun.default_exe(), value_name = "PATH")]
    pub bun_server: PathBuf,
    /// Skip the WebSocket fan-out comparison.
    #[arg(long)]
    pub no_fan_out: bool,
    /// The wrk executable.
    #[arg(long, default_value = "wrk", value_name = "PATH")]
    pub wrk: String,
    /// The h2load executable.
    #[arg(long, default_value = "h2load", value_name = "PATH")]
    pub h2load: String,
    /// The `pushbench` executable whose `serve` is measured (default: this one).
    #[arg(long, value_name = "PATH")]
    pub server_exe: Option<PathBuf>,
}

impl Args {
    fn options(&self) -> anyhow::Result<PeersOptions> {
        for (flag, v) in [
            ("--connections", self.connections),
            ("--rounds", self.rounds),
            ("--ws-clients", self.ws_clients),
        ] {
            if v == 0 {
                bail!("{flag}: must be at least 1");
            }
        }
        for (flag, v, lo) in [
            ("--poll-duration", self.poll_duration, 1.0),
            ("--ws-duration", self.ws_duration, 0.1),
            ("--ws-start-rate", self.ws_start_rate, 0.1),
            ("--ws-max-rate", self.ws_max_rate, 0.1),
            ("--max-p99", self.max_p99, 0.001),
        ] {
            if !(v.is_finite() && (lo..=1e9).contains(&v)) {
                bail!("{flag}: must be a number between {lo} and 1e9, got {v}");
            }
        }
        if self.ws_max_rate < self.ws_start_rate {
            bail!("--ws-max-rate: must be at least --ws-start-rate");
        }
        let mut ws_peers = Vec::new();
        let selected = if self.no_fan_out {
            &[][..]
        } else {
            &self.ws_peers
        };
        for &peer in selected {
            let (flag, exe) = match peer {
                WsPeer::Node => ("--node-server", &self.node_server),
                WsPeer::Bun => ("--bun-server", &self.bun_server),
            };
            if !exe.is_file() {
                bail!(
                    "{flag}: {} does not exist (run from the repository root, or leave `{}` \
                     out of --ws-peers)",
                    exe.display(),
                    peer.key()
                );
            }
            if !ws_peers.iter().any(|(p, _)| *p == peer) {
                ws_peers.push((peer, exe.clone()));
            }
        }
        let pushbench_exe = match &self.server_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe().context("finding the pushbench executable")?,
        };
        Ok(PeersOptions {
            pushbench_exe,
            ws_peers,
            wrk: self.wrk.clone(),
            h2load: self.h2load.clone(),
            poll_connections: self.connections,
            poll_seconds: self.poll_duration,
            rounds: self.rounds,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get() as u32),
            ws_clients: self.ws_clients,
            ws_seconds: self.ws_duration,
            ws_policy: SearchPolicy {
                start_rate: self.ws_start_rate,
                max_rate: self.ws_max_rate,
                refine_steps: self.ws_refine,
                ..SearchPolicy::default()
            },
            ws_rounds: self.ws_rounds,
            serve_args: self.serve_args.clone(),
            max_p99_ms: self.max_p99,
            payload: self.payload,
            interrupt: None,
        })
    }
}

/// Runs `pushbench peers`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = args.options()?;
    crate::raise_open_files_limit();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("bench-results").join(format!("{}-peers", &machine::now_rfc3339()[..10]))
    });
    let outcome = crate::run::measure(move |interrupt| async move {
        let opts = PeersOptions { interrupt, ..opts };
        let mut progress = progress_printer(std::io::stderr().is_terminal());
        let mut note = |line: &str| eprintln!("{line}");
        run_peers(opts, &mut progress, &mut note).await
    })?;
    for (name, mut run) in outcome.runs {
        let dir = out.join(&name);
        output::write_run(&dir, &mut run).with_context(|| format!("writing {}", dir.display()))?;
        if let Err(e) = pushbench_report::write_report(&run.result, &dir) {
            eprintln!("pushbench: warning: no report for {}: {e}", dir.display());
        }
    }
    output::write_peers(&out, &outcome.result, &outcome.logs)?;
    pushbench_report::peer_report::write_peers_report(&outcome.result, &outcome.skipped, &out)
        .context("writing the peers report")?;
    println!(
        "{}",
        pushbench_report::peer_report::peers_table(&outcome.result).to_text()
    );
    for s in &outcome.skipped {
        println!("not compared: {s}");
    }
    println!("peers: {}", out.join("peers.md").display());
    if outcome.result.comparisons.is_empty() {
        bail!(
            "no comparison could be made: {}",
            outcome.skipped.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_flags_name_themselves() {
        for (argv, says) in [
            (vec!["--connections", "0"], "--connections"),
            (vec!["--poll-duration", "0.1"], "--poll-duration"),
            (vec!["--ws-max-rate", "1"], "--ws-max-rate"),
            (vec!["--node-server", "/nonexistent.mjs"], "--node-server"),
            (
                vec!["--ws-peers", "bun", "--bun-server", "/nonexistent"],
                "--bun-server",
            ),
            (vec!["--ws-peers", "deno"], "--ws-peers"),
        ] {
            let err = match Args::try_parse_from(std::iter::once("peers").chain(argv.clone())) {
                Ok(args) => format!("{:#}", args.options().expect_err("must fail")),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(says), "{argv:?}: {err}");
        }
    }
}
