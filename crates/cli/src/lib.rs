//! The `pushbench` command line. `main.rs` parses [`Cli`] and calls
//! [`main_with`]; tests call [`run()`] with `Cli::parse_from(..)` directly.
//!
//! # Layout
//! - [`serve`]: `pushbench serve`, the push server in the foreground.
//! - [`mod@run`]: `pushbench run`, the measurement itself.
//! - [`capacity`]: `pushbench capacity`, the highest sustained rate per transport.
//! - [`peers`]: `pushbench peers`, pushbench beside wrk, h2load and Node `ws`.
//! - [`servers`]: `pushbench servers`, `pushbench serve` beside nginx +
//!   Nchan, Pushpin, Socket.IO, Bun and Node `ws`, per technique.
//! - [`merge`]: `pushbench merge`, the shards of a run (`run --segment
//!   I/N`) added into one result.
//! - [`report`]: `pushbench report`, charts and reports from a results file.
//! - [`compare`]: `pushbench compare`, two runs side by side.
//! - [`model`]: `pushbench model`, the analytic bandwidth per technique.
//! - [`trace`]: `pushbench trace`, one exchange's bytes annotated by class.
//! - [`docs`]: `pushbench docs`, the docs' figures from the committed runs.
//! - [`logging`]: the `tracing` subscriber (`RUST_LOG`, default `info`).
//! - `progress`: the progress display (`indicatif` on a terminal, plain
//!   phase lines otherwise) of `run`, `capacity`, `peers` and `servers`.
//! - [`flags`]: value parsers for numeric flags, whose messages say what
//!   is allowed.
//! - [`link_path`]: `--link`: the profile parser and [`link_path::open_path`],
//!   which opens the emulated network path a non-loopback link runs over.
//!
//! Each subcommand is a module with an `Args` struct and a
//! `run(args) -> anyhow::Result<()>` that calls a library crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod capacity;
pub mod compare;
pub mod docs;
pub mod flags;
pub mod link_path;
pub mod logging;
pub mod merge;
pub mod model;
pub mod peers;
mod progress;
pub mod report;
pub mod run;
pub mod serve;
pub mod servers;
pub mod trace;

/// Measure and teach server push: short polling, long polling, HTTP
/// streaming, Server-Sent Events and WebSocket on one live event stream.
#[derive(Debug, Parser)]
#[command(name = "pushbench", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the push server (all five transports on one event hub).
    Serve(serve::Args),
    /// Measure every push technique against a server and write the results.
    // Boxed: the run options are much larger than the other variants.
    Run(Box<run::Args>),
    /// Find the highest event rate each transport sustains, then measure latency at fractions of it.
    // Boxed like `Run`: it holds the run options.
    Capacity(Box<capacity::Args>),
    /// Compare pushbench with wrk, h2load and Node ws and Bun servers, as ratios measured in one run.
    Peers(peers::Args),
    /// Compare pushbench serve with nginx + Nchan, Pushpin, Socket.IO, Bun and Node ws, per technique, in one run.
    Servers(Box<servers::Args>),
    /// Add the results of a run's shards (`run --segment I/N`) into one, as if one generator had run.
    Merge(merge::Args),
    /// Write charts (SVG, PNG), report.md and report.html from a results file.
    Report(report::Args),
    /// Compare two results, per phase and figure; optionally fail on regressions.
    Compare(compare::Args),
    /// The analytic bandwidth each technique needs, beside measured figures.
    Model(model::Args),
    /// Run one real exchange and print every byte on the wire, annotated by class.
    Trace(trace::Args),
    /// Write (or check) the figures of README.md and docs/ from the committed runs.
    Docs(docs::Args),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Run(args) => run::run(*args),
        Command::Capacity(args) => capacity::run(*args),
        Command::Peers(args) => peers::run(args),
        Command::Servers(args) => servers::run(*args),
        Command::Merge(args) => merge::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Model(args) => model::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Docs(args) => docs::run(args),
    }
}

/// Raises the open-files soft limit to the hard limit: every connection is a
/// file, and the usual soft limit of 1,024 is far below what a push server or
/// load generator needs. Failure is not fatal; the limit then shows as errors.
pub fn raise_open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            eprintln!("pushbench: warning: could not raise the open-files limit: {err}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft)
        }
    }
}

/// Runs `cli`, prints an error with its causes, and maps it to an exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    logging::init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pushbench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
