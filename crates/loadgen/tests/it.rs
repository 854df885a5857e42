//! Integration tests against an in-process server on 127.0.0.1:0.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pushbench_loadgen::control_client::ControlClient;
use pushbench_loadgen::path_sides::PathSides;
use pushbench_loadgen::phase::{PhaseSpec, Progress, run_phase};
use pushbench_loadgen::phase_rate::PhaseRate;
use pushbench_loadgen::request_headers::RequestProfile;
use pushbench_loadgen::runner::{RunOptions, run_scenario};
use pushbench_loadgen::{ServerSource, output};
use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{
    ByteClass, ContentCoding, HeaderProfile, HttpVersion, Scenario, Transport,
};
use pushbench_server::ServerConfig;
use pushbench_server::in_process::InProcess;

fn quick_scenario(transports: Vec<Transport>, clients: u32) -> Scenario {
    Scenario {
        transports,
        clients: vec![clients],
        rates: vec![0.0],
        payload: 64,
        duration_s: 1.0,
        warmup_s: 0.2,
        ramp_up_s: 0.1,
        poll_interval_ms: 100,
        longpoll_timeout_s: 30,
        ..Scenario::default()
    }
}

fn config() -> ServerConfig {
    // No keep-alive comments during a test: every byte comes from an event.
    ServerConfig {
        sse_keepalive: Duration::from_secs(600),
        ..ServerConfig::default()
    }
}

/// The real server, started in this process for each rate.
fn in_process(config: ServerConfig) -> ServerSource {
    ServerSource::InProcess(Arc::new(InProcess::new(config)))
}

fn label(transport: Transport, clients: u32) -> Progress {
    Progress {
        phase: 1,
        phases: 1,
        transport,
        clients,
        rate: PhaseRate::scenario(0.0),
        headers: HeaderProfile::Minimal,
        tls: false,
        keep_alive: true,
        http: HttpVersion::Http1,
        h2_streams: 1,
        coding: ContentCoding::Identity,
        link: "loopback".into(),
        stage: "",
        stage_elapsed_s: 0.0,
        stage_length_s: 0.0,
    }
}

/// Publishes `count` events, one every 20 ms, then stops: nothing is in
/// flight when the phase ends, so client and server counts can match exactly.
fn publish_for_a_while(control: &ControlClient, count: usize) -> tokio::task::JoinHandle<()> {
    let control = control.clone();
    tokio::spawn(async move {
        for _ in 0..count {
            let _ = control.publish("t0", &[b'x'; 64]).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// What a phase runs on besides its headers.
#[derive(Clone, Copy, Debug)]
struct Stack {
    tls: bool,
    http: HttpVersion,
    clients: u32,
    /// HTTP/2 clients per connection.
    h2_streams: u32,
    /// The content coding the clients ask for (and the server compresses
    /// with).
    coding: ContentCoding,
    /// Keep the connection between polls; false: one per request.
    keep_alive: bool,
}

impl Stack {
    fn http1(tls: bool) -> Self {
        Stack {
            tls,
            http: HttpVersion::Http1,
            clients: 3,
            h2_streams: 1,
            coding: ContentCoding::Identity,
            keep_alive: true,
        }
    }

    fn http2(tls: bool) -> Self {
        Stack {
            http: HttpVersion::Http2,
            ..Self::http1(tls)
        }
    }
}

/// Runs one phase per transport with `headers` on `stack` against an
/// in-process server answering with `response_headers`, and checks that
/// every event arrived exactly once, that the classes add up to each
/// client socket's count and that the server's per-connection counts
/// equal the client's.
async fn books_every_byte(
    transports: &[Transport],
    headers: HeaderProfile,
    response_headers: HeaderProfile,
    stack: Stack,
) -> Vec<PhaseResult> {
    let Stack {
        tls,
        http,
        clients,
        h2_streams,
        coding,
        keep_alive,
    } = stack;
    let scenario = Scenario {
        response_headers,
        tls: vec![tls],
        http: vec![http],
        h2_streams,
        coding: vec![coding],
        keep_alive: vec![keep_alive],
        ..quick_scenario(transports.to_vec(), clients)
    };
    let profile = RequestProfile::resolve(&headers).expect("profile");
    let source = in_process(config());
    let mut server = source
        .start(&scenario, 0.0, &PathSides::default())
        .await
        .expect("server");
    let control = ControlClient::new(server.addr);
    let mut results = Vec::new();
    for &transport in transports {
        let publisher = publish_for_a_while(&control, 50);
        let outcome = run_phase(
            &scenario,
            PhaseSpec {
                transport,
                clients,
                rate: PhaseRate::scenario(0.0),
                headers: &profile,
                tls,
                keep_alive,
                http,
                coding,
                shard: None,
            },
            &mut server,
            std::slice::from_ref(&control),
            None,
            &Progress {
                headers: headers.clone(),
                tls,
                keep_alive,
                http,
                coding,
                ..label(transport, clients)
            },
            &mut |_| {},
        )
        .await
        .expect("phase");
        publisher.await.expect("publisher");
        let r = &outcome.result;
        assert!(r.events.delivered > 0, "{transport}: nothing delivered");
        assert_eq!(
            r.events.missed, 0,
            "{transport}: missed events {:?}",
            r.events
        );
        assert_eq!(r.events.duplicated, 0, "{transport}");
        assert_eq!(r.headers, headers);
        assert_eq!(r.tls, tls);
        assert_eq!(r.http, http);
        assert!(r.traffic.payload() > 0, "{transport}");
        assert_eq!(
            r.connections.first_sessions,
            u64::from(clients),
            "{transport}"
        );
        assert_eq!(r.keep_alive, keep_alive);
        if keep_alive {
            // One connection per group of `h2_streams` clients, none reopened.
            let groups = clients.div_ceil(if http == HttpVersion::Http2 {
                h2_streams
            } else {
                1
            });
            assert_eq!(
                outcome.connections.len(),
                groups as usize,
                "{transport}: {:?}",
                r.events.errors
            );
        } else {
            // A connection per poll: at least one per answer in the
            // window, each opened (none failed), the first per client in
            // the ramp and the rest as reconnects.
            let opened = outcome.connections.len() as u64;
            assert_eq!(opened, r.connections.opened, "{transport}");
            assert!(
                opened >= r.connections.responses && r.connections.responses > u64::from(clients),
                "{transport}: {opened} connections for {} responses",
                r.connections.responses
            );
            assert_eq!(r.connections.reconnects, opened - u64::from(clients));
        }
        assert!(
            r.events.errors.is_empty(),
            "{transport}: {:?}",
            r.events.errors
        );
        // The server books a connection's last bytes when its task gets
        // to them: on a busy machine (other tests beside this one) that
        // can be after a fixed pause, so wait until every count agrees,
        // for five seconds at most (then the asserts below say which not).
        let mut stats = control.stats(true).await.expect("stats");
        for _ in 0..50 {
            let counts: HashMap<_, _> = stats
                .connections
                .iter()
                .map(|c| (c.peer, (c.bytes_read, c.bytes_written)))
                .collect();
            let settled = outcome.connections.iter().all(|c| {
                counts.get(&c.local) == Some(&(c.totals.socket_sent, c.totals.socket_received))
            });
            if settled {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            stats = control.stats(true).await.expect("stats");
        }
        let by_peer: HashMap<_, _> = stats.connections.iter().map(|c| (c.peer, c)).collect();
        for connection in &outcome.connections {
            let (local, totals) = (&connection.local, &connection.totals);
            if http == HttpVersion::Http2 {
                // Over the whole connection (a stream's one request may
                // have gone before the window).
                assert!(totals.traffic.sent.h2_frames > 0, "{transport}");
                assert!(totals.traffic.received.h2_frames > 0, "{transport}");
            }
            assert_eq!(
                totals.traffic.sent.total(),
                totals.socket_sent,
                "{transport}: sent classes != socket count"
            );
            assert_eq!(
                totals.traffic.received.total(),
                totals.socket_received,
                "{transport}: received classes != socket count"
            );
            let peer = by_peer
                .get(local)
                .unwrap_or_else(|| panic!("{transport}: server does not list {local}"));
            assert_eq!(peer.tls, tls, "{transport}: the server saw TLS?");
            assert_eq!(
                peer.bytes_read, totals.socket_sent,
                "{transport}: server read != client sent for {local}"
            );
            assert_eq!(
                peer.bytes_written, totals.socket_received,
                "{transport}: server wrote != client received for {local}"
            );
        }
        results.push(outcome.result);
    }
    server.stop().await;
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_books_every_byte_and_matches_the_server() {
    books_every_byte(
        &Transport::ALL,
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack::http1(false),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_without_keep_alive_book_every_byte_of_every_connection() {
    books_every_byte(
        &[Transport::ShortPoll, Transport::LongPoll],
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack {
            keep_alive: false,
            ..Stack::http1(false)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coded_phases_book_every_byte_and_match_the_server() {
    // gzip on two transports over HTTP/1.1, Brotli on the other two over
    // HTTP/2 (h2c): every HTTP transport, both codings, both versions.
    for (coding, transports, stack) in [
        (
            ContentCoding::Gzip,
            [Transport::ShortPoll, Transport::Stream],
            Stack::http1(false),
        ),
        (
            ContentCoding::Br,
            [Transport::LongPoll, Transport::Sse],
            Stack::http2(false),
        ),
    ] {
        let results = books_every_byte(
            &transports,
            HeaderProfile::BROWSER,
            HeaderProfile::Minimal,
            Stack { coding, ..stack },
        )
        .await;
        let validator = phase_validator();
        for r in &results {
            let t = r.transport;
            assert_eq!(r.coding, coding);
            let (received, decoded) = (&r.traffic.received, &r.traffic.decoded);
            // Every event came in a coded body: nothing on the wire is
            // payload, the payload is all in the decoded ledger.
            assert!(received.compressed > 0, "{t} {coding}: {received:?}");
            assert_eq!(received.payload, 0, "{t} {coding}: {received:?}");
            assert_eq!(
                decoded.payload,
                64 * r.events.delivered,
                "{t} {coding}: {decoded:?}"
            );
            assert!(r.derived.compression_ratio > 1.0, "{t}: {:?}", r.derived);
            assert!(r.derived.overhead_ratio > 0.0, "{t}: {:?}", r.derived);
            assert_valid(&validator, &serde_json::to_value(r).expect("json"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_over_tls_books_every_byte_and_matches_the_server() {
    let results = books_every_byte(
        &Transport::ALL,
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack::http1(true),
    )
    .await;
    let validator = phase_validator();
    for r in &results {
        let t = r.transport;
        // Every connection's handshake is in its setup, both ways.
        let opened = r.connections.opened.max(1);
        let handshake_sent = r.setup_traffic.sent.tls_handshake / opened;
        let handshake_received = r.setup_traffic.received.tls_handshake / opened;
        assert!(
            handshake_sent > 200,
            "{t}: ClientHello of {handshake_sent} B?"
        );
        // ServerHello and the encrypted flight with the certificate (ECDSA
        // P-256, self-signed): some 700 bytes, in every connection (no
        // resumption).
        assert!(handshake_received > 500, "{t}: {handshake_received} B");
        // 22 bytes of record overhead per record received: a record per
        // poll answer, and one per event pushed (published 20 ms apart)
        // unless the server fell behind and wrote a burst in one (it
        // coalesces what is waiting, and this machine may be busy), so at
        // least a quarter of that. The meter's unit test and the packet
        // capture (verify-wire) check the classes exactly.
        let records = match t {
            Transport::ShortPoll | Transport::LongPoll => r.connections.responses,
            _ => r.events.delivered,
        };
        assert!(records > 0, "{t}");
        assert!(
            r.traffic.received.tls_records >= 22 * (records / 4).max(1),
            "{t}: {:?}",
            r.traffic.received
        );
        assert_valid(&validator, &serde_json::to_value(r).expect("json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_over_h2c_books_every_byte_and_matches_the_server() {
    let results = books_every_byte(
        &Transport::ALL,
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack::http2(false),
    )
    .await;
    let validator = phase_validator();
    for r in &results {
        // The connection's setup: the preface and both SETTINGS frames
        // are handshake, the first HEADERS each way in it too.
        let setup = &r.setup_traffic;
        assert!(setup.sent.handshake >= 24 + 9, "{}: {setup:?}", r.transport);
        assert!(setup.received.handshake >= 9, "{}: {setup:?}", r.transport);
        assert!(setup.sent.h2_frames >= 9, "{}: {setup:?}", r.transport);
        assert_valid(&validator, &serde_json::to_value(r).expect("json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_over_h2_and_tls_books_every_byte_and_matches_the_server() {
    let results = books_every_byte(
        &Transport::ALL,
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack::http2(true),
    )
    .await;
    for r in &results {
        assert!(r.traffic.received.tls_records > 0, "{}", r.transport);
        assert!(r.setup_traffic.sent.tls_handshake > 200, "{}", r.transport);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_share_two_h2_connections_a_stream_each() {
    // Each phase checks 2 connections, 20 first sessions, 0 missed and
    // 0 duplicated (the sum over the 20 trackers), and the counts of both
    // connections against the server's.
    books_every_byte(
        &[Transport::ShortPoll, Transport::Sse, Transport::Ws],
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack {
            clients: 20,
            h2_streams: 10,
            ..Stack::http2(false)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpack_makes_later_poll_requests_small() {
    let per_poll = async |headers: HeaderProfile, stack: Stack| {
        let r = books_every_byte(
            &[Transport::ShortPoll],
            headers,
            HeaderProfile::Minimal,
            stack,
        )
        .await;
        r[0].traffic.sent.request_headers as f64 / r[0].connections.responses.max(1) as f64
    };
    let no_cookie = HeaderProfile::Browser { cookie_bytes: 0 };
    let h1 = per_poll(no_cookie.clone(), Stack::http1(false)).await;
    let h2 = per_poll(no_cookie, Stack::http2(false)).await;
    // Chromium's heads are some 380 bytes a poll over HTTP/1.1; HPACK's
    // dynamic table leaves a few bytes of indices and the changing `:path`
    // after the first request.
    assert!(h1 > 300.0, "HTTP/1.1: {h1} B a poll");
    assert!(h2 * 10.0 < h1, "HTTP/2: {h2} B a poll, HTTP/1.1: {h1}");
    // The h2 crate's HPACK encoder never indexes a cookie's value (nor
    // `:path`'s): a 256-byte cookie costs its Huffman-coded length on every
    // request.
    let cookie = per_poll(HeaderProfile::BROWSER, Stack::http2(false)).await;
    assert!(
        cookie > h2 + 100.0,
        "HTTP/2 with a cookie: {cookie} B a poll"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_headers_are_counted_on_both_ends() {
    let transports = [Transport::ShortPoll, Transport::Ws];
    let minimal = books_every_byte(
        &transports,
        HeaderProfile::Minimal,
        HeaderProfile::Minimal,
        Stack::http1(false),
    )
    .await;
    let browser = books_every_byte(
        &transports,
        HeaderProfile::BROWSER,
        HeaderProfile::BROWSER,
        Stack::http1(false),
    )
    .await;
    for (m, b) in minimal.iter().zip(&browser) {
        let per_connection = |p: &PhaseResult, class: ByteClass, sent: bool| {
            let ledger = if sent {
                &p.setup_traffic.sent
            } else {
                &p.setup_traffic.received
            };
            ledger.get(class) as f64 / p.connections.opened.max(1) as f64
        };
        let class = match m.transport {
            Transport::Ws => ByteClass::Handshake,
            _ => ByteClass::RequestHeaders,
        };
        // Chromium's headers with a 256-byte cookie: well over 500 bytes
        // more per request head; the production response headers over 300.
        let request_growth = per_connection(b, class, true) - per_connection(m, class, true);
        assert!(request_growth > 500.0, "{}: +{request_growth}", m.transport);
        let class = match m.transport {
            Transport::Ws => ByteClass::Handshake,
            _ => ByteClass::ResponseHeaders,
        };
        let response_growth = per_connection(b, class, false) - per_connection(m, class, false);
        assert!(
            response_growth > 300.0,
            "{}: +{response_growth}",
            m.transport
        );
    }
    // Short polling pays the heads on every poll, so its bytes per event grow.
    assert!(browser[0].derived.bytes_per_event > minimal[0].derived.bytes_per_event + 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_skips_events_is_caught_with_the_exact_count() {
    let scenario = Scenario {
        rates: vec![100.0],
        ..quick_scenario(vec![Transport::Ws, Transport::ShortPoll], 2)
    };
    let source = in_process(ServerConfig {
        skip_every: 7,
        ..config()
    });
    let mut server = source
        .start(&scenario, 100.0, &PathSides::default())
        .await
        .expect("server");
    let control = ControlClient::new(server.addr);
    for transport in [Transport::Ws, Transport::ShortPoll] {
        let outcome = run_phase(
            &scenario,
            PhaseSpec {
                transport,
                clients: 2,
                rate: PhaseRate::scenario(100.0),
                headers: &RequestProfile::Minimal,
                tls: false,
                keep_alive: true,
                http: HttpVersion::Http1,
                coding: ContentCoding::Identity,
                shard: None,
            },
            &mut server,
            std::slice::from_ref(&control),
            None,
            &label(transport, 2),
            &mut |_| {},
        )
        .await
        .expect("phase");
        let skipped = outcome.end_cursor / 7 - outcome.start_cursor / 7;
        assert!(skipped > 0);
        assert_eq!(
            outcome.result.events.missed,
            2 * skipped,
            "{transport}: {:?}",
            outcome.result.events
        );
    }
    server.stop().await;
}

fn schema() -> serde_json::Value {
    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/schema/results.schema.json"
    );
    serde_json::from_slice(&std::fs::read(schema_path).expect("schema file")).expect("schema json")
}

fn schema_validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("valid schema")
}

/// The committed schema's `phase` definition alone.
fn phase_validator() -> jsonschema::Validator {
    let phase = serde_json::json!({ "$defs": schema()["$defs"], "$ref": "#/$defs/phase" });
    jsonschema::validator_for(&phase).expect("valid schema")
}

fn assert_valid(validator: &jsonschema::Validator, results: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(results)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results.json does not match the schema: {errors:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_results_validate_against_the_committed_schema() {
    let scenario = Scenario {
        rates: vec![50.0],
        duration_s: 0.5,
        ..quick_scenario(Transport::ALL.to_vec(), 2)
    };
    let opts = RunOptions {
        scenario,
        source: in_process(config()),
        interrupt: None,
        outage_grace: pushbench_loadgen::backoff::DEFAULT_GIVE_UP,
        emulated: None,
        target_pid: None,
    };
    let mut outcome = run_scenario(opts, &mut |_| {}).await.expect("run");
    assert!(outcome.result.complete, "{:?}", outcome.result.error);
    assert_eq!(outcome.result.phases.len(), 5);
    let dir = std::env::temp_dir().join(format!("pushbench-it-{}", std::process::id()));
    let path = output::write_run(&dir, &mut outcome).expect("write");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    if let Ok(keep) = std::env::var("PUSHBENCH_KEEP_RESULTS") {
        let _ = std::fs::copy(&path, keep);
    }
    let validator = schema_validator();
    assert_valid(&validator, &results);
    // The schema is strict: a missing field is caught.
    let mut broken = results.clone();
    broken["phases"][0]["events"]
        .as_object_mut()
        .expect("object")
        .remove("missed");
    assert!(
        !validator.is_valid(&broken),
        "schema misses a removed field"
    );
    // The later additions are optional: results written before them still
    // validate, and this run wrote them.
    let phase = &results["phases"][0];
    assert!(phase["setup_traffic"]["sent"]["request_headers"].as_u64() > Some(0));
    assert!(phase["setup_bytes_per_connection"].as_f64() > Some(0.0));
    assert_eq!(phase["incomplete"], false);
    assert_eq!(phase["outage"]["stats_failures"], 0);
    assert_eq!(phase["connections"]["reconnects"], 0);
    let mut old = results.clone();
    for key in [
        "setup_traffic",
        "setup_bytes_per_connection",
        "incomplete",
        "outage",
    ] {
        old["phases"][0]
            .as_object_mut()
            .expect("object")
            .remove(key);
    }
    old["phases"][0]["connections"]
        .as_object_mut()
        .expect("object")
        .remove("reconnects");
    old["phases"][0]["traffic"]["sent"]
        .as_object_mut()
        .expect("object")
        .remove("tcp_ip");
    assert!(
        validator.is_valid(&old),
        "older results must still validate"
    );
    for log in outcome
        .result
        .phases
        .iter()
        .filter_map(|p| p.histogram_log.as_ref())
    {
        assert!(dir.join(log).exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A capacity search over real phases: it climbs to the ceiling when every
/// step holds, measures the load point, and halves to the floor when none
/// does; the result (with its `capacity` part) validates against the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_search_climbs_bisects_and_writes_valid_results() {
    use pushbench_loadgen::capacity_search::{CapacityOptions, SearchPolicy, find_capacity};
    let scenario = Scenario {
        duration_s: 0.5,
        warmup_s: 0.1,
        ramp_up_s: 0.0,
        poll_interval_ms: 50,
        ..quick_scenario(vec![Transport::Ws, Transport::ShortPoll], 3)
    };
    let opts = |criteria: Option<Vec<&str>>, min_rate: f64| CapacityOptions {
        scenario: scenario.clone(),
        source: in_process(config()),
        policy: SearchPolicy {
            start_rate: 10.0,
            max_rate: 40.0,
            min_rate,
            refine_steps: 1,
        },
        criteria: criteria.map(|c| c.iter().map(|t| t.parse().expect("threshold")).collect()),
        max_p99_ms: 100.0,
        load_points: vec![0.5],
        load_point_duration_s: 0.5,
        interrupt: None,
        emulated: None,
        target_pid: None,
    };
    // Correctness only: these hold on a loaded machine too, where the
    // default criteria's delivery ratio and p99 bound are about speed.
    let correct = Some(vec!["missed=0", "duplicated=0", "out_of_order=0"]);
    let mut outcome = find_capacity(opts(correct, 1.0), &mut |_| {}, &mut |_| {})
        .await
        .expect("search");
    assert!(outcome.result.complete, "{:?}", outcome.result.error);
    let capacity = outcome.result.capacity.clone().expect("capacity");
    assert_eq!(capacity.clients, 3);
    for t in &capacity.transports {
        let rates: Vec<f64> = t.steps.iter().map(|s| s.rate).collect();
        assert_eq!(rates, vec![10.0, 20.0, 40.0], "{t:?}");
        assert_eq!(t.max_rate, Some(40.0));
        assert!(t.max_delivered_per_second > 0.0);
        assert_eq!(t.load_points.len(), 1);
        let point = &outcome.result.phases[t.load_points[0].phase];
        assert_eq!((point.transport, point.rate), (t.transport, 20.0));
        // Every client connected, and the ramp was measured.
        assert_eq!(point.connections.first_sessions, 3);
        assert!(point.derived.connections_per_second > 0.0);
        if t.transport == Transport::ShortPoll {
            assert!(point.connections.responses > 0, "{:?}", point.connections);
            assert!(point.derived.responses_per_second > 0.0);
        }
    }
    let dir = std::env::temp_dir().join(format!("pushbench-it-capacity-{}", std::process::id()));
    let path = output::write_run(&dir, &mut outcome).expect("write");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_valid(&schema_validator(), &results);
    let _ = std::fs::remove_dir_all(&dir);

    // Criteria nothing can meet: the search halves down to its floor.
    let outcome = find_capacity(opts(Some(vec!["p99<1us"]), 5.0), &mut |_| {}, &mut |_| {})
        .await
        .expect("search");
    let capacity = outcome.result.capacity.expect("capacity");
    let ws = &capacity.transports[0];
    assert_eq!(ws.max_rate, None);
    assert_eq!(
        ws.steps.iter().map(|s| s.rate).collect::<Vec<_>>(),
        vec![10.0, 5.0]
    );
    assert!(
        ws.steps
            .iter()
            .all(|s| !s.sustained && !s.failed.is_empty())
    );
    assert!(ws.load_points.is_empty());
}

/// `source_addresses` spreads a phase's clients over 127.0.0.1, .2, .3 on
/// real sockets, and every one of them still gets every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_spread_over_loopback_source_addresses() {
    let scenario = Scenario {
        rates: vec![50.0],
        duration_s: 0.5,
        source_addresses: 3,
        ..quick_scenario(vec![Transport::Ws, Transport::ShortPoll], 6)
    };
    let opts = RunOptions {
        scenario,
        source: in_process(config()),
        interrupt: None,
        outage_grace: Duration::from_secs(5),
        emulated: None,
        target_pid: None,
    };
    let outcome = run_scenario(opts, &mut |_| {}).await.expect("run");
    assert!(outcome.result.complete, "{:?}", outcome.result.error);
    for phase in &outcome.result.phases {
        assert_eq!(phase.events.missed, 0, "{:?}", phase.transport);
        assert!(phase.events.delivered > 0, "{:?}", phase.transport);
    }
    let mut sources: Vec<std::net::IpAddr> = outcome
        .connections
        .iter()
        .filter(|c| c.kind != "control")
        .map(|c| c.local.ip())
        .collect();
    sources.sort();
    sources.dedup();
    assert_eq!(
        sources,
        [1, 2, 3].map(|o| std::net::IpAddr::from([127, 0, 0, o]))
    );
}

/// A client that pins another certificate than the server's never gets
/// past the handshake, and the phase says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pinning_another_certificate_is_refused_with_a_clear_error() {
    let scenario = Scenario {
        tls: vec![true],
        duration_s: 0.5,
        ..quick_scenario(vec![Transport::Sse], 1)
    };
    let source = in_process(config());
    let mut server = source
        .start(&scenario, 0.0, &PathSides::default())
        .await
        .expect("server");
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let stranger = pushbench_server::tls_identity::TlsIdentity::self_signed().expect("certificate");
    server.tls = Some(
        pushbench_net::tls_config::client_config(&stranger.cert, HttpVersion::Http1)
            .expect("config"),
    );
    let control = ControlClient::new(server.addr);
    let outcome = run_phase(
        &scenario,
        PhaseSpec {
            transport: Transport::Sse,
            clients: 1,
            rate: PhaseRate::scenario(0.0),
            headers: &RequestProfile::Minimal,
            tls: true,
            keep_alive: true,
            http: HttpVersion::Http1,
            coding: ContentCoding::Identity,
            shard: None,
        },
        &mut server,
        std::slice::from_ref(&control),
        None,
        &label(Transport::Sse, 1),
        &mut |_| {},
    )
    .await
    .expect("phase");
    let r = &outcome.result;
    assert_eq!(r.events.delivered, 0);
    assert!(r.connections.failed > 0, "{:?}", r.connections);
    assert!(
        r.events
            .errors
            .keys()
            .any(|k| k.starts_with("tls: invalid peer certificate")),
        "{:?}",
        r.events.errors
    );
    server.stop().await;
}

/// `tls = [false, true]` measures every transport both ways on one server,
/// in that order, and says which phase was which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_sweep_runs_plaintext_then_tls_on_one_server() {
    let scenario = Scenario {
        rates: vec![50.0],
        duration_s: 0.5,
        tls: vec![false, true],
        ..quick_scenario(vec![Transport::ShortPoll, Transport::Ws], 2)
    };
    let opts = RunOptions {
        scenario,
        source: in_process(config()),
        interrupt: None,
        outage_grace: pushbench_loadgen::backoff::DEFAULT_GIVE_UP,
        emulated: None,
        target_pid: None,
    };
    let outcome = run_scenario(opts, &mut |_| {}).await.expect("run");
    let r = &outcome.result;
    assert!(r.complete, "{:?}", r.error);
    let shape: Vec<(Transport, bool)> = r.phases.iter().map(|p| (p.transport, p.tls)).collect();
    assert_eq!(
        shape,
        [
            (Transport::ShortPoll, false),
            (Transport::Ws, false),
            (Transport::ShortPoll, true),
            (Transport::Ws, true)
        ]
    );
    for p in &r.phases {
        assert!(p.events.delivered > 0 && p.events.missed == 0, "{p:?}");
        let tls_bytes = p.traffic.received.tls_records + p.setup_traffic.received.tls_handshake;
        assert_eq!(tls_bytes > 0, p.tls, "{}: {:?}", p.transport, p.traffic);
    }
    let json = serde_json::to_value(r).expect("json");
    assert_valid(&schema_validator(), &json);
    assert_eq!(json["scenario"]["tls"], serde_json::json!([false, true]));
    assert!(
        json["phases"][0].get("tls").is_none(),
        "plaintext phases read as before"
    );
}

/// A stand-in for an emulated link, on real loopback sockets: its profile
/// is not `loopback`, so the runner takes the emulated path's code (jobs
/// run on a thread of the path's, clients dial `server_ip`), but both
/// sides are this host and nothing is delayed. It counts one packet per
/// `counts()` call, so a phase's path delta is visible.
#[derive(Debug)]
struct HostAlias {
    server_ip: std::net::IpAddr,
    profile: std::sync::Mutex<pushbench_protocol::LinkProfile>,
    packets: std::sync::atomic::AtomicU64,
}

impl HostAlias {
    fn new(server_ip: [u8; 4]) -> Arc<Self> {
        Arc::new(HostAlias {
            server_ip: std::net::IpAddr::from(server_ip),
            profile: std::sync::Mutex::new("lan".parse().expect("lan")),
            packets: std::sync::atomic::AtomicU64::new(0),
        })
    }
}

impl pushbench_net::network_path::NetworkPath for HostAlias {
    fn profile(&self) -> pushbench_protocol::LinkProfile {
        self.profile.lock().expect("profile").clone()
    }
    fn configure(&self, profile: &pushbench_protocol::LinkProfile) -> std::io::Result<()> {
        *self.profile.lock().expect("profile") = profile.clone();
        Ok(())
    }
    fn execute(
        &self,
        _side: pushbench_net::network_path::Side,
        job: pushbench_net::network_path::Job,
    ) -> std::io::Result<()> {
        std::thread::spawn(job);
        Ok(())
    }
    fn server_ip(&self) -> std::net::IpAddr {
        self.server_ip
    }
    fn control_ip(&self) -> std::net::IpAddr {
        std::net::IpAddr::from([127, 0, 0, 1])
    }
    fn server_command(&self, program: &std::path::Path) -> std::process::Command {
        std::process::Command::new(program)
    }
    fn counts(&self) -> pushbench_net::network_path::PathCounts {
        let mut counts = pushbench_net::network_path::PathCounts::default();
        counts.up.packets = self
            .packets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        counts
    }
}

/// A running in-process server, as a `--target` URL.
async fn running_target(rate: f64) -> (Box<dyn pushbench_net::embedding::EmbeddedServer>, String) {
    use pushbench_net::embedding::StartServer as _;
    let spec = pushbench_loadgen::target::serve_spec(&quick_scenario(vec![], 1), rate);
    let server = InProcess::new(config()).start(spec).await.expect("server");
    let url = format!("http://{}", server.local_addr());
    (server, url)
}

/// A run of `scenario` against the target at `url` over `links`, the
/// emulated ones on a [`HostAlias`] whose host end is `host_end`.
fn over_alias(url: &str, links: &[&str], scenario: Scenario, host_end: [u8; 4]) -> RunOptions {
    RunOptions {
        scenario: Scenario {
            link: links.iter().map(|l| l.parse().expect("link")).collect(),
            target: Some(url.to_owned()),
            ..scenario
        },
        source: ServerSource::Target(url.to_owned()),
        interrupt: None,
        outage_grace: pushbench_loadgen::backoff::DEFAULT_GIVE_UP,
        emulated: Some(HostAlias::new(host_end)),
        target_pid: None,
    }
}

/// A run over a (stand-in) emulated link records the link and what it
/// measured of it: connect times, both ends' TCP_INFO, the path's counts;
/// a sweep with `loopback` runs that phase over the kernel's loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_a_link_records_it_and_what_it_measured() {
    let (server, url) = running_target(50.0).await;
    let opts = over_alias(
        &url,
        &["loopback", "rtt=20ms"],
        quick_scenario(vec![Transport::Sse, Transport::ShortPoll], 2),
        [127, 0, 0, 1],
    );
    let outcome = run_scenario(opts, &mut |_| {}).await.expect("run");
    let _ = server.shutdown_within(Duration::from_secs(1)).await;
    let result = &outcome.result;
    assert!(result.complete, "{:?}", result.error);
    let links: Vec<String> = result.phases.iter().map(|p| p.link.label()).collect();
    assert_eq!(
        links,
        [
            "loopback",
            "loopback",
            "rtt=20ms,queue=1000",
            "rtt=20ms,queue=1000"
        ]
    );
    for phase in &result.phases {
        let measured = phase.link_measured.as_ref().expect("measured");
        assert!(phase.events.delivered > 0, "{phase:?}");
        // Every connection timed, and read at both ends before it closed.
        assert!(
            measured.connect_us.count >= phase.connections.opened,
            "{measured:?}"
        );
        assert!(measured.connect_us.max >= measured.connect_us.p50);
        assert!(measured.retransmits.client_sockets > 0, "{measured:?}");
        assert!(measured.retransmits.server_sockets > 0, "{measured:?}");
        // Nothing is lost on loopback: nothing sent again.
        assert_eq!(measured.retransmits.sent_bytes, 0);
        assert_eq!(phase.traffic.sent.retransmitted, 0);
        // Only the emulated path counts; the stand-in counted its calls.
        assert_eq!(measured.path.is_some(), !phase.link.is_loopback());
    }
    // The CSV names each phase's link, quoted (a custom one has commas).
    let csv = output::csv(result);
    let mut lines = csv.lines();
    let header = lines.next().expect("header");
    assert!(
        header.ends_with(
            ",link,connect_p50_us,connect_p99_us,retrans_sent_bytes,retrans_received_bytes,keep_alive,loadgen_cpu_s,loadgen_cpu_us_per_event"
        ),
        "{header}"
    );
    assert!(csv.contains(",\"rtt=20ms,queue=1000\","), "{csv}");
    assert_eq!(lines.count(), result.phases.len());
    // What was written reads back, and validates against the schema.
    let json = serde_json::to_value(result).expect("json");
    assert_eq!(json["scenario"]["link"][1], "rtt=20ms,queue=1000");
    assert_eq!(json["phases"][2]["link"]["rtt_us"], 20_000);
    assert!(json["phases"][0]["link_measured"].get("path").is_none());
    let errors: Vec<String> = jsonschema::validator_for(&schema())
        .expect("schema")
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let back: pushbench_protocol::RunResult = serde_json::from_value(json).expect("back");
    assert_eq!(&back, result);
}

/// A `--target` on 127.0.0.1 that the link's host address does not reach
/// is refused before the run starts, saying how to bind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_on_loopback_only_is_refused_over_a_link() {
    let (server, url) = running_target(0.0).await;
    // The link's host end: another loopback address, where the server
    // (bound to 127.0.0.1 alone) does not listen.
    let opts = over_alias(
        &url,
        &["lan"],
        quick_scenario(vec![Transport::Sse], 1),
        [127, 0, 0, 2],
    );
    let err = run_scenario(opts, &mut |_| {}).await.expect_err("refused");
    let _ = server.shutdown_within(Duration::from_secs(1)).await;
    let text = err.to_string();
    assert!(text.contains("listens only on loopback"), "{text}");
    assert!(text.contains("pushbench serve --addr 0.0.0.0:"), "{text}");
    assert!(text.contains("127.0.0.2:"), "{text}");
}

/// Without an emulated path, a link other than `loopback` is refused
/// before anything starts, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulated_link_without_a_path_is_refused() {
    let opts = RunOptions {
        scenario: Scenario {
            link: vec!["3g".parse().expect("3g")],
            ..quick_scenario(vec![Transport::Sse], 1)
        },
        source: in_process(config()),
        interrupt: None,
        outage_grace: pushbench_loadgen::backoff::DEFAULT_GIVE_UP,
        emulated: None,
        target_pid: None,
    };
    let err = run_scenario(opts, &mut |_| {}).await.expect_err("refused");
    assert!(
        err.to_string().contains("link 3g: needs the link emulator"),
        "{err}"
    );
}
