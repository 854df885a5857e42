//! The docs against the repository: every generated figure equals its
//! source, every relative link and image resolves, and every run folder a
//! doc cites is committed with its results (`pushbench docs --check`).

use std::path::{Path, PathBuf};
use std::process::Command;

use pushbench_cli::docs;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_generated_figure_equals_its_source() {
    let findings = docs::check(&root(), false).expect("the docs render");
    assert!(
        findings.stale.is_empty(),
        "figures differ from their sources in {:?}; run `pushbench docs --write`",
        findings.stale
    );
    assert!(
        findings.missing_sources.is_empty(),
        "blocks whose source is missing: {:?}",
        findings.missing_sources
    );
}

#[test]
fn every_relative_link_and_image_resolves() {
    let findings = docs::check(&root(), false).expect("the docs render");
    assert!(
        findings.broken_links.is_empty(),
        "broken: {:?}",
        findings.broken_links
    );
}

/// The files git tracks under `folder`, or `None` without git or a checkout.
fn tracked(folder: &str) -> Option<Vec<String>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["ls-files", "--", folder])
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let files = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    Some(files)
}

#[test]
fn every_cited_run_is_committed_with_its_results() {
    let root = root();
    let mut runs = Vec::new();
    for doc in docs::docs_in(&root).expect("the docs are listed") {
        let text = std::fs::read_to_string(&doc).expect("a doc reads");
        for run in pushbench_report::doc_figures::cited_runs(&text) {
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
    }
    assert!(
        runs.iter().any(|r| r.ends_with("-reference")),
        "cited: {runs:?}"
    );
    let in_git = tracked("bench-results").is_some_and(|files| !files.is_empty());
    for run in &runs {
        let folder = format!("bench-results/{run}");
        let has_results = if in_git {
            tracked(&folder)
                .unwrap_or_default()
                .iter()
                .any(|f| f.ends_with("/results.json") || f.ends_with("/peers.json"))
        } else {
            let findings = docs::check(&root, false).expect("the docs render");
            !findings
                .runs_without_results
                .iter()
                .any(|r| r.ends_with(&folder))
        };
        assert!(
            has_results,
            "{folder} is cited but has no committed results.json or peers.json"
        );
    }
}

/// What a trace's byte counts are: every row's count and class, every
/// other line whole, without the first two lines (the server's address and
/// the legend). Dates, `created_us`, ports and WebSocket keys differ from
/// run to run; these do not.
fn trace_counts(trace: &str) -> Vec<String> {
    trace
        .lines()
        .skip(2)
        .map(|line| {
            if line.starts_with(' ') {
                line.split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// The recorded trace in `doc` that follows the line `command`, to the end
/// of its code block.
fn trace_excerpt(doc: &str, command: &str) -> String {
    let text = std::fs::read_to_string(root().join(doc)).expect("a doc reads");
    let at = text
        .find(command)
        .unwrap_or_else(|| panic!("{doc}: no `{command}`"));
    let after = &text[at + command.len()..];
    let after = after.strip_prefix('\n').unwrap_or(after);
    after.split("```").next().unwrap_or_default().to_owned()
}

/// The technique pages' traces are recorded outputs of `pushbench trace`:
/// their byte counts are the golden files' (which the trace tests compare
/// with the current output).
#[test]
fn the_technique_pages_traces_count_what_the_golden_files_do() {
    for (transport, page) in [
        ("short-poll", "docs/short-polling.md"),
        ("long-poll", "docs/long-polling.md"),
        ("stream", "docs/http-streaming.md"),
        ("sse", "docs/sse.md"),
        ("ws", "docs/websocket.md"),
    ] {
        let excerpt = trace_excerpt(page, &format!("$ pushbench trace --transport {transport}"));
        let golden = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden")
                .join(format!("trace-{transport}.txt")),
        )
        .expect("a golden file reads");
        assert_eq!(
            trace_counts(&excerpt),
            trace_counts(&golden),
            "{page}: its trace's byte counts differ from the golden file's"
        );
    }
}

/// `pushbench trace` with these arguments, as printed.
fn trace_output(extra: &[&str]) -> String {
    let cli = <pushbench_cli::Cli as clap::Parser>::parse_from(
        ["pushbench", "trace"].iter().chain(extra),
    );
    let pushbench_cli::Command::Trace(args) = cli.command else {
        panic!("`trace` parsed as another command");
    };
    pushbench_cli::trace::output(&args, false).expect("a trace")
}

/// The rows of a trace's first `client -> server` part: (bytes, text).
fn first_request(trace: &str) -> Vec<(u64, String)> {
    trace
        .split("\n\n")
        .find(|part| part.starts_with("client -> server"))
        .expect("a request")
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let bytes = words.next()?.parse().ok()?;
            let _class = words.next()?;
            Some((bytes, words.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// classic-claim.md's browser poll, header by header, is what `pushbench
/// trace -t short-poll --events 1 --payload 128 --headers browser` prints.
#[test]
fn the_classic_claims_browser_poll_counts_what_the_trace_prints() {
    let minimal: u64 = first_request(&trace_output(&["-t", "short-poll", "--events", "1"]))
        .iter()
        .map(|(bytes, _)| bytes)
        .sum();
    let browser = first_request(&trace_output(&[
        "-t",
        "short-poll",
        "--events",
        "1",
        "--payload",
        "128",
        "--headers",
        "browser",
    ]));
    let named = |prefixes: &[&str]| -> u64 {
        browser
            .iter()
            .filter(|(_, text)| {
                prefixes
                    .iter()
                    .any(|p| text.to_ascii_lowercase().starts_with(p))
            })
            .map(|(bytes, _)| bytes)
            .sum()
    };
    let head: u64 = browser.iter().map(|(bytes, _)| bytes).sum();
    let cookie = named(&["cookie:"]);
    let expected = format!(
        "the request head grows from {minimal} to **{head} bytes**: `User-Agent` {}, the client \
         hints (`sec-ch-ua*`) {}, the `Sec-Fetch-*` headers {}, `Accept-Encoding` and \
         `Accept-Language` {}, `Referer` {}, `Connection: keep-alive` {}, and the cookie \
         {cookie} ({} bytes without it).",
        named(&["user-agent:"]),
        named(&["sec-ch-ua"]),
        named(&["sec-fetch-"]),
        named(&["accept-encoding:", "accept-language:"]),
        named(&["referer:"]),
        named(&["connection:"]),
        head - cookie,
    );
    let doc = std::fs::read_to_string(root().join("docs/classic-claim.md")).expect("reads");
    let prose = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        prose.contains(&expected),
        "classic-claim.md should say: {expected}"
    );
}

/// matrix.md's HTTP/2 trace is what `pushbench trace --transport sse
/// --http 2 --redact` prints today, to the byte count.
#[test]
fn the_matrix_pages_http2_trace_counts_what_the_trace_prints() {
    let excerpt = trace_excerpt("docs/matrix.md", "```text");
    assert!(
        excerpt.starts_with("pushbench trace: Server-Sent Events, GET /sse over HTTP/2"),
        "matrix.md's first text block is no longer the HTTP/2 SSE trace: {excerpt}"
    );
    let trace = trace_output(&["--transport", "sse", "--http", "2", "--redact"]);
    assert_eq!(trace_counts(&excerpt), trace_counts(&trace));
}
