//! `pushbench model`: the analytic bandwidth of each technique, beside the
//! measured figures of a results file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use pushbench_report::model::{self, ModelInput};

use crate::flags::{decimal, whole};

/// Options of `pushbench model`. The defaults are the classic comparison:
/// 1,000 / 10,000 / 100,000 clients, one event per second, 871 header bytes
/// per poll, polled every second, no payload.
#[derive(Debug, Parser)]
pub struct Args {
    /// Client counts, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = model::CLASSIC_CLIENTS, value_parser = whole::<u64>(1, u64::MAX), allow_negative_numbers = true)]
    pub clients: Vec<u64>,
    /// Events per second each client receives.
    #[arg(long, default_value_t = 1.0, value_parser = decimal(0.0, pushbench_loadgen::scenario::MAX_RATE, "events per second"), allow_negative_numbers = true)]
    pub rate: f64,
    /// HTTP request plus response header bytes of one exchange.
    #[arg(long, default_value_t = model::CLASSIC_HEADER_BYTES, value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub header_bytes: u64,
    /// Payload bytes per event.
    #[arg(long, default_value_t = 0, value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub payload: u64,
    /// Milliseconds between two short polls of one client.
    #[arg(long, default_value_t = 1_000, value_parser = whole::<u64>(1, u64::MAX), allow_negative_numbers = true)]
    pub poll_interval_ms: u64,
    /// A `results.json` (or its folder) whose measured bytes per event are
    /// shown beside the model.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
}

/// Prints the model table.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.clients.is_empty() {
        bail!("--clients needs at least one client count");
    }
    let measured = match &args.results {
        Some(path) => Some(
            pushbench_report::load_results(path)
                .with_context(|| format!("reading measured figures from {}", path.display()))?,
        ),
        None => None,
    };
    let base = ModelInput {
        clients: 0,
        events_per_second: args.rate,
        header_bytes: args.header_bytes,
        payload_bytes: args.payload,
        poll_interval_s: args.poll_interval_ms as f64 / 1_000.0,
    };
    println!(
        "model: {} event(s)/s per client, {} header bytes per HTTP exchange, {} payload bytes, \
         short polls every {} ms",
        args.rate, args.header_bytes, args.payload, args.poll_interval_ms
    );
    println!(
        "short-poll: headers on every poll plus payload; long-poll: one exchange per event; \
         stream/sse/ws: framing per event\n"
    );
    print!(
        "{}",
        model::model_table(&args.clients, &base, measured.as_ref()).to_text()
    );
    if measured.is_some() {
        println!(
            "\nmeasured B/event counts every byte both ways (headers, framing, JSON envelope, \
             payload, control, connection setup) at the run's own rate and poll interval; \
             the model counts only the technique's own cost."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_classic_example() {
        let args = Args::parse_from(["model"]);
        assert_eq!(args.clients, vec![1_000, 10_000, 100_000]);
        assert_eq!((args.rate, args.header_bytes, args.payload), (1.0, 871, 0));
        run(args).expect("model runs");
    }

    #[test]
    fn client_lists_and_results_are_accepted_and_bad_input_refused() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../report/tests/fixtures/results.json"
        );
        let args = Args::parse_from([
            "model",
            "--clients",
            "50,500",
            "--rate",
            "20",
            "--results",
            fixture,
        ]);
        assert_eq!(args.clients, vec![50, 500]);
        run(args).expect("model with results");
        assert!(Args::try_parse_from(["model", "--rate=-1"]).is_err());
        assert!(
            run(Args::parse_from([
                "model",
                "--results",
                "/nonexistent/results.json"
            ]))
            .is_err()
        );
    }
}
