//! `pushbench run --target` records the rate the target really published:
//! its own generator's rate from `/stats`, or, when it has none and its
//! events come from publishers, the measured publish rate of each window;
//! in `results.json`, the CSV, the histogram file names and the summary.

use std::path::Path;
use std::time::Duration;

use pushbench_loadgen::control_client::ControlClient;
use pushbench_protocol::RunResult;
use pushbench_protocol::results::RateSource;
use serde_json::Value;

use crate::support::{Server, checked_results, quick_run, scratch};

/// Runs 7 clients of SSE and WebSocket against `server` (any `extra` run
/// flags), in a blocking task so the test's runtime keeps publishing.
async fn run_against(server: &Server, extra: &[&str], out: &Path) -> (String, RunResult, Value) {
    let target = format!("http://{}", server.addr);
    let mut args: Vec<String> = [
        "--target",
        &target,
        "--clients",
        "7",
        "--transports",
        "sse,ws",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let dir = out.to_owned();
    let (stdout, result) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        quick_run(&args, &dir)
    })
    .await
    .expect("the run's task");
    let json = checked_results(out);
    (stdout, result, json)
}

/// Every phase's rate as the CSV's `rate` column has it.
fn csv_rates(out: &Path) -> Vec<String> {
    let csv = std::fs::read_to_string(out.join("results.csv")).expect("results.csv");
    let mut lines = csv.lines();
    let column = lines
        .next()
        .and_then(|head| head.split(',').position(|c| c == "rate"))
        .expect("a rate column");
    lines
        .map(|row| row.split(',').nth(column).expect("rate").to_owned())
        .collect()
}

/// Each phase's histogram log is named with its rate and exists.
fn assert_histogram_names(out: &Path, result: &RunResult) {
    for (index, phase) in result.phases.iter().enumerate() {
        let name = format!(
            "latency-{:02}-{}-7c-{}eps.hlog",
            index + 1,
            phase.transport,
            phase.rate
        );
        assert_eq!(phase.histogram_log.as_deref(), Some(name.as_str()));
        assert!(out.join(&name).is_file(), "{name} written");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_a_generator_records_its_rate_not_the_scenarios() {
    let server = Server::start(&["--rate", "37", "--payload", "32"]);
    let out = scratch("target-generator");
    // A sweep asked for: the target has one rate, so the run measures once.
    let (stdout, result, json) = run_against(&server, &["--rate", "5,20"], &out).await;
    assert!(result.complete, "{:?}", result.error);
    assert_eq!(
        result.phases.len(),
        2,
        "one phase per transport, not per rate"
    );
    for phase in &result.phases {
        assert_eq!(
            (phase.rate, phase.rate_source),
            (37.0, RateSource::Target),
            "{}",
            phase.transport
        );
        assert!(phase.events.delivered > 0, "{}", phase.transport);
    }
    for phase in json["phases"].as_array().expect("phases") {
        assert_eq!(phase["rate_source"], "target", "{phase}");
    }
    assert_eq!(csv_rates(&out), ["37", "37"]);
    assert_histogram_names(&out, &result);
    assert!(out.join("latency-01-sse-7c-37eps.hlog").is_file());
    assert!(
        stdout.contains("note: Rates are the target's own generator rate (37 ev/s)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// The pace of the test's own publisher: 50 events per second.
const PUBLISH_EVERY: Duration = Duration::from_millis(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_without_a_generator_records_the_measured_publish_rate() {
    let server = Server::start(&["--rate", "0", "--payload", "32"]);
    let control = ControlClient::new(server.addr);
    let publisher = tokio::spawn(async move {
        // A missed tick is published at once, so the pace holds on average.
        let mut pace = tokio::time::interval(PUBLISH_EVERY);
        loop {
            pace.tick().await;
            if let Err(e) = control.publish("t0", b"payload").await {
                return e.to_string();
            }
        }
    });
    let out = scratch("target-measured");
    let (stdout, result, json) = run_against(&server, &[], &out).await;
    publisher.abort();
    assert!(result.complete, "{:?}", result.error);
    assert_eq!(result.phases.len(), 2);
    let pace = 1.0 / PUBLISH_EVERY.as_secs_f64();
    for phase in &result.phases {
        assert_eq!(
            phase.rate_source,
            RateSource::Measured,
            "{}",
            phase.transport
        );
        // Generous bounds: this checks which rate is recorded, not a speed.
        assert!(
            (0.4 * pace..=1.6 * pace).contains(&phase.rate),
            "{}: measured {} ev/s, publishing {pace}",
            phase.transport,
            phase.rate
        );
        assert!(phase.events.delivered > 0, "{}", phase.transport);
    }
    for phase in json["phases"].as_array().expect("phases") {
        assert_eq!(phase["rate_source"], "measured", "{phase}");
    }
    let rates: Vec<String> = result.phases.iter().map(|p| p.rate.to_string()).collect();
    assert_eq!(csv_rates(&out), rates);
    assert_histogram_names(&out, &result);
    assert!(
        stdout.contains("note: Rates are the measured publish rate"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
