//! `pushbench merge`: the shards of a run (`run --segment I/N`) added
//! into one result, as if one generator had run
//! ([`pushbench_loadgen::shard_merge`]).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use pushbench_loadgen::output;
use pushbench_loadgen::runner::RunOutcome;
use pushbench_loadgen::shard_merge::{DEFAULT_CLOCK_BOUND_US, merge, read_shard};

use crate::flags::whole;

/// `pushbench merge` options.
#[derive(Debug, Parser)]
pub struct Args {
    /// The shards' output folders (each a `run --segment I/N` with its
    /// results.json and histogram logs), every segment 0/N to N-1/N once.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged results.json, histogram logs and report go.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Flag (in the merged result's warnings and here) a shard whose clock
    /// uncertainty to the server exceeds this many microseconds.
    #[arg(long, value_name = "US", default_value_t = DEFAULT_CLOCK_BOUND_US, value_parser = whole::<u64>(0, 60_000_000), allow_negative_numbers = true)]
    pub clock_bound_us: u64,
    /// Skip the charts and report.
    #[arg(long)]
    pub no_report: bool,
}

/// Runs `pushbench merge`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shards = args
        .dirs
        .iter()
        .map(|dir| read_shard(dir).context("reading a shard"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let count = shards.len();
    let (result, histograms) = merge(shards, args.clock_bound_us).context("merging the shards")?;
    for warning in result.merged.iter().flat_map(|m| &m.warnings) {
        eprintln!("pushbench: warning: {warning}");
    }
    let mut outcome = RunOutcome {
        result,
        histograms,
        connections: Vec::new(),
    };
    let path = output::write_run(&args.out, &mut outcome)
        .with_context(|| format!("writing the merged result to {}", args.out.display()))?;
    println!("{}", pushbench_report::terminal_summary(&outcome.result));
    println!("merged {count} shards: {}", path.display());
    if !args.no_report {
        crate::run::report_hook(&outcome.result, &args.out);
    }
    Ok(())
}
