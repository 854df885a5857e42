//! `pushbench servers`: `pushbench serve` side by side with the servers of
//! the other target kinds (nginx + Nchan, Pushpin, Socket.IO, Bun, Node +
//! `ws`), every technique each offers, in one run; writes `servers.json`,
//! `servers.md`, a chart per technique and of the ratios, and every run
//! behind the figures in its own folder.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use pushbench_loadgen::capacity_search::SearchPolicy;
use pushbench_loadgen::runner::RunOutcome;
use pushbench_loadgen::scenario::{MAX_PAYLOAD, MAX_RATE, MAX_SECONDS};
use pushbench_loadgen::server_runs::{ServersHooks, ServersOptions, run_servers};
use pushbench_loadgen::{machine, output};
use pushbench_protocol::{TargetKind, Transport};

use crate::flags::{above_zero, decimal, whole};
use crate::progress::progress_printer;

/// `pushbench servers` options.
#[derive(Debug, Parser)]
pub struct Args {
    /// The servers compared with `pushbench serve` (comma-separated:
    /// nchan,pushpin,socketio,bun,node-ws), each started by
    /// `TARGETS_DIR/<kind>/start`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "nchan,pushpin,socketio,bun,node-ws",
        value_name = "KINDS"
    )]
    pub kinds: Vec<TargetKind>,
    /// Techniques to measure (comma-separated); each server runs those it offers.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "short-poll,long-poll,stream,sse,ws",
        value_name = "TRANSPORTS"
    )]
    pub transports: Vec<Transport>,
    /// Clients of every phase.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = whole::<u32>(1, 1_000_000), allow_negative_numbers = true)]
    pub clients: u32,
    /// The common load's rate, events per second (default: 90 % of the
    /// lowest highest-sustained rate of each technique's servers; 50
    /// with --no-capacity).
    #[arg(long, value_name = "EV_PER_S", value_parser = above_zero(MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Rounds at the common load (the servers' order rotates each round;
    /// medians are compared).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = whole::<u32>(1, 100), allow_negative_numbers = true)]
    pub rounds: u32,
    /// Payload bytes per event.
    #[arg(long, default_value_t = 128, value_name = "BYTES", value_parser = whole::<usize>(0, MAX_PAYLOAD), allow_negative_numbers = true)]
    pub payload: usize,
    /// Measured seconds of each phase.
    #[arg(long, default_value_t = 4.0, value_name = "SECONDS", value_parser = decimal(0.1, MAX_SECONDS, "seconds"), allow_negative_numbers = true)]
    pub duration: f64,
    /// Run the capacity searches (the default).
    #[arg(long, overrides_with = "no_capacity")]
    pub capacity: bool,
    /// Skip the capacity searches: only the common load.
    #[arg(long, overrides_with = "capacity")]
    pub no_capacity: bool,
    /// p99 bound of a sustained phase, milliseconds (short polling adds its poll interval).
    #[arg(long, default_value_t = 100.0, value_name = "MS", value_parser = above_zero(3_600_000.0, "milliseconds"), allow_negative_numbers = true)]
    pub max_p99: f64,
    /// Bisection steps of each capacity search.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = whole::<u32>(0, 30), allow_negative_numbers = true)]
    pub refine: u32,
    /// First rate of the capacity searches, events per second.
    #[arg(long, default_value_t = 25.0, value_name = "EV_PER_S", value_parser = above_zero(MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub start_rate: f64,
    /// Highest rate the capacity searches may try, events per second.
    #[arg(long, default_value_t = 20_000.0, value_name = "EV_PER_S", value_parser = above_zero(MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub max_rate: f64,
    /// Where each kind's start script is: `DIR/<kind>/start`.
    #[arg(long, default_value = "scripts/targets", value_name = "DIR")]
    pub targets_dir: PathBuf,
    /// Output folder (default: bench-results/DATE-servers/, the UTC date).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The `pushbench` executable whose `serve` is measured (default: this one).
    #[arg(long, value_name = "PATH")]
    pub server_exe: Option<PathBuf>,
}

impl Args {
    fn options(&self) -> anyhow::Result<ServersOptions> {
        if self.max_rate < self.start_rate {
            bail!(
                "--max-rate: must be at least --start-rate ({})",
                self.start_rate
            );
        }
        let mut kinds: Vec<(TargetKind, PathBuf)> = Vec::new();
        for &kind in &self.kinds {
            if kind.is_pushbench() || kinds.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            kinds.push((kind, self.targets_dir.join(kind.name()).join("start")));
        }
        // Each once, in the order they are run.
        let transports: Vec<Transport> = Transport::ALL
            .into_iter()
            .filter(|t| self.transports.contains(t))
            .collect();
        let pushbench_exe = match &self.server_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe().context("finding the pushbench executable")?,
        };
        Ok(ServersOptions {
            pushbench_exe,
            kinds,
            transports,
            clients: self.clients,
            rate: self.rate,
            rounds: self.rounds,
            payload: self.payload,
            duration_s: self.duration,
            capacity: !self.no_capacity,
            policy: SearchPolicy {
                start_rate: self.start_rate,
                max_rate: self.max_rate,
                refine_steps: self.refine,
                ..SearchPolicy::default()
            },
            max_p99_ms: self.max_p99,
            interrupt: None,
        })
    }
}

/// Runs `pushbench servers`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = args.options()?;
    crate::raise_open_files_limit();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("bench-results").join(format!("{}-servers", &machine::now_rfc3339()[..10]))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let runs_dir = out.clone();
    let result = crate::run::measure(move |interrupt| async move {
        let opts = ServersOptions { interrupt, ..opts };
        let mut progress = progress_printer(std::io::stderr().is_terminal());
        let mut note = |line: &str| eprintln!("{line}");
        let mut run_done = |name: &str, mut run: RunOutcome| {
            let dir = runs_dir.join(name);
            if let Err(e) = output::write_run(&dir, &mut run) {
                eprintln!("pushbench: warning: could not write {}: {e}", dir.display());
            } else if let Err(e) = pushbench_report::write_report(&run.result, &dir) {
                eprintln!("pushbench: warning: no report for {}: {e}", dir.display());
            }
        };
        let mut hooks = ServersHooks {
            progress: &mut progress,
            note: &mut note,
            run_done: &mut run_done,
        };
        run_servers(opts, &mut hooks).await
    })?;
    output::write_servers(&out, &result).context("writing servers.json")?;
    pushbench_report::server_report::write_servers_report(&result, &out)
        .context("writing the servers report")?;
    println!(
        "{}",
        pushbench_report::server_report::servers_table(&result).to_text()
    );
    for s in &result.servers {
        if let Some(why) = &s.skipped {
            println!("not measured: {}: {why}", s.title);
        }
    }
    println!("servers: {}", out.join("servers.md").display());
    if result.comparisons.is_empty() {
        bail!(
            "no server could be compared with pushbench serve (see {})",
            out.join("servers.md").display()
        );
    }
    if let Some(e) = &result.error {
        bail!(
            "the run stopped early: {e}; what was measured is in {}",
            out.display()
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
            (vec!["--kinds", "deno"], "--kinds"),
            (vec!["--transports", "carrier-pigeon"], "--transports"),
            (vec!["--clients", "0"], "--clients"),
            (vec!["--rate", "0"], "--rate"),
            (vec!["--rounds", "0"], "--rounds"),
            (vec!["--duration", "0"], "--duration"),
            (vec!["--max-rate", "10", "--start-rate", "20"], "--max-rate"),
        ] {
            let err = match Args::try_parse_from(std::iter::once("servers").chain(argv.clone())) {
                Ok(args) => format!("{:#}", args.options().expect_err("must fail")),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(says), "{argv:?}: {err}");
        }
    }

    #[test]
    fn kinds_become_start_scripts_and_pushbench_is_always_the_reference() {
        let args = Args::try_parse_from([
            "servers",
            "--kinds",
            "pushbench,nchan,nchan,node-ws",
            "--targets-dir",
            "t",
            "--no-capacity",
        ])
        .expect("parse");
        let opts = args.options().expect("options");
        assert_eq!(
            opts.kinds,
            vec![
                (TargetKind::Nchan, PathBuf::from("t/nchan/start")),
                (TargetKind::NodeWs, PathBuf::from("t/node-ws/start")),
            ]
        );
        assert!(!opts.capacity);
        assert_eq!(opts.transports, Transport::ALL.to_vec());
    }
}
