//! Header profiles as a user runs them: `trace --headers`, a real `run`
//! sweeping `--headers minimal,browser` against a child `serve
//! --response-headers browser` (results, summary and report show the
//! profiles), and header files that would break the framing refused with
//! the file and line named.

use clap::Parser;
use pushbench_cli::{Cli, Command as Sub};
use pushbench_protocol::HeaderProfile;

use crate::support::{pushbench, quick_run, reliability, scratch};

fn trace(extra: &[&str]) -> String {
    let cli = Cli::parse_from(["pushbench", "trace", "--events", "1"].iter().chain(extra));
    let Sub::Trace(args) = cli.command else {
        panic!("not a trace");
    };
    pushbench_cli::trace::output(&args, false).expect("trace")
}

#[test]
fn trace_shows_the_browser_profile_on_both_sides() {
    let profile = ["--headers", "browser", "--response-headers", "browser"];
    let poll = trace(&[&["-t", "short-poll"][..], &profile].concat());
    for line in [
        "request_headers   User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
        r#"request_headers   sec-ch-ua: "Not:A-Brand";v="8", "Chromium";v="156""#,
        "request_headers   Cookie: session=",
        "response_headers  strict-transport-security: max-age=63072000",
    ] {
        assert!(poll.contains(line), "no `{line}` in\n{poll}");
    }
    // The WebSocket library writes header names in lower case (same bytes).
    let ws = trace(&[&["-t", "ws"][..], &profile].concat()).to_ascii_lowercase();
    for line in [
        "handshake         origin: http://127.0.0.1:",
        "handshake         sec-websocket-extensions: permessage-deflate; client_max_window_bits",
        "handshake         x-content-type-options: nosniff",
    ] {
        assert!(ws.contains(line), "no `{line}` in\n{ws}");
    }
    assert!(
        !ws.contains("sec-ch-ua"),
        "Chromium sends no client hints on an upgrade:\n{ws}"
    );
}

#[test]
fn a_run_sweeps_header_profiles_into_results_and_report() {
    let dir = scratch("run-headers");
    let (stdout, result) = quick_run(
        &[
            "--transports",
            "short-poll,sse",
            "--headers",
            "minimal,browser:512",
            "--response-headers",
            "browser",
            "--clients",
            "2",
            "--rate",
            "20",
        ],
        &dir,
    );
    assert!(stdout.contains("short-poll browser:512"), "{stdout}");
    let profiles: Vec<String> = result
        .phases
        .iter()
        .map(|p| p.headers.to_string())
        .collect();
    assert_eq!(
        profiles,
        ["minimal", "minimal", "browser:512", "browser:512"]
    );
    assert_eq!(result.scenario.response_headers, HeaderProfile::BROWSER);
    let (minimal, browser) = (&result.phases[0], &result.phases[2]);
    // Every poll carries Chromium's headers and a 512-byte cookie.
    let per_poll = |p: &pushbench_protocol::results::PhaseResult| {
        p.setup_traffic.sent.request_headers as f64 / p.connections.opened as f64
    };
    assert!(per_poll(browser) - per_poll(minimal) > 900.0, "{browser:?}");
    assert!(browser.derived.bytes_per_event > minimal.derived.bytes_per_event);
    let report = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(report.contains("## Header profiles"), "{report}");
    assert!(
        report.contains("| sse | 2 | 20 | browser:512 |"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn header_files_that_would_break_the_framing_are_refused() {
    let dir = scratch("bad-headers");
    let cases = [
        (
            "a Host line",
            "# mine\nX-App: 1\nHost: evil.example\n",
            "line 3",
            "may not be set",
        ),
        (
            "a Content-Length line",
            "Content-Length: 10\n",
            "line 1",
            "may not be set",
        ),
        (
            "a line without a colon",
            "X-App 1\n",
            "line 1",
            "not `Name: value`",
        ),
        (
            "a CR inside a value",
            "X-App: a\rInjected: b\n",
            "line 1",
            "a CR",
        ),
    ];
    for (case, text, line, why) in cases {
        let file = dir.join("headers.txt");
        std::fs::write(&file, text).expect("write");
        let path = file.to_str().expect("utf-8");
        for (command, flag) in [("run", "--headers"), ("serve", "--response-headers")] {
            let mut cmd = pushbench();
            cmd.arg(command).args([flag, path]);
            if command == "serve" {
                cmd.args(["--addr", "127.0.0.1:0"]);
            } else {
                cmd.args(["--duration", "1"]);
            }
            let out = cmd.output().expect("run pushbench");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command} accepted {case}");
            for needle in [path, line, why] {
                assert!(
                    stderr.contains(needle),
                    "{command} {case}: no `{needle}` in {stderr}"
                );
            }
            assert!(
                stderr.contains(flag),
                "{command} {case}: no `{flag}` in {stderr}"
            );
            reliability(
                "input/cli",
                &format!("pushbench {command} {flag} FILE with {case} ({line})"),
                "refused, names the flag, the file and the line",
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
