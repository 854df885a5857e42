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
    let mut result = with_second_variant(|p| {
        p.headers = pushbench_protocol::HeaderProfile::BROWSER;
        p.traffic.sent.request_headers += 600 * p.events.delivered;
        p.derived.bytes_per_event += 600.0;
    });
    result.scenario.headers = vec![
        pushbench_protocol::HeaderProfile::Minimal,
        pushbench_protocol::HeaderProfile::BROWSER,
    ];
    result
}

/// The fixture with every phase measured again, as `change` makes it.
fn with_second_variant(
    change: impl Fn(&mut pushbench_protocol::results::PhaseResult),
) -> RunResult {
    let mut result = fixture();
    let second: Vec<_> = result
        .phases
        .iter()
        .map(|p| {
            let mut p = p.clone();
            change(&mut p);
            p
        })
        .collect();
    result.phases.extend(second);
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
    let mut result = with_second_variant(|p| {
        p.tls = true;
        p.traffic.sent.tls_records += 22 * p.events.delivered;
        p.traffic.received.tls_records += 22 * p.events.delivered;
        p.setup_traffic.sent.tls_handshake += 400 * p.connections.opened;
        p.setup_traffic.received.tls_handshake += 1_200 * p.connections.opened;
        p.derived.bytes_per_event += 44.0;
    });
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

/// A synthetic matrix from the fixture: every phase again in each
/// combination of HTTP version, TLS, content coding and header profile,
/// with bytes that move the way each dimension moves them (browser heads
/// 600 bytes larger per poll, HTTP/2 heads HPACK-coded to 40 bytes plus
/// 18 bytes of frame headers, TLS 22 bytes of records each way, gzip a
/// third off the received bodies).
fn matrix() -> RunResult {
    use pushbench_protocol::{ContentCoding, HeaderProfile, HttpVersion};
    let base = fixture();
    let mut result = base.clone();
    result.phases.clear();
    for http in HttpVersion::ALL {
        for tls in [false, true] {
            for coding in [ContentCoding::Identity, ContentCoding::Gzip] {
                for headers in [HeaderProfile::Minimal, HeaderProfile::BROWSER] {
                    for phase in &base.phases {
                        let mut p = phase.clone();
                        let delivered = p.events.delivered;
                        let (sent, received) = (&mut p.traffic.sent, &mut p.traffic.received);
                        let polls = sent.request_headers > 0;
                        if polls && !headers.is_minimal() {
                            sent.request_headers += 600 * delivered;
                        }
                        if http == HttpVersion::Http2 {
                            if polls {
                                sent.request_headers = 25 * delivered;
                                received.response_headers = 15 * delivered;
                            }
                            received.h2_frames += 18 * delivered;
                        }
                        if tls {
                            sent.tls_records += 22 * delivered;
                            received.tls_records += 22 * delivered;
                        }
                        if coding == ContentCoding::Gzip && p.transport != Transport::Ws {
                            received.payload -= received.payload / 3;
                        }
                        p.derived.bytes_per_event = p.traffic.total() as f64 / delivered as f64;
                        (p.http, p.tls, p.coding, p.headers) = (http, tls, coding, headers.clone());
                        result.phases.push(p);
                    }
                }
            }
        }
    }
    result.scenario.http = HttpVersion::ALL.to_vec();
    result.scenario.tls = vec![false, true];
    result.scenario.coding = vec![ContentCoding::Identity, ContentCoding::Gzip];
    result.scenario.headers = vec![HeaderProfile::Minimal, HeaderProfile::BROWSER];
    result
}

#[test]
fn a_matrix_run_names_each_variant_once_in_every_table_and_chart() {
    let result = matrix();
    assert_eq!(result.phases.len(), 80);
    let summary = terminal_summary(&result);
    for label in [
        "sse h2 tls gzip browser",
        "sse h1 plain identity minimal",
        "short-poll h2 plain gzip minimal",
    ] {
        assert!(summary.contains(label), "{label} missing:\n{summary}");
    }
    let labels: std::collections::BTreeSet<String> = result
        .phases
        .iter()
        .map(|p| pushbench_report::variant_labels::phase_label(&result, p))
        .collect();
    assert_eq!(labels.len(), 80, "every phase has its own label");
    let table = pushbench_report::summary::variant_table(&result).expect("a variant table");
    assert_eq!(&table.headers[3..7], ["http", "tls", "coding", "headers"]);
    for class in ["h2_frames", "tls_records"] {
        assert!(table.headers.iter().any(|h| h == class), "{class}");
    }

    let dir = scratch("matrix");
    write_report(&result, &dir).expect("report");
    let svg = std::fs::read_to_string(dir.join("classic_argument.svg")).expect("chart");
    assert_valid_svg(&dir.join("classic_argument.svg"));
    assert_valid_png(&dir.join("classic_argument.png"));
    for label in [
        "h1 plain identity minimal",
        "h1 plain identity browser",
        "h2 tls gzip browser",
        "short-poll",
        "long-poll",
        "sse",
        "ws",
        "871",
    ] {
        assert!(svg.contains(label), "the chart lacks {label}");
    }
    // Groups in matrix order: HTTP/1.1 before HTTP/2, minimal before browser.
    let first = svg.find("h1 plain identity minimal").expect("h1");
    let last = svg.find("h2 tls gzip browser").expect("h2");
    assert!(first < last);
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("## Variants: HTTP version, TLS, content coding, header profile"),
        "{md}"
    );
    assert!(md.contains("## The classic argument, measured"), "{md}");
    // 80 latency lines would bury the plot under their legend.
    assert!(
        md.contains("only its first variant's phases (h1 plain identity minimal)"),
        "{md}"
    );
    let latency = std::fs::read_to_string(dir.join("latency_percentiles.svg")).expect("svg");
    assert!(latency.contains("ws h1 plain identity minimal"));
    assert!(!latency.contains("ws h2 tls gzip browser"));
    let classic = pushbench_report::document::classic_argument_table(&result).expect("table");
    // 16 variants, a short- and a long-poll row each.
    assert_eq!(classic.rows.len(), 32);
    let row = classic
        .rows
        .iter()
        .find(|r| r[0] == "h1 plain identity browser" && r[1] == "short-poll")
        .expect("h1 browser short-poll row");
    let headers: f64 = row[2].parse().expect("a number");
    assert!(headers > 600.0, "{row:?}");
    let row = classic
        .rows
        .iter()
        .find(|r| r[0] == "h2 plain identity browser" && r[1] == "short-poll")
        .expect("h2 browser short-poll row");
    assert_eq!(row[2], "40.0", "{row:?}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<h2>The classic argument, measured</h2>"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_matches_phases_by_their_whole_variant() {
    let result = matrix();
    let comparison = compare(&result, &result);
    assert!(comparison.is_unchanged(), "no two variants share a key");
    assert_eq!(comparison.changes.len(), 80 * compare::FIGURES.len());
    // An old run (no HTTP version, coding, TLS or profile) matches exactly
    // the baseline phases of the matrix, under its old keys.
    let old = fixture();
    let comparison = compare(&old, &result);
    assert!(
        comparison.only_in_a.is_empty(),
        "{:?}",
        comparison.only_in_a
    );
    assert_eq!(comparison.only_in_b.len(), 75);
    assert!(comparison.changes.iter().any(|c| c.phase == "ws 20c@20/s"));
    assert!(
        comparison
            .only_in_b
            .contains(&"sse 20c@20/s h2 tls gzip browser".to_owned()),
        "{:?}",
        comparison.only_in_b
    );
    // An HTTP/2 phase is never compared with an HTTP/1.1 one.
    let mut h2 = old.clone();
    for p in &mut h2.phases {
        p.http = pushbench_protocol::HttpVersion::Http2;
    }
    let comparison = compare(&old, &h2);
    assert!(comparison.changes.is_empty());
    assert_eq!(comparison.only_in_a.len(), 5);
}

#[test]
fn old_results_and_single_variant_runs_get_a_classic_chart() {
    // The fixture predates header profiles, TLS, HTTP/2 and codings.
    let text = std::fs::read_to_string(fixture_path()).expect("fixture");
    for field in [
        "\"http\"",
        "\"coding\"",
        "\"headers\"",
        "\"tls\"",
        "h2_frames",
    ] {
        assert!(!text.contains(field), "the fixture has {field}");
    }
    let result = fixture();
    let dir = scratch("classic-old");
    write_report(&result, &dir).expect("report");
    let svg = std::fs::read_to_string(dir.join("classic_argument.svg")).expect("chart");
    // One variant: a plain title and label, no list of what did not vary.
    assert!(
        !svg.contains("h1 plain keep-alive identity minimal"),
        "no variant name"
    );
    assert!(
        !svg.contains("HTTP/2"),
        "no HTTP/2 in the title of an h1 run"
    );
    let chart = pushbench_report::charts::ClassicArgument::new(&result).expect("chart");
    assert_eq!(chart.title(), "The classic argument, measured");
    assert_eq!(chart.labels(), ["this run"]);
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("| h1 plain keep-alive identity minimal | short-poll |"),
        "{md}"
    );
    assert!(
        !md.contains("h2_frames"),
        "an HTTP/1.1 run has no HTTP/2 class"
    );
    // A run of one transport the argument does not compare has no chart.
    let mut stream_only = fixture();
    stream_only
        .phases
        .retain(|p| p.transport == Transport::Stream);
    assert!(pushbench_report::charts::ClassicArgument::new(&stream_only).is_none());
    assert!(pushbench_report::document::classic_argument_table(&stream_only).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_all_http2_run_says_so_in_a_column() {
    let mut result = fixture();
    for p in &mut result.phases {
        p.http = pushbench_protocol::HttpVersion::Http2;
    }
    let table = pushbench_report::summary::summary_table(&result);
    assert_eq!(table.headers[3], "http");
    assert!(table.rows.iter().all(|r| r[3] == "h2"));
    assert!(
        table.rows.iter().all(|r| !r[0].contains("h2")),
        "labels stay short"
    );
}

#[test]
fn a_run_over_a_link_names_it_and_shows_what_it_measured() {
    use pushbench_protocol::link_measured::{ConnectTimes, LinkMeasured, Retransmits};
    let plain = pushbench_report::summary::summary_table(&fixture());
    assert!(!plain.headers.iter().any(|h| h.contains("connect")));
    let mut result = fixture();
    for p in &mut result.phases {
        p.link = "3g".parse().expect("3g");
        p.link_measured = Some(LinkMeasured {
            connect_us: ConnectTimes {
                count: 2,
                p50: 300_000,
                p90: 300_000,
                p99: 310_000,
                max: 310_000,
            },
            retransmits: Retransmits {
                received_bytes: 1448,
                ..Retransmits::default()
            },
            path: None,
        });
    }
    let table = pushbench_report::summary::summary_table(&result);
    // The link the whole run held is a column; what it measured, four.
    assert_eq!(table.headers[3], "link");
    assert!(table.rows.iter().all(|r| r[3] == "3g"));
    let n = table.headers.len();
    assert_eq!(table.headers[n - 4], "connect p50");
    assert_eq!(table.rows[0][n - 4], "300.0 ms");
    assert_eq!(table.headers[n - 1], "retrans recv");
    assert!(table.rows[0][n - 1].contains("1.4"), "{:?}", table.rows[0]);
}

#[test]
fn header_bytes_that_span_decades_get_a_log_axis() {
    use pushbench_report::charts::{Chart, ClassicArgument};
    // HTTP/2 polls whose HPACK blocks shrank to 4 bytes per event beside
    // the HTTP/1.1 ones of the fixture (33 and 179): a linear axis would
    // hide them.
    let result = with_second_variant(|p| {
        p.http = pushbench_protocol::HttpVersion::Http2;
        if p.traffic.sent.request_headers > 0 {
            p.traffic.sent.request_headers = 3 * p.events.delivered;
            p.traffic.received.response_headers = p.events.delivered;
        }
    });
    let chart = ClassicArgument::new(&result).expect("a chart");
    assert_eq!(chart.labels(), ["h1", "h2"]);
    assert!(
        chart.caption().contains("left, log scale"),
        "{}",
        chart.caption()
    );
    assert!(
        chart.caption().contains("right, linear"),
        "{}",
        chart.caption()
    );
    let dir = scratch("classic-log");
    std::fs::create_dir_all(&dir).expect("mkdir");
    pushbench_report::charts::register_fonts().expect("fonts");
    let [svg, png] = pushbench_report::charts::render(&chart, &dir).expect("render");
    assert_valid_svg(&svg);
    assert_valid_png(&png);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_coded_variant_without_websocket_borrows_its_identity_siblings() {
    use pushbench_protocol::ContentCoding;
    // As a real run: WebSocket frames are not content-coded, so coded
    // variants have no WebSocket phase.
    let mut result = matrix();
    result
        .phases
        .retain(|p| !(p.transport == Transport::Ws && p.coding != ContentCoding::Identity));
    let groups = pushbench_report::figures::classic_groups(&result);
    let coded = groups
        .iter()
        .find(|g| g.label == "h2 tls gzip browser")
        .expect("the coded group");
    let ws = coded.bar(Transport::Ws).expect("a borrowed ws bar");
    assert!(ws.from_identity);
    let identity = groups
        .iter()
        .find(|g| g.label == "h2 tls identity browser")
        .expect("the identity group");
    let own = identity.bar(Transport::Ws).expect("its own ws bar");
    assert!(!own.from_identity);
    assert_eq!(ws.bytes, own.bytes);
    let table = pushbench_report::document::classic_argument_table(&result).expect("table");
    let row = table
        .rows
        .iter()
        .find(|r| r[0] == "h2 tls gzip browser" && r[1] == "short-poll")
        .expect("row");
    assert!(row[4].ends_with("(identity)"), "{row:?}");
}

#[test]
fn a_closing_variant_borrows_its_keep_alive_websocket() {
    // As `run --transports long-poll,ws --keep-alive off`: the polls
    // close, WebSocket keeps its one connection (recorded keep-alive).
    let mut result = fixture();
    for p in &mut result.phases {
        p.keep_alive = p.transport.is_persistent();
    }
    let groups = pushbench_report::figures::classic_groups(&result);
    let close = groups
        .iter()
        .find(|g| g.bar(Transport::LongPoll).is_some())
        .expect("the closing group");
    assert!(close.label.contains("close"), "{}", close.label);
    let ws = close.bar(Transport::Ws).expect("the kept WebSocket");
    assert!(
        !ws.from_identity,
        "the same measurement, not an identity stand-in"
    );
}

/// The fixture's phases as if run over loopback, `lan`, `4g` and `lossy`,
/// with latencies, setup and retransmissions a link of that RTT and loss
/// would give (long polling waiting a re-issued request after a burst).
fn link_sweep() -> Vec<pushbench_report::link_points::LinkPoint> {
    use pushbench_report::link_points::LinkPoint;
    let run = fixture();
    let mut points = Vec::new();
    for (link, rtt, loss) in [
        ("loopback", 0.0, 0.0),
        ("lan", 1.0, 0.0),
        ("4g", 60.0, 0.0),
        ("lossy", 50.0, 0.015),
    ] {
        for phase in &run.phases {
            let mut p = LinkPoint::of_phase(&run, phase, link, rtt, loss);
            let wait = if phase.transport == Transport::LongPoll {
                1.5
            } else {
                0.5
            };
            p.p50_ms += wait * rtt;
            p.p99_ms += wait * rtt * 1.8;
            p.connect_ms = Some(rtt * 1.02);
            let upgrade = if phase.transport == Transport::Ws {
                1.0
            } else {
                0.0
            };
            p.setup_ms += rtt * (1.02 + upgrade);
            p.retransmitted_per_event = p.bytes_per_event * loss * 1.3;
            points.push(p);
        }
    }
    points
}

#[test]
fn link_charts_draw_from_link_points() {
    use pushbench_report::charts::{BytesVsLoss, Chart, LatencyVsRtt, SetupRoundTrips, render};
    let points = link_sweep();
    let dir = scratch("links");
    std::fs::create_dir_all(&dir).expect("mkdir");
    pushbench_report::charts::register_fonts().expect("fonts");
    let latency = LatencyVsRtt::new(&points).expect("links");
    assert_eq!(latency.lines().len(), 5);
    let setup = SetupRoundTrips::new(&points).expect("slow links");
    assert_eq!(setup.bars().len(), 5, "one bar per transport");
    let bytes = BytesVsLoss::new(&points).expect("two loss rates");
    let files = [
        render(&latency, &dir).expect("render"),
        render(&setup, &dir).expect("render"),
        render(&bytes, &dir).expect("render"),
    ];
    for ([svg, png], caption) in
        files
            .iter()
            .zip([latency.caption(), setup.caption(), bytes.caption()])
    {
        assert_valid_svg(svg);
        assert_valid_png(png);
        assert!(caption.ends_with('.'), "{caption}");
    }
    if std::env::var_os("KEEP_CHARTS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_run_in_bursts_says_so_in_the_scenario_table() {
    use pushbench_report::document::scenario_table;
    let mut run = fixture();
    assert!(!scenario_table(&run).to_markdown().contains("burst"));
    run.scenario.burst = 5;
    let table = scenario_table(&run).to_markdown();
    assert!(table.contains("| events per burst | 5"), "{table}");
}
