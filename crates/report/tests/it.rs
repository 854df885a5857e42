//! Integration tests of the report crate: charts, documents and comparison
//! from the results fixtures, which are real runs: `tests/fixtures` is
//! `pushbench run --clients 20 --rate 20 --duration 4 --warmup 1`, and
//! `tests/fixtures/sweep` the same with `--rate 10,50`.

use std::path::{Path, PathBuf};

use pushbench_protocol::{RunResult, Transport};
use pushbench_report::{compare, load_results, terminal_summary, write_report};

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json")
}

fn fixture() -> RunResult {
    load_results(&fixture_path()).expect("the fixture is a valid results file")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pushbench-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn assert_valid_svg(path: &Path) {
    let text = std::fs::read_to_string(path).expect("read svg");
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(
        doc.root_element().tag_name().name(),
        "svg",
        "{}",
        path.display()
    );
    assert!(
        text.len() > 2_000,
        "{} is suspiciously small",
        path.display()
    );
}

fn assert_valid_png(path: &Path) {
    let bytes = std::fs::read(path).expect("read png");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} has no PNG signature",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert!(
        (400..=4_000).contains(&width),
        "{} width {width}",
        path.display()
    );
    assert!(
        (300..=4_000).contains(&height),
        "{} height {height}",
        path.display()
    );
    assert!(
        bytes.len() > 8_000,
        "{} is only {} bytes",
        path.display(),
        bytes.len()
    );
}

#[test]
fn fixture_round_trips_through_serde() {
    let result = fixture();
    let text = serde_json::to_string(&result).expect("serialize");
    let again: RunResult = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(again, result);
    assert_eq!(result.phases.len(), 5);
}

#[test]
fn the_run_folder_is_accepted_for_the_file() {
    let folder = fixture_path()
        .parent()
        .map(Path::to_path_buf)
        .expect("folder");
    assert_eq!(load_results(&folder).expect("load from folder"), fixture());
}

#[test]
fn a_missing_or_broken_file_is_an_error_not_a_panic() {
    let dir = scratch("broken");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let missing = load_results(&dir.join("nope.json")).expect_err("missing");
    assert!(missing.to_string().contains("nope.json"), "{missing}");
    let broken = dir.join("results.json");
    std::fs::write(&broken, "{\"version\": 1").expect("write");
    let err = load_results(&broken).expect_err("broken");
    assert!(
        err.to_string().contains("not a pushbench results file"),
        "{err}"
    );
}

#[test]
fn report_writes_valid_charts_and_documents_naming_every_transport() {
    let result = fixture();
    let dir = scratch("report");
    let written = write_report(&result, &dir).expect("write report");
    for stem in [
        "bytes_per_event",
        "overhead",
        "latency_percentiles",
        "bandwidth_vs_clients",
        "classic_argument",
    ] {
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        assert!(
            written.contains(&svg) && written.contains(&png),
            "{stem} not listed"
        );
        assert_valid_svg(&svg);
        assert_valid_png(&png);
    }
    // One rate only: the latency-vs-rate chart is skipped, and the report says so.
    assert!(!dir.join("latency_vs_rate.svg").exists());
    let markdown = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(markdown.contains("Latency versus event rate: not drawn"));
    for transport in Transport::ALL {
        assert!(
            markdown.contains(transport.name()),
            "report.md lacks {transport}"
        );
        assert!(
            html.contains(transport.name()),
            "report.html lacks {transport}"
        );
    }
    assert!(!markdown.contains("WARNING"), "a clean run has no warning");
    // Self-contained: the charts are inline and the HTML is well formed enough
    // to carry five <svg> roots.
    assert_eq!(html.matches("<svg").count(), 5);
    assert!(
        html.contains("871.0 kB/s"),
        "the classic table is in the report"
    );
}

#[test]
fn a_rate_sweep_draws_latency_versus_rate() {
    let sweep = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sweep");
    let result = load_results(&sweep).expect("the sweep fixture is a valid results file");
    assert_eq!(result.scenario.rates, vec![10.0, 50.0]);
    let dir = scratch("sweep");
    write_report(&result, &dir).expect("write report");
    assert_valid_svg(&dir.join("latency_vs_rate.svg"));
    assert_valid_png(&dir.join("latency_vs_rate.png"));
    let markdown = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(markdown.contains("ws 20c@50/s"), "phases are told apart");
    assert!(!markdown.contains("not drawn"));
}

#[test]
fn missed_events_and_an_incomplete_run_are_loud() {
    let mut result = fixture();
    result.complete = false;
    result.error = Some("server exited".into());
    result.phases[4].events.missed = 42;
    let dir = scratch("lossy");
    write_report(&result, &dir).expect("write report");
    let markdown = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(markdown.contains("WARNING: THIS RESULT IS NOT CLEAN"));
    assert!(markdown.contains("server exited"));
    assert!(markdown.contains("ws: 42 events MISSED"));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("class=\"warning\""));
    let terminal = terminal_summary(&result);
    assert!(terminal.contains("!!! WARNING"));
}

#[test]
fn a_phase_that_lived_through_a_server_restart_says_so() {
    let mut result = fixture();
    result.phases[3].outage.server_restarts = 1;
    result.phases[3].outage.longest_s = 0.4;
    result.phases[3].connections.reconnects = 20;
    let terminal = terminal_summary(&result);
    assert!(
        terminal.contains("unreachable for up to 0.4 s and restarted 1 time(s)")
            && terminal.contains("reconnected 20 time(s)"),
        "{terminal}"
    );
}

#[test]
fn terminal_summary_has_a_row_per_phase() {
    let text = terminal_summary(&fixture());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 + 5, "{text}");
    for (line, transport) in lines[2..].iter().zip(Transport::ALL) {
        assert!(line.starts_with(transport.name()), "{line}");
    }
}

#[test]
fn compare_of_a_run_with_itself_shows_no_change() {
    let result = fixture();
    let comparison = compare(&result, &result);
    assert!(comparison.is_unchanged());
    assert!(comparison.regressions(0.0).is_empty());
    assert_eq!(comparison.changes.len(), 5 * compare::FIGURES.len());
    let text = comparison.table().to_text();
    assert_eq!(text.matches("no change").count(), comparison.changes.len());
}

#[test]
fn compare_flags_a_regression_over_the_threshold() {
    let a = fixture();
    let mut b = a.clone();
    b.phases[4].latency_us.p99 = a.phases[4].latency_us.p99 * 2;
    b.phases[0].derived.bytes_per_event *= 1.05;
    assert!(a.phases[0].derived.bytes_per_event > 0.0 && a.phases[4].latency_us.p99 > 0);
    let comparison = compare(&a, &b);
    assert!(!comparison.is_unchanged());
    let over_ten: Vec<_> = comparison.regressions(10.0);
    assert_eq!(over_ten.len(), 1);
    assert_eq!(
        (over_ten[0].phase.as_str(), over_ten[0].figure),
        ("ws 20c@20/s", "p99 µs")
    );
    assert_eq!(comparison.regressions(1.0).len(), 2);
}

/// The fixture with every phase measured twice, the second time with the
/// browser header profile (its request heads 600 bytes larger per event).
fn with_two_profiles() -> RunResult {
    let mut result = fixture();
    let browser: Vec<_> = result
        .phases
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.headers = pushbench_protocol::HeaderProfile::BROWSER;
            p.traffic.sent.request_headers += 600 * p.events.delivered;
            p.derived.bytes_per_event += 600.0;
            p
        })
        .collect();
    result.phases.extend(browser);
    result.scenario.headers = vec![
        pushbench_protocol::HeaderProfile::Minimal,
        pushbench_protocol::HeaderProfile::BROWSER,
    ];
    result
}

#[test]
fn header_profiles_get_a_column_labels_and_a_comparison_table() {
    let plain = terminal_summary(&fixture());
    assert!(!plain.contains("headers"), "{plain}");
    let result = with_two_profiles();
    let summary = terminal_summary(&result);
    assert!(
        summary.contains("ws browser") && summary.contains("ws minimal"),
        "{summary}"
    );
    // One profile, not minimal: a column says which (the labels do not).
    let mut only_browser = fixture();
    for p in &mut only_browser.phases {
        p.headers = pushbench_protocol::HeaderProfile::BROWSER;
    }
    let summary = terminal_summary(&only_browser);
    let titles = summary.lines().next().unwrap_or_default();
    assert!(titles.contains("headers"), "{summary}");
    assert!(
        summary
            .lines()
            .nth(2)
            .is_some_and(|r| r.contains("browser")),
        "{summary}"
    );
    let table = pushbench_report::summary::variant_table(&result).expect("table");
    assert_eq!(table.rows.len(), 10);
    let ws: Vec<&Vec<String>> = table.rows.iter().filter(|r| r[0] == "ws").collect();
    assert_eq!(
        (ws[0][3].as_str(), ws[1][3].as_str()),
        ("minimal", "browser")
    );
    assert!(pushbench_report::summary::variant_table(&fixture()).is_none());

    let dir = scratch("profiles");
    write_report(&result, &dir).expect("report");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(md.contains("## Header profiles"), "{md}");
    assert!(
        md.contains("| request headers | minimal, browser |"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<h2>Header profiles</h2>"));
    // The phases of one transport stay apart when compared with themselves.
    assert!(compare(&result, &result).is_unchanged());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fixture with every phase measured again over TLS: the same
/// plaintext plus a handshake per connection and 22 bytes of record
/// overhead per event each way.
fn with_tls() -> RunResult {
    let mut result = fixture();
    let tls: Vec<_> = result
        .phases
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.tls = true;
            p.traffic.sent.tls_records += 22 * p.events.delivered;
            p.traffic.received.tls_records += 22 * p.events.delivered;
            p.setup_traffic.sent.tls_handshake += 400 * p.connections.opened;
            p.setup_traffic.received.tls_handshake += 1_200 * p.connections.opened;
            p.derived.bytes_per_event += 44.0;
            p
        })
        .collect();
    result.phases.extend(tls);
    result.scenario.tls = vec![false, true];
    result
}

#[test]
fn tls_phases_get_labels_tls_classes_and_a_comparison_table() {
    let plain = terminal_summary(&fixture());
    assert!(!plain.contains("tls"), "{plain}");
    let result = with_tls();
    let summary = terminal_summary(&result);
    assert!(
        summary.contains("ws tls") && summary.contains("ws plain"),
        "{summary}"
    );
    let table = pushbench_report::summary::variant_table(&result).expect("table");
    assert_eq!(table.rows.len(), 10);
    assert_eq!(table.headers[3], "tls");
    assert!(
        table.headers.iter().any(|h| h == "tls_records"),
        "{:?}",
        table.headers
    );
    let ws: Vec<&Vec<String>> = table.rows.iter().filter(|r| r[0] == "ws").collect();
    assert_eq!((ws[0][3].as_str(), ws[1][3].as_str()), ("plain", "tls"));
    // A plaintext run's tables keep their columns.
    let plain_table = pushbench_report::summary::summary_table(&fixture());
    assert!(!plain_table.headers.iter().any(|h| h.contains("tls")));
    // A run that is TLS throughout says so in a column.
    let mut only_tls = fixture();
    for p in &mut only_tls.phases {
        p.tls = true;
    }
    let table = pushbench_report::summary::summary_table(&only_tls);
    assert_eq!(table.headers[3], "tls");

    let dir = scratch("tls");
    write_report(&result, &dir).expect("report");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(md.contains("## Plaintext and TLS"), "{md}");
    let svg = std::fs::read_to_string(dir.join("bytes_per_event.svg")).expect("chart");
    assert!(
        svg.contains("tls_records"),
        "the legend names the TLS classes"
    );
    let plain_dir = scratch("plain-legend");
    write_report(&fixture(), &plain_dir).expect("report");
    let svg = std::fs::read_to_string(plain_dir.join("bytes_per_event.svg")).expect("chart");
    assert!(
        !svg.contains("tls_"),
        "a plaintext legend has no TLS classes"
    );
    assert!(compare(&result, &result).is_unchanged());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&plain_dir);
}
