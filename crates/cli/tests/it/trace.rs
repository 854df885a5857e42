//! `pushbench trace`: one exchange per transport against the embedded
//! server, compared with the golden files in `tests/golden/` after the
//! values that change from run to run (dates, `created_us`, the port,
//! WebSocket keys and masks) are redacted. `UPDATE_GOLDEN=1 cargo test`
//! rewrites the golden files from the current output.

use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use pushbench_cli::{Cli, Command as Sub};

const TRANSPORTS: [&str; 5] = ["short-poll", "long-poll", "stream", "sse", "ws"];

fn trace_args(extra: &[&str]) -> pushbench_cli::trace::Args {
    let cli = Cli::parse_from(["pushbench", "trace"].iter().chain(extra));
    match cli.command {
        Sub::Trace(args) => args,
        other => panic!("parsed as {other:?}"),
    }
}

fn golden(transport: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("trace-{transport}.txt"))
}

#[test]
fn every_transport_matches_its_golden_trace() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatches = Vec::new();
    for transport in TRANSPORTS {
        let args = trace_args(&["--transport", transport, "--redact"]);
        let text = pushbench_cli::trace::output(&args, false).expect("trace");
        let path = golden(transport);
        if update {
            std::fs::write(&path, &text).expect("write golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        if text != expected {
            mismatches.push(format!(
                "{transport}: output differs from {}\n--- got ---\n{text}",
                path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(UPDATE_GOLDEN=1 cargo test -p pushbench-cli trace rewrites the golden files)",
        mismatches.join("\n")
    );
}

/// Redaction changes text only: the unredacted trace has the same rows with
/// the same byte counts and classes.
#[test]
fn redaction_keeps_every_row_and_count() {
    for transport in ["short-poll", "ws"] {
        let plain =
            pushbench_cli::trace::output(&trace_args(&["-t", transport]), false).expect("trace");
        let redacted =
            pushbench_cli::trace::output(&trace_args(&["-t", transport, "--redact"]), false)
                .expect("trace");
        let shape = |text: &str| -> Vec<String> {
            text.lines()
                .skip(1)
                .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(shape(&plain), shape(&redacted), "{transport}");
        assert_ne!(plain, redacted, "{transport}: nothing was redacted");
    }
}

#[test]
fn extra_headers_are_sent_and_counted_as_request_headers() {
    let args = trace_args(&[
        "-t",
        "short-poll",
        "--events",
        "1",
        "-H",
        "Cookie: session=0123456789abcdef",
    ]);
    let text = pushbench_cli::trace::output(&args, false).expect("trace");
    assert!(
        text.contains("    34  request_headers   Cookie: session=0123456789abcdef\\r\\n"),
        "{text}"
    );
}

#[test]
fn the_binary_prints_no_color_to_a_pipe_and_rejects_bad_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_pushbench"))
        .args(["trace", "--transport", "sse", "--events", "1"])
        .output()
        .expect("run pushbench trace");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!stdout.contains('\x1b'), "colors on a pipe: {stdout}");
    assert!(stdout.contains("bytes by class"), "{stdout}");
    let bad = Command::new(env!("CARGO_BIN_EXE_pushbench"))
        .args(["trace", "--transport", "sse", "--events", "0"])
        .output()
        .expect("run pushbench trace");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--events"));
}
