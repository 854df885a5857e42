//! `pushbench model`: the analytic bandwidth of each technique, beside the
//! measured figures of a results file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use pushbench_report::model::{self, Costs, Load};

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
    /// HTTP request plus response header bytes of one exchange (unused
    /// with `--results`, whose measured costs replace it).
    #[arg(long, default_value_t = model::CLASSIC_HEADER_BYTES, value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub header_bytes: u64,
    /// Payload bytes per event (unused with `--results`).
    #[arg(long, default_value_t = 0, value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub payload: u64,
    /// Milliseconds between two short polls of one client.
    #[arg(long, default_value_t = 1_000, value_parser = whole::<u64>(1, u64::MAX), allow_negative_numbers = true)]
    pub poll_interval_ms: u64,
    /// Seconds a long poll is held before an empty answer.
    #[arg(long, default_value_t = 30, value_parser = whole::<u64>(1, u64::MAX), allow_negative_numbers = true)]
    pub longpoll_timeout_s: u64,
    /// A `results.json` (or its folder) whose measured costs per exchange
    /// and per event the model uses instead of `--header-bytes` and
    /// `--payload`.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
}

/// Prints the classic table, then the model with the given or measured
/// costs at the given load.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.clients.is_empty() {
        bail!("--clients needs at least one client count");
    }
    let costs = match &args.results {
        Some(path) => {
            let result = pushbench_report::load_results(path)
                .with_context(|| format!("reading measured figures from {}", path.display()))?;
            let label = pushbench_report::results_file(path).display().to_string();
            let costs = Costs::measured(&result, &label);
            if costs.is_empty() {
                bail!("{label} delivered no event: nothing to take costs from");
            }
            costs
        }
        None => Costs::analytic(args.header_bytes, args.payload),
    };
    let load = Load {
        clients: 0,
        events_per_second: args.rate,
        poll_interval_s: args.poll_interval_ms as f64 / 1_000.0,
        longpoll_timeout_s: args.longpoll_timeout_s as f64,
    };
    println!(
        "The classic table (Lubbers and Greco): {} B of heads per poll against {} B per \
         WebSocket frame, one message per second per client; Mbit/s of 2^20 bits as the \
         paper counts them, and SI.\n",
        model::CLASSIC_HEADER_BYTES,
        model::CLASSIC_FRAME_BYTES
    );
    print!("{}", model::classic_table(&args.clients).to_text());
    println!(
        "\nThis model: costs {}; {} event(s)/s per client, short polls every {} ms ({} \
         event(s) per poll), long polls held {} s.",
        costs.source,
        args.rate,
        args.poll_interval_ms,
        pushbench_report::number_format::format_decimal(load.events_per_poll()),
        args.longpoll_timeout_s
    );
    println!(
        "short-poll: B/exchange at every poll, empty or not, plus B/event per event; \
         long-poll: one exchange per event (an upper bound: at high rates an answer carries a \
         batch), one per hold timeout without events; stream/sse/ws: B/event only.\n"
    );
    print!(
        "{}",
        model::model_table(&args.clients, &load, &costs).to_text()
    );
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
        assert_eq!(
            (args.poll_interval_ms, args.longpoll_timeout_s),
            (1_000, 30)
        );
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
