//! The `pushbench` binary: parse, call the library, map the error.

use clap::Parser;

fn main() -> std::process::ExitCode {
    pushbench_cli::main_with(pushbench_cli::Cli::parse())
}
