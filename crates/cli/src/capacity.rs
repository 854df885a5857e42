//! `pushbench capacity`: the highest event rate each transport sustains on
//! this machine, then the latency at fractions of it.
//!
//! Takes every `pushbench run` flag for the shape of the phases; `--rate`
//! is where the search starts, and `--threshold`s, when given, replace the
//! default criteria of a sustained phase.

use std::io::IsTerminal as _;

use anyhow::bail;
use clap::Parser;
use pushbench_loadgen::capacity_search::{
    CapacityOptions, SearchPolicy, StepReport, find_capacity,
};

use pushbench_loadgen::scenario::{MAX_RATE, MAX_SECONDS};

use crate::flags::{above_zero, decimal, whole};
use crate::progress::progress_printer;
use crate::run::{finish, measure};

/// `pushbench capacity` options.
#[derive(Debug, Parser)]
// The flattened run options already form the group `Args`.
#[group(id = "capacity_args")]
pub struct Args {
    /// The phases' shape (one client count); `--rate` is the search's first rate.
    #[command(flatten)]
    pub run: crate::run::Args,
    /// Never try above this many events per second.
    #[arg(long, default_value_t = 100_000.0, value_name = "EV_PER_S", value_parser = above_zero(MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub max_rate: f64,
    /// Bisection steps after the first failing rate (each halves the interval).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = whole::<u32>(0, 30), allow_negative_numbers = true)]
    pub refine: u32,
    /// p99 latency bound of a sustained phase, milliseconds (short polling adds its poll interval).
    #[arg(long, default_value_t = 100.0, value_name = "MS", value_parser = above_zero(3_600_000.0, "milliseconds"), allow_negative_numbers = true)]
    pub max_p99: f64,
    /// Fractions of the highest sustained rate to measure afterwards (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,0.9",
        value_name = "FRACTIONS",
        value_parser = above_zero(1.0, "a fraction"),
        allow_negative_numbers = true
    )]
    pub load_points: Vec<f64>,
    /// Measured seconds of each load-point phase.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = decimal(0.1, MAX_SECONDS, "seconds"), allow_negative_numbers = true)]
    pub load_duration: f64,
}

/// Runs `pushbench capacity`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.run.segment.is_some() || args.run.start_at.is_some() {
        bail!("--segment: a capacity search runs in one process; shard a `pushbench run` instead");
    }
    if args.run.target.is_some() {
        bail!("--target: a capacity search starts its own server at every rate; drop --target");
    }
    // Before the path is opened: a search compares rates on one path.
    if args.run.scenario()?.link.len() > 1 {
        bail!("--link: a capacity search runs over one link; give one profile");
    }
    let mut setup = args.run.setup()?;
    // One client count; the search chooses the rates.
    if args.run.clients.is_none() && args.run.scenario.is_none() {
        setup.scenario.clients = vec![100];
    }
    let start_rate = match setup.scenario.rates.as_slice() {
        [r] if *r > 0.0 => *r,
        _ if args.run.rate.is_none() => SearchPolicy::default().start_rate,
        _ => bail!("--rate: give one rate above 0, where the search starts"),
    };
    let criteria = (!setup.thresholds.is_empty()).then(|| setup.thresholds.clone());
    let opts = CapacityOptions {
        scenario: setup.scenario.clone(),
        source: setup.source.clone(),
        policy: SearchPolicy {
            start_rate,
            max_rate: args.max_rate,
            refine_steps: args.refine,
            ..SearchPolicy::default()
        },
        criteria,
        max_p99_ms: args.max_p99,
        load_points: args.load_points.clone(),
        load_point_duration_s: args.load_duration,
        interrupt: None,
        emulated: setup.emulated.clone(),
        target_pid: setup.target_pid,
    };
    let outcome = measure(move |interrupt| async move {
        let opts = CapacityOptions { interrupt, ..opts };
        let mut progress = progress_printer(std::io::stderr().is_terminal());
        let mut steps = |s: &StepReport| eprintln!("{}", step_line(s));
        find_capacity(opts, &mut progress, &mut steps).await
    })?;
    // The criteria judged every step already: a failing step is the search
    // working, not a violation.
    finish(&args.run, &setup, outcome, &[])
}

/// One line per step: `ws @ 320 ev/s: 32,000 deliveries/s, p99 2.1 ms, held`.
fn step_line(s: &StepReport) -> String {
    let p = &s.phase;
    let verdict = if s.failed.is_empty() {
        "held".to_owned()
    } else {
        format!("not sustained: {}", s.failed.join("; "))
    };
    format!(
        "capacity: {} {} @ {} ev/s x {} clients: {:.0} deliveries/s, p99 {:.1} ms, {verdict}",
        p.transport,
        s.kind,
        p.rate,
        p.clients,
        p.derived.events_per_second,
        p.latency_us.p99 as f64 / 1e3,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_flags_name_themselves() {
        for (argv, says) in [
            (vec!["--target", "http://127.0.0.1:1"], "--target"),
            (vec!["--rate", "1,2"], "--rate"),
        ] {
            let args = Args::parse_from(std::iter::once("capacity").chain(argv.iter().copied()));
            let err = run(args).expect_err("must fail");
            assert!(format!("{err:#}").contains(says), "{argv:?}: {err:#}");
        }
    }
}
